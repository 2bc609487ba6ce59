"""Evidence records of the attribution report, built from match results and intel matches.

Every item the fusion sees becomes one :class:`EvidenceRecord` with a content-derived id:

* ``code``: one per (sample, family) that shares functions with the sample; ``weight`` grows
  with the family's rarity-weighted code score (``1 - exp(-score / CODE_SCALE)``).
* ``crypto`` / ``key`` / ``capability`` / ``indicator``: the sample's findings with the corpus
  families and library samples that share them; ``weight`` is their specificity.
* ``infrastructure``: an indicator (found in a sample or given with ``--ioc``) that matches actor
  infrastructure in the intel store; non-attributable ones carry the warning lists that say so.
* ``quality``: facts about the analysis itself (low coverage, packed, incomplete), which weaken
  every hypothesis that rests on code.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, replace

from attributor.evidence.record import TAG_NON_ATTRIBUTABLE
from attributor.match.evidence import SharedEvidence
from attributor.match.result import FamilyScore, MatchResult
from attributor.report.attribution import EvidenceRecord, InfraMatch, evidence_id
from attributor.report.document import hex_address
from attributor.scoring.fusion import infra_strength

CODE_SCALE = 5.0  # the decision rule's SCORE_MIN: a family at the threshold gets weight 0.63
LOW_COVERAGE = 0.5


@dataclass(frozen=True)
class InfraHit:
    """One intel match, flattened (what :mod:`attributor.intel.match` found for one indicator)."""

    indicator: str
    indicator_type: str
    intel_value: str
    match: str
    strength: str
    actor: str
    source: str
    first_seen: str | None
    last_seen: str | None
    in_window: bool | None
    non_attributable: tuple[str, ...]
    origin: str  # "ioc-file" or the SHA-256 of the sample the indicator came from


def code_weight(score: float) -> float:
    return 1.0 - math.exp(-max(0.0, score) / CODE_SCALE)


def code_record(sample: str, f: FamilyScore) -> EvidenceRecord:
    unique = f" ({f.unique_functions} unique)" if f.unique_functions else ""
    library = " (library / goodware)" if f.library else ""
    return EvidenceRecord(
        id=evidence_id("code", sample, f.family),
        kind="code",
        subtype="shared functions",
        value=f.family,
        detail=f"{f.shared_functions} functions{unique}, {f.shared_bytes:,} bytes "
        f"shared with {f.family}{library}",
        sample=sample,
        source="matcher",
        tags=("library",) if f.library else (),
        families=() if f.library else (f.family,),
        actors=() if f.library else tuple(sorted(f.actors)),
        library_samples=1 if f.library else 0,
        weight=0.0 if f.library else code_weight(f.score),
        shared_functions=f.shared_functions,
        shared_bytes=f.shared_bytes,
        share=f.matchable_fraction,
    )


def shared_record(sample: str, s: SharedEvidence) -> EvidenceRecord:
    e = s.evidence
    return EvidenceRecord(
        id=evidence_id(str(e.kind), sample, e.value, e.address, e.function),
        kind=str(e.kind),  # type: ignore[arg-type]
        subtype=e.subtype,
        value=e.value,
        detail=e.detail,
        sample=sample,
        address=None if e.address is None else hex_address(e.address),
        function=None if e.function is None else hex_address(e.function),
        source=e.source,
        attack=e.attack,
        tags=e.tags,
        families=s.families,
        actors=s.actors,
        library_samples=s.library_samples,
        weight=min(1.0, s.specificity),
    )


def infra_record(h: InfraHit) -> tuple[EvidenceRecord, InfraMatch]:
    ident = evidence_id("infrastructure", h.origin, h.indicator, h.intel_value, h.match, h.actor)
    tags = (TAG_NON_ATTRIBUTABLE,) if h.non_attributable else ()
    window = "" if h.in_window is None else (" (in time window)" if h.in_window else " (outside time window)")
    why = f"; non-attributable: {', '.join(h.non_attributable)}" if h.non_attributable else ""
    rec = EvidenceRecord(
        id=ident,
        kind="infrastructure",
        subtype=h.match,
        value=h.indicator,
        detail=f"{h.match} match with {h.intel_value} of {h.actor}{window}{why}",
        sample=None if h.origin == "ioc-file" else h.origin,
        source=f"intel:{h.source}" if h.source else "intel",
        tags=tags,
        actors=(h.actor,),
        weight=infra_strength(h.strength, h.in_window, bool(h.non_attributable)),
    )
    match = InfraMatch(
        evidence_id=ident,
        indicator=h.indicator,
        indicator_type=h.indicator_type,
        intel_value=h.intel_value,
        match=h.match,  # type: ignore[arg-type]
        strength=h.strength,  # type: ignore[arg-type]
        actor=h.actor,
        source=h.source,
        first_seen=h.first_seen,
        last_seen=h.last_seen,
        in_window=h.in_window,
        non_attributable=h.non_attributable,
    )
    return rec, match


def quality_records(result: MatchResult) -> list[EvidenceRecord]:
    """Low coverage, packing and incomplete analysis, as evidence that weakens code hypotheses."""
    s = result.sample
    out = []
    if s.coverage < LOW_COVERAGE:
        out.append(
            ("coverage", f"coverage {s.coverage:.2f}", f"only {s.coverage:.0%} of code bytes recovered")
        )
    for note in s.notes:
        if note.startswith("packed"):
            out.append(("packed", "packed", note))
    if s.status != "complete":
        out.append(("incomplete", "incomplete", "; ".join(s.notes) or "analysis incomplete"))
    return [
        EvidenceRecord(
            id=evidence_id("quality", s.sha256, subtype, value),
            kind="quality",
            subtype=subtype,
            value=value,
            detail=detail,
            sample=s.sha256,
            source="disasm",
        )
        for subtype, value, detail in out
    ]


COLLAPSED_KINDS = frozenset({"capability", "crypto"})  # one record per rule / algorithm and sample


def collapse_locations(shared: list[SharedEvidence]) -> list[SharedEvidence]:
    """One entry per capability rule / crypto algorithm: a rule matching in ten functions is one
    piece of evidence, not ten (the first location stays; the detail counts the others)."""
    first: dict[tuple[str, str], SharedEvidence] = {}
    extra: dict[tuple[str, str], list[int]] = {}
    out: list[SharedEvidence] = []
    for s in shared:
        key = s.evidence.key
        if s.evidence.kind not in COLLAPSED_KINDS:
            out.append(s)
        elif key not in first:
            first[key] = s
            extra[key] = []
            out.append(s)
        elif s.evidence.address is not None:
            extra[key].append(s.evidence.function or s.evidence.address)
    for i, s in enumerate(out):
        more = extra.get(s.evidence.key)
        if more:
            listed = ", ".join(f"{a:#x}" for a in sorted(set(more))[:8])
            detail = f"{s.evidence.detail}; also at {len(set(more))} more locations ({listed})".lstrip("; ")
            out[i] = replace(s, evidence=replace(s.evidence, detail=detail))
    return out


def sample_records(result: MatchResult) -> list[EvidenceRecord]:
    """All records of one sample: code per family, shared findings, quality."""
    sha = result.sample.sha256
    records = [code_record(sha, f) for f in result.families]
    records += [shared_record(sha, s) for s in collapse_locations(result.evidence)]
    records += quality_records(result)
    return records


def unique_records(records: Iterable[EvidenceRecord]) -> list[EvidenceRecord]:
    """One record per id (the first), in a stable order: kind, then weight descending, then id."""
    seen: dict[str, EvidenceRecord] = {}
    for r in records:
        seen.setdefault(r.id, r)
    order = {
        "code": 0,
        "key": 1,
        "infrastructure": 2,
        "indicator": 3,
        "capability": 4,
        "crypto": 5,
        "quality": 6,
    }
    return sorted(seen.values(), key=lambda r: (order.get(r.kind, 9), -r.weight, r.value, r.id))
