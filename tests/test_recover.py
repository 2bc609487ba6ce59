"""Function recovery measured against the compilers' own records, and on hostile code bytes.

Ground truth (``helpers_truth``): ELF ``.symtab`` (names, starts, ``st_size``) and PE COFF symbols of
the *unstripped* builds, and a capstone linear sweep of each symbol's extent. Recovery always runs
in blind mode on the *stripped* copy, so nothing the engine sees carries a name.
"""

from __future__ import annotations

import struct
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from conftest import ALL_KEYS, CELLS
from helpers_synth import CODE_VA, DATA_VA, make_elf, make_pe, rel32
from helpers_truth import (
    base_name,
    covered_addresses,
    function_symbols,
    is_import_thunk,
    real_code_coverage,
    symbol_body,
    symbol_of,
)
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from attributor.demo import build as demo_build
from attributor.disasm.recover import Program, recover
from attributor.fingerprint.model import DEFAULT_PARAMS
from attributor.fingerprint.normalise import Features, Normaliser
from attributor.fingerprint.sample import fingerprint_binary
from attributor.loading.binary import Binary
from attributor.loading.loader import DEFAULT_LIMITS, load_bytes, load_path
from attributor.pipeline import fingerprint_path

ELF_KEYS = [k for k in ALL_KEYS if next(c for c in CELLS if c.name == k.split("/")[1]).format == "ELF"]
BAD_FIXTURES: dict[str, Any] = {}  # fixture -> xfail mark, for engine bugs not yet fixed


def _keys(keys: list[str]) -> list[Any]:
    return [pytest.param(k, marks=BAD_FIXTURES[k]) if k in BAD_FIXTURES else k for k in keys]


def _demo_names() -> list[str]:
    out = []
    for tc_name, opt in demo_build.CORPUS_MATRIX:
        tc = demo_build.TOOLCHAINS[tc_name]
        out += [f"{kit.family}-{tc_name}-{opt}{tc.exe_suffix}" for kit in demo_build.TOOLKITS]
        out.append(f"{demo_build.LIBRARY_FAMILY}-{tc_name}-{opt}{tc.lib_suffix}")
    return out


DEMO_NAMES = _demo_names()
DEMO_ELF = [n for n in DEMO_NAMES if "mingw" not in n]
BAD_DEMO: dict[str, Any] = {}  # demo binary -> xfail mark, for engine bugs not yet fixed


def _demo(demo_corpus: list[demo_build.BuiltSample], name: str) -> Path:
    found = {s.path.name: s.path for s in demo_corpus}
    if name not in found:
        pytest.skip(f"{name}: its toolchain is not installed here")
    return found[name]


def _blind(path: Path) -> tuple[Binary, Program]:
    b = load_path(path, blind=True)
    assert not b.symbols
    return b, recover(b)


def _allowed_missing(b: Binary, va: int) -> bool:
    """Documented exception: an import stub (``jmp [IAT]``) nothing calls is not a function."""
    return is_import_thunk(b, va)


# -- every symbol is found -----------------------------------------------------------------------


def _assert_symbols_recovered(unstripped: Path, stripped: Path) -> None:
    truth = function_symbols(unstripped)
    named = load_path(unstripped, blind=False).symbols  # exports / dynsym: a subset of the truth
    assert set(named) <= set(truth), "loader names functions the symbol table does not have"
    assert truth, "no ground truth"
    b, prog = _blind(stripped)
    found = set(prog.functions) | set(prog.thunks) | set(prog.aliases)
    missing = {
        f"{s.name}@{va:#x}" for va, s in truth.items() if va not in found and not _allowed_missing(b, va)
    }
    assert not missing, f"function starts not recovered blind: {sorted(missing)}"


def test_every_symbol_is_a_function_start(each_fixture_bin) -> None:
    _assert_symbols_recovered(each_fixture_bin.path, each_fixture_bin.stripped)


@pytest.mark.parametrize("name", DEMO_NAMES)
def test_every_demo_symbol_is_a_function_start(demo_corpus, name) -> None:
    path = _demo(demo_corpus, name)
    _assert_symbols_recovered(path, path)  # blind load ignores the symbols that are there


# -- coverage --------------------------------------------------------------------------------------


def _assert_coverage(path: Path, minimum: float = 0.85) -> None:
    b, prog = _blind(path)
    cov = real_code_coverage(b, prog.functions.values())
    gaps = [f"{a:#x}+{e - a}" for a, e in cov.uncovered]
    assert cov.ratio >= minimum, f"coverage {cov.ratio:.3f} of real code; uncovered: {gaps[:10]}"


@pytest.mark.parametrize("key", _keys(list(ALL_KEYS)))
def test_coverage_of_real_code(fixture_bins, key) -> None:
    """Executable bytes that are neither PLT, alignment filler nor unused import stubs are covered."""
    _assert_coverage(fixture_bins.need(key).stripped)


@pytest.mark.parametrize("name", DEMO_NAMES)
def test_demo_coverage_of_real_code(demo_corpus, name) -> None:
    _assert_coverage(_demo(demo_corpus, name))


@pytest.mark.parametrize("key", ["calls/gcc-O2", "switch/mingw64-O2", "tiny/clang-O2"])
def test_reported_coverage_counts_each_byte_once(fixture_bins, key) -> None:
    """``Program.covered_bytes`` agrees with a naive byte set, and the fingerprint reports the same."""
    fx = fixture_bins.need(key)
    b, prog = _blind(fx.stripped)
    assert prog.covered_bytes == len(covered_addresses(prog.functions.values()))
    fp = fingerprint_path(fx.stripped, blind=True)
    assert fp.covered_bytes == prog.covered_bytes
    assert 0.0 < fp.coverage <= 1.0 and fp.code_bytes == b.code_bytes


# -- function extents ------------------------------------------------------------------------------


def _assert_extents(unstripped: Path, stripped: Path) -> None:
    """Each symbol's instructions are in the function recovered at its start, and no function
    swallows another function (except its own ``.cold``/``.part`` pieces, which share code)."""
    truth = {va: s for va, s in function_symbols(unstripped).items() if s.size}
    b, prog = _blind(stripped)
    starts = sorted(truth)
    short, swallowed = [], []
    for va, sym in truth.items():
        fn = prog.functions.get(va)
        if fn is None:
            continue  # import stubs; recall is checked above
        have = {i[0] for i in fn.insns}
        body = symbol_body(b, sym)
        missing = [i for i in body if i[0] not in have]
        if missing:
            first = missing[0][0]
            short.append(f"{sym.name}: {len(missing)}/{len(body)} instructions missing, first {first:#x}")
        others = {
            o.name
            for a, *_ in fn.insns
            if (o := symbol_of(starts, truth, a)) is not None
            and o.va != va
            and base_name(o.name) != base_name(sym.name)
        }
        if others:
            swallowed.append(f"{sym.name} contains {sorted(others)}")
    assert not short, short
    assert not swallowed, swallowed


@pytest.mark.parametrize("key", _keys(ELF_KEYS))
def test_function_extents_match_the_symbol_table(fixture_bins, key) -> None:
    fx = fixture_bins.need(key)
    _assert_extents(fx.path, fx.stripped)


@pytest.mark.parametrize(
    "name", [pytest.param(n, marks=BAD_DEMO[n]) if n in BAD_DEMO else n for n in DEMO_ELF]
)
def test_demo_function_extents_match_the_symbol_table(demo_corpus, name) -> None:
    path = _demo(demo_corpus, name)
    _assert_extents(path, path)


@pytest.mark.parametrize("key", _keys([k for k in ALL_KEYS if k.startswith("switch/")]))
def test_jump_table_cases_belong_to_the_switch(fixture_bins, key) -> None:
    """``classify`` is a dense 12-case switch: every case body is inside the recovered function."""
    fx = fixture_bins.need(key)
    sym = next(s for s in function_symbols(fx.path).values() if s.name == "classify")
    b, prog = _blind(fx.stripped)
    fn = prog.functions[sym.va]
    body = symbol_body(b, sym)
    have = {i[0] for i in fn.insns}
    inside = [i for i in body if i[0] in have]
    assert len(body) >= 12, "the switch did not compile to a body with 12 cases"
    assert sum(i[1] for i in inside) >= 0.8 * sum(i[1] for i in body)
    assert [i for i in body if i[0] not in have] == []
    assert fn.size >= 0.8 * sum(i[1] for i in body)


# -- calls: tail calls and imports -----------------------------------------------------------------


def _by_name(path: Path) -> dict[str, int]:
    return {s.name: va for va, s in function_symbols(path).items()}


@pytest.mark.parametrize("key", [k for k in ALL_KEYS if k.startswith("calls/")])
def test_tail_call_target_is_its_own_function(fixture_bins, key) -> None:
    fx = fixture_bins.need(key)
    names = _by_name(fx.path)
    truth = function_symbols(fx.path)
    _, prog = _blind(fx.stripped)
    caller, callee = prog.functions[names["tail_caller"]], names["chain_c"]
    assert callee in prog.functions
    assert callee in caller.calls
    assert names["chain_b"] in prog.functions[names["chain_a"]].calls
    assert callee in prog.functions[names["chain_b"]].calls
    if "O2" in key:  # optimised: `return chain_c(...)` is a jmp, and chain_c's code stays apart
        last = caller.insns[-1]
        assert last[2].endswith("jmp") and int(last[3], 16) == callee
    size = truth[callee].size
    if size:
        assert not {a for a, *_ in caller.insns} & set(range(callee, callee + size))


THUNK_CASES = [(f"tiny/{c.name}", "puts") for c in CELLS if "tiny" in c.programs] + [
    (f"{p}/{c.name}", "printf")
    for c in CELLS
    if c.format == "ELF"
    for p in ("calls", "switch")
    if p in c.programs
]


@pytest.mark.parametrize(("key", "api"), THUNK_CASES)
def test_import_calls_become_api_tokens(fixture_bins, key, api) -> None:
    """``main`` calls ``api`` through a PLT stub / IAT thunk: the token names the API, blind."""
    fx = fixture_bins.need(key)
    b, prog = _blind(fx.stripped)
    assert api in prog.thunks.values() or api in b.imports.values()
    main = prog.functions[_by_name(fx.path)["main"]]
    feats = Features()
    tokens = Normaliser(b, prog.thunks, prog.aliases).function(main.insns, feats)
    assert f"call api:{api}" in tokens
    assert api in feats.apis
    assert set(prog.thunks.values()) <= set(b.imports.values())
    assert not set(prog.thunks) & set(prog.functions)


# -- blind cannot cheat ----------------------------------------------------------------------------

_COLUMNS = ("addresses", "sizes", "n_insns", "n_blocks", "exact", "minhash", "edges")


def _assert_same_fingerprint(a: Path, b: Path) -> None:
    fa, fb = fingerprint_path(a, blind=True), fingerprint_path(b, blind=True)
    assert fa.sha256 != fb.sha256, "the two copies should differ (one is stripped)"
    for col in _COLUMNS:
        assert np.array_equal(getattr(fa, col), getattr(fb, col)), col
    assert fa.minhash.tobytes() == fb.minhash.tobytes()
    assert (fa.covered_bytes, fa.code_bytes, fa.status) == (fb.covered_bytes, fb.code_bytes, fb.status)


def test_blind_cannot_cheat(each_fixture_bin) -> None:
    """Blind fingerprints of a binary and of its stripped copy are identical."""
    _assert_same_fingerprint(each_fixture_bin.path, each_fixture_bin.stripped)


def test_incident_recovery_against_its_unstripped_build(tmp_path) -> None:
    """The stripped demo incident: symbols, extents and coverage, and blind cannot cheat."""
    stripped = demo_build.build_incident(tmp_path, keep_unstripped=True)
    unstripped = tmp_path / "incident-unstripped"
    _assert_symbols_recovered(unstripped, stripped)
    _assert_extents(unstripped, stripped)
    _assert_coverage(stripped)
    _assert_same_fingerprint(unstripped, stripped)


def test_normal_mode_differs_only_by_symbol_seeds(fixture_bins) -> None:
    """Symbols add function starts but never change what blind mode found at the same address."""
    fx = fixture_bins.need("calls/gcc-O2")
    blind, normal = fingerprint_path(fx.path, blind=True), fingerprint_path(fx.path, blind=False)
    assert set(blind.addresses.tolist()) <= set(normal.addresses.tolist())


# -- hostile bytes ---------------------------------------------------------------------------------


def within(seconds: float, fn: Callable[..., Any], *args: Any) -> Any:
    """Run ``fn`` in a daemon thread; fail (instead of hanging the suite) if it runs too long."""
    box: dict[str, Any] = {}

    def run() -> None:
        try:
            box["value"] = fn(*args)
        except BaseException as e:  # re-raised in the test's thread
            box["error"] = e

    t = threading.Thread(target=run, daemon=True)
    t.start()
    t.join(seconds)
    assert not t.is_alive(), f"{getattr(fn, '__name__', fn)} did not finish within {seconds} s"
    if "error" in box:
        raise box["error"]
    return box["value"]


def _analyse(data: bytes) -> tuple[Binary, Program]:
    b = load_bytes(data, blind=True)
    prog = recover(b)
    fp = fingerprint_binary(b, DEFAULT_PARAMS, DEFAULT_LIMITS)
    assert fp.minhash.shape == (fp.n_functions, DEFAULT_PARAMS.num_perm)
    assert 0.0 <= fp.coverage <= 1.0
    assert fp.edges.size == 0 or (fp.edges.min() >= 0 and fp.edges.max() < fp.n_functions)
    return b, prog


def _assert_sane(b: Binary, prog: Program) -> None:
    for start, fn in prog.functions.items():
        assert b.is_executable(start), f"function at non-code {start:#x}"
        outside = [a for a, s, _, _ in fn.insns if not (b.is_executable(a) and b.is_executable(a + s - 1))]
        assert not outside, f"function {start:#x} has instructions outside code: {outside[:5]}"


def _rel_table(entries: list[int], bound: int | None = 3, table_va: int = DATA_VA) -> tuple[bytes, bytes]:
    """``[cmp edi, bound; ja dflt]; lea rdx,[rip+T]; movsxd rax,[rdx+rdi*4]; add rax,rdx; jmp rax``."""
    head = b"\x83\xff" + bytes([bound]) + b"\x77\x10" if bound is not None else b""
    lea_end = CODE_VA + len(head) + 7
    code = head + b"\x48\x8d\x15" + rel32(lea_end, table_va) + b"\x48\x63\x04\xba\x48\x01\xd0\xff\xe0"
    code += b"\x31\xc0\xc3"
    return code, struct.pack(f"<{len(entries)}i", *entries)


def _case_rel_outside() -> tuple[bytes, bytes]:
    jmp_rax = CODE_VA + 0x13
    return _rel_table([jmp_rax + 1 - DATA_VA, jmp_rax + 2 - DATA_VA, 0x7FFFFFFF, -0x80000000])


def _case_abs_outside(bits: int) -> tuple[bytes, bytes]:
    width = bits // 8
    # cmp edi, 3; ja +7; jmp [edi*W + DATA_VA]; ret
    sib = b"\xfd" if width == 8 else b"\xbd"
    code = b"\x83\xff\x03\x77\x07\xff\x24" + sib + struct.pack("<I", DATA_VA) + b"\xc3"
    entries = [CODE_VA + 5, CODE_VA + 12, (1 << bits) - 1, 0]  # itself, the ret, outside, outside
    return code, struct.pack(f"<{len(entries)}{'Q' if width == 8 else 'I'}", *entries)


def _case_tail_cycle() -> tuple[bytes, bytes]:
    # f: call g; ret     g: jmp f     h: jmp g (never reached)
    f, g = CODE_VA, CODE_VA + 6
    code = b"\xe8" + rel32(f + 5, g) + b"\xc3" + b"\xe9" + rel32(g + 5, f) + b"\xe9" + rel32(g + 10, g)
    return code, b""


def _case_wild_branches() -> tuple[bytes, bytes]:
    a = CODE_VA
    code = b"\x0f\x84" + rel32(a + 6, 0x7FFF0000)  # je far away
    code += b"\xe8" + rel32(a + 11, 0x10)  # call into unmapped low memory
    code += b"\xff\x15" + struct.pack("<i", 0x7FFFFFF0)  # call [rip + huge]
    code += b"\x0f\x85" + rel32(a + 23, DATA_VA)  # jne into data
    code += b"\xe9" + rel32(a + 28, CODE_VA + 0x2000)  # jmp past the section
    return code, b"\0" * 16


HOSTILE: dict[str, Callable[[], tuple[bytes, bytes]]] = {
    "self_jump": lambda: (b"\xeb\xfe", b""),
    "self_call": lambda: (b"\xe8\xfb\xff\xff\xff\xc3", b""),
    "jump_into_own_operand": lambda: (b"\xeb\xff\xc0\xc3", b""),
    "tail_call_cycle": _case_tail_cycle,
    "rel_table_outside_section": _case_rel_outside,
    "rel_table_first_entry_outside": lambda: _rel_table([0x7FFFFFFF, 5, 6, 7]),
    "rel_table_unbounded_past_data": lambda: _rel_table([CODE_VA + 0x10 - DATA_VA], bound=None),
    "rel_table_is_the_code": lambda: _rel_table([], bound=None, table_va=CODE_VA),
    "rel_table_huge_bound": lambda: _rel_table([0] * 4, bound=0x7F),
    "abs_table_outside_section_64": lambda: _case_abs_outside(64),
    "wild_branches": _case_wild_branches,
    "jmp_chain": lambda: (b"\xeb\x00" * 3000 + b"\xc3", b""),
    "truncated_last_instruction": lambda: (b"\x90" * 10 + b"\x48\x8b", b""),
    "nop_sled_without_end": lambda: (b"\x90" * 4096, b""),
    "all_int3": lambda: (b"\xcc" * 4096, b""),
    "all_zero": lambda: (b"\0" * 4096, b""),
    "prologue_sled": lambda: (b"\x55\x48\x89\xe5" * 1024, b""),
    "random_0": lambda: (np.random.default_rng(0).bytes(4096), np.random.default_rng(1).bytes(256)),
    "random_1": lambda: (np.random.default_rng(2).bytes(4096), b""),
}
HOSTILE_32: dict[str, Callable[[], tuple[bytes, bytes]]] = {
    "self_jump": lambda: (b"\xeb\xfe", b""),
    "abs_table_outside_section_32": lambda: _case_abs_outside(32),
    "all_int3": lambda: (b"\xcc" * 4096, b""),
    "random_0": lambda: (np.random.default_rng(3).bytes(4096), b""),
    "prologue_sled": lambda: (b"\x55\x89\xe5" * 1024, b""),
}
CASES = [
    pytest.param(make, name, bits, id=f"{make.__name__[5:]}{bits}-{name}")
    for make in (make_elf, make_pe)
    for bits, table in ((64, HOSTILE), (32, HOSTILE_32))
    for name in table
]


@pytest.mark.parametrize(("make", "name", "bits"), CASES)
def test_hostile_code_terminates_cleanly(make, name, bits) -> None:
    code, data = (HOSTILE if bits == 64 else HOSTILE_32)[name]()
    b, prog = within(20, _analyse, make(code, data, bits=bits))
    _assert_sane(b, prog)
    if name == "self_jump":
        fn = prog.functions[CODE_VA]
        assert [i[0] for i in fn.insns] == [CODE_VA] and fn.calls == []
    if name.startswith(("rel_table", "abs_table")):
        assert CODE_VA in prog.functions
    if name == "rel_table_outside_section":  # the two in-section entries are followed, no others
        have = {i[0] for i in prog.functions[CODE_VA].insns}
        assert CODE_VA + 0x14 in have
    if name == "tail_call_cycle":
        assert prog.functions[CODE_VA + 6].calls == [CODE_VA]


@settings(max_examples=60, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(code=st.binary(min_size=1, max_size=1024), bits=st.sampled_from([32, 64]), pe=st.booleans())
def test_random_code_never_raises(code: bytes, bits: int, pe: bool) -> None:
    b, prog = within(20, _analyse, (make_pe if pe else make_elf)(code, bits=bits))
    _assert_sane(b, prog)


def _call_chain(n: int) -> bytes:
    """``n`` functions, each ``call <next>; nop; nop; nop`` and falling through into the next."""
    return b"\xe8\x03\x00\x00\x00\x90\x90\x90" * n + b"\xc3"


def test_recovery_work_is_linear_in_code_size() -> None:
    work = []
    for n in (128, 256):
        prog = within(60, recover, load_bytes(make_elf(_call_chain(n)), blind=True))
        assert len(prog.functions) == n + 1
        work.append(sum(len(f.insns) for f in prog.functions.values()))
    growth = work[1] / work[0]
    assert growth < 3, f"doubling the code multiplied the decoded instructions by {growth:.1f}"
