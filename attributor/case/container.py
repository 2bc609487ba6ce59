"""The bundle container: a canonical zip writer and a reader for zips crafted to do harm.

A canonical zip (what :func:`canonical_zip` writes) has its members sorted by name, stored
uncompressed (deflate output differs between zlib builds), time 1980-01-01 00:00, mode 0644,
version 2.0, no extra fields, no comments, no data descriptors, no zip64. It is a function of the
member names and bytes alone, so :func:`read_bundle` can tell whether a file is *exactly* the
canonical serialisation of what it holds: any byte changed in a header, a name, padding or the
directory shows up as ``canonical=False`` even when the member contents survive.
"""

from __future__ import annotations

import io
import os
import re
import struct
import zipfile
import zlib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from attributor.archive import escape_name
from attributor.errors import ArchiveLimitExceeded, BundleError, FileAccessError

_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*(?:/[A-Za-z0-9][A-Za-z0-9._-]*)*")
_MAX_NAME = 128
_DOS_DATE, _DOS_TIME = (0 << 9) | (1 << 5) | 1, 0  # 1980-01-01 00:00:00
_MODE = 0o100644
_LOCAL = struct.Struct("<IHHHHHIIIHH")
_CENTRAL = struct.Struct("<IHHHHHHIIIHHHHHII")
_END = struct.Struct("<IHHHHIIH")
_MAX_ZIP = 0xFFFFFFFF


def valid_name(name: str) -> bool:
    """A member name we write and accept: ASCII ``[A-Za-z0-9._-]`` parts, no dot-first parts."""
    return len(name) <= _MAX_NAME and _NAME.fullmatch(name) is not None


def canonical_zip(members: Mapping[str, bytes]) -> bytes:
    """The one zip serialisation of ``members`` (see the module docstring). Raises ValueError."""
    out, central = io.BytesIO(), io.BytesIO()
    for name in sorted(members):
        data, raw = members[name], name.encode("ascii")
        crc, offset = zlib.crc32(data), out.tell()
        if len(data) > _MAX_ZIP or offset > _MAX_ZIP:
            raise ValueError("bundle too large for a zip without zip64")
        size = len(data)
        out.write(_LOCAL.pack(0x04034B50, 20, 0, 0, _DOS_TIME, _DOS_DATE, crc, size, size, len(raw), 0))
        out.write(raw + data)
        # signature, made by (Unix, 2.0), needed (2.0), flags, method, time, date, crc, sizes,
        # name length, extra, comment, disk, internal and external attributes, local header offset
        fields = (0x02014B50, 0x0314, 20, 0, 0, _DOS_TIME, _DOS_DATE, crc, size, size, len(raw), 0, 0, 0, 0)
        central.write(_CENTRAL.pack(*fields, _MODE << 16, offset) + raw)
    start, cd = out.tell(), central.getvalue()
    out.write(cd)
    out.write(_END.pack(0x06054B50, 0, 0, len(members), len(members), len(cd), start, 0))
    return out.getvalue()


@dataclass(frozen=True)
class BundleLimits:
    """Caps on a bundle given for verification; one hit refuses it (:class:`ArchiveLimitExceeded`)."""

    max_bundle_bytes: int = 1 << 30
    max_member_bytes: int = 512 << 20
    max_members: int = 256


@dataclass(frozen=True)
class BundleContents:
    """A bundle's members, read and checked for safety (not yet for signature or hashes).

    ``canonical`` is False when the file is not byte-for-byte :func:`canonical_zip` of its members;
    ``first_difference`` is then the first differing offset. Member names are safe (:func:`valid_name`).
    """

    members: dict[str, bytes]
    canonical: bool
    first_difference: int | None
    size: int


def read_bundle(path: str | os.PathLike[str], limits: BundleLimits | None = None) -> BundleContents:
    """Read a bundle that may have been crafted to harm the reader.

    Raises:
        FileAccessError: the file cannot be read or is not a regular file.
        ArchiveLimitExceeded: the file, a member, or the member count is over ``limits``.
        BundleError: not a zip; a member name that is absolute, has ``..``/empty/hidden parts or
            odd characters; duplicate names; links or other non-files; encryption; compression;
            a CRC or size mismatch.
    """
    lim = limits or BundleLimits()
    p = Path(path)
    data = _read_file(p, lim.max_bundle_bytes)
    try:
        members = _members(data, lim)
    except (ArchiveLimitExceeded, BundleError) as e:
        raise type(e)(f"{p}: {e}") from None
    except Exception as e:  # zipfile raises many types on hostile input
        text = escape_name(" ".join(str(e).split()), 200)
        raise BundleError(f"{p}: corrupt zip: {type(e).__name__}: {text}") from None
    rebuilt = canonical_zip(members)
    if rebuilt == data:
        return BundleContents(members, True, None, len(data))
    return BundleContents(members, False, _first_difference(rebuilt, data), len(data))


def _first_difference(a: bytes, b: bytes, chunk: int = 1 << 16) -> int:
    at = 0
    while a[at : at + chunk] == b[at : at + chunk] and at < min(len(a), len(b)):
        at += chunk
    end = min(len(a), len(b), at + chunk)
    return next((i for i in range(at, end) if a[i] != b[i]), end)


def _read_file(p: Path, cap: int) -> bytes:
    try:
        fd = os.open(p, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError as e:
        raise FileAccessError(f"{p}: {e.strerror or e}") from None
    with os.fdopen(fd, "rb") as f:
        st = os.fstat(f.fileno())
        if not (st.st_mode & 0o170000 == 0o100000):
            raise FileAccessError(f"{p}: not a regular file")
        if st.st_size > cap:
            raise ArchiveLimitExceeded(f"{p}: {st.st_size} bytes, more than {cap} (max_bundle_bytes)")
        data = f.read(cap + 1)
    if len(data) > cap:
        raise ArchiveLimitExceeded(f"{p}: more than {cap} bytes (max_bundle_bytes)")
    return data


def _members(data: bytes, lim: BundleLimits) -> dict[str, bytes]:
    """Parse and check every entry, then read them (CRC-checked by zipfile)."""
    if len(data) < _END.size or data[-_END.size : -_END.size + 4] != b"PK\x05\x06":
        raise BundleError("not a case bundle: no zip end record at the end of the file")
    entries = _END.unpack_from(data, len(data) - _END.size)[4]
    if entries > lim.max_members:
        raise ArchiveLimitExceeded(f"{entries} entries, more than {lim.max_members} (max_members)")
    members: dict[str, bytes] = {}
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        infos = zf.infolist()
        if len(infos) > lim.max_members:
            raise ArchiveLimitExceeded(f"{len(infos)} entries, more than {lim.max_members} (max_members)")
        for info in infos:
            _check_entry(info, members, len(data), lim)
            members[info.filename] = b""
        for info in infos:
            members[info.filename] = zf.read(info)
    return members


def _check_entry(info: zipfile.ZipInfo, seen: Mapping[str, bytes], total: int, lim: BundleLimits) -> None:
    name = escape_name(info.filename)
    if not valid_name(info.filename):
        raise BundleError(
            f"member {name!r}: not a bundle member name (absolute, '..', hidden, odd characters)"
        )
    if info.filename in seen:
        raise BundleError(f"member {name!r}: listed twice")
    kind = (info.external_attr >> 16) & 0o170000
    if info.is_dir() or kind not in (0, 0o100000):
        raise BundleError(f"member {name!r}: a link, folder or other non-file (mode 0o{kind:o})")
    if info.flag_bits & 0x1:
        raise BundleError(f"member {name!r}: encrypted")
    if info.compress_type != zipfile.ZIP_STORED:
        raise BundleError(f"member {name!r}: compression method {info.compress_type}; bundles store members")
    if info.file_size > lim.max_member_bytes:
        raise ArchiveLimitExceeded(
            f"member {name!r}: {info.file_size} bytes, more than {lim.max_member_bytes} (max_member_bytes)"
        )
    if info.file_size != info.compress_size or info.file_size > total:
        raise BundleError(f"member {name!r}: declares {info.file_size} bytes, the file holds {total}")
