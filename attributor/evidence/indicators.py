"""Network and host indicators in a sample's strings, canonicalised, with where they were found.

:func:`extract_indicators` finds strings (:mod:`attributor.evidence.strings`), classifies them and
returns :class:`~attributor.evidence.record.Evidence` of kind ``indicator``; subtypes ``url``,
``ipv4``, ``ipv6``, ``domain``, ``email``, ``user-agent``, ``mutex``, ``pipe``, ``registry``,
``pdb``, ``path``. ``value`` is canonical (network values through
:mod:`attributor.indicators.canon`: refanged, lower-case, IDN as ``xn--`` A-labels, integer /
octal / hex IPv4 as a dotted quad, trailing dot removed; host values as described per subtype
below), ``detail`` is the raw text as found, ``address`` the VA of its first byte (of the string
start for stack strings), ``source`` ``strings:<encoding>``; stack, XOR and ADD finds carry
``TAG_OBFUSCATED``. A URL also yields its host (``ipv4``/``ipv6``/``domain``) and an e-mail
address its domain, at the same address.

Precision over recall (``docs/evidence-indicators.md``):

* A domain needs a TLD from :data:`TLDS` (a compact built-in list) and a second-level label of
  two or more characters; TLDs that are also file extensions or English words (``.so``, ``.py``,
  ``.sh``, ``.in``, ``.mo``, ``.zip``, ``.is``, ``.to`` ...) count only inside a URL or e-mail
  address; generic-word TLDs (:data:`WORD_TLDS`: ``.info``, ``.app``, ``.site`` ...) only when
  the name is the whole string; a name after ``/`` or ``\\`` is a file, not a host; names with
  upper-case letters (``System.Net``, ``LG.HK``) or ``_`` are code, not hosts. Numeric last
  labels (``libc.so.6``) are never domains.
* A dotted quad preceded by a version word (``version``, ``ver``, ``v``, ``build``,
  ``release``, ``rev``, ``firmware``, ``FileVersion``) or followed by ``-word`` is a version
  string; ``1.2.*``, ``1.3.*`` and ``2.5.*`` are read as ASN.1 OIDs; ``0.0.0.0`` and netmasks
  are not indicators. Integer, octal and hex IPv4 forms are accepted as URL hosts and as four
  dotted parts, never as a bare number.
* Strings of the toolchain (``GCC: (...)`` banners) are skipped.

Registry keys are compared case-insensitively by Windows, so their value is the key with the
hive spelled out (``HKLM`` -> ``HKEY_LOCAL_MACHINE``) and the path lower-cased; pipe names and
Windows paths and PDB paths are lower-cased for the same reason; mutex names (case-sensitive)
and Unix paths are kept as found.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from attributor.disasm.recover import Program
from attributor.errors import IndicatorError
from attributor.evidence.record import TAG_OBFUSCATED, Evidence, EvidenceKind, normalise
from attributor.evidence.strings import FoundString, find_strings
from attributor.indicators.canon import Flag, Indicator, Kind, canon_domain, canon_ip, canon_url
from attributor.loading.binary import Binary

MAX_INDICATORS = 10_000

_TLD_TEXT = """
    com net org edu gov mil int info biz pro mobi asia tel travel jobs cat coop aero museum io
    co me tv cc ws pw tk ml ga cf gq su ru ua by kz cn hk tw jp kr kp in ir iq sy pk af tr il de
    fr uk gb nl be ch at it es pt pl cz sk hu ro bg gr se no fi dk is ie lu li lt lv ee si hr rs
    ba mk al md am ge az us ca mx br ar cl pe ve cu au nz za ng eg ma tn sa ae qa kw om ye vn th
    my sg id ph bd lk np mn uz tj kg tm eu xyz top club online site space website tech store
    shop live life world today news email cloud app dev icu vip work link click download win bid
    loan date review stream racing party science trade webcam men gdn kim ltd lol fun host press
    onion bit example test invalid localhost local lan
"""
TLDS = frozenset(_TLD_TEXT.split())
# TLDs that are also file extensions or English words ("this.is"): only believed inside a URL
# or an e-mail address.
_FILE_EXT_TEXT = """
    so py pl pm sh rs md cc am ac in mo ml ms ai ar bz zip mov ps sc mk sy tm ly app local lan
    it is to me as at be by do
"""
FILE_EXT_TLDS = frozenset(_FILE_EXT_TEXT.split())

# Generic-word TLDs: a standalone name ending in one must be a whole string ("struct.info" in a
# sentence is code talk, a string that is only "update-check.info" is a host).
_WORD_TEXT = """
    info pro app dev host link click work life live world news today email cloud store shop site
    online space tech website fun press date review stream party science trade men win bid loan
    download racing webcam club top
"""
WORD_TLDS = frozenset(_WORD_TEXT.split())

_TOOLCHAIN = re.compile(r"GCC: \(|Mingw-w64 runtime|Unknown pseudo relocation")
# Include and library folders of compilers (DWARF in unstripped builds names them many times).
_TOOLCHAIN_PATH = re.compile(
    r"^/usr/(?:include|lib(?:64|exec)?/gcc|share/mingw|[\w.-]*mingw32[\w.-]*)(?:/|$)"
)
_DOT = r"(?:\.|\[\.\]|\(\.\)|\{\.\}|\[dot\])"
_URL = re.compile(
    r"(?i)\b(?:h(?:tt|xx|\*\*)ps?|f[tx]p|wss?)(?::|\[:\])(?://|\[//\]|\[/\]/)[^\0\s\"'<>{}|^`\\]{3,2000}"
    r"|\b(?:h(?:tt|xx)ps?)\[://\][^\0\s\"'<>{}|^`\\]{3,2000}"
)
_EMAIL = re.compile(
    rf"(?<![\w.%+-])[\w][\w.%+-]{{0,63}}(?:@|\[at\]|\[@\]|\(at\))((?:[\w-]{{1,63}}{_DOT})+[a-zA-Z]{{2,24}})(?![\w-])"
)
_IPV4 = re.compile(
    rf"(?i)(?<![\w.\]\)-])(?:(?:0x[0-9a-f]{{1,2}}|\d{{1,4}}){_DOT}){{3}}(?:0x[0-9a-f]{{1,2}}|\d{{1,4}})"
    rf"(?![\w.]|{_DOT}|-\w)"
)
_IPV6 = re.compile(r"(?i)(?<![\w:.])[0-9a-f:]{3,39}(?![\w:.])")
_DOMAIN = re.compile(rf"(?<![\w.@%/\\-])(?:[\w-]{{1,63}}{_DOT})+[\w-]{{2,63}}\.?(?![\w-]|\.\w|\[\.\])")
_UA = re.compile(
    r"(?:Mozilla|Opera)/\d+\.\d+ \([^)\0]{2,200}\)[^\0\r\n\"]{0,300}|(?i:user-agent):\s*([^\0\r\n\"]{4,300})"
)
_PIPE = re.compile(r"(?i)\\\\[.?]\\pipe\\([^\0\s\\\"]{1,200})")
_MUTEX = re.compile(r"(?<![\w\\])(?:Global|Local|Session\\\d{1,4})\\[^\0\s\\\"]{2,200}")
_HIVES = {
    "hklm": "HKEY_LOCAL_MACHINE",
    "hkcu": "HKEY_CURRENT_USER",
    "hkcr": "HKEY_CLASSES_ROOT",
    "hku": "HKEY_USERS",
    "hkcc": "HKEY_CURRENT_CONFIG",
}
_REGISTRY = re.compile(
    r"(?i)(?<![\w\\/])(?:(HKEY_(?:LOCAL_MACHINE|CURRENT_USER|CLASSES_ROOT|USERS|CURRENT_CONFIG)|HK(?:LM|CU|CR|U|CC))"
    r"\\|(?=(?:SOFTWARE|SYSTEM)\\[^\0\r\n\"\\]+\\))([^\0\r\n\"\t]{2,255})"
)
_PDB = re.compile(r"(?i)[^\0\r\n\"<>|*?\t]{1,240}\.pdb(?!\w)")
# A drive path starts a string or follows a blank, quote, "=" or "(" (not "[^:\\sg]" in a regex).
_PATH = re.compile(
    r"(?i)(?<![^\s\"'=(\0])(?:[a-z]:\\|%[a-z_]{2,30}%\\)[^\0\r\n\"<>|*?\t%]{1,255}"
    r"|(?<![\w./-])/(?:tmp|var|etc|home|root|usr|opt|dev/shm|proc|bin|sbin|Library|Users|private)/[^\0\s\"'<>|*?]{1,255}"
)
_VERSION_WORD = re.compile(
    r"(?i)(?:\bv|version|\bver\.?|\bbuild|\brelease|\brev(?:ision)?|firmware)\s*[:=#]?\s*$"
)
# ASN.1 object identifiers with four arcs (1.3.101.110 is X25519) look like addresses
_OID_ARCS = ("1.2.", "1.3.", "2.5.")
_MASK_OCTETS = frozenset({"0", "128", "192", "224", "240", "248", "252", "254", "255"})
_TRAILING = ".,;:!)]}'"


@dataclass(frozen=True)
class _Hit:
    """One classified match: the string it is in, where in it, what it is."""

    string: FoundString
    start: int  # character index in string.text
    subtype: str
    value: str
    raw: str


def extract_indicators(binary: Binary, program: Program | None = None) -> list[Evidence]:
    """Indicators in ``binary``'s strings (module doc), sorted and de-duplicated.

    Args:
        binary: the loaded image.
        program: recovered functions; enables stack strings and names the function building them.

    Returns:
        At most :data:`MAX_INDICATORS` :class:`Evidence` records of kind ``indicator``.
    """
    return classify(find_strings(binary, program))


def classify(strings: list[FoundString]) -> list[Evidence]:
    """Indicators in ``strings`` (which need not come from a binary: tests pass lists)."""
    kept = [s for s in strings if not _TOOLCHAIN.search(s.text) and not _junk(s.text)]
    scan = _Scan(kept)
    for handler in HANDLERS:
        handler(scan)
    return normalise(_evidence(h) for h in scan.hits[:MAX_INDICATORS])


def _junk(text: str) -> bool:
    """Punctuation-heavy runs (byte tables that happen to be printable, regex classes) hold no
    indicators, only accidents like ``6.7.8.5`` or ``r:\\sg``; real ones are at least 40% letters
    and digits."""
    return len(text) >= 16 and sum(c.isalnum() for c in text) < 0.4 * len(text)


def _evidence(h: _Hit) -> Evidence:
    enc = h.string.encoding
    return Evidence(
        kind=EvidenceKind.INDICATOR,
        subtype=h.subtype,
        value=h.value,
        detail=h.raw,
        address=h.string.address + h.string.byte_offset(h.start),
        function=h.string.function,
        source=f"strings:{enc}",
        tags=() if enc in ("ascii", "utf16") else (TAG_OBFUSCATED,),
    )


class _Scan:
    """All strings joined by NUL, so each pattern runs once over one text (in C, not per string);
    ``claimed`` spans stop a later, weaker pattern re-reading text an earlier one explained."""

    def __init__(self, strings: list[FoundString]) -> None:
        self.strings = strings
        self.starts: list[int] = []
        pos = 0
        for s in strings:
            self.starts.append(pos)
            pos += len(s.text) + 1
        self.text = "\0".join(s.text for s in strings)
        self.claimed: list[tuple[int, int]] = []  # sorted global spans
        self.hits: list[_Hit] = []

    def matches(self, pattern: re.Pattern[str]) -> Iterator[re.Match[str]]:
        for m in pattern.finditer(self.text):
            if not self._is_claimed(m.start(), m.end()):
                yield m

    def _is_claimed(self, lo: int, hi: int) -> bool:
        i = bisect.bisect_right(self.claimed, (hi, hi))
        return i > 0 and self.claimed[i - 1][1] > lo

    def claim(self, m: re.Match[str]) -> None:
        bisect.insort(self.claimed, (m.start(), m.end()))

    def add(
        self, m: re.Match[str], subtype: str, value: str, raw: str | None = None, at: int | None = None
    ) -> None:
        start = m.start() if at is None else at
        i = bisect.bisect_right(self.starts, start) - 1
        s = self.strings[i]
        self.hits.append(_Hit(s, start - self.starts[i], subtype, value, m.group() if raw is None else raw))

    def whole(self, m: re.Match[str]) -> bool:
        """Whether the match is its string's entire text (surrounding blanks aside)."""
        i = bisect.bisect_right(self.starts, m.start()) - 1
        return self.strings[i].text.strip() == m.group()

    def before(self, m: re.Match[str], n: int = 24) -> str:
        """Up to ``n`` characters before the match, within its own string."""
        lo = max(0, m.start() - n)
        return self.text[lo : m.start()].rpartition("\0")[2]


# -- network -------------------------------------------------------------------------------------


def _canon(fn: Callable[[str], Indicator], text: str) -> Indicator | None:
    try:
        return fn(text)
    except IndicatorError:
        return None


def _host_subtype(ind: Indicator) -> str:
    return {Kind.IPV4: "ipv4", Kind.IPV6: "ipv6"}.get(ind.kind, "domain")


def _good_domain(ind: Indicator | None, in_context: bool) -> bool:
    """A believable host name: known TLD, real second-level label; file-extension TLDs only in context."""
    if ind is None or Flag.SINGLE_LABEL in ind.flags:
        return False
    labels = ind.value.split(".")
    if labels[-1] not in TLDS or len(labels[-2]) < 2:
        return False
    return in_context or (labels[-1] not in FILE_EXT_TLDS and Flag.UNDERSCORE not in ind.flags)


def _urls(scan: _Scan) -> None:
    for m in scan.matches(_URL):
        raw = m.group().rstrip(_TRAILING)
        url = _canon(canon_url, raw)
        if url is None:
            continue
        scan.claim(m)
        host = _url_host(url.value)
        ind = _canon(canon_ip, host.strip("[]")) if host.startswith("[") else _canon(_host_canon, host)
        if ind is None or (ind.kind == Kind.DOMAIN and not _good_domain(ind, True)):
            continue  # "http://according/" in a dictionary or template text is no URL of a host
        scan.add(m, "url", url.value, raw)
        scan.add(m, _host_subtype(ind), ind.value, raw)


def _url_host(value: str) -> str:
    authority = value.split("://", 1)[1].split("/", 1)[0].split("?", 1)[0]
    return authority if authority.startswith("[") else authority.rsplit(":", 1)[0]


def _host_canon(host: str) -> Indicator:
    return canon_ip(host) if host.replace(".", "").isdigit() else canon_domain(host)


def _emails(scan: _Scan) -> None:
    for m in scan.matches(_EMAIL):
        domain = _canon(canon_domain, m.group(1))
        if not _good_domain(domain, True) or domain is None:
            continue
        local = re.split(r"@|\[at\]|\[@\]|\(at\)", m.group(), maxsplit=1)[0]
        scan.claim(m)
        scan.add(m, "email", f"{local.lower()}@{domain.value}")
        scan.add(m, "domain", domain.value)


def _ipv4s(scan: _Scan) -> None:
    for m in scan.matches(_IPV4):
        if _VERSION_WORD.search(scan.before(m)) or m.group().startswith(_OID_ARCS):
            continue
        ip = _canon(canon_ip, m.group())
        if ip is None or ip.kind != Kind.IPV4 or _netmask(ip.value):
            continue
        scan.claim(m)
        scan.add(m, "ipv4", ip.value)


def _netmask(value: str) -> bool:
    octets = value.split(".")
    return value == "0.0.0.0" or (octets[0] == "255" and all(o in _MASK_OCTETS for o in octets))


def _ipv6s(scan: _Scan) -> None:
    for m in scan.matches(_IPV6):
        text = m.group()
        groups = [g for g in text.split(":") if g]
        if ("::" not in text and text.count(":") != 7) or len(groups) < 2:
            continue
        ip = _canon(canon_ip, text)
        if ip is not None:
            scan.claim(m)
            scan.add(m, _host_subtype(ip), ip.value)


def _domains(scan: _Scan) -> None:
    for m in scan.matches(_DOMAIN):
        raw = m.group()
        ascii_part = "".join(c for c in raw if c.isascii() and c.isalpha())
        # hosts in code are lower case; "System.Net" and "LG.HK" are not hosts
        if ascii_part != ascii_part.lower():
            continue
        ind = _canon(canon_domain, raw)
        if ind is None or not _good_domain(ind, False):
            continue
        if ind.value.rsplit(".", 1)[-1] in WORD_TLDS and not scan.whole(m):
            continue
        scan.claim(m)
        scan.add(m, "domain", ind.value)


# -- host ----------------------------------------------------------------------------------------


def _user_agents(scan: _Scan) -> None:
    for m in scan.matches(_UA):
        raw = (m.group(1) or m.group()).strip()
        scan.claim(m)
        scan.add(m, "user-agent", " ".join(raw.split()), raw, at=m.start(1) if m.group(1) else None)


def _pipes(scan: _Scan) -> None:
    for m in scan.matches(_PIPE):
        scan.claim(m)
        scan.add(m, "pipe", "\\\\.\\pipe\\" + m.group(1).lower())


def _mutexes(scan: _Scan) -> None:
    for m in scan.matches(_MUTEX):
        scan.claim(m)
        scan.add(m, "mutex", m.group().rstrip(_TRAILING))


def _registry(scan: _Scan) -> None:
    for m in scan.matches(_REGISTRY):
        hive, rest = m.group(1), m.group(2).rstrip("\\ ")
        if not rest:
            continue
        full = _HIVES.get(hive.lower(), hive.upper()) if hive else ""
        scan.claim(m)
        scan.add(m, "registry", (f"{full}\\" if full else "") + rest.lower())


def _pdbs(scan: _Scan) -> None:
    for m in scan.matches(_PDB):
        raw = m.group().strip()
        scan.claim(m)
        scan.add(m, "pdb", raw.lower(), raw, at=m.start() + m.group().index(raw))


def _paths(scan: _Scan) -> None:
    for m in scan.matches(_PATH):
        raw = m.group().rstrip(_TRAILING + " ")
        if len(raw) < 5 or _TOOLCHAIN_PATH.match(raw):
            continue
        scan.claim(m)
        scan.add(m, "path", raw if raw.startswith("/") else raw.lower(), raw)


# Order matters: each handler claims what it explains, so later, looser patterns skip it.
HANDLERS: tuple[Callable[[_Scan], None], ...] = (
    _urls,
    _user_agents,
    _pipes,
    _registry,
    _pdbs,
    _emails,
    _mutexes,
    _paths,
    _ipv4s,
    _ipv6s,
    _domains,
)
