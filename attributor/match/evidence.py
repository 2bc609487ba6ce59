"""Compare a sample's evidence with the corpus: who else has the same key, table, rule or indicator.

For every evidence record of the query, :func:`compare_evidence` looks up its key (kind, value) in
the store and counts the sharers the way code reuse is counted: the non-library families (and
their actors) that hold it, and the library / goodware samples that hold it. Rarity is what makes
evidence evidence: an RC4 key schedule in ten families and two libraries says little; a 16-byte
key shared with one family says a lot (:func:`specificity`).
"""

from __future__ import annotations

from dataclasses import dataclass

from attributor.evidence.record import Evidence, EvidenceKind
from attributor.store.base import SampleRecord, Store

# Prior strength of an exact match of each kind before rarity: identical key material is close
# to proof of a shared code base or operator; an indicator (C2 host, mutex, PDB path) shared with
# a corpus sample is strong; a capability or a crypto algorithm is a property many authors share.
KIND_STRENGTH: dict[str, float] = {
    EvidenceKind.KEY: 1.0,
    EvidenceKind.INDICATOR: 0.8,
    EvidenceKind.CAPABILITY: 0.3,
    EvidenceKind.CRYPTO: 0.2,
}


@dataclass(frozen=True)
class SharedEvidence:
    """One query evidence record with the corpus samples that share its key."""

    evidence: Evidence
    families: tuple[str, ...]  # non-library families holding it, sorted
    actors: tuple[str, ...]  # their actors, sorted
    library_samples: int  # library / goodware samples holding it
    samples: tuple[str, ...]  # SHA-256 of every corpus sample holding it, sorted

    @property
    def specificity(self) -> float:
        return specificity(str(self.evidence.kind), len(self.families), self.library_samples)


def specificity(kind: str, n_families: int, n_library: int) -> float:
    """Weight in [0, 1] of a match on evidence of ``kind`` shared by that many families / libraries.

    ``strength / n_families``, and nothing once any library or goodware sample holds it (public
    code, a standard constant, a well-known address), nor when no family holds it.
    """
    if n_families == 0 or n_library > 0:
        return 0.0
    return KIND_STRENGTH.get(kind, 0.2) / n_families


def compare_evidence(
    store: Store, evidence: list[Evidence], exclude: str | None = None
) -> list[SharedEvidence]:
    """Every record of ``evidence`` (in its order) with its sharers in ``store``.

    ``exclude`` is the query's own SHA-256: a sample that is itself in the corpus does not count
    as sharing evidence with itself.
    """
    sharing = store.evidence_sharing(e.key for e in evidence)
    records = store.samples() if sharing else []
    by_id: dict[int, SampleRecord] = {r.id: r for r in records if r.sha256 != exclude}
    out = []
    for e in evidence:
        holders = [by_id[i] for i in sharing.get(e.key, ()) if i in by_id]
        out.append(
            SharedEvidence(
                evidence=e,
                families=tuple(sorted({r.family for r in holders if not r.library})),
                actors=tuple(sorted({r.actor for r in holders if r.actor and not r.library})),
                library_samples=sum(1 for r in holders if r.library),
                samples=tuple(sorted(r.sha256 for r in holders)),
            )
        )
    return out
