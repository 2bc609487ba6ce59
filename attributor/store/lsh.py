"""Locality-sensitive hashing over b-bit MinHash signatures (banding).

A signature of ``P`` one-byte values is cut into ``bands`` bands of ``rows`` bytes; two functions
become candidates when any band is identical. All bands of all corpus functions live in one sorted
uint64 array (``band << 48 | hash of the band's bytes``), so a query is a vectorised
``searchsorted``. The index is derived from the stored signatures at load time and costs no disk.
"""

from __future__ import annotations

import numpy as np

from attributor.fingerprint.model import FingerprintParams

MAX_BUCKET = 1024  # a band shared by more functions than this is boilerplate: it proposes nothing
LSH_MIN_INSNS = 10  # smaller functions are too generic to propose candidates across a corpus


def band_keys(minhash: np.ndarray, params: FingerprintParams) -> np.ndarray:
    """uint64 [n, bands]: one key per band, the band number in the top 16 bits."""
    n = minhash.shape[0]
    rows = params.rows
    parts = minhash.reshape(n, params.bands, rows).astype(np.uint64)
    key = np.zeros((n, params.bands), dtype=np.uint64)
    for r in range(rows):  # polynomial hash of the band's bytes, exact for rows <= 6
        key = key * np.uint64(257) + parts[:, :, r]
    band = np.arange(params.bands, dtype=np.uint64) << np.uint64(48)
    return (key & np.uint64((1 << 48) - 1)) | band[None, :]


class BandIndex:
    """Sorted band keys of the eligible functions of a corpus."""

    @classmethod
    def of(cls, minhash: np.ndarray, n_insns: np.ndarray, params: FingerprintParams) -> BandIndex:
        """The index over every function with at least ``LSH_MIN_INSNS`` instructions."""
        return cls(minhash, n_insns >= max(params.min_insns, LSH_MIN_INSNS), params)

    def __init__(self, minhash: np.ndarray, eligible: np.ndarray, params: FingerprintParams):
        ids = np.flatnonzero(eligible)
        keys = band_keys(minhash[ids], params).ravel()
        owners = np.repeat(ids, params.bands)
        order = np.argsort(keys, kind="stable")
        self.keys = keys[order]
        self.owners = owners[order].astype(np.int64)
        self.params = params

    def candidates(self, q_minhash: np.ndarray, q_ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Distinct (query index, corpus index) pairs sharing at least one band."""
        if len(q_ids) == 0 or len(self.keys) == 0:
            return np.zeros(0, np.int64), np.zeros(0, np.int64)
        qk = band_keys(q_minhash[q_ids], self.params)
        flat = qk.ravel()
        lo = np.searchsorted(self.keys, flat, side="left")
        hi = np.searchsorted(self.keys, flat, side="right")
        lens = hi - lo
        lens[lens > MAX_BUCKET] = 0
        total = int(lens.sum())
        if total == 0:
            return np.zeros(0, np.int64), np.zeros(0, np.int64)
        q_rep = np.repeat(np.repeat(q_ids, self.params.bands), lens)
        offs = np.arange(total) - np.repeat(np.cumsum(lens) - lens, lens)
        f = self.owners[np.repeat(lo, lens) + offs]
        pair = np.sort(q_rep.astype(np.int64) << np.int64(32) | f)
        first = np.r_[True, pair[1:] != pair[:-1]]
        pair = pair[first]
        return pair >> np.int64(32), pair & np.int64(0xFFFFFFFF)
