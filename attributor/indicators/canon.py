"""Canonical forms of network indicators (IP addresses, domains, URLs), so equal things compare equal.

Malware and threat reports write the same indicator many ways: ``3232235777``, ``0300.0250.0.1``
and ``0xC0A80001`` are all ``192.168.0.1`` to ``inet_aton``; ``::ffff:1.2.3.4`` is ``1.2.3.4``;
``EXAMPLE.com.`` is ``example.com``; ``hxxp://evil[.]com:80/`` is ``http://evil.com/``. Each
function here returns an :class:`Indicator` whose ``value`` is the one canonical spelling, with
``flags`` saying what was rewritten or is suspicious (an IDN homoglyph, credentials in a URL) and
``reasons`` explaining the suspicious ones in plain ASCII; or it raises :class:`IndicatorError`
naming the input and the reason. Every function accepts defanged input (:func:`refang`).

IPv4 follows ``inet_aton`` / the WHATWG URL host parser (what the sample's own resolver does);
IDNs follow UTS 46 + IDNA 2008 (the ``idna`` package); hosts in URLs follow the WHATWG rules.
"""

from __future__ import annotations

import ipaddress
import re
import unicodedata
from dataclasses import dataclass
from enum import StrEnum
from urllib.parse import quote, unquote

import idna

from attributor.errors import IndicatorError

MAX_INPUT_CHARS = 8192
_MAX_DOMAIN = 253
_MAX_LABEL = 63


class Kind(StrEnum):
    IPV4 = "ipv4"
    IPV6 = "ipv6"
    DOMAIN = "domain"
    URL = "url"
    TEXT = "text"  # what refang() returns


class Flag(StrEnum):
    """What canonicalisation changed or noticed; stable strings, safe to store."""

    REFANGED = "refanged"  # hxxp, [.], (dot) ... undone
    LOWERCASED = "lowercased"
    TRAILING_DOT = "trailing-dot"
    IPV4_INTEGER = "ipv4-integer"  # one number for the whole address: 3232235777
    IPV4_OCTAL = "ipv4-octal"  # a part with a leading zero, read as octal: 0300
    IPV4_HEX = "ipv4-hex"  # a part in hex: 0xC0
    IPV4_SHORT = "ipv4-short"  # fewer than four parts: 127.1
    IPV4_MAPPED = "ipv4-mapped"  # ::ffff:1.2.3.4, reported as the IPv4 address
    ZONE_REMOVED = "zone-removed"  # fe80::1%eth0
    NOT_GLOBAL = "not-global"  # private, loopback, link-local, reserved ... (see reasons)
    IDN = "idn"  # has internationalised labels (the value holds their xn-- A-labels)
    UNICODE_MAPPED = "unicode-mapped"  # UTS 46 mapped fullwidth/compatibility/ignored characters
    MIXED_SCRIPT = "mixed-script"  # a label mixes scripts, e.g. Latin and Cyrillic
    HOMOGLYPH = "homoglyph"  # a label spells an ASCII word with look-alike characters
    UNDERSCORE = "underscore"  # allowed in DNS, not in host names
    SINGLE_LABEL = "single-label"
    CREDENTIALS_REMOVED = "credentials-removed"  # user:password@ in a URL
    DEFAULT_PORT_REMOVED = "default-port-removed"
    FRAGMENT_REMOVED = "fragment-removed"
    HOST_PERCENT_DECODED = "host-percent-decoded"
    DOT_SEGMENTS_REMOVED = "dot-segments-removed"
    BACKSLASH = "backslash"  # "\" read as "/" in an http(s) URL, as browsers do


@dataclass(frozen=True)
class Indicator:
    """A canonical indicator: ``value`` is comparable; ``flags``/``reasons`` explain it."""

    value: str
    kind: Kind
    flags: tuple[Flag, ...] = ()
    reasons: tuple[str, ...] = ()


class _Notes:
    """Flags and reasons collected while canonicalising, in order, without repeats."""

    def __init__(self) -> None:
        self.flags: list[Flag] = []
        self.reasons: list[str] = []

    def add(self, flag: Flag, reason: str | None = None) -> None:
        if flag not in self.flags:
            self.flags.append(flag)
        if reason and reason not in self.reasons:
            self.reasons.append(reason)

    def merge(self, other: Indicator) -> None:
        for flag in other.flags:
            self.add(flag)
        for reason in other.reasons:
            if reason not in self.reasons:
                self.reasons.append(reason)

    def make(self, value: str, kind: Kind) -> Indicator:
        return Indicator(value, kind, tuple(self.flags), tuple(self.reasons))


# -- refang --------------------------------------------------------------------------------------

_BR_OPEN, _BR_CLOSE = r"[\[\(\{]", r"[\]\)\}]"
_SCHEME_END = r"(?=\s*(?:\[:\]|\(:\)|\{:\}|:))"  # followed by a (defanged) colon
_REFANG: tuple[tuple[re.Pattern[str], str, str], ...] = (
    # only in scheme position: `hxxp-tools.com` is another domain, not a defanged one
    (re.compile(r"\bh(?:xx|\*\*|XX|xX|Xx)p(s?)" + _SCHEME_END, re.I), r"http\1", "hxxp -> http"),
    (re.compile(r"\bf[x*]p(s?)" + _SCHEME_END, re.I), r"ftp\1", "fxp -> ftp"),
    (re.compile(rf"{_BR_OPEN}\s*:\s*//\s*{_BR_CLOSE}"), "://", "[://] -> ://"),
    (re.compile(rf"\s*{_BR_OPEN}\s*(?:\.|dot)\s*{_BR_CLOSE}\s*", re.I), ".", "[.] -> ."),
    (re.compile(rf"{_BR_OPEN}\s*:\s*{_BR_CLOSE}"), ":", "[:] -> :"),
    (re.compile(rf"{_BR_OPEN}\s*/\s*{_BR_CLOSE}"), "/", "[/] -> /"),
    (re.compile(rf"\s*{_BR_OPEN}\s*(?:@|at)\s*{_BR_CLOSE}\s*", re.I), "@", "[at] -> @"),
    (re.compile(r"\\\."), ".", r"\. -> ."),
)


def refang(s: str) -> Indicator:
    """Undo defanging: ``hxxp``/``hXXps``/``h**p``, ``fxp``, ``[.]`` ``(.)`` ``{.}`` ``[dot]``,
    ``[:]``, ``[://]``, ``[/]``, ``[at]``, ``\\.``. Returns kind ``text``, flagged when anything changed.

    >>> refang("hxxps[:]//evil[.]com").value
    'https://evil.com'
    """
    text = _checked_input(s, Kind.TEXT)
    notes = _Notes()
    for pattern, replacement, what in _REFANG:
        text, n = pattern.subn(replacement, text)
        if n:
            notes.add(Flag.REFANGED, what)
    return notes.make(text, Kind.TEXT)


def _prepare(s: str, kind: Kind) -> tuple[str, _Notes]:
    refanged = refang(_checked_input(s, kind))
    notes = _Notes()
    notes.merge(refanged)
    return refanged.value.strip(), notes


def _checked_input(s: str, kind: Kind) -> str:
    if not isinstance(s, str):
        raise IndicatorError(f"invalid {kind}: expected text, got {type(s).__name__}")
    if len(s) > MAX_INPUT_CHARS:
        raise IndicatorError(f"invalid {kind} {_show(s)}: longer than {MAX_INPUT_CHARS} characters")
    return s


def _show(s: str) -> str:
    """The input, quoted and ASCII-escaped (no newlines, no bidi tricks), cut to 80 characters."""
    return ascii(s if len(s) <= 80 else s[:80] + "...")


def _fail(kind: Kind, s: str, reason: str) -> IndicatorError:
    one_line = " ".join(reason.split()).encode("ascii", "backslashreplace").decode("ascii")
    return IndicatorError(f"invalid {kind} {_show(s)}: {one_line}")


# -- IP addresses --------------------------------------------------------------------------------

_V4_DIGITS = {
    16: re.compile(r"[0-9a-fA-F]{0,16}"),
    8: re.compile(r"[0-7]{1,32}"),
    10: re.compile(r"[0-9]{1,32}"),
}


def canon_ip(s: str) -> Indicator:
    """An IPv4 or IPv6 address in its standard spelling (dotted quad; RFC 5952 for IPv6).

    IPv4 is read like ``inet_aton``: one to four parts, each decimal, octal (leading ``0``) or
    hex (``0x``); the last part fills the remaining bytes (``127.1`` is ``127.0.0.1``). IPv6 may
    be bracketed; an IPv4-mapped address (``::ffff:1.2.3.4``) is returned as the IPv4 address,
    flagged ``ipv4-mapped``.

    >>> canon_ip("0xC0A80001").value, canon_ip("[::FFFF:1.2.3.4]").value
    ('192.168.0.1', '1.2.3.4')
    """
    text, notes = _prepare(s, Kind.IPV4)
    if text.startswith("[") and text.endswith("]"):
        return _ipv6(s, text[1:-1], notes)
    if ":" in text:
        return _ipv6(s, text, notes)
    return _ipv4(s, text, notes)


def _ipv4(s: str, text: str, notes: _Notes) -> Indicator:
    parts = text.split(".")
    if len(parts) > 1 and parts[-1] == "":
        parts.pop()
        notes.add(Flag.TRAILING_DOT)
    if not 1 <= len(parts) <= 4:
        raise _fail(Kind.IPV4, s, f"{len(parts)} parts (at most 4)")
    values = [_ipv4_part(s, part, notes) for part in parts]
    if len(parts) == 1:
        notes.add(Flag.IPV4_INTEGER)
    elif len(parts) < 4:
        notes.add(Flag.IPV4_SHORT)
    for part, value in zip(parts, values[:-1], strict=False):
        if value > 255:
            raise _fail(Kind.IPV4, s, f"part {part!r} is over 255")
    if values[-1] >= 256 ** (5 - len(parts)):
        raise _fail(Kind.IPV4, s, f"last part {parts[-1]!r} is over {256 ** (5 - len(parts)) - 1}")
    number = values[-1] + sum(v << (8 * (3 - i)) for i, v in enumerate(values[:-1]))
    addr = ipaddress.IPv4Address(number)
    _note_scope(addr, notes)
    return notes.make(str(addr), Kind.IPV4)


def _ipv4_part(s: str, part: str, notes: _Notes) -> int:
    if part[:2].lower() == "0x":
        base, digits = 16, part[2:]
        notes.add(Flag.IPV4_HEX)
    elif len(part) > 1 and part[0] == "0":
        base, digits = 8, part[1:]
        notes.add(Flag.IPV4_OCTAL, f"IPv4 part {part!r} has a leading zero: read as octal")
    else:
        base, digits = 10, part
    if not _V4_DIGITS[base].fullmatch(digits):
        what = {16: "a hex", 8: "an octal", 10: "a decimal"}[base]
        raise _fail(Kind.IPV4, s, f"part {part!a} is not {what} number" if part else "empty part")
    return int(digits, base) if digits else 0


def _ipv6(s: str, text: str, notes: _Notes) -> Indicator:
    if "%" in text:
        text = text.split("%", 1)[0]
        notes.add(Flag.ZONE_REMOVED)
    try:
        addr = ipaddress.IPv6Address(text)
    except ValueError as e:
        raise _fail(Kind.IPV6, s, str(e).replace(repr(text), "it")) from None
    mapped = addr.ipv4_mapped
    if mapped is not None:
        notes.add(Flag.IPV4_MAPPED, f"IPv4-mapped IPv6 address {addr.compressed} is {mapped}")
        _note_scope(mapped, notes)
        return notes.make(str(mapped), Kind.IPV4)
    _note_scope(addr, notes)
    return notes.make(addr.compressed, Kind.IPV6)


def _note_scope(addr: ipaddress.IPv4Address | ipaddress.IPv6Address, notes: _Notes) -> None:
    if addr.is_global:
        return
    for test, what in (
        (addr.is_unspecified, "unspecified"),
        (addr.is_loopback, "loopback"),
        (addr.is_link_local, "link-local"),
        (addr.is_multicast, "multicast"),
        (addr.is_private, "private"),
        (addr.is_reserved, "reserved"),
    ):
        if test:
            notes.add(Flag.NOT_GLOBAL, f"{addr} is a {what} address, not globally routable")
            return
    notes.add(Flag.NOT_GLOBAL, f"{addr} is not globally routable")


# -- domains -------------------------------------------------------------------------------------

_LDH = re.compile(r"[a-z0-9_-]+")
_NUMERIC_TLD = re.compile(r"[0-9]+|0x[0-9a-f]*")
# UTS 39 "highly restrictive": the script mixes that are normal in one label
_ALLOWED_MIXES = (
    frozenset({"LATIN", "CJK", "HIRAGANA", "KATAKANA"}),
    frozenset({"LATIN", "CJK", "BOPOMOFO"}),
    frozenset({"LATIN", "CJK", "HANGUL"}),
)
_SCRIPT_ALIASES = {"KATAKANA-HIRAGANA": "KATAKANA", "HALFWIDTH": "KATAKANA"}
# Letters that pass for ASCII letters (a subset of Unicode's confusables.txt, lower case only:
# UTS 46 has already folded case).
_LOOKALIKES = dict(
    zip(
        "аеорсухіјѕһԁԛԝӏкү"  # Cyrillic
        "οανικρυχγω"  # Greek
        "օսհոցզ"  # Armenian
        "ıɑɡǀɩ",  # Latin look-alikes of other Latin letters
        "aeopcyxijshdqwlkyoavikpuxywouhngqiagli",
        strict=True,
    )
)


def canon_domain(s: str) -> Indicator:
    """A domain name as DNS sees it: lower case, no trailing dot, IDN labels as ``xn--`` A-labels.

    Unicode is mapped by UTS 46 (fullwidth letters, ideographic full stops, soft hyphens) and
    checked by IDNA 2008; labels mixing scripts or spelling an ASCII word with look-alikes are
    flagged (``mixed-script``, ``homoglyph``) with a reason. Empty, over-long or non-LDH labels,
    and names ending in a number (an IPv4 address to :func:`canon_ip`), are refused.

    >>> d = canon_domain("PАYPAL.com.")  # Cyrillic A
    >>> d.value, [str(f) for f in d.flags]
    ('xn--pypal-4ve.com', ['lowercased', 'trailing-dot', 'idn', 'mixed-script', 'homoglyph'])
    """
    text, notes = _prepare(s, Kind.DOMAIN)
    if not text:
        raise _fail(Kind.DOMAIN, s, "empty")
    mapped = _uts46(s, text, notes)
    if mapped.endswith("."):
        mapped = mapped[:-1]
        notes.add(Flag.TRAILING_DOT)
    labels = mapped.split(".")
    if _NUMERIC_TLD.fullmatch(labels[-1]):
        raise _fail(Kind.DOMAIN, s, "ends in a number: an IPv4 address, not a domain")
    alabels = [_label(s, label, notes) for label in labels]
    value = ".".join(alabels)
    if len(value) > _MAX_DOMAIN:
        raise _fail(Kind.DOMAIN, s, f"{len(value)} characters long (at most {_MAX_DOMAIN})")
    if len(labels) == 1:
        notes.add(Flag.SINGLE_LABEL)
    return notes.make(value, Kind.DOMAIN)


def _uts46(s: str, text: str, notes: _Notes) -> str:
    """Lower-case ``text``; map non-ASCII text by UTS 46 (case folding, width, dots, ignorables)."""
    lowered = text.lower()
    if lowered != text:
        notes.add(Flag.LOWERCASED)
    if text.isascii():
        return lowered
    try:
        mapped = idna.uts46_remap(text, std3_rules=False, transitional=False)
    except idna.IDNAError as e:
        raise _fail(Kind.DOMAIN, s, _idna_reason(e)) from None
    if mapped != unicodedata.normalize("NFC", lowered):
        notes.add(Flag.UNICODE_MAPPED, f"{text!a} was mapped to {mapped!a} (UTS 46)")
    return mapped


def _label(s: str, label: str, notes: _Notes) -> str:
    """One label's A-label, after checking it; notes IDN, script mixes and look-alikes."""
    if not label:
        raise _fail(Kind.DOMAIN, s, "empty label")
    if label.isascii() and not label.startswith("xn--"):
        return _ldh_label(s, label, notes)
    try:
        if label.isascii():
            ulabel, alabel = idna.decode(label), label
            if idna.encode(ulabel).decode("ascii") != alabel:
                raise idna.IDNAError("not the canonical A-label of its Unicode form")
        else:
            ulabel, alabel = label, idna.encode(label).decode("ascii")
    except (idna.IDNAError, UnicodeError) as e:
        raise _fail(Kind.DOMAIN, s, f"label {label!a}: {_idna_reason(e)}") from None
    notes.add(Flag.IDN)
    _check_scripts(alabel, ulabel, notes)
    return alabel


def _ldh_label(s: str, label: str, notes: _Notes) -> str:
    if len(label) > _MAX_LABEL:
        raise _fail(Kind.DOMAIN, s, f"label of {len(label)} characters (at most {_MAX_LABEL})")
    if not _LDH.fullmatch(label):
        bad = next(ch for ch in label if not _LDH.fullmatch(ch))
        raise _fail(Kind.DOMAIN, s, f"label {label!a} has {bad!a} (letters, digits, '-' only)")
    if label[0] == "-" or label[-1] == "-":
        raise _fail(Kind.DOMAIN, s, f"label {label!a} starts or ends with '-'")
    if "_" in label:
        notes.add(Flag.UNDERSCORE)
    return label


def _check_scripts(alabel: str, ulabel: str, notes: _Notes) -> None:
    scripts: dict[str, str] = {}  # script -> first letter of it
    for ch in ulabel:
        if ch.isalpha():
            scripts.setdefault(_script(ch), ch)
    if len(scripts) > 1 and not any(set(scripts) <= mix for mix in _ALLOWED_MIXES):
        names = " and ".join(sorted(n.title() for n in scripts))
        odd = ", ".join(_describe(ch) for script, ch in scripts.items() if script != "LATIN")
        notes.add(Flag.MIXED_SCRIPT, f"label {alabel} mixes {names} ({odd})")
    skeleton = "".join(_LOOKALIKES.get(ch, ch) for ch in ulabel)
    if skeleton != ulabel and skeleton.isascii():
        odd = ", ".join(_describe(ch) for ch in dict.fromkeys(ulabel) if ch in _LOOKALIKES)
        notes.add(Flag.HOMOGLYPH, f"label {alabel} looks like {skeleton!r} ({odd})")


def _script(ch: str) -> str:
    first = unicodedata.name(ch, "UNKNOWN").split(" ", 1)[0]
    return _SCRIPT_ALIASES.get(first, first)


def _describe(ch: str) -> str:
    return f"U+{ord(ch):04X} {unicodedata.name(ch, 'UNNAMED')}"


def _idna_reason(e: Exception) -> str:
    return str(e) or type(e).__name__


# -- URLs ----------------------------------------------------------------------------------------

_DEFAULT_PORTS = {"http": 80, "https": 443, "ws": 80, "wss": 443, "ftp": 21}
_SPECIAL = frozenset({*_DEFAULT_PORTS, "file"})
_URL = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*):([/\\]{2})(.*)", re.S)
_PERCENT = re.compile(r"%([0-9A-Fa-f]{2})")
_ENCODED = frozenset('"<>`{}')
_UNRESERVED = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")


def canon_url(s: str) -> Indicator:
    """An absolute URL with scheme and host canonicalised, as a browser would request it.

    Scheme and host lower case (the host through :func:`canon_ip` or :func:`canon_domain`, after
    percent-decoding), default port, ``user:password@`` and ``#fragment`` removed (flagged),
    percent-escapes normalised (RFC 3986 6.2.2), ``.``/``..`` segments resolved, empty path ``/``.

    >>> canon_url("hxxp://user:pw@Evil[.]COM:80/a/../b?q#x").value
    'http://evil.com/b?q'
    """
    text, notes = _prepare(s, Kind.URL)
    if any(ch.isspace() or unicodedata.category(ch) in ("Cc", "Cf") for ch in text):
        raise _fail(Kind.URL, s, "contains whitespace or control characters")
    m = _URL.fullmatch(text)
    if m is None:
        raise _fail(Kind.URL, s, "not an absolute URL (scheme://host/...)")
    scheme, slashes, after = m.group(1).lower(), m.group(2), m.group(3)
    if scheme != m.group(1):
        notes.add(Flag.LOWERCASED)
    if "\\" in slashes + after:
        if scheme not in _SPECIAL and "\\" in slashes:
            raise _fail(Kind.URL, s, "not an absolute URL (scheme://host/...)")
        if scheme in _SPECIAL:
            after = after.replace("\\", "/")
            notes.add(Flag.BACKSLASH, "'\\' read as '/', as browsers do")
    end = next((i for i, ch in enumerate(after) if ch in "/?#"), len(after))
    authority, rest = after[:end], after[end:]
    _userinfo, at, hostport = authority.rpartition("@")
    if at:
        notes.add(Flag.CREDENTIALS_REMOVED, "user name / password before '@' removed; the host is after it")
    host, port = _host_and_port(s, hostport, scheme, notes)
    path, query, fragment = _split_rest(rest)
    if fragment is not None:
        notes.add(Flag.FRAGMENT_REMOVED)
    path = _normalise_path(path, scheme, notes)
    value = f"{scheme}://{host}{port}{path}" + (f"?{_normalise_escapes(query)}" if query is not None else "")
    return notes.make(value, Kind.URL)


def _host_and_port(s: str, hostport: str, scheme: str, notes: _Notes) -> tuple[str, str]:
    if hostport.startswith("["):
        close = hostport.find("]")
        if close < 0:
            raise _fail(Kind.URL, s, "'[' without ']' in the host")
        raw_host, port_part = hostport[: close + 1], hostport[close + 1 :]
    else:
        raw_host, colon, port_text = hostport.partition(":")
        port_part = colon + port_text
    if port_part and not port_part.startswith(":"):
        raise _fail(Kind.URL, s, f"unexpected {port_part!a} after the host")
    port_text = port_part[1:]
    if port_text and not (port_text.isascii() and port_text.isdigit() and int(port_text) <= 65535):
        raise _fail(Kind.URL, s, f"port {port_text!a} is not a number from 0 to 65535")
    port = f":{int(port_text)}" if port_text else ""
    if port_text and int(port_text) == _DEFAULT_PORTS.get(scheme):
        port = ""
        notes.add(Flag.DEFAULT_PORT_REMOVED)
    return _host(s, raw_host, notes), port


def _host(s: str, raw: str, notes: _Notes) -> str:
    if not raw:
        raise _fail(Kind.URL, s, "no host")
    if raw.startswith("["):
        ip = canon_ip(raw)
        notes.merge(ip)
        return f"[{ip.value}]" if ip.kind == Kind.IPV6 else ip.value
    decoded = raw
    if "%" in raw:
        try:
            decoded = unquote(raw, errors="strict")
        except UnicodeDecodeError:
            raise _fail(Kind.URL, s, "host has percent-escapes that are not UTF-8") from None
        notes.add(Flag.HOST_PERCENT_DECODED, f"host {raw!a} percent-decoded to {decoded!a}")
    last = decoded.rstrip(".").rsplit(".", 1)[-1].lower()
    indicator = canon_ip(decoded) if _NUMERIC_TLD.fullmatch(last) else canon_domain(decoded)
    notes.merge(indicator)
    return indicator.value


def _split_rest(rest: str) -> tuple[str, str | None, str | None]:
    rest, hash_, fragment = rest.partition("#")
    path, question, query = rest.partition("?")
    return path, (query if question else None), (fragment if hash_ else None)


def _normalise_path(path: str, scheme: str, notes: _Notes) -> str:
    path = _normalise_escapes(path)
    resolved = _remove_dot_segments(path)
    if resolved != path:
        notes.add(Flag.DOT_SEGMENTS_REMOVED)
    return resolved or ("/" if scheme in _SPECIAL else "")


def _normalise_escapes(text: str) -> str:
    """Upper-case hex in ``%xx``, decode escaped unreserved characters (RFC 3986 6.2.2), and
    percent-encode non-ASCII and ``"<>`{}`` as UTF-8, as browsers send them."""

    def fix(m: re.Match[str]) -> str:
        ch = chr(int(m.group(1), 16))
        return ch if ch in _UNRESERVED else f"%{m.group(1).upper()}"

    text = _PERCENT.sub(fix, text)
    return "".join(quote(ch, safe="") if ord(ch) > 127 or ch in _ENCODED else ch for ch in text)


def _remove_dot_segments(path: str) -> str:
    """RFC 3986 5.2.4."""
    out: list[str] = []
    segments = path.split("/")
    for i, segment in enumerate(segments):
        last = i == len(segments) - 1
        if segment == ".":
            if last:
                out.append("")
        elif segment == "..":
            if len(out) > 1:
                out.pop()
            if last:
                out.append("")
        else:
            out.append(segment)
    return "/".join(out)


# -- any indicator -------------------------------------------------------------------------------


def canon(s: str) -> Indicator:
    """Canonicalise whatever ``s`` is: a URL (has ``://``), else an IP address, else a domain."""
    text = refang(s).value.strip()
    if "://" in text:
        return canon_url(s)
    if ":" in text or _NUMERIC_TLD.fullmatch(text.rstrip(".").rsplit(".", 1)[-1].lower()):
        return canon_ip(s)
    return canon_domain(s)
