"""Ground truth for recovery and matching tests, taken from the compilers' own records.

Nothing here uses the engine's recovery: function names, starts and extents come from LIEF's view
of the unstripped symbol tables (ELF ``.symtab`` with ``st_size``; PE COFF symbols, whose extent
is the distance to the next function symbol), instructions from a plain capstone linear sweep,
and which C file defines which function from the demo sources themselves.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import capstone
import lief

from attributor.demo import build as demo_build
from attributor.disasm.recover import Function
from attributor.loading.binary import Binary

lief.logging.disable()

PLT_SECTIONS = frozenset({".plt", ".plt.got", ".plt.sec"})


@dataclass(frozen=True)
class Sym:
    name: str
    va: int
    size: int | None  # bytes; None when the format does not record it


@cache
def function_symbols(path: Path) -> dict[int, Sym]:
    """Function symbols of an unstripped ELF (symtab) or PE (COFF symbol table), by address."""
    parsed = lief.parse(str(path))
    out: dict[int, Sym] = {}
    if isinstance(parsed, lief.ELF.Binary):
        for s in parsed.symbols:
            if s.is_function and s.value and s.shndx != 0:
                out.setdefault(int(s.value), Sym(str(s.name), int(s.value), int(s.size) or None))
        return out
    if isinstance(parsed, lief.PE.Binary):
        base = int(parsed.optional_header.imagebase)
        secs = list(parsed.sections)
        starts: dict[int, list[tuple[int, str]]] = {}
        for c in parsed.symbols:
            idx = int(getattr(c, "section_idx", 0))  # COFF symbols: 1-based section number
            if c.is_function and 0 < idx <= len(secs):
                sec = secs[idx - 1]
                starts.setdefault(idx, []).append((base + sec.virtual_address + int(c.value), str(c.name)))
        for idx, items in starts.items():
            sec = secs[idx - 1]
            end = base + sec.virtual_address + int(sec.virtual_size)
            items.sort()
            for (va, name), nxt in zip(items, [*(a for a, _ in items[1:]), end], strict=True):
                out.setdefault(va, Sym(name, va, (nxt - va) or None))
        return out
    raise AssertionError(f"{path}: not an ELF or PE file")


def names_by_address(path: Path) -> dict[int, str]:
    return {va: s.name for va, s in function_symbols(path).items()}


def base_name(name: str | None) -> str:
    """``cm_trim.part.0`` / ``foo.isra.0`` / ``bar.cold`` -> the C function's name."""
    return (name or "").split(".", 1)[0]


# -- instructions --------------------------------------------------------------------------------


def linear(b: Binary, va: int, size: int) -> list[tuple[int, int, str, str]]:
    """Capstone linear sweep of ``size`` bytes at ``va`` (stops at the first undecodable byte)."""
    md = capstone.Cs(capstone.CS_ARCH_X86, capstone.CS_MODE_64 if b.bits == 64 else capstone.CS_MODE_32)
    return list(md.disasm_lite(b.read(va, size), va))


_SELF_LEA = re.compile(r"^([a-z0-9]+), \[\1(?: \+ [a-z0-9]+\*1)?(?: \+ 0)?\]$")


def is_padding(mnemonic: str, op: str) -> bool:
    """Alignment filler compilers put between and inside functions (never executed for effect)."""
    m = mnemonic.rsplit(" ", 1)[-1]
    if m in ("nop", "int3") or (m == "xchg" and op == "ax, ax"):
        return True
    if m == "mov" and op in ("edi, edi", "esi, esi"):
        return True
    return m == "lea" and bool(_SELF_LEA.match(op))


def is_padding_bytes(b: Binary, va: int, size: int) -> bool:
    """True if ``[va, va+size)`` is only zero/int3 bytes or filler instructions."""
    data = b.read(va, size)
    if all(c in (0, 0xCC) for c in data):
        return True
    ins = linear(b, va, size)
    return sum(i[1] for i in ins) == size and all(is_padding(i[2], i[3]) for i in ins)


def is_import_thunk(b: Binary, va: int) -> bool:
    """``jmp [IAT slot]`` (PE) / ``jmp [GOT slot]``: a stub that only forwards to an import."""
    ins = linear(b, va, 16)
    if ins and ins[0][2] in ("endbr64", "endbr32"):
        ins = ins[1:]
    if not ins or ins[0][2].rsplit(" ", 1)[-1] != "jmp" or "[" not in ins[0][3]:
        return False
    a, s, _, op = ins[0]
    m = re.search(r"\[rip \+ (0x[0-9a-f]+)\]", op)
    slot = a + s + int(m.group(1), 16) if m else None
    if slot is None:
        m = re.search(r"\[(0x[0-9a-f]+)\]", op)
        slot = int(m.group(1), 16) if m else None
    return slot in b.imports


def symbol_body(b: Binary, sym: Sym) -> list[tuple[int, int, str, str]]:
    """The non-filler instructions of a symbol's extent (linear sweep; compilers put no data there)."""
    assert sym.size, f"{sym.name} has no recorded size"
    return [i for i in linear(b, sym.va, sym.size) if not is_padding(i[2], i[3])]


def covered_addresses(functions: Iterable[Function]) -> set[int]:
    """Every byte address inside some recovered function's instructions (a naive reference)."""
    return {a + k for f in functions for a, s, _, _ in f.insns for k in range(s)}


@dataclass(frozen=True)
class Coverage:
    covered: int  # real-code bytes inside recovered functions
    real: int  # executable bytes minus PLT sections, alignment filler and unused import stubs
    uncovered: tuple[tuple[int, int], ...]  # [start, end) runs of real code no function covers

    @property
    def ratio(self) -> float:
        return self.covered / self.real if self.real else 1.0


def real_code_coverage(b: Binary, functions: Iterable[Function]) -> Coverage:
    """Coverage of the bytes that are actually code (see :class:`Coverage`)."""
    cov = covered_addresses(functions)
    covered = real = 0
    gaps: list[tuple[int, int]] = []
    for sec in b.code_sections:
        if sec.name in PLT_SECTIONS:
            continue
        end = sec.va + min(len(sec.data), sec.vsize)
        va = sec.va
        while va < end:
            if va in cov:
                covered += 1
                real += 1
                va += 1
                continue
            run = va
            while va < end and va not in cov:
                va += 1
            if is_padding_bytes(b, run, va - run) or _only_import_thunks(b, run, va):
                continue
            real += va - run
            gaps.append((run, va))
    return Coverage(covered, real, tuple(gaps))


def _only_import_thunks(b: Binary, start: int, end: int) -> bool:
    """An uncovered run made of import stubs nothing calls (``jmp [IAT]``, filler between them)."""
    ins = linear(b, start, end - start)
    if sum(i[1] for i in ins) != end - start:
        return False
    stubs = [i for i in ins if not is_padding(i[2], i[3])]
    return bool(stubs) and all(is_import_thunk(b, i[0]) for i in stubs)


def symbol_of(starts: list[int], syms: dict[int, Sym], va: int) -> Sym | None:
    """The symbol whose extent holds ``va`` (``starts`` sorted), or None."""
    i = bisect.bisect_right(starts, va) - 1
    if i < 0:
        return None
    s = syms[starts[i]]
    return s if s.size and va < s.va + s.size else None


# -- demo sources -------------------------------------------------------------------------------

_DEF = re.compile(r"^(?!typedef|struct|enum|#)[A-Za-z_][^;=(]*?\b([A-Za-z_]\w*)\s*\([^;]*$", re.M)


@cache
def defining_file() -> dict[str, frozenset[str]]:
    """C function name -> the demo source files that define it (``main`` is in several)."""
    out: dict[str, set[str]] = {}
    for src in sorted(demo_build.source_dir().glob("*.c")):
        for name in _DEF.findall(src.read_text()):
            out.setdefault(name, set()).add(src.name)
    return {k: frozenset(v) for k, v in out.items()}


def module_owners(store_families: set[str]) -> dict[str, set[str]]:
    """Source file -> the non-library families (among ``store_families``) that compile it."""
    out: dict[str, set[str]] = {}
    for kit in demo_build.TOOLKITS:
        if kit.family in store_families:
            for src in kit.sources:
                out.setdefault(src, set()).add(kit.family)
    return out


def expected_attribution(store_families: set[str]) -> set[str]:
    """Families the demo incident must be attributed to, given which families a store holds.

    A family is expected when the incident contains a module (other than the shared library)
    that this family, and no other family in the store, compiles in.
    """
    owners = module_owners(store_families)
    out = set()
    for src in demo_build.INCIDENT_SOURCES:
        fams = owners.get(src, set())
        if src != "libcommon.c" and len(fams) == 1:
            out |= fams
    return out
