"""Last-resort function starts: prologue patterns in executable bytes no function covers.

Runs after every metadata source and call target has been followed, over the gaps between
recovered functions. Padding (int3, nop forms, zero bytes) is skipped; a start is accepted where
the bytes begin with a common compiler prologue, or where code follows alignment padding at a
16-byte boundary and decodes into plausible instructions.
"""

from __future__ import annotations

from collections.abc import Iterator

from attributor.disasm.decode import Decoder
from attributor.loading.binary import Binary

_PROLOGUES_64 = (
    b"\xf3\x0f\x1e\xfa",  # endbr64
    b"\x55\x48\x89\xe5",  # push rbp; mov rbp, rsp
    b"\x41\x57",
    b"\x41\x56",
    b"\x41\x55",
    b"\x41\x54",  # push r15..r12
    b"\x48\x83\xec",
    b"\x48\x81\xec",  # sub rsp, imm
    b"\x48\x89\x5c\x24",
    b"\x48\x89\x4c\x24",
    b"\x48\x89\x54\x24",
    b"\x4c\x89\x44\x24",  # spills
    b"\x55\x48\x8b\xec",
    b"\x40\x53",
    b"\x40\x55",
    b"\x40\x56",
    b"\x40\x57",
)
_PROLOGUES_32 = (
    b"\xf3\x0f\x1e\xfb",  # endbr32
    b"\x55\x89\xe5",
    b"\x55\x8b\xec",  # push ebp; mov ebp, esp
    b"\x8b\xff\x55\x8b\xec",  # MSVC hot-patch prologue
    b"\x83\xec",
    b"\x81\xec",  # sub esp, imm
    b"\x53\x56\x57",
    b"\x56\x57",
)
_PAD = frozenset(b"\xcc\x90\x00")
_IMPLAUSIBLE = frozenset(
    {
        "in",
        "out",
        "insb",
        "insd",
        "outsb",
        "outsd",
        "hlt",
        "iretd",
        "iret",
        "lcall",
        "ljmp",
        "arpl",
        "into",
        "aam",
        "aad",
        "sahf",
        "lahf",
        "cli",
        "sti",
        "wait",
    }
)


def scan_gaps(b: Binary, dec: Decoder, covered: list[tuple[int, int]]) -> Iterator[int]:
    """Candidate function starts inside the executable bytes outside ``covered`` (sorted spans)."""
    prologues = _PROLOGUES_64 if b.bits == 64 else _PROLOGUES_32
    for sec in b.code_sections:
        for lo, hi in _gaps(sec.va, sec.va + len(sec.data), covered):
            yield from _scan_gap(b, dec, sec.data, sec.va, lo, hi, prologues)


def _gaps(lo: int, hi: int, covered: list[tuple[int, int]]) -> Iterator[tuple[int, int]]:
    pos = lo
    for a, e in covered:
        if e <= pos or a >= hi:
            continue
        if a > pos:
            yield pos, a
        pos = max(pos, e)
    if pos < hi:
        yield pos, hi


def _scan_gap(
    b: Binary, dec: Decoder, data: bytes, base: int, lo: int, hi: int, prologues: tuple[bytes, ...]
) -> Iterator[int]:
    va = _skip_padding(dec, data, base, lo, hi)
    after_pad = va > lo
    while va < hi:
        head = data[va - base : va - base + 5]
        if head.startswith(prologues) or (after_pad and va % 16 == 0 and _plausible(dec, va)):
            yield va
            return  # descend first: the function's own extent tells where the next gap begins
        va += 16 - va % 16 if va % 16 else 16
        after_pad = False
        if va < hi and data[va - base - 1] in _PAD:
            after_pad = True


def _skip_padding(dec: Decoder, data: bytes, base: int, lo: int, hi: int) -> int:
    va = lo
    while va < hi:
        if data[va - base] in _PAD:
            va += 1
            continue
        ins = dec.at(va)
        if ins is None:
            break
        if ins[2] == "nop" or (ins[2] == "xchg" and ins[3] == "ax, ax"):
            va += ins[1]
            continue
        if ins[2] == "lea" and ins[3] in ("rsi, [rsi]", "esi, [esi]", "edi, [edi]"):
            va += ins[1]
            continue
        break
    return va


def _plausible(dec: Decoder, va: int) -> bool:
    for _ in range(4):
        ins = dec.at(va)
        if ins is None:
            return False
        m, op = ins[2], ins[3]
        if m in _IMPLAUSIBLE or op == "byte ptr [rax], al" or op == "byte ptr [eax], al":
            return False
        va += ins[1]
    return True
