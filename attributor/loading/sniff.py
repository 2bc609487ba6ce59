"""Format sniffing from the first bytes, before any parser touches the file.

Only PE and ELF for x86 / x86-64 pass. Everything else is named (so the user sees "zip archive",
not "unsupported") and rejected with :class:`UnsupportedFormat`; structurally broken headers of a
recognised format raise :class:`MalformedBinary`.
"""

from __future__ import annotations

import struct

from attributor.errors import MalformedBinary, UnsupportedFormat

_ELF_MACHINES = {3: "x86", 62: "x86-64"}
_PE_MACHINES = {0x14C: "x86", 0x8664: "x86-64"}

# Magic numbers of things analysts commonly feed by mistake: named for a useful message.
_OTHER_MAGICS: list[tuple[int, bytes, str]] = [
    (0, b"PK\x03\x04", "zip archive"),
    (0, b"PK\x05\x06", "zip archive (empty)"),
    (0, b"%PDF", "PDF document"),
    (0, b"\xff\xd8\xff", "JPEG image"),
    (0, b"\x89PNG", "PNG image"),
    (0, b"GIF8", "GIF image"),
    (0, b"\x1f\x8b", "gzip data"),
    (0, b"BZh", "bzip2 data"),
    (0, b"\xfd7zXZ\x00", "xz data"),
    (0, b"7z\xbc\xaf\x27\x1c", "7-zip archive"),
    (0, b"Rar!", "RAR archive"),
    (0, b"#!", "script"),
    (0, b"\xca\xfe\xba\xbe", "Mach-O universal binary / Java class"),
    (0, b"\xcf\xfa\xed\xfe", "Mach-O binary"),
    (0, b"\xce\xfa\xed\xfe", "Mach-O binary"),
    (0, b"\xd0\xcf\x11\xe0", "OLE2 document"),
    (0, b"dex\n", "Android DEX"),
    (257, b"ustar", "tar archive"),
]


def sniff(data: bytes) -> tuple[str, str]:
    """Return ``(format, arch)`` for a supported file, else raise a typed error."""
    if len(data) == 0:
        raise UnsupportedFormat("empty file")
    if data[:4] == b"\x7fELF":
        return "ELF", _sniff_elf(data)
    if data[:2] == b"MZ":
        return "PE", _sniff_pe(data)
    for off, magic, name in _OTHER_MAGICS:
        if data[off : off + len(magic)] == magic:
            raise UnsupportedFormat(f"unsupported file type: {name}")
    if _looks_textual(data[:4096]):
        raise UnsupportedFormat("unsupported file type: text")
    raise UnsupportedFormat("unsupported file type: not a PE or ELF executable")


def _looks_textual(head: bytes) -> bool:
    if not head:
        return False
    printable = sum(1 for c in head if 32 <= c < 127 or c in (9, 10, 13))
    return printable / len(head) > 0.95


def _sniff_elf(data: bytes) -> str:
    if len(data) < 52:
        raise MalformedBinary(f"truncated ELF header ({len(data)} bytes)")
    ei_class, ei_data = data[4], data[5]
    if ei_class not in (1, 2):
        raise MalformedBinary(f"ELF with invalid class {ei_class}")
    if ei_data != 1:
        raise UnsupportedFormat("big-endian ELF is not supported (x86 / x86-64 only)")
    if ei_class == 2 and len(data) < 64:
        raise MalformedBinary(f"truncated ELF64 header ({len(data)} bytes)")
    (machine,) = struct.unpack_from("<H", data, 18)
    if machine not in _ELF_MACHINES:
        raise UnsupportedFormat(f"ELF for machine {machine} is not supported (x86 / x86-64 only)")
    arch = _ELF_MACHINES[machine]
    if (arch == "x86-64") != (ei_class == 2):
        raise MalformedBinary(f"ELF class {ei_class} does not fit machine {arch}")
    return arch


def _sniff_pe(data: bytes) -> str:
    if len(data) < 0x40:
        raise MalformedBinary(f"truncated DOS header ({len(data)} bytes)")
    (lfanew,) = struct.unpack_from("<I", data, 0x3C)
    if lfanew + 4 > len(data):
        raise MalformedBinary(f"e_lfanew 0x{lfanew:x} points past the end of the file ({len(data)} bytes)")
    if data[lfanew : lfanew + 4] != b"PE\0\0":
        raise UnsupportedFormat("MZ executable without a PE header (DOS program)")
    if lfanew + 24 > len(data):
        raise MalformedBinary(f"truncated COFF header at 0x{lfanew + 4:x} ({len(data)} bytes)")
    (machine,) = struct.unpack_from("<H", data, lfanew + 4)
    if machine not in _PE_MACHINES:
        raise UnsupportedFormat(f"PE for machine 0x{machine:x} is not supported (x86 / x86-64 only)")
    return _PE_MACHINES[machine]
