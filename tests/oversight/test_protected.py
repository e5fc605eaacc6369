"""Protected characteristics and age are never model inputs: changing them changes no model input."""

from __future__ import annotations

import shutil

import numpy as np
import pandas as pd
import pytest

from configs.settings import load_settings
from features.definitions import CONTEXT, FEATURES, feature_names
from pipelines.prepare import prepare_features
from synthetic import generate_world

PROTECTED_WORDS = ("sex", "ethnic", "disab", "nationality", "date_of_birth", "age")


@pytest.fixture(scope="module")
def worlds(tmp_path_factory):
    root = tmp_path_factory.mktemp("protected")
    generate_world(root / "data", people=600, seed=5, truth_path=root / "truth.csv")
    changed = root / "changed"
    shutil.copytree(root / "data", changed)
    equality = pd.read_csv(changed / "equality_monitoring.csv", dtype=str)
    rng = np.random.default_rng(0)
    for column, values in (("sex", ["female", "male"]), ("ethnicity_group", ["asian", "white", "black"]),
                           ("disability", ["yes", "no"]), ("nationality_group", ["uk", "non_eu"])):
        equality[column] = rng.choice(values, len(equality))
    equality.to_csv(changed / "equality_monitoring.csv", index=False)
    return root / "data", changed


def test_protected_characteristics_are_never_model_inputs(worlds):
    original, changed = worlds
    settings = load_settings()
    _, _, before, _ = prepare_features(original, settings)
    _, _, after, _ = prepare_features(changed, settings)
    pd.testing.assert_frame_equal(before.loc[:, list(feature_names())], after.loc[:, list(feature_names())])
    for spec in FEATURES:
        for name in (spec.name, *spec.context):
            assert not any(word in name for word in PROTECTED_WORDS if word != "age") or name in CONTEXT, name
            assert not name.startswith(("age_", "sex", "ethnic", "disab", "nationality")), name
            assert "date_of_birth" not in name, name
