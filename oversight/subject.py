"""A plain-language explanation for one data subject, from the case store.

For a subject access request: every scoring run that put the subject on a work list
(flagged, or drawn at random for a quality check), where each of its cases stands now,
why it was flagged (the reasons an investigator reads), the subject's own records those
reasons rest on and the sources the model reads, that a person decides, how long the
data is kept, how to challenge a decision and whom to contact. It holds no other
person's data: related subjects and other people's records are left out, and any other
claim's reference in a reason is replaced by words.

The appeals route and the contact point come from the ``oversight:`` settings; the
explanation is refused while either is unset, so that it never says "to be completed".
"""

from __future__ import annotations

import json
from typing import Any

import pandas as pd
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from casework.store import Case, CaseDetail, CaseScore, Run
from casework.workflow import ASSIGNED, CLOSED, IN_REVIEW, NEW
from configs.settings import Settings, SettingsError
from features.definitions import CONTEXT, FEATURES_BY_NAME, Source
from models.explain import REASON_SEPARATOR, reason_features
from oversight.report import redact_references

REQUIRED_SETTINGS = ("appeals_route", "contact")
"""``oversight:`` settings an explanation quotes; it is refused while any is unset."""
UNSET_ERROR = ("explain-subject needs {keys} in the configuration (--config FILE): an explanation to a data "
               "subject must say how to challenge a decision and whom to contact")
NO_RUN_ERROR = "the case store holds no scoring run yet: import one first (counterfraud cases import --run DIR)"

SUBJECT_TYPES = {"benefit_claim": "benefit claim", "housing_claim": "housing claim"}
STATUS_WORDS = {
    NEW: "open, waiting for an investigator to take it",
    ASSIGNED: "open and assigned to an investigator",
    IN_REVIEW: "open: an investigator is reviewing it",
}
OUTCOME_WORDS = {"fraud": "fraud was found", "error": "an error was found", "no_issue": "nothing was found wrong",
                 "not_investigated": "it was not investigated"}

SOURCE_WORDS = {
    Source.CLAIMS: "your benefit and housing claims",
    Source.TAX: "your tax records (PAYE, self-employment and savings interest)",
    Source.ELECTORS: "the electoral register at your claim's address and elsewhere (other people's entries are not shown)",
    Source.ADDRESS: "the address register's entry for your claim's address",
    Source.OTHERS: "other people's claims, compared with yours (their details are not shown)",
}
class SubjectNotFoundError(LookupError):
    """The case store has nothing to answer from."""


def required_settings(settings: Settings) -> dict[str, str]:
    """The :data:`REQUIRED_SETTINGS` values; :class:`SettingsError` naming every one unset."""
    unset = [f"oversight.{key}" for key in REQUIRED_SETTINGS if not getattr(settings.oversight, key)]
    if unset:
        raise SettingsError(UNSET_ERROR.format(keys=" and ".join(unset)))
    return {key: getattr(settings.oversight, key) for key in REQUIRED_SETTINGS}


def sources_of(features: list[str]) -> list[str]:
    """The sources the given features read, in :data:`SOURCE_WORDS` order.

    >>> sources_of(["earnings_gap"])
    ['claims', 'tax']
    """
    used = {source for name in features for column in FEATURES_BY_NAME[name].context
            for source in CONTEXT[column].sources}
    return [str(source) for source in SOURCE_WORDS if source in used]


def _row_text(row: dict[str, Any]) -> str:
    return "; ".join(f"{name.replace('_', ' ')} {value}" for name, value in row.items() if value not in ("", None))


def _own_records(records: dict[str, Any], ref: str, sources: list[str]) -> list[str]:
    """The subject's own records from ``sources``, one line each.

    Of the claims, only the subject's own is shown in full; other claims linked to the same
    person are counted, since a wrong link would show another person's claim.
    """
    lines = []
    if Source.CLAIMS in sources:
        claims = [(kind, row) for kind, table in (("benefit claim", "benefit_claims"),
                                                  ("housing claim", "housing_claims"))
                  for row in records.get(table, [])]
        own = [(kind, row) for kind, row in claims if ref in (row.get("claim_id"), row.get("housing_claim_id"))]
        lines += [f"{kind}: {_row_text(row)}" for kind, row in own]
        if len(claims) > len(own):
            lines.append(f"{len(claims) - len(own):,} other claims linked to the same person")
    if Source.TAX in sources and records.get("tax_income"):
        months = ", ".join(f"{period} £{amount:,.2f}" for period, amount in records["tax_income"])
        lines.append(f"tax records, income by month: {months}")
    if Source.ADDRESS in sources and records.get("address"):
        lines.append(f"address register: {_row_text(records['address'])}")
    return lines


def _reason_lines(case: Case, detail: CaseDetail | None, references: set[str]) -> tuple[list[str], list[str]]:
    """The case's reasons (other claims' references replaced) and the features they state."""
    reasons = [redact_references(text, references, own=case.subject_ref)
               for text in case.reasons.split(REASON_SEPARATOR) if text]
    stored = json.loads(detail.explanation) if detail is not None else {"features": []}
    if not reasons or not stored["features"]:
        return reasons, []
    explanation = pd.DataFrame(stored["features"], columns=["feature", "value", "contribution"]).assign(
        subject_ref=case.subject_ref)
    explanation["value"] = pd.to_numeric(explanation["value"], errors="coerce")
    chosen = reason_features(explanation, pd.Series({case.subject_ref: case.subject_type}), len(reasons))
    return reasons, chosen["feature"].tolist()


def _retention(settings: Settings) -> str:
    days = settings.retention.days
    return (f"How long this is kept: a scoring run's outputs (scores, reasons and the records it read) are deleted "
            f"{days:,} days after the run. A case is kept while it is open; {days:,} days after it is closed, "
            "everything that identifies you is removed from it and only counts remain.")


def explain_subject(engine: Engine, ref: str, settings: Settings) -> str:
    """The explanation for subject ``ref``, from the case store, as plain text.

    Parameters
    ----------
    engine : Engine
        The case store (:func:`casework.commands.case_store`).
    ref : str
        The subject's reference (claim_id or housing_claim_id).
    settings : Settings
        ``oversight.appeals_route`` and ``oversight.contact`` (both required) and ``retention``.

    Raises
    ------
    SettingsError
        Naming every required ``oversight:`` setting that is unset.
    SubjectNotFoundError
        When the case store holds no scoring run.
    """
    quoted = required_settings(settings)
    with Session(engine) as session:
        runs = session.scalars(select(Run).order_by(Run.as_of, Run.run_id)).all()
        if not runs:
            raise SubjectNotFoundError(NO_RUN_ERROR)
        cases = session.scalars(select(Case).where(Case.subject_ref == ref).order_by(Case.id)).all()
        history = session.execute(
            select(CaseScore, Run).join(Run, Run.run_id == CaseScore.run_id)
            .where(CaseScore.case_id.in_([case.id for case in cases])).order_by(Run.as_of, Run.run_id)).all()
        details = {detail.case_id: detail for detail in session.scalars(
            select(CaseDetail).where(CaseDetail.case_id.in_([case.id for case in cases])))}
        references = set(session.scalars(select(Case.subject_ref)))
    opened_on = {run.run_id: run.as_of for run in runs}

    kind = SUBJECT_TYPES.get(cases[0].subject_type, cases[0].subject_type) if cases else "claim"
    kept = (f"1 scoring run is kept, of {runs[0].as_of:%Y-%m-%d}" if len(runs) == 1 else
            f"{len(runs):,} scoring runs are kept, the first of {runs[0].as_of:%Y-%m-%d} and the latest of "
            f"{runs[-1].as_of:%Y-%m-%d}")
    lines = [f"Explanation for {kind} {ref}", "",
             "A computer model compares the records of every live benefit and housing claim to find records that "
             f"look unusual and are worth a second look by a person. {kept}.", ""]
    selected = [(score, run) for score, run in history if score.flagged or score.control]
    if not selected:
        lines.append("Was this claim selected? No. No scoring run kept put it on a list for anyone to review.")
    else:
        lines.append("Was this claim selected? Yes, by these scoring runs:")
        lines += [f"  - {run.as_of:%Y-%m-%d} (model version {run.model_version}): "
                  + ("selected for a person to review" if score.flagged else
                     "drawn at random for a quality check, not because anything about it looked unusual")
                  for score, run in selected]
    for case in cases:
        since = f" (opened by the run of {opened_on[case.opened_run_id]:%Y-%m-%d})"
        if case.status == CLOSED:
            outcome = OUTCOME_WORDS.get(case.outcome or "", "no outcome was recorded")
            lines += ["", f"Its case{since} is closed: it was closed on {case.closed_on:%Y-%m-%d} and {outcome}."]
        else:
            lines += ["", f"Its case{since} is {STATUS_WORDS[case.status]}."]
        if case.control:
            lines.append("This case was drawn at random to check the quality of the reviews: a person looks at it "
                         "as at any other, but the model gave no reason for it.")
            continue
        records = json.loads(details[case.id].records) if case.id in details else {}
        # the person's other claims are named in some reasons (claims elsewhere) and may be on no work list
        linked = {row.get("claim_id") or row.get("housing_claim_id")
                  for table in ("benefit_claims", "housing_claims") for row in records.get(table, [])}
        reasons, features = _reason_lines(case, details.get(case.id), references | linked - {None})
        if reasons:
            lines += ["Why it was selected (as the latest run that selected it read the records):"]
            lines += [f"  - {reason}" for reason in reasons]
        sources = sources_of(features)
        own = _own_records(records, ref, sources) if records else []
        if own:
            lines += ["Your records these reasons rest on:"] + [f"  - {line}" for line in own]
        if sources:
            lines += ["Sources these reasons come from:"] + [f"  - {SOURCE_WORDS[source]}" for source in sources]
    lines += [
        "",
        "Sources the model reads for every claim: "
        + "; ".join(SOURCE_WORDS[source] for source in sources_of(list(FEATURES_BY_NAME))) + ".",
        "",
        "Who decides: a selection is not a finding of fraud or error, and no payment changes because of it. "
        "An investigator reads the claim's records and decides whether anything needs to happen; "
        "if it does, you will be contacted and told why before any decision is taken.",
        _retention(settings),
        f"How to challenge a decision: {quoted['appeals_route']}.",
        f"Questions about this explanation or the tool: {quoted['contact']}.",
        "",
        "This explanation contains information about this claim only.",
    ]
    return "\n".join(lines) + "\n"
