"""Hostile and malformed inputs, end to end (load -> recover -> fingerprint), as data-driven recipes.

Every recipe builds its bytes inside the test: from scratch (``fuzz/fuzz_common.py`` builders: tiny
PE and ELF images, raw x86 code) or by patching the project's compiled fixtures (conftest). Each
input must give either one typed error with a one-line message, or a fingerprint whose status and
notes say what was wrong, in under ``MAX_SECONDS``; and a folder mixing bad and good files must
still store the good ones. Complements the header/truncation table of ``test_loading.py``.
Nothing is ever executed.
"""

from __future__ import annotations

import hashlib
import io
import json
import random
import shutil
import struct
import subprocess
import sys
import time
import traceback
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "fuzz"))

from fuzz_common import (
    CODE_VA,
    RDATA,
    SCN_WRITE,
    TEXT,
    X64_MAIN,
    X86_MAIN,
    mini_elf,
    mini_pe,
)

from attributor.errors import AttributorError, MalformedBinary, UnsupportedFormat
from attributor.fingerprint.model import SampleFingerprint
from attributor.loading.loader import DEFAULT_LIMITS, Limits, load_path
from attributor.loading.packed import ENTROPY_PACKED, entropy, is_packed
from attributor.pipeline import fingerprint_bytes, fingerprint_path

MAX_SECONDS = 2.0
MAX_INSNS = DEFAULT_LIMITS.max_insns_per_function
LOW_INSNS = Limits(max_insns_per_function=50_000)
RNG_BYTES = random.Random(0x5EED).randbytes(64 * 1024)  # incompressible: stands in for packed code
SECTION_HEADER = 40


# -- byte helpers (independent of the code under test) ----------------------------------------------


def patch(data: bytes, off: int, fmt: str, *values: int | bytes) -> bytes:
    out = bytearray(data)
    struct.pack_into(fmt, out, off, *values)
    return bytes(out)


def splice(data: bytes, off: int, new: bytes) -> bytes:
    return data[:off] + new + data[off + len(new) :]


@dataclass(frozen=True)
class Pe:
    """Header offsets of a PE image, read with ``struct``."""

    lfanew: int
    opt: int
    pe32plus: bool
    table: int  # section table offset
    sections: list[tuple[bytes, int, int, int, int]]  # name, vsize, rva, raw size, raw pointer

    @classmethod
    def of(cls, data: bytes) -> Pe:
        (lfanew,) = struct.unpack_from("<I", data, 0x3C)
        nsec, opt_size = (
            struct.unpack_from("<H", data, lfanew + 6)[0],
            struct.unpack_from("<H", data, lfanew + 20)[0],
        )
        opt = lfanew + 24
        table = opt + opt_size
        secs = [struct.unpack_from("<8sIIII", data, table + SECTION_HEADER * i) for i in range(nsec)]
        return cls(lfanew, opt, struct.unpack_from("<H", data, opt)[0] == 0x20B, table, secs)

    def section(self, name: bytes) -> int:
        return next(i for i, s in enumerate(self.sections) if s[0].rstrip(b"\0") == name)

    def header(self, i: int) -> int:
        return self.table + SECTION_HEADER * i

    def data_dir(self, index: int) -> int:
        return self.opt + (112 if self.pe32plus else 96) + 8 * index

    def offset(self, rva: int) -> int:
        for _, vsize, va, raw, ptr in self.sections:
            if va <= rva < va + max(vsize, raw):
                return ptr + rva - va
        raise KeyError(hex(rva))


def elf64_sections(data: bytes) -> dict[str, tuple[int, int]]:
    """ELF64 section name -> (file offset, size)."""
    (shoff,) = struct.unpack_from("<Q", data, 40)
    shentsize, shnum, shstrndx = struct.unpack_from("<HHH", data, 58)
    hdrs = [struct.unpack_from("<IIQQQQIIQQ", data, shoff + i * shentsize) for i in range(shnum)]
    strtab = hdrs[shstrndx][4]
    return {data[strtab + h[0] : data.index(b"\0", strtab + h[0])].decode(): (h[4], h[5]) for h in hdrs}


# -- bases --------------------------------------------------------------------------------------


class Bases:
    """Compiled fixture bytes, fetched lazily; a case skips when its compiler is absent."""

    def __init__(self, bins) -> None:
        self._bins = bins

    def get(self, key: str) -> bytes:
        return self._bins.need(key).path.read_bytes()

    @property
    def elf(self) -> bytes:
        return self.get("switch/gcc-O2")

    @property
    def pe(self) -> bytes:
        return self.get("switch/mingw64-O2")


@pytest.fixture(scope="module")
def bases(fixture_bins) -> Bases:
    return Bases(fixture_bins)


# -- expectations -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Fails:
    """A typed error of exactly this class whose message contains ``words``."""

    exc: type[AttributorError]
    words: str = ""


@dataclass(frozen=True)
class Loads:
    """A fingerprint; ``notes`` must appear (lower-case substrings), ``check`` must hold."""

    notes: tuple[str, ...] = ()
    status: str | None = None
    packed: bool | None = False  # None: either
    check: Callable[[SampleFingerprint], bool] | None = None
    limits: Limits = DEFAULT_LIMITS


Expect = Fails | Loads
Recipe = Callable[[Bases], bytes]


def assert_one_line(err: BaseException) -> None:
    msg = str(err)
    assert msg and "\n" not in msg and "\r" not in msg and len(msg) < 400, repr(msg)


def run_case(data: bytes, expect: Expect, limits: Limits | None = None) -> SampleFingerprint | None:
    """Fingerprint ``data`` and check the outcome against ``expect`` (and the time limit)."""
    if limits is None:
        limits = expect.limits if isinstance(expect, Loads) else DEFAULT_LIMITS
    started = time.monotonic()
    try:
        fp: SampleFingerprint | None = fingerprint_bytes(data, blind=True, limits=limits)
        err: AttributorError | None = None
    except AttributorError as e:
        fp, err = None, e
    elapsed = time.monotonic() - started
    assert elapsed < MAX_SECONDS, f"took {elapsed:.2f} s"
    if isinstance(expect, Fails):
        assert err is not None, f"expected {expect.exc.__name__}, got a fingerprint: {fp and fp.notes}"
        assert type(err) is expect.exc, f"{type(err).__name__}: {err}"
        assert expect.words.lower() in str(err).lower(), str(err)
        assert_one_line(err)
        return None
    assert err is None, f"expected a fingerprint, got {type(err).__name__}: {err}"
    assert fp is not None
    text = " | ".join(fp.notes).lower()
    for words in expect.notes:
        assert words.lower() in text, fp.notes
    for note in fp.notes:
        assert "\n" not in note and len(note) < 400, repr(note)
    if expect.status is not None:
        assert fp.status == expect.status, (fp.status, fp.notes)
    if expect.packed is not None:
        assert is_packed(fp.notes) == expect.packed, fp.notes
    if expect.check is not None:
        assert expect.check(fp), (fp.n_functions, fp.coverage, fp.notes)
    return fp


# -- from scratch: ELF without section headers, segments, code shapes -------------------------------

RET = b"\xc3"


def _jump_table_abs64(entries: list[int], bound: bool = True) -> bytes:
    """``cmp edi, N; ja out; jmp [rdi*8 + T]; out: ret`` with the table ``T`` right after."""
    table = CODE_VA + 0x40
    guard = b"\x83\xff" + bytes([len(entries) - 1]) + b"\x77\x07" if bound else b""
    body = guard + b"\xff\x24\xfd" + struct.pack("<I", table) + RET
    return body.ljust(0x40, b"\xcc") + b"".join(struct.pack("<Q", e) for e in entries)


def _jump_table_pic(back: list[int]) -> bytes:
    """PIC shape ``lea rdx, [rip+T]; movsxd rax, [rdx+rdi*4]; add rax, rdx; jmp rax``."""
    code = (
        b"\x83\xff" + bytes([len(back) - 1]) + b"\x77\x0f"  # cmp edi, N; ja ret
        b"\x48\x8d\x15\x08\x00\x00\x00"  # lea rdx, [rip + 8]  (the table, after the ret)
        b"\x48\x63\x04\xba"  # movsxd rax, dword ptr [rdx + rdi*4]
        b"\x48\x01\xd0\xff\xe0"  # add rax, rdx; jmp rax
         + RET
    )
    table_va = CODE_VA + len(code)
    return code + b"".join(struct.pack("<i", CODE_VA + t - table_va) for t in back)


def _jump_table_abs32() -> bytes:
    table = CODE_VA + 0x20
    body = b"\x83\xf8\x03\x77\x07\xff\x24\x85" + struct.pack("<I", table) + RET  # jmp [eax*4 + T]
    return body.ljust(0x20, b"\xcc") + struct.pack("<I", CODE_VA) * 4


def _data_in_code() -> bytes:
    """Two functions with a string table and random bytes between them; f1 calls f2."""
    f1 = b"\x55\x48\x89\xe5\xe8" + b"\0\0\0\0" + b"\x5d\xc3"
    junk = b"config.ini\0http://example.invalid/\0" + RNG_BYTES[:200]
    f2_off = len(f1) + len(junk)
    f1 = f1[:5] + struct.pack("<i", f2_off - 9) + f1[9:]
    return f1 + junk + b"\x48\x8d\x47\x01\xc3"


def _call_into_data() -> bytes:
    """``call`` to an address in a non-executable segment: must not be decoded as code."""
    data_va = 0x600000
    rel = data_va - (CODE_VA + 5)
    return mini_elf(
        b"\xe8" + struct.pack("<i", rel) + RET,
        extra=[(data_va, b"\x55\x48\x89\xe5\x5d\xc3" * 100, 6, 600)],
    )


def _upx_elf() -> bytes:
    """What ``upx`` makes of an ELF: no section headers, a ``UPX!`` header, compressed code."""
    img = bytearray(mini_elf(X64_MAIN + RNG_BYTES[:16384]))
    img[0xE8:0xEC] = b"UPX!"
    return bytes(img)


def _huge_straight_line(n: int) -> bytes:
    return b"\x48\x8b\x47\x08\x48\x01\xc8\x48\x89\x47\x10" * n + RET  # mov; add; mov, n times


def _no_functions(fp: SampleFingerprint) -> bool:
    return fp.n_functions == 0


SCRATCH: list[tuple[str, Recipe, Expect]] = [
    ("elf64-no-section-headers", lambda b: mini_elf(X64_MAIN), Loads(("no section headers",))),
    ("elf32-no-section-headers", lambda b: mini_elf(X86_MAIN, bits=32), Loads(("no section headers",))),
    ("elf-memsz-16GB", lambda b: mini_elf(X64_MAIN, code_memsz=0x3FFFFFFFF), Loads()),
    ("elf-memsz-2^63", lambda b: mini_elf(X64_MAIN, code_memsz=1 << 63), Loads()),
    (
        "elf-memsz-max",
        lambda b: mini_elf(X64_MAIN, code_memsz=(1 << 64) - 1),
        Loads(("64-bit address space",)),
    ),
    ("elf-filesz-past-eof", lambda b: mini_elf(X64_MAIN * 4)[:-40], Loads(("past the end of the file",))),
    (
        "elf-segment-offset-past-eof",
        lambda b: mini_elf(X64_MAIN)[:0x1000],
        Fails(MalformedBinary, "executable"),
    ),
    (
        "elf-entry-in-data-segment",
        lambda b: mini_elf(RET, entry_off=0x1FF000, extra=[(0x600000, X64_MAIN, 6, 64)]),
        Loads(check=lambda fp: 0x600000 not in fp.addresses.tolist()),
    ),
    ("elf-call-into-data", lambda b: _call_into_data(), Loads(check=lambda fp: fp.n_functions == 1)),
    (
        "huge-function-over-the-limit",  # one straight-line block: the limit holds inside a block too
        lambda b: mini_elf(b"\x83\xc0\x01" * (MAX_INSNS + 1000) + RET),
        Loads((f"truncated at {MAX_INSNS} instructions",), status="incomplete", packed=None),
    ),
    (
        "huge-function-mixed-over-a-lower-limit",
        lambda b: mini_elf(_huge_straight_line(20_000)),
        Loads(("truncated at 50000 instructions",), status="incomplete", packed=None, limits=LOW_INSNS),
    ),
    (
        "huge-function-just-fits",
        lambda b: mini_elf(_huge_straight_line(16_000)),
        Loads(status="complete", check=lambda fp: int(fp.n_insns.max()) == 48_001, limits=LOW_INSNS),
    ),
    (
        "overlap-jmp-into-own-operand",
        lambda b: mini_elf(b"\xeb\xff\xc0" + RET),
        Loads(check=lambda fp: fp.n_functions == 1),
    ),
    ("overlap-jmp-into-mov-imm", lambda b: mini_elf(b"\xb8\x31\xc0\xc3\x90\xeb\xfa"), Loads()),
    ("overlap-jcc-over-call-opcode", lambda b: mini_elf(b"\x74\x01\xe8\x31\xc0\xc3"), Loads()),
    ("overlap-every-offset", lambda b: mini_elf(b"\xeb\x01" * 2000 + RET), Loads()),
    ("jump-table-loops-to-dispatcher", lambda b: mini_elf(_jump_table_abs64([CODE_VA] * 4)), Loads()),
    (
        "jump-table-into-jmp-and-table",
        lambda b: mini_elf(_jump_table_abs64([CODE_VA + 5, CODE_VA + 0x40, CODE_VA + 7, CODE_VA])),
        Loads(),
    ),
    (
        "jump-table-unbounded-600",
        lambda b: mini_elf(_jump_table_abs64([CODE_VA] * 600, bound=False)),
        Loads(packed=None),
    ),
    ("jump-table-pic-loop", lambda b: mini_elf(_jump_table_pic([0, 5, 0, 12])), Loads()),
    ("jump-table-x86-loop", lambda b: mini_elf(_jump_table_abs32(), bits=32), Loads()),
    ("data-in-code", lambda b: mini_elf(_data_in_code()), Loads(check=lambda fp: fp.n_functions >= 2)),
    (
        "random-bytes-as-code-64",
        lambda b: mini_elf(RNG_BYTES),
        Loads(("high entropy", "decode into functions"), packed=True),
    ),
    (
        "random-bytes-as-code-32",
        lambda b: mini_elf(RNG_BYTES, bits=32),
        Loads(("high entropy",), packed=True),
    ),
    ("int3-filled-code", lambda b: mini_elf(b"\xcc" * 65536), Loads(("decode into functions",), packed=True)),
    ("zero-filled-code", lambda b: mini_elf(bytes(65536)), Loads(packed=None)),
    ("upx-elf-marker", lambda b: _upx_elf(), Loads(("upx! marker", "high entropy"), packed=True)),
]


# -- from scratch: PE -------------------------------------------------------------------------------


def _pe_secs(n: int) -> bytes:
    """NumberOfSections = ``n`` on a mini PE (the table itself keeps its real entries)."""
    pe = mini_pe(X64_MAIN)
    return patch(pe, Pe.of(pe).lfanew + 6, "<H", n)


def _mini_pe_field(i_section: int, field_off: int, value: int) -> Recipe:
    def make(b: Bases) -> bytes:
        pe = mini_pe(
            X64_MAIN,
            sections=[(b".rdata", b"hello, world\0" * 8, RDATA)],
            imports={"kernel32.dll": ["Sleep"]},
        )
        return patch(pe, Pe.of(pe).header(i_section) + field_off, "<I", value)

    return make


def _upx_pe(b: Bases | None = None) -> bytes:
    """UPX's layout: empty UPX0 (bss-like, RWX), UPX1 holding compressed code and the stub."""
    stub = X64_MAIN
    pe = mini_pe(RNG_BYTES[:32768] + stub, entry_off=32768, sections=[(b".rsrc", b"\0" * 64, RDATA)])
    lay = Pe.of(pe)
    return patch(pe, lay.header(0), "8s", b"UPX1")


def _imports_pe() -> bytes:
    return mini_pe(
        X64_MAIN, imports={"kernel32.dll": ["Sleep", "ExitProcess"], "user32.dll": ["MessageBoxA"]}
    )


def _import_descriptor(field: int, value: Callable[[int], int]) -> Recipe:
    """Patch one 32-bit field of the first import descriptor; ``value(descriptor_rva)``."""

    def make(b: Bases) -> bytes:
        pe = _imports_pe()
        lay = Pe.of(pe)
        (rva,) = struct.unpack_from("<I", pe, lay.data_dir(1))
        return patch(pe, lay.offset(rva) + field, "<I", value(rva))

    return make


def _import_self_loop(b: Bases) -> bytes:
    pe = _imports_pe()
    lay = Pe.of(pe)
    (rva,) = struct.unpack_from("<I", pe, lay.data_dir(1))
    return patch(pe, lay.offset(rva), "<IIIII", rva, 0, 0, rva, rva)


def _import_cycle(b: Bases) -> bytes:
    """Each descriptor's lookup table points at the next descriptor, the last at the first."""
    pe = _imports_pe()
    lay = Pe.of(pe)
    (rva,) = struct.unpack_from("<I", pe, lay.data_dir(1))
    for k in range(3):
        pe = patch(pe, lay.offset(rva) + 20 * k, "<I", rva + 20 * ((k + 1) % 3))
    return pe


def _import_thunks_self(b: Bases) -> bytes:
    """Every lookup-table entry names itself as its hint/name entry."""
    pe = _imports_pe()
    lay = Pe.of(pe)
    (rva,) = struct.unpack_from("<I", pe, lay.data_dir(1))
    (ilt,) = struct.unpack_from("<I", pe, lay.offset(rva))
    for k in range(2):
        pe = patch(pe, lay.offset(ilt) + 8 * k, "<Q", ilt + 8 * k)
    return pe


def _import_dir(rva: int | None, size: int) -> Recipe:
    def make(b: Bases) -> bytes:
        pe = _imports_pe()
        lay = Pe.of(pe)
        cur = struct.unpack_from("<I", pe, lay.data_dir(1))[0]
        return patch(pe, lay.data_dir(1), "<II", cur if rva is None else rva, size)

    return make


def _overlapping_mini(b: Bases) -> bytes:
    pe = mini_pe(
        X64_MAIN, sections=[(b".data", b"\x01" * 64, RDATA | SCN_WRITE), (b".code2", X64_MAIN, TEXT)]
    )
    lay = Pe.of(pe)
    return patch(pe, lay.header(2) + 12, "<I", 0x1000)  # .code2 at .text's RVA


SCRATCH_PE: list[tuple[str, Recipe, Expect]] = [
    ("pe-mini-loads", lambda b: _imports_pe(), Loads()),
    ("pe-zero-sections", lambda b: _pe_secs(0), Fails(MalformedBinary, "without sections")),
    ("pe-65535-sections", lambda b: _pe_secs(0xFFFF), Fails(MalformedBinary, "65535 sections")),
    ("pe-97-sections", lambda b: _pe_secs(97), Fails(MalformedBinary, "97 sections")),
    ("pe-raw-size-past-eof", _mini_pe_field(0, 16, 0x7FFFFFFF), Loads(("past the end of the file",))),
    ("pe-raw-size-4GB", _mini_pe_field(0, 16, 0xFFFFFFFF), Loads(("past the end of the file",))),
    ("pe-raw-pointer-past-eof", _mini_pe_field(0, 20, 0x7FFFFFF0), Fails(MalformedBinary, "executable")),
    ("pe-text-vsize-4GB", _mini_pe_field(0, 8, 0xFFFFF000), Loads(("overlapping sections",))),
    ("pe-rdata-vsize-4GB", _mini_pe_field(1, 8, 0xFFFFFFFF), Loads(("overlapping sections",))),
    ("pe-rdata-over-text", _mini_pe_field(1, 12, 0x1000), Loads(("overlapping sections",))),
    ("pe-two-code-sections-overlap", _overlapping_mini, Loads(("overlapping sections",))),
    ("pe-import-descriptor-self-loop", _import_self_loop, Loads()),
    ("pe-import-descriptor-cycle", _import_cycle, Loads()),
    ("pe-import-thunks-point-at-themselves", _import_thunks_self, Loads()),
    ("pe-import-lookup-outside", _import_descriptor(0, lambda rva: 0x7FFFFF00), Loads()),
    ("pe-import-name-outside", _import_descriptor(12, lambda rva: 0xFFFFFFF0), Loads()),
    ("pe-import-iat-outside", _import_descriptor(16, lambda rva: 0x7FFFFF00), Loads()),
    ("pe-import-iat-is-descriptor", _import_descriptor(16, lambda rva: rva), Loads()),
    ("pe-import-dir-outside", _import_dir(0x7FFFFFF0, 0x1000), Loads()),
    ("pe-import-dir-size-4GB", _import_dir(None, 0xFFFFFFFF), Loads()),
    ("pe-import-dir-in-headers", _import_dir(0x40, 0x100), Loads()),
    ("pe-upx-like", _upx_pe, Loads(("UPX section names", "high entropy"), packed=True)),
    (
        "pe-aspack-names",
        lambda b: patch(mini_pe(X64_MAIN), Pe.of(mini_pe(X64_MAIN)).header(0), "8s", b".aspack"),
        Loads(("ASPack",), packed=True),
    ),
    (
        "pe-vmprotect-names",
        lambda b: mini_pe(X64_MAIN, sections=[(b".vmp0", b"\0" * 16, RDATA)]),
        Loads(("VMProtect",), packed=True),
    ),
    ("pe32-random-code", lambda b: mini_pe(RNG_BYTES[:8192], bits=32), Loads(("high entropy",), packed=True)),
    ("pe-entry-outside-image", lambda b: mini_pe(X64_MAIN, entry_off=0x7FFF0000), Loads(packed=None)),
]


# -- from the compiled fixtures ---------------------------------------------------------------------


def _elf_hdr(off: int, fmt: str, value: int) -> Recipe:
    return lambda b: patch(b.elf, off, fmt, value)


def _eh(section: str, make: Callable[[bytes, int, int], bytes]) -> Recipe:
    """Damage ``section``; for ``.eh_frame`` also disable ``.eh_frame_hdr`` (version 0), so that
    the loader has to walk the CIE/FDE records themselves."""

    def recipe(b: Bases) -> bytes:
        elf = b.elf
        secs = elf64_sections(elf)
        if section == ".eh_frame":
            elf = patch(elf, secs[".eh_frame_hdr"][0], "B", 0)
        off, size = secs[section]
        return make(elf, off, size)

    return recipe


def _garbage(elf: bytes, off: int, size: int) -> bytes:
    return splice(elf, off, random.Random(1).randbytes(size))


def _cie_loop(elf: bytes, off: int, size: int) -> bytes:
    """Every FDE's CIE pointer points at the FDE itself."""
    out = bytearray(elf)
    pos = off
    while pos + 8 <= off + size:
        (length,) = struct.unpack_from("<I", out, pos)
        if length in (0, 0xFFFFFFFF):
            break
        (cie,) = struct.unpack_from("<I", out, pos + 4)
        if cie:
            struct.pack_into("<I", out, pos + 4, 0)  # "I am a CIE" for every FDE: CIE parsing of FDE bodies
        pos += 4 + length
    return bytes(out)


def _both_ff(b: Bases) -> bytes:
    elf = b.elf
    secs = elf64_sections(elf)
    for name in (".eh_frame_hdr", ".eh_frame"):
        off, size = secs[name]
        elf = splice(elf, off, b"\xff" * size)
    return elf


def _pe_field(section: bytes, field_off: int, value: int) -> Recipe:
    def make(b: Bases) -> bytes:
        pe = b.pe
        lay = Pe.of(pe)
        return patch(pe, lay.header(lay.section(section)) + field_off, "<I", value)

    return make


def _pe_all(field_off: int, value: Callable[[Pe], int]) -> Recipe:
    def make(b: Bases) -> bytes:
        pe = b.pe
        lay = Pe.of(pe)
        for i in range(len(lay.sections)):
            pe = patch(pe, lay.header(i) + field_off, "<I", value(lay))
        return pe

    return make


def _real_import(patcher: Callable[[bytes, Pe, int, int], bytes]) -> Recipe:
    def make(b: Bases) -> bytes:
        pe = b.pe
        lay = Pe.of(pe)
        (rva,) = struct.unpack_from("<I", pe, lay.data_dir(1))
        return patcher(pe, lay, rva, lay.offset(rva))

    return make


def _real_upx(b: Bases) -> bytes:
    """Rename .text/.data to UPX1/UPX0 and fill .text with incompressible bytes (upx-ucl is not in
    Debian 12, so this is what we can build: same names, same entropy, no real stub)."""
    pe = b.pe
    lay = Pe.of(pe)
    i = lay.section(b".text")
    _, _, _, raw, ptr = lay.sections[i]
    pe = splice(pe, ptr, (RNG_BYTES * 2)[:raw])
    pe = patch(pe, lay.header(i), "8s", b"UPX1")
    return patch(pe, lay.header(lay.section(b".data")), "8s", b"UPX0")


def _pdata(value: Callable[[int], bytes]) -> Recipe:
    def make(b: Bases) -> bytes:
        pe = b.pe
        lay = Pe.of(pe)
        _, vsize, _, raw, ptr = lay.sections[lay.section(b".pdata")]
        return splice(pe, ptr, value(min(vsize, raw)))

    return make


ELF_E_SHOFF, ELF_E_SHNUM, ELF_E_SHSTRNDX = 40, 60, 62

FIXTURE: list[tuple[str, Recipe, Expect]] = [
    ("elf-shoff-past-end", lambda b: patch(b.elf, ELF_E_SHOFF, "<Q", len(b.elf) + 0x1000), Loads()),
    ("elf-shoff-huge", _elf_hdr(ELF_E_SHOFF, "<Q", 0xFFFFFFFFFFFFFF00), Loads()),
    ("elf-shnum-65535", _elf_hdr(ELF_E_SHNUM, "<H", 0xFFFF), Loads()),
    (
        "elf-no-section-headers",
        lambda b: patch(patch(b.elf, ELF_E_SHNUM, "<H", 0), ELF_E_SHOFF, "<Q", 0),
        Loads(("no section headers",), check=lambda fp: fp.n_functions >= 5),
    ),
    ("elf-shstrndx-bogus", _elf_hdr(ELF_E_SHSTRNDX, "<H", 0xFFF0), Loads()),
    (
        "eh-frame-hdr-count-4G",
        _eh(".eh_frame_hdr", lambda e, o, s: patch(e, o + 8, "<I", 0xFFFFFFFF)),
        Loads(),
    ),
    (
        "eh-frame-hdr-count-past-section",
        _eh(".eh_frame_hdr", lambda e, o, s: patch(e, o + 8, "<I", s)),
        Loads(),
    ),
    ("eh-frame-hdr-garbage", _eh(".eh_frame_hdr", _garbage), Loads()),
    (
        "eh-frame-hdr-bad-encodings",
        _eh(".eh_frame_hdr", lambda e, o, s: patch(e, o, "BBBB", 1, 0x0F, 0x0E, 0x3B)),
        Loads(),
    ),
    (
        "eh-frame-hdr-table-points-outside",
        _eh(".eh_frame_hdr", lambda e, o, s: splice(e, o + 12, b"\xff\xff\xff\x7f" * ((s - 12) // 4))),
        Loads(),
    ),
    (
        "eh-frame-walk-intact",
        _eh(".eh_frame", lambda e, o, s: e),
        Loads(check=lambda fp: fp.n_functions >= 5),
    ),
    ("eh-frame-garbage", _eh(".eh_frame", _garbage), Loads()),
    ("eh-frame-truncated-record", _eh(".eh_frame", lambda e, o, s: patch(e, o, "<I", s - 2)), Loads()),
    ("eh-frame-length-4G", _eh(".eh_frame", lambda e, o, s: patch(e, o, "<I", 0xFFFFFFF0)), Loads()),
    (
        "eh-frame-length-64bit-huge",
        _eh(".eh_frame", lambda e, o, s: patch(e, o, "<IQ", 0xFFFFFFFF, 1 << 63)),
        Loads(),
    ),
    ("eh-frame-cie-pointers-loop", _eh(".eh_frame", _cie_loop), Loads()),
    ("eh-frame-and-hdr-all-ff", _both_ff, Loads(check=lambda fp: fp.n_functions >= 3)),
    (
        "pe-real-65535-sections",
        lambda b: patch(b.pe, Pe.of(b.pe).lfanew + 6, "<H", 0xFFFF),
        Fails(MalformedBinary, "65535"),
    ),
    ("pe-real-text-raw-size-huge", _pe_field(b".text", 16, 0x7FFFFFFF), Loads(("past the end of the file",))),
    (
        "pe-real-text-raw-pointer-past-eof",
        _pe_field(b".text", 20, 0x7FFFFFF0),
        Fails(MalformedBinary, "executable"),
    ),
    ("pe-real-text-vsize-4GB", _pe_field(b".text", 8, 0xFFFFFFF0), Loads(("overlapping sections",))),
    ("pe-real-all-vsize-4GB", _pe_all(8, lambda lay: 0xFFFFF000), Loads(("overlapping sections",))),
    (
        "pe-real-all-at-text-rva",
        _pe_all(12, lambda lay: lay.sections[0][2]),
        Loads(("overlapping sections",), packed=None),
    ),
    (
        "pe-real-import-self-loop",
        _real_import(lambda pe, lay, rva, off: patch(pe, off, "<IIIII", rva, 0, 0, rva, rva)),
        Loads(),
    ),
    (
        "pe-real-import-dir-outside",
        _real_import(lambda pe, lay, rva, off: patch(pe, lay.data_dir(1), "<II", 0x7FFFFFF0, 0x1000)),
        Loads(),
    ),
    (
        "pe-real-import-dir-size-4GB",
        _real_import(lambda pe, lay, rva, off: patch(pe, lay.data_dir(1), "<II", rva, 0xFFFFFFFF)),
        Loads(),
    ),
    (
        "pe-real-import-lookup-outside",
        _real_import(lambda pe, lay, rva, off: patch(pe, off, "<I", 0x7FFFFF00)),
        Loads(),
    ),
    (
        "pe-real-import-iat-outside",
        _real_import(lambda pe, lay, rva, off: patch(pe, off + 16, "<I", 0x7FFFFF00)),
        Loads(),
    ),
    ("pe-real-pdata-all-ff", _pdata(lambda n: b"\xff" * n), Loads()),
    ("pe-real-pdata-random", _pdata(lambda n: random.Random(2).randbytes(n)), Loads()),
    (
        "pe-real-exception-dir-4GB",
        lambda b: patch(b.pe, Pe.of(b.pe).data_dir(3) + 4, "<I", 0xFFFFFFFF),
        Loads(),
    ),
    ("pe-real-upx-like", _real_upx, Loads(("UPX section names", "high entropy"), packed=True)),
]


# -- non-executables ---------------------------------------------------------------------------


def _zip_text_bytes() -> bytes:
    """A zip renamed .exe whose member is not an executable either: unsupported whether a command
    reads it as a sample (the loader) or expands it as an archive (docs/archives.md)."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("readme.txt", "please open the attachment\n" * 20)
    return buf.getvalue()


def _zip_bytes() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("invoice.exe", mini_pe(X64_MAIN))
    return buf.getvalue()


NON_EXECUTABLES: list[tuple[str, Recipe, Expect]] = [
    (
        "pdf",
        lambda b: b"%PDF-1.7\n1 0 obj\n<< /Type /Catalog >>\nendobj\n" + RNG_BYTES[:512],
        Fails(UnsupportedFormat, "PDF"),
    ),
    (
        "jpeg",
        lambda b: b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01" + RNG_BYTES[:1024],
        Fails(UnsupportedFormat, "JPEG"),
    ),
    ("png", lambda b: b"\x89PNG\r\n\x1a\n" + RNG_BYTES[:256], Fails(UnsupportedFormat, "PNG")),
    (
        "text",
        lambda b: b"To whom it may concern,\nplease find the invoice attached.\n" * 20,
        Fails(UnsupportedFormat, "text"),
    ),
    (
        "utf16-text",
        lambda b: "invoice attached\r\n".encode("utf-16") * 20,
        Fails(UnsupportedFormat, "not a PE or ELF"),
    ),
    ("zip-with-exe-inside", lambda b: _zip_bytes(), Fails(UnsupportedFormat, "zip")),
    ("shell-script", lambda b: b"#!/bin/sh\ntouch /tmp/pwned\n", Fails(UnsupportedFormat, "script")),
    (
        "html",
        lambda b: b"<!DOCTYPE html><html><body>hello</body></html>\n" * 4,
        Fails(UnsupportedFormat, "text"),
    ),
    ("random-bytes", lambda b: RNG_BYTES[:4096], Fails(UnsupportedFormat, "not a PE or ELF")),
    ("mz-then-random", lambda b: b"MZ" + RNG_BYTES[:4096], Fails(MalformedBinary, "e_lfanew")),
    (
        "elf-magic-then-random",
        lambda b: b"\x7fELF\x02\x01" + RNG_BYTES[:4096],
        Fails(UnsupportedFormat, "machine"),
    ),
]

ALL_CASES = SCRATCH + SCRATCH_PE + FIXTURE + NON_EXECUTABLES


@pytest.mark.parametrize(("make", "expect"), [pytest.param(m, e, id=n) for n, m, e in ALL_CASES])
def test_malformed_input(bases: Bases, make: Recipe, expect: Expect) -> None:
    run_case(make(bases), expect)


def test_case_names_are_unique() -> None:
    names = [n for n, _, _ in ALL_CASES]
    assert len(names) == len(set(names))


# -- header sweep: every header field of the mini images set to extreme values ---------------------

SWEEP_VALUES = (0, 1, 0x7F, 0x80, 0x7FFF, 0xFFFF, 0x7FFFFFFF, 0x80000000, 0xFFFFFFFF, 0x7FFFFFFFFFFFFFFF)


def _fields_pe(pe: bytes) -> list[tuple[int, int]]:
    """(offset, width) of every COFF, optional header, data directory and section header field."""
    lay = Pe.of(pe)
    out = [(0x3C, 4)]
    out += [(lay.lfanew + 4 + o, w) for o, w in ((0, 2), (2, 2), (4, 4), (8, 4), (12, 4), (16, 2), (18, 2))]
    widths = [2, 1, 1, 4, 4, 4, 4, 4, 8, 4, 4, 2, 2, 2, 2, 2, 2, 4, 4, 4, 4, 2, 2, 8, 8, 8, 8, 4, 4]
    pos = lay.opt
    for w in widths:
        out.append((pos, w))
        pos += w
    out += [(pos + 4 * k, 4) for k in range(32)]
    for i in range(len(lay.sections)):
        out += [(lay.header(i) + o, w) for o, w in ((0, 8), (8, 4), (12, 4), (16, 4), (20, 4), (36, 4))]
    (rva,) = struct.unpack_from("<I", pe, lay.data_dir(1))
    out += [(lay.offset(rva) + 4 * k, 4) for k in range(10)]
    return out


def _fields_elf64(elf: bytes) -> list[tuple[int, int]]:
    ehdr = [(4, 1), (5, 1), (16, 2), (18, 2), (20, 4), (24, 8), (32, 8), (40, 8), (48, 4), (52, 2), (54, 2),
            (56, 2), (58, 2), (60, 2), (62, 2)]  # fmt: skip
    phdr = [(64 + o, w) for o, w in ((0, 4), (4, 4), (8, 8), (16, 8), (24, 8), (32, 8), (40, 8), (48, 8))]
    return ehdr + phdr


def _fields_elf32(elf: bytes) -> list[tuple[int, int]]:
    ehdr = [
        (16, 2),
        (18, 2),
        (20, 4),
        (24, 4),
        (28, 4),
        (32, 4),
        (36, 4),
        (40, 2),
        (42, 2),
        (44, 2),
        (46, 2),
        (48, 2),
    ]
    phdr = [(52 + 4 * k, 4) for k in range(8)]
    return ehdr + phdr


SWEEP_BASES: dict[str, tuple[Callable[[], bytes], Callable[[bytes], list[tuple[int, int]]]]] = {
    "pe64": (_imports_pe, _fields_pe),
    "pe32": (lambda: mini_pe(X86_MAIN, bits=32, imports={"msvcrt.dll": ["puts"]}), _fields_pe),
    "elf64": (lambda: mini_elf(X64_MAIN), _fields_elf64),
    "elf32": (lambda: mini_elf(X86_MAIN, bits=32), _fields_elf32),
}


def sweep_inputs(name: str) -> list[bytes]:
    build, fields = SWEEP_BASES[name]
    base = build()
    out = []
    for off, width in fields(base):
        for v in SWEEP_VALUES:
            value = (v & ((1 << (8 * width)) - 1)).to_bytes(width, "little")
            if base[off : off + width] != value:
                out.append(splice(base, off, value))
    return out


def known_high_address_bug(err: BaseException) -> bool:
    """The one known crash left (see tests/test_fuzz_regressions.py): an image mapped at or above
    2**63 overflows the int64 ``addresses`` column built in attributor/fingerprint/sample.py."""
    if not isinstance(err, OverflowError):
        return False
    frames = traceback.extract_tb(err.__traceback__)
    return bool(frames) and frames[-1].filename.endswith(str(Path("fingerprint", "sample.py")))


@pytest.mark.parametrize("name", list(SWEEP_BASES))
def test_header_field_sweep(name: str) -> None:
    """Each header field of a valid image set to 0, 1, sign/size boundaries and all-ones."""
    bad: list[str] = []
    for data in sweep_inputs(name):
        started = time.monotonic()
        try:
            fp = fingerprint_bytes(data, blind=True)
            assert all("\n" not in n for n in fp.notes)
        except AttributorError as e:
            assert_one_line(e)
        except Exception as e:
            if not known_high_address_bug(e):
                bad.append(f"{type(e).__name__}: {e}")
        assert time.monotonic() - started < MAX_SECONDS
    assert not bad, bad[:5]


# -- a huge function compiled from generated C ---------------------------------------------------


@pytest.fixture(scope="module")
def huge_c_binary(tmp_path_factory: pytest.TempPathFactory) -> Path:
    gcc = shutil.which("gcc")
    if gcc is None:
        pytest.skip("gcc not installed")
    folder = tmp_path_factory.mktemp("huge")
    body = "\n".join(f"    v = v * {i % 97 + 3} + {i};" for i in range(6000))
    (folder / "huge.c").write_text(
        "/* generated: one straight-line function of ~30,000 instructions; never run */\n"
        f"int huge(int x)\n{{\n    volatile int v = x;\n{body}\n    return v;\n}}\n"
        "int main(int argc, char **argv) { (void)argv; return huge(argc); }\n"
    )
    out = folder / "huge"
    subprocess.run(
        [gcc, "-O0", "-o", str(out), "huge.c"], cwd=folder, check=True, capture_output=True, timeout=120
    )
    return out


def test_huge_compiled_function(huge_c_binary: Path) -> None:
    data = huge_c_binary.read_bytes()
    fp = run_case(data, Loads(status="complete", check=lambda fp: int(fp.n_insns.max()) > 25_000))
    assert fp is not None
    small = Limits(max_insns_per_function=10_000)
    fp = run_case(data, Loads(("truncated at 10000 instructions",), status="incomplete"), limits=small)
    assert fp is not None and int(fp.n_insns.max()) <= 10_001


# -- packed detection thresholds -----------------------------------------------------------------


LOADER_NOTES = (
    "packed:",
    "overlapping sections",
    "raw data past",
    "file data past",
    "ELF with",
    "past the top",
)


def test_compiled_code_gets_no_loader_notes(each_fixture_bin) -> None:
    """No false alarms on real compiler output: not packed, no odd-layout notes; code entropy is
    well below the packed threshold."""
    fx = each_fixture_bin
    fp = fingerprint_path(fx.stripped, blind=True)
    assert not [n for n in fp.notes if n.startswith(LOADER_NOTES)], fp.notes
    for sec in load_path(fx.stripped).code_sections:
        assert entropy(sec.data) < ENTROPY_PACKED, sec.name


def test_packed_note_reaches_the_report(bases: Bases, tmp_path: Path) -> None:
    """The note travels: fingerprint -> store -> match result -> JSON report (``sample.notes``).

    A real compiled PE with one section renamed ``UPX0``, matched against a corpus holding itself
    (so that the matcher has pairs to rank).
    """
    from attributor.cli.match import match_one
    from attributor.render.json import render_json
    from attributor.report.document import MatchReport
    from attributor.store.base import Label
    from attributor.store.memory import MemoryStore

    pe = bases.pe
    lay = Pe.of(pe)
    sample = tmp_path / "renamed.exe"
    sample.write_bytes(patch(pe, lay.header(lay.section(b".CRT")), "8s", b"UPX0"))
    store = MemoryStore()
    store.add_sample(fingerprint_path(sample, blind=True), Label("self"))
    doc = match_one(store, sample, blind=True, top=3, db_info=None)
    report = json.loads(render_json(MatchReport.of([doc], "test")))
    notes = report["results"][0]["sample"]["notes"]
    assert any(n.startswith("packed: UPX section names (UPX0)") for n in notes), notes


# -- nothing else is disturbed -----------------------------------------------------------------------


def test_ingest_folder_of_bad_files_keeps_the_good_ones(bases: Bases, tmp_path: Path) -> None:
    """A folder with every kind of bad file plus good ones: the good (and the merely odd) are
    stored, the bad fail one by one with typed errors, nothing crashes a worker."""
    from attributor.ingest import ingest
    from attributor.store.base import Label
    from attributor.store.sqlite import SQLiteStore

    folder = tmp_path / "incoming"
    folder.mkdir()
    good = {"good.elf": mini_elf(X64_MAIN), "good.exe": _imports_pe(), "good-real.elf": bases.elf}
    odd = {"packed.exe": _upx_pe(bases), "huge.elf": mini_elf(b"\x83\xc0\x01" * (MAX_INSNS + 1000) + RET)}
    bad = {
        "invoice.pdf": NON_EXECUTABLES[0][1](bases),
        "photo.jpg": NON_EXECUTABLES[1][1](bases),
        "notes.txt": NON_EXECUTABLES[3][1](bases),
        "invoice.exe": _zip_text_bytes(),  # a zip renamed .exe
        "run.sh": b"#!/bin/sh\nexit 0\n",
        "empty.exe": b"",
        "truncated.exe": _imports_pe()[:300],
        "65535.exe": _pe_secs(0xFFFF),
        "nocode.elf": mini_elf(X64_MAIN)[:0x1000],
    }
    for name, data in {**good, **odd, **bad}.items():
        (folder / name).write_bytes(data)
    with SQLiteStore(tmp_path / "c.db") as store:
        summary = ingest(store, [(folder, Label("mixed"))], jobs=2, progress=False)
        records = {r.sha256: r for r in store.samples()}
        assert store.integrity_check() == []
    failed = {p.name: cls for p, cls, _ in summary.failed}
    assert set(failed) == set(bad), failed
    assert set(failed.values()) <= {"UnsupportedFormat", "MalformedBinary"}, summary.failed
    assert summary.added == len(good) + len(odd)
    assert {hashlib.sha256(d).hexdigest() for d in {**good, **odd}.values()} == set(records)
    assert records[hashlib.sha256(odd["huge.elf"]).hexdigest()].status == "incomplete"
    for _, _, message in summary.failed:
        assert "\n" not in message


def test_cli_match_on_bad_files_never_prints_a_traceback(tmp_path: Path) -> None:
    """The real entry point on a zip renamed .exe, a PDF, and a truncated PE: one error line each,
    the documented exit code (all failed: the first failure's code), no traceback."""
    from attributor.store.open import open_store

    db = tmp_path / "c.db"
    open_store(db, create=True).close()
    files = []
    for name, data in (
        ("invoice.exe", _zip_text_bytes()),
        ("doc.pdf", b"%PDF-1.4\n"),
        ("cut.exe", _imports_pe()[:300]),
    ):
        (tmp_path / name).write_bytes(data)
        files.append(str(tmp_path / name))
    proc = subprocess.run(
        [sys.executable, "-m", "attributor", "match", *files, "--db", str(db)],
        capture_output=True, text=True, timeout=60, check=False, cwd=tmp_path,
    )  # fmt: skip
    assert proc.returncode == UnsupportedFormat.exit_code, proc.stderr
    errors = [ln for ln in proc.stderr.splitlines() if ln.startswith("attributor: error: ")]
    assert len(errors) == 3 and "Traceback" not in proc.stderr, proc.stderr
    assert "invoice.exe" in errors[0] and "PDF" in errors[1] and "cut.exe" in errors[2]
