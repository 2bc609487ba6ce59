"""Intel from MISP event JSON (``{"Event": {...}}``, a list of them, or ``{"response": [...]}``).

Read as plain data (``pymisp``'s object model is not needed to read it and would trust more).
Per event:

* attributes of the types in :data:`ATTRIBUTE_TYPES`, from ``Event.Attribute`` and every
  ``Event.Object[].Attribute``; composite ``domain|ip`` gives two records, ``ip-dst|port`` the
  address. Other types (hashes, file names ...) are counted as skipped;
* the actor from ``misp-galaxy:threat-actor="X"`` tags or ``Galaxy`` clusters of type
  ``threat-actor``, on the attribute, else on its object, else on the event;
* first/last seen: the attribute's ``first_seen``/``last_seen``, else its object's, else the
  event ``date`` as first seen;
* the source: ``Orgc.name`` (else ``Org.name``); confidence from an
  ``estimative-language:confidence-in-analytic-judgment`` tag (low 20, moderate 50, high 80);
* an ``AS`` attribute in the same object gives the ASN of that object's addresses.
"""

from __future__ import annotations

import re
from typing import Any

from attributor.errors import IndicatorError
from attributor.intel.actors import resolve_actor
from attributor.intel.model import (
    IndicatorType,
    IntelFormatError,
    IntelRecord,
    Provenance,
    canon_indicator,
    parse_asn,
    parse_time,
)

ATTRIBUTE_TYPES: dict[str, IndicatorType | None] = {
    "ip-src": None, "ip-dst": None, "ip-src|port": None, "ip-dst|port": None,
    "domain": IndicatorType.DOMAIN, "hostname": IndicatorType.DOMAIN,
    "hostname|port": IndicatorType.DOMAIN, "domain|ip": IndicatorType.DOMAIN,
    "url": IndicatorType.URL, "link": IndicatorType.URL,
    "email": IndicatorType.EMAIL, "email-src": IndicatorType.EMAIL, "email-dst": IndicatorType.EMAIL,
}  # fmt: skip
_ACTOR_TAG = re.compile(r'misp-galaxy:threat-actor="(.{1,200})"')
_CONFIDENCE_TAG = re.compile(r'estimative-language:confidence-in-analytic-judgment="(low|moderate|high)"')
_CONFIDENCE = {"low": 20, "moderate": 50, "high": 80}


def events_of(doc: Any, name: str) -> list[dict[str, Any]]:
    """The event dicts in a MISP export (one event, a list, or a search ``response``)."""
    if isinstance(doc, dict) and isinstance(doc.get("response"), list):
        doc = doc["response"]
    items = doc if isinstance(doc, list) else [doc]
    events = []
    for i, item in enumerate(items):
        event = item.get("Event") if isinstance(item, dict) else None
        if not isinstance(event, dict):
            raise IntelFormatError(f'{name}: item #{i} is not a MISP event (no "Event" object)')
        events.append(event)
    return events


def parse_misp(doc: Any, name: str) -> list[IntelRecord]:
    """Every record in MISP export ``doc`` (parsed JSON) from file ``name``, in file order.

    Raises:
        IntelFormatError: not a MISP event, or an attribute with a malformed value, time or tag
            (the message names the event and the attribute's uuid or position).
    """
    records: list[IntelRecord] = []
    for event in events_of(doc, name):
        records.extend(_event(event, name))
    return records


def _event(event: dict[str, Any], name: str) -> list[IntelRecord]:
    where = f"{name}: event {_show(event.get('uuid') or event.get('id') or event.get('info') or '?')}"
    ctx = {
        "actors": _actors_of(event),
        "first": _time(event.get("date"), where),
        "last": None,
        "source": _org(event),
        "confidence": _confidence(event),
        "asn": None,
    }
    records: list[IntelRecord] = []
    for i, attr in enumerate(_list(event.get("Attribute"), where)):
        records.extend(_attribute(attr, ctx, f"{where} attribute #{i}", name))
    for j, obj in enumerate(_list(event.get("Object"), where)):
        attrs = _list(obj.get("Attribute") if isinstance(obj, dict) else None, f"{where} object #{j}")
        octx = dict(ctx)
        octx["actors"] = _actors_of(obj) or ctx["actors"]
        octx["first"] = _time(obj.get("first_seen"), where) or ctx["first"]
        octx["last"] = _time(obj.get("last_seen"), where, end_of_day=True)
        octx["asn"] = _object_asn(attrs, f"{where} object #{j}")
        for i, attr in enumerate(attrs):
            records.extend(_attribute(attr, octx, f"{where} object #{j} attribute #{i}", name))
    return records


def _attribute(attr: Any, ctx: dict[str, Any], where: str, name: str) -> list[IntelRecord]:
    if not isinstance(attr, dict):
        raise IntelFormatError(f"{where}: not an object")
    kind_name, raw = attr.get("type"), attr.get("value")
    if kind_name not in ATTRIBUTE_TYPES:
        return []
    uid = attr.get("uuid") or attr.get("id")
    where = f"{where.rsplit(' attribute #', 1)[0]} attribute {_show(uid)}" if uid else where
    if not isinstance(raw, str):
        raise IntelFormatError(f"{where}: value is not a string")
    actors = _actors_of(attr) or ctx["actors"]
    try:
        first = parse_time(attr.get("first_seen")) or ctx["first"]
        last = parse_time(attr.get("last_seen"), end_of_day=True) or ctx["last"]
        values = [canon_indicator(v, k) for v, k in _split(str(kind_name), raw)]
    except (IndicatorError, ValueError, TypeError) as e:
        raise IntelFormatError(f"{where}: {e}") from None
    prov = Provenance(name, str(uid) if uid else where.split(": ", 1)[-1])
    return [
        IntelRecord(
            type=kind,
            value=value,
            actor=resolve_actor(actor),
            actor_raw=actor,
            first_seen=first,
            last_seen=last,
            source=ctx["source"],
            confidence=_confidence(attr) or ctx["confidence"],
            asn=ctx["asn"] if kind in (IndicatorType.IPV4, IndicatorType.IPV6) else None,
            provenance=prov,
        )
        for kind, value in values
        for actor in actors or [None]
    ]


def _split(kind: str, raw: str) -> list[tuple[str, IndicatorType | None]]:
    """The indicator values of one attribute, with type hints; composite types are split on ``|``."""
    if kind == "domain|ip":
        domain, _, ip = raw.partition("|")
        return [(domain, IndicatorType.DOMAIN)] + ([(ip, None)] if ip else [])
    if kind.endswith("|port"):
        return [(raw.rpartition("|")[0] or raw, ATTRIBUTE_TYPES[kind])]
    return [(raw, ATTRIBUTE_TYPES[kind])]


def _list(value: Any, where: str) -> list[Any]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise IntelFormatError(f"{where}: expected a list, got {type(value).__name__}")
    return value


def _tags(obj: dict[str, Any]) -> list[str]:
    tags = obj.get("Tag")
    return (
        [t["name"] for t in tags if isinstance(t, dict) and isinstance(t.get("name"), str)]
        if isinstance(tags, list)
        else []
    )


def _actors_of(obj: dict[str, Any]) -> list[str]:
    """Threat-actor names in ``obj``'s tags and galaxies, sorted, without repeats."""
    names = {m.group(1) for t in _tags(obj) if (m := _ACTOR_TAG.fullmatch(t))}
    galaxies = obj.get("Galaxy")
    for galaxy in galaxies if isinstance(galaxies, list) else ():
        if not isinstance(galaxy, dict) or galaxy.get("type") != "threat-actor":
            continue
        clusters = galaxy.get("GalaxyCluster")
        for cluster in clusters if isinstance(clusters, list) else ():
            if isinstance(cluster, dict) and isinstance(cluster.get("value"), str):
                names.add(cluster["value"])
    return sorted(n.strip() for n in names if n.strip())


def _confidence(obj: dict[str, Any]) -> int | None:
    found = [_CONFIDENCE[m.group(1)] for t in _tags(obj) if (m := _CONFIDENCE_TAG.fullmatch(t))]
    return min(found) if found else None


def _org(event: dict[str, Any]) -> str:
    for key in ("Orgc", "Org"):
        org = event.get(key)
        if isinstance(org, dict) and isinstance(org.get("name"), str):
            return org["name"].strip()
    return ""


def _object_asn(attrs: list[Any], where: str) -> int | None:
    for attr in attrs:
        if isinstance(attr, dict) and attr.get("type") == "AS":
            try:
                return parse_asn(attr.get("value"))
            except ValueError as e:
                raise IntelFormatError(f"{where}: {e}") from None
    return None


def _time(value: Any, where: str, *, end_of_day: bool = False) -> Any:
    try:
        return parse_time(value, end_of_day=end_of_day) if isinstance(value, str | None) else _bad(value)
    except ValueError as e:
        raise IntelFormatError(f"{where}: {e}") from None


def _bad(value: Any) -> None:
    raise ValueError(f"expected a date string, got {type(value).__name__}")


def _show(value: Any) -> str:
    return ascii(str(value)[:100])
