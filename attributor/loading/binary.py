"""The loader's contract: a format-neutral, read-only view of one PE or ELF image.

Addresses are the virtual addresses a disassembler shows: ELF ``p_vaddr`` (0-based for shared
objects), PE ``ImageBase + RVA``. Everything later in the pipeline sees only this type; no LIEF
object escapes the loader.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Section:
    """A mapped region. ``data`` may be shorter than ``vsize`` (zero-fill / .bss)."""

    name: str
    va: int
    vsize: int
    data: bytes
    executable: bool

    @property
    def end(self) -> int:
        return self.va + self.vsize


@dataclass
class Binary:
    """A parsed sample. Symbol-derived fields are empty when loaded in ``blind`` mode."""

    sha256: str
    size: int
    format: str  # "PE" | "ELF"
    arch: str  # "x86" | "x86-64"
    bits: int  # 32 | 64
    image_base: int
    entry: int | None
    sections: list[Section]
    # VA of an import slot (PE IAT entry, ELF GOT slot) -> imported function name.
    imports: dict[int, str] = field(default_factory=dict)
    # VA of an ELF GOT slot bound to a function the object defines itself -> that function's VA.
    # Needed to follow ``call f@plt`` inside -fPIC code; carries no name, so it is kept when blind.
    local_slots: dict[int, int] = field(default_factory=dict)
    # Function starts named by the binary itself (exports, symtab); never filled in blind mode.
    symbols: dict[int, str] = field(default_factory=dict)
    # Function starts from unwind metadata: PE x64 .pdata, ELF .eh_frame(_hdr) FDEs.
    unwind_starts: list[int] = field(default_factory=list)
    blind: bool = False
    warnings: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.sections.sort(key=lambda s: s.va)
        self._starts = [s.va for s in self.sections]

    # -- address space -------------------------------------------------------------------------

    def section_at(self, va: int) -> Section | None:
        """The section mapping ``va``, or None."""
        i = bisect.bisect_right(self._starts, va) - 1
        if i >= 0:
            sec = self.sections[i]
            if va < sec.end:
                return sec
        return None

    def is_executable(self, va: int) -> bool:
        sec = self.section_at(va)
        return sec is not None and sec.executable

    def read(self, va: int, n: int) -> bytes:
        """Up to ``n`` bytes at ``va`` from the file-backed part of one section ('' if unmapped)."""
        sec = self.section_at(va)
        if sec is None:
            return b""
        off = va - sec.va
        return sec.data[off : off + n]

    def read_cstring(self, va: int, limit: int = 256) -> bytes | None:
        """A printable NUL-terminated ASCII string at ``va`` (at least 4 chars), else None."""
        raw = self.read(va, limit)
        end = raw.find(b"\0")
        if end < 4:
            return None
        s = raw[:end]
        if all(32 <= c < 127 or c in (9, 10, 13) for c in s):
            return s
        return None

    @property
    def code_sections(self) -> list[Section]:
        return [s for s in self.sections if s.executable and s.data]

    @property
    def code_bytes(self) -> int:
        """Executable bytes backed by the file: the denominator of coverage."""
        return sum(min(len(s.data), s.vsize) for s in self.code_sections)


# -- loader warnings (one line each; they end up in the sample's notes and in reports) -----------


def decode_name(name: str | bytes) -> str:
    """A name from LIEF as text: LIEF hands back ``bytes`` when a name is not valid UTF-8."""
    return name.decode("latin-1") if isinstance(name, bytes) else str(name)


def printable(name: str, limit: int = 40) -> str:
    """A section name as it may appear in a note: escaped, short, never more than one line."""
    out = "".join(c if " " <= c < "\x7f" else f"\\x{ord(c) & 0xFF:02x}" for c in name[:limit])
    return out + ("..." if len(name) > limit else "")


def listing(names: list[str], limit: int = 3) -> str:
    """``"section .text"``, ``"sections .a, .b and 2 more"``."""
    shown = ", ".join(printable(n) for n in names[:limit])
    more = f" and {len(names) - limit} more" if len(names) > limit else ""
    return f"section{'s' if len(names) > 1 else ''} {shown}{more}"


def overlap_warnings(sections: list[Section]) -> list[str]:
    """One warning naming sections whose virtual ranges overlap (the Windows loader refuses these).

    Lookups then resolve an address to the section starting last at or below it.
    """
    pairs: list[str] = []
    widest: Section | None = None
    for s in sorted(sections, key=lambda s: s.va):
        if s.vsize == 0:
            continue
        if widest is not None and s.va < widest.end:
            pairs.append(f"{printable(s.name)} at 0x{s.va:x} inside {printable(widest.name)}")
        if widest is None or s.end > widest.end:
            widest = s
    if not pairs:
        return []
    more = f" and {len(pairs) - 3} more" if len(pairs) > 3 else ""
    return [f"overlapping sections: {'; '.join(pairs[:3])}{more}"]
