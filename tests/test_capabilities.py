"""Capabilities (``attributor.evidence.capabilities``): capa's public rules over our own disassembly.

* ``tests/fixtures/src/destroy_win.c`` (mingw-w64) and ``destroy_elf.c`` (gcc) hold the calls,
  strings and constants of wipers and anti-forensic tools (never executed; their destructive paths
  are dead code, see the file headers). The named rules must fire in the named function with the
  rule's ATT&CK ids and our tags. Detection runs on the stripped build loaded blind; function
  names come from the unstripped one.
* ``benign_io.c`` (ordinary file I/O) must fire none of those rules and nothing tagged.
* A missing, empty or invalid rules directory is a one-line :class:`RulesError`; truncated,
  garbage and byte-flipped samples never raise anything but :class:`AttributorError`.

The rules are ``../shared/capa-rules`` relative to the repository, or ``ATTRIBUTOR_CAPA_RULES``;
the tests skip when neither exists. The compiled rule set is cached in pytest's cache folder.
"""

from __future__ import annotations

import functools
import os
import random
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from capa.rules import RuleSet
from conftest import (
    CELLS,
    FIXTURE_SRC,
    FixtureBin,
    FixtureBins,
    _build_one,
    _cache_root,
    _cached_build,
    _compiler_identity,
    _content_key,
    _which,
)

from attributor.disasm.recover import recover
from attributor.errors import AttributorError, RulesError
from attributor.evidence.capa_insn import api_names, parse_mem
from attributor.evidence.capabilities import detect_capabilities, load_rules, tags_for
from attributor.evidence.record import (
    TAG_ANTI_FORENSIC,
    TAG_DESTRUCTIVE,
    TAG_ENCRYPTION,
    Evidence,
    EvidenceKind,
    normalise,
)
from attributor.loading.binary import Binary, Section
from attributor.loading.loader import load_bytes, load_path

REPO = Path(__file__).resolve().parents[1]
BUILDS = {
    "destroy_win": ("mingw64-O2",),
    "destroy_elf": ("gcc-O0", "gcc-O2"),
    "benign_io": ("gcc-O2", "mingw64-O2"),
}
TAGGED = {TAG_DESTRUCTIVE, TAG_ANTI_FORENSIC, TAG_ENCRYPTION}

# rule name -> (functions it must fire in, ATT&CK ids, tags)
EXPECTED_WIN: dict[str, tuple[set[str], set[str], set[str]]] = {
    "overwrite Master Boot Record (MBR)": ({"wipe_mbr"}, {"T1561.002"}, {TAG_DESTRUCTIVE}),
    "delete drive layout via IOCTL": ({"wipe_partitions"}, {"T1561.002"}, {TAG_DESTRUCTIVE}),
    "delete volume shadow copies": (
        {"delete_shadow_copies"},
        {"T1490", "T1070.004"},
        {TAG_DESTRUCTIVE, TAG_ANTI_FORENSIC},
    ),
    "timestomp file": ({"timestomp"}, {"T1070.006"}, {TAG_ANTI_FORENSIC}),
    "self delete": ({"self_delete", "self_delete_batch"}, {"T1070.004"}, {TAG_ANTI_FORENSIC}),
    "clear Windows event logs": ({"clear_logs"}, {"T1070.001"}, {TAG_ANTI_FORENSIC}),
    "encrypt or decrypt via WinCrypt": ({"encrypt_buffer"}, {"T1027"}, {TAG_ENCRYPTION}),
    "encrypt data using RC4 via WinAPI": ({"encrypt_buffer"}, {"T1027"}, {TAG_ENCRYPTION}),
    # overwrite-then-delete: no single public rule; ours, and both public halves in one function
    "overwrite then delete file on Windows (attributor)": ({"shred_file"}, {"T1485"}, {TAG_DESTRUCTIVE}),
    "write file on Windows": ({"wipe_mbr", "shred_file"}, set(), set()),
    "delete file": ({"shred_file"}, set(), set()),
}
# The public rule set has no Linux wiper / timestomp / log-wipe rules: attributor's own rules
# (attributor/evidence/rules, "(attributor)" in the name) cover them; the public ones fire too.
EXPECTED_ELF: dict[str, tuple[set[str], set[str], set[str]]] = {
    "overwrite raw disk on Linux (attributor)": ({"wipe_disk"}, {"T1561.002"}, {TAG_DESTRUCTIVE}),
    "overwrite then delete file on Linux (attributor)": ({"shred_file"}, {"T1485"}, {TAG_DESTRUCTIVE}),
    "timestomp file on Linux (attributor)": ({"timestomp"}, {"T1070.006"}, {TAG_ANTI_FORENSIC}),
    "wipe system logs on Linux (attributor)": ({"truncate_logs"}, {"T1070.002"}, {TAG_ANTI_FORENSIC}),
    "self delete on Linux (attributor)": ({"self_delete"}, {"T1070.004"}, {TAG_ANTI_FORENSIC}),
    "write file on Linux": ({"wipe_disk", "shred_file"}, set(), set()),
    "delete file on Linux": ({"shred_file", "self_delete"}, set(), set()),
    "set file attributes": ({"timestomp"}, {"T1222"}, set()),
    "truncate file on Linux": ({"truncate_logs"}, set(), set()),
    "encrypt data using memfrob from glibc": ({"frob_file"}, {"T1027"}, {TAG_ENCRYPTION}),
}


def _rules_dir() -> Path:
    return Path(os.environ.get("ATTRIBUTOR_CAPA_RULES") or REPO / ".." / "shared" / "capa-rules")


@pytest.fixture(scope="session")
def rules(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> RuleSet:
    """The public capa rules, compiled once per session (and cached across sessions)."""
    path = _rules_dir()
    if not path.is_dir():
        pytest.skip(f"capa rules not found at {path} (set ATTRIBUTOR_CAPA_RULES)")
    return load_rules(path, cache_dir=_cache_root(request, tmp_path_factory) / "capa-rules")


def _build(dest: Path) -> dict[str, Any]:
    cells = {c.name: c for c in CELLS}
    tasks, missing = [], {}
    for program, names in BUILDS.items():
        for name in names:
            cell = cells[name]
            cc, strip = _which(cell.compilers), _which(cell.strips)
            if cc is None or strip is None:
                missing[name] = f"{(cell.compilers if cc is None else cell.strips)[0]} not installed"
            else:
                tasks.append((cell, program, cc, strip))
    with ThreadPoolExecutor(max_workers=min(4, os.cpu_count() or 2)) as pool:
        errors = list(pool.map(lambda t: _build_one(*t, dest), tasks))
    for (cell, program, _, _), err in zip(tasks, errors, strict=True):
        if err is not None:
            raise RuntimeError(f"capability fixture {program}/{cell.name}: {err}")
    return {"built": [f"{p}/{c.name}" for c, p, _, _ in tasks], "missing": missing}


@pytest.fixture(scope="session")
def cap_bins(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> FixtureBins:
    """The capability fixtures x their cells, compiled from ``tests/fixtures/src``."""
    used = sorted({n for names in BUILDS.values() for n in names})
    cells = [c for c in CELLS if c.name in used]
    files = [*(FIXTURE_SRC / f"{p}.c" for p in BUILDS), FIXTURE_SRC / "fixture.h", Path(__file__)]
    key = _content_key(files, [_compiler_identity(c.compilers) for c in cells])
    folder, manifest = _cached_build(_cache_root(request, tmp_path_factory), "capabilities", key, _build)
    bins = {}
    for k in manifest["built"]:
        program, cname = k.split("/")
        cell = next(c for c in cells if c.name == cname)
        path = folder / f"{program}-{cname}{cell.suffix}"
        stripped = path.with_name(path.name + ".stripped")
        bins[k] = FixtureBin(k, program, cname, path, stripped, cell.format, cell.arch, cell.bits)
    return FixtureBins(bins, manifest["missing"])


@functools.cache
def _analyse(path: Path, stripped: Path, rules: RuleSet) -> tuple[dict[int, str], list[Evidence]]:
    names = {a: n.split(".")[0] for a, n in load_path(path).symbols.items()}
    binary = load_path(stripped, blind=True)
    return names, detect_capabilities(binary, recover(binary), rules)


def _check_expected(
    fb: FixtureBin, rules: RuleSet, expected: dict[str, tuple[set[str], set[str], set[str]]]
) -> None:
    names, found = _analyse(fb.path, fb.stripped, rules)
    problems = []
    for rule, (functions, attack, tags) in expected.items():
        hits = [e for e in found if e.value == rule]
        where = {names.get(e.function, "?") for e in hits if e.function is not None}
        if not functions <= where:
            problems.append(f"{rule}: expected in {sorted(functions)}, found in {sorted(where)}")
        for e in hits:
            if set(e.attack) != attack or set(e.tags) != tags:
                problems.append(
                    f"{rule}: attack {e.attack} tags {e.tags}, want {sorted(attack)} {sorted(tags)}"
                )
    summary = sorted({(e.value, names.get(e.function or -1, "-")) for e in found})
    assert not problems, "\n".join(problems) + f"\nfound: {summary}"


def test_windows_destruction_anti_forensics_and_encryption(cap_bins: FixtureBins, rules: RuleSet) -> None:
    """Every named rule fires in its function, with the rule's ATT&CK ids and our tags."""
    _check_expected(cap_bins.need("destroy_win/mingw64-O2"), rules, EXPECTED_WIN)


@pytest.mark.parametrize("cell", BUILDS["destroy_elf"])
def test_linux_destruction_and_encryption(cap_bins: FixtureBins, rules: RuleSet, cell: str) -> None:
    """attributor's Linux rules and the nearest public ones fire on the Linux wiper, at -O0 and -O2."""
    _check_expected(cap_bins.need(f"destroy_elf/{cell}"), rules, EXPECTED_ELF)


def test_raw_disk_string_seen_at_file_scope(cap_bins: FixtureBins, rules: RuleSet) -> None:
    """The file-scope rule on ``\\\\.\\PhysicalDrive0`` fires with no address or function."""
    fb = cap_bins.need("destroy_win/mingw64-O2")
    hits = [e for e in _analyse(fb.path, fb.stripped, rules)[1] if e.value == "read raw disk data"]
    assert hits and all(e.address is None and e.function is None for e in hits)


@pytest.mark.parametrize("cell", BUILDS["benign_io"])
def test_benign_io_is_silent(cap_bins: FixtureBins, rules: RuleSet, cell: str) -> None:
    """Ordinary file I/O fires none of the destructive / anti-forensic / encryption rules."""
    fb = cap_bins.need(f"benign_io/{cell}")
    found = _analyse(fb.path, fb.stripped, rules)[1]
    named = (set(EXPECTED_WIN) | set(EXPECTED_ELF)) - {"write file on Windows", "write file on Linux"}
    bad = [(e.value, e.tags) for e in found if e.value in named or TAGGED & set(e.tags)]
    assert not bad, bad
    assert any(e.value.startswith("write file on") for e in found), "extractor sees no API call at all"


def test_evidence_records_are_well_formed(cap_bins: FixtureBins, rules: RuleSet) -> None:
    """Sorted, de-duplicated capability records from capa; lib rules are matched but never reported."""
    fb = cap_bins.need("destroy_win/mingw64-O2")
    found = _analyse(fb.path, fb.stripped, rules)[1]
    assert found == normalise(found)
    assert all(e.kind is EvidenceKind.CAPABILITY and e.source == "capa" for e in found)
    assert all(e.attack == tuple(sorted(e.attack)) for e in found)
    reported = {e.value for e in found}
    assert "create or open file" not in reported  # lib rule, needed by "overwrite MBR"
    assert all(not rules.rules[name].meta.get("lib") for name in reported)


def test_tags_by_namespace_and_attack() -> None:
    assert tags_for("impact/wipe-disk", ()) == (TAG_DESTRUCTIVE,)
    assert tags_for("host-interaction/file-system", ("T1486",)) == (TAG_DESTRUCTIVE,)
    assert tags_for("host-interaction/file-system/delete", ("T1070.004",)) == (TAG_ANTI_FORENSIC,)
    assert tags_for("data-manipulation/encoding/xor", ("T1027",)) == (TAG_ENCRYPTION,)
    assert tags_for("host-interaction/file-system/write", ()) == ()


def test_operand_parsing() -> None:
    assert parse_mem("qword ptr [rax + rcx*8 - 0x10]") == (None, "rax", -16)
    assert parse_mem("dword ptr fs:[0x30]") == ("fs", None, 0x30)
    assert parse_mem("byte ptr [rbx]") == (None, "rbx", 0)
    assert parse_mem("rax") is None
    assert api_names("CreateFileA") == ["CreateFileA", "CreateFile"]
    assert api_names("memfrob@GLIBC_2.2.5") == ["memfrob"]
    assert api_names("ws2_32.dll#23") == ["ws2_32.#23"]


# -- bad rules and hostile samples ------------------------------------------------------------


def test_bad_rules_directory_is_a_one_line_error(tmp_path: Path) -> None:
    with pytest.raises(RulesError, match="not found"):
        load_rules(tmp_path / "nope", cache_dir=tmp_path / "cache")
    (tmp_path / "empty").mkdir()
    with pytest.raises(RulesError, match="no capa rules"):
        load_rules(tmp_path / "empty", cache_dir=tmp_path / "cache")
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "x.yml").write_text("rule:\n  meta:\n    name: x\n  features:\n    - nonsense: 1\n")
    with pytest.raises(RulesError) as err:
        load_rules(bad, cache_dir=tmp_path / "cache")
    assert "\n" not in str(err.value) and "x.yml" in str(err.value)


def _survives(data: bytes, rules: RuleSet) -> None:
    try:
        binary = load_bytes(data)
        detect_capabilities(binary, recover(binary), rules)
    except AttributorError:
        pass


def test_hostile_samples_do_not_crash(cap_bins: FixtureBins, rules: RuleSet) -> None:
    """Truncated, byte-flipped and random images: results or a typed error, nothing else."""
    data = cap_bins.need("destroy_win/mingw64-O2").stripped.read_bytes()
    rng = random.Random(0xC0FFEE)
    for cut in (64, 1024, len(data) // 2):
        _survives(data[:cut], rules)
    for _ in range(4):
        flipped = bytearray(data)
        for pos in rng.sample(range(0x400, len(data)), 2000):
            flipped[pos] = rng.randrange(256)
        _survives(bytes(flipped), rules)
    _survives(rng.randbytes(1 << 16), rules)


def test_random_code_section(rules: RuleSet) -> None:
    """An executable section of random bytes (every decoding oddity at once) matches without error."""
    code = random.Random(7).randbytes(256 << 10)
    binary = Binary(
        "0" * 64,
        len(code),
        "PE",
        "x86-64",
        64,
        0x140000000,
        0x140001000,
        [Section(".text", 0x140001000, len(code), code, True)],
    )
    found = detect_capabilities(binary, recover(binary), rules)
    assert all(e.kind is EvidenceKind.CAPABILITY for e in found)
