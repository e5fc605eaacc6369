"""Candidate pairs: records sharing a blocking key (date of birth and given name; first given name and address)."""


from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    pass
from features.linking.records import _Nodes

LOG = logging.getLogger(__name__)

def _shared_token(left: np.ndarray, right: np.ndarray) -> np.ndarray:
    """Whether two aligned token matrices (-1 = empty slot) share a token, row by row."""
    shared = (left[:, 0] >= 0) & (left[:, 0] == right[:, 0])
    # Most names have one token: compare every slot only where either side has more.
    several = np.flatnonzero((left[:, 1] >= 0) | (right[:, 1] >= 0))
    left, right = left[several], right[several]
    for slot in range(left.shape[1]):
        present = left[:, slot] >= 0
        shared[several] |= present & (right == left[:, slot, None]).any(axis=1)
    return shared

def _pairs_within_blocks(keys: np.ndarray, nodes: np.ndarray, n_nodes: int, max_block_size: int,
                         name: str) -> tuple[np.ndarray, np.ndarray]:
    """Every pair (a < b) of distinct nodes sharing a key; oversized blocks are skipped."""
    if len(keys) == 0:
        return np.empty(0, np.int64), np.empty(0, np.int64)
    if int(keys.max()) + 1 >= np.iinfo(np.int64).max // n_nodes:
        keys = pd.factorize(keys)[0]  # dense codes, so that key and node fit in one int64
    # One sort of key * n_nodes + node orders by key, then node (a plain sort is fast).
    packed = np.sort(keys.astype(np.int64) * n_nodes + nodes)
    packed = packed[np.r_[True, packed[1:] != packed[:-1]]]
    keys, nodes = packed // n_nodes, packed % n_nodes
    starts = np.flatnonzero(np.r_[True, keys[1:] != keys[:-1]])
    sizes = np.diff(np.r_[starts, len(keys)])
    oversized = sizes > max_block_size
    if oversized.any():
        LOG.warning("linking: %d %s blocks larger than %d records skipped (largest %d)",
                    int(oversized.sum()), name, max_block_size, int(sizes.max()))
    block = np.repeat(np.arange(len(sizes)), sizes)
    rank = np.arange(len(keys)) - starts[block]
    partners = np.where(oversized[block], 0, sizes[block] - rank - 1)
    left = np.repeat(np.arange(len(keys)), partners)
    step = np.arange(len(left)) - np.repeat(np.cumsum(partners) - partners, partners) + 1
    return nodes[left], nodes[left + step]

def _unique_pairs(a: np.ndarray, b: np.ndarray, n_nodes: int) -> tuple[np.ndarray, np.ndarray]:
    code = np.sort(a.astype(np.int64) * n_nodes + b)
    code = code[np.r_[True, code[1:] != code[:-1]]] if len(code) else code
    return code // n_nodes, code % n_nodes

def _dob_near(nodes: _Nodes, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Dates of birth that differ by one slip: one of day/month/year, or day and month swapped."""
    def parts(node: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        days = nodes.dob[node].astype("datetime64[D]")
        months = days.astype("datetime64[M]")
        return (days.astype("datetime64[Y]").astype(np.int64), months.astype(np.int64) % 12,
                (days - months).astype(np.int64))

    year_a, month_a, day_a = parts(a)
    year_b, month_b, day_b = parts(b)
    same = (year_a == year_b).astype(int) + (month_a == month_b) + (day_a == day_b)
    swapped = (year_a == year_b) & (month_a == day_b) & (day_a == month_b)  # all counted from 0
    return ((same == 2) | swapped) & nodes.has_dob[a] & nodes.has_dob[b]
