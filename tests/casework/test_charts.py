"""The case page's waterfall as data: features by their labels, values by their unit."""

from __future__ import annotations

from casework.charts import waterfall


def test_the_waterfall_reads_labels_and_values_a_person_understands():
    chart = waterfall({"base_value": 0.1, "features": [
        ["earnings_log_ratio", 2.0999999, 0.3],
        ["capital_gap", 33000.0, 0.2],
        ["undeclared_adults_at_address", 0.5, 0.05],
        ["claims_elsewhere", 2.0, -0.01],
        ["retired_feature", 1.25, 0.001],
    ]}, shown=4)
    assert [(bar.label, bar.detail, bar.name) for bar in chart["bars"]] == [
        ("Earnings above declared (log ratio)", "2.10", "earnings_log_ratio"),
        ("Undeclared capital past tolerance (£)", "£33,000", "capital_gap"),
        ("Undeclared adults who arrived with the claimant", "0.50", "undeclared_adults_at_address"),
        ("Live claims of the same kind elsewhere", "2", "claims_elsewhere"),
        ("1 other feature", "", ""),
    ]


def test_a_feature_no_longer_declared_reads_as_its_spaced_name():
    chart = waterfall({"base_value": 0.0, "features": [["retired_feature", 1.25, 0.4]]})
    assert (chart["bars"][0].label, chart["bars"][0].detail) == ("retired feature", "1.25")
