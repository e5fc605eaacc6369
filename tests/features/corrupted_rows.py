"""Extracts full of corrupted rows, each breaking exactly one rule of the contract, and the rejects they must give.

Good rows are the fixture's rows (:mod:`tests.features.contract_fixtures`) with fresh keys and, in
every free-text column, the texts given (what real extracts and attackers put there: delimiters,
quotes, formulas such as ``=cmd|...``, non-Latin letters, text near the length limit). Bad rows
are good rows with one cell spoiled so that it breaks one rule of its column (or the table's order
and cross-table rules); a seed spreads them over every rule of every column of every table. The
contract fuzz test and the reliability benchmark (``benchmarks/reliability/fuzz.py``) both write their
extracts here.
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

from features.contract import (
    CONTRACT,
    FUTURE_PERIOD,
    REQUIRED,
    TEXT_CONTROL,
    TEXT_LENGTH,
    TEXT_MAX_CHARACTERS,
    UNIQUE,
    UNIQUE_SUBJECT_REF,
    ColumnSpec,
    Kind,
)
from tests.features.contract_fixtures import clean_rows

GOOD_ROWS_PER_TABLE = 15
BAD_ROWS_PER_TABLE = 80

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


def _free_text(column: ColumnSpec, table: str) -> bool:
    """A column the contract asks only to be text (no type, values, pattern or uniqueness)."""
    return (column.kind is Kind.STRING and not column.values and column.pattern is None
            and not column.unique and column.name != CONTRACT[table].key)


def _good_rows(table: str, texts: list[str], rng: np.random.Generator, count: int) -> list[dict[str, str]]:
    """Valid rows: the fixture's rows with fresh keys and nasty text in every free-text column."""
    templates = clean_rows(table)
    rows = []
    for index in range(count):
        row = dict(templates[index % len(templates)])
        row[CONTRACT[table].key] = f"{KEY_PREFIX[table]}G{index:05d}"
        for column in CONTRACT[table].columns:
            if _free_text(column, table) and (column.required or row[column.name]):
                row[column.name] = texts[int(rng.integers(len(texts)))]
        rows.append(row)
    return rows


def spoilers(table: str, texts: list[str]) -> list[tuple[str, str, object]]:
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


def bad_extract(directory: Path, texts: list[str], seed: int, good_rows: int = GOOD_ROWS_PER_TABLE,
                bad_rows: int = BAD_ROWS_PER_TABLE) -> set[tuple[str, int, str, str]]:
    """Write a data directory of the seven tables, ``good_rows`` good rows then ``bad_rows`` bad rows in each;
    return the reject lines ``(table, row, column, rule)`` it must give."""
    rng = np.random.default_rng(seed)
    expected: set[tuple[str, int, str, str]] = set()
    good = {table: _good_rows(table, texts, rng, good_rows) for table in CONTRACT}
    written: dict[str, list[dict[str, str]]] = {}
    # per table, the keys that break a rule of their own: a clash taking one would break two rules
    spoiled_keys: dict[str, set[str]] = {}
    for table, spec in CONTRACT.items():
        keys = {"own": [row[spec.key] for row in good[table]]}
        if spec.key_differs_from:
            other_key = CONTRACT[spec.key_differs_from].key
            keys["other"] = sorted({row[other_key] for row in written[spec.key_differs_from]
                                    if row[other_key].strip()} - spoiled_keys[spec.key_differs_from])
        table_spoilers = spoilers(table, texts)
        rows = list(good[table])
        spoiled_keys[table] = set()
        for index in range(bad_rows):
            column, rule, make = table_spoilers[index % len(table_spoilers)] if index < len(table_spoilers) \
                else table_spoilers[int(rng.integers(len(table_spoilers)))]
            row = dict(good[table][int(rng.integers(good_rows))])
            row[spec.key] = f"{KEY_PREFIX[table]}B{index:05d}"
            row[column] = make(rng, row, keys["own"] if rule == UNIQUE else keys)
            if column == spec.key:
                spoiled_keys[table].add(row[column])
            rows.append(row)
            expected.add((table, len(rows), column, rule))
        _write(directory, table, rows)
        written[table] = rows
    return expected


def spoil_extract(directory: Path, every: int, seed: int) -> int:
    """Spoil one row in ``every`` of each CSV table of a data directory (one rule broken per spoiled row, the
    rules taken in turn), in place; a unique key is spoiled into one of the table's first rows' keys, so the
    repeat lies far from its first occurrence. Return the number of rows spoiled."""
    rng = np.random.default_rng(seed)
    spoiled = 0
    keys_of: dict[str, list[str]] = {}
    for table, spec in CONTRACT.items():
        path = directory / f"{table}.csv"
        if not path.is_file():
            continue
        with path.open(encoding="utf-8", newline="") as handle:
            rows = list(csv.DictReader(handle))
        keys_of[table] = [row[spec.key] for row in rows]
        if not rows:
            continue
        usable = [(column, rule, make) for column, rule, make in spoilers(table, NASTY) if column in rows[0]
                  and (rule != UNIQUE_SUBJECT_REF or keys_of.get(spec.key_differs_from))]
        # a clash takes a key of the other table that this table's own rows do not hold
        other = sorted(set(keys_of.get(spec.key_differs_from or "", [])) - set(keys_of[table]))
        for turn, index in enumerate(range(every - 1, len(rows), every)):
            column, rule, make = usable[turn % len(usable)]
            keys = {"other": other} if rule == UNIQUE_SUBJECT_REF else keys_of[table][:every - 1]
            if rule == UNIQUE_SUBJECT_REF and not other:
                continue
            rows[index][column] = make(rng, rows[index], keys)
            spoiled += 1
        _write(directory, table, rows)
    return spoiled
