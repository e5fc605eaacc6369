"""The geometry of the case page's two charts, as data the template draws in SVG.

Pure functions: the SHAP waterfall of a case (base value, the largest contributions one after the
other, the rest in one bar, ending at the score) and the bars of monthly tax income. The waterfall
names each feature by its declared label and writes its value by the feature's unit.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from features.definitions import FEATURES_BY_NAME, feature_label
from features.reasons import format_feature_value

WATERFALL_FEATURES = 8
"""Contributions drawn one by one; the others are summed into one bar."""


@dataclass(frozen=True)
class Bar:
    """One bar: its label and value, and where it is drawn (pixels).

    ``name`` is the feature's code name (empty for the bar of the other features), ``detail``
    the subject's value of the feature as a person reads it.
    """

    label: str
    value: float
    x: float
    width: float
    positive: bool
    detail: str = ""
    name: str = ""


def _scale(low: float, high: float, pixels: float) -> tuple[float, float]:
    span = (high - low) or 1.0
    return low, pixels / span


def waterfall(explanation: Mapping[str, Any], plot_width: float = 360.0,
              shown: int = WATERFALL_FEATURES) -> dict[str, Any] | None:
    """The waterfall of a case's contributions, from its base value to its score.

    Parameters
    ----------
    explanation : mapping
        ``base_value`` and ``features``: ``[feature, value, contribution]`` rows.
    plot_width : float
        Pixels between the smallest and largest running total.
    shown : int
        Features drawn one by one, largest absolute contribution first.

    Returns
    -------
    dict or None
        ``bars`` (:class:`Bar`, one per step, labelled as :func:`features.definitions.feature_label`), ``base`` and ``score`` with their x positions; None
        when the case has no contributions (a control case).
    """
    features = explanation.get("features") or []
    if not features:
        return None
    ordered = sorted(features, key=lambda row: -abs(row[2]))
    steps = [(name, contribution, value) for name, value, contribution in ordered[:shown]]
    rest = sum(row[2] for row in ordered[shown:])
    if ordered[shown:]:
        steps.append(("", rest, None))
    base = float(explanation["base_value"])
    totals = [base]
    for _, contribution, _ in steps:
        totals.append(totals[-1] + contribution)
    low, per_unit = _scale(min(totals), max(totals), plot_width)
    bars = []
    for (name, contribution, value), start, end in zip(steps, totals[:-1], totals[1:], strict=True):
        left = (min(start, end) - low) * per_unit
        others = len(ordered) - shown
        bars.append(Bar(label=feature_label(name) if name else f"{others} other feature{'s' if others > 1 else ''}",
                        value=contribution, x=round(left, 1),
                        width=round(max(abs(end - start) * per_unit, 1.0), 1), positive=contribution >= 0,
                        detail="" if value is None else _value_text(name, value), name=name))
    return {"bars": bars, "base": base, "base_x": round((base - low) * per_unit, 1),
            "score": totals[-1], "score_x": round((totals[-1] - low) * per_unit, 1)}


def _value_text(name: str, value: Any) -> str:
    spec = FEATURES_BY_NAME.get(name)
    if spec is not None:
        return format_feature_value(spec, value)
    # a feature of an older run, no longer declared: its unit is unknown
    return f"{value:,.2f}" if isinstance(value, float) else str(value)


def monthly_bars(income: Sequence[Sequence[Any]], plot_height: float = 90.0,
                 bar_pitch: float = 18.0) -> dict[str, Any] | None:
    """Vertical bars of monthly income (``[period, amount]`` rows); None when no month holds any.

    >>> monthly_bars([["2026-01", 0.0], ["2026-02", 0.0]]) is None
    True
    >>> [bar["height"] for bar in monthly_bars([["2026-01", 500.0], ["2026-02", 1000.0]])["bars"]]
    [45.0, 90.0]
    """
    amounts = [float(amount) for _, amount in income]
    if not any(amounts):
        return None
    top = max(max(amounts), 0.0) or 1.0
    bars = [{"period": period, "amount": amount, "x": index * bar_pitch,
             "height": round(max(amount, 0.0) / top * plot_height, 1)}
            for index, (period, amount) in enumerate(zip([row[0] for row in income], amounts, strict=True))]
    return {"bars": bars, "top": top, "width": len(bars) * bar_pitch, "height": plot_height}
