"""Match incident indicators against the intel store.

Kinds, strongest first (each intel record is reported once per query, under its strongest kind):

==============  ========  =============================================================
kind            strength  when
==============  ========  =============================================================
exact           strong    same type and canonical value (IP, domain, URL, e-mail)
url-host        moderate  a URL's host is an intel domain/IP, an intel URL's host is the
                          queried domain/IP, or two URLs share a host
parent-domain   moderate  other names under the same registrable domain
                          (:func:`attributor.intel.suffix.registrable_domain`)
same-/24        weak      IPv4 addresses in the same /24
same-asn        weak      both sides carry the same AS number
==============  ========  =============================================================

Time window: a record is *in window* when the observation time lies within
``[first_seen - tolerance, last_seen + tolerance]`` (an open side when unknown); the default
tolerance is :data:`DEFAULT_TOLERANCE` (30 days), because intel reports lag and infrastructure is
set up before and kept after the days anyone saw it. A match group is in window if any of its
records is; matches outside are kept, flagged ``in_window=False``; ``None`` means no times to
compare.

Non-attributable: when the queried indicator (a URL: its host) is on a warning list
(:mod:`attributor.intel.warninglists`), the match is still reported, with the list names in
``non_attributable``, and :attr:`IntelMatch.attributes` is False: it attributes nothing.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from attributor.intel.model import IndicatorType, IntelRecord, IocQuery, is_ip, iso, net24_of, sort_key
from attributor.intel.store import IntelStore
from attributor.intel.suffix import registrable_domain
from attributor.intel.warninglists import WarningChecker, default_checker

DEFAULT_TOLERANCE = timedelta(days=30)


class MatchKind(StrEnum):
    EXACT = "exact"
    URL_HOST = "url-host"
    PARENT_DOMAIN = "parent-domain"
    SAME_24 = "same-/24"
    SAME_ASN = "same-asn"


class Strength(StrEnum):
    STRONG = "strong"
    MODERATE = "moderate"
    WEAK = "weak"


STRENGTH = {
    MatchKind.EXACT: Strength.STRONG,
    MatchKind.URL_HOST: Strength.MODERATE,
    MatchKind.PARENT_DOMAIN: Strength.MODERATE,
    MatchKind.SAME_24: Strength.WEAK,
    MatchKind.SAME_ASN: Strength.WEAK,
}
_ORDER = list(MatchKind)


@dataclass(frozen=True)
class IntelMatch:
    """One queried indicator matching the intel of one actor in one way.

    Attributes:
        query: what was looked up.
        kind, strength: how it matched (see the module table).
        actor: the canonical actor of ``records`` (None: intel without an actor).
        records: the intel records behind the match, sorted.
        in_window: the observation time against the records' first/last seen (module doc).
        non_attributable: warning lists the queried indicator is on (sorted); non-empty means
            the match attributes nothing.
    """

    query: IocQuery
    kind: MatchKind
    strength: Strength
    actor: str | None
    records: tuple[IntelRecord, ...]
    in_window: bool | None
    non_attributable: tuple[str, ...] = ()

    @property
    def attributes(self) -> bool:
        """Whether this match may count towards attributing ``actor``."""
        return self.actor is not None and not self.non_attributable

    def to_dict(self) -> dict[str, object]:
        """JSON-ready form (times ISO 8601 UTC), for ``--format json`` and reports."""
        return {
            "indicator": self.query.value,
            "indicator_type": str(self.query.type),
            "observed": iso(self.query.observed),
            "origin": self.query.origin,
            "match": str(self.kind),
            "strength": str(self.strength),
            "actor": self.actor,
            "attributes": self.attributes,
            "in_window": self.in_window,
            "non_attributable": list(self.non_attributable),
            "intel": [
                {
                    "type": str(r.type),
                    "value": r.value,
                    "actor_raw": r.actor_raw,
                    "source": r.source,
                    "first_seen": iso(r.first_seen),
                    "last_seen": iso(r.last_seen),
                    "confidence": r.confidence,
                    "asn": r.asn,
                    "provenance": f"{r.provenance.file}:{r.provenance.record}",
                }
                for r in self.records
            ],
        }


def in_window(
    observed: datetime | None, r: IntelRecord, tolerance: timedelta = DEFAULT_TOLERANCE
) -> bool | None:
    """Whether ``observed`` falls in ``r``'s first/last seen, widened by ``tolerance``."""
    if observed is None or (r.first_seen is None and r.last_seen is None):
        return None
    if r.first_seen is not None and observed < r.first_seen - tolerance:
        return False
    return not (r.last_seen is not None and observed > r.last_seen + tolerance)


def candidates(q: IocQuery, store: IntelStore) -> dict[IntelRecord, MatchKind]:
    """Every record related to ``q``, with its strongest match kind."""
    found: dict[IntelRecord, MatchKind] = {}

    def offer(records: Iterable[IntelRecord], kind: MatchKind) -> None:
        for r in records:
            if r not in found or _ORDER.index(kind) < _ORDER.index(found[r]):
                found[r] = kind

    offer(store.find_value(q.type, q.value), MatchKind.EXACT)
    host = q.host
    if host is None or q.type is IndicatorType.EMAIL:
        return found
    offer((r for r in store.find_host(host) if r.type is not IndicatorType.EMAIL), MatchKind.URL_HOST)
    if is_ip(host):
        net = net24_of(host)
        if net is not None:
            offer(store.find_net24(net), MatchKind.SAME_24)
        asns = {q.asn} if q.asn is not None else {r.asn for r in store.find_host(host) if r.asn is not None}
        for asn in sorted(asns):
            offer((r for r in store.find_asn(asn) if r.host != host), MatchKind.SAME_ASN)
    else:
        parent = registrable_domain(host)
        if parent is not None:
            offer(
                (r for r in store.find_under(parent) if r.type is not IndicatorType.EMAIL),
                MatchKind.PARENT_DOMAIN,
            )
    return found


def match_indicators(
    queries: list[IocQuery],
    store: IntelStore,
    *,
    checker: WarningChecker | None = None,
    tolerance: timedelta = DEFAULT_TOLERANCE,
) -> list[IntelMatch]:
    """Match every query against ``store``; one :class:`IntelMatch` per (query, kind, actor).

    Args:
        queries: canonical indicators (:func:`attributor.intel.ioc.read_ioc_file`,
            :meth:`IocQuery.parse`); duplicates are matched once.
        store: the intel to search.
        checker: warning lists (default: :func:`default_checker`, loaded once per process).
        tolerance: slack of the time-window check.

    Returns:
        Matches sorted by query (type, value, observed), strength, kind, actor.

    Example:
        >>> match_indicators([IocQuery.parse("198.51.100.7")], MemoryIntelStore())  # doctest: +SKIP
        []
    """
    check = checker or default_checker()
    out: list[IntelMatch] = []
    for q in sorted(set(queries), key=_query_key):
        groups: dict[tuple[MatchKind, str | None], list[IntelRecord]] = {}
        for r, kind in candidates(q, store).items():
            groups.setdefault((kind, r.actor), []).append(r)
        if not groups:
            continue
        warned = check.check(q.type, q.value)
        for (kind, actor), records in groups.items():
            windows = [in_window(q.observed, r, tolerance) for r in records]
            window = True if True in windows else (False if False in windows else None)
            out.append(
                IntelMatch(
                    q, kind, STRENGTH[kind], actor, tuple(sorted(records, key=sort_key)), window, warned
                )
            )
    return sorted(out, key=lambda m: (_query_key(m.query), _ORDER.index(m.kind), m.actor or ""))


def _query_key(q: IocQuery) -> tuple:
    return (str(q.type), q.value, iso(q.observed) or "", q.asn or -1, q.origin)


def actors_of(matches: Iterable[IntelMatch]) -> dict[str, Strength]:
    """Each actor that attributable matches point to, with its strongest match (sorted by name).

    Two names of one actor were resolved to one canonical name at import, so they count once.
    """
    best: dict[str, Strength] = {}
    rank = list(Strength)
    for m in matches:
        if m.attributes and m.actor is not None:
            current = best.get(m.actor)
            if current is None or rank.index(m.strength) < rank.index(current):
                best[m.actor] = m.strength
    return dict(sorted(best.items()))
