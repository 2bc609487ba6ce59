"""From function pairs to ranked families and actors, with rarity weights.

Each pair (query function q, reference function r in sample s of family F) gets an *evidence
weight*::

    weight = rarity(q) * specificity(q, r) * size(q)
    rarity(q)         = 1 / (families matching q + background samples matching q)
    specificity(q, r) = 1 / max(#functions of s that q matches, #query functions that match r)
    size(q)           = min(1, instructions(q) / SIZE_FULL)

Rarity keeps runtime and widely shared library code from carrying an attribution; a function
shared by more than ``COMMON_FAMILIES`` families (each background sample counting as one) is common
code: it stays in the per-function matches of the report but is no family's evidence. Specificity
is the one-to-one principle of copied code: a function that matches a dozen functions of one
sample, or a reference function that a dozen query functions match, is a generic pattern (e.g.
unoptimised accessor wrappers), not a copy. Size reflects how little a tiny function can prove.

A family's score is the sum, over query functions, of ``weight * similarity`` of its best pair in
that family. Decision (``attributed``): the family is not background, its score reaches
``SCORE_MIN`` and at least ``UNIQUE_MIN`` query functions match this family and nothing else with
a weight of at least ``UNIQUE_WEIGHT`` (one-to-one and not tiny).
docs/matching.md explains how the thresholds were chosen and checked.
"""

from __future__ import annotations

import numpy as np

from attributor.fingerprint.model import SampleFingerprint
from attributor.match.result import ActorScore, FamilyScore, FunctionPair
from attributor.store.base import CorpusIndex, SampleRecord

SCORE_MIN = 5.0
UNIQUE_MIN = 3
SIZE_FULL = 24
COMMON_SIM = 0.7  # ... unless the copy is this close
COMMON_FAMILIES = 4  # a function more families (+ background samples) share is common code
UNIQUE_WEIGHT = 0.5  # a pair counts as unique evidence from this weight on (one-to-one, not tiny)
UNIQUE_SIM = 0.6  # ... and this similarity (chance matches in a large corpus reach ~0.55)


def _group_count(*keys: np.ndarray) -> np.ndarray:
    """For each row, how many rows share its key tuple."""
    if len(keys[0]) == 0:
        return np.zeros(0, np.int64)
    _, inv, counts = np.unique(np.stack(keys, axis=1), axis=0, return_inverse=True, return_counts=True)
    return counts[inv.ravel()]


def _distinct_per(q: np.ndarray, other: np.ndarray) -> np.ndarray:
    """For each row, the number of distinct ``other`` values among rows with the same ``q``."""
    if len(q) == 0:
        return np.zeros(0, np.int64)
    uniq = np.unique(np.stack([q, other], axis=1), axis=0)
    qs, counts = np.unique(uniq[:, 0], return_counts=True)
    return counts[np.searchsorted(qs, q)]


def pair_weights(
    fp: SampleFingerprint, index: CorpusIndex, q: np.ndarray, f: np.ndarray, n_fams: np.ndarray
) -> np.ndarray:
    """Evidence weight of every pair given its rarity count (families + background samples)."""
    s_idx = index.sample_idx[f].astype(np.int64)
    per_sample = _group_count(q, s_idx)
    per_ref = _group_count(f)
    size = np.minimum(1.0, fp.n_insns[q] / SIZE_FULL)
    return np.asarray(size / (n_fams * np.maximum(per_sample, per_ref)))


def rank_families(
    fp: SampleFingerprint,
    index: CorpusIndex,
    q: np.ndarray,
    f: np.ndarray,
    sim: np.ndarray,
    match_min: float = 0.0,
) -> tuple[list[FamilyScore], list[ActorScore]]:
    """Ranked family and actor scores for the pairs ``(q[i], f[i], sim[i])``.

    Every pair counts for rarity; only pairs with ``sim >= match_min`` are evidence. A family
    whose copy of a function differs more (another compiler, another version) still shares it.
    """
    samples = index.samples
    names = sorted({s.family for s in samples})
    fam_of_sample = np.array([names.index(s.family) for s in samples], dtype=np.int64)
    bg_of_sample = np.array([i if s.library else -1 for i, s in enumerate(samples)], dtype=np.int64)
    s_all = index.sample_idx[f].astype(np.int64)
    who = np.where(bg_of_sample[s_all] >= 0, -1 - bg_of_sample[s_all], fam_of_sample[s_all])
    n_fams = _distinct_per(q, who) if len(q) else np.zeros(0, np.int64)
    # common code is evidence for no one, unless the copy is close enough to stand for itself
    strong = (sim >= match_min) & ((n_fams <= COMMON_FAMILIES) | (sim >= COMMON_SIM))
    q, f, sim, n_fams = q[strong], f[strong], sim[strong], n_fams[strong]
    s_idx = s_all[strong]
    fam = fam_of_sample[s_idx]
    if len(q) == 0:
        return [], []
    weight = pair_weights(fp, index, q, f, n_fams)
    evidence = weight * sim
    order = np.lexsort((-evidence, fam, q))  # best pair first within each (query, family)
    first = np.r_[True, (q[order][1:] != q[order][:-1]) | (fam[order][1:] != fam[order][:-1])]
    best = order[first]
    matchable = int(fp.sizes[fp.matchable].sum()) or 1
    families = []
    for fi in np.unique(fam[best]):
        rows = best[fam[best] == fi]
        families.append(
            _family_score(
                names[int(fi)], rows, fp, index, q, f, sim, weight, n_fams, samples, s_idx, matchable
            )
        )
    families.sort(key=lambda x: (-x.score, x.family))
    return families, _actors(families)


def _family_score(
    name: str,
    rows: np.ndarray,
    fp: SampleFingerprint,
    index: CorpusIndex,
    q: np.ndarray,
    f: np.ndarray,
    sim: np.ndarray,
    weight: np.ndarray,
    n_fams: np.ndarray,
    samples: list[SampleRecord],
    s_idx: np.ndarray,
    matchable: int,
) -> FamilyScore:
    members = [s for s in samples if s.family == name]
    library = all(s.library for s in members)
    score = round(float((weight[rows] * sim[rows]).sum()), 4)
    unique = int(((n_fams[rows] == 1) & (weight[rows] >= UNIQUE_WEIGHT) & (sim[rows] >= UNIQUE_SIM)).sum())
    votes = np.bincount(s_idx[rows], minlength=len(samples))
    pairs = [
        FunctionPair(
            query_address=int(fp.addresses[qi]),
            query_size=int(fp.sizes[qi]),
            ref_sha256=samples[int(s_idx[k])].sha256,
            ref_address=int(index.addresses[f[k]]),
            similarity=round(float(sim[k]), 4),
            n_families=int(n_fams[k]),
            weight=round(float(weight[k]), 4),
        )
        for k, qi in zip(rows.tolist(), q[rows].tolist(), strict=True)
    ]
    pairs.sort(key=lambda p: (-p.weight * p.similarity, p.query_address))
    shared_bytes = sum(p.query_size for p in pairs)
    return FamilyScore(
        family=name,
        actors=sorted({s.actor for s in members if s.actor}),
        score=score,
        shared_functions=len(pairs),
        shared_bytes=shared_bytes,
        matchable_fraction=round(shared_bytes / matchable, 4),
        unique_functions=unique,
        attributed=(not library) and score >= SCORE_MIN and unique >= UNIQUE_MIN,
        best_sample=samples[int(votes.argmax())].sha256,
        library=library,
        pairs=pairs,
    )


def _actors(families: list[FamilyScore]) -> list[ActorScore]:
    acc: dict[str, ActorScore] = {}
    for fs in families:
        for a in fs.actors:
            cur = acc.setdefault(a, ActorScore(a, 0.0, [], False))
            cur.score = round(cur.score + fs.score, 4)
            cur.families.append(fs.family)
            cur.attributed = cur.attributed or fs.attributed
    return sorted(acc.values(), key=lambda a: (-a.score, a.actor))
