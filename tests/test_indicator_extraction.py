"""Indicators from strings (``attributor.evidence.strings`` / ``attributor.evidence.indicators``).

* ``tests/fixtures/src/indicators.c`` is compiled with gcc -O0 / -O2 and mingw-w64 -O2; every
  planted indicator must be found with its subtype, canonical value and source, and for plain
  strings at an address whose bytes hold the raw text. The stripped build is analysed blind.
* ``indicators_none.c`` (version strings, DLL names, format strings) yields no network indicator;
  1 MB of random bytes yields nothing; huge and many strings stay within the caps.
* Classification is checked on string tables, without binaries.
"""

from __future__ import annotations

import os
import random
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from conftest import (
    CELLS,
    FIXTURE_SRC,
    _build_one,
    _cache_root,
    _cached_build,
    _compiler_identity,
    _content_key,
    _which,
)

from attributor.disasm.recover import recover
from attributor.evidence import strings as strings_mod
from attributor.evidence.indicators import classify, extract_indicators
from attributor.evidence.record import TAG_OBFUSCATED, Evidence
from attributor.evidence.strings import MAX_LEN, FoundString, find_strings
from attributor.loading.binary import Binary, Section
from attributor.loading.loader import load_path

PROGRAMS = ("indicators", "indicators_none")
CELL_NAMES = ("gcc-O0", "gcc-O2", "mingw64-O2")
NETWORK = {"ipv4", "ipv6", "domain", "url", "email", "user-agent"}

# (subtype, canonical value, raw text as found, source) planted in indicators.c
PLANTED = [
    ("url", "http://c2.example.com/gate.php?id=1", "http://c2.example.com/gate.php?id=1", "strings:ascii"),
    ("domain", "c2.example.com", "http://c2.example.com/gate.php?id=1", "strings:ascii"),
    ("url", "http://198.51.100.111/update", "http://3325256815/update", "strings:ascii"),
    ("ipv4", "198.51.100.111", "http://3325256815/update", "strings:ascii"),
    ("ipv4", "203.0.113.7", "203.0.113.7", "strings:ascii"),
    ("ipv4", "192.0.2.10", "0300.0000.0002.0012", "strings:ascii"),
    ("ipv6", "2001:db8::53", "2001:db8::53", "strings:ascii"),
    ("domain", "evil.example", "evil[.]example", "strings:ascii"),
    ("domain", "xn--bcher-kva.example", "b\u00fccher.example", "strings:ascii"),
    ("email", "ops@mail.example.org", "ops@mail.example.org", "strings:ascii"),
    (
        "user-agent",
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AttributorTest/1.0",
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AttributorTest/1.0",
        "strings:ascii",
    ),
    ("mutex", "Global\\AttributorMutex42", "Global\\AttributorMutex42", "strings:ascii"),
    ("pipe", "\\\\.\\pipe\\attributor_pipe", "\\\\.\\pipe\\attributor_pipe", "strings:ascii"),
    (
        "registry",
        "HKEY_CURRENT_USER\\software\\attributortest\\config",
        "HKEY_CURRENT_USER\\Software\\AttributorTest\\Config",
        "strings:ascii",
    ),
    (
        "pdb",
        "c:\\build\\implant\\release\\implant.pdb",
        "C:\\build\\implant\\Release\\implant.pdb",
        "strings:ascii",
    ),
    ("path", "c:\\users\\public\\svchost.exe", "C:\\Users\\Public\\svchost.exe", "strings:ascii"),
    ("path", "/tmp/.attributor.lock", "/tmp/.attributor.lock", "strings:ascii"),
    ("url", "https://wide.example.org/path", "https://wide.example.org/path", "strings:utf16"),
    ("mutex", "Local\\WideMutex", "Local\\WideMutex", "strings:utf16"),
    ("domain", "stack.example.net", "stack.example.net", "strings:stack"),
    ("url", "http://xor.example.com/beacon", "http://xor.example.com/beacon", "strings:xor(0x5a)"),
    ("url", "https://add.example.net/cfg", "https://add.example.net/cfg", "strings:add(0x03)"),
]


def _build(dest: Path) -> dict[str, Any]:
    cells = [c for c in CELLS if c.name in CELL_NAMES]
    tasks, missing = [], {}
    for cell in cells:
        cc, strip = _which(cell.compilers), _which(cell.strips)
        if cc is None or strip is None:
            missing[cell.name] = f"{cell.compilers[0]} not installed"
            continue
        tasks += [(cell, p, cc, strip) for p in PROGRAMS]
    with ThreadPoolExecutor(max_workers=min(4, os.cpu_count() or 2)) as pool:
        errors = list(pool.map(lambda t: _build_one(t[0], t[1], t[2], t[3], dest), tasks))
    for (cell, program, _, _), err in zip(tasks, errors, strict=True):
        if err is not None:
            raise RuntimeError(f"indicator fixture {program}/{cell.name}: {err}")
    return {"built": [f"{p}/{c.name}" for c, p, _, _ in tasks], "missing": missing}


@pytest.fixture(scope="session")
def indicator_bins(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, Path]:
    """``"<program>/<cell>"`` -> stripped binary, for the installed cells of :data:`CELL_NAMES`."""
    if _which(("gcc",)) is None:
        pytest.skip("gcc not installed")
    files = [*(FIXTURE_SRC / f"{p}.c" for p in PROGRAMS), FIXTURE_SRC / "fixture.h", Path(__file__)]
    key = _content_key(files, [_compiler_identity(c.compilers) for c in CELLS if c.name in CELL_NAMES])
    folder, manifest = _cached_build(_cache_root(request, tmp_path_factory), "indicators", key, _build)
    suffix = {c.name: c.suffix for c in CELLS}
    return {
        key: folder / f"{key.replace('/', '-')}{suffix[key.split('/')[1]]}.stripped"
        for key in manifest["built"]
    }


def _need(bins: dict[str, Path], key: str) -> Path:
    if key not in bins:
        pytest.skip(f"{key}: compiler not installed")
    return bins[key]


def _analyse(path: Path) -> tuple[Binary, list[Evidence]]:
    binary = load_path(path, blind=True)
    return binary, extract_indicators(binary, recover(binary))


@pytest.mark.parametrize("cell", CELL_NAMES)
def test_planted_indicators_are_found(indicator_bins: dict[str, Path], cell: str) -> None:
    """Every planted indicator: subtype, canonical value, raw detail, source, tag and address."""
    binary, found = _analyse(_need(indicator_bins, f"indicators/{cell}"))
    for subtype, value, raw, source in PLANTED:
        hits = [e for e in found if (e.subtype, e.value, e.source) == (subtype, value, source)]
        assert hits, f"{subtype} {value} via {source} not found in {cell}"
        e = hits[0]
        assert e.detail == raw
        assert (TAG_OBFUSCATED in e.tags) == (source not in ("strings:ascii", "strings:utf16"))
        assert e.address is not None
        if source == "strings:ascii":
            assert binary.read(e.address, len(raw.encode())) == raw.encode()
        elif source == "strings:utf16":
            assert binary.read(e.address, 2 * len(raw)) == raw.encode("utf-16-le")
        elif source == "strings:stack":
            assert e.function is not None and binary.is_executable(e.address)
        else:  # encoded: the bytes at the address decode to the text with the key in the source
            op, key = source[8:11], int(source[14:16], 16)
            data = binary.read(e.address, len(raw))
            decoded = bytes((b ^ key) if op == "xor" else (b - key) & 0xFF for b in data)
            assert decoded == raw.encode()


@pytest.mark.parametrize("cell", CELL_NAMES)
def test_negative_fixture_has_no_network_indicator(indicator_bins: dict[str, Path], cell: str) -> None:
    """Version strings, DLL names and format strings are not IPs, domains or URLs."""
    _, found = _analyse(_need(indicator_bins, f"indicators_none/{cell}"))
    assert [e for e in found if e.subtype in NETWORK] == []


def _image(data: bytes, executable: bool = False) -> Binary:
    sec = Section(".data", 0x10000, len(data), data, executable)
    return Binary("0" * 64, len(data), "ELF", "x86-64", 64, 0, None, [sec])


def test_random_bytes_yield_nothing() -> None:
    """1 MB of seeded random bytes: no indicator of any kind."""
    rng = random.Random(0xBAADF00D)
    data = bytes(rng.getrandbits(8) for _ in range(1 << 20))
    assert extract_indicators(_image(data)) == []


def test_hostile_inputs_stay_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    """A 16 MB string is cut to MAX_LEN; a flood of strings stops at MAX_STRINGS, quickly."""
    t0 = time.perf_counter()
    huge = find_strings(_image(b"A" * (16 << 20)))
    assert [len(s.text) for s in huge if s.encoding == "ascii"] == [MAX_LEN]
    monkeypatch.setattr(strings_mod, "MAX_STRINGS", 1000)
    many = find_strings(_image(b"http://a.example.com/\0" * 50_000))
    assert len([s for s in many if s.encoding == "ascii"]) == 1000
    assert len(classify(many)) <= 2000
    assert time.perf_counter() - t0 < 10


def test_xor_and_add_strings_found_without_code() -> None:
    """Encoded strings are found by key-free differences for any key, in data sections only."""
    plain = b"https://c2.example.net/x\0"
    for key in (0x01, 0x5A, 0xC3):
        data = (
            b"\0" * 64 + bytes(b ^ key for b in plain) + b"\0" * 64 + bytes((b + key) & 0xFF for b in plain)
        )
        found = {(s.text, s.encoding) for s in find_strings(_image(data))}
        assert ("https://c2.example.net/x", f"xor(0x{key:02x})") in found
        assert ("https://c2.example.net/x", f"add(0x{key:02x})") in found
        assert not [s for s in find_strings(_image(data, executable=True)) if s.encoding != "ascii"]


def _classified(text: str, encoding: str = "ascii") -> set[tuple[str, str]]:
    return {(e.subtype, e.value) for e in classify([FoundString(text, 0x1000, encoding)])}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "hxxps://Evil[.]Example.COM:443/a/../b",
            {("url", "https://evil.example.com/b"), ("domain", "evil.example.com")},
        ),
        ("connect to 0xC0.0x00.0x02.0x01 now", {("ipv4", "192.0.2.1")}),
        ("c2=[2001:db8::1]", {("ipv6", "2001:db8::1")}),
        ("update.example.org.", {("domain", "update.example.org")}),
        ("mail admin[at]example[.]com", {("email", "admin@example.com"), ("domain", "example.com")}),
        ("User-Agent: curl/8.0", {("user-agent", "curl/8.0")}),
        ("\\\\.\\PIPE\\MyPipe", {("pipe", "\\\\.\\pipe\\mypipe")}),
        ("Local\\SM0:1234:WilStaging", {("mutex", "Local\\SM0:1234:WilStaging")}),
        (
            "HKLM\\SOFTWARE\\Microsoft\\Windows\\CurrentVersion\\Run\\",
            {("registry", "HKEY_LOCAL_MACHINE\\software\\microsoft\\windows\\currentversion\\run")},
        ),
        (
            "Software\\Classes\\mscfile\\shell\\open",
            {("registry", "software\\classes\\mscfile\\shell\\open")},
        ),
        ("%APPDATA%\\Tool\\cfg.dat", {("path", "%appdata%\\tool\\cfg.dat")}),
        ("update-check.info", {("domain", "update-check.info")}),
    ],
)
def test_classification_positive(text: str, expected: set[tuple[str, str]]) -> None:
    """Canonical values per subtype."""
    assert _classified(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "version 1.2.3.4",
        "FileVersion: 10.0.19041.1",
        "v2.4.0.17 (release build)",
        "1.2.3.4-beta",
        "1.3.101.110",
        "255.255.255.0",
        "0.0.0.0",
        "kernel32.dll",
        "msvcrt.dll",
        "libc.so.6",
        "libssl.so.3",
        "config.py",
        "Makefile.in",
        "System.Net.Sockets",
        "struct.info and obj.name are fields",
        "LG.HK",
        "my_var.com",
        "C:\\Windows\\command.com",
        "GCC: (Debian 12.2.0-14) 12.2.0",
        "http://%s/%s",
        "elapsed 12:30:45",
        "std::vector",
        "%d.%d.%d.%d",
    ],
)
def test_classification_negative(text: str) -> None:
    """Versions, OIDs, masks, file names and code are not network indicators."""
    assert {s for s, _ in _classified(text)} & NETWORK == set()


@pytest.mark.parametrize("encoding", ["stack", "xor(0x5a)", "add(0x03)"])
def test_obfuscated_sources_are_tagged(encoding: str) -> None:
    """Stack-built and encoded finds carry TAG_OBFUSCATED and their encoding in ``source``."""
    (e,) = classify([FoundString("beacon.example.net", 0x401000, encoding, 0x400F00)])
    assert (e.source, e.tags, e.function) == (f"strings:{encoding}", (TAG_OBFUSCATED,), 0x400F00)
