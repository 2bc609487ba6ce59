"""Random but valid :class:`SampleFingerprint` objects for store and ingest tests."""

from __future__ import annotations

import numpy as np

from attributor.fingerprint.model import DEFAULT_PARAMS, FingerprintParams, SampleFingerprint

SMALL_PARAMS = FingerprintParams(num_perm=16, bands=4)


def random_fingerprint(
    rng: np.random.Generator, n_functions: int, params: FingerprintParams = DEFAULT_PARAMS
) -> SampleFingerprint:
    """A fingerprint of ``n_functions`` functions whose columns span their dtypes' full ranges.

    Addresses are random int64 (not sorted, extremes included) so that delta encoding must
    wrap and unwrap exactly; ``exact`` uses the whole uint64 range.
    """
    n = n_functions
    code = int(rng.integers(1, 1 << 20))
    return SampleFingerprint(
        sha256=rng.bytes(32).hex(),
        format=str(rng.choice(["PE", "ELF"])),
        arch=str(rng.choice(["x86", "x86-64"])),
        size=int(rng.integers(0, 1 << 40)),
        code_bytes=code,
        covered_bytes=int(rng.integers(0, code + 1)),
        addresses=rng.integers(
            np.iinfo(np.int64).min, np.iinfo(np.int64).max, n, dtype=np.int64, endpoint=True
        ),
        sizes=rng.integers(0, 1 << 31, n, dtype=np.int32),
        n_insns=rng.integers(0, 1 << 31, n, dtype=np.int32),
        n_blocks=rng.integers(0, 1 << 31, n, dtype=np.int32),
        exact=rng.integers(0, np.iinfo(np.uint64).max, n, dtype=np.uint64, endpoint=True),
        minhash=rng.integers(0, 256, (n, params.num_perm), dtype=np.uint8),
        edges=rng.integers(0, max(n, 1), (int(rng.integers(0, 3 * n + 1)), 2), dtype=np.int32),
        params=params,
        status=str(rng.choice(["complete", "incomplete"])),
        notes=[f"note {i}" for i in range(int(rng.integers(0, 3)))],
    )


def realistic_fingerprint(rng: np.random.Generator, n_functions: int) -> SampleFingerprint:
    """Like a real binary: sorted addresses in one image, small sizes, ~2 calls per function."""
    fp = random_fingerprint(rng, n_functions)
    n = n_functions
    fp.addresses = 0x401000 + np.cumsum(rng.integers(16, 400, n, dtype=np.int64))
    fp.sizes = rng.integers(8, 400, n, dtype=np.int32)
    fp.n_insns = (fp.sizes // 3).astype(np.int32)
    fp.n_blocks = rng.integers(1, 20, n, dtype=np.int32)
    fp.edges = rng.integers(0, max(n, 1), (2 * n, 2), dtype=np.int32)
    return fp
