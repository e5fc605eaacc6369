"""Linking records of one person across benefit claims, housing claims and the register."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from configs.settings import LinkingSettings, load_settings
from features.linking import (
    GIVEN_NAME_VARIANTS,
    link_people,
    link_records,
    normalise_name,
    normalise_nino,
)

DOB = "1980-02-01"


def benefit(*rows: dict) -> pd.DataFrame:
    """Benefit claims: claim_id, nino, first_name, surname, date_of_birth, uprn, postcode."""
    columns = ["claim_id", "nino", "first_name", "surname", "date_of_birth", "uprn", "postcode"]
    return _frame(rows, columns)


def housing(*rows: dict) -> pd.DataFrame:
    columns = ["housing_claim_id", "nino", "first_name", "surname", "date_of_birth", "uprn",
               "postcode"]
    return _frame(rows, columns)


def electors(*rows: dict) -> pd.DataFrame:
    columns = ["elector_id", "uprn", "first_name", "surname", "date_of_birth"]
    return _frame(rows, columns)


def _frame(rows: tuple[dict, ...], columns: list[str]) -> pd.DataFrame:
    defaults = {"nino": None, "date_of_birth": DOB, "uprn": None, "postcode": None}
    records = [{column: row.get(column, defaults.get(column)) for column in columns} for row in rows]
    frame = pd.DataFrame(records, columns=columns)
    for column in columns:
        if column == "date_of_birth":
            frame[column] = pd.to_datetime(frame[column])
        else:
            frame[column] = frame[column].astype("str")
    return frame


def keys(links: pd.DataFrame) -> dict[str, str]:
    return dict(zip(links["record_ref"], links["person_key"], strict=True))


def same_person(links: pd.DataFrame, *refs: str) -> bool:
    found = keys(links)
    return len({found[ref] for ref in refs}) == 1


def link(benefit_rows=(), housing_rows=(), elector_rows=(), **kwargs) -> pd.DataFrame:
    return link_people(benefit(*benefit_rows), housing(*housing_rows), electors(*elector_rows),
                       **kwargs)


# ---------------------------------------------------------------- name variants


@pytest.mark.parametrize(("claimed", "recorded"), [
    ("William", "Bill"), ("Bill", "Will"), ("Billy", "WILLIAM"),
    ("Elizabeth", "Liz"), ("Beth", "Betty"), ("Robert", "Bob"), ("Rob", "Robert"),
    ("Margaret", "Maggie"), ("Peggy", "Margaret"), ("Katherine", "Kate"), ("Kathy", "Catherine"),
    ("Jonathan", "Jon"), ("Patricia", "Pat"), ("Alexandra", "Lexi"),
])
def test_nicknames_link(claimed: str, recorded: str) -> None:
    links = link([{"claim_id": "B1", "first_name": claimed, "surname": "Taylor", "postcode": "A1 1AA"}],
                 [{"housing_claim_id": "H1", "first_name": recorded, "surname": "Taylor",
                   "uprn": "10", "postcode": "ZZ9 9ZZ"}])
    assert same_person(links, "B1", "H1")


def test_a_shared_nickname_does_not_join_the_names_it_shortens() -> None:
    links = link([{"claim_id": "B1", "first_name": "Alexander", "surname": "Taylor"}],
                 [{"housing_claim_id": "H1", "first_name": "Alexandra", "surname": "Taylor"}])
    assert not same_person(links, "B1", "H1")


def test_name_table_is_normalised_and_large() -> None:
    names = set(GIVEN_NAME_VARIANTS) | {v for vs in GIVEN_NAME_VARIANTS.values() for v in vs}
    assert len(GIVEN_NAME_VARIANTS) >= 60
    assert all(name == normalise_name(pd.Series([name])).iloc[0] for name in names)


@pytest.mark.parametrize(("claimed", "recorded"), [
    (("William James", "Smith"), ("William", "Smith")),       # middle name in one source only
    (("James", "Smith"), ("William James", "Smith")),         # known by the middle name
    (("  mary   ANN ", "smith"), ("Mary", "SMITH ")),         # case and white space
    (("Anne-Marie", "Smith"), ("Anne Marie", "Smith")),       # hyphen or space
    (("Liz", "Smith-Jones"), ("Elizabeth", "Jones")),         # one part of a double surname
    (("Liz", "Smith Jones"), ("Elizabeth", "Smith-Jones")),
    (("Sean", "O'Brien"), ("Seán", "OBRIEN")),                # apostrophe and accent
    (("Sean", "O'Brien"), ("Sean", "O Brien")),
    (("Jane", "Smith"), ("Jane", "Smtih")),                   # two letters swapped
])
def test_spelling_variants_link(claimed: tuple[str, str], recorded: tuple[str, str]) -> None:
    links = link([{"claim_id": "B1", "first_name": claimed[0], "surname": claimed[1]}],
                 [{"housing_claim_id": "H1", "first_name": recorded[0], "surname": recorded[1]}])
    assert same_person(links, "B1", "H1")


def test_surname_particle_alone_is_not_a_shared_surname() -> None:
    links = link([{"claim_id": "B1", "first_name": "Ana", "surname": "De Souza"}],
                 [{"housing_claim_id": "H1", "first_name": "Ana", "surname": "De Silva"}])
    assert not same_person(links, "B1", "H1")


# ---------------------------------------------------------------- NINO


def test_same_nino_links_whatever_the_names() -> None:
    links = link([{"claim_id": "B1", "nino": "AB123456C", "first_name": "Ann", "surname": "Lee",
                   "date_of_birth": "1970-01-01"}],
                 [{"housing_claim_id": "H1", "nino": "ab 12 34 56 c", "first_name": "Zoe",
                   "surname": "Khan", "date_of_birth": "1990-05-05"}])
    assert same_person(links, "B1", "H1")


def test_different_ninos_are_never_one_person() -> None:
    links = link([{"claim_id": "B1", "nino": "AB123456C", "first_name": "Bill", "surname": "Smith",
                   "uprn": "10"}],
                 [{"housing_claim_id": "H1", "nino": "CD654321A", "first_name": "William",
                   "surname": "Smith", "uprn": "10"}])
    assert not same_person(links, "B1", "H1")


def test_a_record_without_nino_does_not_bridge_two_ninos() -> None:
    # H1 resembles both B1 and B2, which carry different NINOs: H1 joins one of them only.
    links = link([{"claim_id": "B1", "nino": "AB123456C", "first_name": "Bill", "surname": "Smith"},
                  {"claim_id": "B2", "nino": "CD654321A", "first_name": "William",
                   "surname": "Smith-Jones"}],
                 [{"housing_claim_id": "H1", "first_name": "Will", "surname": "Smith"}])
    found = keys(links)
    assert found["B1"] != found["B2"]
    assert found["H1"] in {found["B1"], found["B2"]}


def test_temporary_nino_does_not_link() -> None:
    assert normalise_nino(pd.Series(["TN010180M", "AB123456C"])).isna().tolist() == [True, False]
    links = link([{"claim_id": "B1", "nino": "TN010180M", "first_name": "Ann", "surname": "Lee"}],
                 [{"housing_claim_id": "H1", "nino": "TN010180M", "first_name": "Zoe",
                   "surname": "Khan"}])
    assert not same_person(links, "B1", "H1")


# ---------------------------------------------------------------- over-merging


def test_same_name_and_dob_at_different_addresses_with_different_surnames_not_linked() -> None:
    links = link([{"claim_id": "B1", "first_name": "John", "surname": "Smith", "uprn": "10",
                   "postcode": "A1 1AA"}],
                 [{"housing_claim_id": "H1", "first_name": "John", "surname": "Patel", "uprn": "20",
                   "postcode": "B2 2BB"}])
    assert not same_person(links, "B1", "H1")


def test_same_first_name_and_dob_at_one_address_link_after_a_surname_change() -> None:
    links = link([{"claim_id": "B1", "first_name": "Jane", "surname": "Smith", "uprn": "10"}],
                 [{"housing_claim_id": "H1", "first_name": "Jane", "surname": "Patel", "uprn": "10"}])
    assert same_person(links, "B1", "H1")


def test_twins_at_one_address_stay_apart() -> None:
    links = link([{"claim_id": "B1", "first_name": "John", "surname": "Smith", "uprn": "10"}],
                 [{"housing_claim_id": "H1", "first_name": "Peter", "surname": "Smith", "uprn": "10"}])
    assert not same_person(links, "B1", "H1")


def test_different_dates_of_birth_do_not_link_away_from_home() -> None:
    links = link([{"claim_id": "B1", "first_name": "John", "surname": "Smith", "uprn": "10"}],
                 [{"housing_claim_id": "H1", "first_name": "John", "surname": "Smith", "uprn": "20",
                   "date_of_birth": "1980-02-02"}])
    assert not same_person(links, "B1", "H1")


# ---------------------------------------------------------------- slips of the date of birth


@pytest.mark.parametrize(("other_dob", "linked"), [
    ("1980-01-02", True),    # day and month swapped
    ("1980-02-11", True),    # one slip in the day
    ("1981-02-01", True),    # one slip in the year
    ("1955-02-01", True),    # a year typed wrong
    ("1981-03-01", False),   # two parts differ: someone else
])
def test_postcode_rule_forgives_one_slip_of_the_date_of_birth(other_dob: str, linked: bool) -> None:
    rows = ([{"claim_id": "B1", "first_name": "John", "surname": "Smith", "postcode": "A1 1AA"}],
            [{"housing_claim_id": "H1", "first_name": "Johnny", "surname": "Smith", "uprn": "20",
              "postcode": "a11aa", "date_of_birth": other_dob}])
    assert same_person(link(*rows), "B1", "H1") is linked
    off = LinkingSettings(use_postcode_rule=False)
    assert not same_person(link(*rows, settings=off), "B1", "H1")


# ---------------------------------------------------------------- electors without a date of birth


def test_elector_without_dob_links_by_name_at_the_uprn() -> None:
    links = link([{"claim_id": "B1", "first_name": "Bill", "surname": "Smith", "uprn": "10"}], [],
                 [{"elector_id": "E1", "first_name": "WILLIAM", "surname": "Smith", "uprn": "10",
                   "date_of_birth": None},
                  {"elector_id": "E2", "first_name": "William", "surname": "Smith", "uprn": "20",
                   "date_of_birth": None}])
    assert same_person(links, "B1", "E1")
    assert not same_person(links, "B1", "E2")


def test_elector_without_dob_does_not_bridge_two_people_of_one_name() -> None:
    # Father and son of one name at one address: the undated elector joins one of them.
    links = link([{"claim_id": "B1", "first_name": "John", "surname": "Smith", "uprn": "10",
                   "date_of_birth": "1950-06-01"}],
                 [{"housing_claim_id": "H1", "first_name": "John", "surname": "Smith", "uprn": "10",
                   "date_of_birth": "1985-09-09"}],
                 [{"elector_id": "E1", "first_name": "John", "surname": "Smith", "uprn": "10",
                   "date_of_birth": None}])
    found = keys(links)
    assert found["B1"] != found["H1"]
    assert found["E1"] in {found["B1"], found["H1"]}


def test_undated_elector_is_matched_on_the_first_given_name_only() -> None:
    # A son named after his father (middle name) is not his father.
    links = link([{"claim_id": "B1", "first_name": "Tomasz", "surname": "Jones", "uprn": "10"}], [],
                 [{"elector_id": "E1", "first_name": "Chinedu Tomasz", "surname": "JONES",
                   "uprn": "10", "date_of_birth": None},
                  {"elector_id": "E2", "first_name": "Tomasz", "surname": "Jones", "uprn": "10",
                   "date_of_birth": None}])
    assert not same_person(links, "B1", "E1")
    assert same_person(links, "B1", "E2")


def test_elector_with_dob_links_like_a_claim() -> None:
    links = link([{"claim_id": "B1", "first_name": "Kate", "surname": "Hall", "postcode": "A1 1AA"}],
                 [], [{"elector_id": "E1", "first_name": "Katherine", "surname": "Hall", "uprn": "10"}])
    assert same_person(links, "B1", "E1")


def test_address_register_gives_electors_a_postcode() -> None:
    claims = benefit({"claim_id": "B1", "first_name": "Kate", "surname": "Brown",
                      "postcode": "A1 1AA"})
    register = electors({"elector_id": "E1", "first_name": "Kate", "surname": "Hall", "uprn": "10"})
    addresses = pd.DataFrame({"uprn": ["10"], "postcode": ["a1 1aa"]})
    assert not same_person(link_people(claims, housing(), register), "B1", "E1")
    assert same_person(link_people(claims, housing(), register, addresses), "B1", "E1")


def test_register_without_a_dob_column_is_accepted() -> None:
    register = electors({"elector_id": "E1", "first_name": "Kate", "surname": "Hall", "uprn": "10"})
    claims = benefit({"claim_id": "B1", "first_name": "Kate", "surname": "Hall", "uprn": "10"})
    links = link_people(claims, housing(), register.drop(columns="date_of_birth"))
    assert same_person(links, "B1", "E1")


# ---------------------------------------------------------------- keys


def _world(rng: np.random.Generator) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    first = np.array(["William", "Bill", "Mary Ann", "Mary", "Robert", "Bob", "Kate", "Katherine"])
    surname = np.array(["Smith", "Smith-Jones", "Jones", "Brown", "O'Brien", "OBRIEN", "Hall", "Lee"])
    n = 300
    dob = pd.to_datetime("1950-01-01") + pd.to_timedelta(rng.integers(0, 200, n), unit="D")
    nino = np.where(rng.random(n) < 0.5, [f"AB{i:06d}C" for i in rng.integers(0, 150, n)], None)

    def table(ref: str, prefix: str) -> pd.DataFrame:
        return pd.DataFrame({
            ref: [f"{prefix}{i:04d}" for i in range(n)], "nino": pd.array(nino, dtype="str"),
            "first_name": rng.choice(first, n), "surname": rng.choice(surname, n),
            "date_of_birth": dob, "uprn": rng.integers(0, 50, n).astype(str),
            "postcode": rng.choice(["A1 1AA", "B2 2BB"], n),
        })

    register = table("elector_id", "E").drop(columns=["nino", "postcode"])
    register.loc[rng.random(n) < 0.3, "date_of_birth"] = pd.NaT
    return table("claim_id", "B"), table("housing_claim_id", "H"), register


def test_keys_do_not_depend_on_row_order() -> None:
    rng = np.random.default_rng(0)
    tables = _world(rng)
    first = link_people(*tables)
    shuffled = [frame.sample(frac=1.0, random_state=1) for frame in tables]
    second = link_people(*shuffled)
    merged = first.merge(second, on=["table", "record_ref"], suffixes=("", "_shuffled"))
    assert len(merged) == len(first) == 900
    assert (merged["person_key"] == merged["person_key_shuffled"]).all()
    assert first["person_key"].str.fullmatch(r"P[0-9a-f]{16}").all()
    assert first["person_key"].nunique() < len(first)


def test_no_person_holds_two_ninos_in_a_crowded_world() -> None:
    claims, housing_claims, register = _world(np.random.default_rng(3))
    ninos = link_people(claims, housing_claims, register).dropna(subset=["nino"])
    assert (ninos.groupby("person_key")["nino"].nunique() == 1).all()
    assert (ninos.groupby("nino")["person_key"].nunique() == 1).all()


def test_output_has_one_row_per_record_with_string_columns() -> None:
    links = link([{"claim_id": "B1", "first_name": "Ann", "surname": "Lee"}],
                 [{"housing_claim_id": "H1", "first_name": "Zoe", "surname": "Khan"}],
                 [{"elector_id": "E1", "first_name": "Ann", "surname": "Lee", "uprn": "1"}])
    assert list(links.columns) == ["table", "record_ref", "person_key", "address_key", "nino"]
    assert links["table"].tolist() == ["benefit_claims", "housing_claims", "electoral_register"]
    assert all(pd.api.types.is_string_dtype(links[column]) for column in links.columns)


def test_empty_tables_give_an_empty_frame() -> None:
    links = link_people(benefit(), housing(), electors())
    assert links.empty and list(links.columns) == ["table", "record_ref", "person_key", "address_key", "nino"]


def test_oversized_blocks_are_skipped_with_a_warning(caplog: pytest.LogCaptureFixture) -> None:
    rows = [{"claim_id": f"B{i}", "first_name": "John", "surname": "Smith"} for i in range(5)]
    links = link(rows, settings=LinkingSettings(max_block_size=3))
    assert links["person_key"].nunique() == 5
    assert "blocks larger than 3" in caplog.text


def test_link_records_reads_the_extract() -> None:
    class Extract:
        benefit_claims = benefit({"claim_id": "B1", "first_name": "Bob", "surname": "Lee"})
        housing_claims = housing({"housing_claim_id": "H1", "first_name": "Robert", "surname": "Lee"})
        electoral_register = electors()
        address_register = pd.DataFrame({"uprn": pd.Series(dtype="str"),
                                         "postcode": pd.Series(dtype="str")})

    assert same_person(link_records(Extract(), load_settings()), "B1", "H1")


# ---------------------------------------------------------------- addresses and NINOs


def _by_ref(links: pd.DataFrame, column: str) -> dict[str, object]:
    return dict(zip(links["record_ref"], links[column], strict=True))


def test_address_key_is_the_uprn_then_the_postcode() -> None:
    links = link(benefit_rows=[{"claim_id": "B1", "first_name": "Ann", "surname": "Lee", "uprn": " 0042 ",
                                "postcode": "A1 1AA"},
                               {"claim_id": "B2", "first_name": "Bob", "surname": "Ray", "postcode": "sw1a 1aa"},
                               {"claim_id": "B3", "first_name": "Cy", "surname": "Ode"}])
    found = _by_ref(links, "address_key")
    assert found["B1"] == "0042" and found["B2"] == "pc:SW1A1AA"
    assert pd.isna(found["B3"])


def test_a_claim_without_uprn_takes_the_uprn_its_person_is_registered_at_under_that_postcode() -> None:
    """One definition of "same address": a postcode-only claim meets the register at its home."""
    addresses = pd.DataFrame({"uprn": ["7", "8"], "postcode": ["A1 1AA", "A1 1AA"]})
    links = link(benefit_rows=[{"claim_id": "B1", "nino": "AB123456C", "first_name": "Ann", "surname": "Lee",
                                "postcode": "a1 1aa"}],
                 elector_rows=[{"elector_id": "E1", "uprn": "8", "first_name": "Ann", "surname": "Lee"},
                               {"elector_id": "E2", "uprn": "7", "first_name": "Tom", "surname": "Ash"}],
                 address_register=addresses)
    assert same_person(links, "B1", "E1")
    assert _by_ref(links, "address_key") == {"B1": "8", "E1": "8", "E2": "7"}


def test_a_claim_without_uprn_takes_the_only_uprn_of_its_postcode() -> None:
    addresses = pd.DataFrame({"uprn": ["7", "8", "9"], "postcode": ["A1 1AA", "B2 2BB", "B2 2BB"]})
    links = link(benefit_rows=[{"claim_id": "B1", "first_name": "Ann", "surname": "Lee", "postcode": "A11AA"},
                               {"claim_id": "B2", "first_name": "Bob", "surname": "Ray", "postcode": "B2 2BB"}],
                 address_register=addresses)
    assert _by_ref(links, "address_key") == {"B1": "7", "B2": "pc:B22BB"}


def test_links_carry_each_record_s_normalised_nino() -> None:
    links = link(benefit_rows=[{"claim_id": "B1", "nino": "ab 12 34 56 c", "first_name": "Ann", "surname": "Lee"},
                               {"claim_id": "B2", "nino": "TN010180M", "first_name": "Bob", "surname": "Ray"}],
                 elector_rows=[{"elector_id": "E1", "uprn": "1", "first_name": "Cy", "surname": "Ode"}])
    found = _by_ref(links, "nino")
    assert found["B1"] == "AB123456C"
    assert pd.isna(found["B2"]) and pd.isna(found["E1"])


def test_normalised_columns_keep_the_index_of_their_input() -> None:
    assert normalise_name(pd.Series(["ann"], index=["x"])).to_dict() == {"x": "ANN"}


@pytest.mark.parametrize(("claimed", "recorded"), [
    (("Margaret", "Robinson"), ("Margaret", "Robinsen")),  # a letter changed in the surname
    (("Margaret", "Robinson"), ("Margret", "Robinson")),  # a letter dropped from the first name
    (("Margaret", "Robinson"), ("Margaret", "Robinnson")),  # a letter doubled
    (("Bill", "Robinson"), ("William", "Robisnon")),  # a nickname, and a slip in the surname
])
def test_one_letter_typos_link_when_the_date_of_birth_agrees(claimed, recorded) -> None:
    links = link([{"claim_id": "B1", "first_name": claimed[0], "surname": claimed[1], "uprn": "10"}],
                 [{"housing_claim_id": "H1", "first_name": recorded[0], "surname": recorded[1], "uprn": "20"}])
    assert same_person(links, "B1", "H1")


@pytest.mark.parametrize(("claimed", "recorded", "recorded_dob"), [
    (("Margaret", "Robinson"), ("Margaret", "Robinsen"), "1980-02-02"),  # another date of birth
    (("Margaret", "Robinson"), ("Margret", "Robinsen"), DOB),  # both names slipped: nothing agrees but the date
    (("Ann", "Robinson"), ("Ian", "Robinson"), DOB),  # a short name: one letter is too much of it
])
def test_typos_alone_never_link(claimed, recorded, recorded_dob) -> None:
    links = link([{"claim_id": "B1", "first_name": claimed[0], "surname": claimed[1], "uprn": "10"}],
                 [{"housing_claim_id": "H1", "first_name": recorded[0], "surname": recorded[1], "uprn": "20",
                   "date_of_birth": recorded_dob}])
    assert not same_person(links, "B1", "H1")
