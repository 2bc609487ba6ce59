"""STIX 2.1 export of an :class:`AttributionDocument` (a bundle, see ``docs/exports.md``).

What the bundle says, object by object:

* the OASIS **TLP 2.0** ``marking-definition`` of ``doc.case.tlp`` (the published object, fixed id,
  ``extension-definition--60a3c5c5-…``); every other object lists it in ``object_marking_refs``;
* *reference objects*, named things that mean the same in every case: the producer ``identity``,
  one ``malware`` per family named by a hypothesis (``is_family: true``), one ``intrusion-set``
  per actor, one ``malware`` per input sample (``is_family: false``, ``sample_refs`` to a ``file``
  with its SHA-256) and one ``attack-pattern`` per ATT&CK id in the capability evidence;
* *case statements*: a ``campaign`` standing for the case's activity, a ``malware-analysis`` per
  sample (product ``attributor``, engine version, ``analysis_definition_version`` = corpus digest),
  an ``indicator`` per attributable indicator, a ``note`` with the verdict (probability, ICD 203
  word, analytic confidence) and every competing hypothesis, a ``report`` listing everything, and
  the relationships. Attribution relationships (sample ``variant-of`` family, sample
  ``authored-by`` intrusion-set, campaign ``attributed-to`` intrusion-set) are emitted only when
  the verdict did not abstain, and only for hypotheses the report calls at least "likely"; their
  ``confidence`` is the hypothesis probability in percent.

Ids are UUIDv5 in :data:`NAMESPACE`: reference objects over their name or hash, case statements
over the case id plus their content key, so the same document always yields the same bundle and
two cases never issue conflicting versions of one object. Reference objects are always stamped
:data:`REFERENCE_TIME`; case statements are stamped with the caller's ``timestamp`` (default
:data:`REFERENCE_TIME`, which is *not a claim of time*: the document carries none).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from typing import Any, Final

import stix2

from attributor.report.attribution import AttributionDocument, EvidenceRecord, Hypothesis

NAMESPACE: Final = uuid.UUID("08f6e6f4-51ad-5101-99c9-6f0210706efa")  # uuid5(URL, "…#export-ids")
REFERENCE_TIME: Final = datetime(1970, 1, 1, tzinfo=UTC)
CLAIM_WORDS: Final = frozenset({"likely", "very likely", "almost certain"})
NON_ATTRIBUTABLE_TAG: Final = "non-attributable"

TLP2_EXTENSION: Final = "extension-definition--60a3c5c5-0d10-413e-aab3-9e08dde9e88d"
TLP2_MARKINGS: Final[dict[str, str]] = {  # published by OASIS (cti-stix-common-objects, tlp-2.0)
    "TLP:CLEAR": "marking-definition--94868c89-83c2-464b-929b-a1a8aa3c8487",
    "TLP:GREEN": "marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb",
    "TLP:AMBER": "marking-definition--55d920b0-5e8b-4f79-9ee9-91f868d9b421",
    "TLP:AMBER+STRICT": "marking-definition--939a9414-2ddd-4d32-a0cd-375ea402b003",
    "TLP:RED": "marking-definition--e828b379-4e03-4974-9ac4-e53a884c97c1",
}
# indicator type in the document -> STIX pattern object path
PATTERN_PATHS: Final[dict[str, str]] = {
    "ipv4": "ipv4-addr:value",
    "ipv6": "ipv6-addr:value",
    "domain": "domain-name:value",
    "url": "url:value",
    "email": "email-addr:value",
    "md5": "file:hashes.MD5",
    "sha1": "file:hashes.'SHA-1'",
    "sha256": "file:hashes.'SHA-256'",
}
_TYPE_ORDER: Final = (
    "marking-definition",
    "identity",
    "report",
    "note",
    "campaign",
    "intrusion-set",
    "malware",
    "attack-pattern",
    "malware-analysis",
    "indicator",
    "file",
    "relationship",
)


def stable_uuid(*parts: str) -> str:
    """UUIDv5 in :data:`NAMESPACE` over ``parts`` joined by U+001F (the same parts, the same id)."""
    return str(uuid.uuid5(NAMESPACE, "\x1f".join(parts)))


def tlp2_marking(tlp: str) -> stix2.MarkingDefinition:
    """The OASIS TLP 2.0 marking definition for ``tlp`` (``"TLP:AMBER"`` ...), as published."""
    level = tlp.removeprefix("TLP:").lower()
    return stix2.MarkingDefinition(
        id=TLP2_MARKINGS[tlp],
        created="2022-10-01T00:00:00.000Z",
        name=tlp,
        extensions={TLP2_EXTENSION: {"extension_type": "property-extension", "tlp_2_0": level}},
    )


def is_claim(doc: AttributionDocument, h: Hypothesis) -> bool:
    """Whether the export states ``h`` as a relationship: verdict given, at least "likely"."""
    return not doc.verdict.abstained and h.level != "unknown" and h.estimative in CLAIM_WORDS


def is_attributable(doc: AttributionDocument, ev: EvidenceRecord) -> bool:
    """An indicator or infrastructure item not flagged as shared/public (resolvers, CDNs, sinkholes)."""
    if ev.kind not in ("indicator", "infrastructure") or NON_ATTRIBUTABLE_TAG in ev.tags:
        return False
    return not any(m.non_attributable for m in doc.infrastructure if m.evidence_id == ev.id)


def indicator_type(doc: AttributionDocument, ev: EvidenceRecord) -> str:
    """The indicator type (``ipv4``, ``domain`` ...) of an indicator or infrastructure record."""
    if ev.kind == "indicator":
        return ev.subtype
    match = next((m for m in doc.infrastructure if m.evidence_id == ev.id), None)
    if match is not None:
        return match.indicator_type
    return next((i.type for i in doc.iocs if i.value == ev.value), "")


def stix_pattern(kind: str, value: str) -> str | None:
    """``[path = 'value']`` with the value escaped for a STIX string literal; None if unmapped."""
    path = PATTERN_PATHS.get(kind)
    if path is None:
        return None
    literal = value.replace("\\", "\\\\").replace("'", "\\'")
    return f"[{path} = '{literal}']"


def family_actors(doc: AttributionDocument) -> dict[str, tuple[str, ...]]:
    """Family -> actors from the corpus labels and the family hypotheses, sorted."""
    pairs = {(s.family, s.actor) for s in doc.corpus_samples if s.actor and not s.library}
    pairs |= {(h.name, a) for h in doc.hypotheses if h.level == "family" for a in h.actors}
    out: dict[str, set[str]] = {}
    for family, actor in pairs:
        out.setdefault(family, set()).add(actor)
    return {f: tuple(sorted(a)) for f, a in sorted(out.items())}


class _Builder:
    """Accumulates the bundle's objects; one instance per export."""

    def __init__(self, doc: AttributionDocument, timestamp: datetime) -> None:
        self.doc = doc
        self.case_time = timestamp
        self.marking = tlp2_marking(doc.case.tlp)
        self.producer = f"identity--{stable_uuid('identity', 'attributor')}"
        self.objects: dict[str, Any] = {self.marking.id: self.marking}
        self.files: dict[str, str] = {}  # sample SHA-256 -> file SCO id

    def _common(self, case: bool) -> dict[str, Any]:
        when = self.case_time if case else REFERENCE_TIME
        return {
            "created": when,
            "modified": when,
            "created_by_ref": self.producer,
            "object_marking_refs": [self.marking.id],
        }

    def add(self, cls: type, stype: str, key: tuple[str, ...], case: bool, **props: Any) -> str:
        """Add a STIX object of ``cls`` with an id derived from ``key`` (plus the case id for
        case statements); return the id. Adding the same key twice keeps the first object."""
        parts = (self.doc.case.id, *key) if case else key
        oid = f"{stype}--{stable_uuid(stype, *parts)}"
        if oid not in self.objects:
            self.objects[oid] = cls(id=oid, allow_custom=False, **self._common(case), **props)
        return oid

    def relate(self, rtype: str, source: str, target: str, **props: Any) -> str:
        return self.add(
            stix2.Relationship,
            "relationship",
            (rtype, source, target),
            True,
            relationship_type=rtype,
            source_ref=source,
            target_ref=target,
            **props,
        )

    def family(self, name: str) -> str:
        return self.add(stix2.Malware, "malware", ("family", name), False, name=name, is_family=True)

    def actor(self, name: str) -> str:
        return self.add(stix2.IntrusionSet, "intrusion-set", (name,), False, name=name)

    def sample(self, sha256: str) -> str:
        file = stix2.File(hashes={"SHA-256": sha256}, object_marking_refs=[self.marking.id])
        self.objects[file.id] = file
        self.files[sha256] = file.id
        return self.add(
            stix2.Malware,
            "malware",
            ("sample", sha256),
            False,
            name=sha256,
            is_family=False,
            sample_refs=[file.id],
        )

    def attack_pattern(self, technique: str) -> str:
        ref = {"source_name": "mitre-attack", "external_id": technique}  # a URL would want a hash
        return self.add(
            stix2.AttackPattern,
            "attack-pattern",
            (technique,),
            False,
            name=technique,
            external_references=[ref],
        )


def _samples_for(doc: AttributionDocument, h: Hypothesis) -> list[str]:
    """Input samples whose evidence supports ``h``; every input when the support is case-wide."""
    by_id = doc.evidence_by_id()
    found = {by_id[a.evidence_id].sample for a in h.support if a.evidence_id in by_id}
    own = sorted(s for s in found if s)
    return own or _all_samples(doc)


def _all_samples(doc: AttributionDocument) -> list[str]:
    return sorted(s.sha256 for s in doc.inputs)


def _percent(p: float) -> int:
    return round(p * 100)


def _claims(b: _Builder, campaign: str) -> None:
    doc = b.doc
    for h in (h for h in doc.hypotheses if is_claim(doc, h)):
        pct = _percent(h.probability)
        say = {
            "confidence": pct,
            "description": f"{h.id}: {h.estimative} ({pct}%), {h.confidence} confidence",
        }
        if h.level == "family":
            target, rtype = b.family(h.name), "variant-of"
        else:
            target, rtype = b.actor(h.name), "authored-by"
            b.relate("attributed-to", campaign, target, **say)
        for s in _samples_for(doc, h):
            b.relate(rtype, b.sample(s), target, **say)


def _indicators(b: _Builder) -> None:
    doc = b.doc
    for ev in doc.evidence:
        pattern = stix_pattern(indicator_type(doc, ev), ev.value) if is_attributable(doc, ev) else None
        if pattern is None:
            continue
        types = ["attribution"] if ev.actors else ["unknown"]
        ind = b.add(
            stix2.Indicator,
            "indicator",
            (pattern,),
            True,
            name=f"{indicator_type(doc, ev)} {ev.value}",
            description=ev.detail or f"{ev.kind} evidence {ev.id}",
            indicator_types=types,
            pattern=pattern,
            pattern_type="stix",
            valid_from=b.case_time,
        )
        for actor in ev.actors:
            b.relate("indicates", ind, b.actor(actor), description=f"{ev.kind} {ev.subtype} ({ev.id})")
        if ev.sample:
            b.relate("indicates", ind, b.sample(ev.sample), description=f"found in the sample ({ev.id})")


def _analyses(b: _Builder) -> None:
    doc = b.doc
    verdict = doc.hypothesis(doc.verdict.hypothesis)
    result_name = None if doc.verdict.abstained or verdict is None else verdict.name
    modules = sorted({e.source for e in doc.evidence if e.source})
    for s in doc.inputs:
        sample = b.sample(s.sha256)
        props: dict[str, Any] = {"modules": modules} if modules else {}
        if result_name:
            props["result_name"] = result_name
        analysis = b.add(
            stix2.MalwareAnalysis,
            "malware-analysis",
            ("analysis", s.sha256),
            True,
            product="attributor",
            version=doc.tool.version,
            analysis_engine_version=doc.tool.version,
            analysis_definition_version=doc.corpus.digest,
            sample_ref=b.files[s.sha256],
            result="unknown",  # attributor names authors; it does not judge maliciousness
            **props,
        )
        b.relate("static-analysis-of", analysis, sample)


def note_content(doc: AttributionDocument) -> str:
    """The note body: verdict line, then one line per hypothesis, then the document's notes."""
    v = doc.verdict
    head = "abstained" if v.abstained else v.hypothesis
    lines = [
        f"verdict: {head}: {v.estimative} ({_percent(v.probability)}%), {v.confidence} confidence",
        f"corpus: {doc.corpus.digest} ({doc.corpus.samples} samples); attributor {doc.tool.version}",
        "hypotheses:",
    ]
    lines += [
        f"- {h.id}: {h.estimative} ({_percent(h.probability)}%), {h.confidence} confidence"
        for h in doc.hypotheses
    ]
    lines += [
        f"input {s.sha256}: {s.name}, {s.format}/{s.arch}, {s.function_count} functions, "
        f"coverage {s.coverage:.0%}, {s.status}"
        for s in doc.inputs
    ]
    lines += [f"note: {n}" for n in doc.notes]
    return "\n".join(lines)


def _ordered(objects: Iterable[Any]) -> list[Any]:
    return sorted(objects, key=lambda o: (_TYPE_ORDER.index(o.type), o.id))


def _build(doc: AttributionDocument, timestamp: datetime) -> Iterator[Any]:
    b = _Builder(doc, timestamp)
    b.add(stix2.Identity, "identity", ("attributor",), False, name="attributor", identity_class="system")
    campaign = b.add(
        stix2.Campaign,
        "campaign",
        ("campaign",),
        True,
        name=doc.case.title or doc.case.id,
        description=f"the activity examined in attributor case {doc.case.id}",
    )
    for s in doc.inputs:
        b.relate("uses", campaign, b.sample(s.sha256))
    for family, actors in family_actors(doc).items():
        for actor in actors:
            b.relate("authored-by", b.family(family), b.actor(actor), description="corpus label")
    for h in doc.hypotheses:
        names = (h.name,) if h.level != "unknown" else ()
        for f in (*h.families, *(names if h.level == "family" else ())):
            b.family(f)
        for a in (*h.actors, *(names if h.level == "actor" else ())):
            b.actor(a)
    _claims(b, campaign)
    _indicators(b)
    for ev in doc.evidence:
        for technique in ev.attack:
            for sha in (ev.sample,) if ev.sample else _all_samples(doc):
                b.relate("uses", b.sample(sha), b.attack_pattern(technique), description=ev.value)
    _analyses(b)
    subjects = sorted(o for o in b.objects if o.startswith(("malware--", "intrusion-set--", "campaign--")))
    b.add(
        stix2.Note,
        "note",
        ("verdict",),
        True,
        abstract=doc.verdict.text,
        content=note_content(doc),
        object_refs=subjects,
    )
    refs = sorted(o for o in b.objects if not o.startswith(("marking-definition--", "identity--")))
    b.add(
        stix2.Report,
        "report",
        ("report",),
        True,
        name=doc.case.title or doc.case.id,
        description=doc.verdict.text,
        report_types=["threat-report"],
        published=timestamp,
        object_refs=refs,
    )
    yield from _ordered(b.objects.values())


def aware_utc(timestamp: datetime | None) -> datetime:
    """``timestamp`` in UTC (:data:`REFERENCE_TIME` for ``None``); a naive one is a ``ValueError``."""
    if timestamp is None:
        return REFERENCE_TIME
    if timestamp.tzinfo is None:
        raise ValueError("timestamp must be timezone-aware")
    return timestamp.astimezone(UTC)


def stix_bundle(doc: AttributionDocument, timestamp: datetime | None = None) -> stix2.Bundle:
    """The STIX 2.1 bundle for ``doc`` (see the module docstring for its contents).

    Args:
        doc: the attribution document.
        timestamp: when the case's statements were made (e.g. the case's creation time), timezone
            aware; ``None`` stamps them with :data:`REFERENCE_TIME`, which claims no time.

    Raises:
        ValueError: ``timestamp`` is naive.
    """
    when = aware_utc(timestamp)
    objects = list(_build(doc, when))
    bundle_id = f"bundle--{stable_uuid('bundle', doc.case.id, when.isoformat(), doc.to_json())}"
    return stix2.Bundle(objects=objects, id=bundle_id, allow_custom=False)


def render_stix(doc: AttributionDocument, timestamp: datetime | None = None) -> str:
    """The bundle as JSON: sorted keys, 2-space indent, newline-terminated, byte-stable.

    Example::

        >>> text = render_stix(example_document())
        >>> json.loads(text)["type"]
        'bundle'
    """
    raw = stix_bundle(doc, timestamp).serialize()
    return json.dumps(json.loads(raw), sort_keys=True, indent=2, ensure_ascii=False) + "\n"
