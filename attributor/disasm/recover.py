"""Function recovery: every source of function starts a binary offers, then recursive descent.

Sources, in order of trust: the entry point, symbols/exports (not in blind mode), unwind metadata
(PE x64 ``.pdata``, ELF ``.eh_frame``), direct call targets found while descending, and finally
prologue patterns in the executable bytes no function covers yet.

Descent follows conditional and unconditional jumps inside a function, resolves jump tables of the
common compiler shapes, and treats a jump to another known function start as a tail call. A
function is the set of instructions reachable that way; functions may share code (``.cold`` parts).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np

from attributor.disasm.decode import COND_JUMPS, RETURNS, STOPS, Decoder, Insn, imm_target, mem_target
from attributor.disasm.jumptable import resolve_jump_table
from attributor.disasm.prologue import scan_gaps
from attributor.loading import packed
from attributor.loading.binary import Binary

MAX_BLOCKS = 20_000
WORK_PER_CODE_BYTE = 4


@dataclass
class Function:
    """A recovered function: instructions in address order and what it calls."""

    start: int
    insns: list[Insn]
    n_blocks: int
    calls: list[int] = field(default_factory=list)  # internal call / tail-call targets, in order
    truncated: bool = False

    _extent: np.ndarray | None = None

    @property
    def extent(self) -> np.ndarray:
        """uint64 [n, 2] of (address, size) per instruction, computed once.

        Unsigned: kernel images and hostile PE image bases map code at or above 2**63.
        """
        if self._extent is None:
            flat = np.fromiter((v for i in self.insns for v in (i[0], i[1])), np.uint64, 2 * len(self.insns))
            self._extent = flat.reshape(-1, 2)
        return self._extent

    @property
    def size(self) -> int:
        """Bytes of the function's instructions (one decoding per address, so no double count)."""
        return int(self.extent[:, 1].sum())


@dataclass
class Program:
    binary: Binary
    functions: dict[int, Function]
    thunks: dict[int, str]  # address of an import thunk (PLT stub, jmp [IAT]) -> API name
    aliases: dict[int, int]  # PLT stub of a function the binary defines itself -> that function
    notes: list[str] = field(default_factory=list)

    @property
    def covered_bytes(self) -> int:
        return int(sum(e - a for a, e in covered_spans(self.functions.values())))


def covered_spans(functions: Iterable[Function]) -> list[tuple[int, int]]:
    """Union of all functions' instruction ranges: sorted, coalesced half-open spans."""
    parts = [f.extent for f in functions]
    if not parts:
        return []
    arr = np.concatenate(parts)
    if len(arr) == 0:
        return []
    arr = arr[np.argsort(arr[:, 0], kind="stable")]
    starts, ends = arr[:, 0], arr[:, 0] + arr[:, 1]
    reach = np.maximum.accumulate(ends)
    new = np.r_[True, starts[1:] > reach[:-1]]  # a gap before this instruction opens a new span
    idx = np.flatnonzero(new)
    span_ends = np.r_[reach[idx[1:] - 1], reach[-1]]
    return list(zip(starts[idx].tolist(), span_ends.tolist(), strict=True))


_PREFIXES = ("", "notrack ", "bnd ", "repz ", "rep ", "repnz ", "repne ")
_FLOW = frozenset(p + base for base in (RETURNS | STOPS | COND_JUMPS | {"jmp", "call"}) for p in _PREFIXES)


def _mnemonic(m: str) -> str:
    """Drop branch-hint prefixes that carry no meaning for control flow (notrack, bnd)."""
    return m.rsplit(" ", 1)[-1] if " " in m else m


class Recoverer:
    """Recursive-descent function recovery over one :class:`Binary`."""

    def __init__(self, binary: Binary, max_functions: int = 200_000, max_insns: int = 250_000):
        self.b = binary
        self.dec = Decoder(binary)
        self.max_functions = max_functions
        self.max_insns = max_insns
        self.functions: dict[int, Function] = {}
        self.thunks: dict[int, str] = {}
        self.aliases: dict[int, int] = {}
        self.known: set[int] = set()
        self.notes: list[str] = []
        self.bounds: dict[int, int] = {}  # block start -> jump-table index bound from `cmp r, N; ja`
        # Total instructions all functions may hold. Compiled code needs about 0.3 per code byte
        # (1.5 with shared tails); hostile layouts that make functions re-walk each other hit this.
        self.budget = WORK_PER_CODE_BYTE * binary.code_bytes + 100_000
        self.work = 0

    def seeds(self) -> list[int]:
        b = self.b
        cands = set(b.unwind_starts)
        cands.update(b.symbols)
        if b.entry is not None:
            cands.add(b.entry)
        return sorted(a for a in cands if b.is_executable(a))

    def run(self) -> Program:
        self.dec.sweep()
        queue = self.seeds()
        self.known.update(queue)
        self._drain(queue)
        for _ in range(4):  # gaps shrink as new starts are found; a few rounds reach a fixpoint
            new = [a for a in scan_gaps(self.b, self.dec, self._covered_spans()) if a not in self.known]
            if not new:
                break
            self.known.update(new)
            self._drain(new)
        if len(self.functions) >= self.max_functions:
            self.notes.append(f"function limit {self.max_functions} reached; recovery incomplete")
        covered = sum(e - a for a, e in self._covered_spans())
        low = packed.coverage_reason(self.b.code_bytes, covered)
        packed.add_reasons(self.b.warnings, [low] if low else [])
        return Program(self.b, self.functions, self.thunks, self.aliases, self.notes)

    def _covered_spans(self) -> list[tuple[int, int]]:
        return covered_spans(self.functions.values())

    def _drain(self, queue: list[int]) -> None:
        while queue and len(self.functions) < self.max_functions:
            if self.work > self.budget:
                if not any(n.startswith("recovery budget") for n in self.notes):
                    self.notes.append(f"recovery budget of {self.budget} instructions exhausted; incomplete")
                return
            start = queue.pop()
            if start in self.functions or start in self.thunks:
                continue
            fn = self._descend(start)
            if fn is None:
                continue
            for t in fn.calls:
                if t not in self.known and self.b.is_executable(t):
                    self.known.add(t)
                    queue.append(t)

    def _thunk_slot(self, insns: list[Insn]) -> int | None:
        """The slot of a thunk: a single ``jmp [slot]`` (optionally after endbr)."""
        for ins in insns[:2]:
            m = _mnemonic(ins[2])
            if m in ("endbr64", "endbr32"):
                continue
            return mem_target(ins) if m == "jmp" else None
        return None

    def _descend(self, start: int) -> Function | None:
        first = self.dec.at(start)
        if first is None:
            return None
        second = self.dec.at(start + first[1])
        slot = self._thunk_slot([first] if second is None else [first, second])
        if slot in self.b.imports:
            self.thunks[start] = self.b.imports[slot]
            return None
        if slot in self.b.local_slots:
            self.aliases[start] = target = self.b.local_slots[slot]
            if target not in self.known and self.b.is_executable(target):
                self.known.add(target)
                self._drain([target])
            return None
        insns: dict[int, Insn] = {}
        calls: list[int] = []
        todo, seen_blocks, truncated = [start], {start}, False
        while todo:
            if len(insns) > self.max_insns or len(seen_blocks) > MAX_BLOCKS:
                truncated = True
                break
            for nxt in self._block(todo.pop(), start, insns, calls):
                if nxt not in seen_blocks:
                    seen_blocks.add(nxt)
                    todo.append(nxt)
        truncated = truncated or len(insns) > self.max_insns
        if not insns:
            return None
        if truncated:
            self.notes.append(f"function 0x{start:x} truncated at {self.max_insns} instructions")
        fn = Function(start, [insns[a] for a in sorted(insns)], len(seen_blocks), calls, truncated)
        self.functions[start] = fn
        self.work += len(insns)
        return fn

    def _block(self, va: int, start: int, insns: dict[int, Insn], calls: list[int]) -> list[int]:
        """Decode one basic block from ``va``; return successor block starts inside the function."""
        window: list[Insn] = []
        self._block_start = va
        cache, at = self.dec.cache, self.dec.at
        self._insns = insns
        known = self.known
        while va not in insns:  # stop where code this function already decoded begins
            if va != start and va in known and window:
                calls.append(va)  # fell through into another function: a tail, not our body
                return []
            ins = cache.get(va) or at(va)
            if ins is None or len(insns) > self.max_insns:  # a huge straight-line block stops too
                return []
            insns[va] = ins
            window.append(ins)
            if ins[2] in _FLOW:  # most instructions just fall through
                succ = self._flow(ins, _mnemonic(ins[2]), ins[3], start, calls, window)
                if succ is not None:
                    return succ
            va += ins[1]
        return []

    def _flow(
        self, ins: Insn, m: str, op: str, start: int, calls: list[int], window: list[Insn]
    ) -> list[int] | None:
        """Successors if ``ins`` ends the block, else None (fall through to the next instruction)."""
        a, s = ins[0], ins[1]
        if m in RETURNS or m in STOPS:
            return []
        if m in COND_JUMPS:
            t = imm_target(op)
            self._note_bound(m, a + s, t, window)
            return [a + s] + ([t] if t is not None and self.b.is_executable(t) else [])
        if m == "jmp":
            t = imm_target(op)
            if t is None:
                targets = resolve_jump_table(
                    self.b, window, self.bounds.get(self._block_start), self._insns.values()
                )
                return [t for t in targets if t == start or t not in self.known]
            if t != start and (t in self.known or t in self.thunks):
                calls.append(t)  # tail call to a known function
                return []
            return [t] if self.b.is_executable(t) else []
        if m == "call":
            t = imm_target(op)
            if t is not None and t != a + s:  # call $+5 is a PC read, not a call
                calls.append(t)
        return None

    def _note_bound(self, m: str, fall: int, target: int | None, window: list[Insn]) -> None:
        """Remember ``cmp r, N`` (or ``sub r, N``) + ``ja``/``jbe``: the in-range path indexes N+1.

        Unoptimised code stores the index between the compare and the jump, so moves are skipped.
        """
        for ins in reversed(window[:-1]):
            mnem = _mnemonic(ins[2])
            if mnem.startswith("mov"):
                continue
            if mnem not in ("cmp", "sub"):
                return
            n = imm_target(ins[3].rsplit(", ", 1)[-1])
            if n is None or n > 4096:
                return
            if m in ("ja", "jae", "jg", "jge"):
                self.bounds[fall] = n + 1
            elif m in ("jbe", "jb", "jle", "jl") and target is not None:
                self.bounds[target] = n + 1
            return


def recover(binary: Binary, max_functions: int = 200_000, max_insns: int = 250_000) -> Program:
    """Recover the functions of ``binary`` (see module docstring)."""
    return Recoverer(binary, max_functions, max_insns).run()
