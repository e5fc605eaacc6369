"""The Algorithmic Transparency Recording Standard record of a version, from its report.

Tier 1 (name, description, website, contact) and Tier 2 (owner and responsibility;
description and rationale; decision-making process; technical specification and
data; risks, mitigations and impact assessments). Figures come from the same
``report.json``; what only a person can write comes from the ``oversight`` settings
and reads "to be completed" where they are silent, never invented.
"""

from __future__ import annotations

from typing import Any

from configs.settings import Settings

ATRS_JSON, ATRS_MARKDOWN = "atrs.json", "atrs.md"
TO_BE_COMPLETED = "to be completed"
NAME = "Counterfraud"
DESCRIPTION = ("Ranks live benefit and housing claims by how unusual their records are across benefit, tax, "
               "housing and electoral data, and explains each of the highest-ranked in words, as leads for "
               "counter-fraud investigators to check. A person decides every case.")


def _given(value: str | None) -> str:
    return value if value else TO_BE_COMPLETED


def _figure(value: float | None, digits: int = 3) -> str:
    return "cannot be computed yet" if value is None else f"{value:.{digits}f}"


def atrs_record(report: dict[str, Any], settings: Settings) -> dict[str, Any]:
    """The ATRS record (Tier 1 and Tier 2) of the version ``report`` describes."""
    oversight = settings.oversight
    card = report["model_card"]
    details = card["details"]
    performance = [
        f"{'truth file (every subject labelled)' if item['biased_sample'] is False else 'past investigations (a biased sample)'}: "
        f"{item['n_labelled']:,} labelled subjects, {item['n_fraud']:,} fraud; average precision "
        f"{_figure(item['average_precision'])}; precision at capacity {_figure(item['precision_at_capacity'])}; "
        f"recall at capacity {_figure(item['recall_at_capacity'])}"
        for item in report["metrics"]["evaluations"]
    ]
    control = report["metrics"]["control_sample"]
    # a figure that cannot be computed yet is its note alone, which says so and why
    performance.append("lift over the random control sample: "
                       + (control["note"] if control["lift"] is None and control["note"]
                          else _figure(control["lift"], 2) + (f" ({control['note']})" if control["note"] else "")))
    proxies = sorted({row["feature"] for row in report["proxies"] if row["possible_proxy"]})
    return {
        "tier_1": {
            "name": NAME,
            "description": DESCRIPTION,
            "website": _given(oversight.website),
            "contact": _given(oversight.contact),
        },
        "tier_2": {
            "owner_and_responsibility": {
                "organisation": _given(oversight.organisation),
                "senior_responsible_owner": _given(oversight.senior_responsible_owner),
                "model_version": f"{report['model_name']} version {report['version']}",
                "trained_by": details["trained_by"],
                "approval": "Each version is approved (or rejected) by the oversight panel on its report, "
                            "never by the person who trained it; only an approved version scores.",
            },
            "description_and_rationale": {
                "intended_use": card["intended_use"],
                "out_of_scope": card["out_of_scope"],
            },
            "decision_making_process": {
                "process": "Each scoring run flags the highest-ranked subjects up to the team's review "
                           f"capacity ({report['capacity']['flagged']:,} of {report['capacity']['subjects']:,} "
                           "on the training data) and adds a random control sample of unflagged subjects.",
                "human_review": "An investigator reviews every flagged case against the records; the score "
                                "and its reasons are never a decision.",
                "appeals": _given(oversight.appeals_route),
                "subject_access": "counterfraud explain-subject writes a plain-language explanation for one "
                                  "data subject from the case store: every run that selected it, its case's "
                                  "status, the reasons and the records they rest on, how long data is kept.",
            },
            "technical_specification_and_data": {
                "model": details["detector"],
                "features": [feature["name"] for feature in report["features"]],
                "never_used": report["never_used"]["characteristics"],
                "used_for_linking_only": report["never_used"]["linking_only"],
                "data": card["training_data"]["description"],
                "as_of": details["as_of"],
                "data_fingerprint": details["data_fingerprint"],
                "code_version": details["code_version"],
                "performance": performance,
            },
            "risks_mitigations_and_impact_assessments": {
                "risks": card["caveats"],
                "fairness_call_outs": report["fairness_call_outs"] or ["none at the configured thresholds"],
                "possible_proxies": proxies or ["none above the configured threshold"],
                "mitigations": "Reasons are written from each subject's own records so a person can check them; "
                               "protected characteristics and age are audit inputs only; a random control "
                               "sample measures lift without the bias of past investigations.",
                "impact_assessments": _given(oversight.impact_assessments),
            },
        },
    }


def atrs_markdown(record: dict[str, Any]) -> str:
    """The record as Markdown: one heading per tier and section, one line per field."""
    lines = [f"# Algorithmic Transparency Record: {record['tier_1']['name']}", "", "## Tier 1", ""]
    lines += [f"- **{key.replace('_', ' ')}**: {value}" for key, value in record["tier_1"].items()]
    lines += ["", "## Tier 2"]
    for section, fields in record["tier_2"].items():
        lines += ["", f"### {section.replace('_', ' ').capitalize()}", ""]
        for key, value in fields.items():
            if isinstance(value, list):
                lines.append(f"- **{key.replace('_', ' ')}**:")
                lines += [f"  - {item}" for item in value]
            else:
                lines.append(f"- **{key.replace('_', ' ')}**: {value}")
    return "\n".join(lines) + "\n"
