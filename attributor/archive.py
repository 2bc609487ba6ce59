"""Archives as analysts exchange samples, read without trusting a byte of them.

Formats: zip (stored, deflate, bzip2, lzma; ZipCrypto or WinZip AES encrypted with the convention
password ``infected``), tar (plain, gzip, bzip2, xz), and one gzip/bzip2/xz-compressed file.
An archive inside an archive is expanded too, up to :attr:`ArchiveLimits.max_depth` levels.

Contract (see ``docs/archives.md``):
  * the whole archive is extracted, streamed and metered, into a private temporary folder before
    any member is handed out, so an archive that breaks a cap is refused whole
    (:class:`ArchiveLimitExceeded`) and nobody ever sees half of a zip bomb;
  * member names never touch the file system: the n-th member is written to ``<tmp>/<n>`` with
    ``O_EXCL | O_NOFOLLOW`` and made read-only, so ``../``, absolute paths and duplicate names
    cannot land anywhere else; the name is kept only as escaped metadata (:func:`escape_name`);
  * links, devices and fifos are skipped with a reason, directories are ignored;
  * every failure is an :class:`ArchiveError` (or :class:`FileAccessError` for real I/O errors)
    with a one-line message; the temporary folder is removed when the ``with`` block ends, also
    on error.

Example:
    >>> with open_archive("samples.zip") as members:  # doctest: +SKIP
    ...     for m in members:
    ...         print(m.name_escaped, m.sha256, m.size, m.path)
"""

from __future__ import annotations

import bz2
import gzip
import hashlib
import io
import lzma
import os
import stat
import struct
import tarfile
import tempfile
import unicodedata
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, BinaryIO, Protocol

from attributor.errors import ArchiveError, ArchiveLimitExceeded, AttributorError, FileAccessError

DEFAULT_PASSWORDS: tuple[bytes, ...] = (b"infected",)
SEPARATOR = "!"  # between the names of nested members: "inner.zip!sample.exe"

_CHUNK = 1 << 16
_HEAD = 512
_ZIP_AES = 99  # WinZip AES "compression method"
_CD_BYTES_PER_ENTRY = 512  # a central directory larger than this per allowed entry is refused unread
_TAR_META_BYTES = 1 << 20  # one pax / GNU long-name header; tarfile reads these whole into memory
_TAR_OVERHEAD_PER_ENTRY = 2048  # header, pax header and padding of one tar entry
_SUFFIXES = {"gzip": (".gz", ".gzip"), "bzip2": (".bz2", ".bzip2"), "xz": (".xz",)}
_UNSAFE_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"})
_ESCAPES = {"\\": "\\\\", "\n": "\\n", "\r": "\\r", "\t": "\\t", SEPARATOR: "\\x21"}


@dataclass(frozen=True)
class ArchiveLimits:
    """Caps on one archive, nested archives included. Any of them hit refuses the archive whole."""

    max_total_bytes: int = 1 << 30  # everything written to the temporary folder, all levels together
    max_member_bytes: int = 256 << 20  # one member, uncompressed (the loader's own file limit)
    max_ratio: float = 100.0  # uncompressed : compressed, per zip member and per compressed stream
    ratio_grace_bytes: int = 1 << 20  # the ratio is only checked past this many uncompressed bytes
    max_depth: int = 3  # archive levels; the archive given is level 1
    max_entries: int = 10_000  # entries of all levels together, directories and links included
    max_name_chars: int = 255  # escaped member names are cut to this many characters


DEFAULT_ARCHIVE_LIMITS = ArchiveLimits()


@dataclass(frozen=True)
class ArchiveMember:
    """One extracted file. ``path`` is read-only and lives only as long as the ``with`` block."""

    index: int  # extraction order over all levels; also the temporary file's name
    path: Path
    name_escaped: str  # "sample.exe", or "inner.zip!sample.exe" for a nested member
    sha256: str
    size: int
    depth: int  # 1: in the archive given; 2: in an archive inside it; ...


@dataclass(frozen=True)
class SkippedMember:
    """An entry that was not extracted: a symlink, hardlink, device, fifo or unknown tar type."""

    name_escaped: str
    reason: str


@dataclass
class ArchiveContents:
    """What :func:`open_archive` yields: iterate it for the members; ``skipped`` says what was left out."""

    members: list[ArchiveMember] = field(default_factory=list)
    skipped: list[SkippedMember] = field(default_factory=list)

    def __iter__(self) -> Iterator[ArchiveMember]:
        return iter(self.members)

    def __len__(self) -> int:
        return len(self.members)


# -- sniffing and names --------------------------------------------------------------------------


def archive_kind(head: bytes) -> str | None:
    """``"zip"``, ``"tar"``, ``"gzip"``, ``"bzip2"``, ``"xz"`` from a file's first 512 bytes, else None."""
    if head[:4] in (b"PK\x03\x04", b"PK\x05\x06"):
        return "zip"
    if head[:3] == b"\x1f\x8b\x08":
        return "gzip"
    if head[:3] == b"BZh" and head[3:4] in b"123456789" and head[4:10] in (b"1AY&SY", b"\x17rE8P\x90"):
        return "bzip2"
    if head[:6] == b"\xfd7zXZ\x00":
        return "xz"
    return "tar" if _is_tar_header(head[:_HEAD]) else None


def is_archive(source: bytes | str | os.PathLike[str]) -> bool:
    """Whether ``source`` (a path, or a file's first bytes) is an archive :func:`open_archive` reads.

    A path that cannot be read, or is not a regular file, is not an archive (the loader will say why).
    """
    if isinstance(source, bytes):
        return archive_kind(source[:_HEAD]) is not None
    try:
        with _open_regular(Path(source)) as f:
            return archive_kind(f.read(_HEAD)) is not None
    except (OSError, AttributorError):
        return False


def escape_name(name: str, max_chars: int = 255) -> str:
    """A member name made safe to print and store: one line, no bidi tricks, at most ``max_chars``.

    Backslash, ``!`` (the nesting separator), control, format (bidi overrides, zero-width), private,
    unassigned and non-ASCII space characters become repr-style escapes (``\\n``, ``\\x00``,
    ``\\u202e``); bytes that were not UTF-8 (``surrogateescape``) become ``\\xNN``. A longer result
    is cut at an escape boundary and ends with ``...[cut, N chars]``.
    """
    pieces: list[str] = []
    used = 0
    for ch in name:
        piece = _escape_char(ch)
        if used + len(piece) > max_chars:
            marker = f"...[cut, {len(name)} chars]"
            return "".join(_fit(pieces, max_chars - len(marker))) + marker
        pieces.append(piece)
        used += len(piece)
    return "".join(pieces)


def _fit(pieces: list[str], budget: int) -> list[str]:
    out, used = [], 0
    for piece in pieces:
        if used + len(piece) > budget:
            break
        out.append(piece)
        used += len(piece)
    return out


def _escape_char(ch: str) -> str:
    if ch in _ESCAPES:
        return _ESCAPES[ch]
    category = unicodedata.category(ch)
    if category not in _UNSAFE_CATEGORIES and not (category == "Zs" and ch != " "):
        return ch
    code = ord(ch)
    if 0xDC80 <= code <= 0xDCFF:  # a byte that was not UTF-8, kept by surrogateescape
        return f"\\x{code - 0xDC00:02x}"
    if code < 0x100:
        return f"\\x{code:02x}"
    return f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}"


# -- the public entry point ----------------------------------------------------------------------


@contextmanager
def open_archive(
    path: str | os.PathLike[str],
    limits: ArchiveLimits = DEFAULT_ARCHIVE_LIMITS,
    passwords: tuple[bytes, ...] = DEFAULT_PASSWORDS,
    tmp_root: str | os.PathLike[str] | None = None,
) -> Iterator[ArchiveContents]:
    """Extract ``path`` into a new temporary folder (under ``tmp_root``) and yield its members.

    Raises:
        ArchiveLimitExceeded: a cap of ``limits`` was hit (zip bomb, too deep, too many entries).
        ArchiveError: not an archive we read, corrupt or truncated, or no password fits.
        FileAccessError: the archive cannot be read, or the temporary folder cannot be written.
    """
    p = Path(path)
    try:
        folder = tempfile.TemporaryDirectory(prefix="attributor-archive-", dir=tmp_root)
    except OSError as e:
        raise FileAccessError(f"{p}: cannot create a temporary folder: {e.strerror or e}") from None
    with folder as tmp:
        extractor = _Extractor(Path(tmp), limits, passwords)
        try:
            with _open_regular(p) as f:
                extractor.expand(f, os.fstat(f.fileno()).st_size, (), escape_name(p.name))
        except OSError as e:
            raise FileAccessError(f"{p}: {e.strerror or e}") from None
        except AttributorError as e:
            raise type(e)(f"{p}: {e}") from None
        yield extractor.contents


def _open_regular(path: Path) -> BinaryIO:
    """Open for reading without blocking on a fifo; anything but a regular file is refused."""
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise FileAccessError("not a regular file")
    return os.fdopen(fd, "rb")


# -- extraction ----------------------------------------------------------------------------------


class _Extractor:
    """One :func:`open_archive` call: the shared budget, the next index, what was found."""

    def __init__(self, tmp: Path, limits: ArchiveLimits, passwords: tuple[bytes, ...]) -> None:
        self.tmp, self.limits, self.passwords = tmp, limits, passwords
        self.contents = ArchiveContents()
        self.written = self.entries = self.next_index = 0

    def expand(self, f: BinaryIO, size: int, where: tuple[str, ...], stem: str) -> None:
        """Extract the archive open in ``f``; ``where`` names the archives it is nested in."""
        if len(where) + 1 > self.limits.max_depth:
            raise ArchiveLimitExceeded(
                f"{_at(where)}archives nested more than {self.limits.max_depth} levels deep (max_depth)"
            )
        kind = archive_kind(f.read(_HEAD))
        f.seek(0)
        try:
            if kind == "zip":
                self._zip(f, size, where)
            elif kind == "tar":
                self._tar(f, where)
            elif kind is not None:
                self._compressed(f, kind, where, stem)
            else:
                raise ArchiveError(f"{_at(where)}not a zip, tar, gzip, bzip2 or xz archive")
        except AttributorError:
            raise
        except OSError as e:
            if e.errno is not None:  # a real I/O error, not a decompressor's complaint
                raise
            raise _corrupt(where, kind, e) from None
        except Exception as e:  # the stdlib parsers raise many types on hostile input
            raise _corrupt(where, kind, e) from None

    # zip

    def _zip(self, f: BinaryIO, size: int, where: tuple[str, ...]) -> None:
        self._check_zip_directory(f, size, where)
        with zipfile.ZipFile(f) as zf:
            if not any(info.compress_type == _ZIP_AES for info in zf.infolist()):
                self._zip_members(zf, size, where)
                return
        f.seek(0)
        with _aes_zipfile(f, where) as zf:
            self._zip_members(zf, size, where)

    def _check_zip_directory(self, f: BinaryIO, size: int, where: tuple[str, ...]) -> None:
        """Refuse an entry-count bomb from the end record, before zipfile reads the directory."""
        declared = _zip_directory_size(f, size)
        if declared is None:
            return  # zipfile will say what is wrong
        entries, cd_bytes = declared
        room = self.limits.max_entries - self.entries
        if entries > room or cd_bytes > room * _CD_BYTES_PER_ENTRY:
            raise ArchiveLimitExceeded(
                f"{_at(where)}zip directory declares {entries} entries in {cd_bytes} bytes, "
                f"more than {self.limits.max_entries} entries in all (max_entries)"
            )

    def _zip_members(self, zf: zipfile.ZipFile, size: int, where: tuple[str, ...]) -> None:
        lim = self.limits
        for info in zf.infolist():
            self._count_entry(where)
            name = escape_name(info.filename, lim.max_name_chars)
            kind = stat.S_IFMT(info.external_attr >> 16)
            if info.is_dir() or kind == stat.S_IFDIR:
                continue
            if kind not in (0, stat.S_IFREG):
                self._skip(where, name, _FILE_TYPES.get(kind, f"file type 0o{kind:o}"))
                continue
            chain = (*where, name)
            packed = min(info.compress_size, size)
            if info.file_size > lim.max_member_bytes:
                raise _too_big(chain, info.file_size, lim)
            if _over_ratio(info.file_size, packed, lim):
                raise _too_packed(_at(chain), info.file_size, packed, lim)
            with self._open_zip_member(zf, info, chain) as src:
                self._take(src, where, name, packed)

    def _open_zip_member(
        self, zf: zipfile.ZipFile, info: zipfile.ZipInfo, chain: tuple[str, ...]
    ) -> IO[bytes]:
        if not info.flag_bits & 0x1:
            return zf.open(info)
        for pwd in self.passwords:
            try:
                return zf.open(info, pwd=pwd)
            except RuntimeError:  # "Bad password for file"
                continue
        tried = ", ".join(repr(p.decode("latin-1")) for p in self.passwords) or "none"
        raise ArchiveError(f"{_at(chain)}encrypted, and no known password fits (tried {tried})")

    # tar

    def _tar(self, f: BinaryIO, where: tuple[str, ...]) -> None:
        with tarfile.open(
            fileobj=f, mode="r|", tarinfo=_CappedTarInfo, encoding="utf-8", errors="surrogateescape"
        ) as tf:
            for ti in tf:
                self._count_entry(where)
                name = escape_name(ti.name, self.limits.max_name_chars)
                if ti.isdir():
                    continue
                if not ti.isreg():
                    self._skip(where, name, _tar_skip_reason(ti))
                    continue
                if ti.size > self.limits.max_member_bytes:
                    raise _too_big((*where, name), ti.size, self.limits)
                src = tf.extractfile(ti)
                if src is not None:
                    self._take(src, where, name, None)

    # gzip / bzip2 / xz: a tar inside, or one file

    def _compressed(self, f: BinaryIO, kind: str, where: tuple[str, ...], stem: str) -> None:
        raw = _Counting(f)
        lim = self.limits
        cap = lim.max_total_bytes + lim.max_entries * _TAR_OVERHEAD_PER_ENTRY + _TAR_META_BYTES
        with _decompressor(kind, raw) as opened:
            stream = _Inflating(opened, raw, cap, lim, f"{_at(where)}{kind} data: ")
            head = stream.read(_HEAD)
            stream.unread(head)
            if _is_tar_header(head):
                self._tar(stream, where)  # type: ignore[arg-type]  # a read()-only stream is enough
            else:
                self._take(stream, where, _strip_suffix(stem, kind), None)

    # shared

    def _take(self, src: _Reader, where: tuple[str, ...], name: str, packed: int | None) -> None:
        """Write one member to ``<tmp>/<index>``; expand it in turn if it is an archive."""
        index, self.next_index = self.next_index, self.next_index + 1
        path = self.tmp / str(index)
        chain = (*where, name)
        digest, size, head = self._write(src, path, chain, packed)
        if archive_kind(head) is None:
            member = ArchiveMember(index, path, SEPARATOR.join(chain), digest, size, len(chain))
            self.contents.members.append(member)
            return
        with path.open("rb") as inner:
            self.expand(inner, size, chain, name)
        path.unlink()

    def _write(
        self, src: _Reader, path: Path, chain: tuple[str, ...], packed: int | None
    ) -> tuple[str, int, bytes]:
        lim = self.limits
        digest = hashlib.sha256()
        head = b""
        size = 0
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
        with os.fdopen(fd, "wb") as out:
            while chunk := src.read(_CHUNK):
                size += len(chunk)
                self.written += len(chunk)
                if size > lim.max_member_bytes:
                    raise _too_big(chain, size, lim)
                if self.written > lim.max_total_bytes:
                    raise ArchiveLimitExceeded(
                        f"{_at(chain)}more than {lim.max_total_bytes} bytes uncompressed in all "
                        "(max_total_bytes)"
                    )
                if packed is not None and _over_ratio(size, packed, lim):
                    raise _too_packed(_at(chain), size, packed, lim)
                if len(head) < _HEAD:
                    head += chunk[: _HEAD - len(head)]
                digest.update(chunk)
                out.write(chunk)
        os.chmod(path, 0o400)
        return digest.hexdigest(), size, head

    def _count_entry(self, where: tuple[str, ...]) -> None:
        self.entries += 1
        if self.entries > self.limits.max_entries:
            raise ArchiveLimitExceeded(
                f"{_at(where)}more than {self.limits.max_entries} entries in all (max_entries)"
            )

    def _skip(self, where: tuple[str, ...], name: str, reason: str) -> None:
        self.contents.skipped.append(SkippedMember(SEPARATOR.join((*where, name)), reason))


class _Reader(Protocol):
    def read(self, n: int = ..., /) -> bytes: ...


class _Counting:
    """Counts the compressed bytes a decompressor has taken from the file."""

    def __init__(self, f: BinaryIO) -> None:
        self.f, self.count = f, 0

    def read(self, n: int = -1) -> bytes:
        data = self.f.read(n)
        self.count += len(data)
        return data

    def __getattr__(self, name: str) -> Any:  # seek/tell/... for gzip's header handling
        return getattr(self.f, name)


class _Inflating:
    """A decompressed stream that stops at ``cap`` bytes or at ``max_ratio`` times the bytes taken in."""

    def __init__(
        self, inner: io.BufferedIOBase, raw: _Counting, cap: int, limits: ArchiveLimits, prefix: str
    ) -> None:
        self.inner, self.raw, self.cap, self.limits, self.prefix = inner, raw, cap, limits, prefix
        self.out = 0
        self.pending = b""

    def unread(self, data: bytes) -> None:
        self.pending = data + self.pending

    def read(self, n: int = _CHUNK) -> bytes:
        if n < 0:
            n = _CHUNK
        if self.pending:
            data, self.pending = self.pending[:n], self.pending[n:]
            return data
        data = self.inner.read(n)
        self.out += len(data)
        if self.out > self.cap:
            raise ArchiveLimitExceeded(f"{self.prefix}inflates past {self.cap} bytes")
        if _over_ratio(self.out, self.raw.count, self.limits):
            raise _too_packed(self.prefix, self.out, self.raw.count, self.limits)
        return data


class _CappedTarInfo(tarfile.TarInfo):
    """Refuses pax and GNU long-name headers over 1 MiB: tarfile reads them whole into memory."""

    def _proc_member(self, tf: tarfile.TarFile) -> tarfile.TarInfo:
        # the documented hook (see tarfile.TarInfo.fromtarfile) for headers tarfile reads whole
        if self.type in _TAR_META_TYPES and self.size > _TAR_META_BYTES:
            raise ArchiveLimitExceeded(f"tar metadata header of {self.size} bytes (max {_TAR_META_BYTES})")
        return super()._proc_member(tf)  # type: ignore[misc]


_TAR_META_TYPES = (
    tarfile.XHDTYPE,
    tarfile.XGLTYPE,
    tarfile.SOLARIS_XHDTYPE,
    tarfile.GNUTYPE_LONGNAME,
    tarfile.GNUTYPE_LONGLINK,
)

_FILE_TYPES = {
    stat.S_IFLNK: "symlink",
    stat.S_IFCHR: "device",
    stat.S_IFBLK: "device",
    stat.S_IFIFO: "fifo",
    stat.S_IFSOCK: "socket",
}


def _tar_skip_reason(ti: tarfile.TarInfo) -> str:
    if ti.issym():
        return "symlink"
    if ti.islnk():
        return "hardlink"
    if ti.ischr() or ti.isblk():
        return "device"
    if ti.isfifo():
        return "fifo"
    return f"tar entry type {escape_name(ti.type.decode('latin-1'))!r}"


def _is_tar_header(block: bytes) -> bool:
    if len(block) < _HEAD:
        return False
    if block[257:262] == b"ustar":
        return True
    try:  # an old (v7) header has no magic: its checksum must fit
        tarfile.TarInfo.frombuf(block[:_HEAD], "utf-8", "surrogateescape")
    except (tarfile.TarError, ValueError, UnicodeError):
        return False
    return True


_EOCD = struct.Struct("<4s4H2LH")
_EOCD64_LOCATOR = struct.Struct("<4sLQL")
_EOCD64 = struct.Struct("<4sQ2H2L4Q")


def _zip_directory_size(f: BinaryIO, size: int) -> tuple[int, int] | None:
    """``(entries, central directory bytes)`` as the end record says, found the way zipfile finds it."""
    tail_len = min(size, _EOCD.size + 0xFFFF + _EOCD64_LOCATOR.size + _EOCD64.size)
    f.seek(size - tail_len)
    tail = f.read(tail_len)
    f.seek(0)
    at = len(tail) - _EOCD.size
    if at < 0:
        return None
    if tail[at : at + 4] != b"PK\x05\x06" or tail[-2:] != b"\0\0":
        at = tail.rfind(b"PK\x05\x06")
        if at < 0 or at + _EOCD.size > len(tail):
            return None
    entries, cd_bytes = _EOCD.unpack_from(tail, at)[4:6]
    start = at - _EOCD64_LOCATOR.size - _EOCD64.size
    zip64 = entries == 0xFFFF or cd_bytes == 0xFFFFFFFF
    if zip64 and start >= 0 and tail[start + _EOCD64.size : start + _EOCD64.size + 4] == b"PK\x06\x07":
        record = _EOCD64.unpack_from(tail, start)
        if record[0] == b"PK\x06\x06":
            entries, cd_bytes = record[7], record[8]
    return entries, cd_bytes


def _aes_zipfile(f: BinaryIO, where: tuple[str, ...]) -> zipfile.ZipFile:
    try:
        import pyzipper
    except ImportError:  # pragma: no cover - pyzipper is a declared dependency
        raise ArchiveError(f"{_at(where)}AES-encrypted zip needs the pyzipper package") from None
    zf: zipfile.ZipFile = pyzipper.AESZipFile(f)
    return zf


def _decompressor(kind: str, raw: _Counting) -> io.BufferedIOBase:
    if kind == "gzip":
        return gzip.GzipFile(fileobj=raw, mode="rb")
    if kind == "bzip2":
        return bz2.BZ2File(raw)
    return lzma.LZMAFile(raw, format=lzma.FORMAT_XZ)


def _over_ratio(size: int, packed: int, lim: ArchiveLimits) -> bool:
    return size > lim.ratio_grace_bytes and size > lim.max_ratio * max(packed, 1)


def _strip_suffix(stem: str, kind: str) -> str:
    for suffix in _SUFFIXES[kind]:
        if stem.lower().endswith(suffix) and len(stem) > len(suffix):
            return stem[: -len(suffix)]
    return stem


def _at(chain: tuple[str, ...]) -> str:
    return f"member {SEPARATOR.join(chain)}: " if chain else ""


def _too_big(chain: tuple[str, ...], size: int, lim: ArchiveLimits) -> ArchiveLimitExceeded:
    return ArchiveLimitExceeded(
        f"{_at(chain)}{size} bytes uncompressed, more than {lim.max_member_bytes} (max_member_bytes)"
    )


def _too_packed(prefix: str, size: int, packed: int, lim: ArchiveLimits) -> ArchiveLimitExceeded:
    return ArchiveLimitExceeded(
        f"{prefix}compression ratio over {size // max(packed, 1)}:1 (max_ratio {lim.max_ratio:g}:1); "
        "a zip bomb?"
    )


def _corrupt(where: tuple[str, ...], kind: str | None, e: Exception) -> ArchiveError:
    text = escape_name(" ".join(str(e).split()), 200)
    return ArchiveError(f"{_at(where)}corrupt or truncated {kind} archive: {type(e).__name__}: {text}")
