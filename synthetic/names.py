"""Name pools and the way each source system spells a person's name.

A person has one canonical name (first, optional middle, surname that may be
double-barrelled). Each record in a source system renders that name with the
system's habits: nicknames, middle names folded into the first-name field,
capitals, one part of a hyphenated surname, stray whitespace, a swapped letter.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from synthetic.strings import concat, text, where

# (formal name, nickname) pairs; the nickname is what some systems hold.
MALE_NICKNAMES = (
    ("William", "Bill"), ("Robert", "Bob"), ("Richard", "Rick"), ("James", "Jim"),
    ("Thomas", "Tom"), ("Michael", "Mike"), ("Christopher", "Chris"), ("Anthony", "Tony"),
    ("Edward", "Ted"), ("Daniel", "Dan"), ("Matthew", "Matt"), ("Joseph", "Joe"),
    ("Benjamin", "Ben"), ("Samuel", "Sam"), ("Alexander", "Alex"), ("Nicholas", "Nick"),
    ("Jonathan", "Jon"), ("Andrew", "Andy"), ("Stephen", "Steve"), ("Peter", "Pete"),
    ("David", "Dave"), ("Charles", "Charlie"), ("Henry", "Harry"), ("Timothy", "Tim"),
    ("Patrick", "Paddy"), ("Frederick", "Fred"), ("Kenneth", "Ken"), ("Raymond", "Ray"),
    ("Gerald", "Gerry"), ("Lawrence", "Larry"),
)
FEMALE_NICKNAMES = (
    ("Elizabeth", "Liz"), ("Margaret", "Maggie"), ("Catherine", "Kate"), ("Katherine", "Kathy"),
    ("Rebecca", "Becky"), ("Jennifer", "Jenny"), ("Susan", "Sue"), ("Patricia", "Pat"),
    ("Deborah", "Debbie"), ("Victoria", "Vicky"), ("Alexandra", "Lexi"), ("Samantha", "Sam"),
    ("Christine", "Chris"), ("Jacqueline", "Jackie"), ("Josephine", "Jo"), ("Abigail", "Abby"),
    ("Kimberley", "Kim"), ("Nicola", "Nicky"), ("Amanda", "Mandy"), ("Barbara", "Babs"),
    ("Dorothy", "Dot"), ("Frances", "Fran"), ("Gillian", "Gill"), ("Pamela", "Pam"),
    ("Rosemary", "Rosie"), ("Theresa", "Tess"), ("Valerie", "Val"), ("Eleanor", "Ellie"),
    ("Charlotte", "Lottie"), ("Jessica", "Jess"),
)
MALE_PLAIN = (
    "Mohammed", "Ahmed", "Ali", "Hassan", "Oluwaseun", "Chinedu", "Kwame", "Piotr", "Tomasz",
    "Marek", "Raj", "Sanjay", "Arjun", "Wei", "Luca", "Mateusz", "Ryan", "Liam", "Connor",
    "Jack", "Oliver", "George", "Noah", "Adam", "Kieran", "Jamal", "Gary", "Paul", "Mark", "Ian",
)
FEMALE_PLAIN = (
    "Aisha", "Fatima", "Amina", "Zainab", "Priya", "Anjali", "Sunita", "Chloe", "Emily",
    "Olivia", "Sophie", "Lauren", "Hannah", "Grace", "Mia", "Agnieszka", "Katarzyna", "Ewa",
    "Ngozi", "Adaeze", "Mei", "Leah", "Zoe", "Megan", "Amy", "Karen", "Julie", "Claire",
    "Tracey", "Sarah",
)
SURNAMES = (
    "Smith", "Jones", "Williams", "Taylor", "Brown", "Davies", "Evans", "Wilson", "Thomas",
    "Johnson", "Roberts", "Robinson", "Thompson", "Wright", "Walker", "White", "Edwards",
    "Hughes", "Green", "Hall", "Lewis", "Harris", "Clarke", "Patel", "Jackson", "Wood",
    "Turner", "Martin", "Cooper", "Hill", "Ward", "Morris", "Moore", "Clark", "Lee", "King",
    "Baker", "Harrison", "Morgan", "Allen", "James", "Scott", "Phillips", "Watson", "Davis",
    "Parker", "Price", "Bennett", "Young", "Griffiths", "Mitchell", "Kelly", "Cook", "Carter",
    "Richardson", "Bailey", "Collins", "Bell", "Shaw", "Murphy", "Miller", "Cox", "Richards",
    "Khan", "Marshall", "Anderson", "Simpson", "Ellis", "Adams", "Singh", "Begum", "Wilkinson",
    "Foster", "Chapman", "Powell", "Webb", "Rogers", "Gray", "Mason", "Ali", "Hunt", "Hussain",
    "Campbell", "Matthews", "Owen", "Palmer", "Holmes", "Mills", "Barnes", "Knight", "Lloyd",
    "Butler", "Russell", "Barker", "Fisher", "Stevens", "Jenkins", "Murray", "Dixon", "Harvey",
    "Ahmed", "Okafor", "Adeyemi", "Mensah", "Nowak", "Kowalski", "Wisniewski", "Chen", "Wang",
    "Nguyen", "Rahman", "Islam", "Sharma", "Kaur", "Gill", "Osei", "Boateng", "Rossi", "Silva",
    "Santos", "Byrne", "O'Brien", "McDonald", "Fraser", "Reid", "Graham", "Stewart", "Hamilton",
)


@dataclass(frozen=True)
class NamePool:
    """First names (with nicknames) of both sexes, and surnames.

    Attributes
    ----------
    first : numpy.ndarray
        Formal first names (object array); males first, then females.
    nickname : numpy.ndarray
        Nickname of each first name, or the name itself when it has none.
    male_count : int
        How many of ``first`` are male names.
    weight : numpy.ndarray
        Popularity of each first name within its sex (sums to 1 per sex).
    surname : numpy.ndarray
        Surnames (object array).
    surname_weight : numpy.ndarray
        Popularity of each surname (sums to 1).
    """

    first: np.ndarray
    nickname: np.ndarray
    male_count: int
    weight: np.ndarray
    surname: np.ndarray
    surname_weight: np.ndarray


def _zipf_weights(count: int, exponent: float) -> np.ndarray:
    """Popularity weights that fall off with rank, summing to 1."""
    raw = 1.0 / np.arange(1, count + 1) ** exponent
    return raw / raw.sum()


def build_name_pool() -> NamePool:
    """Return the fixed name pool every chunk draws from.

    Returns
    -------
    NamePool
        The pool; identical on every call.
    """
    male = [formal for formal, _ in MALE_NICKNAMES] + list(MALE_PLAIN)
    female = [formal for formal, _ in FEMALE_NICKNAMES] + list(FEMALE_PLAIN)
    nick = dict(MALE_NICKNAMES) | dict(FEMALE_NICKNAMES)
    first = np.array(male + female, dtype=object)
    nickname = np.array([nick.get(name, name) for name in first], dtype=object)
    weight = np.concatenate([_zipf_weights(len(male), 0.6), _zipf_weights(len(female), 0.6)])
    surname = np.array(SURNAMES, dtype=object)
    return NamePool(first, nickname, len(male), weight, surname, _zipf_weights(len(surname), 0.8))


@dataclass(frozen=True)
class SpellingHabits:
    """How often a source system departs from a person's canonical name.

    Attributes
    ----------
    nickname, middle_in_first, surname_part, upper, lower, whitespace, swap : float
        Per-record probabilities of each variation.
    """

    nickname: float
    middle_in_first: float
    surname_part: float
    upper: float
    lower: float
    whitespace: float
    swap: float


BENEFIT_HABITS = SpellingHabits(0.10, 0.10, 0.30, 0.05, 0.01, 0.03, 0.005)
HOUSING_HABITS = SpellingHabits(0.22, 0.06, 0.45, 0.15, 0.03, 0.06, 0.015)
ELECTORAL_HABITS = SpellingHabits(0.12, 0.25, 0.35, 0.35, 0.00, 0.04, 0.010)
DISGUISE_HABITS = SpellingHabits(0.65, 0.40, 0.80, 0.20, 0.05, 0.05, 0.100)


def _swap_second_and_third(name: pa.Array) -> pa.Array:
    """Swap the 2nd and 3rd characters of each string (a typing slip)."""
    def part(start: int, stop: int | None) -> pa.Array:
        """Characters ``start:stop`` of each name."""
        return pc.utf8_slice_codeunits(name, start, stop)

    return concat(part(0, 1), part(2, 3), part(1, 2), part(3, None))


def with_typos(names: pa.Array, share: float, rng: np.random.Generator) -> pa.Array:
    """``names`` with one letter changed, dropped or doubled in a ``share`` of them (of four letters or more).

    The slips of a person typing a name into a local system; the first letter is kept, as a reader
    checking a typed name sees it first.
    """
    values = np.asarray(names.to_pylist(), dtype=object)
    lengths = np.array([len(value) if value is not None else 0 for value in values])
    slipped = np.flatnonzero((rng.random(len(values)) < share) & (lengths >= 4))
    kinds = rng.integers(0, 3, len(slipped))
    positions = rng.random(len(slipped))
    letters = rng.integers(0, 26, len(slipped))
    for row, kind, position, letter in zip(slipped, kinds, positions, letters, strict=True):
        name = values[row]
        at = 1 + int(position * (len(name) - 1))
        if kind == 0:  # changed
            replacement = chr(ord("a") + letter)
            if replacement == name[at].lower():
                replacement = chr(ord("a") + (letter + 1) % 26)
            values[row] = name[:at] + replacement + name[at + 1:]
        elif kind == 1:  # dropped
            values[row] = name[:at] + name[at + 1:]
        else:  # doubled
            values[row] = name[:at] + name[at] + name[at:]
    return pa.array(values, pa.large_string() if pa.types.is_large_string(names.type) else names.type)


def render_names(
    first: np.ndarray,
    nickname: np.ndarray,
    middle: np.ndarray,
    surname_a: np.ndarray,
    surname_b: np.ndarray,
    habits: SpellingHabits,
    rng: np.random.Generator,
) -> tuple[pa.Array, pa.Array]:
    """Spell each person's name as one source system would.

    Parameters
    ----------
    first, nickname : numpy.ndarray
        Formal first name and its nickname (object arrays).
    middle : numpy.ndarray
        Middle name or ``""`` (object array).
    surname_a, surname_b : numpy.ndarray
        Surname, and the second part of a double-barrelled surname or ``""``.
    habits : SpellingHabits
        The system's spelling habits.
    rng : numpy.random.Generator
        Random source.

    Returns
    -------
    tuple of pyarrow.Array
        ``(first_name, surname)`` as written in the system.
    """
    n = len(first)
    draw = rng.random((9, n))
    middle_a, family_a, second_a = text(middle), text(surname_a), text(surname_b)
    given = where(draw[0] < habits.nickname, text(nickname), text(first))
    with_middle = (draw[1] < habits.middle_in_first) & (middle != "")
    given = where(with_middle, concat(given, " ", middle_a), given)

    part = where(draw[2] < 0.5, family_a, second_a)
    whole = where(draw[3] < 0.15, concat(family_a, " ", second_a), concat(family_a, "-", second_a))
    family = where(surname_b != "", where(draw[4] < habits.surname_part, part, whole), family_a)
    slip = (draw[5] < habits.swap) & (pc.utf8_length(family).to_numpy(zero_copy_only=False) >= 4)
    family = where(slip, _swap_second_and_third(family), family)

    upper = draw[6] < habits.upper
    lower = (draw[6] >= habits.upper) & (draw[6] < habits.upper + habits.lower)
    given = where(upper, pc.utf8_upper(given), where(lower, pc.utf8_lower(given), given))
    family = where(upper, pc.utf8_upper(family), where(lower, pc.utf8_lower(family), family))

    # Stray whitespace: a trailing space, a leading space, or doubled inner spaces.
    spaced = draw[7] < habits.whitespace
    kind = (draw[8] * 3).astype(int)
    given = where(spaced & (kind == 0), concat(given, " "), given)
    family = where(spaced & (kind == 1), concat(" ", family), family)
    doubled = concat(pc.replace_substring(given, " ", "  "), " ")
    given = where(spaced & (kind == 2), doubled, given)
    return given, family
