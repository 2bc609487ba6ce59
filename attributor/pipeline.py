"""One call from a file to its fingerprint (and evidence): load -> recover functions -> fingerprint."""

from __future__ import annotations

import os

from attributor.evidence.extract import DEFAULT_OPTIONS, EvidenceOptions
from attributor.fingerprint.model import DEFAULT_PARAMS, FingerprintParams, SampleFingerprint
from attributor.loading.binary import Binary
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


def analyse_binary(
    binary: Binary, params: FingerprintParams, limits: Limits, options: EvidenceOptions | None
) -> SampleFingerprint:
    """Recover once, then fingerprint and (unless ``options`` is None) collect evidence."""
    from dataclasses import replace

    from attributor.disasm.recover import recover
    from attributor.evidence.extract import collect_evidence
    from attributor.fingerprint.sample import fingerprint_binary

    program = recover(binary, limits.max_functions, limits.max_insns_per_function)
    fp = fingerprint_binary(binary, params, limits, program)
    if options is None:
        return fp
    evidence, notes = collect_evidence(binary, program, options)
    return replace(fp, evidence=evidence, notes=[*fp.notes, *notes])


def analyse_path(
    path: str | os.PathLike[str],
    blind: bool = False,
    params: FingerprintParams = DEFAULT_PARAMS,
    limits: Limits = DEFAULT_LIMITS,
    options: EvidenceOptions | None = DEFAULT_OPTIONS,
) -> SampleFingerprint:
    """Fingerprint one file and collect its evidence (crypto, keys, indicators, capabilities).

    A picklable top-level function, so ``functools.partial(analyse_path, options=...)`` can be
    the fingerprinter of :mod:`attributor.ingest` and :mod:`attributor.isolation` workers.
    """
    return analyse_binary(load_path(path, blind=blind, limits=limits), params, limits, options)
