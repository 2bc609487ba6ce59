"""Picklable fake fingerprinters for ingest tests (workers import this module by name).

The fingerprint is random but fully determined by the file's bytes, so a test can recompute what
must be stored. Files starting with ``BAD`` raise :class:`UnsupportedFormat`, ``BOOM`` raises a
plain ``RuntimeError`` (a parser bug), and ``CRASH`` kills the worker process outright.
"""

from __future__ import annotations

import hashlib
import os
import signal
import time
from pathlib import Path

import numpy as np
from helpers_fp import random_fingerprint

from attributor.errors import UnsupportedFormat
from attributor.fingerprint.model import SampleFingerprint


def fake_fingerprinter(path: str | os.PathLike[str], blind: bool = False) -> SampleFingerprint:
    data = Path(path).read_bytes()
    if data.startswith(b"BAD"):
        raise UnsupportedFormat(f"{path}: not a PE or ELF file")
    if data.startswith(b"BOOM"):
        raise RuntimeError("parser bug")
    if data.startswith(b"CRASH"):
        os.kill(os.getpid(), signal.SIGKILL)
    digest = hashlib.sha256(data).digest()
    rng = np.random.default_rng(int.from_bytes(digest[:8], "little"))
    fp = random_fingerprint(rng, int(rng.integers(0, 40)))
    fp.sha256, fp.size = digest.hex(), len(data)
    return fp


def slow_fake_fingerprinter(path: str | os.PathLike[str], blind: bool = False) -> SampleFingerprint:
    """:func:`fake_fingerprinter` taking ~20 ms, so that kills land mid-ingest."""
    time.sleep(0.02)
    return fake_fingerprinter(path, blind)


def make_files(folder: Path, n: int, seed: int = 0) -> list[Path]:
    """``n`` small files of distinct random bytes under ``folder`` (some in a subfolder)."""
    rng = np.random.default_rng(seed)
    files = []
    for i in range(n):
        path = folder / ("sub" if i % 3 == 0 else "") / f"s{i:03d}.bin"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(rng.bytes(int(rng.integers(64, 512))))
        files.append(path)
    return files
