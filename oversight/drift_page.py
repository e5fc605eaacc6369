"""The drift page of a scoring run: ``drift.json`` drawn as one self-contained HTML page.

Only draws: every figure comes from the run's ``drift.json``
(:func:`pipelines.drift.measure_drift`).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape

from features.definitions import feature_label
from models.drift import PREVIOUS_RUN, SCORE, TRAINING

TEMPLATES = Path(__file__).with_name("templates")
REFERENCE_TITLES = {TRAINING: "training data", PREVIOUS_RUN: "previous run"}


def _figure(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


def _share(value: float | None) -> str:
    return "-" if value is None else f"{value:.1%}"


def _change(value: float | None) -> str:
    if value is None:
        return "-"
    points = round(value * 100, 1)
    # a change that rounds to nothing reads "0.0", never "-0.0" or "+0.0"
    return "0.0 points" if points == 0 else f"{points:+.1f} points"


def render_drift_page(drift: Mapping[str, Any]) -> str:
    """The HTML page of a run's drift: alert, PSI per feature and reference, top-feature shares.

    Features are named by their labels, their code names (as in ``drift.json``) kept as tooltips.
    """
    columns = [against for against in (TRAINING, PREVIOUS_RUN) if against in drift["psi"]]
    names = list(drift["top_feature_shares"]["this_run"]) + [SCORE]
    rows = [{"name": name, "label": feature_label(name), "over": any(drift["psi"][against].get(name, 0.0) > drift["threshold"] for against in columns),
             **{against: _figure(drift["psi"][against].get(name)) for against in columns}} for name in names]
    shares = drift["top_feature_shares"]
    previous, change = shares["previous_run"] or {}, shares["change"] or {}
    share_rows = [{"name": name, "label": feature_label(name), "this_run": _share(share), "previous_run": _share(previous.get(name)),
                   "change": _change(change.get(name))}
                  for name, share in sorted(shares["this_run"].items(), key=lambda item: -item[1])]
    drifted: dict[str, list[str]] = {}
    for entry in drift["drifted"]:
        drifted.setdefault(feature_label(entry["name"]), []).append(
            f"{entry['psi']:.2f} against {REFERENCE_TITLES[entry['against']]}")
    environment = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape(["html"]))
    return environment.get_template("drift.html").render(
        drift=drift, drifted=drifted, columns=columns, rows=rows, shares=share_rows, references=REFERENCE_TITLES)
