"""Picklable fake fingerprinters that misbehave on purpose, for tests/test_isolation.py.

The file's first bytes choose the misbehaviour; any other file gets
:func:`helpers_ingest.fake_fingerprinter`'s deterministic fingerprint:

``HOG``   allocates 8 GiB (a ``MemoryError`` under a smaller ``RLIMIT_AS``)
``WRAP``  the same, but re-raised as ``MalformedBinary ... from None``, as the loader does
``SPIN``  burns CPU forever
``SLEEP`` sleeps for an hour, using no CPU
``SEGV``  kills its own process with ``SIGSEGV``
``HUGE``  returns 50,000 functions (about 7 MiB pickled)
"""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import numpy as np
from helpers_fp import random_fingerprint
from helpers_ingest import fake_fingerprinter

from attributor.errors import MalformedBinary
from attributor.fingerprint.model import SampleFingerprint

HOG_BYTES = 8 << 30


def misbehaving_fingerprinter(path: str | os.PathLike[str], blind: bool = False) -> SampleFingerprint:
    head = Path(path).read_bytes()[:8]
    if head.startswith(b"HOG"):
        hog = bytearray(HOG_BYTES)
        del hog
    if head.startswith(b"WRAP"):
        try:
            bytearray(HOG_BYTES)
        except MemoryError as e:
            raise MalformedBinary(f"PE parser failed: MemoryError: {e}") from None
    if head.startswith(b"SPIN"):
        n = 0
        while True:
            n += 1
    if head.startswith(b"SLEEP"):
        time.sleep(3600)
    if head.startswith(b"SEGV"):
        os.kill(os.getpid(), signal.SIGSEGV)
    if head.startswith(b"HUGE"):
        fp = random_fingerprint(np.random.default_rng(0), 50_000)
        fp.sha256 = "0" * 64
        return fp
    return fake_fingerprinter(path, blind)
