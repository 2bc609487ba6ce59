"""The attribution report: one versioned document, the only input of every renderer.

``AttributionDocument`` (``schema = "attributor.attribution/1"``) is what ``attributor attribute``
produces: the inputs (samples and indicators), the corpus they were compared with, every piece
of evidence with its rarity in the corpus, the ranked hypotheses (actors, families, and always
"unknown / new actor") with probability, ICD 203 word and analytic confidence, the evidence for
and against each, the ACH matrix, infrastructure matches and the matched function pairs with
their disassembly. Text, JSON, HTML, STIX 2.1, MISP and YARA renderers and the case bundle read
this document and nothing else.

Conventions (shared with :mod:`attributor.report.document`): frozen models, unknown fields are an
error, floats rounded to 4 decimals, addresses as ``0x`` lower-case hex, tuples in a defined
order, no timestamps or host paths, so the same inputs give byte-identical JSON
(:meth:`AttributionDocument.to_json`).

Identifiers are content-derived: an evidence id is ``ev-`` plus 12 hex digits of the SHA-256 of
its identity (:func:`evidence_id`), a hypothesis id is ``actor:NAME``, ``family:NAME`` or
``unknown``, so ids survive re-runs and can be cited in a joint investigation.
"""

from __future__ import annotations

import hashlib
import os
from typing import Final, Literal, Self

from pydantic import Field

from attributor.report.document import HexAddress, Model, ParamValue, Score, _read_text

ATTRIBUTION_SCHEMA: Final = "attributor.attribution/1"
UNKNOWN: Final = "unknown"

Tlp = Literal["TLP:CLEAR", "TLP:GREEN", "TLP:AMBER", "TLP:AMBER+STRICT", "TLP:RED"]
Stance = Literal["consistent", "inconsistent", "neutral"]
Level = Literal["actor", "family", "unknown"]
Confidence = Literal["low", "moderate", "high"]
EvidenceKindName = Literal["code", "crypto", "key", "capability", "indicator", "infrastructure", "quality"]
Estimative = Literal[
    "almost no chance",
    "very unlikely",
    "unlikely",
    "roughly even chance",
    "likely",
    "very likely",
    "almost certain",
]

# ICD 203 (2015), "Expressions of likelihood or probability": upper bounds of each band.
ICD203_BANDS: Final[tuple[tuple[float, Estimative], ...]] = (
    (0.05, "almost no chance"),
    (0.20, "very unlikely"),
    (0.45, "unlikely"),
    (0.55, "roughly even chance"),
    (0.80, "likely"),
    (0.95, "very likely"),
    (1.00, "almost certain"),
)


def estimative(probability: float) -> Estimative:
    """The ICD 203 expression for ``probability`` (band upper bounds inclusive)."""
    for upper, word in ICD203_BANDS:
        if probability <= upper:
            return word
    return "almost certain"


def evidence_id(*identity: object) -> str:
    """Stable id of an evidence item from the parts that make it the same item."""
    text = "\x1f".join("" if part is None else str(part) for part in identity)
    return "ev-" + hashlib.sha256(text.encode("utf-8", "surrogateescape")).hexdigest()[:12]


class Dependency(Model):
    name: str
    version: str


class ToolInfo(Model):
    name: str = "attributor"
    version: str
    dependencies: tuple[Dependency, ...] = ()


class CaseInfo(Model):
    """The case: an id (given, or derived from the inputs), a title and its TLP 2.0 marking."""

    id: str
    title: str = ""
    tlp: Tlp = "TLP:AMBER"


class InputSample(Model):
    sha256: str
    name: str  # file name as given (no directories), escaped for display
    size: int
    format: str
    arch: str
    function_count: int
    coverage: Score
    status: str
    notes: tuple[str, ...] = ()


class InputIoc(Model):
    """An indicator given with ``--ioc`` (canonical form), or found in a sample."""

    value: str
    type: str  # ipv4, ipv6, domain, url, email, ...
    observed: str | None = None  # ISO 8601 date or datetime when the incident saw it
    origin: str  # "ioc-file" or the SHA-256 of the sample it was extracted from


class CorpusSample(Model):
    """A corpus sample that contributed evidence, with its label's provenance."""

    sha256: str
    family: str
    actor: str | None = None
    library: bool = False
    source: str | None = None
    function_count: int = 0


class CorpusInfo(Model):
    """The corpus compared against. ``digest`` is the SHA-256 of its sorted labelled sample list."""

    samples: int
    functions: int
    families: int
    actors: int
    library_samples: int
    digest: str
    intel_records: int = 0
    params: dict[str, ParamValue] = Field(default_factory=dict)


class EvidenceRecord(Model):
    """One item of evidence and how common it is in the corpus.

    ``families`` / ``actors`` are the non-library corpus labels that share the item;
    ``library_samples`` counts library / goodware samples that share it (public or common code).
    ``weight`` is the evidential weight in [0, 1] the fusion model gave the item.
    """

    id: str
    kind: EvidenceKindName
    subtype: str
    value: str
    detail: str = ""
    sample: str | None = None  # SHA-256 of the input sample it was found in; None for --ioc input
    address: HexAddress | None = None
    function: HexAddress | None = None
    source: str = ""
    attack: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    families: tuple[str, ...] = ()
    actors: tuple[str, ...] = ()
    library_samples: int = 0
    weight: Score = 0.0
    # code records only: functions and bytes of the sample shared with the family, and that size
    # as a share of the sample's matchable code (a function may be shared with several families)
    shared_functions: int = 0
    shared_bytes: int = 0
    share: Score = 0.0


class InfraMatch(Model):
    """An incident indicator that matches actor infrastructure in the intel store."""

    evidence_id: str
    indicator: str
    indicator_type: str
    intel_value: str
    match: Literal["exact", "url-host", "parent-domain", "same-/24", "same-asn"]
    strength: Literal["strong", "moderate", "weak"]
    actor: str
    source: str = ""
    first_seen: str | None = None
    last_seen: str | None = None
    in_window: bool | None = None
    non_attributable: tuple[str, ...] = ()


class MatchedPair(Model):
    """A query function and the reference function it reuses, with both disassemblies.

    ``query_asm`` / ``ref_asm`` are ``"0x401000  mov eax, 1"`` lines, capped; ``ref_asm`` is empty
    when the reference binary was not available to disassemble (the corpus stores fingerprints).
    """

    sample: str
    family: str
    query_address: HexAddress
    query_size: int
    ref_sha256: str
    ref_address: HexAddress
    similarity: Score
    weight: Score
    n_families: int
    unique: bool = False
    query_asm: tuple[str, ...] = ()
    ref_asm: tuple[str, ...] = ()


class CodeSignature(Model):
    """A YARA hex string built from code unique to one family, with the checks it passed.

    ``pattern`` is the body of a YARA hex string (``"55 48 89 E5 ?? ?? ..."``): bytes of the query
    function with addresses, displacements and relocated immediates wildcarded. ``asm`` is its
    disassembly (one line per instruction, for the rule's comments). ``matched`` lists the SHA-256
    of every sample the compiled rule matched when it was verified (the query and the family's
    corpus samples); ``checked`` counts the corpus samples it was run against.
    """

    family: str
    sample: str
    function: HexAddress
    size: int
    pattern: str
    asm: tuple[str, ...] = ()
    matched: tuple[str, ...] = ()
    checked: int = 0


class Assessment(Model):
    """How one evidence item bears on one hypothesis."""

    evidence_id: str
    stance: Stance
    weight: Score
    reason: str


class Hypothesis(Model):
    """A candidate author: an actor, a family, or ``unknown`` (no corpus actor/family)."""

    id: str
    level: Level
    name: str
    actors: tuple[str, ...] = ()
    families: tuple[str, ...] = ()
    probability: Score
    estimative: Estimative
    confidence: Confidence
    confidence_reasons: tuple[str, ...] = ()
    support: tuple[Assessment, ...] = ()
    against: tuple[Assessment, ...] = ()
    alternatives: tuple[str, ...] = ()


class AchRow(Model):
    """One row of the ACH matrix: an evidence item's stance towards each hypothesis, in order."""

    evidence_id: str
    cells: tuple[Stance, ...]


class Ach(Model):
    hypotheses: tuple[str, ...]  # hypothesis ids, column order
    rows: tuple[AchRow, ...]


class Verdict(Model):
    """The one-line answer. ``abstained`` when the evidence is too weak to name anyone."""

    abstained: bool
    hypothesis: str
    probability: Score
    estimative: Estimative
    confidence: Confidence
    text: str


class AttributionDocument(Model):
    """The attribution report. Build with :mod:`attributor.scoring`; load with :meth:`from_file`."""

    schema_: Literal["attributor.attribution/1"] = Field(default=ATTRIBUTION_SCHEMA, alias="schema")
    tool: ToolInfo
    case: CaseInfo
    inputs: tuple[InputSample, ...]
    iocs: tuple[InputIoc, ...] = ()
    corpus: CorpusInfo
    corpus_samples: tuple[CorpusSample, ...] = ()
    parameters: dict[str, ParamValue] = Field(default_factory=dict)
    verdict: Verdict
    hypotheses: tuple[Hypothesis, ...]
    evidence: tuple[EvidenceRecord, ...] = ()
    infrastructure: tuple[InfraMatch, ...] = ()
    pairs: tuple[MatchedPair, ...] = ()
    signatures: tuple[CodeSignature, ...] = ()
    ach: Ach
    notes: tuple[str, ...] = ()

    def to_json(self) -> str:
        """The canonical serialisation: byte-identical for equal documents, newline-terminated."""
        return self.model_dump_json(by_alias=True, indent=2) + "\n"

    @classmethod
    def from_file(cls, path: str | os.PathLike[str]) -> Self:
        """Load a JSON document. Raises ``FileAccessError``, or ``pydantic.ValidationError`` if invalid."""
        return cls.model_validate_json(_read_text(path))

    def evidence_by_id(self) -> dict[str, EvidenceRecord]:
        return {e.id: e for e in self.evidence}

    def hypothesis(self, hypothesis_id: str) -> Hypothesis | None:
        return next((h for h in self.hypotheses if h.id == hypothesis_id), None)
