"""Position-independent byte patterns of x86 / x86-64 code, as YARA hex string bodies.

A byte is a ``??`` wildcard when it depends on where the linker put code or data, so the same
source compiled into another binary still matches:

* the displacement of every relative branch and call (``jmp rel8``, ``call rel32``, ``jcc``);
* the displacement of every RIP-relative memory operand (``lea rax, [rip + 0x2f1a]``);
* absolute memory operands (``mov eax, [0x404010]``, ``call [IAT]`` in 32-bit code);
* 4- and 8-byte immediates and displacements whose value lies inside the image
  (``push 0x404010``, ``mov edi, 0x402004``, ``jmp [rax*8 + 0x401200]``) when the image is linked
  at or above ``MIN_IMAGE_ADDRESS``.

Opcodes, prefixes, ModRM/SIB, stack and struct offsets and constants are kept: they are what makes
the code this family's code. Decoding uses capstone with ``detail=True``, which reports where in
an instruction its displacement and immediate are encoded.
"""

from __future__ import annotations

import difflib
import itertools
from dataclasses import dataclass
from functools import cache
from typing import Any

import capstone
from capstone import x86_const as x86

from attributor.loading.binary import Binary

MAX_PATTERN_BYTES = 96  # longer strings only get less likely to survive a recompile of the same code
MIN_FIXED_BYTES = 16  # fewer concrete bytes match by chance in a large corpus
MAX_WILDCARD_FRACTION = 0.5  # a pattern that is mostly ?? says little beyond "some code"
MAX_DECODE_BYTES = 4096  # a function's bytes considered at most (bounds work on hostile input)
# Below this, "points into the image" cannot be told from a small constant: PIE / shared objects
# are linked at 0, and their code holds no absolute addresses anyway.
MIN_IMAGE_ADDRESS = 0x10000
MIN_PIECE_BYTES = 4  # YARA needs 4 concrete bytes in a row to pick a fast atom
MAX_GAP_BYTES = 24  # jumps longer than this no longer describe one stretch of code

_BRANCH_GROUPS = (capstone.CS_GRP_JUMP, capstone.CS_GRP_CALL, capstone.CS_GRP_BRANCH_RELATIVE)


@dataclass(frozen=True)
class Pattern:
    """A wildcarded hex string and the instructions it was made from."""

    address: int  # first instruction
    size: int  # bytes of the query covered, wildcards and jumps included
    hex: str  # YARA hex string body: "55 48 89 E5 ?? ?? [2-6] 5A ..."
    asm: tuple[str, ...]  # "0x401000  push rbp" per instruction
    fixed: int  # concrete (non-wildcard) bytes


@dataclass(frozen=True)
class Ins:
    """One decoded instruction with its wildcarded encoding."""

    address: int
    tokens: tuple[str, ...]  # "8B", "??", ... one per byte
    asm: str


@cache
def _disassembler(bits: int) -> capstone.Cs:
    md = capstone.Cs(capstone.CS_ARCH_X86, capstone.CS_MODE_64 if bits == 64 else capstone.CS_MODE_32)
    md.detail = True  # operand types and encoding offsets tell which bytes are addresses
    return md


@dataclass(frozen=True)
class _Image:
    """The address range of the image, for "this constant is an address" decisions."""

    low: int
    high: int
    bits: int

    @classmethod
    def of(cls, binary: Binary) -> _Image:
        low = min((s.va for s in binary.sections), default=0)
        high = max((s.end for s in binary.sections), default=0)
        return cls(low, high, binary.bits)

    def holds(self, value: int) -> bool:
        value &= (1 << self.bits) - 1  # sign-extended operands wrap the way the CPU sees them
        return MIN_IMAGE_ADDRESS <= self.low <= value < self.high


def _wildcards(insn: Any, image: _Image) -> list[tuple[int, int]]:
    """(offset, length) ranges of ``insn``'s encoding that depend on code or data placement."""
    spans: list[tuple[int, int]] = []
    branch = any(insn.group(g) for g in _BRANCH_GROUPS)
    for op in insn.operands:
        if op.type == x86.X86_OP_IMM and insn.imm_size:
            if branch or (insn.imm_size >= 4 and image.holds(op.imm)):
                spans.append((insn.imm_offset, insn.imm_size))
        elif op.type == x86.X86_OP_MEM and insn.disp_size:
            mem = op.mem
            absolute = mem.base == x86.X86_REG_INVALID and mem.index == x86.X86_REG_INVALID
            if mem.base == x86.X86_REG_RIP or absolute or (insn.disp_size >= 4 and image.holds(mem.disp)):
                spans.append((insn.disp_offset, insn.disp_size))
    return spans


def decode(binary: Binary, start: int, limit: int) -> list[Ins]:
    """Instructions from ``start`` for at most ``limit`` bytes (whole instructions), wildcarded.

    Decoding is linear and stops at the first byte capstone cannot decode, at the end of the
    section's file-backed bytes, or outside executable sections ([] there).
    """
    sec = binary.section_at(start)
    if sec is None or not sec.executable or limit <= 0:
        return []
    limit = min(limit, MAX_DECODE_BYTES)
    image = _Image.of(binary)
    out: list[Ins] = []
    used = 0
    for insn in _disassembler(binary.bits).disasm(binary.read(start, limit), start):
        used += insn.size
        if used > limit:
            break
        tokens = bytes(insn.bytes).hex(" ").upper().split()
        for off, n in _wildcards(insn, image):
            tokens[off : off + n] = ["??"] * n
        out.append(
            Ins(insn.address, tuple(tokens), f"0x{insn.address:x}  {insn.mnemonic} {insn.op_str}".rstrip())
        )
    return out


def make_pattern(insns: list[Ins], max_bytes: int = MAX_PATTERN_BYTES) -> Pattern | None:
    """The longest prefix of ``insns`` within ``max_bytes``, or None if too short or too generic.

    Wildcards at both ends are trimmed (they match anything and YARA wants a concrete edge).
    None when fewer than ``MIN_FIXED_BYTES`` concrete bytes remain or more than
    ``MAX_WILDCARD_FRACTION`` of the bytes are wildcards.
    """
    tokens: list[str] = []
    asm: list[str] = []
    for ins in insns:
        if len(tokens) + len(ins.tokens) > max_bytes:
            break
        tokens += ins.tokens
        asm.append(ins.asm)
    lo, hi = 0, len(tokens)
    while lo < hi and tokens[lo] == "??":
        lo += 1
    while hi > lo and tokens[hi - 1] == "??":
        hi -= 1
    body = tokens[lo:hi]
    fixed = sum(t != "??" for t in body)
    if fixed < MIN_FIXED_BYTES or (len(body) - fixed) > MAX_WILDCARD_FRACTION * len(body):
        return None
    return Pattern(insns[0].address, len(tokens), " ".join(body), tuple(asm), fixed)


def function_pattern(
    binary: Binary, function_start: int, max_bytes: int = MAX_PATTERN_BYTES, size: int = 0
) -> tuple[str, tuple[str, ...]] | None:
    """The function at ``function_start`` as a YARA hex string body, plus its disassembly lines.

    Takes the function's first instructions (linear decoding, at most ``size`` bytes when the
    function's extent is known, ``max_bytes`` in any case) and wildcards them as the module
    docstring says. None when the result is too short or too generic (:func:`make_pattern`).

    Example: ``e8 10 00 00 00 83 f0 5a`` (``call`` rel32; ``xor eax, 0x5a``) becomes
    ``E8 ?? ?? ?? ?? 83 F0 5A`` (then rejected as too short).
    """
    limit = min(size, max_bytes) if size > 0 else max_bytes
    pattern = make_pattern(decode(binary, function_start, limit), max_bytes)
    return None if pattern is None else (pattern.hex, pattern.asm)


@dataclass(frozen=True)
class _Piece:
    """A run of instructions identical (after wildcarding) in both functions; byte offsets."""

    q: int  # offset in the query function
    r: int  # offset in the reference function
    tokens: tuple[str, ...]

    @property
    def fixed(self) -> int:
        return sum(t != "??" for t in self.tokens)


def _pieces(query: list[Ins], ref: list[Ins]) -> list[_Piece]:
    """Matching instruction runs in order, wildcards trimmed off their edges."""
    q_off = [i.address - query[0].address for i in query]
    r_off = [i.address - ref[0].address for i in ref]
    blocks = difflib.SequenceMatcher(None, [i.tokens for i in query], [i.tokens for i in ref], autojunk=False)
    out = []
    for a, b, n in blocks.get_matching_blocks():
        tokens = [t for ins in query[a : a + n] for t in ins.tokens]
        lo = next((k for k, t in enumerate(tokens) if t != "??"), len(tokens))
        hi = len(tokens) - next((k for k, t in enumerate(reversed(tokens)) if t != "??"), len(tokens))
        piece = _Piece(q_off[a] + lo, r_off[b] + lo, tuple(tokens[lo:hi])) if n else None
        if piece is not None and piece.fixed >= MIN_PIECE_BYTES:
            out.append(piece)
    return out


def _chains(pieces: list[_Piece], max_bytes: int) -> list[list[_Piece]]:
    """Maximal runs of pieces separated by at most ``MAX_GAP_BYTES`` on both sides, within the cap."""
    chains: list[list[_Piece]] = []
    for p in pieces:
        last = chains[-1][-1] if chains else None
        if (
            last is not None
            and p.q - (last.q + len(last.tokens)) <= MAX_GAP_BYTES
            and p.r - (last.r + len(last.tokens)) <= MAX_GAP_BYTES
            and p.q + len(p.tokens) - chains[-1][0].q <= max_bytes
        ):
            chains[-1].append(p)
        else:
            chains.append([p])
    return chains


def _chain_pattern(chain: list[_Piece], query: list[Ins], max_bytes: int) -> Pattern | None:
    first = chain[0]
    parts = list(first.tokens[:max_bytes])
    for prev, p in itertools.pairwise(chain):
        gq, gr = p.q - (prev.q + len(prev.tokens)), p.r - (prev.r + len(prev.tokens))
        parts.append(f"[{gq}]" if gq == gr else f"[{min(gq, gr)}-{max(gq, gr)}]")
        parts += p.tokens
    end = chain[-1].q + min(len(chain[-1].tokens), max_bytes)
    size = end - first.q
    fixed = sum(p.fixed for p in chain)
    if fixed < MIN_FIXED_BYTES or size - fixed > MAX_WILDCARD_FRACTION * size:
        return None
    while parts and parts[-1] == "??":  # a piece cut at the cap may end in a wildcard
        parts.pop()
    base = query[0].address
    asm = tuple(i.asm for i in query if first.q <= i.address - base < end)
    return Pattern(base + first.q, size, " ".join(parts), asm, fixed)


def shared_patterns(query: list[Ins], ref: list[Ins], max_bytes: int = MAX_PATTERN_BYTES) -> list[Pattern]:
    """Patterns over the code the two functions have in common, most concrete bytes first.

    Two builds of the same source rarely agree byte for byte over a whole function (another
    optimisation level reschedules and reallocates registers), but copied code keeps runs whose
    wildcarded encodings are identical. Runs of at least ``MIN_PIECE_BYTES`` concrete bytes, in
    the same order in both functions, are joined with YARA jumps (``[n]`` or ``[lo-hi]``, the two
    functions' gap sizes) across gaps of up to ``MAX_GAP_BYTES``; each such chain within
    ``max_bytes`` that passes the :func:`make_pattern` thresholds is a pattern.
    """
    if not query or not ref:
        return []
    chains = _chains(_pieces(query, ref), max_bytes)
    found = [p for c in chains if (p := _chain_pattern(c, query, max_bytes))]
    return sorted(found, key=lambda p: (-p.fixed, p.address))
