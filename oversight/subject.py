"""A plain-language explanation for one data subject, from a scoring run's outputs.

For a subject access request: whether the subject was selected, why (the reasons an
investigator reads, and which records they come from), that a person decides, and
what happens next. It holds no other person's data: the subjects related to a case
are left out, and any other claim's reference in a reason is replaced by words.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from features.definitions import CONTEXT, FEATURES_BY_NAME
from models.cases import CONTROL_NOTE
from models.explain import REASON_SEPARATOR
from oversight.atrs import TO_BE_COMPLETED
from oversight.report import redact_references

SOURCE_FEATURES = 3
"""Features whose records are named: the subject's largest positive contributions."""
NO_SUBJECT_ERROR = "subject_ref {ref!r} is not in the case list of the run in {run} (cases.parquet)"
NO_RUN_ERROR = "{run} is not a scoring run's output directory: {file} is missing"

SUBJECT_TYPES = {"benefit_claim": "benefit claim", "housing_claim": "housing claim"}


class SubjectNotFoundError(LookupError):
    """The run directory or the subject asked for does not exist."""


def _read_run(run_dir: Path) -> tuple[dict, pd.DataFrame, pd.DataFrame]:
    for name in ("run_summary.json", "cases.parquet", "explanations.parquet"):
        if not (run_dir / name).is_file():
            raise SubjectNotFoundError(NO_RUN_ERROR.format(run=run_dir, file=name))
    summary = json.loads((run_dir / "run_summary.json").read_text(encoding="utf-8"))
    cases = pd.read_parquet(run_dir / "cases.parquet", columns=["subject_ref", "subject_type", "flagged",
                                                                 "control", "model_version", "reasons"])
    return summary, cases, pd.read_parquet(run_dir / "explanations.parquet")


def source_records(explanations: pd.DataFrame, ref: str, limit: int = SOURCE_FEATURES) -> list[str]:
    """What the records behind a subject's strongest contributions hold, in words (no values)."""
    own = explanations[(explanations["subject_ref"] == ref) & (explanations["contribution"] > 0)]
    strongest = own.sort_values("contribution", ascending=False, kind="mergesort")["feature"].head(limit)
    described: list[str] = []
    for feature in strongest:
        for column in FEATURES_BY_NAME[feature].context:
            words = CONTEXT[column].meaning if column in CONTEXT else ""
            if words and words not in described:
                described.append(words)
    return described


def explain_subject(run_dir: str | Path, ref: str, appeals_route: str | None = None) -> str:
    """The explanation for subject ``ref`` of the scoring run in ``run_dir``, as plain text.

    Parameters
    ----------
    run_dir : path
        A scoring run's output directory (``cases.parquet``, ``explanations.parquet``,
        ``run_summary.json``).
    ref : str
        The subject's reference (claim_id or housing_claim_id).
    appeals_route : str, optional
        How to challenge a decision (``oversight.appeals_route``); "to be completed" when absent.

    Raises
    ------
    SubjectNotFoundError
        When ``run_dir`` is not a run's output or ``ref`` is not in its case list.
    """
    run_dir = Path(run_dir)
    summary, cases, explanations = _read_run(run_dir)
    match = cases[cases["subject_ref"] == ref]
    if match.empty:
        raise SubjectNotFoundError(NO_SUBJECT_ERROR.format(ref=ref, run=run_dir))
    case = match.iloc[0]
    kind = SUBJECT_TYPES.get(case["subject_type"], str(case["subject_type"]))
    lines = [
        f"Explanation for {kind} {ref}",
        "",
        f"On {summary['as_of']} a computer model (version {case['model_version']}) compared the records of "
        f"{len(cases):,} live benefit and housing claims, this one among them, to find records that look unusual "
        "and are worth a second look by a person.",
        "",
    ]
    if bool(case["flagged"]):
        others = set(cases["subject_ref"].astype("str"))
        reasons = [redact_references(text, others, own=ref) for text in str(case["reasons"]).split(REASON_SEPARATOR)
                   if text]
        lines += ["Was this claim selected? Yes: it was among the claims selected for a person to review.", "",
                  "Why it was selected:"]
        lines += [f"  - {reason}" for reason in reasons]
        sources = source_records(explanations, ref)
        if sources:
            lines += ["", "These reasons come from these records:"]
            lines += [f"  - {source}" for source in sources]
    elif bool(case["control"]):
        lines += ["Was this claim selected? Yes, at random: it was " + CONTROL_NOTE[0].lower() + CONTROL_NOTE[1:],
                  "Claims are picked at random so that the checks can be compared fairly with claims the model "
                  "selects."]
    else:
        lines += ["Was this claim selected? No. Nothing in this run asks anyone to review it."]
    lines += [
        "",
        "Who decides: a selection is not a finding of fraud or error, and no payment changes because of it. "
        "An investigator reads the claim's records and decides whether anything needs to happen; "
        "if it does, you will be contacted and told why before any decision is taken.",
        f"How to challenge a decision: {appeals_route or TO_BE_COMPLETED}.",
        "",
        "This explanation contains information about this claim only.",
    ]
    return "\n".join(lines) + "\n"
