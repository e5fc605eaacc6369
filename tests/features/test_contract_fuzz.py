"""Bad input at scale: generated extracts full of bad rows, held to the contract.

Each example writes a data directory of the seven tables (:mod:`tests.features.corrupted_rows`):
good rows whose free-text cells carry what real extracts and attackers put there (delimiters,
quotes, formulas such as ``=cmd|...``, non-Latin letters, very long strings), and bad rows, each a
good row with one cell spoiled so that it breaks exactly one rule of its column (or the table's
order and cross-table rules).
Hypothesis draws the texts and a seed; the seed spreads the bad rows over every rule of every
column of every table, a few hundred per example, so the test sees over 10,000 bad rows in
well under a minute. Every bad row must be refused with exactly its rule, no good row refused,
nothing may crash, and the input files must be byte-for-byte unchanged.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from features.contract import CONTRACT, FILE_ENCODING, check_extract
from tests.features.corrupted_rows import (
    BAD_ROWS_PER_TABLE,
    GOOD_ROWS_PER_TABLE,
    LONGEST_GOOD_TEXT,
    NASTY,
    bad_extract,
    spoilers,
)

EXAMPLES = 20
MIN_BAD_ROWS = 10_000

fuzz_texts = st.text(st.characters(blacklist_categories=("Cs", "Cc")),
                     min_size=1, max_size=40).filter(lambda text: text.strip() != "")


def _checksums(directory: Path) -> dict[str, str]:
    return {path.name: hashlib.sha256(path.read_bytes()).hexdigest() for path in sorted(directory.iterdir())}


# No shrinking: a failing example is reported with its texts and seed, which rebuild it exactly,
# and shrinking hundreds of rows would take minutes in CI.
@settings(max_examples=EXAMPLES, deadline=None, derandomize=True,
          phases=[Phase.explicit, Phase.reuse, Phase.generate],
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(texts=st.lists(fuzz_texts, min_size=1, max_size=12).map(lambda drawn: [*drawn, *NASTY, LONGEST_GOOD_TEXT]),
       seed=st.integers(0, 2**32 - 1))
def test_every_bad_row_is_refused_with_its_rule_and_no_good_row(tmp_path_factory, texts, seed):
    directory = tmp_path_factory.mktemp("fuzz")
    expected = bad_extract(directory, texts, seed)
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
        rules = {(column, rule) for column, rule, _ in spoilers(table, NASTY)}
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
