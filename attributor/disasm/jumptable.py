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
from collections.abc import Iterable

from attributor.disasm.decode import Insn, mem_target
from attributor.loading.binary import Binary

MAX_ENTRIES = 512  # with a bound from the index check
MAX_UNBOUNDED = 64  # without one: reading on would run into the next table or data
_REG = re.compile(r"^[a-z0-9]+$")
_ABS_TABLE = re.compile(r"\[(?:[a-z0-9]+ \+ )?[a-z0-9]+\*([48]) \+ (0x[0-9a-f]+)\]$")
_REL_LOAD = re.compile(r"^([a-z0-9]+), dword ptr \[([a-z0-9]+) \+ [a-z0-9]+\*4(?: \+ (0x[0-9a-f]+))?\]$")


def resolve_jump_table(
    b: Binary, window: list[Insn], bound: int | None, earlier: Iterable[Insn] = ()
) -> list[int]:
    """Targets of the indirect jump that ends ``window`` ([] when the shape is not recognised).

    ``earlier`` holds instructions of the function decoded before this block: compilers hoist
    the table-base ``lea`` out of loops, so it is not always in the jump's own block.
    """
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
    return _relative(b, window, op, n, earlier)


def _relative(b: Binary, window: list[Insn], reg: str, n: int, earlier: Iterable[Insn]) -> list[int]:
    """``add R, B; jmp R`` with B = address of the table (gcc, clang) or the image base (MSVC).

    The displacement of the load into R (``dword ptr [B + I*4 + D]``) locates the table relative
    to B; without one the table starts at B, as in gcc's -O0 ``mov eax, [rdx + rax]`` form.
    """
    base_reg, disp = None, 0
    body = window[:-1]
    for k in range(len(body) - 1, -1, -1):
        mnem, op = body[k][2], body[k][3]
        if mnem == "add" and _same_reg(op.split(", ")[0], reg):
            base_reg = op.split(", ")[-1]
            disp = _load_disp(body[:k], reg, base_reg)
            body = body[:k]
            break
    if base_reg is None or not _REG.match(base_reg):
        return []
    base = _lea_target(reversed(body), base_reg)
    if base is None:
        jmp_va = window[-1][0]
        before = sorted((i for i in earlier if i[0] < jmp_va), key=lambda i: i[0], reverse=True)
        base = _lea_target(before, base_reg)
    if base is None:
        return []
    return _read_entries(b, window[-1][0], base + disp, n, 4, base=base)


def _load_disp(body: list[Insn], reg: str, base_reg: str) -> int:
    for ins in reversed(body):
        if ins[2] in ("movsxd", "mov"):
            m = _REL_LOAD.match(ins[3])
            if m and _same_reg(m.group(1), reg) and _same_reg(m.group(2), base_reg):
                return int(m.group(3) or "0", 16)
    return 0


def _lea_target(insns: Iterable[Insn], reg: str) -> int | None:
    """Target of the first ``lea reg, [rip +/- d]`` in ``insns`` (None if another write comes first)."""
    for ins in insns:
        dest = ins[3].split(", ")[0]
        if not _same_reg(dest, reg):
            continue
        return mem_target(ins) if ins[2] == "lea" else None
    return None


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
