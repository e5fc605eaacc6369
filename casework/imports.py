"""Importing a scoring run's output directory into the case store.

Only the run's work list becomes cases (the flagged subjects, and the control sample when the run
drew one); every other subject that already has an open case adds a line to that case's score
history. A work-list subject with an open case joins it rather than opening a second one. Importing
the same run twice changes nothing.

A run is known by the ``run_id`` of its ``run_summary.json``. A summary written before run ids
existed gets a stable derived id instead: ``<as_of as YYYYMMDD>-v<model version>-`` and the first
8 hex digits of the SHA-256 of its ``cases.parquet``, so the same outputs always get the same id.

Each case keeps what the run showed of it (score, rank, reasons, related subjects, SHAP
contributions) and the subject's own records read from the run's data directory with the contract's
readers (benefit claims and housing claims of the same person, monthly income from the tax records
of their NINOs, electors at the claim address), so that a later run never changes what an earlier
one showed, and the case page reads one row. Each case is indexed by its subject's names, NINOs,
references and postcodes for the search (:mod:`casework.search`).
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from sqlalchemy import Engine, bindparam, insert, select, update
from sqlalchemy.orm import Session

from casework import audit
from casework.search import index_rows, search_terms
from casework.store import (
    CLOSED,
    IMPORT_LOCK,
    NEW,
    SYSTEM_ACTOR,
    Case,
    CaseDetail,
    CaseScore,
    CaseSearchTerm,
    CaseworkError,
    Event,
    Run,
    now,
    one_at_a_time,
    open_store,
    pseudonym,
    store_secret,
)
from features.build import EARNING_INCOME_TYPES
from features.contract import read_table, table_path, table_spec

logger = logging.getLogger(__name__)

SUMMARY_FILE = "run_summary.json"
CASES_FILE = "cases.parquet"
EXPLANATIONS_FILE = "explanations.parquet"
LINKS_FILE = "links.parquet"
TAX_MONTHS_SHOWN = 24
CLAIM_TABLES = {"benefit_claim": ("benefit_claims", "claim_id"),
                "housing_claim": ("housing_claims", "housing_claim_id")}
CLAIM_LINK_TABLES = tuple(table for table, _ in CLAIM_TABLES.values())
"""Tables of ``links.parquet`` whose records are claims: the rest (electors) are not read."""


@dataclass(frozen=True)
class ImportResult:
    run_id: str
    new_cases: int
    joined_cases: int
    history_rows: int
    already_imported: bool = False

    def describe(self) -> str:
        if self.already_imported:
            return f"run {self.run_id} was already in the case store: nothing changed"
        return (f"run {self.run_id} imported: {self.new_cases:,} new cases, {self.joined_cases:,} open "
                f"cases joined, {self.history_rows:,} score-history lines")


def read_summary(run_dir: str | Path) -> dict[str, Any]:
    """The run's ``run_summary.json``; :class:`CaseworkError` naming the file when it is missing."""
    path = Path(run_dir) / SUMMARY_FILE
    if not path.is_file():
        raise CaseworkError(f"not a scoring run's output directory: no {SUMMARY_FILE} in {run_dir}")
    return json.loads(path.read_text(encoding="utf-8"))


def run_id_of(summary: Mapping[str, Any], run_dir: str | Path) -> str:
    """The summary's ``run_id``, else the derived id described in the module docstring."""
    if summary.get("run_id"):
        return str(summary["run_id"])
    digest = hashlib.sha256((Path(run_dir) / CASES_FILE).read_bytes()).hexdigest()[:8]
    return f"{summary['as_of'].replace('-', '')}-v{summary['model']['version']}-{digest}"


def work_list(cases: pd.DataFrame) -> pd.DataFrame:
    """The rows investigators are given, with ``control`` and a queue ``priority``.

    Without the control-sample columns the work list is the flagged subjects. Control cases are
    spread evenly through the queue of flagged ones, so that working from the top reaches them.
    """
    control = cases["control"] if "control" in cases else pd.Series(False, index=cases.index)
    chosen = cases["work_list"] if "work_list" in cases else cases["flagged"] | control
    work = cases.loc[chosen].assign(control=control[chosen].astype(bool))
    flagged = work.loc[~work["control"]]
    controls = work.loc[work["control"]]
    spacing = max(len(flagged), 1) / max(len(controls), 1)
    return pd.concat([
        flagged.assign(priority=flagged["rank"].astype(float)),
        controls.assign(priority=(np.arange(len(controls)) + 0.5) * spacing + 0.25),
    ]).sort_values("priority", kind="mergesort")


def _work_list_rows(path: Path) -> tuple[pd.DataFrame, int]:
    """The rows of a run's ``cases.parquet`` that can be on its work list, and how many subjects it scored.

    With a ``work_list`` column the file is filtered while it is read: at 1 M people it holds some
    850 000 scored subjects, of whom investigators are given 2 %.
    """
    cases = pq.ParquetFile(path)
    filters = [("work_list", "==", True)] if "work_list" in cases.schema_arrow.names else None
    return pq.read_table(path, filters=filters).to_pandas(), cases.metadata.num_rows


def explanations_of(run_dir: Path, subject_refs: list[str]) -> dict[str, dict[str, Any]]:
    """Each subject's base value and (feature, value, contribution) rows, largest contribution first."""
    path = run_dir / EXPLANATIONS_FILE
    if not subject_refs or not path.is_file():
        return {}
    rows = pq.read_table(path, filters=[("subject_ref", "in", subject_refs)]).to_pandas()
    rows = rows.sort_values(["subject_ref", "contribution"], ascending=[True, False], kind="mergesort")
    explained: dict[str, dict[str, Any]] = {}
    # one pass over plain values: pandas' groupby is slow for thousands of small groups
    for ref, feature, value, contribution, base_value in zip(
            rows["subject_ref"].tolist(), rows["feature"].tolist(), rows["value"].tolist(),
            rows["contribution"].tolist(), rows["base_value"].tolist(), strict=True):
        entry = explained.setdefault(ref, {"base_value": float(base_value), "features": []})
        entry["features"].append([feature, _plain(value), float(contribution)])
    return explained


def _plain(value: Any) -> Any:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return None
    return value.item() if isinstance(value, np.generic) else value


def _display(frame: pd.DataFrame) -> pd.DataFrame:
    """Every cell as the text a person reads: dates without a time, empty for null."""
    shown = frame.drop(columns=[column for column in ("row",) if column in frame])
    for column in shown.columns:
        values = shown[column]
        if pd.api.types.is_datetime64_any_dtype(values):
            values = values.dt.strftime("%Y-%m-%d")
        shown[column] = values.astype(object).where(values.notna(), "").astype(str)
    return shown


def _rows_where(data_dir: str | Path, table: str, column: str, values: set[str],
                columns: list[str] | None = None) -> pd.DataFrame:
    """The rows of a contract table whose ``column`` is one of ``values``, as delivered.

    A parquet file whose ``column`` holds text is filtered while it is read (only the row groups and
    columns needed: at 1 M people the tax records alone are 12 M rows); any other file is read
    whole with :func:`features.contract.read_table`.
    """
    path = table_path(data_dir, table)
    if path is not None and path.suffix == ".parquet":
        schema = pq.read_schema(path)
        if column in schema.names and (pa.types.is_string(schema.field(column).type)
                                       or pa.types.is_large_string(schema.field(column).type)):
            wanted = columns or [spec.name for spec in table_spec(table).columns if spec.name in schema.names]
            return pq.read_table(path, columns=wanted, filters=[(column, "in", sorted(values))]).to_pandas()
    rows = read_table(data_dir, table)
    rows = rows.loc[rows[column].astype(str).isin(values)]
    return rows if columns is None else rows.loc[:, columns]


def _without_person(row: dict[str, Any]) -> dict[str, Any]:
    return {name: value for name, value in row.items() if name != "person_key"}


def _grouped(rows: list[dict[str, Any]], key: str) -> dict[Any, list[dict[str, Any]]]:
    """``rows`` by their ``key`` value (dicts: pandas' groupby is slow for thousands of tiny groups)."""
    grouped: dict[Any, list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        grouped[row[key]].append(_without_person(row))
    return grouped


def subject_records(data_dir: str | Path, links: pd.DataFrame, subjects: pd.DataFrame) -> dict[str, dict]:
    """Each subject's own records from each source, ready to be shown.

    Parameters
    ----------
    data_dir : path
        The run's data directory (contract tables, read by :func:`_rows_where`).
    links : DataFrame
        The run's ``links.parquet``: ``table``, ``record_ref``, ``person_key``.
    subjects : DataFrame
        ``subject_ref`` and ``subject_type`` of the subjects to describe.

    Returns
    -------
    dict
        By subject: ``benefit_claims`` and ``housing_claims`` (rows of the same person),
        ``tax_income`` (``[period, earnings]`` of the latest months of their NINOs' tax records: employment
        and self-employment, the income a claim declares as earnings), ``tax_income_by_type``
        (``[period, income_type, total]`` of every income type in those months),
        ``electors`` (at the claim's address), ``address`` (its register row) and ``la_code``.
    """
    claim_links = links.loc[links["table"].isin(CLAIM_LINK_TABLES),
                            ["record_ref", "person_key"]].drop_duplicates("record_ref")
    person_of = claim_links.set_index("record_ref")["person_key"]
    persons = person_of.reindex(subjects["subject_ref"]).dropna()
    wanted = set(claim_links.loc[claim_links["person_key"].isin(persons), "record_ref"]) | set(
        subjects["subject_ref"])

    claims, own = {}, {}
    for table, key in CLAIM_TABLES.values():
        rows = _display(_rows_where(data_dir, table, key, wanted))
        claims[table] = rows.assign(person_key=person_of.reindex(rows[key]).to_numpy()).to_dict("records")
        own.update({row[key]: row for row in claims[table]})

    ninos = {(row["person_key"], row["nino"]) for table in claims for row in claims[table] if row["nino"]}
    persons_of_nino = defaultdict(list)
    for person, nino in ninos:
        persons_of_nino[nino].append(person)
    tax = _rows_where(data_dir, "tax_records", "nino", set(persons_of_nino), ["nino", "period", "income_type", "amount"])
    tax = tax.assign(nino=tax["nino"].astype(str), period=_display(tax[["period"]])["period"].str[:7],
                     income_type=tax["income_type"].astype(str), amount=pd.to_numeric(tax["amount"], errors="coerce"))
    monthly = tax.groupby(["nino", "period", "income_type"])["amount"].sum()
    income = defaultdict(lambda: defaultdict(float))
    for (nino, period, income_type), amount in monthly.items():
        for person in persons_of_nino[nino]:
            income[person][period, income_type] += amount

    uprn_of = {ref: own[ref]["uprn"] for ref in subjects["subject_ref"] if ref in own}
    addresses = set(uprn_of.values())
    electors_at = _grouped(_display(_rows_where(data_dir, "electoral_register", "uprn", addresses))
                           .to_dict("records"), "uprn")
    register = {row["uprn"]: row for row in _display(
        _rows_where(data_dir, "address_register", "uprn", addresses)).to_dict("records")}
    by_person = {table: _grouped(rows, "person_key") for table, rows in claims.items()}

    records = {}
    for ref, subject_type in zip(subjects["subject_ref"], subjects["subject_type"], strict=True):
        person, uprn = persons.get(ref), uprn_of.get(ref, "")
        own_rows = [_without_person(own[ref])] if ref in own else []
        table = CLAIM_TABLES[subject_type][0]
        address = register.get(uprn, {})
        la_code = (own_rows[0].get("la_code") if own_rows else None) or address.get("la_code")
        records[ref] = {
            "benefit_claims": by_person["benefit_claims"].get(person, own_rows if table == "benefit_claims" else []),
            "housing_claims": by_person["housing_claims"].get(person, own_rows if table == "housing_claims" else []),
            **_income_records(income.get(person, {})),
            "electors": electors_at.get(uprn, []) if uprn else [],
            "address": address,
            "la_code": la_code or None,
        }
    return records


def _income_records(income: dict[tuple[str, str], float]) -> dict[str, list[list[Any]]]:
    """A person's ``tax_income`` (earnings by month) and ``tax_income_by_type`` over the latest months shown.

    Earnings are what a claim declares as such; savings interest and property income are means of
    another kind, shown beside them rather than added to them.
    """
    months = sorted({period for period, _ in income})[-TAX_MONTHS_SHOWN:]
    earnings = {period: 0.0 for period in months}
    by_type = []
    for (period, income_type), amount in sorted(income.items()):
        if period not in earnings:
            continue
        by_type.append([period, income_type, round(amount, 2)])
        if income_type in EARNING_INCOME_TYPES:
            earnings[period] += amount
    return {"tax_income": [[period, round(amount, 2)] for period, amount in earnings.items()],
            "tax_income_by_type": by_type}


def _insert_rows(session: Session, table: type, rows: list[dict[str, Any]]) -> None:
    """Insert ``rows`` (dicts with the same keys) into ``table`` in the session's transaction.

    On PostgreSQL one COPY: psycopg's executemany sends a statement per row, and at 17,800 cases
    the four tables' inserts took 1.4 CPU s that way against 0.3 with COPY. SQLite's executemany
    runs in the driver's C loop and stays. The store's tables declare no defaults computed in Python,
    so COPY writes the same rows as an INSERT would.
    """
    if not rows:
        return
    connection = session.connection()
    if connection.dialect.name != "postgresql":
        connection.execute(insert(table), rows)
        return
    from psycopg import sql

    names = list(rows[0])
    copy = sql.SQL("COPY {} ({}) FROM STDIN").format(
        sql.Identifier(table.__tablename__), sql.SQL(", ").join(map(sql.Identifier, names)))
    with connection.connection.driver_connection.cursor() as cursor, cursor.copy(copy) as rows_in:
        for row in rows:
            rows_in.write_row([row[name] for name in names])


def import_run(engine: Engine, run_dir: str | Path) -> ImportResult:
    """Import one scoring run's output directory into the case store, once.

    Parameters
    ----------
    engine : Engine
        From :func:`casework.store.open_store`.
    run_dir : path
        Holds the run's ``run_summary.json``, ``cases.parquet``, ``explanations.parquet`` and
        ``links.parquet``; its summary's ``data_dir`` holds the input tables.
    """
    run_dir = Path(run_dir).resolve()
    summary = read_summary(run_dir)
    run_id = run_id_of(summary, run_dir)
    with Session(engine) as session, session.begin():
        if session.get(Run, run_id) is not None:
            return ImportResult(run_id, 0, 0, 0, already_imported=True)

    cases, subjects_scored = _work_list_rows(run_dir / CASES_FILE)
    work = work_list(cases)
    refs = work["subject_ref"].tolist()
    explanations = explanations_of(run_dir, work.loc[~work["control"], "subject_ref"].tolist())
    links = pq.read_table(run_dir / LINKS_FILE, columns=["table", "record_ref", "person_key"],
                          filters=[("table", "in", list(CLAIM_LINK_TABLES))]).to_pandas()
    records = subject_records(summary["data_dir"], links, work[["subject_ref", "subject_type"]])
    at = now()

    with Session(engine) as session, session.begin():
        one_at_a_time(session.connection(), IMPORT_LOCK)
        if session.get(Run, run_id) is not None:  # imported meanwhile, by a command started at the same time
            return ImportResult(run_id, 0, 0, 0, already_imported=True)
        secret = store_secret(session)
        session.add(Run(
            run_id=run_id, as_of=pd.Timestamp(summary["as_of"]).date(),
            model_version=str(summary["model"]["version"]), imported_at=at, run_dir=str(run_dir),
            data_dir=str(summary["data_dir"]), subjects_scored=subjects_scored, work_list_size=len(work),
            control_size=int(work["control"].sum()), summary=json.dumps(summary),
        ))
        session.flush()
        open_rows = session.execute(select(Case.subject_ref, Case.id, Case.latest_run_id)
                                    .where(Case.status != CLOSED)).all()
        open_cases = {ref: case_id for ref, case_id, _ in open_rows}
        previous_run = {ref: latest for ref, _, latest in open_rows}

        shown = {ref: {
            "score": float(score), "rank": int(rank), "reasons": "" if control else str(reasons),
            "related": str(related), "la_code": records[ref]["la_code"],
            "top_feature": explanations[ref]["features"][0][0] if ref in explanations else None,
            "priority": float(priority), "control": bool(control),
        } for ref, score, rank, reasons, related, priority, control in zip(
            refs, work["score"], work["rank"], work["reasons"], work["related"], work["priority"],
            work["control"], strict=True)}

        details = {ref: {"explanation": json.dumps(explanations.get(ref, {"base_value": None, "features": []})),
                         "records": json.dumps(records[ref])} for ref in refs}

        joined = [ref for ref in refs if ref in open_cases]
        if joined:
            # Core's executemany: one guarded UPDATE per case, without the ORM's bulk-by-key mode
            session.connection().execute(
                update(Case).where(Case.id == bindparam("case_id"))
                .values(latest_run_id=run_id, updated_at=at, updated_by=SYSTEM_ACTOR,
                        version=Case.version + 1,
                        **{name: bindparam(f"new_{name}") for name in shown[joined[0]]})
                .execution_options(synchronize_session=False),
                [{"case_id": open_cases[ref], **{f"new_{name}": value for name, value in shown[ref].items()}}
                 for ref in joined])
            session.connection().execute(
                update(CaseDetail).where(CaseDetail.case_id == bindparam("detail_case_id"))
                .values(explanation=bindparam("new_explanation"), records=bindparam("new_records")),
                [{"detail_case_id": open_cases[ref], "new_explanation": details[ref]["explanation"],
                  "new_records": details[ref]["records"]} for ref in joined])
        new = work.loc[~work["subject_ref"].isin(open_cases)]
        _insert_rows(session, Case, [
            {"subject_ref": ref, "subject_type": subject_type, "pseudonym": pseudonym(secret, ref),
             "status": NEW, "status_since": at, "opened_run_id": run_id, "latest_run_id": run_id, "updated_at": at,
             "updated_by": SYSTEM_ACTOR, "version": 1, **shown[ref]}
            for ref, subject_type in zip(new["subject_ref"], new["subject_type"], strict=True)])
        created = dict(session.execute(select(Case.subject_ref, Case.id).where(Case.opened_run_id == run_id)).all())
        case_ids = {**{ref: open_cases[ref] for ref in joined}, **created}
        _insert_rows(session, CaseDetail, [{"case_id": case_id, **details[ref]} for ref, case_id in created.items()])
        found_by = search_terms({case_id: (ref, records[ref]) for ref, case_id in case_ids.items()})
        _insert_rows(session, CaseSearchTerm, index_rows(session, found_by))

        history = cases.loc[cases["subject_ref"].isin(case_ids)]
        control = set(work.loc[work["control"], "subject_ref"])
        _insert_rows(session, CaseScore, [
            {"case_id": case_ids[ref], "run_id": run_id, "score": float(score), "rank": int(rank),
             "flagged": bool(flagged), "control": ref in control}
            for ref, score, rank, flagged in zip(history["subject_ref"], history["score"], history["rank"],
                                                 history["flagged"], strict=True)])
        events = [{"case_id": case_id, "at": at, "actor": SYSTEM_ACTOR, "field": "status",
                   "old_value": None, "new_value": NEW} for case_id in created.values()]
        events += [{"case_id": open_cases[ref], "at": at, "actor": SYSTEM_ACTOR, "field": "run",
                    "old_value": previous_run[ref], "new_value": run_id} for ref in joined]
        _insert_rows(session, Event, events)
        result = ImportResult(run_id, len(created), len(joined), len(history))
        audit.record(session, SYSTEM_ACTOR, "import run", run_id, result.describe())
    logger.info(result.describe())
    return result


def import_into_store(run_dir: str | Path, url: str) -> ImportResult:
    """:func:`import_run` into the store at ``url``: the last step of a scoring run."""
    return import_run(open_store(url), run_dir)
