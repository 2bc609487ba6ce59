"""A capa feature extractor over attributor's own disassembly (``Binary`` + ``Program``).

capa's matching engine only needs ``(Feature, Address)`` pairs per scope; this module produces
them from what the loader and :func:`attributor.disasm.recover.recover` already computed, so a
sample is disassembled once (by us) instead of a second time by vivisect.

Scopes and what each yields (modelled on ``capa/features/extractors/viv/``):

global
    ``Format`` (pe / elf), ``OS`` (windows for PE, linux for ELF), ``Arch`` (i386 / amd64).
file
    ``Export`` (symbols; none in blind mode), ``Import`` (imported names, A/W suffix dropped too),
    ``Section`` names, ``String`` (ASCII and UTF-16LE runs of 4+ printable characters in the
    section data), ``Format``.
function
    ``Characteristic("calls to")`` per caller, ``Characteristic("loop")`` when a branch goes
    back to an instruction of the same function.
basic block
    Blocks are our function's instructions split at branch targets and after branches / returns.
    ``Characteristic("tight loop")`` (the block's last jump returns to its start),
    ``Characteristic("stack string")`` (more than 8 printable immediate bytes stored to the stack).
instruction
    see :mod:`attributor.evidence.capa_insn`.

Contract: construction and every ``extract_*`` method are bounded by the size of the program
(each instruction is looked at a constant number of times, string reads are capped) and do not
raise on hostile input: operands are parsed from text with anchored regexes and every memory read
goes through :meth:`Binary.read`, which returns short or empty data instead of failing.
"""

from __future__ import annotations

import bisect
import re
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field

from capa.features.address import NO_ADDRESS, AbsoluteVirtualAddress, Address
from capa.features.common import (
    ARCH_AMD64,
    ARCH_I386,
    FORMAT_ELF,
    FORMAT_PE,
    OS_LINUX,
    OS_WINDOWS,
    Arch,
    Characteristic,
    Feature,
    Format,
    String,
)
from capa.features.common import OS as OSFeature
from capa.features.extractors.base_extractor import (
    BBHandle,
    FunctionHandle,
    InsnHandle,
    SampleHashes,
    StaticFeatureExtractor,
)
from capa.features.extractors.helpers import MIN_STACKSTRING_LEN
from capa.features.file import Export, Import, Section

from attributor.disasm.decode import COND_JUMPS, RETURNS, STOPS, Insn, imm_target
from attributor.disasm.recover import Function, Program
from attributor.evidence import capa_insn
from attributor.evidence.capa_insn import mnemonic
from attributor.loading.binary import Binary

MAX_FILE_STRINGS = 200_000  # a 5 MB image holds ~50k; the cap bounds hostile, string-stuffed ones
_ASCII_RUN = re.compile(rb"[\t\n\r\x20-\x7e]{4,}")
_UTF16_RUN = re.compile(rb"(?:[\t\n\r\x20-\x7e]\x00){4,}")
_ENDS_BLOCK = frozenset(COND_JUMPS | RETURNS | STOPS | {"jmp"})
_STACK_STORE = re.compile(
    r"^(?:byte|word|dword|qword) ptr \[(?:[re]?sp|[re]?bp)(?: [+-] (?:0x[0-9a-f]+|\d+))?\]$"
)


@dataclass
class BasicBlock:
    """A run of a function's instructions with a single entry at ``start``."""

    start: int
    insns: list[Insn]


@dataclass
class FunctionView:
    """One recovered function with its blocks, computed on first use (the handle's ``inner``)."""

    fn: Function
    _blocks: list[BasicBlock] | None = field(default=None, repr=False)

    @property
    def blocks(self) -> list[BasicBlock]:
        if self._blocks is None:
            self._blocks = split_blocks(self.fn)
        return self._blocks


def split_blocks(fn: Function) -> list[BasicBlock]:
    """Split at the function start, branch targets, after branches / returns and at address gaps.

    Calls do not end a block (capa's vivisect backend does the same), so an API call and the
    constants prepared for it share a basic block.
    """
    addrs = {i[0] for i in fn.insns}
    leaders = {fn.start}
    prev_end: int | None = None
    for ins in fn.insns:
        m = mnemonic(ins)
        if prev_end is not None and ins[0] != prev_end:
            leaders.add(ins[0])
        prev_end = ins[0] + ins[1]
        if m in _ENDS_BLOCK:
            leaders.add(prev_end)
            target = imm_target(ins[3])
            if target is not None and target in addrs:
                leaders.add(target)
    blocks: list[BasicBlock] = []
    for ins in fn.insns:
        if ins[0] in leaders or not blocks:
            blocks.append(BasicBlock(ins[0], []))
        blocks[-1].insns.append(ins)
    return blocks


def _stack_string_bytes(ins: Insn) -> int:
    """Printable bytes a ``mov [stack], imm`` stores (0 for anything else)."""
    if mnemonic(ins) != "mov":
        return 0
    ops = ins[3].split(", ")
    if len(ops) != 2 or not _STACK_STORE.match(ops[0]):
        return 0
    value = capa_insn.parse_imm(ops[1])
    if value is None:
        return 0
    width = {"byte": 1, "word": 2, "dword": 4, "qword": 8}[ops[0].split(" ", 1)[0]]
    raw = (value & ((1 << (8 * width)) - 1)).to_bytes(width, "little")
    text = raw.rstrip(b"\0")
    if not text or not all(32 <= c < 127 for c in text.replace(b"\0", b"")):
        return 0
    return len(text.replace(b"\0", b""))


class AttributorFeatureExtractor(StaticFeatureExtractor):
    """capa's static extractor contract, answered from a :class:`Binary` and its :class:`Program`.

    Example:
        >>> ex = AttributorFeatureExtractor(binary, recover(binary))
        >>> caps = capa.capabilities.static.find_static_capabilities(rules, ex, disable_progress=True)
    """

    def __init__(self, binary: Binary, program: Program) -> None:
        super().__init__(hashes=SampleHashes(md5="", sha1="", sha256=binary.sha256))
        self.binary = binary
        self.program = program
        self.views = {start: FunctionView(fn) for start, fn in sorted(program.functions.items())}
        self._starts = sorted(self.views)
        self.callers: dict[int, list[int]] = defaultdict(list)
        for fn in program.functions.values():
            for ins in fn.insns:
                if mnemonic(ins) == "call":
                    target = imm_target(ins[3])
                    if target is not None and target in self.views:
                        self.callers[target].append(ins[0])
        self.ctx = capa_insn.InsnContext(binary, program)

    # -- global and file scope --------------------------------------------------------------

    def get_base_address(self) -> Address:
        return AbsoluteVirtualAddress(self.binary.image_base)

    def extract_global_features(self) -> Iterator[tuple[Feature, Address]]:
        pe = self.binary.format == "PE"
        yield Format(FORMAT_PE if pe else FORMAT_ELF), NO_ADDRESS
        yield OSFeature(OS_WINDOWS if pe else OS_LINUX), NO_ADDRESS
        yield Arch(ARCH_AMD64 if self.binary.bits == 64 else ARCH_I386), NO_ADDRESS

    def extract_file_features(self) -> Iterator[tuple[Feature, Address]]:
        b = self.binary
        yield Format(FORMAT_PE if b.format == "PE" else FORMAT_ELF), NO_ADDRESS
        for va, name in sorted(b.symbols.items()):
            yield Export(name), AbsoluteVirtualAddress(va)
        for va, name in sorted(b.imports.items()):
            for sym in capa_insn.api_names(name):
                yield Import(sym), AbsoluteVirtualAddress(va)
        for sec in b.sections:
            yield Section(sec.name), AbsoluteVirtualAddress(sec.va)
        yield from self._file_strings()

    def _file_strings(self) -> Iterator[tuple[Feature, Address]]:
        n = 0
        for sec in self.binary.sections:
            for pattern, codec in ((_ASCII_RUN, "ascii"), (_UTF16_RUN, "utf-16le")):
                for m in pattern.finditer(sec.data):
                    n += 1
                    if n > MAX_FILE_STRINGS:
                        return
                    yield String(m.group().decode(codec)), AbsoluteVirtualAddress(sec.va + m.start())

    # -- functions --------------------------------------------------------------------------

    def get_functions(self) -> Iterator[FunctionHandle]:
        for start in self._starts:
            yield FunctionHandle(address=AbsoluteVirtualAddress(start), inner=self.views[start])

    def get_function_name(self, addr: Address) -> str:
        name = self.binary.symbols.get(int(addr)) if isinstance(addr, AbsoluteVirtualAddress) else None
        if name is None:
            raise KeyError(addr)
        return name

    def function_containing(self, va: int) -> int | None:
        """Start of the function holding an instruction at ``va`` (nearest start at or below)."""
        i = bisect.bisect_right(self._starts, va) - 1
        for start in reversed(self._starts[max(0, i - 8) : i + 1]):
            fn = self.views[start].fn
            if fn.insns and fn.insns[0][0] <= va < fn.insns[-1][0] + fn.insns[-1][1]:
                return start
        return None

    def extract_function_features(self, fh: FunctionHandle) -> Iterator[tuple[Feature, Address]]:
        view: FunctionView = fh.inner
        for caller in self.callers.get(view.fn.start, ()):
            yield Characteristic("calls to"), AbsoluteVirtualAddress(caller)
        if _has_back_edge(view.fn):
            yield Characteristic("loop"), fh.address

    # -- basic blocks and instructions -------------------------------------------------------

    def get_basic_blocks(self, fh: FunctionHandle) -> Iterator[BBHandle]:
        view: FunctionView = fh.inner
        for bb in view.blocks:
            yield BBHandle(address=AbsoluteVirtualAddress(bb.start), inner=bb)

    def extract_basic_block_features(
        self, fh: FunctionHandle, bbh: BBHandle
    ) -> Iterator[tuple[Feature, Address]]:
        bb: BasicBlock = bbh.inner
        last = bb.insns[-1]
        if mnemonic(last) in COND_JUMPS and imm_target(last[3]) == bb.start:
            yield Characteristic("tight loop"), bbh.address
        if sum(_stack_string_bytes(i) for i in bb.insns) > MIN_STACKSTRING_LEN:
            yield Characteristic("stack string"), bbh.address

    def get_instructions(self, fh: FunctionHandle, bbh: BBHandle) -> Iterator[InsnHandle]:
        bb: BasicBlock = bbh.inner
        for ins in bb.insns:
            yield InsnHandle(address=AbsoluteVirtualAddress(ins[0]), inner=ins)

    def extract_insn_features(
        self, fh: FunctionHandle, bbh: BBHandle, ih: InsnHandle
    ) -> Iterator[tuple[Feature, Address]]:
        view: FunctionView = fh.inner
        yield from capa_insn.extract_insn_features(self.ctx, view.fn.start, bbh.inner.insns, ih.inner)


def _has_back_edge(fn: Function) -> bool:
    """A jump to an instruction of the function at or before itself: a loop in compiled code."""
    addrs: set[int] | None = None
    for ins in fn.insns:
        if mnemonic(ins) in _ENDS_BLOCK:
            target = imm_target(ins[3])
            if target is not None and target <= ins[0]:
                addrs = addrs if addrs is not None else {i[0] for i in fn.insns}
                if target in addrs:
                    return True
    return False
