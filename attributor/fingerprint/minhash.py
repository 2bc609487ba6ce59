"""Stable token hashing and batched b-bit MinHash.

Tokens are hashed with BLAKE2b (8 bytes) so signatures do not depend on ``PYTHONHASHSEED``; a
per-process cache keeps that cost per distinct token, not per occurrence. The permutations are
multiply-shift hashes ``(a*x + b) >> 32`` over uint64 with odd ``a`` drawn from ``seed``; every
function's minimum is computed for all functions of a sample in one numpy pass, and only the
lowest 8 bits of each minimum are kept (b-bit MinHash, Li & König 2010).
"""

from __future__ import annotations

import hashlib
from functools import lru_cache

import numpy as np

from attributor.fingerprint.model import FingerprintParams

_CHUNK_TOKENS = 1 << 15
_token_cache: dict[str, int] = {}


def token_hash(tok: str) -> int:
    h = _token_cache.get(tok)
    if h is None:
        h = int.from_bytes(hashlib.blake2b(tok.encode(), digest_size=8).digest(), "little")
        if len(_token_cache) < 2_000_000:
            _token_cache[tok] = h
    return h


def exact_hash(tokens: list[str]) -> int:
    """Position-independent hash of a normalised instruction sequence (0 for an empty one)."""
    if not tokens:
        return 0
    return int.from_bytes(hashlib.blake2b("\n".join(tokens).encode(), digest_size=8).digest(), "little")


@lru_cache(maxsize=8)
def _permutations(seed: int, num_perm: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    a = rng.integers(1, 2**63, size=num_perm, dtype=np.uint64) * np.uint64(2) + np.uint64(1)
    b = rng.integers(0, 2**63, size=num_perm, dtype=np.uint64)
    return a, b


def minhash_batch(hashes: np.ndarray, offsets: np.ndarray, params: FingerprintParams) -> np.ndarray:
    """b-bit MinHash of consecutive token groups.

    ``hashes`` uint64 [T] holds all functions' token hashes back to back; function ``i`` owns
    ``hashes[offsets[i]:offsets[i+1]]`` (``offsets`` has n+1 entries). Every group must be
    non-empty. Returns uint8 [n, num_perm].
    """
    a, b = _permutations(params.seed, params.num_perm)
    n = len(offsets) - 1
    out = np.empty((n, params.num_perm), dtype=np.uint8)
    start = 0
    while start < n:
        stop = start + 1
        while stop < n and offsets[stop + 1] - offsets[start] <= _CHUNK_TOKENS:
            stop += 1
        lo, hi = offsets[start], offsets[stop]
        with np.errstate(over="ignore"):
            h = (hashes[lo:hi, None] * a[None, :] + b[None, :]) >> np.uint64(32)
        mins = np.minimum.reduceat(h, offsets[start:stop] - lo, axis=0)
        out[start:stop] = (mins & np.uint64(0xFF)).astype(np.uint8)
        start = stop
    return out


def similarity(sig_a: np.ndarray, sig_b: np.ndarray) -> np.ndarray:
    """Estimated Jaccard similarity of b-bit signatures (rows of a vs rows of b), float32."""
    matches = (sig_a[:, None, :] == sig_b[None, :, :]).mean(axis=2, dtype=np.float32)
    return np.clip((matches - 1 / 256) / (1 - 1 / 256), 0.0, 1.0)
