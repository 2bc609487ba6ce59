"""ELF32 / ELF64 (x86, x86-64) via LIEF: segments, PLT/GOT imports, symbols, ``.eh_frame`` FDEs."""

from __future__ import annotations

import io
from typing import Any

import lief

from attributor.errors import MalformedBinary
from attributor.loading.binary import Section, decode_name, listing
from attributor.loading.ehframe import eh_frame_hdr_starts, eh_frame_starts

_X = lief.ELF.Section.FLAGS.EXECINSTR
_ALLOC = lief.ELF.Section.FLAGS.ALLOC
_IMPORT_RELOCS = ("JUMP_SLOT", "GLOB_DAT")
MAX_SECTIONS = 4096


def parse_elf(data: bytes, blind: bool) -> dict[str, Any]:
    """Fields of :class:`Binary` (minus identity) for an ELF image; raises typed errors."""
    elf = lief.ELF.parse(io.BytesIO(data))
    if elf is None:
        raise MalformedBinary("ELF headers could not be parsed")
    warnings: list[str] = []
    sections = _sections(elf, data, warnings)
    if not sections:
        raise MalformedBinary("ELF maps no loadable bytes")
    entry = int(elf.entrypoint) or None
    return {
        "image_base": 0,
        "entry": entry,
        "sections": sections,
        "imports": _imports(elf),
        "local_slots": _local_slots(elf),
        "symbols": {} if blind else _symbols(elf),
        "unwind_starts": _unwind_starts(elf, data, sections),
        "warnings": warnings,
    }


def _sections(elf: Any, data: bytes, warnings: list[str]) -> list[Section]:
    """Allocated sections when section headers exist, else PT_LOAD segments."""
    out: list[Section] = []
    cut: list[str] = []
    if 0 < len(elf.sections) <= MAX_SECTIONS:
        for s in elf.sections:
            if not s.has(_ALLOC) or s.virtual_address == 0 or s.size == 0:
                continue
            nobits = s.type == lief.ELF.Section.TYPE.NOBITS
            off = int(s.offset)
            body = b"" if nobits or off >= len(data) else data[off : off + int(s.size)]
            name = decode_name(s.name) or f"sect_{len(out)}"
            if not nobits and off + int(s.size) > len(data):
                cut.append(name)
            out.append(Section(name, int(s.virtual_address), int(s.size), body, s.has(_X)))
    if out:
        _warn_cut(cut, warnings)
        return out
    cut.clear()
    n_headers = int(elf.header.numberof_sections)
    why = "no section headers" if n_headers == 0 else f"{n_headers} section headers unusable"
    warnings.append(f"ELF with {why}; code taken from PT_LOAD segments")
    for seg in elf.segments:
        if seg.type != lief.ELF.Segment.TYPE.LOAD or seg.virtual_size == 0:
            continue
        off = int(seg.file_offset)
        body = data[off : off + int(seg.physical_size)] if off < len(data) else b""
        if off + int(seg.physical_size) > len(data):
            cut.append(f"load_{len(out)}")
        ex = seg.has(lief.ELF.Segment.FLAGS.X)
        out.append(Section(f"load_{len(out)}", int(seg.virtual_address), int(seg.virtual_size), body, ex))
    _warn_cut(cut, warnings)
    return out


def _warn_cut(cut: list[str], warnings: list[str]) -> None:
    if cut:
        warnings.append(f"file data past the end of the file, truncated: {listing(cut)}")


def _imports(elf: Any) -> dict[int, str]:
    """GOT slot -> name for relocations against *undefined* symbols (real imports only).

    A PLT slot of a symbol the object defines itself (semantic interposition in ``-fPIC`` code)
    is not an import: its name would leak the library's own function names into blind mode.
    """
    out: dict[int, str] = {}
    for r in [*elf.dynamic_relocations, *elf.pltgot_relocations]:
        # An unknown relocation type comes back from LIEF as a plain int, without ``.name``.
        if not r.has_symbol or not getattr(r.type, "name", "").endswith(_IMPORT_RELOCS):
            continue
        sym = r.symbol
        if sym.name and sym.shndx == 0:
            out[int(r.address)] = decode_name(sym.name)
    return out


def _local_slots(elf: Any) -> dict[int, int]:
    """GOT slot -> address for PLT relocations against functions this object defines."""
    out: dict[int, int] = {}
    for r in elf.pltgot_relocations:
        if r.has_symbol and r.symbol.shndx != 0 and r.symbol.value:
            out[int(r.address)] = int(r.symbol.value)
    return out


def _symbols(elf: Any) -> dict[int, str]:
    out: dict[int, str] = {}
    for s in elf.symbols:
        if s.is_function and s.value and s.shndx != 0:
            out.setdefault(int(s.value), decode_name(s.name))
    return out


def _unwind_starts(elf: Any, data: bytes, sections: list[Section]) -> list[int]:
    def read(va: int, n: int) -> bytes:
        for s in sections:
            if s.va <= va < s.va + len(s.data):
                return s.data[va - s.va : va - s.va + n]
        return b""

    for seg in elf.segments:
        if seg.type == lief.ELF.Segment.TYPE.GNU_EH_FRAME:
            va = int(seg.virtual_address)
            starts = eh_frame_hdr_starts(read(va, int(seg.virtual_size)), va)
            if starts:
                return starts
    for s in sections:
        if s.name == ".eh_frame" and s.data:
            return eh_frame_starts(s.data, s.va, 8 if elf.header.identity_class.name == "CLASS64" else 4)
    return []
