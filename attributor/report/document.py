"""The versioned report documents: the only input of renderers and of anything downstream.

Three documents, each a frozen pydantic model that rejects unknown fields:

``MatchDocument`` (``schema = "attributor.match/1"``)
    One sample matched against a corpus: the sample facts, the ranked families with the function
    pairs that carry each score, the actors, and every query function with its best candidates.

``MatchReport`` (``schema = "attributor.match-report/1"``)
    What ``attributor match --format json`` prints, always, even for one sample:
    ``{"schema", "tool", "results": [MatchDocument, ...]}`` in the order the samples were given.
    Each result is a complete ``MatchDocument``, so ``jq '.results[0]'`` yields a valid one.

``CorpusStats`` (``schema = "attributor.stats/1"``)
    What ``attributor corpus stats --format json`` prints.

Conventions, so that the same input always yields byte-identical JSON:
  * addresses are lower-case hex strings (``"0x140001000"``);
  * floats are rounded to 4 decimals (a validator enforces it, whoever builds the model);
  * sequences are tuples, in the order the matcher ranked them; dict keys are sorted;
  * nothing volatile (no timestamps, no paths unless the caller passes one as ``db``).

A change that renames or removes a field bumps the schema version; adding an optional field does not.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from pathlib import Path
from typing import Annotated, Final, Literal, Self

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from attributor.errors import FileAccessError
from attributor.fingerprint.model import FingerprintParams
from attributor.match.evidence import SharedEvidence
from attributor.match.result import (
    ActorScore,
    FamilyScore,
    FunctionPair,
    MatchResult,
    QueryFunction,
    RefMatch,
    SampleInfo,
)
from attributor.store.base import SampleRecord

SCHEMA: Final = "attributor.match/1"
REPORT_SCHEMA: Final = "attributor.match-report/1"
STATS_SCHEMA: Final = "attributor.stats/1"
TOOL_NAME = "attributor"
DECIMALS = 4


def _round(value: float) -> float:
    return round(float(value), DECIMALS)


Score = Annotated[float, AfterValidator(_round)]
HexAddress = Annotated[str, Field(pattern=r"^0x[0-9a-f]+$")]
ParamValue = int | float | str | bool


def hex_address(value: int) -> str:
    """Format an address the way every document spells it: ``0x`` plus lower-case hex."""
    return f"{int(value):#x}"


def parse_address(text: str) -> int:
    """Inverse of :func:`hex_address`."""
    return int(text, 16)


class Model(BaseModel):
    """Base of every document node: immutable, and unknown fields are an error."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class Tool(Model):
    name: str = TOOL_NAME
    version: str


class Corpus(Model):
    """The corpus a sample was matched against. ``db`` is a description, never a content hash."""

    samples: int
    functions: int
    db: str | None = None


class Sample(Model):
    sha256: str
    format: str
    arch: str
    size: int
    function_count: int
    coverage: Score
    status: str
    notes: tuple[str, ...] = ()

    @classmethod
    def from_info(cls, info: SampleInfo) -> Self:
        return cls(
            sha256=info.sha256,
            format=info.format,
            arch=info.arch,
            size=info.size,
            function_count=info.n_functions,
            coverage=info.coverage,
            status=info.status,
            notes=tuple(info.notes),
        )


class Pair(Model):
    """A query function and the reference function that makes it evidence for a family."""

    query_address: HexAddress
    query_size: int
    ref_sha256: str
    ref_address: HexAddress
    similarity: Score
    n_families: int
    weight: Score

    @classmethod
    def from_pair(cls, p: FunctionPair) -> Self:
        return cls(
            query_address=hex_address(p.query_address),
            query_size=p.query_size,
            ref_sha256=p.ref_sha256,
            ref_address=hex_address(p.ref_address),
            similarity=p.similarity,
            n_families=p.n_families,
            weight=p.weight,
        )


class Family(Model):
    family: str
    actors: tuple[str, ...]
    score: Score
    attributed: bool
    shared_functions: int
    shared_bytes: int
    matchable_fraction: Score
    unique_functions: int
    best_sample: str
    library: bool
    pairs: tuple[Pair, ...] = ()

    @classmethod
    def from_score(cls, f: FamilyScore) -> Self:
        return cls(
            family=f.family,
            actors=tuple(f.actors),
            score=f.score,
            attributed=f.attributed,
            shared_functions=f.shared_functions,
            shared_bytes=f.shared_bytes,
            matchable_fraction=f.matchable_fraction,
            unique_functions=f.unique_functions,
            best_sample=f.best_sample,
            library=f.library,
            pairs=tuple(Pair.from_pair(p) for p in f.pairs),
        )


class Actor(Model):
    actor: str
    score: Score
    families: tuple[str, ...]
    attributed: bool

    @classmethod
    def from_score(cls, a: ActorScore) -> Self:
        return cls(actor=a.actor, score=a.score, families=tuple(a.families), attributed=a.attributed)


class FunctionMatch(Model):
    ref_sha256: str
    ref_address: HexAddress
    similarity: Score
    family: str

    @classmethod
    def from_ref(cls, m: RefMatch) -> Self:
        return cls(
            ref_sha256=m.ref_sha256,
            ref_address=hex_address(m.ref_address),
            similarity=m.similarity,
            family=m.family,
        )


class Function(Model):
    address: HexAddress
    size: int
    n_insns: int
    matches: tuple[FunctionMatch, ...] = ()

    @classmethod
    def from_query(cls, q: QueryFunction) -> Self:
        return cls(
            address=hex_address(q.address),
            size=q.size,
            n_insns=q.n_insns,
            matches=tuple(FunctionMatch.from_ref(m) for m in q.matches),
        )


class EvidenceItem(Model):
    """One finding beyond shared code, and the corpus samples that share it.

    ``families``/``actors``: non-library corpus labels holding the same (kind, value);
    ``library_samples``: library / goodware samples holding it; ``corpus_samples``: all holders.
    """

    kind: str
    subtype: str
    value: str
    detail: str = ""
    address: HexAddress | None = None
    function: HexAddress | None = None
    source: str = ""
    attack: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    families: tuple[str, ...] = ()
    actors: tuple[str, ...] = ()
    library_samples: int = 0
    corpus_samples: int = 0

    @classmethod
    def from_shared(cls, s: SharedEvidence) -> Self:
        e = s.evidence
        return cls(
            kind=str(e.kind),
            subtype=e.subtype,
            value=e.value,
            detail=e.detail,
            address=None if e.address is None else hex_address(e.address),
            function=None if e.function is None else hex_address(e.function),
            source=e.source,
            attack=e.attack,
            tags=e.tags,
            families=s.families,
            actors=s.actors,
            library_samples=s.library_samples,
            corpus_samples=len(s.samples),
        )


def _params_dict(params_json: str) -> dict[str, ParamValue]:
    """Parse the matcher's params JSON into a dict with sorted keys ({} when empty)."""
    if not params_json:
        return {}
    return dict(sorted(json.loads(params_json).items()))


def _read_text(path: str | os.PathLike[str]) -> str:
    try:
        return Path(path).read_text(encoding="utf-8")
    except OSError as e:
        raise FileAccessError(f"{path}: {e.strerror or e}") from None


class MatchDocument(Model):
    """One sample's attribution. Build with :meth:`from_result`; load with :meth:`from_file`."""

    schema_: Literal["attributor.match/1"] = Field(default=SCHEMA, alias="schema")
    tool: Tool
    params: dict[str, ParamValue]
    corpus: Corpus
    sample: Sample
    families: tuple[Family, ...]
    actors: tuple[Actor, ...]
    functions: tuple[Function, ...]
    evidence: tuple[EvidenceItem, ...] = ()

    @classmethod
    def from_result(cls, result: MatchResult, tool_version: str, db_info: str | None = None) -> Self:
        """Convert the matcher's plain result; ``db_info`` describes the corpus (e.g. its file name)."""
        return cls(
            tool=Tool(version=tool_version),
            params=_params_dict(result.params),
            corpus=Corpus(samples=result.corpus_samples, functions=result.corpus_functions, db=db_info),
            sample=Sample.from_info(result.sample),
            families=tuple(Family.from_score(f) for f in result.families),
            actors=tuple(Actor.from_score(a) for a in result.actors),
            functions=tuple(Function.from_query(q) for q in result.functions),
            evidence=tuple(EvidenceItem.from_shared(e) for e in result.evidence),
        )

    @classmethod
    def from_file(cls, path: str | os.PathLike[str]) -> Self:
        """Load a JSON document. Raises ``FileAccessError``, or ``pydantic.ValidationError`` if invalid."""
        return cls.model_validate_json(_read_text(path))

    @property
    def attributed_families(self) -> tuple[Family, ...]:
        """Families that pass the decision rule (never library/background code), in rank order."""
        return tuple(f for f in self.families if f.attributed and not f.library)


class MatchReport(Model):
    """Several samples' documents, in the order given; the JSON shape of ``attributor match``."""

    schema_: Literal["attributor.match-report/1"] = Field(default=REPORT_SCHEMA, alias="schema")
    tool: Tool
    results: tuple[MatchDocument, ...]

    @classmethod
    def of(cls, documents: tuple[MatchDocument, ...] | list[MatchDocument], tool_version: str) -> Self:
        return cls(tool=Tool(version=tool_version), results=tuple(documents))

    @classmethod
    def from_file(cls, path: str | os.PathLike[str]) -> Self:
        """Load a JSON report. Raises ``FileAccessError``, or ``pydantic.ValidationError`` if invalid."""
        return cls.model_validate_json(_read_text(path))


class FamilyStats(Model):
    family: str
    actors: tuple[str, ...]
    library: bool
    samples: int
    functions: int


class CorpusStats(Model):
    """Contents of a corpus store, for ``attributor corpus stats``.

    ``families`` counts non-library labels; library/background samples are ``library_samples``.
    """

    schema_: Literal["attributor.stats/1"] = Field(default=STATS_SCHEMA, alias="schema")
    tool: Tool
    db: str | None = None
    bytes_on_disk: int | None = None
    params: dict[str, ParamValue]
    samples: int
    functions: int
    families: int
    actors: int
    library_samples: int
    incomplete_samples: int
    formats: dict[str, int]
    by_family: tuple[FamilyStats, ...]

    @classmethod
    def from_records(
        cls,
        records: list[SampleRecord],
        params: FingerprintParams,
        tool_version: str,
        db_info: str | None = None,
        bytes_on_disk: int | None = None,
    ) -> Self:
        """Summarise the stored samples; families sorted by name, formats as ``"PE/x86-64"`` keys."""
        formats = Counter(f"{r.format}/{r.arch}" for r in records)
        return cls(
            tool=Tool(version=tool_version),
            db=db_info,
            bytes_on_disk=bytes_on_disk,
            params=_params_dict(params.to_json()),
            samples=len(records),
            functions=sum(r.n_functions for r in records),
            families=len({r.family for r in records if not r.library}),
            actors=len({r.actor for r in records if r.actor}),
            library_samples=sum(1 for r in records if r.library),
            incomplete_samples=sum(1 for r in records if r.status != "complete"),
            formats=dict(sorted(formats.items())),
            by_family=_family_stats(records),
        )


def _family_stats(records: list[SampleRecord]) -> tuple[FamilyStats, ...]:
    groups: dict[str, list[SampleRecord]] = {}
    for r in records:
        groups.setdefault(r.family, []).append(r)
    return tuple(
        FamilyStats(
            family=name,
            actors=tuple(sorted({r.actor for r in rs if r.actor})),
            library=all(r.library for r in rs),
            samples=len(rs),
            functions=sum(r.n_functions for r in rs),
        )
        for name, rs in sorted(groups.items())
    )
