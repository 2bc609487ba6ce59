"""Loader tests: hostile inputs raise exactly one typed error with a one-line message; real
fixtures (compiled from ``tests/fixtures/src`` by conftest) load with the right metadata.

Bad inputs are built from real compiled binaries (cut, patched) or from the standard library
(zip, tar, gzip); nothing is downloaded and nothing is ever executed.
"""

from __future__ import annotations

import gzip
import io
import os
import random
import re
import shutil
import struct
import tarfile
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from attributor.errors import (
    AttributorError,
    FileAccessError,
    LimitExceeded,
    MalformedBinary,
    UnsupportedFormat,
)
from attributor.loading import Binary, Limits, load_bytes, load_path
from attributor.loading.sniff import sniff

ELF_BASE, PE_BASE = "tiny/gcc-O2", "tiny/mingw64-O2"
EXPECTED_FUNCS = {
    "switch": {"classify"},
    "calls": {"chain_a", "chain_b", "chain_c", "tail_caller"},
    "tiny": {"tiny_helper"},
    "freestanding": {"fs_mix", "fs_loop", "_start"},
}
KERNEL32_NAMES = {"GetLastError", "VirtualProtect", "Sleep", "ExitProcess", "GetStartupInfoA"}
MSVCRT_NAMES = {"puts", "printf", "vfprintf", "__getmainargs", "malloc"}
PE_SIG_CHARS = 4
COFF_SIZE = 20
SECTION_HEADER = 40
CLR_DIR_INDEX = 14
COMIMAGE_FLAGS_ILONLY = 1


# -- byte-level helpers ------------------------------------------------------------------------


def patch(data: bytes, off: int, fmt: str, *values: int | bytes) -> bytes:
    out = bytearray(data)
    struct.pack_into(fmt, out, off, *values)
    return bytes(out)


@dataclass(frozen=True)
class PeLayout:
    """Header offsets of a PE file, read with ``struct`` (independent of the code under test)."""

    lfanew: int
    opt: int  # optional header offset
    opt_size: int
    pe32plus: bool
    sections: list[tuple[bytes, int, int, int, int]]  # name, va, vsize, raw_ptr, raw_size

    @property
    def section_table(self) -> int:
        return self.opt + self.opt_size

    @property
    def section_table_end(self) -> int:
        return self.section_table + SECTION_HEADER * len(self.sections)

    def data_dir(self, index: int) -> int:
        """File offset of data directory ``index`` (rva, size)."""
        return self.opt + (112 if self.pe32plus else 96) + 8 * index


def pe_layout(data: bytes) -> PeLayout:
    (lfanew,) = struct.unpack_from("<I", data, 0x3C)
    (nsec,) = struct.unpack_from("<H", data, lfanew + 6)
    (opt_size,) = struct.unpack_from("<H", data, lfanew + 20)
    opt = lfanew + PE_SIG_CHARS + COFF_SIZE
    magic = struct.unpack_from("<H", data, opt)[0]
    secs = []
    for i in range(nsec):
        hdr = opt + opt_size + SECTION_HEADER * i
        name, vsize, va, raw_size, raw_ptr = struct.unpack_from("<8sIIII", data, hdr)
        secs.append((name, va, vsize, raw_ptr, raw_size))
    return PeLayout(lfanew, opt, opt_size, magic == 0x20B, secs)


def elf_sections(data: bytes) -> dict[str, tuple[int, int, int]]:
    """ELF64 section name -> (file offset, size, entry size)."""
    (shoff,) = struct.unpack_from("<Q", data, 40)
    shentsize, shnum, shstrndx = struct.unpack_from("<HHH", data, 58)
    hdrs = [struct.unpack_from("<IIQQQQIIQQ", data, shoff + i * shentsize) for i in range(shnum)]
    strtab_off = hdrs[shstrndx][4]
    out = {}
    for h in hdrs:
        start = strtab_off + h[0]
        out[data[start : data.index(b"\0", start)].decode()] = (h[4], h[5], h[9])
    return out


def dotnet_pe(pe: bytes, flags: int) -> bytes:
    """Point the CLR data directory at a COR20 header written over the start of ``.rdata``."""
    lay = pe_layout(pe)
    _, va, _, raw_ptr, _ = next(s for s in lay.sections if s[0].rstrip(b"\0") == b".rdata")
    cor20 = struct.pack("<IHHIIII", 72, 2, 5, 0, 0, flags, 0x06000001).ljust(72, b"\0")
    out = pe[:raw_ptr] + cor20 + pe[raw_ptr + len(cor20) :]
    return patch(out, lay.data_dir(CLR_DIR_INDEX), "<II", va, len(cor20))


def _zip() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("readme.txt", "hello")
    return buf.getvalue()


def _tar() -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.USTAR_FORMAT) as tf:
        info = tarfile.TarInfo("readme.txt")
        info.size = 5
        tf.addfile(info, io.BytesIO(b"hello"))
    return buf.getvalue()


def _dos_header(lfanew: int, extra: bytes = b"") -> bytes:
    return patch(b"MZ".ljust(0x40, b"\0"), 0x3C, "<I", lfanew) + extra


# -- bad inputs --------------------------------------------------------------------------------


class Bases:
    """Lazily fetched fixture bytes; a PE case skips when mingw-w64 is not installed."""

    def __init__(self, bins) -> None:
        self._bins = bins

    @property
    def elf(self) -> bytes:
        return self._bins.need(ELF_BASE).path.read_bytes()

    @property
    def pe(self) -> bytes:
        return self._bins.need(PE_BASE).path.read_bytes()


def _pe_cut(where: Callable[[PeLayout], int]) -> Callable[[Bases], bytes]:
    def make(b: Bases) -> bytes:
        pe = b.pe
        return pe[: where(pe_layout(pe))]

    return make


def _pe_patch(coff_field: int, value: int) -> Callable[[Bases], bytes]:
    """Patch a 16-bit COFF header field (``coff_field`` bytes after the PE signature)."""

    def make(b: Bases) -> bytes:
        pe = b.pe
        return patch(pe, pe_layout(pe).lfanew + PE_SIG_CHARS + coff_field, "<H", value)

    return make


def _elf_phdr_cut(extra: int) -> Callable[[Bases], bytes]:
    def make(b: Bases) -> bytes:
        elf = b.elf
        (phoff,) = struct.unpack_from("<Q", elf, 32)
        phentsize, phnum = struct.unpack_from("<HH", elf, 54)
        return elf[: phoff + (phentsize * phnum if extra < 0 else extra)]

    return make


def _case(name: str, make: Callable[[Bases], bytes], exc: type[AttributorError], words: str):
    return pytest.param(make, exc, words, id=name)


BAD_BYTES = [
    _case("empty", lambda b: b"", UnsupportedFormat, "empty"),
    _case("one-byte", lambda b: b"M", UnsupportedFormat, "unsupported"),
    _case("one-nul-byte", lambda b: b"\0", UnsupportedFormat, "not a PE or ELF"),
    _case("mz-only", lambda b: b"MZ", MalformedBinary, "DOS header"),
    _case("dos-lfanew-past-end", lambda b: _dos_header(0x1000), MalformedBinary, "e_lfanew"),
    _case("dos-program", lambda b: _dos_header(0x40, b"\xb4\x4c\xcd\x21" * 16), UnsupportedFormat, "DOS"),
    _case("pe-cut-in-dos-header", _pe_cut(lambda lay: 0x30), MalformedBinary, "DOS header"),
    _case("pe-cut-before-signature", _pe_cut(lambda lay: lay.lfanew), MalformedBinary, "e_lfanew"),
    _case("pe-cut-in-signature", _pe_cut(lambda lay: lay.lfanew + 2), MalformedBinary, "e_lfanew"),
    _case("pe-cut-in-coff-header", _pe_cut(lambda lay: lay.lfanew + 10), MalformedBinary, "COFF"),
    _case("pe-cut-after-coff-header", _pe_cut(lambda lay: lay.opt), MalformedBinary, "PE"),
    _case("pe-cut-in-optional-header", _pe_cut(lambda lay: lay.opt + 100), MalformedBinary, "PE"),
    _case("pe-cut-after-optional-header", _pe_cut(lambda lay: lay.section_table), MalformedBinary, "PE"),
    _case("pe-cut-in-section-table", _pe_cut(lambda lay: lay.section_table + 60), MalformedBinary, "PE"),
    _case("pe-cut-after-section-table", _pe_cut(lambda lay: lay.section_table_end), MalformedBinary, "PE"),
    _case("pe-arm64", _pe_patch(0, 0xAA64), UnsupportedFormat, "0xaa64"),
    _case("pe-200-sections", _pe_patch(2, 200), MalformedBinary, "200"),
    _case("pe-no-sections", _pe_patch(2, 0), MalformedBinary, "section"),
    _case("dotnet-il-only", lambda b: dotnet_pe(b.pe, COMIMAGE_FLAGS_ILONLY), UnsupportedFormat, ".NET"),
    _case("elf-cut-4", lambda b: b.elf[:4], MalformedBinary, "truncated ELF"),
    _case("elf-cut-16", lambda b: b.elf[:16], MalformedBinary, "truncated ELF"),
    _case("elf-cut-52", lambda b: b.elf[:52], MalformedBinary, "truncated ELF64"),
    _case("elf-cut-63", lambda b: b.elf[:63], MalformedBinary, "truncated ELF64"),
    _case("elf-cut-in-program-headers", _elf_phdr_cut(56 * 2 + 7), MalformedBinary, "ELF"),
    _case("elf-cut-after-program-headers", _elf_phdr_cut(-1), MalformedBinary, "ELF"),
    _case("elf-arm", lambda b: patch(b.elf, 18, "<H", 40), UnsupportedFormat, "machine 40"),
    _case("elf-aarch64", lambda b: patch(b.elf, 18, "<H", 183), UnsupportedFormat, "machine 183"),
    _case("elf-big-endian", lambda b: patch(b.elf, 5, "B", 2), UnsupportedFormat, "big-endian"),
    _case("elf-invalid-class", lambda b: patch(b.elf, 4, "B", 3), MalformedBinary, "class"),
    _case("elf-class-mismatch", lambda b: patch(b.elf, 4, "B", 1), MalformedBinary, "class"),
    _case("zip", lambda b: _zip(), UnsupportedFormat, "zip"),
    _case("tar", lambda b: _tar(), UnsupportedFormat, "tar"),
    _case("gzip", lambda b: gzip.compress(b"hello", mtime=0), UnsupportedFormat, "gzip"),
    _case("pdf", lambda b: b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n", UnsupportedFormat, "PDF"),
    _case("jpeg", lambda b: b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + bytes(64), UnsupportedFormat, "JPEG"),
    _case("shell-script", lambda b: b"#!/bin/sh\necho hello\n", UnsupportedFormat, "script"),
    _case("plain-text", lambda b: b"just some notes\nnothing to see\n" * 8, UnsupportedFormat, "text"),
    _case("binary-junk", lambda b: bytes(range(256)) * 4, UnsupportedFormat, "not a PE or ELF"),
]


def assert_one_line(err: BaseException) -> None:
    msg = str(err)
    assert msg and "\n" not in msg and "\r" not in msg and len(msg) < 400, repr(msg)


@pytest.fixture(scope="module")
def bases(fixture_bins) -> Bases:
    return Bases(fixture_bins)


@pytest.mark.parametrize(("make", "exc", "words"), BAD_BYTES)
def test_bad_bytes_raise_one_typed_error(bases, make, exc, words, tmp_path) -> None:
    data = make(bases)
    with pytest.raises(AttributorError) as info:
        load_bytes(data)
    assert type(info.value) is exc, f"{type(info.value).__name__}: {info.value}"
    assert words.lower() in str(info.value).lower()
    assert_one_line(info.value)
    sample = tmp_path / "sample.bin"
    sample.write_bytes(data)
    with pytest.raises(exc) as via_path:
        load_path(sample)
    assert type(via_path.value) is exc
    assert_one_line(via_path.value)


def _fifo(tmp: Path) -> Path:
    if not hasattr(os, "mkfifo"):
        pytest.skip("no FIFOs on this platform")
    os.mkfifo(tmp / "fifo")
    return tmp / "fifo"


def _broken_link(tmp: Path) -> Path:
    (tmp / "link").symlink_to(tmp / "nowhere")
    return tmp / "link"


@pytest.mark.parametrize(
    "make",
    [
        pytest.param(lambda tmp: tmp, id="directory"),
        pytest.param(lambda tmp: tmp / "missing.exe", id="missing"),
        pytest.param(_broken_link, id="broken-symlink"),
        pytest.param(_fifo, id="fifo"),
    ],
)
def test_bad_paths_raise_file_access_error(make, tmp_path) -> None:
    with pytest.raises(FileAccessError) as info:
        load_path(make(tmp_path))
    assert type(info.value) is FileAccessError
    assert_one_line(info.value)


def test_unreadable_file_raises_file_access_error(fixture_bins, tmp_path) -> None:
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        pytest.skip("root can read any file")
    p = tmp_path / "locked"
    p.write_bytes(fixture_bins.need(ELF_BASE).path.read_bytes())
    p.chmod(0)
    with pytest.raises(FileAccessError):
        load_path(p)


def test_file_over_size_limit(fixture_bins) -> None:
    path = fixture_bins.need(ELF_BASE).path
    tiny = Limits(max_file_bytes=1024)
    for call in (lambda: load_path(path, limits=tiny), lambda: load_bytes(path.read_bytes(), limits=tiny)):
        with pytest.raises(LimitExceeded) as info:
            call()
        assert type(info.value) is LimitExceeded and "1024" in str(info.value)
        assert_one_line(info.value)


def test_code_over_size_limit(fixture_bins) -> None:
    with pytest.raises(LimitExceeded) as info:
        load_path(fixture_bins.need(ELF_BASE).path, limits=Limits(max_code_bytes=16))
    assert_one_line(info.value)


# -- robustness: cuts, mutations and regression cases -------------------------------------------


# Python errors from our own code, disguised as "PE parser failed: ..." by the loader's catch-all.
_OWN_BUGS = re.compile(r"parser failed: (Type|Attribute|Overflow|Index|Key|Value)Error")


def _load_or_typed_error(data: bytes) -> Binary | None:
    """Load; a typed error is fine, anything else (or a disguised bug of ours) fails the test."""
    try:
        return load_bytes(data)
    except AttributorError as e:
        assert_one_line(e)
        assert not _OWN_BUGS.search(str(e)), str(e)
        return None


@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # LIEF warns about unknown enum values
@pytest.mark.parametrize("key", [ELF_BASE, PE_BASE, "freestanding/gcc32-nolibc"])
def test_truncation_anywhere_never_crashes(fixture_bins, key) -> None:
    data = fixture_bins.need(key).path.read_bytes()
    cuts = {*range(0, min(len(data), 0x600), 8), *range(0, len(data), max(1, len(data) // 48))}
    for cut in sorted(cuts):
        _load_or_typed_error(data[:cut])


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
@pytest.mark.parametrize("key", [ELF_BASE, PE_BASE])
def test_header_mutations_never_crash(fixture_bins, key) -> None:
    data = fixture_bins.need(key).path.read_bytes()
    rng = random.Random(1234)
    for _ in range(300):
        mutated = bytearray(data)
        for _ in range(rng.randint(1, 6)):
            mutated[rng.randrange(0x500)] = rng.randrange(256)
        _load_or_typed_error(bytes(mutated))


def test_pe_section_name_not_utf8_loads(bases) -> None:
    pe = bases.pe
    b = load_bytes(patch(pe, pe_layout(pe).section_table, "8s", b"\xff\xfe.txt\0\0"))
    assert b.sections[0].name == "\xff\xfe.txt"


def test_pe_huge_image_base_keeps_pdata(bases) -> None:
    pe = bases.pe
    base = 0xFFFF_FF00_0000_0000
    b = load_bytes(patch(pe, pe_layout(pe).opt + 24, "<Q", base))
    assert b.image_base == base and b.unwind_starts and min(b.unwind_starts) > base


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_elf_unknown_relocation_type_is_not_an_import(bases) -> None:
    elf = bases.elf
    off, size, entsize = elf_sections(elf)[".rela.plt"]
    assert size >= entsize == 24
    b = load_bytes(patch(elf, off + 8, "<I", 0xEE))  # low half of r_info = relocation type
    assert "puts" not in b.imports.values()


def test_dotnet_mixed_mode_is_native_enough(bases) -> None:
    b = load_bytes(dotnet_pe(bases.pe, 0))
    assert b.format == "PE" and b.code_sections


# -- positive: every fixture binary ------------------------------------------------------------


def test_sniff_names_format_and_arch(each_fixture_bin) -> None:
    fx = each_fixture_bin
    for p in (fx.path, fx.stripped):
        assert sniff(p.read_bytes()) == (fx.format, fx.arch)


def test_fixture_loads_with_metadata(each_fixture_bin) -> None:
    fx = each_fixture_bin
    for p in (fx.path, fx.stripped):
        data = p.read_bytes()
        b = load_path(p)
        assert (b.format, b.arch, b.bits) == (fx.format, fx.arch, fx.bits)
        assert b.size == len(data) and b.sha256 == load_bytes(data).sha256
        assert b.entry is not None and b.is_executable(b.entry)
        assert b.code_bytes > 0


def test_imports_name_the_apis(each_fixture_bin) -> None:
    fx = each_fixture_bin
    names = set(load_path(fx.stripped).imports.values())
    if fx.program == "freestanding":
        assert names == set()
        return
    if fx.format == "PE":
        assert names & KERNEL32_NAMES and names & MSVCRT_NAMES, sorted(names)
    else:
        assert names & {"puts", "printf"} and "__libc_start_main" in names, sorted(names)


def test_unwind_starts_lie_in_code(each_fixture_bin) -> None:
    fx = each_fixture_bin
    b = load_path(fx.stripped, blind=True)
    if fx.format == "PE" and fx.bits == 32:
        assert b.unwind_starts == []  # PE32 has no .pdata
        return
    assert b.unwind_starts, "expected .pdata / .eh_frame function starts"
    assert all(b.is_executable(va) for va in b.unwind_starts)
    named = {v: k for k, v in load_path(fx.path).symbols.items()}
    for func in EXPECTED_FUNCS[fx.program] & named.keys():
        assert named[func] in b.unwind_starts, func


def test_blind_mode_has_no_symbols(each_fixture_bin) -> None:
    fx = each_fixture_bin
    for p in (fx.path, fx.stripped):
        blind, normal = load_path(p, blind=True), load_path(p)
        assert blind.symbols == {} and blind.blind
        assert blind.imports == normal.imports and blind.unwind_starts == normal.unwind_starts
        assert [s.va for s in blind.sections] == [s.va for s in normal.sections]


def test_normal_mode_names_the_functions(each_fixture_bin) -> None:
    fx = each_fixture_bin
    names = set(load_path(fx.path).symbols.values())
    assert EXPECTED_FUNCS[fx.program] <= names, sorted(names)
    if fx.format == "ELF":
        assert "main" in names or fx.program == "freestanding"
        stripped = set(load_path(fx.stripped).symbols.values())
        assert not EXPECTED_FUNCS[fx.program] & stripped
    else:  # PE names come from the export table, which strip keeps
        assert EXPECTED_FUNCS[fx.program] <= set(load_path(fx.stripped).symbols.values())


# -- the demo corpus (attributor.demo.build) loads, and its builder fails with typed errors ------


def test_demo_corpus_loads_with_its_labels(demo_corpus) -> None:
    families = {s.family for s in demo_corpus if not s.library}
    assert families == {"aurora", "borealis", "cirrus", "drizzle"}
    assert {s.toolchain for s in demo_corpus} >= {"gcc-O0", "gcc-O2"}
    assert {s.actor for s in demo_corpus if s.family == "drizzle"} == {None}
    assert all(s.family == "libcommon" and s.actor is None for s in demo_corpus if s.library)
    for s in demo_corpus:
        b = load_path(s.path)
        assert (b.format, b.arch) == (s.format, s.arch), s.path.name
        assert b.code_bytes > 0 and b.unwind_starts
        if s.format == "ELF":
            assert "cm_hash_fnv1a" in b.symbols.values(), s.path.name


def test_incident_is_stripped_and_loads(incident) -> None:
    b = load_path(incident)
    assert b.format == "ELF" and b.unwind_starts
    assert "glacier_crypt" not in b.symbols.values()


def test_incident_build_is_reproducible(tmp_path) -> None:
    from attributor.demo.build import build_incident

    if shutil.which("gcc") is None:
        pytest.skip("gcc not installed")
    first, second = build_incident(tmp_path / "a"), build_incident(tmp_path / "b")
    assert first.read_bytes() == second.read_bytes()


def test_demo_build_shows_compiler_stderr(monkeypatch, tmp_path) -> None:
    from attributor.demo import build as demo_build
    from attributor.errors import E_IO

    if shutil.which("gcc") is None:
        pytest.skip("gcc not installed")
    monkeypatch.setattr(demo_build, "INCIDENT_SOURCES", ("no_such_module.c",))
    with pytest.raises(demo_build.ToolchainError) as info:
        demo_build.build_incident(tmp_path)
    assert "no_such_module.c" in str(info.value) and info.value.exit_code == E_IO
    assert_one_line(info.value)


def test_demo_build_requires_gcc(monkeypatch, tmp_path) -> None:
    from attributor.demo import build as demo_build

    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(demo_build.ToolchainError, match="gcc not found"):
        demo_build.build_corpus(tmp_path / "out")
