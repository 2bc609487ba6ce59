"""Intel from a STIX 2.1 bundle (JSON), read as plain data: nothing in it is trusted or executed.

What becomes an :class:`IntelRecord`:

* ``indicator`` objects with ``pattern_type`` ``stix``: every equality comparison
  ``[ipv4-addr:value = '…']`` (also ``ipv6-addr``, ``domain-name``, ``url``, ``email-addr``) in the
  pattern, joined by ``OR`` or ``AND`` alike (each part names infrastructure). ``valid_from`` /
  ``valid_until`` give first/last seen;
* SCOs of those types referenced by ``observed-data`` (``object_refs``, or the deprecated embedded
  ``objects``), with ``first_observed``/``last_observed``; an ``ipv4-addr``/``ipv6-addr`` whose
  ``belongs_to_refs`` names an ``autonomous-system`` carries its ASN.

The actor: a ``relationship`` from the indicator (or observed-data, or SCO) ``indicates`` /
``attributed-to`` / ``related-to`` an ``intrusion-set`` or ``threat-actor`` (its ``name``), or a
``malware`` that is ``attributed-to`` one. Several actors give one record each; none gives a record
with no actor. ``created_by_ref`` names the source (an ``identity``'s ``name``), ``confidence`` is
copied. Patterns with other object types (file hashes ...) are counted as skipped.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from attributor.errors import IndicatorError
from attributor.intel.actors import resolve_actor
from attributor.intel.model import (
    IndicatorType,
    IntelFormatError,
    IntelRecord,
    Provenance,
    canon_indicator,
    check_confidence,
    parse_time,
)

SCO_TYPES = {
    "ipv4-addr": IndicatorType.IPV4,
    "ipv6-addr": IndicatorType.IPV6,
    "domain-name": IndicatorType.DOMAIN,
    "url": IndicatorType.URL,
    "email-addr": IndicatorType.EMAIL,
}
ACTOR_TYPES = frozenset({"intrusion-set", "threat-actor"})
_LINKS = frozenset({"indicates", "attributed-to", "related-to"})
_COMPARISON = re.compile(r"([a-z0-9-]+):value\s*=\s*'((?:[^'\\]|\\.){0,8192})'")


@dataclass
class _Bundle:
    name: str
    objects: dict[str, dict[str, Any]] = field(default_factory=dict)
    links: dict[str, list[str]] = field(default_factory=dict)  # source id -> target ids
    skipped: int = 0


def parse_stix(doc: Any, name: str) -> list[IntelRecord]:
    """Every record in STIX bundle ``doc`` (parsed JSON) from file ``name``, sorted by object order.

    Raises:
        IntelFormatError: not a bundle, an object without ``type``/``id``, a bad pattern, time,
            confidence or indicator value (the message names the object's id).
    """
    bundle = _index(doc, name)
    records: list[IntelRecord] = []
    for obj_id, obj in bundle.objects.items():
        try:
            if obj["type"] == "indicator":
                records.extend(_from_indicator(bundle, obj_id, obj))
            elif obj["type"] == "observed-data":
                records.extend(_from_observed(bundle, obj_id, obj))
        except (IndicatorError, ValueError, TypeError) as e:
            raise IntelFormatError(f"{name}: object {_show(obj_id)}: {e}") from None
    return records


def _index(doc: Any, name: str) -> _Bundle:
    if not isinstance(doc, dict) or doc.get("type") != "bundle":
        raise IntelFormatError(f'{name}: not a STIX bundle (no "type": "bundle")')
    objects = doc.get("objects", [])
    if not isinstance(objects, list):
        raise IntelFormatError(f'{name}: bundle "objects" is not a list')
    bundle = _Bundle(name)
    for i, obj in enumerate(objects):
        if not (
            isinstance(obj, dict) and isinstance(obj.get("type"), str) and isinstance(obj.get("id"), str)
        ):
            raise IntelFormatError(f'{name}: object #{i} has no "type" and "id" strings')
        bundle.objects.setdefault(obj["id"], obj)
        if obj["type"] == "relationship" and obj.get("relationship_type") in _LINKS:
            src, dst = obj.get("source_ref"), obj.get("target_ref")
            if not (isinstance(src, str) and isinstance(dst, str)):
                raise IntelFormatError(f"{name}: object {_show(obj['id'])}: relationship without refs")
            bundle.links.setdefault(src, []).append(dst)
    return bundle


def _actors(bundle: _Bundle, *ids: str) -> list[str]:
    """Actor names linked from any of ``ids`` (directly, or through one malware), sorted."""
    names: set[str] = set()
    for start in ids:
        for target in bundle.links.get(start, ()):
            obj = bundle.objects.get(target, {})
            if obj.get("type") in ACTOR_TYPES:
                names.add(_name(obj))
            elif obj.get("type") == "malware":
                names.update(
                    _name(bundle.objects[t])
                    for t in bundle.links.get(target, ())
                    if bundle.objects.get(t, {}).get("type") in ACTOR_TYPES
                )
    return sorted(n for n in names if n)


def _name(obj: dict[str, Any]) -> str:
    name = obj.get("name")
    return name.strip() if isinstance(name, str) else ""


def _source(bundle: _Bundle, obj: dict[str, Any]) -> str:
    ref = obj.get("created_by_ref")
    return _name(bundle.objects.get(ref, {})) if isinstance(ref, str) else ""


def _records(
    bundle: _Bundle, obj_id: str, obj: dict[str, Any], values: list[tuple[IndicatorType, str, int | None]],
    actors: list[str], times: tuple[str | None, str | None],
) -> Iterator[IntelRecord]:  # fmt: skip
    first, last = parse_time(_text(times[0])), parse_time(_text(times[1]), end_of_day=True)
    confidence = check_confidence(obj.get("confidence"))
    source = _source(bundle, obj)
    for kind, raw, asn in values:
        canon_kind, value = canon_indicator(raw, kind)
        named: list[str | None] = list(actors) or [None]
        for actor in named:
            yield IntelRecord(
                type=canon_kind, value=value, actor=resolve_actor(actor), actor_raw=actor,
                first_seen=first, last_seen=last, source=source, confidence=confidence, asn=asn,
                provenance=Provenance(bundle.name, obj_id),
            )  # fmt: skip


def _text(value: Any) -> str | None:
    if value is None or isinstance(value, str):
        return value
    raise ValueError(f"expected a time string, got {type(value).__name__}")


def _from_indicator(bundle: _Bundle, obj_id: str, obj: dict[str, Any]) -> Iterator[IntelRecord]:
    if obj.get("pattern_type", "stix") != "stix":
        bundle.skipped += 1
        return iter(())
    pattern = obj.get("pattern")
    if not isinstance(pattern, str) or not pattern.strip().startswith("["):
        raise ValueError("indicator has no STIX pattern")
    values: list[tuple[IndicatorType, str, int | None]] = []
    for m in _COMPARISON.finditer(pattern):
        kind = SCO_TYPES.get(m.group(1))
        if kind is not None:
            values.append((kind, re.sub(r"\\(.)", r"\1", m.group(2)), None))
    if not values:
        bundle.skipped += 1
    actors = _actors(bundle, obj_id)
    return _records(bundle, obj_id, obj, values, actors, (obj.get("valid_from"), obj.get("valid_until")))


def _from_observed(bundle: _Bundle, obj_id: str, obj: dict[str, Any]) -> Iterator[IntelRecord]:
    refs = obj.get("object_refs")
    if isinstance(refs, list):
        scos = [(r, bundle.objects.get(r, {})) for r in refs if isinstance(r, str)]
        local: dict[str, Any] = bundle.objects
    else:  # STIX 2.0 style: objects embedded in a dict keyed by "0", "1", ...
        embedded = obj.get("objects")
        local = embedded if isinstance(embedded, dict) else {}
        scos = [(k, v) for k, v in local.items() if isinstance(v, dict)]
    values: list[tuple[IndicatorType, str, int | None]] = []
    sco_ids: list[str] = []
    for sco_id, sco in scos:
        kind = SCO_TYPES.get(str(sco.get("type")))
        if kind is None or not isinstance(sco.get("value"), str):
            continue
        values.append((kind, sco["value"], _asn(sco, local)))
        sco_ids.append(sco_id)
    actors = _actors(bundle, obj_id, *sco_ids)
    return _records(
        bundle, obj_id, obj, values, actors, (obj.get("first_observed"), obj.get("last_observed"))
    )


def _asn(sco: dict[str, Any], objects: dict[str, Any]) -> int | None:
    for ref in sco.get("belongs_to_refs") or ():
        target = objects.get(ref) if isinstance(ref, str) else None
        if isinstance(target, dict) and target.get("type") == "autonomous-system":
            number = target.get("number")
            if isinstance(number, int) and not isinstance(number, bool) and 0 <= number <= 0xFFFFFFFF:
                return number
            raise ValueError("autonomous-system number is not an integer from 0 to 4294967295")
    return None


def _show(obj_id: str) -> str:
    return ascii(obj_id[:100])
