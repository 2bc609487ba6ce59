"""PE32 / PE32+ via LIEF: sections, IAT imports, exports, x64 ``.pdata`` function starts."""

from __future__ import annotations

import io
from typing import Any

import lief
import numpy as np

from attributor.errors import MalformedBinary, UnsupportedFormat
from attributor.loading.binary import Section, decode_name, listing, overlap_warnings

_EXEC = lief.PE.Section.CHARACTERISTICS.MEM_EXECUTE
_CODE = lief.PE.Section.CHARACTERISTICS.CNT_CODE
_COMIMAGE_FLAGS_ILONLY = 0x1
MAX_SECTIONS = 96  # the PE loader of Windows refuses more


def parse_pe(data: bytes, blind: bool) -> dict[str, Any]:
    """Fields of :class:`Binary` (minus identity) for a PE image; raises typed errors."""
    pe = lief.PE.parse(io.BytesIO(data))
    if pe is None:
        raise MalformedBinary("PE headers could not be parsed")
    base = int(pe.optional_header.imagebase)
    _reject_dotnet(pe)
    # The header's count: LIEF stops reading after 1,000 section headers.
    n_sections = max(int(pe.header.numberof_sections), len(pe.sections))
    if n_sections == 0:
        raise MalformedBinary("PE without sections")
    if n_sections > MAX_SECTIONS:
        raise MalformedBinary(f"PE with {n_sections} sections (Windows accepts at most {MAX_SECTIONS})")
    warnings: list[str] = []
    sections = _sections(pe, data, base, warnings)
    entry_rva = int(pe.optional_header.addressof_entrypoint)
    return {
        "image_base": base,
        "entry": base + entry_rva if entry_rva else None,
        "sections": sections,
        "imports": _imports(pe, base),
        "symbols": {} if blind else _exports(pe, base),
        "unwind_starts": _pdata_starts(pe, data, base, sections),
        "warnings": warnings + overlap_warnings(sections),
    }


def _reject_dotnet(pe: Any) -> None:
    clr = pe.data_directory(lief.PE.DataDirectory.TYPES.CLR_RUNTIME_HEADER)
    if clr is None or clr.rva == 0 or clr.size == 0:
        return
    flags = _COMIMAGE_FLAGS_ILONLY
    try:
        raw = bytes(pe.get_content_from_virtual_address(clr.rva + 16, 4))
        flags = int.from_bytes(raw, "little") if len(raw) == 4 else flags
    except Exception:
        pass
    if flags & _COMIMAGE_FLAGS_ILONLY:
        raise UnsupportedFormat(".NET assembly (IL only): no native code to analyse")


def _sections(pe: Any, data: bytes, base: int, warnings: list[str]) -> list[Section]:
    out: list[Section] = []
    cut: list[str] = []
    for s in pe.sections:
        off, raw = int(s.pointerto_raw_data), int(s.sizeof_raw_data)
        vsize = int(s.virtual_size) or raw
        body = data[off : off + min(raw, vsize)] if off < len(data) else b""
        ex = s.has_characteristic(_EXEC) or s.has_characteristic(_CODE)
        name = decode_name(s.name).rstrip("\0") or f"sect_{len(out)}"
        if raw and off + raw > len(data):
            cut.append(name)
        out.append(Section(name, base + int(s.virtual_address), vsize, body, bool(ex)))
    if cut:
        warnings.append(f"raw data past the end of the file: {listing(cut)}")
    return out


def _imports(pe: Any, base: int) -> dict[int, str]:
    out: dict[int, str] = {}
    for imp in pe.imports:
        dll = decode_name(imp.name).lower()
        for e in imp.entries:
            if not e.iat_address:
                continue
            name = f"{dll}#{e.ordinal}" if e.is_ordinal else decode_name(e.name)
            out[base + int(e.iat_address)] = name
    return out


def _exports(pe: Any, base: int) -> dict[int, str]:
    if not pe.has_exports:
        return {}
    out = {}
    for e in pe.get_export().entries:
        if not e.is_extern and e.address:
            out[base + int(e.address)] = decode_name(e.name) or f"ord_{e.ordinal}"
    return out


def _pdata_starts(pe: Any, data: bytes, base: int, sections: list[Section]) -> list[int]:
    """BeginAddress of every RUNTIME_FUNCTION in the exception directory (x64 only)."""
    d = pe.data_directory(lief.PE.DataDirectory.TYPES.EXCEPTION_TABLE)
    if d is None or d.rva == 0 or d.size < 12:
        return []
    va = base + int(d.rva)
    for s in sections:
        if s.va <= va < s.va + len(s.data):
            raw = s.data[va - s.va : va - s.va + int(d.size)]
            n = len(raw) // 12
            table = np.frombuffer(raw[: n * 12], dtype="<u4").reshape(n, 3)
            begins = table[:, 0]
            # Python ints: a hostile 64-bit ImageBase would overflow int64 arithmetic.
            return sorted({b + base for b in begins[begins > 0].tolist()})
    return []
