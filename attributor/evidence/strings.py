"""Strings in a PE/ELF image, plain and lightly obfuscated, each with the address it was found at.

:func:`find_strings` returns :class:`FoundString` records of five encodings:

``ascii``
    Runs of at least ``min_len`` printable characters (``\\t`` and 0x20-0x7e, plus well-formed
    two- and three-byte UTF-8 sequences, so an IDN written in UTF-8 stays one string) in every
    section with file bytes. One ``re`` pass per section, in C.
``utf16``
    The same in UTF-16LE: ASCII code units, Latin-1 letters and Greek/Cyrillic (U+0370-U+04FF),
    at least half of them ASCII (so that code bytes do not pass for Cyrillic).
``stack``
    Strings a function builds on its stack with immediate stores: ``mov byte/word/dword/qword
    ptr [rbp/rsp/ebp/esp +- off], imm`` or ``..., reg`` after ``mov/movabs reg, imm``. Stores are
    placed by offset per (function, frame register); printable runs are the strings. The address
    is the first store's instruction; ``function`` is the function's start.
``xor(0xKK)`` / ``add(0xKK)``
    Single-byte XOR- or ADD-encoded strings in the non-executable sections, found by known
    plaintext that does not depend on the key: for XOR ``c[i] ^ c[i+1] == p[i] ^ p[i+1]``, for
    ADD ``c[i+1] - c[i] == p[i+1] - p[i]``. Both difference arrays are computed once (numpy)
    and searched for the differences of :data:`ANCHORS` (``http://``, ``Mozilla/``,
    ``\\pipe\\``, ``SOFTWARE\\``...); a hit gives the key, the key decodes a window around it,
    and the printable run holding the anchor is the string. One pass serves all 255 keys, where
    brute force would transform the data 255 times; and a 5- to 9-character anchor must match
    exactly, so random data rarely yields a candidate (and a candidate still has to classify as
    an indicator). The cost: only strings holding an anchor are found. Keys named by
    ``evidence.crypto`` xor-loop hits are not needed: the key falls out of the match.

Everything is capped against hostile input (:data:`MAX_STRINGS`, :data:`MAX_LEN` characters kept
per string, :data:`MAX_SCAN_BYTES` per scan, :data:`MAX_INSNS` for stack strings).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from attributor.disasm.recover import Function, Program
from attributor.loading.binary import Binary, Section

MIN_LEN = 5
MAX_LEN = 1024  # characters kept of one string; longer runs are cut (indicators are shorter)
MAX_STRINGS = 200_000  # per encoding
MAX_SCAN_BYTES = 64 << 20  # per encoding, over all sections
MAX_INSNS = 2_000_000  # instructions inspected for stack strings
MAX_ENCODED_HITS = 2_000  # anchor hits decoded per transform
_WINDOW = 256  # bytes decoded on either side of an anchor hit

# Plaintext that marks an indicator; the XOR/ADD search looks for their key-free differences.
ANCHORS: tuple[bytes, ...] = (
    b"http://",
    b"https://",
    b"ftp://",
    b"Mozilla/",
    b"\\pipe\\",
    b"Global\\",
    b"Local\\",
    b"SOFTWARE\\",
    b"Software\\",
    b"HKEY_",
    b"CurrentVersion",
    b".pdb",
    b"www.",
    b":\\Users\\",
    b"%APPDATA%",
)

_PRINT = rb"[\t\x20-\x7e]"
_UTF8 = rb"[\xc2-\xdf][\x80-\xbf]|[\xe0-\xef][\x80-\xbf]{2}"
_UTF16_UNIT = rb"[\t\x20-\x7e\xa0-\xff]\x00|[\x70-\xff]\x03|[\x00-\xff]\x04"


@dataclass(frozen=True)
class FoundString:
    """One string: its text, where its first byte is, how it was encoded, who built it."""

    text: str
    address: int
    encoding: str  # "ascii" | "utf16" | "stack" | "xor(0x5a)" | "add(0x03)"
    function: int | None = None

    def byte_offset(self, index: int) -> int:
        """Bytes from :attr:`address` to character ``index`` of :attr:`text` (as encoded)."""
        if self.encoding == "ascii":
            return len(self.text[:index].encode("utf-8"))
        if self.encoding == "utf16":
            return len(self.text[:index].encode("utf-16-le"))
        return index


def find_strings(binary: Binary, program: Program | None = None, min_len: int = MIN_LEN) -> list[FoundString]:
    """All strings of at least ``min_len`` characters, sorted by (address, encoding).

    Args:
        binary: the loaded image; every section with file bytes is scanned.
        program: recovered functions; without it there are no stack strings.
        min_len: shortest string reported (at least 2).

    Returns:
        :class:`FoundString` records; at most :data:`MAX_STRINGS` per encoding, each at most
        :data:`MAX_LEN` characters.
    """
    min_len = max(2, min_len)
    found = [
        *_capped(_plain(binary, min_len)),
        *_capped(_utf16(binary, min_len)),
        *_capped(_encoded(binary, min_len)),
    ]
    if program is not None:
        found += _capped(stack_strings(program, min_len))
    return sorted(found, key=lambda s: (s.address, s.encoding, s.text))


def _capped(it: Iterator[FoundString]) -> list[FoundString]:
    out: list[FoundString] = []
    for s in it:
        out.append(s)
        if len(out) >= MAX_STRINGS:
            break
    return out


def _file_backed(binary: Binary) -> Iterator[tuple[Section, bytes]]:
    """(section, its mapped file bytes) within the :data:`MAX_SCAN_BYTES` budget."""
    budget = MAX_SCAN_BYTES
    for sec in binary.sections:
        data = sec.data[: min(sec.vsize, budget)] if sec.vsize else b""
        if data and sec.name != ".interp":  # the ELF interpreter path is the toolchain's, not the author's
            budget -= len(data)
            yield sec, data
        if budget <= 0:
            return


# -- plain strings --------------------------------------------------------------------------------


def _plain(binary: Binary, min_len: int) -> Iterator[FoundString]:
    # Three ASCII characters first: a literal class is what ``re`` runs fast (a leading UTF-8
    # alternative triples the cost); UTF-8 before them is picked up by _back.
    lead = min(3, min_len - 1)
    pattern = re.compile(rb"%s{%d}(?:%s+|%s)+" % (_PRINT, lead, _PRINT, _UTF8))
    for sec, data in _file_backed(binary):
        for m in pattern.finditer(data):
            start = _back(data, m.start()) if m.start() and data[m.start() - 1] >= 0x80 else m.start()
            raw = data[start : min(m.end(), start + 4 * MAX_LEN)]
            text = raw.decode("ascii") if raw.isascii() else raw.decode("utf-8", "ignore")
            if len(text) >= min_len:
                yield FoundString(text[:MAX_LEN], sec.va + start, "ascii")


def _back(data: bytes, start: int) -> int:
    """Where a string really starts when UTF-8 letters (and ASCII among them) precede ``start``."""
    i, seen_utf8 = start, False
    while i > 0 and start - i < 64:
        if i >= 2 and 0xC2 <= data[i - 2] <= 0xDF and 0x80 <= data[i - 1] <= 0xBF:
            i, seen_utf8 = i - 2, True
        elif (
            i >= 3
            and 0xE0 <= data[i - 3] <= 0xEF
            and 0x80 <= data[i - 2] <= 0xBF
            and 0x80 <= data[i - 1] <= 0xBF
        ):
            i, seen_utf8 = i - 3, True
        elif data[i - 1] == 9 or 0x20 <= data[i - 1] < 0x7F:
            i -= 1
        else:
            break
    return i if seen_utf8 else start


def _utf16(binary: Binary, min_len: int) -> Iterator[FoundString]:
    # an ASCII unit first, as in _plain: a literal start keeps ``re`` fast
    pattern = re.compile(rb"%s\x00(?:%s){%d,}" % (_PRINT, _UTF16_UNIT, min_len - 1))
    for sec, data in _file_backed(binary):
        if b"\0" not in data:
            continue
        for m in pattern.finditer(data):
            text = data[m.start() : min(m.end(), m.start() + 2 * MAX_LEN)].decode("utf-16-le", "ignore")
            if sum(c.isascii() for c in text) * 2 >= len(text):
                yield FoundString(text, sec.va + m.start(), "utf16")


# -- XOR / ADD encoded strings -------------------------------------------------------------------


def _diffs(data: bytes) -> tuple[bytes, bytes]:
    """Key-free differences of neighbouring bytes: XOR, and subtraction modulo 256."""
    a = np.frombuffer(data, np.uint8)
    return (a[:-1] ^ a[1:]).tobytes(), (a[1:] - a[:-1]).tobytes()


def _anchor_pattern(op: str) -> re.Pattern[bytes]:
    keys = []
    for anchor in ANCHORS:
        a = np.frombuffer(anchor, np.uint8)
        d = (a[:-1] ^ a[1:]) if op == "xor" else (a[1:] - a[:-1])
        keys.append(re.escape(d.tobytes()))
    return re.compile(b"|".join(keys))


_XOR_ANCHORS = _anchor_pattern("xor")
_ADD_ANCHORS = _anchor_pattern("add")
_PRINTABLE = np.zeros(256, bool)
_PRINTABLE[0x20:0x7F] = True
_PRINTABLE[0x09] = True


def _encoded(binary: Binary, min_len: int) -> Iterator[FoundString]:
    for sec, data in _file_backed(binary):
        if sec.executable or len(data) < min_len:
            continue
        xor_d, add_d = _diffs(data)
        arr = np.frombuffer(data, np.uint8)
        for op, diffs, pattern in (("xor", xor_d, _XOR_ANCHORS), ("add", add_d, _ADD_ANCHORS)):
            seen: set[int] = set()
            for n, m in enumerate(pattern.finditer(diffs)):
                if n >= MAX_ENCODED_HITS:
                    break
                s = _decode_at(arr, m.start(), m.group(), op, min_len, sec.va, seen)
                if s is not None:
                    yield s


def _decode_at(
    arr: np.ndarray, at: int, diff: bytes, op: str, min_len: int, va: int, seen: set[int]
) -> FoundString | None:
    """The printable run around an anchor hit at ``at``, decoded with the key the hit implies."""
    anchor = next(a for a in ANCHORS if _anchor_diff(a, op) == diff)
    key = (int(arr[at]) ^ anchor[0]) if op == "xor" else (int(arr[at]) - anchor[0]) & 0xFF
    if key == 0:  # plaintext: the plain scan has it
        return None
    lo, hi = max(0, at - _WINDOW), min(len(arr), at + _WINDOW)
    window = arr[lo:hi] ^ np.uint8(key) if op == "xor" else arr[lo:hi] - np.uint8(key)
    # a zero byte ends a string too: padding decodes to the key, which may well be printable
    bad = np.flatnonzero(~_PRINTABLE[window] | (arr[lo:hi] == 0))
    rel = at - lo
    start = int(bad[bad < rel].max()) + 1 if (bad < rel).any() else 0
    end = int(bad[bad > rel].min()) if (bad > rel).any() else len(window)
    if end - start < max(min_len, len(anchor)) or lo + start in seen:
        return None
    seen.add(lo + start)
    text = window[start:end][:MAX_LEN].tobytes().decode("ascii")
    return FoundString(text, va + lo + start, f"{op}(0x{key:02x})")


def _anchor_diff(anchor: bytes, op: str) -> bytes:
    a = np.frombuffer(anchor, np.uint8)
    return ((a[:-1] ^ a[1:]) if op == "xor" else (a[1:] - a[:-1])).tobytes()


# -- stack strings --------------------------------------------------------------------------------

_STORE = re.compile(r"(byte|word|dword|qword) ptr \[([re]?[bs]p)(?: ([+-]) (0x[0-9a-f]+|\d+))?\], (.+)")
_WIDTH = {"byte": 1, "word": 2, "dword": 4, "qword": 8}
_REGS = {
    **{r: r[1] for r in ("rax", "rbx", "rcx", "rdx", "eax", "ebx", "ecx", "edx")},
    **{r: r[0] for r in ("ax", "bx", "cx", "dx", "al", "bl", "cl", "dl")},
    **{r: r[1:] for r in ("rsi", "rdi", "esi", "edi")},
    **{r: r for r in ("si", "di", "sil", "dil")},
    **{f"r{n}{s}": f"r{n}" for n in range(8, 16) for s in ("", "d", "w", "b")},
}
_REGS.update({"sil": "si", "dil": "di"})


def stack_strings(program: Program, min_len: int = MIN_LEN) -> Iterator[FoundString]:
    """Printable runs of bytes that functions store on their stack as immediates (module doc)."""
    budget = MAX_INSNS
    for fn in program.functions.values():
        budget -= len(fn.insns)
        if budget < 0:
            return
        yield from _function_stack_strings(fn, min_len)


def _function_stack_strings(fn: Function, min_len: int) -> Iterator[FoundString]:
    frames: dict[str, dict[int, tuple[int, int]]] = {}  # frame reg -> offset -> (byte, insn address)
    regs: dict[str, int] = {}  # register family -> last immediate moved into it
    for addr, _size, mnem, ops in fn.insns:
        if mnem != "mov" and mnem != "movabs":
            if regs:  # another instruction may overwrite a register we track
                regs.pop(_REGS.get(ops.partition(",")[0], ""), None)
            continue
        m = _STORE.match(ops) if "ptr [" in ops else None
        if m is None:
            _track_register(ops, regs)
            continue
        width, frame = _WIDTH[m.group(1)], m.group(2)
        value = _immediate(m.group(5), regs)
        if value is None:
            continue
        off = int(m.group(4), 0) * (-1 if m.group(3) == "-" else 1) if m.group(4) else 0
        cells = frames.setdefault(frame, {})
        for i, b in enumerate((value & ((1 << (8 * width)) - 1)).to_bytes(width, "little")):
            cells[off + i] = (b, addr)
    for cells in frames.values():
        yield from _runs(cells, fn.start, min_len)


def _track_register(ops: str, regs: dict[str, int]) -> None:
    dst, _, src = ops.partition(", ")
    family = _REGS.get(dst)
    if family is None:
        return
    if src.startswith("0x") or src.isdigit():
        regs[family] = int(src, 0) & 0xFFFF_FFFF_FFFF_FFFF
    else:
        regs.pop(family, None)


def _immediate(src: str, regs: dict[str, int]) -> int | None:
    if src in _REGS:
        return regs.get(_REGS[src])
    try:
        return int(src, 0) & 0xFFFF_FFFF_FFFF_FFFF
    except ValueError:
        return None


def _runs(cells: dict[int, tuple[int, int]], function: int, min_len: int) -> Iterator[FoundString]:
    """Contiguous printable runs of the placed bytes, at least ``min_len`` long."""
    run: list[tuple[int, int]] = []
    last = None
    for off in sorted(cells):
        b, addr = cells[off]
        if (last is not None and off != last + 1) or not _PRINTABLE[b]:
            yield from _emit(run, function, min_len)
            run = []
        if _PRINTABLE[b]:
            run.append((b, addr))
        last = off
    yield from _emit(run, function, min_len)


def _emit(run: list[tuple[int, int]], function: int, min_len: int) -> Iterator[FoundString]:
    if len(run) >= min_len:
        text = bytes(b for b, _ in run[:MAX_LEN]).decode("ascii")
        yield FoundString(text, min(a for _, a in run), "stack", function)
