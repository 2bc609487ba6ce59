"""Plain result types of the matching stage; ``attributor.report`` turns them into the document."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from attributor.match.evidence import SharedEvidence


@dataclass(frozen=True)
class RefMatch:
    """One candidate reference function for a query function."""

    ref_sha256: str
    ref_address: int
    similarity: float
    family: str


@dataclass(frozen=True)
class FunctionPair:
    """A query function attributed to a family, with the evidence that carries it."""

    query_address: int
    query_size: int
    ref_sha256: str
    ref_address: int
    similarity: float
    n_families: int  # distinct families (each library/goodware sample counts as one) sharing it
    weight: float  # evidence weight in [0, 1]: rarity x specificity x size (attributor.match.rank)


@dataclass
class FamilyScore:
    family: str
    actors: list[str]
    score: float  # sum of weight * similarity over the family's pairs
    shared_functions: int
    shared_bytes: int
    matchable_fraction: float  # shared_bytes / bytes of the query's matchable functions
    unique_functions: int  # pairs only this family has, with weight >= 0.5 and similarity >= 0.6
    attributed: bool  # passes the decision rule (see attributor.match.rank)
    best_sample: str
    library: bool
    pairs: list[FunctionPair] = field(default_factory=list)


@dataclass
class ActorScore:
    actor: str
    score: float
    families: list[str]
    attributed: bool


@dataclass
class QueryFunction:
    address: int
    size: int
    n_insns: int
    matches: list[RefMatch] = field(default_factory=list)


@dataclass
class SampleInfo:
    sha256: str
    format: str
    arch: str
    size: int
    n_functions: int
    coverage: float
    status: str
    notes: list[str] = field(default_factory=list)


@dataclass
class MatchResult:
    sample: SampleInfo
    families: list[FamilyScore]
    actors: list[ActorScore]
    functions: list[QueryFunction]
    corpus_samples: int
    corpus_functions: int
    params: str  # FingerprintParams JSON the match was made with
    evidence: list[SharedEvidence] = field(default_factory=list)  # the query's evidence, with sharers
