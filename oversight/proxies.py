"""Possible proxies: how well one feature alone tells a protected group from the rest.

A model that never reads a protected characteristic can still flag by it when a
feature stands in for it. For every feature and every group of every audited
characteristic, the ROC-AUC of the one-feature classifier that thresholds the
feature (in whichever direction separates better) measures that: 0.5 is no
information, 1.0 a perfect stand-in. The ROC-AUC is computed as the Mann-Whitney
statistic from the feature's ranks, once per feature, so it costs one sort per
feature however many groups there are.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from scipy.stats import rankdata

from oversight.fairness import CHARACTERISTICS, NOT_RECORDED

PROXY_COLUMNS = ["feature", "characteristic", "group", "auc", "possible_proxy"]


def group_aucs(values: np.ndarray, members: np.ndarray) -> float:
    """ROC-AUC of ``values`` ranking the ``members`` first, from average ranks (ties count half).

    Examples
    --------
    >>> group_aucs(np.array([0.1, 0.4, 0.35, 0.8]), np.array([False, False, True, True]))
    0.75
    """
    ranks = rankdata(values)
    return _auc_from_ranks(ranks, np.asarray(members, dtype=bool))


def _auc_from_ranks(ranks: np.ndarray, members: np.ndarray) -> float:
    n_members = int(members.sum())
    n_others = len(members) - n_members
    if n_members == 0 or n_others == 0:
        return float("nan")
    return float((ranks[members].sum() - n_members * (n_members + 1) / 2) / (n_members * n_others))


def proxy_table(
    feature_table: pd.DataFrame,
    audit: pd.DataFrame,
    feature_names: Sequence[str],
    threshold: float,
    min_group: int = 1,
) -> pd.DataFrame:
    """The strongest group of each (feature, characteristic) pair, and whether it is a possible proxy.

    Parameters
    ----------
    feature_table : DataFrame
        The model columns of the scored subjects.
    audit : DataFrame
        :func:`oversight.fairness.audit_characteristics` of the same subjects, same order.
    feature_names : sequence of str
        The model columns.
    threshold : float
        ROC-AUC (taken in the direction that separates better, so at least 0.5) from which a
        feature is named a possible proxy.
    min_group : int
        Groups with fewer subjects, or fewer outside them, are not tried (their AUC would be noise).

    Returns
    -------
    DataFrame
        :data:`PROXY_COLUMNS`: one row per feature and characteristic, the group the feature
        separates best from every other subject; ``auc`` in [0.5, 1]. Subjects whose group is
        not recorded are never a group of their own.
    """
    members = {}
    for characteristic in CHARACTERISTICS:
        groups = audit[characteristic].astype("str").to_numpy()
        members[characteristic] = {
            group: mask for group in sorted(set(groups) - {NOT_RECORDED})
            if min((mask := groups == group).sum(), (~mask).sum()) >= min_group
        }
    rows = []
    for feature in feature_names:
        ranks = rankdata(feature_table[feature].to_numpy(dtype="float64"))
        for characteristic in CHARACTERISTICS:
            best_group, best_auc = "", 0.5
            for group, mask in members[characteristic].items():
                auc = _auc_from_ranks(ranks, mask)
                if max(auc, 1 - auc) > best_auc:
                    best_group, best_auc = group, max(auc, 1 - auc)
            rows.append({"feature": feature, "characteristic": characteristic, "group": best_group,
                         "auc": best_auc, "possible_proxy": best_auc >= threshold})
    return pd.DataFrame.from_records(rows, columns=PROXY_COLUMNS)
