"""The version's report: every section, the HTML agrees with report.json, fairness agrees with a direct count."""

from __future__ import annotations

import json
import re
from html import escape
from html.parser import HTMLParser
from typing import Any

import numpy as np
import pandas as pd
import pytest

from features.definitions import FEATURES_BY_NAME, feature_names
from oversight.atrs import TO_BE_COMPLETED
from oversight.fairness import CHARACTERISTICS, INTERSECTION
from oversight.report import _shap_plots

SECTIONS = ("1. Model card", "2. What it uses", "3. Why it flags", "4. How well it works", "5. Whom it flags",
            "6. Possible proxies", "7. Data quality of the training extract", "8. Against the champion",
            "9. What the reviewed outcomes changed")


class _Figures(HTMLParser):
    """Every ``data-figure`` element's path and text; every ``src`` and ``href``."""

    def __init__(self) -> None:
        super().__init__()
        self.figures: list[tuple[str, str]] = []
        self.links: list[str] = []
        self.headings: list[str] = []
        self._open: list[str | None] = []
        self._heading = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        self.links += [value for key, value in attrs if key in ("src", "href") and value]
        if tag == "span":
            self._open.append(attributes.get("data-figure"))
            if attributes.get("data-figure"):
                self.figures.append((attributes["data-figure"], ""))
        self._heading = tag == "h2"

    def handle_endtag(self, tag: str) -> None:
        if tag == "span" and self._open:
            self._open.pop()
        self._heading = False

    def handle_data(self, data: str) -> None:
        if self._open and self._open[-1]:
            path, text = self.figures[-1]
            self.figures[-1] = (path, text + data)
        if self._heading and data.strip():
            self.headings.append(data.strip())


def _parse(html: str) -> _Figures:
    parser = _Figures()
    parser.feed(html)
    return parser


def _at(data: Any, path: str) -> Any:
    for part in path.split("."):
        data = data[int(part)] if isinstance(data, list) else data[part]
    return data


def _read(panel_world) -> tuple[str, dict]:
    directory = panel_world["report_dir"]
    return (directory / "report.html").read_text(encoding="utf-8"), json.loads(
        (directory / "report.json").read_text(encoding="utf-8"))


def test_every_section_is_there_in_order(panel_world):
    html, report = _read(panel_world)
    headings = [heading for heading in _parse(html).headings if heading[0].isdigit()]
    assert headings == list(SECTIONS)
    for key in ("version", "fairness", "metrics", "drivers", "proxies"):
        assert key in report
    assert report["version"] == "1"
    assert 3 <= len(report["worked_examples"]) <= 5
    assert {row["characteristic"] for row in report["fairness"]} >= set(CHARACTERISTICS)


def test_every_figure_of_the_html_is_the_one_in_report_json(panel_world):
    html, report = _read(panel_world)
    figures = _parse(html).figures
    assert len(figures) > 200
    checked = set()
    for path, text in figures:
        assert_figure_shows(report, path, text)
        checked.add(path.split(".")[0])
    assert {"fairness", "drivers", "metrics", "proxies", "data_quality", "capacity"} <= checked


def assert_figure_shows(report: dict, path: str, text: str) -> None:
    """The page's ``text`` at figure ``path`` is the value of ``report.json`` there, as rounded on the page."""
    expected = _at(report, path)
    number = text.replace(",", "").replace("%", "").strip()
    if expected is None:
        assert number == "–", path
        return
    decimals = len(number.split(".")[1]) if "." in number else 0
    value = float(number) / 100 if text.strip().endswith("%") else float(number)
    tolerance = 0.5 * 10.0 ** -decimals / (100 if text.strip().endswith("%") else 1) + 1e-12
    assert abs(value - float(expected)) <= tolerance, (path, text, expected)


def test_a_report_on_the_champion_itself_says_so_instead_of_comparing(panel_world):
    directory = panel_world["champion_report"]["html"].parent
    report = json.loads((directory / "report.json").read_text(encoding="utf-8"))
    assert report["version"] == panel_world["champion"] == "1"
    assert report["champion"]["version"] is None
    assert report["champion"]["note"].startswith("This version is the champion")
    assert "This version is the champion" in (directory / "report.html").read_text(encoding="utf-8")


def test_a_fresh_report_compares_with_the_champion_and_shows_its_figures(panel_world):
    directory = panel_world["fresh_report"]["html"].parent
    html = (directory / "report.html").read_text(encoding="utf-8")
    report = json.loads((directory / "report.json").read_text(encoding="utf-8"))
    champion = report["champion"]
    # versions 1 and 2 were trained alike (same data, settings and seed): the same flags, ranks and figures
    assert report["version"] == "2" and champion["version"] == "1"
    assert champion["overlap"] == 1.0 and champion["flagged_both"] == report["capacity"]["flagged"]
    assert champion["rank_correlation"] > 0.999999
    assert champion["metrics"] and all(row["change"] == 0 for row in champion["metrics"])
    assert all(row["change"] == 0 for row in champion["group_flag_rates"] if not row["suppressed"])
    paths = {path for path, _ in _parse(html).figures}
    assert {"champion.overlap", "champion.rank_correlation", "champion.metrics.0.change"} <= paths
    assert panel_world["fresh_report"]["seconds"]["report"] > 0


def test_the_panel_reads_feature_labels_while_report_json_keeps_code_names(panel_world):
    html, report = _read(panel_world)
    assert [feature["name"] for feature in report["features"]] == list(feature_names())
    assert {row["feature"] for row in report["drivers"]} == set(feature_names())
    for feature in report["features"]:
        label = escape(FEATURES_BY_NAME[feature["name"]].label, quote=False)
        assert feature["label"] == FEATURES_BY_NAME[feature["name"]].label
        assert f"<strong>{label}</strong>" in html  # what it uses
        assert f"<tr><td>{label}</td>" in html  # drivers and proxies
        assert f"<td>{feature['name'].replace('_', ' ')}</td>" not in html


def test_the_shap_plots_name_features_by_their_labels(monkeypatch):
    import shap

    named = []
    for plot in ("bar", "beeswarm", "waterfall"):
        monkeypatch.setattr(shap.plots, plot, lambda explanation, **_: named.append(list(explanation.feature_names)))
    values = np.ones((2, 2))
    figures = _shap_plots(values, values, 0.1, values, values, ["capital_gap", "earnings_log_ratio"],
                          [(0, "Subject A")])
    assert set(figures) == {"drivers_flagged", "drivers_sample", "example_Subject A"}
    assert named == [["Undeclared capital past tolerance (£)", "Earnings above declared (log ratio)"]] * 3


def test_group_flag_rates_agree_with_a_direct_count_from_the_case_list(panel_world):
    _, report = _read(panel_world)
    cases = pd.read_csv(panel_world["run"] / "cases.csv", dtype={"subject_ref": str})
    equality = pd.read_csv(panel_world["data"] / "equality_monitoring.csv", dtype=str)
    joined = cases.merge(equality, on="subject_ref", how="left", validate="one_to_one")
    assert joined["sex"].notna().all()  # every generated claim has its own equality record
    shown = 0
    for row in report["fairness"]:
        names = row["characteristic"].split(INTERSECTION)
        if "age_band" in names or row["suppressed"]:
            continue
        groups = row["group"].split(" · ")
        members = joined[(joined[names] == groups).all(axis=1)]
        assert row["subjects"] == len(members), row
        # the version's ranking within capacity: a run's flagged list also passes over the recently cleared
        in_capacity = members["rank"] <= report["capacity"]["flagged"]
        assert row["flagged"] == int(in_capacity.sum()), row
        assert abs(row["flag_rate"] - in_capacity.mean()) < 1e-12, row
        overall = (cases["rank"] <= report["capacity"]["flagged"]).mean()
        assert abs(row["ratio"] - in_capacity.mean() / overall) < 1e-9, row
        assert row["ci_low"] <= row["ratio"] <= row["ci_high"], row
        shown += 1
    assert shown >= 10


def test_small_groups_are_shown_as_suppressed_not_dropped(panel_world):
    html, report = _read(panel_world)
    suppressed = [row for row in report["fairness"] if row["suppressed"]]
    assert suppressed, "a 1,500-person world has groups under the thresholds"
    for row in suppressed:
        assert row["flagged"] is None and row["flag_rate"] is None and row["subjects"] is None
    assert html.count('class="suppressed"') >= len(suppressed)


def test_the_html_is_self_contained_and_printable(panel_world):
    html, _ = _read(panel_world)
    links = _parse(html).links
    assert links and all(link.startswith(("data:image/png;base64,", "#")) for link in links)
    assert "@media print" in html
    assert len(re.findall(r'src="data:image/png;base64,', html)) >= 2 + 3  # two driver plots, the examples


def test_worked_examples_use_pseudonyms_and_name_no_subject(panel_world):
    html, report = _read(panel_world)
    refs = set(pd.read_csv(panel_world["run"] / "cases.csv", dtype={"subject_ref": str})["subject_ref"])
    assert [example["pseudonym"] for example in report["worked_examples"]][:3] == [
        "Subject A", "Subject B", "Subject C"]
    assert not any(ref in html for ref in refs)
    # nor their addresses: a pseudonym beside a UPRN names the person
    assert not any("UPRN" in reason for example in report["worked_examples"] for reason in example["reasons"])


def test_the_transparency_record_comes_from_the_report_and_the_config(panel_world):
    directory = panel_world["report_dir"]
    record = json.loads((directory / "atrs.json").read_text(encoding="utf-8"))
    assert record["tier_1"]["contact"] == "counter-fraud@example.org"
    assert record["tier_1"]["website"] == TO_BE_COMPLETED
    owner = record["tier_2"]["owner_and_responsibility"]
    assert owner["senior_responsible_owner"] == TO_BE_COMPLETED
    assert record["tier_2"]["decision_making_process"]["appeals"] == TO_BE_COMPLETED
    assert set(record["tier_2"]) == {"owner_and_responsibility", "description_and_rationale",
                                     "decision_making_process", "technical_specification_and_data",
                                     "risks_mitigations_and_impact_assessments"}
    markdown = (directory / "atrs.md").read_text(encoding="utf-8")
    assert "## Tier 1" in markdown and "## Tier 2" in markdown and "counter-fraud@example.org" in markdown
    technical = record["tier_2"]["technical_specification_and_data"]
    # date of birth is no model input, yet linking reads it: the record says both
    assert "date of birth" in technical["never_used"] and technical["used_for_linking_only"] == ["date of birth"]
    performance = technical["performance"]
    lift = next(line for line in performance if line.startswith("lift over the random control sample"))
    assert lift.lower().count("cannot be computed yet") <= 1  # said once, not the figure and its note both


def test_small_flagged_counts_show_with_an_exact_interval_and_the_correction_is_named(panel_world):
    html, report = _read(panel_world)
    rules = report["fairness_rules"]
    assert (rules["exact_interval"], rules["multiple_comparisons"]) == ("Clopper-Pearson", "Benjamini-Hochberg")
    shown = [row for row in report["fairness"] if not row["suppressed"]]
    assert rules["comparisons"] == len(shown)
    few = [row for row in shown if row["flagged"] < rules["exact_interval_below"]]
    assert few, "a 1,500-person world has groups of 30 subjects or more with fewer than 3 flagged"
    assert all(row["interval"] == "Clopper-Pearson" and row["ci_high"] > row["ratio"] for row in few)
    assert all(row["interval"] == "bootstrap" for row in shown if row not in few)
    assert "(exact)" in html and "Benjamini-Hochberg" in html and "Clopper-Pearson" in html
    named = {(sentence.split('"')[0].strip(), sentence.split('"')[1]) for sentence in report["fairness_call_outs"]}
    assert all(row["p_adjusted"] < rules["false_discovery_rate"] for row in shown
               if (" × ".join(part.replace("_", " ") for part in row["characteristic"].split(INTERSECTION)),
                   row["group"]) in named)


def test_least_complete_column_leaves_out_columns_whose_empty_cell_is_an_answer(tmp_path):
    from features.contract import check_extract
    from oversight.report import _data_quality
    from tests.features.contract_fixtures import clean_rows, write_contract_dir

    claims = clean_rows("benefit_claims")
    for row in claims:
        row["claim_end"] = ""  # every claim live: an answer, not a gap
    claims[0]["nino"] = ""
    extract = check_extract(write_contract_dir(tmp_path, benefit_claims=claims))

    quality = {row["table"]: row for row in _data_quality(extract)}["benefit_claims"]

    assert quality["least_complete_column"] == "nino"
    assert quality["least_completeness"] == pytest.approx(sum(bool(row["nino"]) for row in claims) / len(claims))


def test_the_report_opens_with_a_summary_and_a_checklist_linked_to_its_collapsed_sections(panel_world):
    html, report = _read(panel_world)
    first_screen = html[:html.index("<details")]
    assert "Before approving, check" in first_screen and "<h2" not in first_screen.replace('<h2 class="plain"', "")
    targets = re.findall(r'<td><a href="#(\w+)">', first_screen)
    assert {"performance", "whom", "proxies", "uses", "drift", "champion", "quality"} <= set(targets)
    assert all(f'id="{target}"' in html[html.index("<details"):] for target in targets)
    # every numbered section is a <details> of its own, closed until opened
    assert html.count('<details class="section">') == len(SECTIONS) and "<details open" not in html
    paths = {path for path, _ in _parse(first_screen).figures}
    assert {"metrics.evaluations.0.precision_at_capacity", "summary.honest_flagged.per_1000",
            f"fairness.{report['summary']['largest_gap']}.ratio", "capacity.flagged"} <= paths
    honest = report["summary"]["honest_flagged"]
    truth = report["metrics"]["evaluations"][0]
    assert honest["honest_subjects"] == truth["n_labelled"] - truth["n_fraud"]
    gap = report["fairness"][report["summary"]["largest_gap"]]
    assert not gap["suppressed"] and all(
        abs(np.log(max(row["ratio"], 1e-9))) <= abs(np.log(max(gap["ratio"], 1e-9))) + 1e-12
        for row in report["fairness"] if not row["suppressed"] and INTERSECTION not in row["characteristic"])


def test_drift_since_the_champion_was_trained_is_measured_and_features_compared(panel_world):
    fresh = json.loads((panel_world["fresh_report"]["html"].parent / "report.json").read_text(encoding="utf-8"))
    drift = fresh["drift"]
    # version 2 was trained on the champion's own data: nothing moved, the same features
    assert drift["against"] == "1" and drift["worst_psi"] < 0.01 and drift["score_psi"] < 0.01
    assert drift["over_threshold"] == drift["features_added"] == drift["features_removed"] == []
    assert "drift" not in fresh["summary"]["attention"]
    own = json.loads((panel_world["champion_report"]["html"].parent / "report.json").read_text(encoding="utf-8"))
    assert own["drift"]["against"] is None and own["drift"]["note"].startswith("This version is the champion")
