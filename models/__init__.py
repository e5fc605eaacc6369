"""Detectors, evaluation, case ranking and the registered model."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from models.detector import CombinedDetector, make_detector

__all__ = ["CombinedDetector", "make_detector"]


def __getattr__(name: str) -> Any:
    # torch, PyOD and SHAP take seconds to import: load them only when the detector is asked for.
    if name in __all__:
        from models import detector

        return getattr(detector, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
