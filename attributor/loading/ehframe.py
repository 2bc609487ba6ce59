"""Function starts from DWARF call-frame information (``.eh_frame_hdr`` and ``.eh_frame``).

Every function compiled with unwind tables (the default of gcc and clang on x86-64) has an FDE
whose ``pc_begin`` is the function start. This survives ``strip --strip-all``, so it is a legitimate
source in blind mode. Hostile data can only make us return fewer starts, never raise.
"""

from __future__ import annotations

import struct

import numpy as np

_OMIT = 0xFF
_DATAREL_SDATA4 = 0x3B


def _read_encoded(buf: bytes, pos: int, enc: int, field_va: int, ptr_size: int) -> tuple[int, int] | None:
    """Decode one DW_EH_PE-encoded pointer at ``pos``: ``(value, new_pos)`` or None."""
    fmt = enc & 0x0F
    sizes = {
        0x00: (ptr_size, "<Q" if ptr_size == 8 else "<I"),
        0x02: (2, "<H"),
        0x03: (4, "<I"),
        0x04: (8, "<Q"),
        0x0A: (2, "<h"),
        0x0B: (4, "<i"),
        0x0C: (8, "<q"),
    }
    if fmt not in sizes or pos + sizes[fmt][0] > len(buf):
        return None
    n, code = sizes[fmt]
    (value,) = struct.unpack_from(code, buf, pos)
    if enc & 0x70 == 0x10:  # pcrel
        value += field_va
    return value & 0xFFFFFFFFFFFFFFFF, pos + n


def eh_frame_hdr_starts(hdr: bytes, hdr_va: int) -> list[int]:
    """Starts from the binary-search table of ``.eh_frame_hdr`` (the fast path)."""
    if len(hdr) < 12 or hdr[0] != 1 or hdr[3] != _DATAREL_SDATA4:
        return []
    ptr_enc, cnt_enc = hdr[1], hdr[2]
    pos = 4
    if ptr_enc != _OMIT:
        r = _read_encoded(hdr, pos, ptr_enc, hdr_va + pos, 8)
        if r is None:
            return []
        pos = r[1]
    r = _read_encoded(hdr, pos, cnt_enc, hdr_va + pos, 8)
    if r is None:
        return []
    count, pos = r
    count = min(count, (len(hdr) - pos) // 8)
    table = np.frombuffer(hdr[pos : pos + 8 * count], dtype="<i4").reshape(-1, 2)
    starts = table[:, 0].astype(np.int64) + hdr_va
    return sorted(set(int(s) for s in starts if s > 0))


def _uleb(buf: bytes, pos: int) -> tuple[int, int]:
    result = shift = 0
    while pos < len(buf) and shift < 64:
        b = buf[pos]
        pos += 1
        result |= (b & 0x7F) << shift
        shift += 7
        if not b & 0x80:
            break
    return result, pos


def eh_frame_starts(data: bytes, va: int, ptr_size: int) -> list[int]:
    """Walk CIE/FDE records of a raw ``.eh_frame`` section (fallback when no header exists)."""
    starts: set[int] = set()
    cie_enc: dict[int, int] = {}
    pos = 0
    while pos + 8 <= len(data):
        (length,) = struct.unpack_from("<I", data, pos)
        if length == 0:
            break
        hdr = 4
        if length == 0xFFFFFFFF:
            if pos + 12 > len(data):
                break
            (length,) = struct.unpack_from("<Q", data, pos + 4)
            hdr = 12
        body, end = pos + hdr, pos + hdr + length
        if end > len(data) or length < 4:
            break
        (cie_ptr,) = struct.unpack_from("<I", data, body)
        if cie_ptr == 0:
            cie_enc[pos] = _cie_fde_encoding(data[body + 4 : end])
        else:
            enc = cie_enc.get(body - cie_ptr, 0x1B)
            r = _read_encoded(data, body + 4, enc, va + body + 4, ptr_size)
            if r is not None and r[0]:
                starts.add(r[0])
        pos = end
    return sorted(starts)


def _cie_fde_encoding(cie: bytes) -> int:
    """The 'R' augmentation (FDE pointer encoding) of a CIE body after its id field."""
    if not cie:
        return 0
    version = cie[0]
    nul = cie.find(b"\0", 1)
    if nul < 0:
        return 0
    aug = cie[1:nul].decode("latin-1")
    pos = nul + 1
    if "eh" in aug:
        pos += 8
    _, pos = _uleb(cie, pos)  # code alignment
    _, pos = _uleb(cie, pos)  # data alignment (sign irrelevant here)
    pos = pos + 1 if version == 1 else _uleb(cie, pos)[1]  # return address register
    if not aug.startswith("z"):
        return 0
    _, pos = _uleb(cie, pos)
    for ch in aug[1:]:
        if pos >= len(cie):
            break
        if ch == "R":
            return cie[pos]
        if ch == "L":
            pos += 1
        elif ch == "P":
            penc = cie[pos]
            size = {0x02: 2, 0x03: 4, 0x04: 8, 0x0A: 2, 0x0B: 4, 0x0C: 8}.get(penc & 0x0F, 8)
            pos += 1 + size
    return 0
