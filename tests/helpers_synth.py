"""Hand-built minimal ELF and PE images around arbitrary code bytes (for hostile-input tests).

Both formats put the code at ``CODE_VA`` (executable) and optional data at ``DATA_VA``
(read-only), so the same position-dependent code bytes work in either. The ELF has program
headers only (no section headers); the PE has ``.text`` and ``.rdata`` and no directories.
"""

from __future__ import annotations

import struct

IMAGE_BASE = 0x400000
CODE_VA = 0x401000
DATA_VA = 0x402000


def make_elf(code: bytes, data: bytes = b"", bits: int = 64, entry: int = CODE_VA) -> bytes:
    segs = [(0x1000, CODE_VA, code, 5)] + ([(0x2000, DATA_VA, data, 4)] if data else [])
    if bits == 64:
        ehdr = struct.pack(
            "<4sBBBBB7sHHIQQQIHHHHHH",
            b"\x7fELF",
            2,
            1,
            1,
            0,
            0,
            b"\0" * 7,
            2,
            62,
            1,
            entry,
            64,
            0,
            0,
            64,
            56,
            len(segs),
            64,
            0,
            0,
        )
        phdrs = b"".join(
            struct.pack("<IIQQQQQQ", 1, fl, off, va, va, len(body), len(body), 0x1000)
            for off, va, body, fl in segs
        )
    else:
        ehdr = struct.pack(
            "<4sBBBBB7sHHIIIIIHHHHHH",
            b"\x7fELF",
            1,
            1,
            1,
            0,
            0,
            b"\0" * 7,
            2,
            3,
            1,
            entry,
            52,
            0,
            0,
            52,
            32,
            len(segs),
            40,
            0,
            0,
        )
        phdrs = b"".join(
            struct.pack("<IIIIIIII", 1, off, va, va, len(body), len(body), fl, 0x1000)
            for off, va, body, fl in segs
        )
    out = bytearray(ehdr + phdrs)
    for off, _, body, _ in segs:
        out += b"\0" * (off - len(out)) + body
    return bytes(out)


def _align(n: int, a: int = 0x200) -> int:
    return (n + a - 1) // a * a


def make_pe(code: bytes, data: bytes = b"", bits: int = 64, entry: int = CODE_VA) -> bytes:
    secs = [(b".text", 0x1000, code, 0x60000020)]
    if data:
        secs.append((b".rdata", 0x2000, data, 0x40000040))
    opt_size = 240 if bits == 64 else 224
    dos = b"MZ" + b"\0" * 0x3A + struct.pack("<I", 0x40)
    machine, chars = (0x8664, 0x22) if bits == 64 else (0x14C, 0x102)
    coff = struct.pack("<4sHHIIIHH", b"PE\0\0", machine, len(secs), 0, 0, 0, opt_size, chars)
    size_image = 0x1000 * (1 + len(secs))
    head = (1, 0, _align(len(code)), _align(len(data)), 0, entry - IMAGE_BASE, 0x1000)
    tail = (6, 0, 0, 0, 6, 0, 0, size_image, 0x200, 0, 3)
    if bits == 64:
        opt = struct.pack(
            "<HBBIIIIIQIIHHHHHHIIIIHHQQQQII",
            0x20B,
            *head,
            IMAGE_BASE,
            0x1000,
            0x200,
            *tail,
            0x8160,
            0x100000,
            0x1000,
            0x100000,
            0x1000,
            0,
            16,
        )
    else:
        opt = struct.pack(
            "<HBBIIIIIIIIIHHHHHHIIIIHHIIIIII",
            0x10B,
            *head,
            0x2000,
            IMAGE_BASE,
            0x1000,
            0x200,
            *tail,
            0x8140,
            0x100000,
            0x1000,
            0x100000,
            0x1000,
            0,
            16,
        )
    opt += b"\0" * (opt_size - len(opt))
    shdrs, bodies, raw = b"", b"", 0x200
    for name, rva, body, ch in secs:
        rsize = _align(len(body))
        shdrs += struct.pack("<8sIIIIIIHHI", name, len(body), rva, rsize, raw, 0, 0, 0, 0, ch)
        bodies += body + b"\0" * (rsize - len(body))
        raw += rsize
    hdr = dos + coff + opt + shdrs
    return hdr + b"\0" * (0x200 - len(hdr)) + bodies


def rel32(insn_end: int, target: int) -> bytes:
    return struct.pack("<i", target - insn_end)
