"""The linking rules: each turns candidate pairs into scored edges between records of one person."""


from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from rapidfuzz.distance import Levenshtein
from rapidfuzz.process import cpdist

from configs.settings import LinkingSettings

if TYPE_CHECKING:
    pass
from features.linking.blocks import _dob_near, _pairs_within_blocks, _shared_token, _unique_pairs
from features.linking.records import _Nodes

NINO_EDGE_SCORE = 1_000
"""Rank of a NINO edge when a group holding two NINOs is rebuilt: above every name rule."""
MIN_TYPO_LETTERS = 4
"""Names this long or longer may differ by one letter and still match (rule 5): in shorter ones
("Ann" / "Ian") one letter is too much of the name."""


@dataclass(frozen=True)
class _Edges:
    a: np.ndarray
    b: np.ndarray
    score: np.ndarray  # higher = stronger evidence; orders the rebuild of NINO conflicts

    @staticmethod
    def concat(parts: list[_Edges]) -> _Edges:
        return _Edges(*(np.concatenate([getattr(p, f) for p in parts]) for f in ("a", "b", "score")))

def _nino_edges(nodes: _Nodes) -> _Edges:
    """Chain the records of each NINO (consecutive records in NINO order)."""
    with_nino = np.flatnonzero(nodes.nino >= 0)
    ordered = with_nino[np.argsort(nodes.nino[with_nino], kind="stable")]
    same = nodes.nino[ordered[1:]] == nodes.nino[ordered[:-1]]
    a, b = ordered[:-1][same], ordered[1:][same]
    return _Edges(a, b, np.full(len(a), NINO_EDGE_SCORE))


@dataclass(frozen=True)
class _Evidence:
    """What candidate pairs (a, b) agree on, for the pairs their NINOs leave open."""

    a: np.ndarray
    b: np.ndarray
    same_uprn: np.ndarray
    same_address: np.ndarray  # same UPRN or same postcode
    surname: np.ndarray  # a shared surname token
    both_dob: np.ndarray
    same_dob: np.ndarray
    score: np.ndarray

    def edges(self, mask: np.ndarray) -> _Edges:
        return _Edges(self.a[mask], self.b[mask], self.score[mask])

def _evidence(nodes: _Nodes, a: np.ndarray, b: np.ndarray) -> _Evidence:
    """Compare candidate pairs, leaving out those whose two records both carry a NINO.

    Two NINOs decide a pair on their own: equal ones are linked already, different ones never.
    """
    open_pairs = (nodes.nino[a] < 0) | (nodes.nino[b] < 0)
    a, b = a[open_pairs], b[open_pairs]
    uprn_a, postcode_a = nodes.uprn[a], nodes.postcode[a]
    same_uprn = (uprn_a >= 0) & (uprn_a == nodes.uprn[b])
    same_postcode = (postcode_a >= 0) & (postcode_a == nodes.postcode[b])
    surname = _shared_token(nodes.surnames[a], nodes.surnames[b])
    both_dob = nodes.has_dob[a] & nodes.has_dob[b]
    same_dob = both_dob & (nodes.dob[a] == nodes.dob[b])
    score = 8 * same_dob.astype(np.int64) + 4 * surname + 2 * same_uprn + same_postcode
    return _Evidence(a, b, same_uprn, same_uprn | same_postcode, surname, both_dob, same_dob, score)

def _same_dob_pairs(nodes: _Nodes, owner: np.ndarray, code: np.ndarray, max_block_size: int,
                    name: str) -> _Evidence:
    """The evidence of every pair of dated records sharing a date of birth and a ``code`` (one per owner row)."""
    dated_days = nodes.dob[nodes.has_dob]
    first_day = dated_days.min(initial=0)
    span = int(dated_days.max(initial=0) - first_day) + 1
    dated = nodes.has_dob[owner]
    owner = owner[dated]
    key = code[dated] * span + (nodes.dob[owner] - first_day)
    a, b = _unique_pairs(*_pairs_within_blocks(key, owner, len(nodes), max_block_size, name), len(nodes))
    return _evidence(nodes, a, b)

def _dob_name_edges(nodes: _Nodes, max_block_size: int) -> tuple[_Edges, list[_Edges]]:
    """Rule 2 (same date of birth and given name, plus a shared surname token or address) and rule 5
    (the same date of birth and one name agreeing, the other one letter apart), from the same blocks."""
    by_given = _same_dob_pairs(nodes, nodes.given_node, nodes.given_code, max_block_size, "date of birth + given name")
    rule_2 = by_given.surname | by_given.same_address
    # a given name agreeing, the surname one letter apart
    surname_slip = np.zeros(len(by_given.a), dtype=bool)
    surname_slip[~rule_2] = _one_letter_apart(nodes.surname_text[by_given.a[~rule_2]],
                                              nodes.surname_text[by_given.b[~rule_2]], nodes.surname_values)
    # a surname token agreeing, the first given name one letter apart
    token_node, slot = np.nonzero(nodes.surnames >= 0)
    by_surname = _same_dob_pairs(nodes, token_node, nodes.surnames[token_node, slot], max_block_size,
                                 "date of birth + surname")
    given_slip = _one_letter_apart(nodes.first_text[by_surname.a], nodes.first_text[by_surname.b], nodes.first_values)
    return by_given.edges(rule_2), [by_given.edges(surname_slip), by_surname.edges(given_slip & by_surname.same_dob)]

def _one_letter_apart(codes_a: np.ndarray, codes_b: np.ndarray, values: pd.Series) -> np.ndarray:
    """Whether the texts of two aligned code arrays differ by one letter changed, dropped or added
    (a doubled letter is one added), and are both long enough for one letter not to be most of the name."""
    result = np.zeros(len(codes_a), dtype=bool)
    known = np.flatnonzero((codes_a >= 0) & (codes_b >= 0) & (codes_a != codes_b))
    if len(known) == 0:
        return result
    # each distinct pair of texts is compared once
    pair, inverse = np.unique(np.stack([codes_a[known], codes_b[known]], axis=1), axis=0, return_inverse=True)
    text = values.to_numpy(dtype=object)
    left, right = text[pair[:, 0]], text[pair[:, 1]]
    distance = cpdist(list(left), list(right), scorer=Levenshtein.distance, dtype=np.int32)
    long_enough = np.minimum([len(t) for t in left], [len(t) for t in right]) >= MIN_TYPO_LETTERS
    result[known] = ((distance == 1) & long_enough)[inverse.ravel()]
    return result

def _address_name_edges(nodes: _Nodes, settings: LinkingSettings) -> list[_Edges]:
    """Rules 3 and 4: first given name and surname token at one address, dates of birth not equal."""
    # Only the first given name: at one address a middle name is often a relative's first name.
    node = nodes.first_node
    n_given = int(nodes.first_code.max(initial=-1)) + 1
    n_uprn = int(nodes.uprn.max(initial=-1)) + 1
    keys, owners = [], []
    for address, offset in ((nodes.uprn, 0), (nodes.postcode, n_uprn)):
        located = address[node] >= 0
        keys.append((address[node[located]] + offset) * n_given + nodes.first_code[located])
        owners.append(node[located])
    a, b = _unique_pairs(*_pairs_within_blocks(np.concatenate(keys), np.concatenate(owners), len(nodes),
                                               settings.max_block_size, "address + given name"),
                         len(nodes))
    ev = _evidence(nodes, a, b)
    named = ev.surname & ~ev.same_dob
    edges = []
    if settings.use_postcode_rule:
        near = named & ev.both_dob & ev.same_address
        near[near] = _dob_near(nodes, ev.a[near], ev.b[near])
        edges.append(ev.edges(near))
    edges.append(_best_for_undated(nodes, ev.edges(named & ~ev.both_dob & ev.same_uprn)))
    return edges

def _best_for_undated(nodes: _Nodes, edges: _Edges) -> _Edges:
    """Keep, for each record without a date of birth, only its strongest candidate.

    Dated candidates come first, then the higher score, then the smaller identity hash, so an
    elector named like two people of one household joins one of them, not both.
    """
    undated = np.concatenate([edges.a, edges.b])
    other = np.concatenate([edges.b, edges.a])
    score = np.concatenate([edges.score, edges.score])
    own = ~nodes.has_dob[undated]
    undated, other, score = undated[own], other[own], score[own]
    order = np.lexsort((nodes.rank[other], -score, ~nodes.has_dob[other], undated))
    first = order[np.r_[True, undated[order][1:] != undated[order][:-1]]] if len(order) else order
    a, b = undated[first], other[first]
    return _Edges(np.minimum(a, b), np.maximum(a, b), score[first])
