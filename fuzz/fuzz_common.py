"""Shared pieces of the fuzz harnesses: byte builders, seeds, a mutator and the two drivers.

Every harness module defines ``test_one_input(data: bytes) -> None``: an :class:`AttributorError`
is the expected outcome of bad input and is swallowed; anything else (including a typed error whose
message spans several lines, or a loader message that hides a Python bug of ours) propagates and
counts as a crash. The function is importable, so ``tests/test_fuzz_regressions.py`` can run it
without atheris; ``main()`` runs it under atheris (libFuzzer) when that is installed.

The builders make tiny, valid PE and ELF images from scratch (no compiler, nothing downloaded).
Nothing built here is ever executed.
"""

from __future__ import annotations

import atexit
import os
import random
import re
import shutil
import struct
import sys
import tempfile
import time
import traceback
from collections.abc import Callable, Iterable
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
if str(REPO) not in sys.path:  # run as `python fuzz/fuzz_x.py` from a checkout
    sys.path.insert(0, str(REPO))

from attributor.errors import AttributorError  # noqa: E402

TestOne = Callable[[bytes], None]

# Python errors from our own code that the loader's catch-all turns into "PE parser failed: ...".
OWN_BUGS = re.compile(r"parser failed: (Type|Attribute|Overflow|Index|Key|Value|ZeroDivision)Error")


def expect_typed(err: AttributorError, max_len: int | None = None) -> None:
    """A typed error is fine only if its message is one line (of at most ``max_len`` characters)
    and not a disguised bug."""
    msg = str(err)
    if not msg or "\n" in msg or "\r" in msg:
        raise AssertionError(f"{type(err).__name__} message is not one line: {msg!r}")
    if max_len is not None and len(msg) > max_len:
        raise AssertionError(f"{type(err).__name__} message of {len(msg)} characters: {msg[:200]!r}...")
    if OWN_BUGS.search(msg):
        raise AssertionError(f"a Python error of ours disguised as bad input: {msg}")


def known_bug(err: BaseException) -> bool:
    """Crashes found, reported and not fixable in the files this harness's owners may change.

    Only swallowed when ``FUZZ_IGNORE_KNOWN=1`` (so that a long run can look for other bugs);
    ``tests/test_fuzz_regressions.py`` keeps each one as a strict xfail until it is fixed.

    * an image mapped at or above 2**63 (vmlinux-style ELF, a PE ImageBase with the top bit set)
      overflows the int64 ``addresses`` column built in ``attributor/fingerprint/sample.py``;
    * a manifest path ``~name/...`` naming no user: ``Path.expanduser`` in ``attributor/manifest.py``
      raises ``RuntimeError``;
    * ``ManifestError`` messages quote header names / paths unescaped, so a CSV header field with a
      quoted newline gives a message of several lines;
    * ``refang`` (``attributor/indicators/canon.py``) rewrites ``hxxp`` inside host names, so a
      canonical value such as ``xn--hxxp-94d`` is not a fixed point (and ``hxxp-tools.com`` becomes
      ``http-tools.com``, another domain).
    """
    frames = traceback.extract_tb(err.__traceback__)
    files = [f.filename for f in frames]
    if isinstance(err, OverflowError):
        return bool(files) and files[-1].endswith(os.path.join("fingerprint", "sample.py"))
    if isinstance(err, RuntimeError) and "home directory" in str(err):
        return any(f.endswith(os.path.join("attributor", "manifest.py")) for f in files)
    if not isinstance(err, AssertionError):
        return False
    msg = str(err)
    return msg.startswith("ManifestError message is not one line") or "is not idempotent" in msg


def scratch_dir(name: str) -> Path:
    """A private temporary folder for one harness, removed when the process exits."""
    path = Path(tempfile.mkdtemp(prefix=f"fuzz-{name}-"))
    atexit.register(shutil.rmtree, path, ignore_errors=True)
    return path


# -- byte builders -----------------------------------------------------------------------------

ELF_BASE = 0x400000
CODE_VA = ELF_BASE + 0x1000


def mini_elf(
    code: bytes,
    *,
    bits: int = 64,
    base: int = ELF_BASE,
    entry_off: int = 0,
    code_memsz: int | None = None,
    extra: Iterable[tuple[int, bytes, int, int]] = (),
) -> bytes:
    """An ELF executable without section headers: one R+X ``PT_LOAD`` at ``base + 0x1000`` holding
    ``code``, plus ``extra`` segments ``(vaddr, data, p_flags, memsz)``. Entry = code + ``entry_off``.
    """
    segs = [(base + 0x1000, code, 5, len(code) if code_memsz is None else code_memsz), *extra]
    ehsize, phsize = (64, 56) if bits == 64 else (52, 32)
    off, body, ph = 0x1000, b"", b""
    for va, data, flags, memsz in segs:
        if bits == 64:
            ph += struct.pack("<IIQQQQQQ", 1, flags, off + len(body), va, va, len(data), memsz, 0x1000)
        else:
            ph += struct.pack("<IIIIIIII", 1, off + len(body), va, va, len(data), memsz, flags, 0x1000)
        body += data
    ident = b"\x7fELF" + bytes([2 if bits == 64 else 1, 1, 1, 0]) + bytes(8)
    entry = base + 0x1000 + entry_off
    n = len(segs)
    if bits == 64:
        hdr = struct.pack("<HHIQQQIHHHHHH", 2, 62, 1, entry, ehsize, 0, 0, ehsize, phsize, n, 64, 0, 0)
    else:
        hdr = struct.pack("<HHIIIIIHHHHHH", 2, 3, 1, entry, ehsize, 0, 0, ehsize, phsize, n, 40, 0, 0)
    return (ident + hdr + ph).ljust(off, b"\0") + body


PE_BASE64, PE_BASE32 = 0x140000000, 0x400000
SCN_CODE, SCN_DATA, SCN_EXEC, SCN_READ, SCN_WRITE = 0x20, 0x40, 0x20000000, 0x40000000, 0x80000000
TEXT = SCN_CODE | SCN_EXEC | SCN_READ
RDATA = SCN_DATA | SCN_READ
FILE_ALIGN, SECT_ALIGN = 0x200, 0x1000


def _align(n: int, a: int) -> int:
    return (n + a - 1) // a * a


def import_section(rva: int, dlls: dict[str, list[str]], bits: int = 64) -> tuple[bytes, int, int]:
    """An ``.idata`` body at ``rva``: ``(body, rva of the descriptors, their size)``.

    Layout: descriptors (null-terminated), then per DLL its lookup table, its IAT, hint/name
    entries and the DLL name.
    """
    width = 8 if bits == 64 else 4
    desc_size = 20 * (len(dlls) + 1)
    tail = bytearray()
    descs = bytearray()
    for dll, names in dlls.items():
        table_len = width * (len(names) + 1)
        ilt = desc_size + len(tail)
        iat = ilt + table_len
        hn = iat + table_len
        hint_names = bytearray()
        thunks = []
        for name in names:
            thunks.append(rva + hn + len(hint_names))
            hint_names += struct.pack("<H", 0) + name.encode() + b"\0"
            if len(hint_names) % 2:
                hint_names += b"\0"
        fmt = "<Q" if bits == 64 else "<I"
        table = b"".join(struct.pack(fmt, t) for t in thunks) + bytes(width)
        dll_name = rva + hn + len(hint_names)
        tail += table + table + hint_names + dll.encode() + b"\0"
        if len(tail) % 2:
            tail += b"\0"
        descs += struct.pack("<IIIII", rva + ilt, 0, 0, dll_name, rva + iat)
    body = bytes(descs) + bytes(20) + bytes(tail)
    return body, rva, desc_size


def mini_pe(
    code: bytes,
    *,
    bits: int = 64,
    entry_off: int = 0,
    sections: Iterable[tuple[bytes, bytes, int]] = (),
    imports: dict[str, list[str]] | None = None,
    image_base: int | None = None,
) -> bytes:
    """A PE32+/PE32 executable: ``.text`` holding ``code`` at RVA 0x1000, then ``sections``
    ``(name, body, characteristics)``, then ``.idata`` when ``imports`` (dll -> names) is given.
    """
    secs: list[tuple[bytes, bytes, int]] = [(b".text", code, TEXT), *sections]
    dirs = [(0, 0)] * 16
    rva = SECT_ALIGN
    layout = []  # (name, body, chars, rva)
    for name, body, chars in secs:
        layout.append((name, body, chars, rva))
        rva += _align(max(len(body), 1), SECT_ALIGN)
    if imports:
        body, drva, dsize = import_section(rva, imports, bits)
        layout.append((b".idata", body, RDATA | SCN_WRITE, rva))
        dirs[1] = (drva, dsize)
        rva += _align(len(body), SECT_ALIGN)
    size_of_image = rva
    opt_size = 240 if bits == 64 else 224
    headers = _align(0x40 + 4 + 20 + opt_size + 40 * len(layout), FILE_ALIGN)
    base = image_base if image_base is not None else (PE_BASE64 if bits == 64 else PE_BASE32)
    machine, magic = (0x8664, 0x20B) if bits == 64 else (0x14C, 0x10B)
    coff = struct.pack("<HHIIIHH", machine, len(layout), 0, 0, 0, opt_size, 0x22 if bits == 64 else 0x102)
    entry = SECT_ALIGN + entry_off
    if bits == 64:
        opt = struct.pack(
            "<HBBIIIIIQIIHHHHHHIIIIHHQQQQII", magic, 14, 0, len(code), 0, 0, entry, SECT_ALIGN, base,
            SECT_ALIGN, FILE_ALIGN, 6, 0, 0, 0, 6, 0, 0, size_of_image, headers, 0, 3, 0x8160,
            0x100000, 0x1000, 0x100000, 0x1000, 0, 16,
        )  # fmt: skip
    else:
        opt = struct.pack(
            "<HBBIIIIIIIIIHHHHHHIIIIHHIIIIII", magic, 14, 0, len(code), 0, 0, entry, SECT_ALIGN, 0,
            base, SECT_ALIGN, FILE_ALIGN, 6, 0, 0, 0, 6, 0, 0, size_of_image, headers, 0, 3, 0x8140,
            0x100000, 0x1000, 0x100000, 0x1000, 0, 16,
        )  # fmt: skip
    opt += b"".join(struct.pack("<II", *d) for d in dirs)
    table = b""
    raw = b""
    for name, body, chars, srva in layout:
        ptr = headers + len(raw)
        size = _align(len(body), FILE_ALIGN)
        table += struct.pack("<8sIIIIIIHHI", name, len(body), srva, size, ptr, 0, 0, 0, 0, chars)
        raw += body.ljust(size, b"\0")
    dos = struct.pack("<2s58xI", b"MZ", 0x40)
    head = (dos + b"PE\0\0" + coff + opt + table).ljust(headers, b"\0")
    return head + raw


# Tiny functions that exercise recovery: prologue, a call, a loop, a switch-like indirect jump.
X64_MAIN = (
    b"\x55\x48\x89\xe5"  # push rbp; mov rbp, rsp
    b"\xe8\x0b\x00\x00\x00"  # call +11 (the helper below)
    b"\x31\xc9"  # xor ecx, ecx
    b"\xff\xc1\x83\xf9\x10\x75\xf9"  # loop: inc ecx; cmp ecx, 16; jne loop
    b"\x5d\xc3"  # pop rbp; ret
    b"\x48\x8d\x47\x01\x48\x0f\xaf\xc6\xc3"  # helper: lea rax, [rdi+1]; imul rax, rsi; ret
)
X86_MAIN = b"\x55\x89\xe5\xe8\x04\x00\x00\x00\x31\xc0\x5d\xc3\x8b\x44\x24\x04\x40\xc3"


def seeds_loader() -> list[bytes]:
    """Small valid images of every supported flavour (and a few near misses)."""
    return [
        mini_elf(X64_MAIN),
        mini_elf(X86_MAIN, bits=32),
        mini_pe(X64_MAIN, imports={"kernel32.dll": ["Sleep", "ExitProcess"]}),
        mini_pe(X86_MAIN, bits=32, imports={"msvcrt.dll": ["puts"]}),
        mini_pe(X64_MAIN, sections=[(b".rdata", b"hello world\0" * 4, RDATA)]),
        b"MZ" + bytes(62),
        b"\x7fELF" + bytes(60),
    ]


def seeds_manifest() -> list[bytes]:
    return [
        b"path,family,actor,library\nsamples/a.exe,emotet,TA542,\nlib/x.dll,msvc,,yes\n",
        b'path,family\n"quoted, name.exe",fam\n',
        b'{"path": "a.exe", "family": "emotet", "actor": "TA542", "library": false}\n'
        b'{"path": "b.exe", "family": "emotet"}\n',
        b"\xef\xbb\xbfpath,family\r\na,b\r\n",
    ]


# -- mutation (used when atheris is absent, and by the smoke test) ------------------------------

_INTERESTING = (0, 1, 0x7F, 0x80, 0xFF, 0xFFFF, 0x7FFFFFFF, 0x80000000, 0xFFFFFFFF, 0xFFFFFFFFFFFFFFFF)


def mutate(data: bytes, rng: random.Random, max_len: int = 1 << 16) -> bytes:
    """One to eight random edits: byte flips, interesting integers, cuts, splices, duplication."""
    out = bytearray(data)
    for _ in range(rng.randint(1, 8)):
        op = rng.randrange(7)
        if not out:
            out += rng.randbytes(rng.randint(1, 64))
            continue
        pos = rng.randrange(len(out))
        if op == 0:
            out[pos] ^= 1 << rng.randrange(8)
        elif op == 1:
            out[pos] = rng.randrange(256)
        elif op == 2:
            width = rng.choice((1, 2, 4, 8))
            value = rng.choice(_INTERESTING) & ((1 << (8 * width)) - 1)
            out[pos : pos + width] = value.to_bytes(width, "little")
        elif op == 3:
            del out[pos : pos + rng.randint(1, 64)]
        elif op == 4:
            del out[pos:]
        elif op == 5:
            chunk = bytes(out[rng.randrange(len(out)) :][: rng.randint(1, 256)])
            out[pos:pos] = chunk
        else:
            out[pos:pos] = rng.randbytes(rng.randint(1, 32))
    return bytes(out[:max_len])


def smoke(
    test_one: TestOne, seeds: list[bytes], n: int, seed: int = 0, budget_s: float = 10.0
) -> tuple[int, list[tuple[bytes, BaseException]]]:
    """Run ``test_one`` over the seeds and up to ``n`` mutants; ``(executions, crashes)``."""
    rng = random.Random(seed)
    deadline = time.monotonic() + budget_s
    crashes: list[tuple[bytes, BaseException]] = []
    runs = 0
    inputs = iter(seeds)
    pool = list(seeds) or [b""]
    for i in range(len(seeds) + n):
        if i >= len(seeds) and time.monotonic() > deadline:
            break
        data = next(inputs, None)
        if data is None:
            data = mutate(rng.choice(pool), rng)
        runs += 1
        try:
            test_one(data)
        except Exception as e:  # every non-typed exception is a finding
            crashes.append((data, e))
    return runs, crashes


# -- atheris driver ----------------------------------------------------------------------------


def main(test_one: TestOne, seeds: Callable[[], list[bytes]], name: str) -> None:
    """``python fuzz/fuzz_<name>.py [libFuzzer flags] [corpus dir]`` under atheris.

    When the corpus folder given (default ``fuzz/corpus/<name>``) is empty it is filled with the
    built-in seeds first. Without atheris, runs 10,000 mutants of the seeds instead.
    """
    argv = list(sys.argv)
    dirs = [a for a in argv[1:] if not a.startswith("-")]
    if not dirs:
        corpus = HERE / "corpus" / name
        argv.append(str(corpus))
        dirs = [str(corpus)]
    corpus = Path(dirs[0])
    corpus.mkdir(parents=True, exist_ok=True)
    if not any(corpus.iterdir()):
        for i, s in enumerate(seeds()):
            (corpus / f"seed-{i:03d}").write_bytes(s)
    try:
        import atheris
    except ImportError:
        runs, crashes = smoke(test_one, [p.read_bytes() for p in sorted(corpus.iterdir())], 10_000, 0, 1e9)
        print(f"atheris not installed: ran {runs} inputs without coverage guidance, {len(crashes)} crashes")
        for data, err in crashes[:5]:
            print(f"  {type(err).__name__}: {err} ({len(data)} bytes)")
        sys.exit(1 if crashes else 0)
    if os.environ.get("FUZZ_IGNORE_KNOWN"):
        test_one = _ignoring_known(test_one)
    atheris.instrument_all()  # every loaded Python function: attributor, csv, json, zlib callers
    atheris.Setup(argv, test_one)
    atheris.Fuzz()


def _ignoring_known(test_one: TestOne) -> TestOne:
    def wrapped(data: bytes) -> None:
        try:
            test_one(data)
        except Exception as e:
            if not known_bug(e):
                raise

    return wrapped
