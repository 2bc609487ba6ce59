"""Instruction normalisation, version 1 (``NORMALISATION_VERSION``).

Each instruction becomes a token ``mnemonic operand,operand`` with everything that depends on
layout, register allocation or compiler whim abstracted, and the facts that survive compilers set
aside as *semantic features*:

mnemonic  ``notrack``/``bnd`` hints dropped; every conditional jump -> ``jcc``; ``cmovCC`` -> ``cmov``;
          ``setCC`` -> ``set``; ``nop`` forms dropped entirely (alignment padding).
register  ``r8 r16 r32 r64`` by width; ``sp``/``bp`` for the stack and frame pointer; ``x`` for
          SSE/AVX registers; ``st`` for x87; ``seg`` for segment registers.
immediate ``i``; values with ``abs(v) >= 0x100`` that are not addresses become constant features.
memory    ``m<width>`` (``m8 m16 m32 m64 m128 …``); ``s<width>`` when based on sp/bp (stack slot);
          ``g<width>`` for rip-relative or absolute globals. A global that holds a printable C string
          becomes a string feature; an import slot becomes an API feature.
branches  ``jmp``/``jcc`` targets -> ``loc``; ``call`` -> ``call fn`` (internal), ``call api:NAME``
          (import, thunk or IAT slot) or ``call ind`` (indirect).

The version number is stored with every index; any change to these rules must bump it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from attributor.disasm.decode import COND_JUMPS, Insn, imm_target, mem_target
from attributor.loading.binary import Binary

_R64 = ["rax", "rbx", "rcx", "rdx", "rsi", "rdi", "r8", "r9", "r10", "r11", "r12", "r13", "r14", "r15"]
_R32 = [
    "eax",
    "ebx",
    "ecx",
    "edx",
    "esi",
    "edi",
    "r8d",
    "r9d",
    "r10d",
    "r11d",
    "r12d",
    "r13d",
    "r14d",
    "r15d",
]
_R16 = ["ax", "bx", "cx", "dx", "si", "di", "r8w", "r9w", "r10w", "r11w", "r12w", "r13w", "r14w", "r15w"]
_R8 = [
    "al",
    "bl",
    "cl",
    "dl",
    "sil",
    "dil",
    "ah",
    "bh",
    "ch",
    "dh",
    "r8b",
    "r9b",
    "r10b",
    "r11b",
    "r12b",
    "r13b",
    "r14b",
    "r15b",
]
_REGS: dict[str, str] = {}
_REGS.update({r: "r64" for r in _R64})
_REGS.update({r: "r32" for r in _R32})
_REGS.update({r: "r16" for r in _R16})
_REGS.update({r: "r8" for r in _R8})
_REGS.update({r: "sp" for r in ("rsp", "esp", "sp", "spl")})
_REGS.update({r: "bp" for r in ("rbp", "ebp", "bp", "bpl")})
_REGS.update({r: "seg" for r in ("cs", "ds", "es", "fs", "gs", "ss")})
_SIZES = {
    "byte": "8",
    "word": "16",
    "dword": "32",
    "qword": "64",
    "xmmword": "128",
    "ymmword": "256",
    "zmmword": "512",
    "tbyte": "80",
    "xword": "80",
}
_IMM = re.compile(r"^-?(?:0x[0-9a-f]+|[0-9]+)$")
_STACK = re.compile(r"\[(?:[re]?sp|[re]?bp)\b")
_NOPS = frozenset({"nop", "fnop", "endbr64", "endbr32"})
_CONST_MIN = 0x100


@dataclass
class Features:
    """Semantic features of one function (kept apart from the instruction tokens)."""

    constants: list[int] = field(default_factory=list)  # immediates >= 0x100 (not addresses)
    small: list[int] = field(default_factory=list)  # immediates 2..0xff and struct offsets
    strings: list[bytes] = field(default_factory=list)
    apis: list[str] = field(default_factory=list)
    calls: list[int] = field(default_factory=list)  # internal call targets


def _mnemonic(m: str) -> str:
    if " " in m:
        head, _, tail = m.rpartition(" ")
        # branch hints, and the "repz ret" some compilers emit for old AMD predictors
        m = tail if head in ("notrack", "bnd") or tail == "ret" else m
    if m in COND_JUMPS:
        return "jcc"
    if m.startswith("cmov"):
        return "cmov"
    if m.startswith("set") and len(m) <= 6:
        return "set"
    return m


def _reg(op: str) -> str | None:
    r = _REGS.get(op)
    if r is not None:
        return r
    if op[:3] in ("xmm", "ymm", "zmm"):
        return "x"
    if op.startswith("st") or op.startswith("mm"):
        return "st"
    return None


class Normaliser:
    """Turns the instructions of one binary into tokens + features (caches per operand text)."""

    def __init__(self, binary: Binary, thunks: dict[int, str], aliases: dict[int, int]):
        self.b = binary
        self.thunks = thunks
        self.aliases = aliases
        self._cache: dict[tuple[str, str], tuple[str, tuple[int, ...], tuple[int, ...]]] = {}
        self._lo, self._hi = self._image_span()

    def _image_span(self) -> tuple[int, int]:
        """Range in which an immediate is taken for an address. Position-independent images
        mapped at 0 have no absolute addresses in code, so there every immediate is a value."""
        secs = self.b.sections
        if not secs or secs[0].va < 0x10000:
            return (0, 0)
        return secs[0].va, secs[-1].end

    def function(self, insns: list[Insn], feats: Features) -> list[str]:
        """Tokens of ``insns`` in address order; semantic features are appended to ``feats``."""
        out: list[str] = []
        cache = self._cache
        consts, small = feats.constants, feats.small
        for ins in insns:
            hit = cache.get((ins[2], ins[3]))
            if hit is None:
                m = _mnemonic(ins[2])
                op = ins[3]
                if m in _NOPS:
                    continue
                if m == "call" or m == "jmp" or m == "jcc":
                    out.append(self._branch(ins, m, op, feats))
                    continue
                if "ip" in op or ("0x" in op and self._has_address(op)):
                    out.append(self._with_globals(ins, m, op, feats))
                    continue
                hit = cache[(ins[2], op)] = self._plain(m, op)
            out.append(hit[0])
            if hit[1]:
                consts.extend(hit[1])
            if hit[2]:
                small.extend(hit[2])
        return out

    def _has_address(self, op: str) -> bool:
        """True if an immediate or displacement in ``op`` points into the image (non-PIC code)."""
        if self._hi == 0:
            return False
        return any(self._lo <= int(tok, 16) < self._hi for tok in re.findall(r"0x[0-9a-f]+", op))

    def _plain(self, m: str, op: str) -> tuple[str, tuple[int, ...], tuple[int, ...]]:
        if not op:
            return m, (), ()
        parts: list[str] = []
        consts: list[int] = []
        small: list[int] = []
        for o in op.split(", "):
            if _IMM.match(o):
                v = int(o, 0)
                if abs(v) >= _CONST_MIN:
                    consts.append(v & 0xFFFFFFFFFFFFFFFF)
                elif abs(v) >= 2:
                    small.append(v)
                parts.append("i")
                continue
            r = _reg(o)
            if r is not None:
                parts.append(r)
                continue
            parts.append(self._mem_class(o))
            if not _STACK.search(o):  # frame layout differs between compilers; struct layout not
                small.extend(_displacements(o))
        return m + " " + ",".join(parts), tuple(consts), tuple(small)

    @staticmethod
    def _mem_class(o: str) -> str:
        size = _SIZES.get(o.split(" ", 1)[0], "")
        return ("s" if _STACK.search(o) else "m") + size

    def _with_globals(self, ins: Insn, m: str, op: str, feats: Features) -> str:
        """An instruction referencing a global: the address is abstracted, its meaning kept."""
        parts = []
        target = mem_target(ins)
        for o in op.split(", "):
            if "[" in o and target is not None:
                size = _SIZES.get(o.split(" ", 1)[0], "")
                parts.append("g" + size + self._global_feature(target, feats))
            elif _IMM.match(o):
                v = int(o, 0)
                if self._lo <= v < self._hi:
                    parts.append("a" + self._global_feature(v, feats))
                else:
                    if abs(v) >= _CONST_MIN:
                        feats.constants.append(v & 0xFFFFFFFFFFFFFFFF)
                    parts.append("i")
            else:
                parts.append(_reg(o) or self._mem_class(o))
        return m + " " + ",".join(parts)

    def _global_feature(self, va: int, feats: Features) -> str:
        api = self.b.imports.get(va)
        if api is not None:
            feats.apis.append(api)
            return ":api"
        s = self.b.read_cstring(va)
        if s is not None:
            feats.strings.append(s)
            return ":str"
        return ""

    def _branch(self, ins: Insn, m: str, op: str, feats: Features) -> str:
        t = imm_target(op)
        if m != "call":
            if t is None:
                return m + " ind"
            api = self.thunks.get(t)
            if api is not None:  # tail call to an import
                feats.apis.append(api)
                return m + " api:" + api
            return m + " loc"
        if t is None:
            slot = mem_target(ins)
            if slot is not None and slot in self.b.imports:
                api = self.b.imports[slot]
                feats.apis.append(api)
                return "call api:" + api
            return "call ind"
        api = self.thunks.get(t)
        if api is not None:
            feats.apis.append(api)
            return "call api:" + api
        feats.calls.append(self.aliases.get(t, t))
        return "call fn"


def _displacements(o: str) -> list[int]:
    """Displacements inside a non-stack memory operand: struct field offsets, table bases."""
    out = []
    for sign, tok in re.findall(r"([+-]) (0x[0-9a-f]+|[0-9]+)\]", o):
        v = int(tok, 0)
        out.append(-v if sign == "-" else v)
    return out
