"""Instruction-scope capa features from our ``(address, size, mnemonic, operand_text)`` tuples.

Each ``extract_*`` handler takes ``(ctx, function_start, block_insns, insn)`` and yields
``(Feature, Address)``; :data:`INSN_HANDLERS` lists them. What they emit, after capa's vivisect
backend (``capa/features/extractors/viv/insn.py``):

* ``API``: ``call``/``jmp`` through an import slot (``[rip + x]``, ``[0x402000]``), to an import
  thunk (PLT stub, ``jmp [IAT]`` stub), or through a register the same block loaded from an
  import slot (``mov rax, [IAT]; call rax``). Names are over-generated as capa does
  (``CreateFileA`` and ``CreateFile``); ELF version suffixes (``@GLIBC_2.2.5``) are dropped.
* ``Number`` / ``OperandNumber``: immediates that do not point into the image (values of 0x10000
  and above that map are addresses, as viv's ``probeMemory`` decides), also masked to 32 and 64
  bits when capstone prints them negative; not for ``add/sub esp|rsp, n``. ``lea r, [r + n]``
  yields ``n`` too.
* ``Offset`` / ``OperandOffset``: the displacement of ``[reg + disp]`` unless the base is the
  stack or frame pointer; ``add r, n`` with ``0 < n < 0x100``.
* ``String``: ASCII or UTF-16LE (4+ printable characters, NUL-terminated, at most 1 KiB) at an
  address an operand references, or behind one pointer stored there.
* ``Bytes``: up to 256 bytes of non-string, non-zero data an operand references in a
  non-executable section.
* ``Mnemonic``; ``Characteristic``: ``nzxor``, ``peb access`` (PE only), ``fs access``, ``gs access``,
  ``cross section flow``, ``calls from``, ``recursive call``, ``indirect call``, ``call $+5``.

Nothing here raises on hostile input: operands are parsed with anchored regexes and every read
goes through :meth:`Binary.read`. String lookups are cached per address.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator

from capa.features.address import AbsoluteVirtualAddress, Address
from capa.features.common import MAX_BYTES_FEATURE_SIZE, Bytes, Characteristic, Feature, String
from capa.features.extractors.helpers import generate_symbols
from capa.features.insn import API, MAX_STRUCTURE_SIZE, Mnemonic, Number, Offset, OperandNumber, OperandOffset

from attributor.disasm.decode import Insn, imm_target, mem_target
from attributor.disasm.recover import Program
from attributor.loading.binary import Binary

MAX_STRING = 1024
MIN_ADDRESS = 0x10000  # immediates below this are numbers even where a 0-based image maps them
_IMM = re.compile(r"^-?(?:0x[0-9a-f]+|[0-9]+)$")
_REG = re.compile(r"^[a-z][a-z0-9]{1,4}$")
_MEM = re.compile(r"^(?:[a-z]+ ptr )?(?:([cdefgs]s):)?\[([^\]]*)\]$")
_PRINTABLE = re.compile(rb"[\t\n\r\x20-\x7e]{4,}")
_UTF16 = re.compile(rb"((?:[\t\n\r\x20-\x7e]\x00){4,1024})\x00\x00")
_STACK_REGS = frozenset({"rsp", "esp", "rbp", "ebp", "sp", "bp"})
_XORS = frozenset({"xor", "xorpd", "xorps", "pxor"})
_M32, _M64 = (1 << 32) - 1, (1 << 64) - 1

Handler = Callable[["InsnContext", int, list[Insn], Insn], Iterator[tuple[Feature, Address]]]


def mnemonic(insn: Insn) -> str:
    """The bare mnemonic: capstone keeps prefixes (``rep movsb``, ``notrack jmp``) in the text."""
    return insn[2].rsplit(" ", 1)[-1]


def parse_imm(op: str) -> int | None:
    """An immediate operand's value (``0x200``, ``512``, ``-0x80``), else None."""
    return int(op, 0) if _IMM.match(op) else None


def api_names(name: str) -> list[str]:
    """capa's spellings of an imported name: ``CreateFileA`` -> [CreateFileA, CreateFile]."""
    if "#" in name:  # our PE loader writes ordinal imports as "dll#ord"
        dll, _, ordinal = name.partition("#")
        return [f"{dll.removesuffix('.dll')}.#{ordinal}"]
    name = name.split("@", 1)[0]
    return list(generate_symbols("", name)) if name else []


def parse_mem(op: str) -> tuple[str | None, str | None, int | None] | None:
    """``(segment, base register, displacement)`` of a memory operand, else None.

    ``qword ptr [rax + rcx*8 - 0x10]`` -> (None, "rax", -16); ``fs:[0x30]`` -> ("fs", None, 48).
    """
    m = _MEM.match(op)
    if m is None:
        return None
    terms = m.group(2).replace(" - ", " + -").split(" + ")
    base = terms[0] if _REG.match(terms[0]) else None
    disp = parse_imm(terms[-1]) if len(terms) > 1 or base is None else 0
    return m.group(1), base, disp


class InsnContext:
    """Per-sample lookups the handlers share: import slots, thunks, cached string reads."""

    def __init__(self, binary: Binary, program: Program) -> None:
        self.binary = binary
        self.imports = binary.imports
        self.thunks = program.thunks
        self.ptr_size = 8 if binary.bits == 64 else 4
        self._strings: dict[int, str | None] = {}

    def is_address(self, v: int) -> bool:
        return v >= MIN_ADDRESS and self.binary.section_at(v) is not None

    def string_at(self, va: int) -> str | None:
        """A string at ``va`` or behind the pointer stored at ``va`` (one level), cached."""
        if va not in self._strings:
            s = self._direct_string(va)
            if s is None:
                p = int.from_bytes(self.binary.read(va, self.ptr_size), "little")
                if p != va and self.is_address(p):
                    s = self._direct_string(p)
            self._strings[va] = s
        return self._strings[va]

    def _direct_string(self, va: int) -> str | None:
        raw = self.binary.read(va, MAX_STRING)
        end = raw.find(b"\0")
        if end >= 4 and _PRINTABLE.fullmatch(raw, 0, end):
            return raw[:end].decode("ascii")
        m = _UTF16.match(self.binary.read(va, 2 * MAX_STRING + 2))
        return None if m is None else m.group(1).decode("utf-16le")

    def slot_name(self, ins: Insn) -> str | None:
        """The import an instruction's ``[slot]`` memory operand reads, if any."""
        if ":[" in ins[3]:
            return None
        slot = mem_target(ins)
        return None if slot is None else self.imports.get(slot)

    def callee_name(self, ins: Insn, block: list[Insn]) -> str | None:
        """The API a ``call``/``jmp`` reaches: slot, thunk, or register loaded from a slot."""
        op = ins[3]
        target = imm_target(op)
        if target is not None:
            return self.thunks.get(target)
        if "[" in op:
            return self.slot_name(ins)
        if not _REG.match(op):
            return None
        # the latest write to the register earlier in the block decides
        for prev in reversed(block[: block.index(ins)]):
            if prev[3].split(", ", 1)[0] == op:
                return self.slot_name(prev) if mnemonic(prev) == "mov" else None
        return None


def _at(ins: Insn) -> Address:
    return AbsoluteVirtualAddress(ins[0])


def extract_api(
    ctx: InsnContext, fstart: int, block: list[Insn], ins: Insn
) -> Iterator[tuple[Feature, Address]]:
    if mnemonic(ins) in ("call", "jmp"):
        name = ctx.callee_name(ins, block)
        for sym in api_names(name) if name else ():
            yield API(sym), _at(ins)


def extract_calls(
    ctx: InsnContext, fstart: int, block: list[Insn], ins: Insn
) -> Iterator[tuple[Feature, Address]]:
    if mnemonic(ins) != "call":
        return
    op = ins[3]
    target = imm_target(op)
    if target is None and ":[" not in op:
        target = mem_target(ins)
    if target is not None:
        yield Characteristic("calls from"), AbsoluteVirtualAddress(target)
        if target == fstart:
            yield Characteristic("recursive call"), AbsoluteVirtualAddress(target)
        if target == ins[0] + ins[1]:
            yield Characteristic("call $+5"), _at(ins)
    elif _REG.match(op) or parse_mem(op) is not None:
        yield Characteristic("indirect call"), _at(ins)


def extract_mnemonic(
    ctx: InsnContext, fstart: int, block: list[Insn], ins: Insn
) -> Iterator[tuple[Feature, Address]]:
    yield Mnemonic(mnemonic(ins)), _at(ins)


def extract_nzxor(
    ctx: InsnContext, fstart: int, block: list[Insn], ins: Insn
) -> Iterator[tuple[Feature, Address]]:
    if mnemonic(ins) not in _XORS:
        return
    ops = ins[3].split(", ")
    # xor with the stack pointer is the security-cookie idiom, not data scrambling
    if len(ops) == 2 and ops[0] != ops[1] and not _STACK_REGS.intersection(ops):
        yield Characteristic("nzxor"), _at(ins)


def extract_segment(
    ctx: InsnContext, fstart: int, block: list[Insn], ins: Insn
) -> Iterator[tuple[Feature, Address]]:
    op = ins[3]
    # the PEB sits at fs:[0x30] (x86) / gs:[0x60] (x64) on Windows only; on x86-64 Linux
    # fs:[0x30] is glibc's pointer guard, which must not look like PEB walking
    pe = ctx.binary.format == "PE"
    if "fs:[" in op:
        yield Characteristic("fs access"), _at(ins)
        if pe and ctx.binary.bits == 32 and "fs:[0x30]" in op:
            yield Characteristic("peb access"), _at(ins)
    elif "gs:[" in op:
        yield Characteristic("gs access"), _at(ins)
        if pe and ctx.binary.bits == 64 and "gs:[0x60]" in op:
            yield Characteristic("peb access"), _at(ins)


def extract_cross_section(
    ctx: InsnContext, fstart: int, block: list[Insn], ins: Insn
) -> Iterator[tuple[Feature, Address]]:
    if mnemonic(ins) not in ("call", "jmp"):
        return
    target = imm_target(ins[3])
    if target is None or target in ctx.thunks:
        return
    here, there = ctx.binary.section_at(ins[0]), ctx.binary.section_at(target)
    if there is not None and here is not there:
        yield Characteristic("cross section flow"), _at(ins)


def _numbers(i: int, v: int, m: str) -> Iterator[Feature]:
    yield Number(v)
    yield OperandNumber(i, v)
    if v < 0:  # capstone prints some immediates signed; rules spell them unsigned
        for masked in {v & _M32, v & _M64}:
            yield Number(masked)
            yield OperandNumber(i, masked)
    if m == "add" and 0 < v < MAX_STRUCTURE_SIZE:
        yield Offset(v)
        yield OperandOffset(i, v)


def _reference(ctx: InsnContext, va: int, code_flow: bool) -> Iterator[Feature]:
    """String or bytes at an address an operand references."""
    s = ctx.string_at(va)
    if s is not None:
        yield String(s)
        return
    sec = ctx.binary.section_at(va)
    if code_flow or sec is None or sec.executable or va in ctx.imports:
        return
    buf = ctx.binary.read(va, MAX_BYTES_FEATURE_SIZE)
    if buf.strip(b"\0"):
        yield Bytes(buf)


def extract_operands(
    ctx: InsnContext, fstart: int, block: list[Insn], ins: Insn
) -> Iterator[tuple[Feature, Address]]:
    m = mnemonic(ins)
    ops = ins[3].split(", ") if ins[3] else []
    flow = m in ("call", "jmp") or m.startswith("j") or m.startswith("loop")
    for i, op in enumerate(ops):
        mem = parse_mem(op)
        if mem is None:
            v = parse_imm(op)
            if v is None or (i == 1 and m in ("add", "sub") and ops[0] in _STACK_REGS):
                continue
            if ctx.is_address(v):
                yield from ((f, _at(ins)) for f in _reference(ctx, v, flow))
            elif not flow:
                yield from ((f, _at(ins)) for f in _numbers(i, v, m))
            continue
        seg, base, disp = mem
        if seg is not None or disp is None:
            continue
        target = mem_target(ins) if base in (None, "rip") else None
        if target is not None:
            yield from ((f, _at(ins)) for f in _reference(ctx, target, flow))
        elif base is None and ctx.is_address(disp):  # [rax*4 + table]
            yield from ((f, _at(ins)) for f in _reference(ctx, disp, flow))
        elif base not in _STACK_REGS and base != "rip":
            yield Offset(disp), _at(ins)
            yield OperandOffset(i, disp), _at(ins)
            if m == "lea" and i == 1 and not ctx.is_address(disp):
                yield Number(disp), _at(ins)
                yield OperandNumber(i, disp), _at(ins)


INSN_HANDLERS: tuple[Handler, ...] = (
    extract_api,
    extract_calls,
    extract_mnemonic,
    extract_nzxor,
    extract_segment,
    extract_cross_section,
    extract_operands,
)


def extract_insn_features(
    ctx: InsnContext, fstart: int, block: list[Insn], ins: Insn
) -> Iterator[tuple[Feature, Address]]:
    """Every handler's features for one instruction of the block ``block`` of function ``fstart``."""
    for handler in INSN_HANDLERS:
        yield from handler(ctx, fstart, block, ins)
