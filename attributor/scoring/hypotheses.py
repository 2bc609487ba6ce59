"""Competing hypotheses: probabilities, analytic confidence, evidence for and against, ACH matrix.

Input: the evidence records of a case (:mod:`attributor.scoring.evidence`), the per-family
features of each sample, and the corpus's family -> actor labels. Output: ranked
:class:`Hypothesis` objects (actors, families, and always ``unknown``), the :class:`Ach` matrix
and the :class:`Verdict`.

Stance of an evidence item towards a hypothesis (the ACH cell):

* consistent: the item is shared with the hypothesis's family / actor (or, for ``unknown``, the
  item is shared with nobody in the corpus and is specific: a key, an indicator);
* inconsistent: the item is specific (weight >= ``SPECIFIC``) and points at another family or
  actor only; for ``unknown``, any specific item that points at a corpus family or actor;
* neutral: common items (library code, widespread crypto, non-attributable infrastructure) and
  quality facts.

Analytic confidence (separate from probability, as ICD 203 asks) is ``high`` with at least two
independent kinds of evidence (code, key, indicator, infrastructure, capability), at least
``HIGH_ITEMS`` supporting items, no low-coverage or packed sample and no specific counter-evidence;
``moderate`` with one strong item (weight >= 0.6) or two kinds, when specific counter-evidence
caps it; ``low`` otherwise, and always for a low-coverage, packed or incomplete sample.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from attributor.report.attribution import (
    UNKNOWN,
    Ach,
    AchRow,
    Assessment,
    Confidence,
    EvidenceRecord,
    Hypothesis,
    Stance,
    Verdict,
    estimative,
)
from attributor.scoring.fusion import DEFAULT_WEIGHTS, FusionWeights, family_probability, noisy_or

SPECIFIC = 0.3  # weight from which an item counts as pointing at someone
ABSTAIN_BELOW = 0.5  # no actor or family at least this probable: the verdict abstains
MIN_SHOWN = 0.01  # hypotheses below this probability are not listed (unknown always is)
HIGH_ITEMS = 5
MAX_HYPOTHESES = 20
INDEPENDENT_KINDS = ("code", "key", "indicator", "infrastructure", "capability")


@dataclass(frozen=True)
class Candidate:
    """A family or actor hypothesis before it becomes a document node."""

    id: str
    level: str
    name: str
    probability: float
    families: tuple[str, ...]
    actors: tuple[str, ...]


def family_probabilities(
    features: Mapping[str, Sequence[Mapping[str, float]]], weights: FusionWeights = DEFAULT_WEIGHTS
) -> dict[str, float]:
    """P(family) over all samples of the case: noisy-OR of the per-sample probabilities."""
    return {f: noisy_or(family_probability(x, weights) for x in xs) for f, xs in sorted(features.items())}


def candidates(
    fam_p: Mapping[str, float], actor_of: Mapping[str, str | None], infra: Mapping[str, list[float]]
) -> list[Candidate]:
    """Family, actor and unknown candidates with their probabilities (see the fusion model)."""
    out = [
        Candidate(f"family:{f}", "family", f, p, (f,), (a,) if (a := actor_of.get(f)) else ())
        for f, p in fam_p.items()
    ]
    actors = sorted({a for a in actor_of.values() if a} | set(infra))
    actor_p: dict[str, float] = {}
    for a in actors:
        fams = tuple(sorted(f for f, fa in actor_of.items() if fa == a and f in fam_p))
        actor_p[a] = noisy_or([*(fam_p[f] for f in fams), *infra.get(a, [])])
        out.append(Candidate(f"actor:{a}", "actor", a, actor_p[a], fams, (a,)))
    none = 1.0
    for p in actor_p.values():
        none *= 1.0 - p
    for f, p in fam_p.items():
        if not actor_of.get(f):
            none *= 1.0 - p
    out.append(Candidate(UNKNOWN, "unknown", "unknown / new actor", none, (), ()))
    return out


def stance(e: EvidenceRecord, c: Candidate) -> Stance:
    """The ACH cell of item ``e`` under hypothesis ``c`` (see the module doc)."""
    if e.kind == "quality" or e.weight < SPECIFIC:
        return "neutral"
    points_at = bool(e.families or e.actors)
    if c.level == "unknown":
        if points_at:
            return "inconsistent"
        return "consistent" if e.kind in ("key", "indicator") else "neutral"
    if set(e.families) & set(c.families) or set(e.actors) & set(c.actors):
        return "consistent"
    if not points_at:
        return "neutral"
    if c.level == "family" and c.actors and set(e.actors) & set(c.actors):
        return "neutral"  # another family of the same actor: not against this family
    return "inconsistent"


def _reason(e: EvidenceRecord, s: Stance, c: Candidate) -> str:
    shared = ", ".join(e.families or e.actors) or "no corpus family"
    libs = f" and {e.library_samples} library/goodware samples" if e.library_samples else ""
    if s == "consistent":
        return f"{e.kind} {e.value[:48]!r} shared with {shared}{libs}"
    if s == "inconsistent":
        return f"{e.kind} {e.value[:48]!r} points at {shared}, not {c.name}"
    return f"{e.kind} {e.value[:48]!r} is common ({shared}{libs}) or says nothing about authorship"


def _against(e: EvidenceRecord, s: Stance, c: Candidate) -> bool:
    """Counter-evidence: inconsistent items, plus neutral items that weaken this hypothesis."""
    if s == "inconsistent":
        return True
    if e.kind == "quality":
        return c.level != "unknown"
    weakens = e.library_samples > 0 or len(e.families) > 1 or "non-attributable" in e.tags
    return weakens and bool(set(e.families) & set(c.families) or set(e.actors) & set(c.actors))


def confidence(
    support: list[Assessment], against: list[Assessment], kinds: set[str], quality: bool
) -> tuple[Confidence, tuple[str, ...]]:
    strong_against = [a for a in against if a.stance == "inconsistent" and a.weight >= 0.5]
    independent = sorted(k for k in kinds if k in INDEPENDENT_KINDS)
    reasons = [f"{len(support)} supporting items", f"independent kinds: {', '.join(independent) or 'none'}"]
    if quality:
        reasons.append("low coverage, packed or incomplete sample")
    if strong_against:
        reasons.append(f"{len(strong_against)} specific items point elsewhere")
    strong = any(a.weight >= 0.6 for a in support)  # e.g. many functions unique to the family
    if quality or not (strong or len(independent) >= 2):
        return "low", tuple(reasons)
    if len(independent) >= 2 and len(support) >= HIGH_ITEMS and not strong_against:
        return "high", tuple(reasons)
    return "moderate", tuple(reasons)  # specific counter-evidence caps confidence here


def alternatives(c: Candidate, others: list[Candidate], records: list[EvidenceRecord]) -> tuple[str, ...]:
    """Other explanations of the evidence for ``c``: rival actors, code of other actors, weak kinds."""
    out = []
    rivals: dict[str, list[str]] = {}  # another actor -> what of theirs is in the sample
    for r in records:
        if c.level == "unknown" or r.weight < SPECIFIC or r.kind not in ("code", "key"):
            continue
        if set(r.families) & set(c.families) or set(r.actors) & set(c.actors):
            continue
        for a in r.actors or r.families:
            rivals.setdefault(a, []).append(f"{r.kind} of {', '.join(r.families) or a}")
    for o in others:
        rival = o.level == "actor" and o.id != c.id and o.probability >= 0.2 and c.level != "unknown"
        if rival and not set(o.actors) & set(c.actors):
            rivals.setdefault(o.name, []).append(f"{o.probability:.0%} probable")
    for actor, what in sorted(rivals.items()):
        out.append(
            f"{actor} also left evidence ({'; '.join(sorted(set(what)))}): "
            "possible false flag, shared developer, or code shared from a common source"
        )
    kinds = {
        r.kind
        for r in records
        if r.weight >= SPECIFIC and (set(r.families) & set(c.families) or set(r.actors) & set(c.actors))
    }
    if kinds and kinds <= {"capability", "crypto"}:
        out.append("only capabilities / crypto support it: many unrelated authors share these")
    if kinds == {"infrastructure"}:
        out.append("only infrastructure supports it: infrastructure is rented, shared, or compromised")
    if any(r.kind == "quality" for r in records) and c.level != "unknown":
        out.append("the code evidence is weakened by the analysis quality (coverage, packing)")
    return tuple(out)


def build_hypotheses(records: list[EvidenceRecord], cands: list[Candidate]) -> tuple[list[Hypothesis], Ach]:
    """Document hypotheses (ranked by probability; unknown always present) and the ACH matrix."""
    shown = [c for c in cands if c.probability >= MIN_SHOWN or c.level == "unknown"]
    shown.sort(key=lambda c: (-round(c.probability, 4), c.level != "actor", c.id))
    shown = (
        shown[:MAX_HYPOTHESES]
        if any(c.level == "unknown" for c in shown[:MAX_HYPOTHESES])
        else [*shown[: MAX_HYPOTHESES - 1], next(c for c in shown if c.level == "unknown")]
    )
    quality = any(r.kind == "quality" for r in records)
    hyps = []
    for c in shown:
        support: list[Assessment] = []
        against: list[Assessment] = []
        kinds: set[str] = set()
        for e in records:
            s = stance(e, c)
            a = Assessment(evidence_id=e.id, stance=s, weight=e.weight, reason=_reason(e, s, c))
            if s == "consistent":
                support.append(a)
                kinds.add(e.kind)
            elif _against(e, s, c):
                against.append(a)
        conf, reasons = confidence(support, against, kinds, quality and c.level != "unknown")
        hyps.append(Hypothesis(
            id=c.id, level=c.level, name=c.name, actors=c.actors if c.level == "family" else (),  # type: ignore[arg-type]
            families=c.families if c.level == "actor" else (), probability=c.probability,
            estimative=estimative(c.probability), confidence=conf, confidence_reasons=reasons,
            support=tuple(support), against=tuple(against), alternatives=alternatives(c, shown, records),
        ))  # fmt: skip
    rows = tuple(AchRow(evidence_id=e.id, cells=tuple(stance(e, c) for c in shown)) for e in records)
    return hyps, Ach(hypotheses=tuple(c.id for c in shown), rows=rows)


def verdict(hyps: list[Hypothesis]) -> Verdict:
    """The top actor (else family) hypothesis, or an abstention when none reaches ABSTAIN_BELOW."""
    named = [h for h in hyps if h.level != "unknown"]
    best = max(named, key=lambda h: (h.probability, h.level == "actor"), default=None)
    unknown = next(h for h in hyps if h.level == "unknown")
    if best is None or best.probability < ABSTAIN_BELOW:
        lead = f"; strongest lead {best.name} ({best.probability:.0%})" if best else ""
        return Verdict(
            abstained=True, hypothesis=unknown.id, probability=unknown.probability,
            estimative=unknown.estimative, confidence=unknown.confidence,
            text=f"unknown / new actor: evidence too weak to name one{lead}",
        )  # fmt: skip
    fams = f" (family {', '.join(best.families)})" if best.level == "actor" and best.families else ""
    return Verdict(
        abstained=False, hypothesis=best.id, probability=best.probability, estimative=best.estimative,
        confidence=best.confidence,
        text=f"{best.name}{fams}: {best.estimative} ({best.probability:.0%}), {best.confidence} confidence",
    )  # fmt: skip
