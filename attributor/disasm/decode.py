"""Instruction decoding with capstone (lite mode: address, size, mnemonic, operand text).

Decoding is on demand, one short run of instructions at a time, so data inside code sections
is never swept and a hostile section cannot make us decode more than recursive descent reaches.
"""

from __future__ import annotations

import re

import capstone

from attributor.loading.binary import Binary, Section

Insn = tuple[int, int, str, str]  # address, size, mnemonic, operand text (Intel syntax)

MAX_INSN = 15
_RUN = 24  # instructions per capstone call: blocks average 4-8, so most runs end inside one call

COND_JUMPS = frozenset(
    [
        "jo",
        "jno",
        "js",
        "jns",
        "je",
        "jz",
        "jne",
        "jnz",
        "jb",
        "jnae",
        "jc",
        "jnb",
        "jae",
        "jnc",
        "jbe",
        "jna",
        "ja",
        "jnbe",
        "jl",
        "jnge",
        "jge",
        "jnl",
        "jle",
        "jng",
        "jg",
        "jnle",
        "jp",
        "jpe",
        "jnp",
        "jpo",
        "jcxz",
        "jecxz",
        "jrcxz",
        "loop",
        "loope",
        "loopne",
        "loopz",
        "loopnz",
    ]
)
RETURNS = frozenset({"ret", "retf", "iret", "iretd", "iretq", "retn"})
STOPS = frozenset({"hlt", "ud2", "int3", "ud1", "ud0"})  # never fall through in compiled code

_HEX = re.compile(r"^(?:0x[0-9a-f]+|[0-9]+)$")
_RIP = re.compile(r"\[rip ([+-]) (0x[0-9a-f]+|[0-9]+)\]")
_ABS_MEM = re.compile(r"\[(0x[0-9a-f]+)\]$")


class Decoder:
    """Decode instructions of one binary, remembering runs already decoded."""

    def __init__(self, binary: Binary):
        mode = capstone.CS_MODE_64 if binary.bits == 64 else capstone.CS_MODE_32
        self._md = capstone.Cs(capstone.CS_ARCH_X86, mode)
        self._md.skipdata = False
        self.binary = binary
        self.bits = binary.bits
        self._sec: Section | None = None
        self._mv: memoryview = memoryview(b"")
        # An instruction is fully determined by the bytes at its address, so one cache serves
        # every function and every decoding alignment.
        self.cache: dict[int, Insn] = {}

    def _section(self, va: int) -> Section | None:
        sec = self._sec
        if sec is not None and sec.va <= va < sec.va + len(sec.data):
            return sec
        sec = self.binary.section_at(va)
        if sec is None or not sec.executable or va - sec.va >= len(sec.data):
            return None
        self._sec, self._mv = sec, memoryview(sec.data)
        return sec

    def run(self, va: int) -> list[Insn]:
        """Up to ``_RUN`` consecutive instructions at ``va`` ([] if unmapped or undecodable)."""
        sec = self._section(va)
        if sec is None:
            return []
        off = va - sec.va
        return list(self._md.disasm_lite(self._mv[off : off + _RUN * MAX_INSN], va, _RUN))

    def sweep(self) -> None:
        """Linear-sweep every executable section into the cache.

        Compiled code is mostly contiguous, so one pass through capstone (whose per-call cost
        dominates short runs) decodes nearly everything recursive descent will ask for. Where the
        sweep and the descent disagree (data in code), :meth:`at` decodes on demand at the
        descent's own alignment, so correctness never depends on the sweep.
        """
        cache = self.cache
        for sec in self.binary.code_sections:
            mv = memoryview(sec.data)
            off = 0
            while off < len(sec.data):
                last = off
                for ins in self._md.disasm_lite(mv[off:], sec.va + off):
                    cache[ins[0]] = ins
                    last = ins[0] - sec.va + ins[1]
                off = last + 1 if last == off else last  # skip one undecodable byte

    def at(self, va: int) -> Insn | None:
        """The instruction at ``va`` (decoding a run from there on a cache miss)."""
        ins = self.cache.get(va)
        if ins is None:
            run = self.run(va)
            if not run:
                return None
            cache = self.cache
            for i in run:
                cache[i[0]] = i
            ins = run[0]
        return ins


def imm_target(op: str) -> int | None:
    """The target of a direct branch (``call 0x401000``), else None."""
    if _HEX.match(op):
        return int(op, 0)
    return None


def mem_target(insn: Insn) -> int | None:
    """Absolute address of a ``[rip +/- disp]`` or ``[disp32]`` memory operand, else None."""
    addr, size, _, op = insn
    m = _RIP.search(op)
    if m:
        disp = int(m.group(2), 0)
        return addr + size + (disp if m.group(1) == "+" else -disp)
    m = _ABS_MEM.search(op)
    if m:
        return int(m.group(1), 16)
    return None
