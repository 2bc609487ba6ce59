"""The evidence contract: one :class:`Evidence` record per finding beyond shared code.

Every extractor (crypto, key material, capabilities, indicators) returns these records and
nothing else; the store keeps them with corpus samples, the matcher compares them by
:attr:`Evidence.key`, and the report documents copy them. A record is plain data: no LIEF,
capstone or capa object escapes an extractor.

Identity: two records are *the same evidence* when their ``key`` (kind, value) is equal. The
``value`` is therefore the canonical, comparable form (an algorithm name, a key's SHA-256, a
capa rule name, a canonicalised indicator), while ``detail`` is free text for people.

Determinism: extractors return records sorted by :func:`sort_key`; :func:`normalise` sorts and
de-duplicates any list, so the same sample always yields the same list.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum


class EvidenceKind(StrEnum):
    CRYPTO = "crypto"  # an algorithm recognised by constants / code shape; value = algorithm name
    KEY = "key"  # key material (key blob, high-entropy bytes cipher code uses); value = SHA-256 hex
    CAPABILITY = "capability"  # a capa rule that matched; value = rule name
    INDICATOR = "indicator"  # a network / host indicator in the sample; value = canonical form


# Tags with a meaning the scorer and renderers rely on.
TAG_DESTRUCTIVE = "destructive"  # data destruction: raw disk, MBR, overwrite-then-delete, shadow copies
TAG_ANTI_FORENSIC = "anti-forensic"  # timestomping, self-deletion, log clearing
TAG_ENCRYPTION = "encryption"  # capability rules about encrypting / encoding data
TAG_NON_ATTRIBUTABLE = "non-attributable"  # RFC1918, sinkholes, CDNs, public DNS, shorteners, ...
TAG_OBFUSCATED = "obfuscated"  # the string was found XOR/ADD-encoded or built on the stack


@dataclass(frozen=True)
class Evidence:
    """One finding, with where it was found and who found it.

    Attributes:
        kind: what sort of evidence (see :class:`EvidenceKind`).
        subtype: a finer class within the kind. crypto: the hit kind ("table", "constant",
            "key-schedule loop", "xor-loop", ...); key: "key blob" / "high-entropy";
            capability: the capa namespace ("anti-analysis/anti-forensic/..."); indicator: one of
            "ipv4", "ipv6", "domain", "url", "email", "user-agent", "mutex", "pipe", "registry",
            "pdb", "path".
        value: the canonical comparable value (see module doc). Never empty.
        detail: one line for people, e.g. "AES S-box, 256 entries" or the raw string as found.
        address: virtual address of the evidence (table, string, loop head, rule match), if any.
        function: start of the recovered function that uses it, if known.
        source: the extractor and how it saw it: "crypto", "key", "capa", "strings:ascii",
            "strings:utf16", "strings:stack", "strings:xor(0x5a)", "strings:add(0x03)", ...
        attack: MITRE ATT&CK technique ids ("T1561.002"), sorted.
        tags: sorted tags (see the ``TAG_*`` constants).
    """

    kind: EvidenceKind
    subtype: str
    value: str
    detail: str = ""
    address: int | None = None
    function: int | None = None
    source: str = ""
    attack: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not self.value:
            raise ValueError("evidence value must not be empty")

    @property
    def key(self) -> tuple[str, str]:
        """Identity across samples: equal keys are the same evidence."""
        return (str(self.kind), self.value)


def sort_key(e: Evidence) -> tuple:
    """Total order used everywhere evidence is listed (kind, value, address, then the rest)."""
    return (
        str(e.kind),
        e.value,
        -1 if e.address is None else e.address,
        -1 if e.function is None else e.function,
        e.subtype,
        e.source,
        e.detail,
        e.attack,
        e.tags,
    )


def normalise(records: Iterable[Evidence]) -> list[Evidence]:
    """Sorted, exact duplicates removed."""
    return sorted(set(records), key=sort_key)
