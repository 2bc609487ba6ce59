"""Plain data of infrastructure intelligence: :class:`IntelRecord`, :class:`IocQuery`, their errors.

An :class:`IntelRecord` says "this indicator was used by this actor between these dates,
according to this source". Its ``value`` is canonical (:mod:`attributor.indicators.canon`), so
equal indicators compare equal whatever the source spelled; ``actor`` is the alias-resolved name
(:mod:`attributor.intel.actors`) and ``actor_raw`` what the source wrote.

Identity: two records are the same record when their :attr:`IntelRecord.key` is equal. The key
covers the content (type, value, actor, times, source, confidence, ASN) and not the provenance,
so the same intel imported twice, even from a renamed file, is stored once.

Times are timezone-aware UTC :class:`datetime` values. A date without a time means the whole day:
00:00:00 for ``first_seen``, 23:59:59 for ``last_seen`` (:func:`parse_time`).
"""

from __future__ import annotations

import hashlib
import ipaddress
import json
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from enum import StrEnum

from attributor.errors import IndicatorError, LimitExceeded, ManifestError
from attributor.indicators.canon import canon, canon_domain, canon_ip, canon_url, refang


class IntelFormatError(ManifestError):
    """An intel or IOC file is malformed; the message names the file and the line or object."""


class IntelLimitExceeded(LimitExceeded):
    """An intel or IOC file is over a size or count cap; nothing of it is imported."""


class IndicatorType(StrEnum):
    IPV4 = "ipv4"
    IPV6 = "ipv6"
    DOMAIN = "domain"
    URL = "url"
    EMAIL = "email"


_EMAIL = re.compile(r"([^@\s]{1,64})@([^@\s]{1,253})")


def canon_indicator(text: str, type_hint: IndicatorType | None = None) -> tuple[IndicatorType, str]:
    """The type and canonical value of ``text`` (defanged input accepted).

    Without ``type_hint`` the type is guessed: ``@`` without ``://`` is an e-mail address, else
    :func:`attributor.indicators.canon.canon` decides (URL, IP address or domain).

    Raises:
        IndicatorError: ``text`` is not a valid indicator of the (hinted) type.

    >>> canon_indicator("hxxp://Evil[.]example:80/a")
    (<IndicatorType.URL: 'url'>, 'http://evil.example/a')
    """
    if type_hint is IndicatorType.EMAIL or (
        type_hint is None and "@" in refang(text).value and "://" not in text
    ):
        return IndicatorType.EMAIL, _canon_email(text)
    if type_hint is IndicatorType.URL:
        return IndicatorType.URL, canon_url(text).value
    if type_hint is IndicatorType.DOMAIN:
        return IndicatorType.DOMAIN, canon_domain(text).value
    found = canon_ip(text) if type_hint in (IndicatorType.IPV4, IndicatorType.IPV6) else canon(text)
    return IndicatorType(str(found.kind)), found.value


def _canon_email(text: str) -> str:
    """``local@domain`` with the domain canonical; the local part lower-cased (as mail systems do
    in practice, although RFC 5321 lets a server distinguish case)."""
    raw = refang(text).value.strip()
    m = _EMAIL.fullmatch(raw)
    if m is None:
        raise IndicatorError(f"invalid email {text[:80]!a}: not local@domain")
    return f"{m.group(1).lower()}@{canon_domain(m.group(2)).value}"


def host_of(kind: IndicatorType, value: str) -> str | None:
    """The host an indicator names: the domain or IP itself, a URL's host, an e-mail's domain."""
    if kind is IndicatorType.URL:
        host = value.split("://", 1)[1]
        host = re.split(r"[/?#]", host, maxsplit=1)[0]
        if host.startswith("["):  # [v6]:port
            return host[1 : host.index("]")]
        return host.rsplit(":", 1)[0] if ":" in host else host
    if kind is IndicatorType.EMAIL:
        return value.rsplit("@", 1)[1]
    return value


def is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def net24_of(host: str | None) -> str | None:
    """``a.b.c.0/24`` for an IPv4 address, else None."""
    if host is None:
        return None
    try:
        addr = ipaddress.IPv4Address(host)
    except ValueError:
        return None
    return str(ipaddress.IPv4Network(f"{addr}/24", strict=False))


def parse_asn(text: str | int | None) -> int | None:
    """``AS64500``, ``as 64500``, ``64500`` or an int -> 64500; empty -> None.

    Raises:
        ValueError: not an AS number from 0 to 4294967295.
    """
    if text is None or text == "":
        return None
    if isinstance(text, bool):
        raise ValueError(f"{text!r} is not an AS number")
    s = str(text).strip().upper().removeprefix("AS").strip()
    if not s.isascii() or not s.isdigit() or len(s) > 10 or int(s) > 0xFFFFFFFF:
        raise ValueError(f"{str(text)[:40]!a} is not an AS number")
    return int(s)


def parse_time(text: str | None, *, end_of_day: bool = False) -> datetime | None:
    """An ISO 8601 date or date-time as aware UTC; None for empty input.

    A naive date-time is taken as UTC. A bare date is 00:00:00, or 23:59:59 with ``end_of_day``.
    A Unix timestamp (digits only, as MISP writes ``timestamp``) is accepted too.

    Raises:
        ValueError: not a date or date-time.
    """
    if text is None:
        return None
    s = str(text).strip()
    if not s:
        return None
    if s.isascii() and s.isdigit() and len(s) >= 9:
        return datetime.fromtimestamp(int(s), UTC)
    if len(s) > 64:
        raise ValueError(f"{s[:40]!a}... is not a date")
    try:
        if len(s) == 10:
            d = date.fromisoformat(s)
            return datetime.combine(d, time(23, 59, 59) if end_of_day else time(0), UTC)
        dt = datetime.fromisoformat(s.replace("z", "Z"))
    except ValueError:
        raise ValueError(f"{s!a} is not an ISO 8601 date or date-time") from None
    return dt.replace(tzinfo=UTC) if dt.tzinfo is None else dt.astimezone(UTC)


def iso(dt: datetime | None) -> str | None:
    """``2024-05-01T12:00:00Z`` (seconds precision), or None."""
    return None if dt is None else dt.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def check_confidence(value: object) -> int | None:
    """An integer 0..100, or None for empty; raises ValueError otherwise."""
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise ValueError(f"confidence {value!r} is not a number from 0 to 100")
    try:
        n = int(str(value).strip()) if not isinstance(value, int) else value
    except ValueError:
        raise ValueError(f"confidence {str(value)[:40]!a} is not a number from 0 to 100") from None
    if not 0 <= n <= 100:
        raise ValueError(f"confidence {n} is not a number from 0 to 100")
    return n


@dataclass(frozen=True)
class Provenance:
    """Where a record came from: the file's name (not its folder) and the record's id in it
    (``line 12``, a STIX object id, a MISP attribute uuid)."""

    file: str
    record: str


@dataclass(frozen=True)
class IntelRecord:
    """One indicator attributed (or not) to one actor by one source.

    Attributes:
        type: the indicator type.
        value: canonical value (see :func:`canon_indicator`).
        actor: alias-resolved actor name; None when the source names no actor.
        actor_raw: the actor name as the source wrote it.
        first_seen, last_seen: aware UTC, or None when the source does not say.
        source: who reported it (CSV ``source``, STIX identity, MISP org); may be empty.
        confidence: 0..100, or None.
        asn: the autonomous system the address was in, where the data says so.
        provenance: file name and record id.
    """

    type: IndicatorType
    value: str
    actor: str | None
    actor_raw: str | None = None
    first_seen: datetime | None = None
    last_seen: datetime | None = None
    source: str = ""
    confidence: int | None = None
    asn: int | None = None
    provenance: Provenance = Provenance("", "")

    @property
    def host(self) -> str | None:
        return host_of(self.type, self.value)

    @property
    def key(self) -> str:
        """SHA-256 hex of the record's content (everything but provenance and ``actor_raw``)."""
        content = [
            str(self.type), self.value, self.actor, iso(self.first_seen), iso(self.last_seen),
            self.source, self.confidence, self.asn,
        ]  # fmt: skip
        return hashlib.sha256(json.dumps(content, separators=(",", ":")).encode()).hexdigest()


def sort_key(r: IntelRecord) -> tuple:
    """Total order for listing records deterministically."""
    return (
        str(r.type), r.value, r.actor or "", iso(r.first_seen) or "", iso(r.last_seen) or "",
        r.source, -1 if r.confidence is None else r.confidence, -1 if r.asn is None else r.asn,
        r.provenance.file, r.provenance.record,
    )  # fmt: skip


@dataclass(frozen=True)
class IocQuery:
    """An indicator to look up in the intel store.

    Attributes:
        type, value: canonical, as in :class:`IntelRecord`.
        observed: when the incident saw it (aware UTC), if known; drives the time-window check.
        asn: the indicator's AS number, if known (enables ``same-asn`` matches).
        origin: where the query came from (``cli``, ``ioc.txt line 3``, a sample's SHA-256 ...).
    """

    type: IndicatorType
    value: str
    observed: datetime | None = None
    asn: int | None = None
    origin: str = ""

    @property
    def host(self) -> str | None:
        return host_of(self.type, self.value)

    @classmethod
    def parse(cls, text: str, observed: datetime | None = None, origin: str = "") -> IocQuery:
        """A query from a raw indicator string (defanged accepted).

        Raises:
            IndicatorError: ``text`` is not an IP address, domain, URL or e-mail address.
        """
        kind, value = canon_indicator(text)
        return cls(kind, value, observed, None, origin)
