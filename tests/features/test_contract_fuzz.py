"""Bad input at scale: generated extracts full of bad rows, held to the contract.

Each example writes a data directory of the seven tables: good rows whose free-text cells carry
what real extracts and attackers put there (delimiters, quotes, formulas such as ``=cmd|...``,
non-Latin letters, very long strings), and bad rows, each a good row with one cell spoiled so
that it breaks exactly one rule of its column (or the table's order and cross-table rules).
Hypothesis draws the texts and a seed; the seed spreads the bad rows over every rule of every
column of every table, a few hundred per example, so the test sees over 10,000 bad rows in
well under a minute. Every bad row must be refused with exactly its rule, no good row refused,
nothing may crash, and the input files must be byte-for-byte unchanged.
"""

from __future__ import annotations

import csv
import hashlib
from pathlib import Path

import numpy as np
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from features.contract import (
    CONTRACT,
    FILE_ENCODING,
    FUTURE_PERIOD,
    REQUIRED,
    TEXT_CONTROL,
    TEXT_LENGTH,
    TEXT_MAX_CHARACTERS,
    UNIQUE,
    UNIQUE_SUBJECT_REF,
    ColumnSpec,
    Kind,
    check_extract,
)
from tests.features.contract_fixtures import clean_rows

GOOD_ROWS_PER_TABLE = 15
BAD_ROWS_PER_TABLE = 80
EXAMPLES = 20
MIN_BAD_ROWS = 10_000

# Text that must pass through as it is wherever the contract asks only for text.
NASTY = ["=cmd|' /C calc'!A0", "+SUM(A1:A9)", "@IMPORTXML(x)", '"quoted", with comma', "semi;colon|pipe",
         "O'Brien", "Zoë Ó Súilleabháin", "Łódź 東京 مرحبا", "\\back\\slash", "no-break\u00a0space"]
KEY_PREFIX = {table: f"Z{index}K" for index, table in enumerate(CONTRACT)}
TEXT_KINDS = {Kind.DATE: "2023-02-30", Kind.TIMESTAMP: "2023-01-01T25:00:00", Kind.PERIOD: "2023-13",
              Kind.DECIMAL: "1,000.00", Kind.INT: "1.5", Kind.BOOL: "yes"}
"""One text per kind that looks like a value of it but is not."""
LONGEST_GOOD_TEXT = "東" * (TEXT_MAX_CHARACTERS - 2)
"""Near the length limit, leaving room for the two characters a control-character spoiler adds."""
PATTERN_MISSES = {"nino": ["12345678", "ab123456c", "AB 12 34 56 C", "AB123456"],
                  "la_code": ["X06000001", "e06000001", "E0600000", "E06000001x"],
                  "uprn": ["12A", "-1", "1.0", "=1"]}

fuzz_texts = st.text(st.characters(blacklist_categories=("Cs", "Cc")),
                     min_size=1, max_size=40).filter(lambda text: text.strip() != "")


def _free_text(column: ColumnSpec, table: str) -> bool:
    """A column the contract asks only to be text (no type, values, pattern or uniqueness)."""
    return (column.kind is Kind.STRING and not column.values and column.pattern is None
            and not column.unique and column.name != CONTRACT[table].key)


def _good_rows(table: str, texts: list[str], rng: np.random.Generator) -> list[dict[str, str]]:
    """Valid rows: the fixture's rows with fresh keys and nasty text in every free-text column."""
    templates = clean_rows(table)
    rows = []
    for index in range(GOOD_ROWS_PER_TABLE):
        row = dict(templates[index % len(templates)])
        row[CONTRACT[table].key] = f"{KEY_PREFIX[table]}G{index:05d}"
        for column in CONTRACT[table].columns:
            if _free_text(column, table) and (column.required or row[column.name]):
                row[column.name] = texts[int(rng.integers(len(texts)))]
        rows.append(row)
    return rows


def _spoilers(table: str, texts: list[str]) -> list[tuple[str, str, object]]:
    """``(column, rule, make(rng, row, good_keys) -> bad text)`` for every rule a row of ``table`` can break."""
    spec = CONTRACT[table]
    pick = lambda rng, options: options[int(rng.integers(len(options)))]  # noqa: E731
    spoilers: list[tuple[str, str, object]] = []
    for column in spec.columns:
        name = column.name
        if column.required:
            spoilers.append((name, REQUIRED, lambda rng, row, keys: pick(rng, ["", " ", "\t", "  \t "])))
        if column.kind is not Kind.STRING:
            look_alike = TEXT_KINDS[column.kind]
            spoilers.append((name, f"type:{column.kind}", lambda rng, row, keys, look_alike=look_alike:
                             pick(rng, [look_alike, "x" + pick(rng, texts), "=" + pick(rng, texts)])))
        if column.values:
            spoilers.append((name, "enum", lambda rng, row, keys, values=column.values:
                             pick(rng, [pick(rng, values).upper(), "x" + pick(rng, texts)])))
        if column.pattern is not None:
            spoilers.append((name, f"pattern:{column.pattern}", lambda rng, row, keys, misses=PATTERN_MISSES[
                column.pattern]: pick(rng, misses)))
        if column.minimum is not None:
            spoilers.append((name, f"min:{column.minimum}", lambda rng, row, keys, minimum=column.minimum,
                             kind=column.kind: str(minimum - 1 - int(rng.integers(1000))) if kind is Kind.INT
                             else f"-{rng.integers(1, 100_000)}.{rng.integers(100):02d}"))
        if column.unique:
            spoilers.append((name, UNIQUE, lambda rng, row, keys: pick(rng, keys)))
        if column.checks_control_characters:
            # inside the row's own text (a fresh key stays unique); characters CSV readers keep in a field
            spoilers.append((name, TEXT_CONTROL, lambda rng, row, keys, name=name:
                             (row[name] or "x") + pick(rng, ["\x01", "\x07", "\x1b", "\x7f", "\x00x"])))
            # one character over the limit, counted in characters, not bytes
            spoilers.append((name, TEXT_LENGTH, lambda rng, row, keys, name=name:
                             ((row[name] or "x") + pick(rng, ["x", "ë", "東"]) * TEXT_MAX_CHARACTERS)
                             [:TEXT_MAX_CHARACTERS + 1]))
        if column.kind is Kind.PERIOD:
            spoilers.append((name, FUTURE_PERIOD, lambda rng, row, keys: pick(rng, ["2099-12", "2190-01"])))
    for order in spec.orders:
        # a real date before the row's own start date
        spoilers.append((order.later, order.rule, lambda rng, row, keys, earlier=order.earlier:
                         str(np.datetime64(row[earlier]) - np.timedelta64(int(rng.integers(1, 900)), "D"))))
    if spec.key_differs_from:
        # each clash takes another key of the other table: a key used twice here would also repeat
        spoilers.append((spec.key, UNIQUE_SUBJECT_REF,
                         lambda rng, row, keys: keys["other"].pop(int(rng.integers(len(keys["other"]))))))
    return spoilers


def _write(directory: Path, table: str, rows: list[dict[str, str]]) -> None:
    with (directory / f"{table}.csv").open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


def _checksums(directory: Path) -> dict[str, str]:
    return {path.name: hashlib.sha256(path.read_bytes()).hexdigest() for path in sorted(directory.iterdir())}


def _bad_extract(directory: Path, texts: list[str], seed: int) -> set[tuple[str, int, str, str]]:
    """Write the example's data directory; return the reject lines it must give."""
    rng = np.random.default_rng(seed)
    expected: set[tuple[str, int, str, str]] = set()
    good = {table: _good_rows(table, texts, rng) for table in CONTRACT}
    written: dict[str, list[dict[str, str]]] = {}
    for table, spec in CONTRACT.items():
        keys = {"own": [row[spec.key] for row in good[table]]}
        if spec.key_differs_from:
            other_key = CONTRACT[spec.key_differs_from].key
            keys["other"] = sorted({row[other_key] for row in written[spec.key_differs_from]
                                    if row[other_key].strip()})
        spoilers = _spoilers(table, texts)
        rows = list(good[table])
        for index in range(BAD_ROWS_PER_TABLE):
            column, rule, make = spoilers[index % len(spoilers)] if index < len(spoilers) else \
                spoilers[int(rng.integers(len(spoilers)))]
            row = dict(good[table][int(rng.integers(GOOD_ROWS_PER_TABLE))])
            row[spec.key] = f"{KEY_PREFIX[table]}B{index:05d}"
            row[column] = make(rng, row, keys["own"] if rule == UNIQUE else keys)
            rows.append(row)
            expected.add((table, len(rows), column, rule))
        _write(directory, table, rows)
        written[table] = rows
    return expected


# No shrinking: a failing example is reported with its texts and seed, which rebuild it exactly,
# and shrinking hundreds of rows would take minutes in CI.
@settings(max_examples=EXAMPLES, deadline=None, derandomize=True,
          phases=[Phase.explicit, Phase.reuse, Phase.generate],
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(texts=st.lists(fuzz_texts, min_size=1, max_size=12).map(lambda drawn: [*drawn, *NASTY, LONGEST_GOOD_TEXT]),
       seed=st.integers(0, 2**32 - 1))
def test_every_bad_row_is_refused_with_its_rule_and_no_good_row(tmp_path_factory, texts, seed):
    directory = tmp_path_factory.mktemp("fuzz")
    expected = _bad_extract(directory, texts, seed)
    before = _checksums(directory)

    extract = check_extract(directory)

    found = set(extract.rejects[["table", "row", "column", "rule"]].itertuples(index=False, name=None))
    assert found == expected
    for table in CONTRACT:
        assert extract.table(table)["row"].tolist() == list(range(1, GOOD_ROWS_PER_TABLE + 1))
    assert _checksums(directory) == before


def test_the_fuzz_test_covers_every_rule_with_enough_bad_rows():
    # every example writes BAD_ROWS_PER_TABLE bad rows per table, at least one per rule of the table
    assert EXAMPLES * BAD_ROWS_PER_TABLE * len(CONTRACT) >= MIN_BAD_ROWS
    for table in CONTRACT:
        rules = {(column, rule) for column, rule, _ in _spoilers(table, NASTY)}
        declared = {(column.name, rule) for column in CONTRACT[table].columns for rule in column.rules}
        declared |= {(order.later, order.rule) for order in CONTRACT[table].orders}
        assert rules >= declared and len(rules) <= BAD_ROWS_PER_TABLE


@settings(max_examples=30, deadline=None, derandomize=True)
@given(table=st.sampled_from([name for name, spec in CONTRACT.items() if not spec.optional]),
       junk=st.binary(min_size=1, max_size=8).filter(lambda data: _not_utf8(data) and not set(data) & set(b'\r\n,"')),
       row=st.integers(0, 2))
def test_broken_encoding_refuses_its_row_and_the_rest_is_read(tmp_path_factory, table, junk, row):
    from tests.features.contract_fixtures import write_contract_dir

    directory = write_contract_dir(tmp_path_factory.mktemp("encoding"))
    path = directory / f"{table}.csv"
    lines = path.read_bytes().split(b"\n")
    spoiled = 1 + row % (len(lines) - 2)  # a data row: its number is its line's, less the header
    lines[spoiled] += junk  # inside the last cell
    path.write_bytes(b"\n".join(lines))
    before = _checksums(directory)
    extract = check_extract(directory)
    refused = extract.rejects.loc[extract.rejects["table"] == table]
    assert refused[["row", "rule"]].values.tolist() == [[spoiled, FILE_ENCODING]]
    quality = extract.quality[table]
    assert quality.rows_in == len([line for line in lines[1:] if line]) and quality.rows_refused == 1
    assert _checksums(directory) == before


def _not_utf8(data: bytes) -> bool:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return True
    return False
