"""Tool-independent ranking for the function-match task (stdlib + numpy only).

Runners in both venvs (ours and the peers') import this module, so attributor and MCRIT are
scored by the same code. A runner supplies an adapter with two methods:

* ``addresses(binary_id) -> np.ndarray``: the function starts the tool recovered, ascending;
* ``scores(binary_id, rows, pool_ids) -> np.ndarray``: similarity of the query functions
  ``rows`` (indices into ``addresses(binary_id)``) to every function of the pool binaries,
  columns concatenated in ``pool_ids`` order; higher is more similar, <= 0 means no evidence.

Ties are broken at random *in expectation*: a correct function tied with ``t`` others at the top
earns Recall@1 ``c / (c + t)``, and the reciprocal rank is averaged over the tie's orderings.
A query whose function the tool did not recover, whose counterpart it did not recover, or whose
best correct candidate has no positive similarity is a miss.
"""

from __future__ import annotations

import random
from collections import Counter
from typing import Protocol

import numpy as np

OK = "ok"
QUERY_NOT_RECOVERED = "query_not_recovered"
TARGET_NOT_RECOVERED = "target_not_recovered"
NO_SIMILARITY = "no_similarity"


class Adapter(Protocol):
    def addresses(self, binary_id: str) -> np.ndarray: ...

    def scores(self, binary_id: str, rows: np.ndarray, pool_ids: list[str]) -> np.ndarray: ...


def tie_aware_outcome(scores: np.ndarray, correct: np.ndarray) -> tuple[str, float, float]:
    """(status, expected hit@1, expected reciprocal rank) of the best correct column."""
    if correct.size == 0:
        return TARGET_NOT_RECOVERED, 0.0, 0.0
    best = float(scores[correct].max())
    if best <= 0.0:
        return NO_SIMILARITY, 0.0, 0.0
    greater = int(np.count_nonzero(scores > best))
    n_correct_tied = int(np.count_nonzero(scores[correct] == best))
    others_tied = int(np.count_nonzero(scores == best)) - n_correct_tied
    hit1 = n_correct_tied / (n_correct_tied + others_tied) if greater == 0 else 0.0
    return OK, hit1, _expected_rr(greater, n_correct_tied, others_tied)


def _expected_rr(greater: int, c: int, t: int) -> float:
    """E[1 / (greater + 1 + X)], X = wrong items before the first of ``c`` right ones among ``t``."""
    k = np.arange(t + 1, dtype=np.float64)
    # P(X >= k) = prod_{i<k} (t - i) / (c + t - i)
    factors = (t - k[:-1]) / (c + t - k[:-1])
    at_least = np.concatenate(([1.0], np.cumprod(factors)))
    exactly = at_least - np.concatenate((at_least[1:], [0.0]))
    return float(np.sum(exactly / (greater + 1 + k)))


def select_pool(counts: list[tuple[str, int]], size: int, seed_key: str) -> dict[str, np.ndarray]:
    """Deterministic uniform sample of ``size`` functions from the binaries in ``counts``."""
    total = sum(n for _, n in counts)
    chosen = sorted(random.Random(seed_key).sample(range(total), min(size, total)))
    picked: dict[str, list[int]] = {bid: [] for bid, _ in counts}
    bounds, start = [], 0
    for bid, n in counts:
        bounds.append((bid, start, start + n))
        start += n
    j = 0
    for idx in chosen:
        while idx >= bounds[j][2]:
            j += 1
        picked[bounds[j][0]].append(idx - bounds[j][1])
    return {bid: np.asarray(v, dtype=np.int64) for bid, v in picked.items()}


def _index_of(addresses: np.ndarray) -> dict[int, int]:
    return {int(a): i for i, a in enumerate(addresses.tolist())}


def run_pair(adapter: Adapter, pair: dict, pool_size: int, seed: int) -> dict:
    """Score one (A -> B) pair with pool = B and pool = B + distractors (``pool_size`` in all)."""
    a, b = pair["a"], pair["b"]
    index_a, index_b = _index_of(adapter.addresses(a)), _index_of(adapter.addresses(b))
    queries = [(index_a.get(q), [index_b[x] for x in c if x in index_b]) for q, c in pair["queries"]]
    rows = np.asarray(sorted({r for r, _ in queries if r is not None}), dtype=np.int64)
    row_pos = {int(r): i for i, r in enumerate(rows.tolist())}
    n_b = len(index_b)
    s_b = adapter.scores(a, rows, [b]) if rows.size else np.zeros((0, n_b), np.float32)
    need = max(pool_size - n_b, 0)
    counts = [(d, int(adapter.addresses(d).shape[0])) for d in pair["distractors"]]
    picked = select_pool(counts, need, f"{seed}|{a}|{b}")
    s_d = _distractor_scores(adapter, a, rows, counts, picked)
    s_full = np.hstack([s_b, s_d]) if rows.size else s_b
    out = {"a": a, "b": b, "n_queries": len(queries), "pools": {}}
    for name, mat in (("B", s_b), ("pool", s_full)):
        out["pools"][name] = _aggregate(queries, row_pos, mat)
    return out


def _distractor_scores(
    adapter: Adapter, a: str, rows: np.ndarray, counts: list[tuple[str, int]], picked: dict[str, np.ndarray]
) -> np.ndarray:
    ids = [d for d, _ in counts if picked[d].size]
    if not ids or not rows.size:
        return np.zeros((rows.size, sum(picked[d].size for d in ids)), np.float32)
    full = adapter.scores(a, rows, ids)
    offsets = np.cumsum([0] + [n for d, n in counts if d in ids])
    cols = np.concatenate([picked[d] + offsets[i] for i, d in enumerate(ids)])
    return full[:, cols]


def _aggregate(queries: list[tuple[int | None, list[int]]], row_pos: dict[int, int], mat: np.ndarray) -> dict:
    statuses: Counter[str] = Counter()
    hit1 = rr = 0.0
    for row, correct in queries:
        if row is None:
            statuses[QUERY_NOT_RECOVERED] += 1
            continue
        status, h, r = tie_aware_outcome(mat[row_pos[row]], np.asarray(correct, dtype=np.int64))
        statuses[status] += 1
        hit1 += h
        rr += r
    return {"n_pool": int(mat.shape[1]), "hit1_sum": hit1, "rr_sum": rr, "statuses": dict(statuses)}


def run_function_match(adapter: Adapter, job: dict) -> list[dict]:
    return [run_pair(adapter, pair, job["pool_size"], job["seed"]) for pair in job["pairs"]]
