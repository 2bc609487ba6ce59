"""Is an address or domain *non-attributable*: shared by so many parties that it says nothing
about who is behind an attack?

Two sources, both offline:

* built-in checks with :mod:`ipaddress` and RFC 6761, always on: ``builtin:private`` (RFC 1918,
  RFC 6598 CGN, IPv6 ULA), ``builtin:loopback``, ``builtin:link-local``, ``builtin:documentation``
  (192.0.2.0/24, 198.51.100.0/24, 203.0.113.0/24, 2001:db8::/32), ``builtin:multicast``,
  ``builtin:reserved`` (anything else not globally routable) and ``builtin:special-use-domain``
  (``.test``, ``.example``, ``.invalid``, ``.localhost``, ``.local``, ``example.com/.net/.org``);
* the MISP warning lists shipped by ``pymispwarninglists``, the ones in :data:`LISTS` (chosen by
  name: the lists carry no category), each reported by its folder name (``public-dns-v4``).

The ``vpn-ipv4``/``vpn-ipv6`` lists are not used: they cover whole data-centre ranges (about 8%
of IPv4), which would hide most attacker-rented servers. Top-site lists (Tranco, Alexa ...) are
deliberately not used either: popular sites get compromised and
used as C2, and "popular" is not "shared infrastructure". Dynamic-DNS providers are not
non-attributable either (the sub-domain is the customer's); :mod:`attributor.intel.suffix` uses
that list to stop ``parent-domain`` matches from linking two customers of one provider.

Lookups are constant-time-ish after a one-time load (about a second, see docs/intel.md): IPv4 and
IPv6 networks are kept as one set of network numbers per prefix length, host names as a set
checked for the name and each parent. ``pymispwarninglists``' own slow search is linear in the
list for host names, which is too slow for the 35,000 public-DNS host names.
"""

from __future__ import annotations

import importlib.util
import ipaddress
import json
import logging
import socket
from collections.abc import Iterable
from functools import cache
from pathlib import Path

from attributor.intel.model import IndicatorType, host_of

log = logging.getLogger("attributor")

# folder name -> why it attributes nothing (docs/intel.md lists these)
LISTS: dict[str, str] = {
    "rfc1918": "private",
    "rfc5735": "special-use IPv4",
    "rfc6598": "carrier-grade NAT",
    "rfc3849": "IPv6 documentation",
    "ipv6-linklocal": "link-local",
    "multicast": "multicast",
    "rfc6761": "special-use domain",
    "public-dns-v4": "public DNS resolver",
    "public-dns-v6": "public DNS resolver",
    "public-dns-hostname": "public DNS resolver",
    "akamai": "CDN",
    "cloudflare": "CDN",
    "fastly": "CDN",
    "stackpath": "CDN",
    "amazon-aws": "cloud",
    "google-gcp": "cloud",
    "microsoft-azure": "cloud",
    "microsoft-azure-china": "cloud",
    "microsoft-azure-germany": "cloud",
    "microsoft-azure-us-gov": "cloud",
    "sinkholes": "sinkhole",
    "umbrella-blockpage-v4": "sinkhole",
    "umbrella-blockpage-v6": "sinkhole",
    "umbrella-blockpage-hostname": "sinkhole",
    "url-shortener": "URL shortener",
    "whats-my-ip": "IP echo service",
    "findip-host": "IP echo service",
}

_DOCUMENTATION = tuple(
    ipaddress.ip_network(n) for n in ("192.0.2.0/24", "198.51.100.0/24", "203.0.113.0/24", "2001:db8::/32")
)
_CGN = ipaddress.ip_network("100.64.0.0/10")
_SPECIAL_TLDS = frozenset({"test", "example", "invalid", "localhost", "local", "onion", "arpa"})
_SPECIAL_DOMAINS = frozenset({"example.com", "example.net", "example.org"})


def data_dir() -> Path:
    """The warning lists folder shipped inside ``pymispwarninglists``.

    Found with ``find_spec``, without importing the package: its import pulls in ``jsonschema``,
    which costs about a second, and we only read its data.
    """
    spec = importlib.util.find_spec("pymispwarninglists")
    if spec is None or spec.origin is None:
        raise OSError("pymispwarninglists is not installed")
    return Path(spec.origin).parent / "data" / "misp-warninglists" / "lists"


_TYPES = frozenset({"string", "substring", "hostname", "cidr", "regex"})  # pymispwarninglists' own


def read_list(name: str) -> tuple[str, list[str]]:
    """(type, entries) of one shipped warning list.

    Raises:
        OSError: the list is missing; ValueError: it is not a warning list.
    """
    with (data_dir() / name / "list.json").open(encoding="utf-8") as f:
        doc = json.load(f)
    kind, entries = doc.get("type"), doc.get("list")
    if kind not in _TYPES or not isinstance(entries, list):
        raise ValueError(f"{name} is not a warning list (type {kind!r})")
    return kind, [str(e) for e in entries]


class _Networks:
    """IP networks as ``{prefix length: {network number}}``, per address family."""

    def __init__(self) -> None:
        self.by_len: dict[tuple[int, int], set[int]] = {}  # (version, prefix length) -> numbers

    def add(self, net: ipaddress.IPv4Network | ipaddress.IPv6Network) -> None:
        shift = net.max_prefixlen - net.prefixlen
        self.by_len.setdefault((net.version, net.prefixlen), set()).add(int(net.network_address) >> shift)

    def add_text(self, entry: str) -> None:
        """Add ``a.b.c.d``, ``a.b.c.d/n`` or an IPv6 network; other text is skipped (a few lists
        carry stray host names among their networks)."""
        if "/" not in entry and ":" not in entry:
            try:  # the common case, a single IPv4 address: 10x faster than ip_network()
                self.by_len.setdefault((4, 32), set()).add(
                    int.from_bytes(socket.inet_pton(socket.AF_INET, entry))
                )
            except OSError:
                return
            return
        try:
            self.add(ipaddress.ip_network(entry, strict=False))
        except ValueError:
            return

    def __contains__(self, addr: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
        n, bits = int(addr), addr.max_prefixlen
        return any(
            (n >> (bits - plen)) in nums for (v, plen), nums in self.by_len.items() if v == addr.version
        )


class WarningChecker:
    """Which non-attributable lists an indicator is on.

    Args:
        lists: MISP warning list folder names to load (default :data:`LISTS`); unknown names and
            lists of other types (hashes, regexes) are skipped with a log line.
        builtin: also run the built-in :mod:`ipaddress` / RFC 6761 checks.

    Example:
        >>> WarningChecker(lists=()).check(IndicatorType.IPV4, "10.0.0.1")
        ('builtin:private',)
    """

    def __init__(self, lists: Iterable[str] = tuple(LISTS), *, builtin: bool = True) -> None:
        self.builtin = builtin
        self._nets: dict[str, _Networks] = {}
        self._hosts: dict[str, frozenset[str]] = {}
        self._exact: dict[str, frozenset[str]] = {}
        for name in sorted(set(lists)):
            self._load(name)

    def _load(self, name: str) -> None:
        try:
            kind, entries = read_list(name)
        except (OSError, ValueError, KeyError, TypeError) as e:
            log.warning("warning list %s not loaded: %s", name, e)
            return
        if kind == "cidr":
            nets = _Networks()
            for entry in entries:
                nets.add_text(entry.strip())
            self._nets[name] = nets
        elif kind == "hostname":
            self._hosts[name] = frozenset(e.strip().strip(".").lower() for e in entries if e.strip("."))
        elif kind == "string":
            self._exact[name] = frozenset(e.strip().lower() for e in entries)
        else:
            log.warning("warning list %s has type %s, not used", name, kind)

    def check(self, kind: IndicatorType, value: str) -> tuple[str, ...]:
        """Sorted names of the lists that ``value`` (canonical, of type ``kind``) is on.

        A URL or e-mail address is checked by its host (and a URL by its full text for the
        ``string`` lists); an empty tuple means attributable as far as these lists know.
        """
        host = host_of(kind, value) or value
        hits: set[str] = set()
        try:
            addr: ipaddress.IPv4Address | ipaddress.IPv6Address | None = ipaddress.ip_address(host)
        except ValueError:
            addr = None
        if addr is not None:
            if self.builtin:
                hits.update(_builtin_ip(addr))
            hits.update(name for name, nets in self._nets.items() if addr in nets)
        else:
            if self.builtin and _special_domain(host):
                hits.add("builtin:special-use-domain")
            parents = _suffixes(host)
            hits.update(name for name, names in self._hosts.items() if not names.isdisjoint(parents))
        hits.update(name for name, names in self._exact.items() if host in names or value in names)
        return tuple(sorted(hits))

    def reason(self, name: str) -> str:
        """A few words on why list ``name`` attributes nothing."""
        return (
            name.removeprefix("builtin:").replace("-", " ")
            if name.startswith("builtin:")
            else LISTS.get(name, name)
        )


def _suffixes(host: str) -> list[str]:
    labels = host.split(".")
    return [".".join(labels[i:]) for i in range(len(labels))]


def _builtin_ip(addr: ipaddress.IPv4Address | ipaddress.IPv6Address) -> list[str]:
    if any(addr in net for net in _DOCUMENTATION if net.version == addr.version):
        return ["builtin:documentation"]
    for test, name in (
        (addr.is_loopback, "builtin:loopback"),
        (addr.is_link_local, "builtin:link-local"),
        (addr.is_multicast, "builtin:multicast"),
        (addr.is_private or addr in _CGN, "builtin:private"),
    ):
        if test:
            return [name]
    return [] if addr.is_global else ["builtin:reserved"]


def _special_domain(host: str) -> bool:
    return host.rsplit(".", 1)[-1] in _SPECIAL_TLDS or any(s in _SPECIAL_DOMAINS for s in _suffixes(host))


@cache
def default_checker() -> WarningChecker:
    """The process-wide checker with :data:`LISTS` (loaded on first use, then cached)."""
    return WarningChecker()
