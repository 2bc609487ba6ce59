"""Fuzz opening a corpus database: mutated SQLite bytes -> ``SQLiteStore`` -> every read path.

    python fuzz/fuzz_store.py -max_total_time=600 fuzz/corpus/store

The seeds are small valid databases (a few random fingerprints); a mutant must either be refused
with a :class:`StoreError` or be readable (samples, index, integrity check, statistics) without any
other exception.
"""

from __future__ import annotations

import sys

import numpy as np
from fuzz_common import expect_typed, main, scratch_dir

from attributor.errors import AttributorError
from attributor.fingerprint.model import DEFAULT_PARAMS, FingerprintParams, SampleFingerprint
from attributor.store.base import Label
from attributor.store.sqlite import SQLiteStore

_DIR = scratch_dir("store")
_DB = _DIR / "corpus.sqlite"
SMALL = FingerprintParams(num_perm=16, bands=4)


def _fingerprint(rng: np.random.Generator, n: int, params: FingerprintParams) -> SampleFingerprint:
    return SampleFingerprint(
        sha256=rng.bytes(32).hex(), format="ELF", arch="x86-64", size=1000, code_bytes=500,
        covered_bytes=400, addresses=0x401000 + np.arange(n, dtype=np.int64) * 32,
        sizes=np.full(n, 32, np.int32), n_insns=np.full(n, 12, np.int32), n_blocks=np.ones(n, np.int32),
        exact=rng.integers(0, 1 << 62, n, dtype=np.uint64),
        minhash=rng.integers(0, 256, (n, params.num_perm), dtype=np.uint8),
        edges=np.array([[0, 1]] if n > 1 else [], dtype=np.int32).reshape(-1, 2), params=params,
        notes=["note"],
    )  # fmt: skip


def seeds_store() -> list[bytes]:
    """Small valid databases: empty, and with a few samples (default and small params)."""
    out = []
    for params, sizes in ((DEFAULT_PARAMS, []), (SMALL, [3, 1]), (DEFAULT_PARAMS, [2])):
        path = _DIR / "seed.sqlite"
        for suffix in ("", "-wal", "-shm"):
            path.with_name(path.name + suffix).unlink(missing_ok=True)
        rng = np.random.default_rng(len(out))
        with SQLiteStore(path, params) as store:
            for i, n in enumerate(sizes):
                store.add_sample(_fingerprint(rng, n, params), Label(f"fam{i}", "actor" if i else None))
        out.append(path.read_bytes())  # closing checkpoints the WAL into the main file
    return out


MAX_MESSAGE = 1_000  # characters in one error line


def test_one_input(data: bytes) -> None:
    for suffix in ("-wal", "-shm", "-journal"):
        _DB.with_name(_DB.name + suffix).unlink(missing_ok=True)
    _DB.write_bytes(data)
    try:
        with SQLiteStore.open_existing(_DB, check=True) as store:
            records = store.samples()
            store.integrity_check()
            store.stats()
            for rec in records[:4]:
                store.has_sample(rec.sha256)
                store.get_fingerprint(rec.sha256)
            store.index()
    except AttributorError as e:
        expect_typed(e, max_len=MAX_MESSAGE)


if __name__ == "__main__":
    main(test_one_input, seeds_store, "store")
    sys.exit(0)
