"""Cryptographic algorithms and key material in a PE/ELF image, found without running it.

:func:`detect_crypto` reports one :class:`CryptoHit` per piece of evidence, by kind:

``table``
    A known table lying contiguously in any section, in either byte order: AES S-box, inverse
    S-box and T-tables (also OpenSSL's doubled layout), DES S-boxes / SP tables / permutations,
    SHA-256 and SHA-512 K, MD5 T, CRC-32 / CRC-32C / CRC-64, the BLAKE2 schedule, the XXH3
    secret, Blowfish. At least ``Table.min_bytes`` of it: 16 32-bit entries unless the table is
    shorter (tests: fewer never fire on random data).
``constant``
    Values spread over immediates and small data items: SHA-1/SHA-2/MD5 initial values and round
    constants, xxHash primes, the ChaCha/Salsa20 "expand 32-byte k" words, the TEA delta, CRC
    polynomials. A set fires when ``need`` distinct values sit in one function (its immediates,
    also negated as ``sub`` makes them, plus the data it loads) or in one run of data with gaps
    under 64 bytes (512 in code when no program is given). Names that values cannot settle come
    from the using function's code: TEA needs ``<< 4`` and ``>> 5`` (XTEA also ``>> 11``);
    ChaCha20 and Salsa20 differ in rotation counts, and so do SHA-512 / BLAKE2b and SHA-256 /
    BLAKE2s, which share initial values (else the nearer K table or BLAKE2 schedule decides).
``key-schedule loop`` / ``swap loop``
    RC4: a loop that swaps two S-box cells, one at a counter i and one at j derived from loaded
    cells (bytes or ints), with no call and no compare of a loaded value; a key schedule when
    256 bounds it, else a swap loop (the keystream, or a schedule whose bound is out of sight).
``xor-loop``
    A short loop that loads a byte, XORs / ADDs / SUBs / rotates it with a constant or with key
    bytes and stores it (or does so in place). Key bytes count only with a wrapping key index
    (``%``, a power-of-two mask, a reset); one-bit constants, +-1, +-2 and ASCII-conversion
    offsets are not decoding.
``key blob``
    CryptoAPI ``PUBLICKEYBLOB`` / ``PRIVATEKEYBLOB``, CNG ``BCRYPT_RSAKEY_BLOB``, DER keys
    (PKCS#1, SubjectPublicKeyInfo, PKCS#8: RSA, DSA, EC, Ed25519/448, X25519/448) and PEM keys.
``instruction``
    AES-NI and SHA-NI instructions in a recovered function.

Every hit has the address of the evidence and, given a :class:`Program`, the start of the
function that uses it: the one whose instruction holds the immediate, or one that references
the table or blob (rip-relative operand; absolute operand or immediate in code mapped at 0x10000
or above). A table several functions use yields one hit per function. Without a program only
the byte scans run and no hit names a function. 32-bit position-independent code reaches data
through the GOT register, which is not tracked.

Scanning is vectorised: each section is read as 64-bit words at all 8 byte offsets and looked
up (multiplicative hash into a 4 Mi-entry bitmap, then a sorted-array check) against every pair
of consecutive table words and every 64-bit constant; 32-bit constants likewise. Pair matches
on one table's diagonal chain into runs. About 50 ms per MB (``docs/evidence-crypto.md``).

:func:`extract_key_material` lists the key blobs and the high-entropy bytes cipher code
references, each with its SHA-256, so identical keys can be compared across samples.
``docs/evidence-crypto.md`` describes the heuristics and their measured precision.
"""

from __future__ import annotations

import base64
import bisect
import functools
import hashlib
import itertools
import math
import re
import struct
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from enum import StrEnum

import numpy as np

from attributor.disasm.decode import COND_JUMPS, Insn, imm_target, mem_target
from attributor.disasm.recover import Function, Program
from attributor.evidence import crypto_constants as cc
from attributor.loading.binary import Binary, Section


class HitKind(StrEnum):
    TABLE = "table"
    CONSTANT = "constant"
    KEY_SCHEDULE = "key-schedule loop"
    SWAP_LOOP = "swap loop"
    KEY_BLOB = "key blob"
    XOR_LOOP = "xor-loop"
    INSTRUCTION = "instruction"


@dataclass(frozen=True)
class CryptoHit:
    """One piece of crypto evidence: what, how recognised, where, and which function uses it."""

    algorithm: str  # "AES", "SHA-256", "RC4", "XOR", "RSA", ...
    kind: HitKind
    address: int  # virtual address of the table / first constant / loop head / blob
    size: int  # bytes of evidence at ``address`` (the loop body for loops)
    function: int | None  # start of the recovered function that uses it, when known
    detail: str  # one short line, e.g. "AES S-box, 256 entries"


@dataclass(frozen=True)
class KeyMaterial:
    """Bytes that look like a key: a key blob, or a high-entropy blob cipher code references."""

    address: int
    length: int
    sha256: str
    function: int | None


# -- signature index ---------------------------------------------------------------------------

_LUT_BITS = 22
_MUL = np.uint64(0x9E3779B97F4A7C15)
_SHIFT = np.uint64(64 - _LUT_BITS)
_SHIFT32 = np.uint32(32 - _LUT_BITS)
_MAX_JUMP = 4  # pairs a run may skip (low-information ones are not indexed); the words are re-checked


_Refs = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]


@dataclass(frozen=True)
class _Index:
    """Sorted keys; per key, the (signature, position) pairs it stands for, as flat arrays.

    64-bit keys are pairs of consecutive table words (signature = table number) and 64-bit
    constants (signature = number of tables + set number); 32-bit keys are 32-bit constants.
    """

    tables: tuple[cc.Table, ...]
    sets: tuple[cc.ConstantSet, ...]
    min_words: np.ndarray  # per table
    keys64: np.ndarray
    refs64: _Refs  # first row and row count per key; signature and position per row
    lut64: np.ndarray
    keys32: np.ndarray
    refs32: _Refs
    lut32: np.ndarray


def _bswap(v: int, width: int) -> int:
    return int.from_bytes(v.to_bytes(width, "little"), "big")


def _low_information(a: int, b: int) -> bool:
    """Pairs like (0, 0) or (8, 0) abound in ordinary data: 2 bits set or fewer."""
    return (a | b << 32).bit_count() <= 2


def _flatten(entries: dict[int, list[tuple[int, int]]], dtype: type) -> tuple[np.ndarray, _Refs]:
    keys = sorted(entries)
    count = np.array([len(entries[k]) for k in keys], dtype=np.int64)
    first = np.concatenate([[0], np.cumsum(count)[:-1]]).astype(np.int64)
    flat = [e for k in keys for e in entries[k]]
    sig = np.array([e[0] for e in flat], dtype=np.int64)
    pos = np.array([e[1] for e in flat], dtype=np.int64)
    return np.array(keys, dtype=dtype), (first, count, sig, pos)


@functools.cache
def _index() -> _Index:
    tables, sets = cc.tables(), cc.constant_sets()
    e64: dict[int, list[tuple[int, int]]] = defaultdict(list)
    for sig, t in enumerate(tables):
        n = len(t.data) // 4
        words = struct.unpack(f"<{n}I", t.data[: 4 * n])
        for i in range(n - 1):
            if not _low_information(words[i], words[i + 1]):
                e64[words[i] | words[i + 1] << 32].append((sig, i))
    e32: dict[int, list[tuple[int, int]]] = defaultdict(list)
    for sid, s in enumerate(sets):
        for vi, v in enumerate(s.values):
            # compilers turn ``x + k`` into ``x - (-k)``: 32-bit constants also as their negation
            for key in {v, _bswap(v, s.width)} | ({-v & cc.M32} if s.width == 4 else set()):
                (e64 if s.width == 8 else e32)[key].append((len(tables) + sid if s.width == 8 else sid, vi))
    keys64, refs64 = _flatten(e64, np.uint64)
    keys32, refs32 = _flatten(e32, np.uint32)
    lut64 = np.zeros(1 << _LUT_BITS, dtype=bool)
    lut64[(keys64 * _MUL) >> _SHIFT] = True
    lut32 = np.zeros(1 << _LUT_BITS, dtype=bool)
    lut32[keys32 >> _SHIFT32] = True  # crypto constants spread over the top bits
    min_words = np.array([min(t.min_bytes, len(t.data)) // 4 for t in tables], dtype=np.int64)
    return _Index(tables, sets, min_words, keys64, refs64, lut64, keys32, refs32, lut32)


def _lookup(data: bytes, width: int, idx: _Index) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(offset, signature, position) of every ``width``-byte little-endian word of ``data`` that
    is a key of the index (one row per signature the key stands for)."""
    keys, lut, (first, count, sig, pos) = (
        (idx.keys64, idx.lut64, idx.refs64) if width == 8 else (idx.keys32, idx.lut32, idx.refs32)
    )
    offs, ks = [], []
    for o in range(width):
        n = (len(data) - o) // width
        if n <= 0:
            continue
        v = np.frombuffer(data, dtype="<u8" if width == 8 else "<u4", count=n, offset=o)
        cand = np.flatnonzero(lut[(v * _MUL) >> _SHIFT if width == 8 else v >> _SHIFT32])
        k = np.minimum(np.searchsorted(keys, v[cand]), len(keys) - 1)
        ok = keys[k] == v[cand]
        offs.append(o + width * cand[ok])
        ks.append(k[ok])
    off = np.concatenate(offs) if offs else np.zeros(0, dtype=np.int64)
    k = np.concatenate(ks) if ks else np.zeros(0, dtype=np.int64)
    reps = count[k]
    rows = np.repeat(first[k], reps) + np.arange(int(reps.sum())) - np.repeat(np.cumsum(reps) - reps, reps)
    return np.repeat(off, reps).astype(np.int64), sig[rows], pos[rows]


# -- tables ------------------------------------------------------------------------------------


@dataclass
class _Run:
    sig: int
    offset: int  # in the section
    first: int  # index of the first matched word in the table
    words: int


def _table_runs(data: bytes, idx: _Index) -> tuple[list[_Run], list[tuple[int, int, int]]]:
    """Runs of table words long enough to report, and the 64-bit constants (offset, set, value).

    Pair matches of one table on one diagonal (offset - 4 x position: where the table would
    start) chain into a run while positions advance by at most ``_MAX_JUMP``; words no pair
    covered are then compared with the table.
    """
    off, sig, pos = _lookup(data, 8, idx)
    n_tables = len(idx.tables)
    is_const = sig >= n_tables
    const64 = list(
        zip(off[is_const].tolist(), (sig[is_const] - n_tables).tolist(), pos[is_const].tolist(), strict=True)
    )
    off, sig, pos = off[~is_const], sig[~is_const], pos[~is_const]
    if not len(off):
        return [], const64
    diag = off - 4 * pos
    order = np.lexsort((pos, diag, sig))
    off, sig, pos, diag = off[order], sig[order], pos[order], diag[order]
    step = np.diff(pos)
    brk = np.flatnonzero((np.diff(sig) != 0) | (np.diff(diag) != 0) | (step > _MAX_JUMP) | (step < 1)) + 1
    starts = np.concatenate([[0], brk])
    ends = np.concatenate([brk, [len(off)]]) - 1
    words = pos[ends] + 2 - pos[starts]
    keep = words >= idx.min_words[sig[starts]]
    runs: list[_Run] = []
    for a, e in zip(starts[keep].tolist(), ends[keep].tolist(), strict=True):
        runs += _checked(
            data,
            idx.tables[int(sig[a])],
            _Run(int(sig[a]), int(off[a]), int(pos[a]), int(pos[e]) + 2 - int(pos[a])),
        )
    return [r for r in runs if r.words >= idx.min_words[r.sig]], const64


def _checked(data: bytes, t: cc.Table, run: _Run) -> list[_Run]:
    """``run`` split where a word the pairs skipped differs from the table."""
    lo = 4 * run.first
    if data[run.offset : run.offset + 4 * run.words] == t.data[lo : lo + 4 * run.words]:
        return [run]
    out: list[_Run] = []
    start = None
    for w in range(run.words + 1):
        same = (
            w < run.words
            and data[run.offset + 4 * w : run.offset + 4 * w + 4] == t.data[lo + 4 * w : lo + 4 * w + 4]
        )
        if same and start is None:
            start = w
        elif not same and start is not None:
            out.append(_Run(run.sig, run.offset + 4 * start, run.first + start, w - start))
            start = None
    return out


def _table_detail(t: cc.Table, run: _Run) -> str:
    total = len(t.data) // t.entry
    first, n = 4 * run.first // t.entry, 4 * run.words // t.entry
    if n >= total:
        return f"{t.name}, {total} entries"
    return f"{t.name}, entries {first}-{first + n - 1} of {total}"


# -- constants ---------------------------------------------------------------------------------


@dataclass(eq=False)
class _Occ:
    """One occurrence of a constant: where, which set and value, and who uses it."""

    va: int
    sid: int
    vi: int
    width: int
    executable: bool
    function: int | None = None  # the function whose instruction holds it (an immediate)
    users: set[int] = field(default_factory=set)  # functions loading it (data)


class _Spans:
    """A union of byte ranges: tables and blobs hide the constants inside them."""

    def __init__(self, spans: Iterable[tuple[int, int]]):
        merged: list[list[int]] = []
        for lo, hi in sorted(spans):
            if merged and lo <= merged[-1][1]:
                merged[-1][1] = max(merged[-1][1], hi)
            else:
                merged.append([lo, hi])
        self._lo = [m[0] for m in merged]
        self._hi = [m[1] for m in merged]

    def covers(self, lo: int, hi: int) -> bool:
        i = bisect.bisect_right(self._lo, lo) - 1
        return i >= 0 and hi <= self._hi[i]


def _loose_clusters(occs: list[_Occ], gap_code: int) -> list[list[_Occ]]:
    """Occurrences outside recovered instructions, grouped while gaps stay under 64 bytes
    (``gap_code`` in executable sections: immediates of one routine when there is no program)."""
    out: list[list[_Occ]] = []
    end = 0
    for o in sorted((o for o in occs if o.function is None), key=lambda o: o.va):
        if out and o.va - end <= (gap_code if o.executable else 64):
            out[-1].append(o)
        else:
            out.append([o])
        end = max(end, o.va + o.width) if len(out[-1]) > 1 else o.va + o.width
    return out


def _matched_sets(
    occs: Iterable[_Occ], sets: tuple[cc.ConstantSet, ...], need: list[int]
) -> dict[int, list[_Occ]]:
    """Sets with ``need[set]`` distinct values in ``occs``, minus those a matched superset covers."""
    by_set: dict[int, dict[int, _Occ]] = defaultdict(dict)
    for o in occs:
        by_set[o.sid].setdefault(o.vi, o)
    hit = {sid: list(v.values()) for sid, v in by_set.items() if len(v) >= need[sid]}
    return {sid: v for sid, v in hit.items() if not any(_within(sets, sid, o) for o in hit)}


def _within(sets: tuple[cc.ConstantSet, ...], sid: int, other: int) -> bool:
    return set(sets[sid].values) < set(sets[other].values)


def _constant_hits(
    occs: list[_Occ], loose: list[list[_Occ]], sets: tuple[cc.ConstantSet, ...]
) -> list[_Found]:
    """Each function with its immediates and the data it loads, then data clusters nobody claimed.

    A set needs ``need`` distinct values in one group; once it matched somewhere in the image,
    other groups need only ``need_more``.
    """
    by_fn: dict[int, list[_Occ]] = defaultdict(list)
    for o in occs:
        for f in o.users if o.function is None else {o.function, *o.users}:
            by_fn[f].append(o)
    groups: list[tuple[list[_Occ], int | None]] = [
        *((v, f) for f, v in by_fn.items()),
        *((c, None) for c in loose),
    ]
    need = [s.need for s in sets]
    present = {sid for g, _ in groups for sid in _matched_sets(g, sets, need)}
    more = [(s.need_more or s.need) if i in present else s.need for i, s in enumerate(sets)]
    out: list[_Found] = []
    claimed: dict[int, set[int]] = defaultdict(set)  # address -> sets reported there with a function
    for group, fn in groups:
        for sid, matched in _matched_sets(group, sets, more).items():
            if fn is not None:
                every = [o for o in group if o.sid == sid]
                for o in every:
                    claimed[o.va].add(sid)
                out.append(_constant_found(sets[sid], every, {fn}))
            elif not any(s == sid or _within(sets, sid, s) for o in matched for s in claimed[o.va]):
                out.append(_constant_found(sets[sid], matched, set().union(*(o.users for o in matched))))
    return out


def _constant_found(s: cc.ConstantSet, matched: list[_Occ], fns: set[int]) -> _Found:
    """Located at the data copy when there is one (an IV table), else at the first immediate."""
    data = [o for o in matched if o.function is None]
    where = sorted(data or matched, key=lambda o: o.va)
    lo, hi = where[0].va, max(o.va + o.width for o in where)
    detail = f"{s.name}, {len({o.vi for o in matched})} of {len(s.values)} values"
    check = s.shape or ("shared" if s.shared else "")
    immediates = tuple(sorted((o.va, o.vi) for o in matched if o.function is not None))
    return _Found(s.algorithm, HitKind.CONSTANT, lo, hi - lo, detail, fns, check, s.shared, immediates)


# -- code ----------------------------------------------------------------------------------------

_REG_FAMILIES = {
    "a": "rax eax ax al ah",
    "b": "rbx ebx bx bl bh",
    "c": "rcx ecx cx cl ch",
    "d": "rdx edx dx dl dh",
    "si": "rsi esi si sil",
    "di": "rdi edi di dil",
    "bp": "rbp ebp bp bpl",
    **{f"r{n}": f"r{n} r{n}d r{n}w r{n}b" for n in range(8, 16)},
}
_FAMILY = {name: fam for fam, names in _REG_FAMILIES.items() for name in names.split()}
_HEX = re.compile(r"0x[0-9a-f]+")
_ACCESS = re.compile(r"(\w+) ptr \[")
_WIDTHS = {
    "byte": 1,
    "word": 2,
    "dword": 4,
    "qword": 8,
    "tbyte": 10,
    "xmmword": 16,
    "ymmword": 32,
    "zmmword": 64,
}
_MOVES = frozenset({"mov", "movzx", "movsx", "movsxd"})
_XFORMS = frozenset({"xor", "add", "sub", "rol", "ror"})
# ADD/SUB constants of ASCII conversions (digits, hex digits, letter case), not decoding keys.
_ASCII_OFFSETS = frozenset({0x07, 0x0A, 0x20, 0x30, 0x37, 0x41, 0x57, 0x61})
_XOR_MAX, _RC4_MAX = 32, 64  # loop bodies, in instructions
_XOR_BRANCHES = 4


def _imm(op: str) -> int | None:
    try:
        return int(op, 0)
    except ValueError:
        return None


class _CodeMap:
    """Which recovered instruction holds an address, and which data addresses code references."""

    def __init__(self, program: Program):
        self.program = program
        fns = list(program.functions.values())
        parts = [f.extent for f in fns]
        if sum(len(p) for p in parts):
            arr = np.concatenate(parts)
            owner = np.repeat(np.array([f.start for f in fns], dtype=np.uint64), [len(p) for p in parts])
            order = np.argsort(arr[:, 0], kind="stable")
            self.addr, self.size, self.owner = arr[order, 0], arr[order, 1], owner[order]
        else:
            self.addr = self.size = self.owner = np.zeros(0, dtype=np.uint64)
        secs = program.binary.sections
        self.absolute = bool(secs) and secs[0].va >= 0x10000  # else every immediate is a value
        self.image = (secs[0].va, secs[-1].end) if self.absolute else (0, 0)

    def holder(self, va: int, width: int) -> int | None:
        """The function whose instruction contains bytes [va, va + width)."""
        i = int(np.searchsorted(self.addr, np.uint64(va), side="right")) - 1
        if i >= 0 and va + width <= int(self.addr[i]) + int(self.size[i]):
            return int(self.owner[i])
        return None

    def targets(self, ins: Insn) -> list[tuple[int, int]]:
        """(address, bytes accessed; 0 when only the address is taken) of the data ``ins`` names:
        a rip-relative operand, or an absolute one inside the image in code mapped at 0x10000+."""
        op = ins[3]
        if "rip" in op:
            t = mem_target(ins)
            return [] if t is None else [(t, _access_size(op))]
        if self.absolute and "0x" in op:
            lo, hi = self.image
            size = _access_size(op) if "ptr [" in op else 0
            return [(v, size) for v in (int(tok, 16) for tok in _HEX.findall(op)) if lo <= v < hi]
        return []


def _access_size(op: str) -> int:
    m = _ACCESS.search(op)
    return _WIDTHS.get(m.group(1), 0) if m else 0


@dataclass
class _CodeFindings:
    refs: list[tuple[int, int, int]] = field(default_factory=list)  # (target, bytes, function)
    hits: list[CryptoHit] = field(default_factory=list)


def _scan_code(code: _CodeMap, lo: int, hi: int) -> _CodeFindings:
    """One pass over every instruction: references into [lo, hi), loops, AES-NI / SHA-NI."""
    out = _CodeFindings()
    absolute = code.absolute
    for fn in code.program.functions.values():
        insns, addrs = fn.insns, None
        seen: set[str] = set()
        loops: list[CryptoHit] = []
        for k, ins in enumerate(insns):
            m, op = ins[2], ins[3]
            c = m[0]
            if c == "j" or m.startswith("loop"):
                t = imm_target(op)
                if t is not None and fn.start <= t <= ins[0] and (m in COND_JUMPS or m == "jmp"):
                    addrs = addrs or [i[0] for i in insns]
                    h = bisect.bisect_left(addrs, t)
                    if h < len(addrs) and addrs[h] == t and k - h < _RC4_MAX:
                        loops += [x for x in _loop_hits(fn, insns, h, k) if not _overlaps(x, loops)]
            elif c in "avs" and _special(m) and m not in seen:
                seen.add(m)
                out.hits.append(_instruction_hit(fn, ins))
            if "rip" in op or (absolute and "0x" in op):
                out.refs += [(t, size, fn.start) for t, size in code.targets(ins) if lo <= t < hi]
        out.hits += loops
    return out


def _overlaps(hit: CryptoHit, others: list[CryptoHit]) -> bool:
    """Rotated and unrolled loops have several back edges: one loop, one hit."""
    return any(
        o.algorithm == hit.algorithm
        and o.address < hit.address + hit.size
        and hit.address < o.address + o.size
        for o in others
    )


def _special(m: str) -> bool:
    return (m[0] in "av" and "aes" in m) or m.startswith(("sha1rnds", "sha256rnds"))


def _instruction_hit(fn: Function, ins: Insn) -> CryptoHit:
    m = ins[2]
    algo = "AES" if "aes" in m else ("SHA-1" if m.startswith("sha1") else "SHA-256")
    ext = "AES-NI" if algo == "AES" else "SHA-NI"
    return CryptoHit(algo, HitKind.INSTRUCTION, ins[0], ins[1], fn.start, f"{ext} {m}")


def _loop_hits(fn: Function, insns: list[Insn], head: int, tail: int) -> Iterator[CryptoHit]:
    body = insns[head : tail + 1]
    if not any("byte ptr" in i[3] or i[2] in ("lodsb", "stosb") for i in body):
        return
    va, size = body[0][0], body[-1][0] + body[-1][1] - body[0][0]
    if sum(i[3].startswith(_CELLS) for i in body) >= 2:
        frame = any(i[2] == "mov" and i[3] in ("rbp, rsp", "ebp, esp") for i in insns[:4])
        bounded = _rc4_swap(body, insns[max(0, head - 12) : head], frame)
        if bounded is not None:
            kind, what = (
                (HitKind.KEY_SCHEDULE, "key schedule") if bounded else (HitKind.SWAP_LOOP, "S-box swap")
            )
            yield CryptoHit("RC4", kind, va, size, fn.start, f"RC4 {what}: S[i] <-> S[j], j from S")
    if len(body) <= _XOR_MAX:
        found = _xor_loop(body)
        if found and found.endswith("key bytes") and not _modular(body):
            found = None  # two buffers combined (a stream cipher, an image filter), not a key
        if found:
            algo = "XOR" if "XOR" in found else found.split()[0]
            yield CryptoHit(algo, HitKind.XOR_LOOP, va, size, fn.start, f"byte decoding loop: {found}")


_BRACKET = re.compile(r"\[([^\]]*)\]")
_CELLS = ("byte ptr [", "dword ptr [")  # RC4 S-boxes hold bytes, or ints (RC4_INT in OpenSSL, BoringSSL)
_WORD = re.compile(r"[a-z][a-z0-9]*")


def _index_regs(op: str) -> set[str]:
    """Register families inside the memory operand of ``op``."""
    m = _BRACKET.search(op)
    return {f for w in _WORD.findall(m.group(1)) if (f := _FAMILY.get(w))} if m else set()


def _rc4_swap(body: list[Insn], before: list[Insn], frame: bool = False) -> bool | None:
    """RC4's swap of two S-box bytes at i and at j derived from loaded bytes (``j += S[i] + key[..]``
    in the key schedule, ``j += S[i]`` in the keystream): whether it is bounded by 256 (the key
    schedule), or None when ``body`` is no such loop.

    * at least two byte loads, and two stores of loaded bytes that cross: each written where the
      other was loaded from, one at i and one at j (locals on the stack do not count);
    * at least one access indexed by a register derived from loaded bytes;
    * no call, and no compare of a loaded byte (sorting, sliding windows and lookups that skip
      values are not RC4);
    * bound: ``cmp counter, 0x100`` (or ``0xff``) before a jump back or out, or
      ``lea r, [p + 0x100]`` / ``mov r, 0x100`` in the 12 instructions before the loop.

    Loaded bytes taint registers; moves and arithmetic carry the taint, other writes clear it.
    The body is walked twice, counting the second time: rotated loops use at the top values
    loaded at the bottom.
    """
    bound = any(_sets_bound(ins) for ins in before)
    state = _Taint(frame)
    counts = Counter[str]()
    lo, hi = body[0][0], body[-1][0]
    for rnd in (0, 1):
        state.stores.clear()
        for k, ins in enumerate(body[:-1]):
            m, op = ins[2], ins[3]
            ops = op.split(", ")
            if m == "call" or (m in ("cmp", "test") and _reads_taint(state, ops)):
                return None
            if m == "cmp" and ops[-1] in ("0x100", "0xff"):
                bound = bound or _leaves(body[k + 1], lo, hi)
            indexed = "[" in op and bool(_index_regs(op) & state.tainted)
            event = state.step(m, ops) if len(ops) == 2 else ""
            if rnd:
                counts[event] += 1
                counts["indexed"] += indexed
    return bound if counts["load"] >= 2 and counts["indexed"] >= 1 and state.swaps() else None


def _leaves(ins: Insn, lo: int, hi: int) -> bool:
    """A conditional jump back to the loop head or out of the loop: the compare before it bounds the loop."""
    t = imm_target(ins[3]) if ins[2] in COND_JUMPS else None
    return t is not None and (t == lo or not lo <= t <= hi)


def _reads_taint(state: _Taint, ops: list[str]) -> bool:
    """A compare of a loaded value (a register holding one, or an array cell; not a local counter)."""
    return any(_FAMILY.get(o) in state.tainted or (o.startswith(_CELLS) and not state.local(o)) for o in ops)


def _sets_bound(ins: Insn) -> bool:
    m, op = ins[2], ins[3]
    return (m == "lea" and op.endswith("+ 0x100]")) or (m in ("mov", "cmp") and op.endswith(", 0x100"))


Addr = tuple[frozenset[str], bool]  # an address's registers, and whether its index derives from loaded bytes


class _Taint:
    """Data flow inside one loop body, just enough for :func:`_rc4_ksa`.

    ``tainted``: registers derived from bytes loaded in the loop. ``copy``: registers holding such
    a byte unchanged, with the address it came from. Locals on the stack carry both, so -O0 code
    (every variable in memory) flows like registers.
    """

    def __init__(self, frame: bool) -> None:
        self.frame = frame  # rbp is the frame pointer: [rbp - 8] is a local, not an array element
        self.tainted: set[str] = set()
        self.copy: dict[str, Addr] = {}
        self.slots: dict[str, tuple[bool, Addr | None]] = {}
        self.stores: list[tuple[Addr, Addr]] = []  # (where, loaded from) of bytes moved to memory
        self.base: dict[str, str] = {}  # register -> the local it was loaded from (-O0 pointers)

    def step(self, m: str, ops: list[str]) -> str:
        """Follow one two-operand instruction: 'load', 'store' (a loaded byte moved) or ''."""
        dst, src = ops
        if "[" in dst:
            return self._store(m, dst, src)
        d = _FAMILY.get(dst)
        if d is None:
            return ""
        self._track_base(m, d, src)
        if m in _MOVES and src.startswith(_CELLS) and not self.local(src):
            self.copy[d] = self._addr(src)  # before tainting d: movzx eax, byte ptr [rdx + rax]
            self.tainted.add(d)
            return "load"
        tainted, copy = self._read(m, src)
        if m == "xor" and src == dst:
            tainted, copy = False, None
        elif m not in _MOVES and m != "lea":  # arithmetic: derived, no longer the loaded byte
            tainted, copy = tainted or d in self.tainted, None
        (self.tainted.add if tainted else self.tainted.discard)(d)
        if copy is None:
            self.copy.pop(d, None)
        else:
            self.copy[d] = copy
        return ""

    def _track_base(self, m: str, d: str, src: str) -> None:
        """Follow pointers -O0 code reloads from locals into changing registers: a register keeps
        the name of the local its pointer came from through moves and index arithmetic."""
        regs = _index_regs(src) if "[" in src else {f for f in [_FAMILY.get(src)] if f}
        if m == "mov" and src.startswith("qword ptr [") and self.local(src):
            self.base[d] = src[src.index("[") :]
        elif m in ("mov", "lea", "add") and (found := {self.base[r] for r in regs if r in self.base}):
            if m == "mov" or m == "lea" or d not in self.base:
                self.base[d] = min(found)
        elif m != "add" or d not in self.base:
            self.base.pop(d, None)

    def _addr(self, op: str) -> Addr:
        regs = _index_regs(op)
        return frozenset(self.base.get(r, r) for r in regs), bool(regs & self.tainted)

    def _read(self, m: str, src: str) -> tuple[bool, Addr | None]:
        """(derived from loaded bytes, the load it is a copy of) of the value ``src`` yields."""
        if src in _FAMILY:
            return _FAMILY[src] in self.tainted, self.copy.get(_FAMILY[src])
        if "[" not in src:
            return False, None
        if m != "lea" and self.local(src):
            return self.slots.get(src[src.index("[") :], (False, None))
        return bool(_index_regs(src) & self.tainted), None

    def _store(self, m: str, dst: str, src: str) -> str:
        s = _FAMILY.get(src)
        tainted, copy = (s in self.tainted, self.copy.get(s)) if s else (False, None)
        if self.local(dst):
            slot = dst[dst.index("[") :]
            if m == "mov":
                self.slots[slot] = (tainted, copy)
            elif tainted:
                self.slots[slot] = (True, None)
            return ""
        if m == "mov" and dst.startswith(_CELLS) and copy is not None:
            self.stores.append((self._addr(dst), copy))
            return "store"
        return ""

    def local(self, op: str) -> bool:
        """A local variable: a stack address with a constant offset only."""
        m = _BRACKET.search(op)
        if m is None:
            return False
        return ("sp" in m.group(1) and not _index_regs(op)) or (self.frame and _index_regs(op) == {"bp"})

    def swaps(self) -> bool:
        """Two bytes each moved to where the other was loaded from (``S[i] <-> S[j]``), exactly one
        of the two at an index derived from loaded bytes (j); an address is its registers plus
        that flag, so ``[rdx + rax]`` with rax = i differs from ``[rdx + rax]`` with rax = j."""
        moved = [(at, src) for at, src in self.stores if at != src]
        return any(
            a[0] == b[1] and b[0] == a[1] and a[0][1] != b[0][1]  # one index is i, the other j
            for a, b in itertools.combinations(moved, 2)
        )


def _xor_loop(body: list[Insn]) -> str | None:
    """The transform, if ``body`` loads a byte, transforms it with a key and stores it back.

    At most ``_XOR_BRANCHES`` inner branches (a key index wrapping around, a division's fast
    path); no call. Walked twice, like :func:`_rc4_ksa`, for rotated loops.
    """
    loaded: set[str] = set()
    xformed: dict[str, str] = {}
    if sum(ins[2] in COND_JUMPS for ins in body[:-1]) > _XOR_BRANCHES or any(i[2] == "call" for i in body):
        return None
    for _ in (0, 1):
        for ins in body[:-1]:
            m, ops = ins[2], ins[3].split(", ")
            if m == "lodsb":
                loaded.add("a")
            elif m == "stosb" and "a" in xformed:
                return xformed["a"]
            elif len(ops) == 2:
                found = _xor_step(m, ops[0], ops[1], loaded, xformed)
                if found:
                    return found
    return None


def _xor_step(m: str, dst: str, src: str, loaded: set[str], xformed: dict[str, str]) -> str | None:
    """Follow one two-operand instruction; returns the transform when a transformed byte is stored."""
    dfam, sfam = _FAMILY.get(dst), _FAMILY.get(src)
    if dst.startswith("byte ptr ["):  # a store, or a transform in place
        if m == "mov" and sfam in xformed:
            return xformed[sfam]
        return _transform(m, src) if m in _XFORMS and (sfam is None or m == "xor") else None
    if dfam is None:
        return None
    if m in _MOVES:
        if src.startswith("byte ptr ["):
            loaded.add(dfam)
            xformed.pop(dfam, None)
        elif sfam in loaded:
            loaded.add(dfam)
            if sfam in xformed:
                xformed[dfam] = xformed[sfam]
        else:
            loaded.discard(dfam)
            xformed.pop(dfam, None)
    elif m == "xor" and sfam == dfam:  # zeroing
        loaded.discard(dfam)
        xformed.pop(dfam, None)
    elif m in _XFORMS and dfam in loaded and (t := _transform(m, src)):
        xformed[dfam] = t
    return None


def _transform(m: str, src: str) -> str:
    """``m src`` described as a decoding step, or '' when it is not one: toggling one bit, adding
    or subtracting 1 or 2 and the offsets of ASCII conversions (digits, hex, letter case) are not."""
    v = _imm(src)
    if v is None:
        return f"{m.upper()} with key bytes" if m in ("xor", "add", "sub") else ""
    v &= 0xFF
    if m == "rol" or m == "ror":
        return f"{m.upper()} {v & 7}" if v & 7 else ""
    if (
        v.bit_count() <= 1
        or v == 0xFF
        or (m != "xor" and (v in _ASCII_OFFSETS or -v & 0xFF in _ASCII_OFFSETS))
    ):
        return ""
    if m == "xor":
        return f"single-byte XOR with 0x{v:02x}"
    return f"{m.upper()} 0x{v:02x}" if v not in (0x02, 0xFE) else ""


def _modular(body: list[Insn]) -> bool:
    """A key index that wraps around: ``%`` (div), a power-of-two mask up to 127, a reset (cmov,
    or a register zeroed inside the loop)."""
    for ins in body:
        m, ops = ins[2], ins[3].split(", ")
        if m in ("div", "idiv") or m.startswith("cmov"):
            return True
        if m == "and" and (v := _imm(ops[-1])) is not None and 3 <= v <= 127 and not v & (v + 1):
            return True
        if (m == "xor" and len(ops) == 2 and ops[0] == ops[1]) or (m == "mov" and ops[-1] == "0"):
            return True
    return False


_BITS = {
    name: (64, 32, 16, 8)[i] for names in _REG_FAMILIES.values() for i, name in enumerate(names.split()[:4])
}
# Right-rotation counts that tell apart algorithms sharing constants (and the ChaCha / Salsa20
# "expand 32-byte k"): the quarter rounds and compression functions, minus counts both use.
_ROTATION_MARKS = {
    "ChaCha20": (32, frozenset({16, 20, 24})),
    "Salsa20": (32, frozenset({23, 19, 14})),
    "BLAKE2s": (32, frozenset({16, 12, 8})),
    "SHA-256": (32, frozenset({2, 13, 22, 6, 11})),
    "BLAKE2b": (64, frozenset({32, 24, 16, 63})),
    "SHA-512": (64, frozenset({28, 34, 39, 14, 18, 41})),
}


_ROTATES = {
    **{m: m[2] for m in ("rol", "ror", "pslld", "psrld", "psllq", "psrlq")},
    **{m: m[3] for m in ("prold", "prord", "prolq", "prorq")},
    "rorx": "r",
}


def _rotations(fn: Function) -> set[tuple[int, int]]:
    """(bits, right-rotation count) of rotates by an immediate in ``fn``, and of SIMD shift pairs."""
    out: set[tuple[int, int]] = set()
    shifts: dict[tuple[int, str], set[int]] = defaultdict(set)
    for ins in fn.insns:
        m = ins[2][1:] if ins[2].startswith("vp") else ins[2]
        side = _ROTATES.get(m)
        if side is None:
            continue
        ops = ins[3].split(", ")
        n = _imm(ops[-1])
        bits = _BITS.get(ops[0], 0) if m in ("rol", "ror", "rorx") else (32 if m.endswith("d") else 64)
        if n is None or not 0 < n < bits:
            continue
        right = n if side == "r" else bits - n
        if m.startswith("ps"):  # a shift right by r and a shift left by bits - r rotate right by r
            shifts[(bits, side)].add(right)
        else:
            out.add((bits, right))
    for bits in (32, 64):
        out |= {(bits, r) for r in shifts[(bits, "r")] & shifts[(bits, "l")]}
    return out


def _vote(program: Program | None, fn: int | None, names: tuple[str, ...], least: int = 1) -> str | None:
    """Which of ``names`` the rotations of ``fn`` (then with its callees) point to, if clearly one
    (``least`` of its marks, and more than any other)."""
    if program is None or fn not in program.functions:
        return None
    f = program.functions[fn]
    for scope in ([f], [f, *(program.functions[c] for c in f.calls if c in program.functions)]):
        rot = set().union(*(_rotations(g) for g in scope))
        score = {
            n: len({r for b, r in rot if b == _ROTATION_MARKS[n][0]} & _ROTATION_MARKS[n][1]) for n in names
        }
        best, second = sorted(score.values(), reverse=True)[:2]
        if best > second and best >= least:
            return max(score, key=lambda n: score[n])
    return None


_DISP = re.compile(r"(?:([+-]) (0x[0-9a-f]+|\d+))?\]$")


def _sigma_layout(
    program: Program | None, fn: int | None, immediates: tuple[tuple[int, int], ...]
) -> str | None:
    """Name "expand 32-byte k" by where ``fn`` stores it and the key: Salsa20 puts the constants in
    state words 0, 5, 10 and 15; ChaCha in words 0-3 with the key in words 4-11. Constants in
    words 0-3 alone say nothing: SIMD Salsa20 code permutes its state the same way."""
    if program is None or fn not in program.functions:
        return None
    insns = program.functions[fn].insns
    where = [i[0] for i in insns]
    slots: dict[int, tuple[str, int]] = {}
    for va, vi in immediates:
        k = bisect.bisect_right(where, va) - 1
        if k >= 0 and vi not in slots and (slot := _store_slot(insns, k)) is not None:
            slots[vi] = slot
    if len(slots) < 4 or len({b for b, _ in slots.values()}) != 1:
        return None
    base, first = slots[0]
    steps = tuple(slots[v][1] - first for v in (1, 2, 3))
    if steps == (20, 40, 60):
        return "Salsa20"
    if steps == (4, 8, 12) and _key_follows(insns, base, first):
        return "ChaCha20"
    return None


def _store_slot(insns: list[Insn], k: int) -> tuple[str, int] | None:
    """(base, displacement) where ``insns[k]`` (a ``mov`` of an immediate) puts its value: the
    dword store it is, or the first store of its register in the next 12 instructions."""
    m, ops = insns[k][2], insns[k][3].split(", ")
    if m != "mov" or len(ops) != 2:
        return None
    if ops[0].startswith("dword ptr ["):
        return _base_disp(ops[0])
    fam = _FAMILY.get(ops[0])
    for ins in insns[k + 1 : k + 13]:
        o = ins[3].split(", ")
        if ins[2] == "mov" and len(o) == 2 and o[0].startswith("dword ptr [") and _FAMILY.get(o[1]) == fam:
            return _base_disp(o[0])
    return None


def _key_follows(insns: list[Insn], base: str, first: int) -> bool:
    """Words (or vectors) loaded from another pointer at offset k are stored at ``first + 16 + k``."""
    loaded: dict[str, tuple[str, int]] = {}  # register -> (pointer, offset) it was loaded from
    agree = disagree = 0
    for ins in insns:
        ops = ins[3].split(", ")
        if not ins[2].startswith("mov") or len(ops) != 2:
            continue
        if ops[1].startswith(("dword ptr [", "xmmword ptr [")) and (src := _base_disp(ops[1])):
            loaded[ops[0]] = src
        elif ops[0].startswith(("dword ptr [", "xmmword ptr [")) and ops[1] in loaded:
            (ptr, k), dst = loaded[ops[1]], _base_disp(ops[0])
            if dst is not None and dst[0] == base and ptr != base:
                agree += dst[1] == first + 16 + k
                disagree += dst[1] != first + 16 + k
    return agree >= 2 and disagree == 0


def _base_disp(op: str) -> tuple[str, int] | None:
    """``dword ptr [rdi + 0x14]`` -> ("rdi", 0x14); None unless one register and a constant."""
    inside = _BRACKET.search(op)
    m = _DISP.search(op)
    if inside is None or m is None:
        return None
    regs = [w for w in _WORD.findall(inside.group(1)) if w in _FAMILY or w in ("rsp", "esp")]
    if len(regs) != 1:
        return None
    base = regs[0]
    disp = 0 if m.group(2) is None else int(m.group(2), 0) * (-1 if m.group(1) == "-" else 1)
    return base, disp


def _tea_shape(program: Program | None, fn: int | None) -> str | None:
    """TEA and XTEA mix with ``v << 4`` and ``v >> 5``; XTEA also picks keys by ``sum >> 11``."""
    if program is None or fn not in program.functions:
        return None
    shl: set[int | None] = set()
    shr: set[int | None] = set()
    for ins in program.functions[fn].insns:
        if ins[2] in ("shl", "sal", "shr", "sar"):
            n = _imm(ins[3].rsplit(", ", 1)[-1])
            (shl if ins[2] in ("shl", "sal") else shr).add(n)
    if 4 in shl and 5 in shr:
        return "XTEA" if 11 in shr else "TEA"
    return None


# -- key blobs -----------------------------------------------------------------------------------

_CAPI_ALGS = {0xA400: "RSA", 0x2400: "RSA", 0x2200: "DSA"}
_OIDS = {
    bytes.fromhex("2a864886f70d010101"): "RSA",
    bytes.fromhex("2a8648ce380401"): "DSA",
    bytes.fromhex("2a8648ce3d0201"): "EC",
    bytes.fromhex("2b6570"): "Ed25519",
    bytes.fromhex("2b6571"): "Ed448",
    bytes.fromhex("2b656e"): "X25519",
    bytes.fromhex("2b656f"): "X448",
}
# A SEQUENCE with a long length; or a short one that opens a SubjectPublicKeyInfo or PKCS#8 body
# (an AlgorithmIdentifier, with or without version 0 before it: Ed25519 / X25519 keys).
_DER_SEQ = re.compile(
    rb"\x30[\x81\x82]|\x30[\x20-\x7f](?=\x30[\x05-\x0d]\x06|\x02\x01\x00\x30[\x05-\x0d]\x06)"
)
_PEM = re.compile(
    rb"-----BEGIN ((?:RSA |DSA |EC |ENCRYPTED )?(?:PUBLIC|PRIVATE) KEY)-----\r?\n"
    rb"([A-Za-z0-9+/=:,\- \r\n]{64,16384}?)-----END [A-Z ]+-----"
)
Blob = tuple[int, int, str, str]  # offset, size, algorithm, detail


def _key_blobs(data: bytes) -> Iterator[Blob]:
    """Every key blob in ``data``: CryptoAPI, CNG, DER and PEM."""
    for magic in (b"RSA1", b"RSA2", b"DSS1", b"DSS2"):
        off = data.find(magic)
        while off >= 0:
            yield from _capi_blob(data, off)
            yield from _bcrypt_blob(data, off)
            off = data.find(magic, off + 1)
    for m in _DER_SEQ.finditer(data):
        found = _der_key(data, m.start())
        if found is not None:
            yield m.start(), found[0], found[1], found[2]
    for m in _PEM.finditer(data):
        yield m.start(), m.end() - m.start(), *_pem_key(m.group(1).decode(), m.group(2))


def _outermost(blobs: list[Blob]) -> list[Blob]:
    """Blobs not inside another (the RSAPublicKey inside a SubjectPublicKeyInfo is one key)."""
    out: list[Blob] = []
    for b in sorted(blobs, key=lambda b: (b[0], -b[1])):
        if not out or b[0] >= out[-1][0] + out[-1][1]:
            out.append(b)
    return out


def _capi_blob(data: bytes, off: int) -> Iterator[Blob]:
    """CryptoAPI BLOBHEADER (type, version, reserved, ALG_ID) followed by RSAPUBKEY / DSSPUBKEY."""
    if off < 8 or off + 12 > len(data):
        return
    btype, ver, reserved, alg = struct.unpack_from("<BBHI", data, off - 8)
    bits, exp = struct.unpack_from("<II", data, off + 4)
    magic = data[off : off + 4]
    if btype not in (6, 7) or ver not in (2, 3) or reserved or alg not in _CAPI_ALGS:
        return
    if (btype == 7) != magic.endswith(b"2") or not (512 <= bits <= 16384 and bits % 8 == 0):
        return
    n, h = bits // 8, bits // 16
    if magic.startswith(b"RSA"):
        if exp < 3 or not exp & 1:
            return
        size = 20 + (n if btype == 6 else 2 * n + 5 * h)
    else:
        size = 16 + (3 * n + 44 if btype == 6 else 2 * n + 64)
    name = "PUBLICKEYBLOB" if btype == 6 else "PRIVATEKEYBLOB"
    algo = _CAPI_ALGS[alg]
    yield off - 8, min(size, len(data) - off + 8), algo, f"{algo} {name}, {bits}-bit"


def _bcrypt_blob(data: bytes, off: int) -> Iterator[Blob]:
    """CNG BCRYPT_RSAKEY_BLOB: magic, BitLength, cbPublicExp, cbModulus, cbPrime1, cbPrime2."""
    if off + 24 > len(data) or not data.startswith(b"RSA", off):
        return
    bits, e_len, n_len, p_len, q_len = struct.unpack_from("<5I", data, off + 4)
    if not (512 <= bits <= 16384 and 1 <= e_len <= 8 and n_len == (bits + 7) // 8):
        return
    private = data[off + 3] != ord("1")
    if private != (p_len > 0 and q_len > 0) or p_len > n_len or q_len > n_len:
        return
    size = 24 + e_len + n_len + (p_len + q_len if private else 0)
    label = "BCRYPT_RSAPRIVATE_BLOB" if private else "BCRYPT_RSAPUBLIC_BLOB"
    yield off, min(size, len(data) - off), "RSA", f"RSA {label}, {bits}-bit"


def _tlv(data: bytes, off: int, end: int) -> tuple[int, int, int] | None:
    """(tag, content start, content end) of the DER element at ``off``, if it fits before ``end``."""
    if off + 2 > end:
        return None
    tag, first = data[off], data[off + 1]
    if first < 0x80:
        start, length = off + 2, first
    elif first in (0x81, 0x82) and off + 2 + (first - 0x80) <= end:
        n = first - 0x80
        start, length = off + 2 + n, int.from_bytes(data[off + 2 : off + 2 + n], "big")
    else:
        return None
    return (tag, start, start + length) if start + length <= end else None


def _der_items(data: bytes, start: int, end: int, limit: int) -> list[tuple[int, int, int]]:
    """Up to ``limit`` consecutive elements from ``start``; [] unless they parse (and end at ``end``)."""
    out: list[tuple[int, int, int]] = []
    off = start
    while off < end and len(out) < limit:
        item = _tlv(data, off, end)
        if item is None:
            return []
        out.append(item)
        off = item[2]
    return out if off == end or len(out) == limit else []


def _integer(data: bytes, item: tuple[int, int, int]) -> int:
    return int.from_bytes(data[item[1] : item[2]], "big")


def _rsa_public(data: bytes, start: int, end: int) -> int | None:
    """Modulus bits of an RSAPublicKey body {n, e} (n >= 512 bits, e odd and >= 3), else None."""
    items = _der_items(data, start, end, 3)
    if len(items) != 2 or items[0][0] != 2 or items[1][0] != 2 or items[1][2] - items[1][1] > 8:
        return None
    n, e = _integer(data, items[0]), _integer(data, items[1])
    return n.bit_length() if n.bit_length() >= 512 and e >= 3 and e & 1 else None


def _der_key(data: bytes, off: int) -> tuple[int, str, str] | None:
    """(size, algorithm, detail) of a DER RSA/DSA/EC key at ``off``: PKCS#1, SPKI or PKCS#8."""
    top = _tlv(data, off, len(data))
    if top is None or top[2] - top[1] < 32:  # an Ed25519 SubjectPublicKeyInfo has 42 bytes
        return None
    _, start, end = top
    size = end - off
    bits = _rsa_public(data, start, end)
    if bits:
        return size, "RSA", f"RSA public key (PKCS#1 DER), {bits}-bit"
    items = _der_items(data, start, end, 9)
    tags = [t for t, _, _ in items]
    if len(items) == 9 and set(tags) == {2} and _integer(data, items[0]) == 0:
        bits = _integer(data, items[1]).bit_length()
        return (size, "RSA", f"RSA private key (PKCS#1 DER), {bits}-bit") if bits >= 512 else None
    if tags == [0x30, 0x03] and (algo := _alg_oid(data, items[0])):
        inner = _tlv(data, items[1][1] + 1, items[1][2])
        bits = _rsa_public(data, inner[1], inner[2]) if algo == "RSA" and inner and inner[0] == 0x30 else None
        return size, algo, f"{algo} public key (SubjectPublicKeyInfo DER)" + (f", {bits}-bit" if bits else "")
    if (
        tags[:3] == [0x02, 0x30, 0x04]
        and _integer(data, items[0]) == 0
        and (algo := _alg_oid(data, items[1]))
    ):
        return size, algo, f"{algo} private key (PKCS#8 DER)"
    return None


def _alg_oid(data: bytes, item: tuple[int, int, int]) -> str | None:
    """The key algorithm an AlgorithmIdentifier names, if it is one we know."""
    oid = _tlv(data, item[1], item[2])
    return _OIDS.get(data[oid[1] : oid[2]]) if oid is not None and oid[0] == 6 else None


def _pem_key(kind: str, body: bytes) -> tuple[str, str]:
    """(algorithm, detail) of a PEM key; that of 'PUBLIC KEY' / 'PRIVATE KEY' comes from the DER
    inside ("unknown" when encrypted or of an algorithm without an OID here)."""
    algo = next((a for a in ("RSA", "DSA", "EC") if kind.startswith(a)), "")
    try:
        der = base64.b64decode(b"".join(body.split()), validate=True)
    except ValueError:
        der = b""
    inner = _der_key(der, 0) if der else None
    if inner is not None:
        return inner[1], f"PEM {kind}: {inner[2]}"
    return algo or "unknown", f"PEM {kind}"


# -- detection -----------------------------------------------------------------------------------


@dataclass
class _Found:
    """A hit before function attribution and naming."""

    algorithm: str
    kind: HitKind
    va: int
    size: int
    detail: str
    functions: set[int] = field(default_factory=set)
    check: str = ""  # "tea" / "chacha" / "shared": decided per using function in _name
    shared: str = ""  # for "shared": the other algorithm with these values
    immediates: tuple[tuple[int, int], ...] = ()  # (address, value index) of the constants in code


def detect_crypto(binary: Binary, program: Program | None = None) -> list[CryptoHit]:
    """Every crypto table, constant, loop, instruction and key blob in ``binary``.

    Args:
        binary: the loaded image; every section with file bytes is scanned.
        program: its recovered functions (:func:`attributor.disasm.recover.recover`). Enables
            function attribution, loop and instruction detection and the TEA check; ``None`` runs
            the byte scans only.

    Returns:
        Hits sorted by address, then algorithm; a table or blob that several functions use
        appears once per function.

    Example:
        >>> binary = load_path("sample.exe")
        >>> {h.algorithm for h in detect_crypto(binary, recover(binary))}
        {'AES', 'CRC32', 'RSA'}
    """
    idx = _index()
    code = _CodeMap(program) if program is not None else None
    found: list[_Found] = []
    occs: list[_Occ] = []
    for sec in binary.sections:
        if sec.data:
            _scan_section(sec, idx, code, found, occs)
    loose = _loose_clusters(occs, 512 if code is None else 64)
    code_hits: list[CryptoHit] = []
    if code is not None:
        code_hits = _attribute(code, found, loose)
    found += _constant_hits(occs, loose, idx.sets)
    names = _Namer(program, found)
    hits = [h for f in found for h in names.hits(f)] + code_hits
    return sorted(set(hits), key=lambda h: (h.address, h.algorithm, h.kind, h.function or 0))


def _scan_section(
    sec: Section, idx: _Index, code: _CodeMap | None, found: list[_Found], occs: list[_Occ]
) -> None:
    """Tables and key blobs of one section into ``found``; constants outside them into ``occs``."""
    data = sec.data
    runs, const64 = _table_runs(data, idx)
    for r in runs:
        t = idx.tables[r.sig]
        found.append(
            _Found(_table_algorithm(t, r), HitKind.TABLE, sec.va + r.offset, 4 * r.words, _table_detail(t, r))
        )
    blobs = _outermost(list(_key_blobs(data)))
    found += [_Found(algo, HitKind.KEY_BLOB, sec.va + off, size, detail) for off, size, algo, detail in blobs]
    spans = [(r.offset, r.offset + 4 * r.words) for r in runs]
    taken = _Spans(spans + [(b[0], b[0] + b[1]) for b in blobs])
    wide = [(off, sid, vi) for off, sid, vi in const64 if not taken.covers(off, off + 8)]
    taken = _Spans(spans + [(o, o + 8) for o, _, _ in wide])  # a 64-bit constant hides its halves
    narrow = list(zip(*(a.tolist() for a in _lookup(data, 4, idx)), strict=True))
    for width, group in ((8, wide), (4, narrow)):
        for off, sid, vi in group:
            if width == 4 and taken.covers(off, off + 4):
                continue
            va = sec.va + off
            fn = code.holder(va, width) if code is not None and sec.executable else None
            occs.append(_Occ(va, sid, vi, width, sec.executable, fn))


def _table_algorithm(t: cc.Table, run: _Run) -> str:
    """BLAKE2b's schedule has 12 rows (rows 10 and 11 repeat 0 and 1), BLAKE2s's 10."""
    if t.algorithm != "BLAKE2":
        return t.algorithm
    return "BLAKE2b" if 4 * run.words // 16 >= 11 else "BLAKE2"  # 10 rows: BLAKE2s, or BLAKE2b using r % 10


def _attribute(code: _CodeMap, found: list[_Found], loose: list[list[_Occ]]) -> list[CryptoHit]:
    """Fill in the functions that use tables, blobs and data constants; returns the code hits."""
    spans = [(f.va, f.va + f.size) for f in found] + [(c[0].va - 64, c[-1].va + c[-1].width) for c in loose]
    lo = min((s[0] for s in spans), default=0)
    hi = max((s[1] for s in spans), default=0)
    scan = _scan_code(code, lo, hi)
    refs = sorted(scan.refs)
    where = [r[0] for r in refs]
    for f in found:
        i, j = bisect.bisect_left(where, f.va), bisect.bisect_left(where, f.va + f.size)
        f.functions = {r[2] for r in refs[i:j]}
    ends: dict[int, set[int]] = defaultdict(
        set
    )  # one past a table: the loop bound of code walking that table
    for f in found:
        ends[f.va + f.size] |= f.functions
    for f in found:
        i, j = bisect.bisect_left(where, f.va), bisect.bisect_left(where, f.va + f.size)
        f.functions = {fn for t, size, fn in refs[i:j] if size or t != f.va or fn not in ends[t]}
    for c in loose:
        i = bisect.bisect_left(where, c[0].va - 64)
        j = bisect.bisect_left(where, c[-1].va + c[-1].width)
        for t, size, fn in refs[i:j]:
            for o in c:
                # a load covers the constants inside it; a bare address, the rest of the cluster
                if (size and t <= o.va and o.va + o.width <= t + size) or (not size and c[0].va <= t <= o.va):
                    o.users.add(fn)
    return scan.hits


class _Namer:
    """Turns a :class:`_Found` into hits, one per using function, deciding names by code shape."""

    def __init__(self, program: Program | None, found: list[_Found]):
        self.program = program
        self.anchors: dict[str, list[_Found]] = defaultdict(list)
        for f in found:
            if f.kind == HitKind.TABLE or "K constants" in f.detail:
                self.anchors[f.algorithm].append(f)
        self._graph: dict[int, set[int]] | None = None

    def hits(self, f: _Found) -> Iterator[CryptoHit]:
        fns: list[int | None] = [*sorted(f.functions)] or [None]
        for fn in fns:
            algo = self.name(f, fn)
            if algo:
                detail = f.detail
                if f.check == "shared" and algo != f.algorithm:
                    detail = detail.replace(f.algorithm, f"{f.algorithm} / {f.shared}")
                yield CryptoHit(algo, f.kind, f.va, f.size, fn, detail)

    def name(self, f: _Found, fn: int | None) -> str | None:
        if f.check == "tea":
            return _tea_shape(self.program, fn)
        if f.check == "chacha":
            by_layout = _sigma_layout(self.program, fn, f.immediates)
            return by_layout or _vote(self.program, fn, ("ChaCha20", "Salsa20")) or "Salsa20/ChaCha20"
        if f.check == "shared":
            return self._shared(f, fn)
        return f.algorithm

    def _shared(self, f: _Found, fn: int | None) -> str:
        """SHA-512's IV is BLAKE2b's, SHA-256's is BLAKE2s'. The rotations of the using function (or
        its callees) decide; else, when the image holds only one algorithm's K constants or
        BLAKE2 schedule, that one; else the one whose users are fewer call-graph steps away.
        Undecided: "SHA-512/BLAKE2b"."""
        by_shape = _vote(self.program, fn, (f.algorithm, f.shared), least=2)  # init code may be big
        if by_shape:
            return by_shape
        own = self.anchors.get(f.algorithm, [])
        other = self.anchors.get(f.shared, []) + self.anchors.get("BLAKE2", [])
        if not own or not other:
            return f.algorithm if own or not other else f.shared
        d_own, d_other = self._distance(fn, own), self._distance(fn, other)
        if d_own == d_other:
            return f"{f.algorithm}/{f.shared}"
        return f.algorithm if d_own < d_other else f.shared

    def _distance(self, fn: int | None, anchors: list[_Found]) -> int:
        users = {u for a in anchors for u in a.functions}
        steps = self._steps(fn, users) if fn is not None and users else None
        return 1 << 30 if steps is None else steps

    def _steps(self, start: int, goal: set[int], limit: int = 3) -> int | None:
        """Call-graph steps (either direction) from ``start`` to a function in ``goal``."""
        graph = self._call_graph()
        frontier, seen = {start}, {start}
        for step in range(limit + 1):
            if frontier & goal:
                return step
            frontier = {n for f in frontier for n in graph.get(f, ())} - seen
            seen |= frontier
        return None

    def _call_graph(self) -> dict[int, set[int]]:
        if self._graph is None:
            self._graph = defaultdict(set)
            for f in self.program.functions.values() if self.program else ():
                for c in f.calls:
                    self._graph[f.start].add(c)
                    self._graph[c].add(f.start)
        return self._graph


# -- key material --------------------------------------------------------------------------------

_DIGESTS = frozenset(
    {
        "CRC32",
        "CRC32C",
        "CRC-64",
        "xxHash",
        "MD5",
        "SHA-1",
        "SHA-256",
        "SHA-512",
        "BLAKE2",
        "BLAKE2b",
        "BLAKE2s",
    }
)
_WINDOWS = (32, 24, 16)
_ENTROPY_SLACK = 0.3  # bits below log2(n); about 98 % of random 16- and 32-byte windows pass


def extract_key_material(
    binary: Binary, hits: list[CryptoHit], program: Program | None = None
) -> list[KeyMaterial]:
    """Key blobs, and high-entropy blobs that cipher code references.

    Cipher code is every function with a hit of a cipher or decoding loop (not of a digest or
    checksum: CRC, xxHash, MD5, SHA, BLAKE2) and its direct callers, which usually pass the key
    in. Each address such code names outside executable sections and outside every hit is tried
    with windows of 32, 24 and 16 bytes, cut at the next address that code names; the longest
    window whose byte entropy is within 0.3 bit of the maximum (log2 of its length), that is not
    all printable ASCII and not an arithmetic progression, is reported, unless random-looking
    bytes continue past it or precede it (an unknown table, not a key).

    Returns:
        :class:`KeyMaterial` sorted by address; ``sha256`` is the hex digest of its bytes.
    """
    out = {
        h.address: KeyMaterial(h.address, h.size, _sha(binary.read(h.address, h.size)), h.function)
        for h in hits
        if h.kind == HitKind.KEY_BLOB
    }
    if program is not None:
        for km in _referenced_blobs(binary, hits, program):
            out.setdefault(km.address, km)
    return sorted(out.values(), key=lambda k: k.address)


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _referenced_blobs(binary: Binary, hits: list[CryptoHit], program: Program) -> Iterator[KeyMaterial]:
    cipher = {h.function for h in hits if h.function is not None and h.algorithm not in _DIGESTS}
    users = cipher | {f.start for f in program.functions.values() if cipher.intersection(f.calls)}
    taken = _Spans((h.address, h.address + h.size) for h in hits if h.kind != HitKind.XOR_LOOP)
    code = _CodeMap(program)
    refs: dict[int, int] = {}
    for fn in sorted(users):
        for ins in program.functions[fn].insns if fn in program.functions else ():
            for t, _ in code.targets(ins):
                refs.setdefault(t, fn)
    targets = sorted(refs)
    for i, t in enumerate(targets):
        if binary.is_executable(t) or taken.covers(t, t + 1):
            continue
        limit = targets[i + 1] - t if i + 1 < len(targets) else _WINDOWS[0]
        n = _key_length(binary.read(t, min(limit, _WINDOWS[0])))
        if n and not _in_larger_blob(binary, t, n):
            yield KeyMaterial(t, n, _sha(binary.read(t, n)), refs[t])


def _in_larger_blob(binary: Binary, t: int, n: int) -> bool:
    """Random-looking bytes going on past the window (64 more) or before it (32): a table that no
    signature knows (an S-box, precomputed powers), not a key."""
    after = binary.read(t + n, 64)
    before = binary.read(t - 32, 32) if t >= 32 else b""
    if len(after) == 64 and _random_looking(after[:32]) and _random_looking(after[32:]):
        return True
    return len(before) == 32 and _random_looking(before)


def _key_length(raw: bytes) -> int:
    """The longest window (32, 24, 16 bytes) at the start of ``raw`` that looks random, else 0."""
    return next((n for n in _WINDOWS if len(raw) >= n and _random_looking(raw[:n])), 0)


def _random_looking(b: bytes) -> bool:
    n = len(b)
    entropy = -sum(c / n * math.log2(c / n) for c in Counter(b).values())
    if entropy < math.log2(n) - _ENTROPY_SLACK or all(32 <= c < 127 for c in b):
        return False
    return len({(b[i + 1] - b[i]) & 0xFF for i in range(n - 1)}) > 1
