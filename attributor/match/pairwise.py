"""Function-by-function similarity between one query sample and a pool of samples.

``S0`` is the MinHash estimate of the weighted feature sets. Call-graph context then refines it:
a pair scores higher when the functions its members call (and are called by) are similar too, the
propagation step of BinDiff-style matchers, done here with sparse neighbour aggregation in numpy.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from attributor.fingerprint.minhash import similarity
from attributor.fingerprint.model import SampleFingerprint

NEIGHBOUR_WEIGHT = 0.35
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
    out = np.empty((q.shape[0], pool_sig.shape[0]), dtype=np.float32)
    for c in range(0, pool_sig.shape[0], _COL_CHUNK):
        out[:, c : c + _COL_CHUNK] = similarity(q, pool_sig[c : c + _COL_CHUNK])
    return out


def _neighbour_max(s: np.ndarray, edges: np.ndarray, n: int) -> np.ndarray:
    """``T[:, j] = max over neighbours l of pool function j of s[:, l]`` (0 where none)."""
    t = np.zeros((s.shape[0], n), dtype=np.float32)
    if len(edges) == 0:
        return t
    order = np.argsort(edges[:, 0], kind="stable")
    src, dst = edges[order, 0], edges[order, 1]
    starts = np.flatnonzero(np.r_[True, src[1:] != src[:-1]])
    t[:, src[starts]] = np.maximum.reduceat(s[:, dst], starts, axis=1)
    return t


def _neighbour_mean(t: np.ndarray, edges: np.ndarray, n: int) -> np.ndarray:
    """``M[i, :] = mean over neighbours k of query function i of t[k, :]``."""
    m = np.zeros((n, t.shape[1]), dtype=np.float32)
    if len(edges) == 0:
        return m
    order = np.argsort(edges[:, 0], kind="stable")
    src, dst = edges[order, 0], edges[order, 1]
    starts = np.flatnonzero(np.r_[True, src[1:] != src[:-1]])
    counts = np.diff(np.r_[starts, len(src)]).astype(np.float32)
    m[src[starts]] = np.add.reduceat(t[dst], starts, axis=0) / counts[:, None]
    return m


def context_similarity(s0: np.ndarray, q_edges: np.ndarray, p_edges: np.ndarray) -> np.ndarray:
    """Average best similarity between callees, and between callers, of each pair."""
    nq, npool = s0.shape
    out = np.zeros_like(s0)
    for e_q, e_p in ((q_edges, p_edges), (q_edges[:, ::-1], p_edges[:, ::-1])):
        t = _neighbour_max(s0, e_p, npool)
        out += _neighbour_mean(t, e_q, nq)
    return out / 2


def similarity_matrix(query: SampleFingerprint, pool: Sequence[SampleFingerprint]) -> np.ndarray:
    """float32 [query functions, pool functions concatenated]; higher means more similar."""
    sig, p_edges = _stack(pool)
    s0 = base_similarity(query.minhash, sig)
    ctx = context_similarity(s0, query.edges.astype(np.int64), p_edges)
    return (1 - NEIGHBOUR_WEIGHT) * s0 + NEIGHBOUR_WEIGHT * ctx
