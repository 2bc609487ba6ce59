"""MISP export of an :class:`AttributionDocument`: one event as MISP JSON (``{"Event": {...}}``).

The event (see ``docs/exports.md``):

* ``info`` is the case title and the verdict line; ``threat_level_id`` 4 (undefined: attributor
  names authors, it does not rate threat), ``analysis`` 2 (completed), ``distribution`` from the
  TLP (:data:`DISTRIBUTION`);
* tags: the TLP 2.0 taxonomy tag (``tlp:amber`` ...); for every hypothesis the report calls at
  least "likely" (never when the verdict abstained): for an actor a ``misp-galaxy:threat-actor``
  tag when the name (or, unambiguously, a synonym) is in the galaxy shipped with
  ``pymispgalaxies``, else ``attributor:actor="…"``; for a family ``attributor:family="…"``;
  a ``misp-galaxy:mitre-attack-pattern`` tag per ATT&CK id in the evidence;
* attributes: the SHA-256 of each input sample, and each indicator / infrastructure item with a
  MISP type; ``to_ids`` is false for non-attributable items (public resolvers, CDNs ...);
* an event report ``attribution`` with the verdict, every hypothesis and the inputs.

UUIDs are UUIDv5 (:func:`attributor.render.stix.stable_uuid`) over the case id and the item.
Timestamps and ``date`` are written only when the caller passes ``timestamp``; without one the
MISP instance stamps the event on import, and the output stays byte-identical.
"""

from __future__ import annotations

import json
from datetime import datetime
from functools import lru_cache
from typing import Any, Final

from pymisp import MISPEvent
from pymispgalaxies import Cluster

from attributor.render.stix import (
    aware_utc,
    indicator_type,
    is_attributable,
    is_claim,
    note_content,
    stable_uuid,
)
from attributor.report.attribution import AttributionDocument, EvidenceRecord

# MISP distribution levels: 0 your organisation, 1 this community, 3 all communities.
DISTRIBUTION: Final[dict[str, int]] = {
    "TLP:CLEAR": 3,
    "TLP:GREEN": 1,
    "TLP:AMBER": 0,
    "TLP:AMBER+STRICT": 0,
    "TLP:RED": 0,
}
# indicator type in the document -> (MISP attribute type, category)
ATTRIBUTE_TYPES: Final[dict[str, tuple[str, str]]] = {
    "ipv4": ("ip-dst", "Network activity"),
    "ipv6": ("ip-dst", "Network activity"),
    "domain": ("domain", "Network activity"),
    "url": ("url", "Network activity"),
    "email": ("email", "Network activity"),
    "md5": ("md5", "Payload delivery"),
    "sha1": ("sha1", "Payload delivery"),
    "sha256": ("sha256", "Payload delivery"),
}


@lru_cache(maxsize=4)
def _cluster(name: str) -> Cluster:
    return Cluster(name)


def galaxy_value(cluster: str, name: str) -> str | None:
    """The galaxy value for ``name``: exact value, else case-insensitive value, else the one value
    with ``name`` as a synonym; ``None`` when absent or ambiguous."""
    values = list(_cluster(cluster).values())
    folded = name.casefold()
    for candidates in (
        [v for v in values if v.value == name],
        [v for v in values if v.value.casefold() == folded],
        [v for v in values if any(s.casefold() == folded for s in v.searchable)],
    ):
        if len(candidates) == 1:
            return str(candidates[0].value)
    return None


def _machine_tag(namespace: str, value: str) -> str:
    return f'{namespace}="{value.replace(chr(34), chr(39))}"'


def actor_tag(name: str) -> str:
    """``misp-galaxy:threat-actor="NAME"`` when the galaxy knows ``name``, else ``attributor:actor``."""
    value = galaxy_value("threat-actor", name)
    return (
        _machine_tag("misp-galaxy:threat-actor", value) if value else _machine_tag("attributor:actor", name)
    )


def family_tag(name: str) -> str:
    """``attributor:family="NAME"``: corpus family labels are short words ("aurora") that collide
    with unrelated Malpedia entries, so they are never mapped to a galaxy by name."""
    return _machine_tag("attributor:family", name)


def attack_tag(technique: str) -> str:
    """``misp-galaxy:mitre-attack-pattern="Name - Txxxx"``, else ``attributor:attack="Txxxx"``."""
    try:
        value = _cluster("mitre-attack-pattern").get_by_external_id(technique).value
    except KeyError:
        return _machine_tag("attributor:attack", technique)
    return _machine_tag("misp-galaxy:mitre-attack-pattern", str(value))


def event_tags(doc: AttributionDocument) -> list[str]:
    """TLP tag first, then the claimed actors / families and the ATT&CK techniques, sorted."""
    tags: set[str] = set()
    for h in doc.hypotheses:
        if is_claim(doc, h):
            tags.add(actor_tag(h.name) if h.level == "actor" else family_tag(h.name))
    tags |= {attack_tag(t) for ev in doc.evidence for t in ev.attack}
    return [doc.case.tlp.lower(), *sorted(tags)]


def _indicator_comment(doc: AttributionDocument, ev: EvidenceRecord) -> str:
    parts = [ev.detail or f"{ev.kind} {ev.subtype}", f"evidence {ev.id}"]
    if ev.actors:
        parts.append("actors: " + ", ".join(ev.actors))
    reasons = [r for m in doc.infrastructure if m.evidence_id == ev.id for r in m.non_attributable]
    if not is_attributable(doc, ev):
        parts.append("non-attributable" + (": " + "; ".join(reasons) if reasons else ""))
    return "; ".join(parts)


def _attributes(doc: AttributionDocument) -> list[dict[str, Any]]:
    rows: dict[tuple[str, str], dict[str, Any]] = {}
    for s in doc.inputs:
        rows[("sha256", s.sha256)] = {
            "type": "sha256",
            "category": "Payload delivery",
            "value": s.sha256,
            "to_ids": True,
            "comment": f"input sample {s.name}",
        }
    for ev in doc.evidence:
        mapped = (
            ATTRIBUTE_TYPES.get(indicator_type(doc, ev))
            if ev.kind in ("indicator", "infrastructure")
            else None
        )
        if mapped is None or (mapped[0], ev.value) in rows:
            continue
        rows[(mapped[0], ev.value)] = {
            "type": mapped[0],
            "category": mapped[1],
            "value": ev.value,
            "to_ids": is_attributable(doc, ev),
            "comment": _indicator_comment(doc, ev),
        }
    return [rows[k] for k in sorted(rows)]


def misp_event(doc: AttributionDocument, timestamp: datetime | None = None) -> MISPEvent:
    """The MISP event for ``doc`` (see the module docstring).

    Args:
        doc: the attribution document.
        timestamp: timezone-aware time of the case; ``None`` leaves timestamps to the MISP instance.

    Raises:
        ValueError: ``timestamp`` is naive.
    """
    when = aware_utc(timestamp) if timestamp is not None else None
    stamp: dict[str, Any] = {"timestamp": when} if when else {}
    case = doc.case
    event = MISPEvent()
    event.uuid = stable_uuid("misp-event", case.id)
    event.info = f"{case.title or case.id}: {doc.verdict.text}"
    event.distribution = DISTRIBUTION[case.tlp]
    event.threat_level_id = 4
    event.analysis = 2
    if when:
        event.force_timestamp = True  # pymisp drops the timestamp of an edited event otherwise
        event.timestamp = when
        event.date = when.date()
    for tag in event_tags(doc):
        event.add_tag(tag)
    for row in _attributes(doc):
        uid = stable_uuid("misp-attribute", case.id, row["type"], row["value"])
        event.add_attribute(uuid=uid, disable_correlation=False, **row, **stamp)
    event.add_event_report(
        "attribution",
        note_content(doc),
        uuid=stable_uuid("misp-event-report", case.id),
        distribution=5,  # inherit the event's
        **stamp,
    )
    return event


def render_misp(doc: AttributionDocument, timestamp: datetime | None = None) -> str:
    """``{"Event": ...}`` MISP JSON: sorted keys, 2-space indent, newline-terminated, byte-stable.

    Load it back with ``pymisp.MISPEvent().load(text)`` or import it in MISP (Events > Import).
    """
    body = json.loads(misp_event(doc, timestamp).to_json())
    return json.dumps({"Event": body}, sort_keys=True, indent=2, ensure_ascii=False) + "\n"
