"""Generate a synthetic claims world: the seven contract tables and their ground truth.

The world is built in chunks of ``CHUNK_PEOPLE`` people. Each chunk draws from
its own random stream (``SeedSequence(seed, spawn_key=(chunk,))``), holds whole
households, rings and duplicate pairs, and is appended to the output files, so
memory stays bounded and the same seed always writes the same bytes.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pyarrow as pa

from synthetic.claims import benefit_award, make_benefit_claims, make_housing_claims
from synthetic.constants import CHUNK_PEOPLE
from synthetic.fraud import plant_fraud
from synthetic.names import NamePool, build_name_pool, with_typos
from synthetic.output import FORMATS, TABLE_COLUMNS, TRUTH_COLUMNS, TableSink
from synthetic.population import make_population
from synthetic.registers import (
    make_electoral_register,
    make_equality_monitoring,
    make_investigations,
    protected_characteristics,
)
from synthetic.render import (
    render_addresses,
    render_benefit_claims,
    render_electoral_register,
    render_equality,
    render_housing_claims,
    render_investigations,
    render_tax_records,
)
from synthetic.tax import make_tax_records
from synthetic.truth import truth_format
from synthetic.variants import DEFAULT_VARIANT, VARIANTS, Variant, get_variant

logger = logging.getLogger(__name__)


WORLD_MARKER = ".counterfraud-synthetic-world"
"""Written into every data directory the generator writes: only such a directory is rewritten."""


class WorldLocationError(ValueError):
    """The truth file would land inside the data directory, the format is unknown, or the
    data directory holds files the generator did not write."""

    TRUTH_INSIDE = "truth file {truth} must be outside the data directory {out_dir}"
    FORMAT = "file format {file_format!r} is not one of: csv, parquet"
    NOT_GENERATED = ("{out_dir} is not empty and was not written by the generator (no {marker}); "
                     "choose an empty directory, or pass --force to replace its contract tables")


@dataclass(frozen=True)
class Offsets:
    """Global index of the next person, address and record of each table."""

    person: int = 0
    address: int = 0
    benefit: int = 0
    housing: int = 0
    elector: int = 0
    tax: int = 0


@dataclass(frozen=True)
class ChunkTables:
    """One chunk, rendered: a table per contract table, the truth rows, and the next offsets."""

    tables: dict[str, pa.Table]
    truth: list[pa.Table]
    offsets: Offsets


def build_chunk(n_people: int, offsets: Offsets, pool: NamePool, rng: np.random.Generator,
                variant: Variant = VARIANTS[DEFAULT_VARIANT]) -> ChunkTables:
    """Build and render one chunk of the world.

    Parameters
    ----------
    n_people : int
        People in the chunk.
    offsets : Offsets
        Where the chunk's identifiers start.
    pool : NamePool
        Names to draw from.
    rng : numpy.random.Generator
        The chunk's random source.
    variant : Variant
        How fraud and its honest look-alikes are drawn.

    Returns
    -------
    ChunkTables
        Arrow tables of the chunk and the offsets for the next one.
    """
    population = make_population(n_people, offsets.person, offsets.address, pool, rng)
    addresses = population.addresses
    benefit, people = make_benefit_claims(population, offsets.person, rng)
    housing = make_housing_claims(population, benefit, rng)
    planted = plant_fraud(population, people, benefit, housing, offsets.person, rng, variant)
    people, housing = planted.people, planted.housing_claims
    benefit = planted.benefit_claims.assign(
        monthly_award=benefit_award(planted.benefit_claims, people, addresses, rng))
    tax = make_tax_records(people, rng)
    register = make_electoral_register(people, planted.extra_registrations, rng)

    n_housing = len(housing)
    claim_person = np.concatenate([benefit["person"].to_numpy(), housing["person"].to_numpy()])
    benefit_type = np.concatenate([benefit["benefit_type"].to_numpy(), np.full(n_housing, -1)])
    equality = make_equality_monitoring(claim_person, benefit_type, people,
                                        protected_characteristics(people, rng), rng)
    investigations = make_investigations(
        claim_person, benefit_type,
        np.concatenate([benefit["channel"].to_numpy(), np.full(n_housing, -1)]),
        np.concatenate([benefit["children_in_household"].to_numpy(), np.zeros(n_housing, int)]),
        np.concatenate([benefit["claim_start"].to_numpy().astype("datetime64[D]"),
                        housing["start_date"].to_numpy().astype("datetime64[D]")]),
        np.concatenate([benefit["typology"].to_numpy(), housing["typology"].to_numpy()]),
        equality, people, rng)

    rendered_benefit = render_benefit_claims(benefit, people, addresses, offsets.benefit, rng)
    rendered_housing = render_housing_claims(housing, people, addresses, offsets.housing, rng)
    electors, elector_truth = render_electoral_register(register, people, addresses, offsets.elector, rng)
    subject_ref = pa.concat_arrays([rendered_benefit.ids, rendered_housing.ids])
    local_tables = {"housing_claims": rendered_housing.table, "electoral_register": electors}
    if variant.name_typos > 0:
        local_tables = {name: _typed_in(table, variant.name_typos, rng) for name, table in local_tables.items()}
    tables = {
        "benefit_claims": rendered_benefit.table,
        "tax_records": render_tax_records(tax, people, offsets.tax, rng),
        "housing_claims": local_tables["housing_claims"],
        "address_register": render_addresses(addresses, rng),
        "electoral_register": local_tables["electoral_register"],
        "equality_monitoring": render_equality(subject_ref, equality, rng),
        "investigation_outcomes": render_investigations(subject_ref, investigations),
    }
    next_offsets = replace(
        offsets, person=offsets.person + n_people, address=offsets.address + len(addresses),
        benefit=offsets.benefit + len(benefit), housing=offsets.housing + n_housing,
        elector=offsets.elector + len(register), tax=offsets.tax + len(tax))
    return ChunkTables(tables, [rendered_benefit.truth, rendered_housing.truth, elector_truth],
                       next_offsets)


def _typed_in(table: pa.Table, share: float, rng: np.random.Generator) -> pa.Table:
    """``table`` with one-letter slips in a ``share`` of its first names and of its surnames."""
    for column in ("first_name", "surname"):
        position = table.schema.get_field_index(column)
        typed = with_typos(table.column(column).combine_chunks(), share, rng)
        table = table.set_column(position, column, typed)
    return table


def chunk_rng(seed: int, chunk: int) -> np.random.Generator:
    """The independent random stream of one chunk of a world."""
    return np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(chunk,)))


def _check_locations(out_dir: Path, truth_path: Path, file_format: str, force: bool) -> None:
    """Refuse an unknown format, a truth file inside the data directory, or (unless ``force``)
    a non-empty data directory without the generator's marker: it may be a real extract."""
    if file_format not in FORMATS:
        raise WorldLocationError(WorldLocationError.FORMAT.format(file_format=file_format))
    truth_format(truth_path)
    if truth_path.resolve().is_relative_to(out_dir.resolve()):
        raise WorldLocationError(WorldLocationError.TRUTH_INSIDE.format(truth=truth_path, out_dir=out_dir))
    if (not force and out_dir.is_dir() and any(out_dir.iterdir())
            and not (out_dir / WORLD_MARKER).is_file()):
        raise WorldLocationError(WorldLocationError.NOT_GENERATED.format(out_dir=out_dir, marker=WORLD_MARKER))


def generate_world(out_dir: str | Path, *, people: int, seed: int, truth_path: str | Path,
                   file_format: str = "csv", chunk_people: int = CHUNK_PEOPLE,
                   force: bool = False, variant: str = DEFAULT_VARIANT) -> dict[str, int]:
    """Write a synthetic claims world and its ground truth.

    Parameters
    ----------
    out_dir : str or pathlib.Path
        Data directory to write the seven contract tables into (created;
        earlier tables of either format there are replaced). A non-empty
        directory must carry ``WORLD_MARKER`` (the generator wrote it) unless
        ``force``.
    people : int
        People in the world.
    seed : int
        Random seed; the same seed writes byte-identical files.
    truth_path : str or pathlib.Path
        Ground-truth file (.csv or .parquet), outside ``out_dir``; parent
        directories are created.
    file_format : {"csv", "parquet"}
        Format of the tables.
    chunk_people : int
        People generated together (bounds memory; part of what a seed means).
    force : bool
        Replace the contract tables of a non-empty directory the generator did not write.
    variant : str
        How fraud and its honest look-alikes are drawn (:data:`synthetic.variants.VARIANTS`);
        the default is the world of earlier releases.

    Returns
    -------
    dict of str to int
        Rows written per table (and ``truth``).

    Raises
    ------
    WorldLocationError
        If the truth file lies inside ``out_dir``, a format is unknown, or ``out_dir``
        holds files the generator did not write (without ``force``).
    UnknownVariantError
        If no variant has that name.

    Examples
    --------
    >>> counts = generate_world("world", people=2000, seed=1, truth_path="truth.csv")  # doctest: +SKIP
    """
    out_dir, truth_path = Path(out_dir), Path(truth_path)
    _check_locations(out_dir, truth_path, file_format, force)
    drawn = get_variant(variant)
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / WORLD_MARKER).write_text("written by counterfraud generate\n", encoding="utf-8")
    truth_path.parent.mkdir(parents=True, exist_ok=True)
    for table in TABLE_COLUMNS:
        for suffix in FORMATS:
            (out_dir / f"{table}.{suffix}").unlink(missing_ok=True)

    sinks = {table: TableSink(out_dir / f"{table}.{file_format}", columns, file_format)
             for table, columns in TABLE_COLUMNS.items()}
    truth_sink = TableSink(truth_path, TRUTH_COLUMNS, truth_format(truth_path))
    pool = build_name_pool()
    offsets = Offsets()
    n_chunks = -(-people // chunk_people)
    try:
        for chunk, start in enumerate(range(0, people, chunk_people)):
            n_people = min(chunk_people, people - start)
            built = build_chunk(n_people, offsets, pool, chunk_rng(seed, chunk), drawn)
            for table, rows in built.tables.items():
                sinks[table].write(rows)
            for rows in built.truth:
                truth_sink.write(rows)
            offsets = built.offsets
            logger.info("chunk %d of %d: %s of %s people written", chunk + 1, n_chunks, f"{offsets.person:,}",
                        f"{people:,}")
    finally:
        for sink in (*sinks.values(), truth_sink):
            sink.close()
    return {table: sink.rows for table, sink in sinks.items()} | {"truth": truth_sink.rows}
