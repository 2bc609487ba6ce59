"""In-memory store: the reference implementation of :class:`~attributor.store.base.Store`.

It keeps every fingerprint as a private copy in a dict and is meant for tests and one-shot runs.
The helpers below (fingerprint validation, index concatenation, statistics) are shared with
:mod:`attributor.store.sqlite`, so both implementations agree by construction on what a valid
sample is and on how the corpus index is laid out.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import replace
from typing import Self, TypedDict

import numpy as np

from attributor.errors import ParameterMismatch, StoreError
from attributor.evidence.record import Evidence, normalise
from attributor.fingerprint.model import DEFAULT_PARAMS, FingerprintParams, SampleFingerprint
from attributor.store.base import CorpusIndex, Label, SampleRecord, Store

_SHA256 = re.compile(r"[0-9a-f]{64}")

# dtype of each function column, little-endian as stored on disk (see attributor.store.sqlite).
COLUMN_DTYPES: dict[str, str] = {
    "addresses": "<i8",
    "sizes": "<i4",
    "n_insns": "<i4",
    "n_blocks": "<i4",
    "exact": "<u8",
}


class FamilyStats(TypedDict):
    samples: int
    functions: int
    library: bool  # every sample of the family is labelled library / background code


class StoreStats(TypedDict):
    """What ``stats()`` returns on every store implementation."""

    samples: int
    functions: int
    families: int
    per_family: dict[str, FamilyStats]
    bytes_on_disk: int  # database plus write-ahead log; 0 for in-memory stores
    bytes_per_function: float


def params_difference(stored: FingerprintParams, wanted: FingerprintParams) -> str:
    """``"num_perm: stored 64, requested 128; ..."`` for every field that differs."""
    a, b = stored.__dict__, wanted.__dict__
    return "; ".join(f"{k}: stored {a[k]!r}, requested {b[k]!r}" for k in a if a[k] != b[k])


def fingerprint_problems(fp: SampleFingerprint, num_perm: int) -> list[str]:
    """Shape problems of ``fp``'s columns (empty when all columns agree with ``n_functions``)."""
    n = fp.n_functions
    problems = [f"addresses is {fp.addresses.ndim}-D, expected 1-D"] if fp.addresses.ndim != 1 else []
    for name in ("sizes", "n_insns", "n_blocks", "exact"):
        shape = getattr(fp, name).shape
        if shape != (n,):
            problems.append(f"{name} has shape {shape}, expected ({n},)")
    if fp.minhash.shape != (n, num_perm):
        problems.append(f"minhash has shape {fp.minhash.shape}, expected ({n}, {num_perm})")
    edges = fp.edges.reshape(-1, 2) if fp.edges.size == 0 else fp.edges
    if edges.ndim != 2 or edges.shape[1] != 2:
        problems.append(f"edges has shape {fp.edges.shape}, expected (m, 2)")
    elif edges.size and (edges.min() < 0 or edges.max() >= n):
        problems.append(f"edges reference functions outside 0..{n - 1}")
    return problems


def check_fingerprint(fp: SampleFingerprint, params: FingerprintParams) -> None:
    """Refuse a fingerprint a store must not hold.

    Raises:
        ParameterMismatch: ``fp`` was made with other params than the store's.
        StoreError: bad SHA-256 or columns whose shapes disagree.
    """
    if fp.params != params:
        raise ParameterMismatch(
            f"sample {fp.sha256} was fingerprinted with other parameters than the store "
            f"({params_difference(params, fp.params)}); use a database built with the same parameters"
        )
    if not _SHA256.fullmatch(fp.sha256):
        raise StoreError(f"sample has an invalid SHA-256 {fp.sha256!r} (expected 64 lower-case hex digits)")
    problems = fingerprint_problems(fp, params.num_perm)
    if problems:
        raise StoreError(f"fingerprint of {fp.sha256} is inconsistent: {'; '.join(problems)}")


def normalised_copy(fp: SampleFingerprint) -> SampleFingerprint:
    """A private copy of ``fp`` with canonical dtypes and ``edges`` shaped (m, 2)."""
    return replace(
        fp,
        addresses=np.array(fp.addresses, dtype=np.int64),
        sizes=np.array(fp.sizes, dtype=np.int32),
        n_insns=np.array(fp.n_insns, dtype=np.int32),
        n_blocks=np.array(fp.n_blocks, dtype=np.int32),
        exact=np.array(fp.exact, dtype=np.uint64),
        minhash=np.array(fp.minhash, dtype=np.uint8),
        edges=np.array(fp.edges, dtype=np.int32).reshape(-1, 2),
        notes=list(fp.notes),
        evidence=normalise(fp.evidence),
    )


def record_of(sample_id: int, fp: SampleFingerprint, label: Label) -> SampleRecord:
    """The :class:`SampleRecord` of a stored fingerprint."""
    return SampleRecord(
        id=sample_id,
        sha256=fp.sha256,
        family=label.family,
        actor=label.actor,
        library=label.library,
        format=fp.format,
        arch=fp.arch,
        size=fp.size,
        n_functions=fp.n_functions,
        coverage=fp.coverage,
        status=fp.status,
        source=label.source,
    )


def build_index(
    records: Sequence[SampleRecord], fps: Iterable[SampleFingerprint], params: FingerprintParams
) -> CorpusIndex:
    """Concatenate per-sample columns (``fps`` in ``records`` order) into one :class:`CorpusIndex`.

    Arrays are preallocated from ``records``' function counts, so peak memory is the index itself
    plus one sample. Edges are shifted from sample-local to global function indices.

    Raises:
        StoreError: a fingerprint's length disagrees with its record.
    """
    total = sum(r.n_functions for r in records)
    out = {name: np.empty(total, dtype=np.dtype(dt).newbyteorder("=")) for name, dt in COLUMN_DTYPES.items()}
    out.pop("n_blocks")
    sample_idx = np.empty(total, dtype=np.int32)
    minhash = np.empty((total, params.num_perm), dtype=np.uint8)
    edges: list[np.ndarray] = [np.empty((0, 2), dtype=np.int32)]
    start = 0
    for i, (rec, fp) in enumerate(zip(records, fps, strict=True)):
        end = start + fp.n_functions
        if fp.sha256 != rec.sha256 or end - start != rec.n_functions:
            raise StoreError(f"sample {rec.sha256}: stored fingerprint disagrees with its record")
        for name, col in out.items():
            col[start:end] = getattr(fp, name)
        minhash[start:end] = fp.minhash
        sample_idx[start:end] = i
        edges.append(fp.edges.reshape(-1, 2).astype(np.int32) + start)
        start = end
    return CorpusIndex(
        samples=list(records),
        sample_idx=sample_idx,
        minhash=minhash,
        edges=np.concatenate(edges),
        params=params,
        **out,
    )


def compute_stats(records: Iterable[SampleRecord], bytes_on_disk: int) -> StoreStats:
    """Corpus statistics from the sample records (shared by every store)."""
    per_family: dict[str, FamilyStats] = {}
    for r in records:
        fam = per_family.setdefault(r.family, FamilyStats(samples=0, functions=0, library=True))
        fam["samples"] += 1
        fam["functions"] += r.n_functions
        fam["library"] = fam["library"] and r.library
    functions = sum(f["functions"] for f in per_family.values())
    return StoreStats(
        samples=sum(f["samples"] for f in per_family.values()),
        functions=functions,
        families=len(per_family),
        per_family=dict(sorted(per_family.items())),
        bytes_on_disk=bytes_on_disk,
        bytes_per_function=bytes_on_disk / functions if functions else 0.0,
    )


class MemoryStore(Store):
    """A :class:`Store` held in a dict; nothing survives the process.

    Example:
        >>> store = MemoryStore()
        >>> store.samples()
        []
    """

    def __init__(self, params: FingerprintParams = DEFAULT_PARAMS) -> None:
        self._params = params
        self._records: dict[str, SampleRecord] = {}
        self._fps: dict[str, SampleFingerprint] = {}
        self._index: CorpusIndex | None = None
        self._sharing: dict[tuple[str, str], set[int]] = {}

    @property
    def params(self) -> FingerprintParams:
        return self._params

    def add_sample(self, fp: SampleFingerprint, label: Label) -> bool:
        check_fingerprint(fp, self._params)
        if fp.sha256 in self._records:
            return False
        self._fps[fp.sha256] = normalised_copy(fp)
        record = record_of(len(self._records) + 1, fp, label)
        self._records[fp.sha256] = record
        for e in fp.evidence:
            self._sharing.setdefault(e.key, set()).add(record.id)
        self._index = None
        return True

    def evidence(self, sha256: str) -> list[Evidence]:
        fp = self._fps.get(sha256)
        return normalise(fp.evidence) if fp is not None else []

    def evidence_sharing(self, keys: Iterable[tuple[str, str]]) -> dict[tuple[str, str], list[int]]:
        return {k: sorted(self._sharing[k]) for k in set(keys) if k in self._sharing}

    def has_sample(self, sha256: str) -> bool:
        return sha256 in self._records

    def samples(self) -> list[SampleRecord]:
        return list(self._records.values())  # dicts keep insertion order, which is id order

    def get_fingerprint(self, sha256: str) -> SampleFingerprint | None:
        """A copy of the stored fingerprint of ``sha256``, or None when absent."""
        fp = self._fps.get(sha256)
        return normalised_copy(fp) if fp is not None else None

    def index(self) -> CorpusIndex:
        if self._index is None:
            records = self.samples()
            self._index = build_index(records, (self._fps[r.sha256] for r in records), self._params)
        return self._index

    def integrity_check(self) -> list[str]:
        return [
            f"sample {sha}: {problem}"
            for sha, fp in self._fps.items()
            for problem in fingerprint_problems(fp, self._params.num_perm)
        ]

    def __enter__(self) -> Self:  # narrower than Store.__enter__, so `with` keeps this class's API
        return self

    def stats(self) -> StoreStats:
        """Corpus statistics; ``bytes_on_disk`` is 0 because nothing is on disk."""
        return compute_stats(self._records.values(), 0)
