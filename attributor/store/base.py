"""The store contract.

A store holds labelled reference samples and their fingerprints. Implementations:
``memory.MemoryStore`` (tests) and ``sqlite.SQLiteStore`` (the embedded default). A distributed
index implements the same contract; the matcher sees only :class:`Store` and :class:`CorpusIndex`.

Invariants every implementation keeps:
  * samples are keyed by SHA-256; :meth:`Store.add_sample` is idempotent and atomic (a sample is
    stored whole or not at all, even across ``kill -9``);
  * the store remembers the :class:`FingerprintParams` it was created with and refuses
    fingerprints made with other params (:class:`ParameterMismatch`).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from attributor.evidence.record import Evidence
from attributor.fingerprint.model import FingerprintParams, SampleFingerprint
from attributor.store.lsh import BandIndex


@dataclass(frozen=True)
class Label:
    """What an analyst says about a reference sample."""

    family: str
    actor: str | None = None
    library: bool = False  # library / goodware / runtime: background code, never an attribution
    source: str | None = None  # provenance: the path or manifest line the label came from


@dataclass(frozen=True)
class SampleRecord:
    """A stored sample: its label and the facts of its fingerprint (no function data)."""

    id: int
    sha256: str
    family: str
    actor: str | None
    library: bool
    format: str
    arch: str
    size: int
    n_functions: int
    coverage: float
    status: str
    source: str | None = None


@dataclass
class CorpusIndex:
    """Column view of every stored function, for the matcher.

    ``sample_idx[i]`` indexes ``samples``; ``edges`` are (caller, callee) pairs of global
    function indices. All arrays share the function order.
    """

    samples: list[SampleRecord]
    sample_idx: np.ndarray  # int32 [N]
    addresses: np.ndarray  # int64 [N]
    sizes: np.ndarray  # int32 [N]
    n_insns: np.ndarray  # int32 [N]
    exact: np.ndarray  # uint64 [N]
    minhash: np.ndarray  # uint8 [N, P]
    edges: np.ndarray  # int32 [M, 2]
    params: FingerprintParams

    @property
    def n_functions(self) -> int:
        return int(self.addresses.shape[0])


class Store(ABC):
    """Contract of a corpus store. Every method raises only ``AttributorError`` subclasses."""

    @property
    @abstractmethod
    def params(self) -> FingerprintParams:
        """The fingerprint parameters this store was created with."""

    @abstractmethod
    def add_sample(self, fp: SampleFingerprint, label: Label) -> bool:
        """Store ``fp`` (with its ``evidence``) and ``label`` atomically.

        Returns False (and changes nothing) if the SHA-256 is present.
        """

    @abstractmethod
    def has_sample(self, sha256: str) -> bool: ...

    @abstractmethod
    def samples(self) -> list[SampleRecord]:
        """All stored samples, ordered by id."""

    @abstractmethod
    def index(self) -> CorpusIndex:
        """All stored functions as columns (cached until the store changes)."""

    def candidates(self, q_minhash: np.ndarray, q_ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(query index, corpus function index) pairs that share an LSH band.

        The default bands the in-memory :meth:`index` (built once per index); a distributed store
        overrides this with its own bucket lookup and returns indices into its :meth:`index`.
        """
        index = self.index()
        cached = getattr(self, "_band_index", None)
        if cached is None or cached[0] is not index:
            cached = (index, BandIndex.of(index.minhash, index.n_insns, index.params))
            self._band_index = cached
        return cached[1].candidates(q_minhash, q_ids)

    @abstractmethod
    def evidence(self, sha256: str) -> list[Evidence]:
        """The evidence stored with sample ``sha256``, sorted (empty when none or absent)."""

    @abstractmethod
    def evidence_sharing(self, keys: Iterable[tuple[str, str]]) -> dict[tuple[str, str], list[int]]:
        """For each evidence key (kind, value): ids of the stored samples that hold it, ascending.

        Keys that no stored sample holds are absent from the result.
        """

    @abstractmethod
    def integrity_check(self) -> list[str]:
        """Problems found (empty when the store is consistent)."""

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release resources; the default does nothing."""

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
