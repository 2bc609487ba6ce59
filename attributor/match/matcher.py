"""Sample-against-corpus matching: LSH candidates -> similarity -> per-function best matches.

The ranking of samples, families and actors from those matches lives in
:mod:`attributor.match.rank`; this module only finds and scores function pairs.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass

import numpy as np

from attributor.errors import ParameterMismatch
from attributor.fingerprint.model import SampleFingerprint
from attributor.match.evidence import compare_evidence
from attributor.match.rank import rank_families
from attributor.match.result import MatchResult, QueryFunction, RefMatch, SampleInfo
from attributor.store.base import CorpusIndex, Store
from attributor.store.lsh import LSH_MIN_INSNS

MATCH_MIN = 0.5  # similarity from which two functions count as the same code (see docs/matching.md)
RARITY_MIN = 0.40  # ... and from which a family counts as also having the function (rarity only)
TOP_MATCHES = 5  # best matches listed per query function
_SIM_CHUNK = 1 << 20


@dataclass
class Pairs:
    """Candidate pairs that passed ``RARITY_MIN``: query index, corpus index, similarity."""

    q: np.ndarray
    f: np.ndarray
    sim: np.ndarray


def pair_similarity(sig_q: np.ndarray, q: np.ndarray, sig_f: np.ndarray, f: np.ndarray) -> np.ndarray:
    """b-bit MinHash similarity of the pairs ``(sig_q[q[i]], sig_f[f[i]])``, in bounded chunks."""
    out = np.empty(len(q), dtype=np.float32)
    for c in range(0, len(q), _SIM_CHUNK):
        m = (sig_q[q[c : c + _SIM_CHUNK]] == sig_f[f[c : c + _SIM_CHUNK]]).mean(axis=1, dtype=np.float32)
        out[c : c + _SIM_CHUNK] = m
    return np.clip((out - 1 / 256) / (1 - 1 / 256), 0.0, 1.0)


def find_pairs(fp: SampleFingerprint, store: Store, index: CorpusIndex) -> Pairs:
    """All (query function, corpus function) pairs with similarity >= ``RARITY_MIN``."""
    if fp.params != index.params:
        raise ParameterMismatch(
            f"sample fingerprinted with {fp.params.to_json()} but the corpus uses {index.params.to_json()}"
        )
    q_ids = np.flatnonzero(fp.n_insns >= max(fp.params.min_insns, LSH_MIN_INSNS))
    q, f = store.candidates(fp.minhash, q_ids)
    sim = pair_similarity(fp.minhash, q, index.minhash, f)
    keep = sim >= RARITY_MIN
    return Pairs(q[keep], f[keep], sim[keep])


def match_sample(store: Store, fp: SampleFingerprint, top: int = TOP_MATCHES) -> MatchResult:
    """Match one fingerprinted sample against every sample in ``store``."""
    index = store.index()
    pairs = find_pairs(fp, store, index)
    families, actors = rank_families(fp, index, pairs.q, pairs.f, pairs.sim, MATCH_MIN)
    strong = pairs.sim >= MATCH_MIN
    pairs = Pairs(pairs.q[strong], pairs.f[strong], pairs.sim[strong])
    return MatchResult(
        sample=SampleInfo(
            sha256=fp.sha256,
            format=fp.format,
            arch=fp.arch,
            size=fp.size,
            n_functions=fp.n_functions,
            coverage=round(fp.coverage, 4),
            status=fp.status,
            notes=list(fp.notes),
        ),
        families=families,
        actors=actors,
        functions=_per_function(fp, index, pairs, top),
        corpus_samples=len(index.samples),
        corpus_functions=index.n_functions,
        params=json.dumps(asdict(index.params), sort_keys=True),
        evidence=compare_evidence(store, fp.evidence, exclude=fp.sha256),
    )


def _per_function(fp: SampleFingerprint, index: CorpusIndex, pairs: Pairs, top: int) -> list[QueryFunction]:
    order = np.lexsort((index.addresses[pairs.f], -pairs.sim, pairs.q))
    by_q: dict[int, list[RefMatch]] = {}
    for k in order:
        qi = int(pairs.q[k])
        lst = by_q.setdefault(qi, [])
        if len(lst) < top:
            fi = int(pairs.f[k])
            rec = index.samples[int(index.sample_idx[fi])]
            lst.append(
                RefMatch(rec.sha256, int(index.addresses[fi]), round(float(pairs.sim[k]), 4), rec.family)
            )
    return [
        QueryFunction(int(fp.addresses[i]), int(fp.sizes[i]), int(fp.n_insns[i]), by_q.get(i, []))
        for i in range(fp.n_functions)
    ]
