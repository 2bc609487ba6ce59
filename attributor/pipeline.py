"""One call from a file to its fingerprint: load -> recover functions -> fingerprint."""

from __future__ import annotations

import os

from attributor.fingerprint.model import DEFAULT_PARAMS, FingerprintParams, SampleFingerprint
from attributor.loading.loader import DEFAULT_LIMITS, Limits, load_bytes, load_path


def fingerprint_path(
    path: str | os.PathLike[str],
    blind: bool = False,
    params: FingerprintParams = DEFAULT_PARAMS,
    limits: Limits = DEFAULT_LIMITS,
) -> SampleFingerprint:
    """Fingerprint one file. Raises only ``AttributorError`` subclasses for bad input."""
    from attributor.fingerprint.sample import fingerprint_binary

    return fingerprint_binary(load_path(path, blind=blind, limits=limits), params, limits)


def fingerprint_bytes(
    data: bytes,
    blind: bool = False,
    params: FingerprintParams = DEFAULT_PARAMS,
    limits: Limits = DEFAULT_LIMITS,
) -> SampleFingerprint:
    from attributor.fingerprint.sample import fingerprint_binary

    return fingerprint_binary(load_bytes(data, blind=blind, limits=limits), params, limits)
