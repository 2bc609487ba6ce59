"""Jump-table resolution for the switch shapes gcc, clang, mingw and MSVC emit.

Shapes handled (``window`` holds the instructions of the block ending in the indirect jump):
  * relative:  ``lea B, [rip + T]`` ... ``movsxd R, dword ptr [B + I*4]`` ... ``add R, B``; ``jmp R``
    (PIC x86-64; MSVC's image-base-relative form ``mov R, dword ptr [B + I*4 + T]`` with B = base)
  * absolute:  ``jmp qword ptr [I*8 + T]`` / ``jmp dword ptr [I*4 + T]``
Entries are read up to the bound learnt from ``cmp I, N; ja`` (else at most ``MAX_ENTRIES``) and
only while they land in the jump's own executable section; anything else returns no successor.
"""

from __future__ import annotations

import re
import struct

from attributor.disasm.decode import Insn, mem_target
from attributor.loading.binary import Binary

MAX_ENTRIES = 512  # with a bound from the index check
MAX_UNBOUNDED = 64  # without one: reading on would run into the next table or data
_REG = re.compile(r"^[a-z0-9]+$")
_ABS_TABLE = re.compile(r"\[(?:[a-z0-9]+ \+ )?[a-z0-9]+\*([48]) \+ (0x[0-9a-f]+)\]$")
_REL_LOAD = re.compile(r"^([a-z0-9]+), dword ptr \[([a-z0-9]+) \+ [a-z0-9]+\*4(?: \+ (0x[0-9a-f]+))?\]$")


def resolve_jump_table(b: Binary, window: list[Insn], bound: int | None) -> list[int]:
    """Targets of the indirect jump that ends ``window`` ([] when the shape is not recognised)."""
    jmp = window[-1]
    op = jmp[3]
    n = min(bound, MAX_ENTRIES) if bound else MAX_UNBOUNDED
    m = _ABS_TABLE.search(op)
    if m:
        width = int(m.group(1))
        if width * 8 != b.bits:
            return []
        return _read_entries(b, jmp[0], int(m.group(2), 16), n, width, base=None)
    if not _REG.match(op):
        return []
    return _relative(b, window, op, n)


def _relative(b: Binary, window: list[Insn], reg: str, n: int) -> list[int]:
    base_reg = table = None
    for ins in reversed(window[:-1]):
        mnem, op = ins[2], ins[3]
        if table is None and mnem in ("movsxd", "mov"):
            m = _REL_LOAD.match(op)
            if m and _same_reg(m.group(1), reg):
                base_reg, table = m.group(2), int(m.group(3) or "0", 16)
        elif base_reg is not None and mnem == "lea" and op.startswith(base_reg + ","):
            base = mem_target(ins)
            if base is None:
                return []
            return _read_entries(b, window[-1][0], base + (table or 0), n, 4, base=base)
    return []


def _canon(r: str) -> str:
    if r[:1] == "r" and r[1:].rstrip("dwb").isdigit():
        return r.rstrip("dwb")  # r8d -> r8
    if len(r) == 3 and r[0] in "re":
        return r[1:]  # eax / rax -> ax
    return r


def _same_reg(a: str, b: str) -> bool:
    """``eax`` and ``rax`` name one register for our purpose (movsxd writes the 64-bit one)."""
    return _canon(a) == _canon(b)


def _read_entries(b: Binary, jmp_va: int, table: int, n: int, width: int, base: int | None) -> list[int]:
    sec = b.section_at(jmp_va)
    if sec is None:
        return []
    raw = b.read(table, n * width)
    out: list[int] = []
    fmt = {4: "<i" if base is not None else "<I", 8: "<Q"}[width]
    for i in range(len(raw) // width):
        (v,) = struct.unpack_from(fmt, raw, i * width)
        t = base + v if base is not None else v
        if not sec.va <= t < sec.va + len(sec.data):
            break
        out.append(t)
    return sorted(set(out))
