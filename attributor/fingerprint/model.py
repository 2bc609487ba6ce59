"""The fingerprint contract: what the disassembly stage hands to the store and the matcher.

A sample's functions are stored column-wise (numpy arrays of equal length ``n``), because every
consumer (store, LSH, similarity) works on whole columns, never on one function at a time.

:class:`FingerprintParams` shape the data: a store keeps the params it was built with and refuses
to mix fingerprints made with other params (see ``attributor.store.base``).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field

import numpy as np

from attributor.evidence.record import Evidence

NORMALISATION_VERSION = 3  # the whole recipe: normalisation, features, hashing


@dataclass(frozen=True)
class FingerprintParams:
    """Everything that changes the bytes of a fingerprint. Stored with every index."""

    norm_version: int = NORMALISATION_VERSION
    num_perm: int = 128  # MinHash permutations; each kept as its low 8 bits (b-bit MinHash)
    seed: int = 0x5EED_A771
    bands: int = 32  # LSH bands of ``num_perm // bands`` rows
    min_insns: int = 4  # functions with fewer instructions get no MinHash / are not matched
    byte_order: str = "little"

    @property
    def rows(self) -> int:
        return self.num_perm // self.bands

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> FingerprintParams:
        return cls(**json.loads(text))


DEFAULT_PARAMS = FingerprintParams()


@dataclass
class SampleFingerprint:
    """All fingerprints of one sample, in ascending address order.

    Columns (length ``n`` = number of recovered functions):
      ``addresses``  int64   function start VA
      ``sizes``      int32   bytes covered by the function's decoded instructions
      ``n_insns``    int32   decoded instructions
      ``n_blocks``   int32   basic blocks
      ``exact``      uint64  position-independent hash of the normalised instruction sequence
      ``minhash``    uint8   [n, num_perm] b-bit MinHash of the weighted feature set
    ``edges`` int32 [m, 2] holds (caller index, callee index) pairs of direct internal calls.
    """

    sha256: str
    format: str
    arch: str
    size: int
    code_bytes: int
    covered_bytes: int
    addresses: np.ndarray
    sizes: np.ndarray
    n_insns: np.ndarray
    n_blocks: np.ndarray
    exact: np.ndarray
    minhash: np.ndarray
    edges: np.ndarray
    params: FingerprintParams = DEFAULT_PARAMS
    status: str = "complete"  # "complete" | "incomplete"
    notes: list[str] = field(default_factory=list)
    # Findings beyond shared code (crypto, keys, capabilities, indicators), sorted; empty when the
    # sample was fingerprinted without evidence extraction (attributor.pipeline.analyse_path).
    evidence: list[Evidence] = field(default_factory=list)

    @property
    def n_functions(self) -> int:
        return int(self.addresses.shape[0])

    @property
    def coverage(self) -> float:
        """Share of executable bytes that lie inside recovered functions."""
        return self.covered_bytes / self.code_bytes if self.code_bytes else 0.0

    @property
    def matchable(self) -> np.ndarray:
        """Boolean mask of functions large enough to be matched."""
        return self.n_insns >= self.params.min_insns
