"""People and addresses from the edges: connected components, groups holding two NINOs rebuilt, and keys."""


from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import pyarrow as pa
from scipy import sparse
from scipy.sparse.csgraph import connected_components

if TYPE_CHECKING:
    pass
from features.linking.records import _Nodes
from features.linking.rules import _Edges

LOG = logging.getLogger(__name__)


def _components(n_nodes: int, edges: _Edges) -> np.ndarray:
    graph = sparse.coo_matrix((np.ones(len(edges.a), dtype=np.int8), (edges.a, edges.b)),
                              shape=(n_nodes, n_nodes))
    return connected_components(graph, directed=False)[1].astype(np.int64)

def _split_nino_conflicts(nodes: _Nodes, edges: _Edges, labels: np.ndarray) -> np.ndarray:
    """Rebuild every group holding two NINOs so that no group does.

    Inside such a group the edges are replayed strongest first (NINO edges, then by score,
    then by identity hash) and an edge that would join two NINOs is refused. Such groups are
    few (a record without a NINO resembling two people), so a plain union-find serves.
    """
    held = nodes.nino >= 0
    if not held.any():
        return labels
    n_ninos = int(nodes.nino.max()) + 1
    label_nino = np.sort(labels[held] * n_ninos + nodes.nino[held])
    label_of_nino = label_nino[np.r_[True, label_nino[1:] != label_nino[:-1]]] // n_ninos
    conflicted = np.zeros(labels.max() + 1, dtype=bool)
    conflicted[label_of_nino[1:][label_of_nino[1:] == label_of_nino[:-1]]] = True
    if not conflicted.any():
        return labels
    LOG.info("linking: %d groups held more than one NINO and were split", int(conflicted.sum()))
    inside = conflicted[labels[edges.a]]
    rank_a, rank_b = nodes.rank[edges.a[inside]], nodes.rank[edges.b[inside]]
    order = np.lexsort((np.maximum(rank_a, rank_b), np.minimum(rank_a, rank_b), -edges.score[inside]))
    parent: dict[int, int] = {}
    nino_of: dict[int, int] = {}

    def find(node: int) -> int:
        root = parent.setdefault(node, node)
        while root != parent[root]:
            parent[root] = parent[parent[root]]
            root = parent[root]
        return root

    for a, b in zip(edges.a[inside][order].tolist(), edges.b[inside][order].tolist(), strict=True):
        root_a, root_b = find(a), find(b)
        if root_a == root_b:
            continue
        nino_a = nino_of.get(root_a, int(nodes.nino[root_a]))
        nino_b = nino_of.get(root_b, int(nodes.nino[root_b]))
        if nino_a >= 0 and nino_b >= 0 and nino_a != nino_b:
            continue
        parent[root_b] = root_a
        nino_of[root_a] = max(nino_a, nino_b)
    members = np.flatnonzero(conflicted[labels])
    split = labels.copy()
    roots = pd.factorize(np.array([find(int(node)) for node in members]))[0]
    split[members] = labels.max() + 1 + roots  # labels stay dense enough to index arrays
    return split

def _values_of(codes: np.ndarray, values: pd.Series) -> np.ndarray:
    """The value of each code (``None`` for -1), as an object array."""
    return np.append(values.to_numpy(dtype=object), None)[codes]

def _address_keys(nodes: _Nodes, labels: np.ndarray) -> pd.Series:
    """The address key of every record: a UPRN wherever one can be known, else the postcode.

    A record without a UPRN takes the UPRN that the same person's other records give at the
    same postcode (the smallest, if several), else the postcode's only UPRN in the address
    register, else ``"pc:"`` + its postcode. So a claim giving only a postcode meets the
    electors registered at the home it names, as any record with that UPRN does.
    """
    keys = pd.Series(_values_of(nodes.uprn, nodes.uprn_values), dtype="str")
    open_rows = np.flatnonzero((nodes.uprn < 0) & (nodes.postcode >= 0))
    if len(open_rows) == 0:
        return keys
    known = (nodes.uprn >= 0) & (nodes.postcode >= 0)
    own = (pd.DataFrame({"label": labels[known], "postcode": nodes.postcode[known],
                         "uprn": _values_of(nodes.uprn[known], nodes.uprn_values)})
           .groupby(["label", "postcode"])["uprn"].min())
    asking = pd.MultiIndex.from_arrays([labels[open_rows], nodes.postcode[open_rows]])
    found = own.reindex(asking).to_numpy(dtype=object)
    registered = pd.DataFrame({"postcode": nodes.register_postcode, "uprn": nodes.register_uprn})
    registered = registered.loc[(registered["postcode"] >= 0) & (registered["uprn"] >= 0)].drop_duplicates()
    per_postcode = registered.groupby("postcode")["uprn"].agg(["first", "size"])
    only = per_postcode.loc[per_postcode["size"] == 1, "first"]
    only_uprn = only.reindex(nodes.postcode[open_rows]).to_numpy()
    sole = _values_of(np.nan_to_num(only_uprn, nan=-1).astype(np.int64), nodes.uprn_values)
    by_postcode = "pc:" + _values_of(nodes.postcode[open_rows], nodes.postcode_values)
    found = np.where(pd.isna(found), sole, found)
    keys.iloc[open_rows] = np.where(pd.isna(found), by_postcode, found)
    return keys

def _person_keys(labels: np.ndarray, rank: np.ndarray) -> pa.Array:
    """``"P"`` + 16 hex digits of the smallest identity hash in each group, per record."""
    n_nodes = len(labels)
    by_label = np.sort(labels * n_nodes + np.arange(n_nodes)) % n_nodes  # nodes ordered by label
    sorted_labels = labels[by_label]
    starts = np.flatnonzero(np.r_[True, sorted_labels[1:] != sorted_labels[:-1]])
    smallest = np.minimum.reduceat(rank[by_label], starts)
    group_of_label = np.zeros(labels.max() + 1, dtype=np.int64)
    group_of_label[sorted_labels[starts]] = np.arange(len(starts))
    shifts = np.arange(60, -4, -4, dtype=np.uint64)
    nibbles = ((smallest[:, None] >> shifts) & np.uint64(15)).astype(np.uint8)
    text = np.full((len(smallest), 17), ord("P"), dtype=np.uint8)
    text[:, 1:] = np.frombuffer(b"0123456789abcdef", dtype=np.uint8)[nibbles]
    offsets = np.arange(len(smallest) + 1, dtype=np.int64) * 17
    keys = pa.LargeStringArray.from_buffers(len(smallest), pa.py_buffer(offsets),
                                            pa.py_buffer(text.tobytes()))
    return keys.take(pa.array(group_of_label[labels]))
