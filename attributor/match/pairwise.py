"""Function-by-function similarity between one query sample and a pool of samples (dense).

``S0`` is the MinHash estimate of the weighted feature sets. Call-graph context then refines it,
the propagation step of BinDiff-style matchers: pairs that are each other's best match with a
clear margin become *anchors*; a candidate pair (q, p) gains when the anchors of q's callees are
among p's callees, and likewise for callers. Anchors are recomputed from the refined scores a few
times, so confident matches spread along the call graph.

Used for one-binary-against-a-pool comparisons (benchmarks, diffing two samples); the corpus
matcher (``attributor.match.matcher``) applies the same rule to sparse LSH candidates.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from attributor.fingerprint.minhash import similarity
from attributor.fingerprint.model import SampleFingerprint

CONTEXT_WEIGHT = 2.0  # weight of the neighbour agreement (in [0, 1]) added to S0
ANCHOR_MIN = 0.15  # an anchor is a mutual best match with at least this similarity
ANCHOR_MARGIN = 0.0  # ... and this lead over the runner-up
ROUNDS = 6
COMPETITION = 0.5  # penalty per unit a pool function's best query beats this one
_COL_CHUNK = 4096


def _stack(pool: Sequence[SampleFingerprint]) -> tuple[np.ndarray, np.ndarray]:
    sig = np.concatenate([p.minhash for p in pool]) if pool else np.zeros((0, 1), np.uint8)
    edges, base = [], 0
    for p in pool:
        edges.append(p.edges.astype(np.int64) + base)
        base += p.n_functions
    e = np.concatenate(edges) if edges else np.zeros((0, 2), np.int64)
    return sig, e


def base_similarity(q: np.ndarray, pool_sig: np.ndarray) -> np.ndarray:
    """MinHash similarity of every query row against every pool row, float32."""
    out = np.empty((q.shape[0], pool_sig.shape[0]), dtype=np.float32)
    for c in range(0, pool_sig.shape[0], _COL_CHUNK):
        out[:, c : c + _COL_CHUNK] = similarity(q, pool_sig[c : c + _COL_CHUNK])
    return out


def anchors(s: np.ndarray) -> np.ndarray:
    """Pool index anchored to each query row (-1 where none): mutual best with a margin."""
    nq, npool = s.shape
    amap = np.full(nq, -1, dtype=np.int64)
    if nq == 0 or npool == 0:
        return amap
    best_p = s.argmax(axis=1)
    best_q = s.argmax(axis=0)
    top = s[np.arange(nq), best_p]
    second = np.partition(s, -2, axis=1)[:, -2] if npool > 1 else np.zeros(nq, np.float32)
    ok = (best_q[best_p] == np.arange(nq)) & (top >= ANCHOR_MIN) & (top - second >= ANCHOR_MARGIN)
    amap[ok] = best_p[ok]
    return amap


def _by(edges: np.ndarray, n: int, col: int) -> tuple[np.ndarray, np.ndarray]:
    """CSR view: for node x, ``other[ptr[x]:ptr[x+1]]`` are the far ends of edges with end ``col`` = x."""
    order = np.argsort(edges[:, col], kind="stable")
    e = edges[order]
    return np.searchsorted(e[:, col], np.arange(n + 1)), e[:, 1 - col]


def agreement(
    amap: np.ndarray, q_edges: np.ndarray, p_edges: np.ndarray, npool: int, side: int
) -> np.ndarray:
    """Share of neighbours that anchors confirm, per (query, pool) pair.

    ``side`` 0 compares callees (edge caller->callee), 1 compares callers. The count is divided by
    the larger neighbour count of the two functions, so it is 1 only for identical neighbourhoods.
    """
    nq = amap.shape[0]
    out = np.zeros((nq, npool), dtype=np.float32)
    if len(q_edges) == 0 or len(p_edges) == 0:
        return out
    qi, qk = q_edges[:, side], q_edges[:, 1 - side]
    ptr, other = _by(p_edges, npool, 1 - side)
    ln = amap[qk]
    keep = ln >= 0
    qi, ln = qi[keep], ln[keep]
    lens = ptr[ln + 1] - ptr[ln]
    total = int(lens.sum())
    if total == 0:
        return out
    rows = np.repeat(qi, lens)
    offs = np.arange(total) - np.repeat(np.cumsum(lens) - lens, lens)
    cols = other[np.repeat(ptr[ln], lens) + offs]
    np.add.at(out, (rows, cols), 1.0)
    deg_q = np.bincount(q_edges[:, side], minlength=nq).astype(np.float32)
    deg_p = np.bincount(p_edges[:, side], minlength=npool).astype(np.float32)
    out /= np.maximum(np.maximum(deg_q[:, None], deg_p[None, :]), 1.0)
    return out


def refine(s0: np.ndarray, q_edges: np.ndarray, p_edges: np.ndarray) -> np.ndarray:
    """S0 plus call-graph agreement, iterated ``ROUNDS`` times (see module docstring)."""
    s = s0
    npool = s0.shape[1]
    for _ in range(ROUNDS):
        amap = anchors(s)
        ctx = agreement(amap, q_edges, p_edges, npool, 0) + agreement(amap, q_edges, p_edges, npool, 1)
        s = s0 + CONTEXT_WEIGHT * 0.5 * ctx
    return s


def similarity_matrix(query: SampleFingerprint, pool: Sequence[SampleFingerprint]) -> np.ndarray:
    """float32 [query functions, pool functions concatenated]; higher means more similar."""
    sig, p_edges = _stack(pool)
    s0 = base_similarity(query.minhash, sig)
    s = refine(s0, query.edges.astype(np.int64), p_edges)
    return compete(s)


def compete(s: np.ndarray) -> np.ndarray:
    """Penalise a pair by how far another query function beats it on the same pool function.

    Copied code maps one-to-one: when pool function p is clearly the counterpart of query q', it is
    less likely to be the counterpart of q too.
    """
    if s.size == 0:
        return s
    return s - COMPETITION * (s.max(axis=0, keepdims=True) - s)
