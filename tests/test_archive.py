"""Archives (attributor.archive, docs/archives.md): caps, hostile names, encryption, cleanup, CLI.

Every archive is built here from bytes: with zipfile/tarfile where they can write what we need,
with :func:`raw_zip` (a minimal zip writer, including ZipCrypto encryption) where they cannot:
raw name bytes, Unix file types, lying sizes. Nothing is ever executed.
"""

from __future__ import annotations

import bz2
import gzip
import hashlib
import io
import json
import lzma
import os
import shutil
import stat
import struct
import tarfile
import tempfile
import zipfile
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from attributor.archive import (
    ArchiveLimits,
    archive_kind,
    escape_name,
    is_archive,
    open_archive,
)
from attributor.cli.main import cli
from attributor.errors import (
    E_ARCHIVE,
    E_LIMIT,
    E_UNSUPPORTED,
    ArchiveError,
    ArchiveLimitExceeded,
    FileAccessError,
    LimitExceeded,
)
from attributor.store.open import open_store

SAMPLE = b"MZ" + bytes(range(256)) * 8  # any bytes; never parsed here
MiB = 1 << 20

# -- builders --------------------------------------------------------------------------------------


def zip_bytes(members: list[tuple[str, bytes]], method: int = zipfile.ZIP_DEFLATED) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", method) as zf:
        for name, data in members:
            zf.writestr(name, data)
    return buf.getvalue()


def tar_bytes(entries: list[tarfile.TarInfo | tuple[str, bytes]], compression: str = "") -> bytes:
    buf = io.BytesIO()
    mode = f"w:{compression}" if compression else "w"
    with tarfile.open(fileobj=buf, mode=mode, format=tarfile.PAX_FORMAT) as tf:  # type: ignore[call-overload]
        for entry in entries:
            if isinstance(entry, tarfile.TarInfo):
                tf.addfile(entry)
            else:
                info = tarfile.TarInfo(entry[0])
                info.size = len(entry[1])
                tf.addfile(info, io.BytesIO(entry[1]))
    return buf.getvalue()


def tar_entry(name: str, kind: bytes, linkname: str = "") -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type, info.linkname = kind, linkname
    return info


@dataclass
class RawEntry:
    name: bytes
    data: bytes
    mode: int = stat.S_IFREG | 0o644  # Unix st_mode, stored in the high half of external_attr
    password: bytes | None = None  # ZipCrypto
    declared_size: int | None = None  # uncompressed size written in the headers
    utf8: bool = False  # general-purpose flag bit 11: the name is UTF-8 (else cp437)


def raw_zip(entries: list[RawEntry]) -> bytes:
    """A deflate zip written by hand: lets a test say things zipfile will not write."""
    out, central = bytearray(), bytearray()
    for e in entries:
        crc = zlib.crc32(e.data)
        deflate = zlib.compressobj(9, zlib.DEFLATED, -15)
        payload = deflate.compress(e.data) + deflate.flush()
        flags = 0x800 if e.utf8 else 0
        if e.password is not None:
            payload, flags = zipcrypto_encrypt(payload, e.password, crc), flags | 0x1
        size = len(e.data) if e.declared_size is None else e.declared_size
        fields = (flags, 8, 0, 0x21, crc, len(payload), size, len(e.name))
        offset = len(out)
        out += struct.pack("<4s5H3L2H", b"PK\x03\x04", 20, *fields, 0) + e.name + payload
        central += struct.pack(
            "<4s6H3L5H2L", b"PK\x01\x02", 0x314, 20, *fields, 0, 0, 0, 0, e.mode << 16, offset
        )
        central += e.name
    n = len(entries)
    return bytes(
        out + central + struct.pack("<4s4H2LH", b"PK\x05\x06", 0, 0, n, n, len(central), len(out), 0)
    )


def _crc_table() -> list[int]:
    table = []
    for i in range(256):
        c = i
        for _ in range(8):
            c = (c >> 1) ^ 0xEDB88320 if c & 1 else c >> 1
        table.append(c)
    return table


CRC_TABLE = _crc_table()


def zipcrypto_encrypt(payload: bytes, password: bytes, crc: int) -> bytes:
    """PKWARE's traditional encryption (APPNOTE 6.1): 12-byte header, then a keyed byte stream."""
    keys = [0x12345678, 0x23456789, 0x34567890]

    def crc_byte(value: int, byte: int) -> int:
        return (value >> 8) ^ CRC_TABLE[(value ^ byte) & 0xFF]

    def update(byte: int) -> None:
        keys[0] = crc_byte(keys[0], byte)
        keys[1] = ((keys[1] + (keys[0] & 0xFF)) * 134775813 + 1) & 0xFFFFFFFF
        keys[2] = crc_byte(keys[2], keys[1] >> 24)

    for byte in password:
        update(byte)
    out = bytearray()
    for byte in bytes(range(11)) + bytes([crc >> 24]) + payload:  # header ends with the CRC's top byte
        k = (keys[2] | 2) & 0xFFFF
        out.append(byte ^ (((k * (k ^ 1)) >> 8) & 0xFF))
        update(byte)
    return bytes(out)


def aes_zip(members: list[tuple[str, bytes]], password: bytes) -> bytes:
    pyzipper = pytest.importorskip("pyzipper")
    buf = io.BytesIO()
    with pyzipper.AESZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED, encryption=pyzipper.WZ_AES) as zf:
        zf.setpassword(password)
        for name, data in members:
            zf.writestr(name, data)
    return buf.getvalue()


COMPRESSORS: dict[str, Callable[[bytes], bytes]] = {
    "gz": gzip.compress,
    "bz2": bz2.compress,
    "xz": lzma.compress,
}


def archive_of(kind: str, members: list[tuple[str, bytes]]) -> bytes:
    if kind == "zip":
        return zip_bytes(members)
    if kind == "tar":
        return tar_bytes(list(members))
    return tar_bytes(list(members), kind.removeprefix("tar."))


# -- fixtures --------------------------------------------------------------------------------------


@dataclass
class Sandbox:
    """A folder holding the archive, the temporary root and the working directory of a test."""

    base: Path
    root: Path  # tmp_root given to open_archive

    def write(self, name: str, data: bytes) -> Path:
        path = self.base / name
        path.write_bytes(data)
        return path

    def listing(self) -> set[str]:
        return {str(p.relative_to(self.base)) for p in self.base.rglob("*")}

    def open(self, path: Path, **kwargs: object):  # -> the context manager of open_archive
        return open_archive(path, tmp_root=self.root, **kwargs)  # type: ignore[arg-type]


@pytest.fixture
def box(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Sandbox]:
    (tmp_path / "root").mkdir()
    (tmp_path / "cwd").mkdir()
    monkeypatch.chdir(tmp_path / "cwd")  # a "../evil" written relative to the cwd would land in tmp_path
    yield Sandbox(tmp_path, tmp_path / "root")
    assert list((tmp_path / "root").iterdir()) == [], "the temporary folder was left behind"


def refused(
    box: Sandbox, path: Path, error: type[Exception], match: str | None = None, **kwargs: object
) -> str:
    """Open ``path`` expecting ``error``; check the message is one line and nothing is left."""
    before = box.listing()
    with pytest.raises(error, match=match) as info, box.open(path, **kwargs):
        pytest.fail("the archive was accepted")
    message = str(info.value)
    assert "\n" not in message and "Traceback" not in message and str(path) in message
    assert box.listing() == before
    return message


# -- reading ---------------------------------------------------------------------------------------


def test_zip_members_are_extracted_by_index(box: Sandbox):
    path = box.write("s.zip", zip_bytes([("a.exe", SAMPLE), ("dir/", b""), ("b.dll", b"x" * 10)]))
    with box.open(path) as members:
        got = list(members)
        assert [m.name_escaped for m in got] == ["a.exe", "b.dll"]
        assert [m.path.name for m in got] == ["0", "1"] and got[0].path.parent.parent == box.root
        assert got[0].path.read_bytes() == SAMPLE and got[0].size == len(SAMPLE)
        assert got[0].sha256 == hashlib.sha256(SAMPLE).hexdigest()
        assert all(stat.S_IMODE(m.path.stat().st_mode) == 0o400 for m in got)
        assert [m.depth for m in got] == [1, 1] and len(members) == 2
    assert not got[0].path.exists()


@pytest.mark.parametrize("kind", ["zip", "tar", "tar.gz", "tar.bz2", "tar.xz", "gz", "bz2", "xz"])
def test_every_format(box: Sandbox, kind: str):
    if kind in COMPRESSORS:
        path = box.write(f"sample.exe.{kind}", COMPRESSORS[kind](SAMPLE))
        expected = "sample.exe"
    else:
        path = box.write(f"s.{kind}", archive_of(kind, [("sample.exe", SAMPLE)]))
        expected = "sample.exe"
    assert is_archive(path) and is_archive(path.read_bytes()[:512])
    with box.open(path) as members:
        assert [(m.name_escaped, m.path.read_bytes()) for m in members] == [(expected, SAMPLE)]


def test_single_compressed_file_without_suffix_keeps_its_name(box: Sandbox):
    path = box.write("blob", gzip.compress(SAMPLE))
    with box.open(path) as members:
        assert [m.name_escaped for m in members] == ["blob"]


def test_gzip_of_zeros_is_one_file_not_an_empty_tar(box: Sandbox):
    path = box.write("zeros.gz", gzip.compress(bytes(4096)))
    with box.open(path) as members:
        assert [m.size for m in members] == [4096]


# -- hostile names ---------------------------------------------------------------------------------

ABSOLUTE = "/tmp/attributor-test-absolute-target"
TRAVERSAL = ["../evil", "../../evil2", "a/../../evil3", ABSOLUTE, "..\\evil4", "C:\\evil5", "dup", "dup"]


@pytest.mark.filterwarnings("ignore:Duplicate name")
@pytest.mark.parametrize("kind", ["zip", "tar.gz"])
def test_traversal_names_never_become_paths(box: Sandbox, kind: str):
    path = box.write(f"t.{kind}", archive_of(kind, [(name, name.encode()) for name in TRAVERSAL]))
    before = box.listing()
    with box.open(path) as members:
        tmp = members.members[0].path.parent
        new = box.listing() - before
        assert new == {str(p.relative_to(box.base)) for p in [tmp, *tmp.iterdir()]}
        assert [m.path.read_bytes().decode() for m in members] == TRAVERSAL
        assert [m.name_escaped for m in members][:4] == TRAVERSAL[:4]
        assert len({m.path for m in members}) == len(TRAVERSAL)  # duplicates kept apart
    assert box.listing() == before
    assert not Path(ABSOLUTE).exists() and not (box.base / "evil").exists()


def test_tar_links_and_devices_are_skipped_with_a_reason(box: Sandbox):
    target = box.base / "outside" / "target"
    entries: list[tarfile.TarInfo | tuple[str, bytes]] = [
        tar_entry("link", tarfile.SYMTYPE, str(target)),
        ("link", b"written through the link?"),  # the classic symlink-then-write attack
        tar_entry("hard", tarfile.LNKTYPE, "/etc/passwd"),
        tar_entry("chr", tarfile.CHRTYPE),
        tar_entry("blk", tarfile.BLKTYPE),
        tar_entry("fifo", tarfile.FIFOTYPE),
        tar_entry("dir", tarfile.DIRTYPE),
        ("real.exe", SAMPLE),
    ]
    path = box.write("links.tar", tar_bytes(entries))
    with box.open(path) as members:
        assert [m.name_escaped for m in members] == ["link", "real.exe"]
        skipped = [(s.name_escaped, s.reason) for s in members.skipped]
        assert skipped == [
            ("link", "symlink"),
            ("hard", "hardlink"),
            ("chr", "device"),
            ("blk", "device"),
            ("fifo", "fifo"),
        ]
        assert all(not m.path.is_symlink() for m in members)
    assert not target.exists() and not target.parent.exists()


def test_zip_symlinks_and_devices_are_skipped(box: Sandbox):
    target = box.base / "outside"
    entries = [
        RawEntry(b"link", str(target).encode(), mode=stat.S_IFLNK | 0o777),
        RawEntry(b"link", b"payload"),
        RawEntry(b"dev", b"", mode=stat.S_IFCHR | 0o600),
        RawEntry(b"pipe", b"", mode=stat.S_IFIFO | 0o600),
        RawEntry(b"dos", b"no unix mode", mode=0),
    ]
    path = box.write("links.zip", raw_zip(entries))
    with box.open(path) as members:
        assert [(m.name_escaped, m.path.read_bytes()) for m in members] == [
            ("link", b"payload"),
            ("dos", b"no unix mode"),
        ]
        assert [(s.name_escaped, s.reason) for s in members.skipped] == [
            ("link", "symlink"),
            ("dev", "device"),
            ("pipe", "fifo"),
        ]
    assert not target.exists()


HOSTILE_NAMES = [
    ("evil\n.exe", "evil\\n.exe"),
    ("a\r\nb", "a\\r\\nb"),
    ("nul\x00.exe", "nul\\x00.exe"),
    ("invoice\u202efdp.exe", "invoice\\u202efdp.exe"),
    ("zero\u200bwidth", "zero\\u200bwidth"),
    ("esc\x1b[31mred", "esc\\x1b[31mred"),
]


@pytest.mark.parametrize(("name", "escaped"), HOSTILE_NAMES)
def test_tar_names_are_kept_only_escaped(box: Sandbox, name: str, escaped: str):
    info = tarfile.TarInfo("placeholder")
    info.pax_headers = {"path": name}  # pax carries any character, NUL and newlines included
    info.size = len(SAMPLE)
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tf:
        tf.addfile(info, io.BytesIO(SAMPLE))
    path = box.write("names.tar", buf.getvalue())
    with box.open(path) as members:
        (member,) = members
        assert member.name_escaped == escaped
        assert member.name_escaped.isprintable() and member.path.name == "0"


def test_zip_names_are_kept_only_escaped(box: Sandbox):
    entries = [
        RawEntry(b"evil\n.exe", SAMPLE),
        RawEntry(b"nul\x00.exe", SAMPLE),  # zipfile stops at NUL, like other unzip tools
        RawEntry(b"\xff\xfe-cp437", SAMPLE),  # no UTF-8 flag: cp437
        RawEntry(b"B" * 4096, SAMPLE),
        RawEntry("rtl\u202efdp.exe".encode(), SAMPLE, utf8=True),
        RawEntry("образец.exe".encode(), SAMPLE, utf8=True),
    ]
    path = box.write("names.zip", raw_zip(entries))
    with box.open(path) as members:
        got = [m.name_escaped for m in members]
    assert got == [
        "evil\\n.exe",
        "nul",
        "\\xa0\u25a0-cp437",
        "B" * 235 + "...[cut, 4096 chars]",
        "rtl\\u202efdp.exe",
        "образец.exe",
    ]
    assert all(name.isprintable() and len(name) <= 255 for name in got)


def test_zip_name_flagged_utf8_that_is_not_is_corrupt(box: Sandbox):
    path = box.write("bad-name.zip", raw_zip([RawEntry(b"\xff\xfe.exe", SAMPLE, utf8=True)]))
    refused(box, path, ArchiveError, "corrupt")


def test_long_tar_name_is_cut_with_a_marker(box: Sandbox):
    path = box.write("long.tar", tar_bytes([("x" * 4096, SAMPLE)]))
    with box.open(path) as members:
        (member,) = members
    assert member.name_escaped == "x" * 235 + "...[cut, 4096 chars]"


ESCAPES = [
    ("plain.exe", "plain.exe"),
    ("образец.exe", "образец.exe"),
    ("a b", "a b"),
    ("a\nb", "a\\nb"),
    ("a\tb", "a\\tb"),
    ("a\x00b", "a\\x00b"),
    ("a\x7fb", "a\\x7fb"),
    ("a\x85b", "a\\x85b"),
    ("a\u00a0b", "a\\xa0b"),
    ("a\u2028b", "a\\u2028b"),
    ("a\u202eb", "a\\u202eb"),
    ("a\u2066b", "a\\u2066b"),
    ("a\ufeffb", "a\\ufeffb"),
    ("a\U000e0041b", "a\\U000e0041b"),
    ("a\ue000b", "a\\ue000b"),
    ("a\udcffb", "a\\xffb"),
    ("back\\slash", "back\\\\slash"),
    ("x!y", "x\\x21y"),
]


@pytest.mark.parametrize(("name", "escaped"), ESCAPES)
def test_escape_name(name: str, escaped: str):
    assert escape_name(name) == escaped


def test_escape_name_cuts_at_an_escape_boundary():
    out = escape_name("\n" * 200)
    body, marker = out.split("...")
    assert marker == "[cut, 200 chars]" and len(out) <= 255 and body == "\\n" * (len(body) // 2)
    assert escape_name("a" * 255) == "a" * 255
    assert escape_name("a" * 256).endswith("...[cut, 256 chars]")


# -- caps ------------------------------------------------------------------------------------------


def test_zip_bomb_is_refused(box: Sandbox):
    path = box.write("bomb.zip", zip_bytes([("zeros", bytes(20 * MiB))]))
    assert path.stat().st_size < 100_000
    message = refused(box, path, ArchiveLimitExceeded, "compression ratio")
    assert "max_ratio" in message


def test_bomb_refused_on_the_bytes_when_the_header_lies(box: Sandbox):
    data = raw_zip([RawEntry(b"zeros", bytes(20 * MiB), declared_size=1000)])
    path = box.write("liar.zip", data)
    refused(box, path, ArchiveError)  # zipfile stops at the declared size, then the CRC fails


def test_declared_size_over_the_member_cap_is_refused_unread(box: Sandbox):
    path = box.write("big.zip", raw_zip([RawEntry(b"big", b"tiny", declared_size=0xFFFFFFF0)]))
    refused(box, path, ArchiveLimitExceeded, "max_member_bytes")


@pytest.mark.parametrize("kind", ["tar.gz", "tar.bz2", "tar.xz", "gz", "xz"])
def test_compressed_bombs_are_refused(box: Sandbox, kind: str):
    if kind in COMPRESSORS:
        data = COMPRESSORS[kind](bytes(20 * MiB))
    else:
        data = archive_of(kind, [("zeros", bytes(20 * MiB))])
    refused(box, box.write(f"bomb.{kind}", data), ArchiveLimitExceeded, "compression ratio")


def test_total_and_member_caps(box: Sandbox):
    data = zip_bytes([("a", b"a" * 600), ("b", b"b" * 600)], zipfile.ZIP_STORED)
    path = box.write("two.zip", data)
    refused(box, path, ArchiveLimitExceeded, "max_total_bytes", limits=ArchiveLimits(max_total_bytes=1000))
    refused(box, path, ArchiveLimitExceeded, "max_member_bytes", limits=ArchiveLimits(max_member_bytes=500))
    tar = box.write("two.tar", tar_bytes([("a", b"a" * 600)]))
    refused(box, tar, ArchiveLimitExceeded, "max_member_bytes", limits=ArchiveLimits(max_member_bytes=500))


@pytest.mark.parametrize("kind", ["zip", "tar", "tar.gz"])
def test_too_many_entries(box: Sandbox, kind: str):
    members = [(f"f{i}", b"x") for i in range(11)]
    path = box.write(f"many.{kind}", archive_of(kind, members))
    refused(box, path, ArchiveLimitExceeded, "max_entries", limits=ArchiveLimits(max_entries=10))
    with box.open(path, limits=ArchiveLimits(max_entries=11)) as ok:
        assert len(ok) == 11


def test_entry_count_bomb_is_refused_from_the_end_record(box: Sandbox):
    data = bytearray(zip_bytes([("a", b"x")]))
    struct.pack_into("<HH", data, len(data) - 22 + 8, 65000, 65000)  # entries on disk / in total
    refused(box, box.write("declared.zip", bytes(data)), ArchiveLimitExceeded, "declares 65000 entries")


def test_entries_of_nested_archives_count_together(box: Sandbox):
    inner = zip_bytes([(f"i{i}", b"x") for i in range(6)])
    path = box.write("outer.zip", zip_bytes([*((f"o{i}", b"y") for i in range(5)), ("inner.zip", inner)]))
    refused(box, path, ArchiveLimitExceeded, "max_entries", limits=ArchiveLimits(max_entries=10))


def nested(levels: int) -> bytes:
    """``levels`` archives, alternately zip and tar.gz, around one sample."""
    data, name = SAMPLE, "sample.exe"
    for level in range(levels, 0, -1):
        kind = "zip" if level % 2 else "tar.gz"
        data, name = archive_of(kind, [(name, data)]), f"l{level}.{kind}"
    return data


def test_nested_archives_are_expanded(box: Sandbox):
    with box.open(box.write("n.zip", nested(3))) as members:
        (member,) = members
        assert member.name_escaped == "l2.tar.gz!l3.zip!sample.exe" and member.depth == 3
        assert member.path.read_bytes() == SAMPLE
        assert len(list(member.path.parent.iterdir())) == 1  # the inner archives' files are gone


def test_too_deep_nesting_is_refused(box: Sandbox):
    path = box.write("n.zip", nested(4))
    refused(box, path, ArchiveLimitExceeded, "max_depth")
    refused(box, path, ArchiveLimitExceeded, "max_depth", limits=ArchiveLimits(max_depth=1))
    with box.open(path, limits=ArchiveLimits(max_depth=4)) as members:
        assert len(members) == 1


def test_oversized_tar_metadata_is_refused(box: Sandbox):
    info = tarfile.TarInfo("x")
    info.pax_headers = {"comment": "c" * (2 * MiB)}
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tf:
        tf.addfile(info, io.BytesIO(b""))
    refused(box, box.write("meta.tar", buf.getvalue()), ArchiveLimitExceeded, "metadata header")


def test_limit_errors_are_limit_errors():
    assert issubclass(ArchiveLimitExceeded, ArchiveError) and issubclass(ArchiveLimitExceeded, LimitExceeded)
    assert ArchiveLimitExceeded.exit_code == E_LIMIT and ArchiveError.exit_code == E_ARCHIVE


# -- passwords -------------------------------------------------------------------------------------


def test_zipcrypto_with_the_convention_password(box: Sandbox):
    path = box.write("z.zip", raw_zip([RawEntry(b"s.exe", SAMPLE, password=b"infected")]))
    with zipfile.ZipFile(path) as zf:  # our encryptor against the stdlib's decrypter
        assert zf.infolist()[0].flag_bits & 1 and zf.read("s.exe", pwd=b"infected") == SAMPLE
    with box.open(path) as members:
        assert [m.path.read_bytes() for m in members] == [SAMPLE]


def test_zipcrypto_with_an_unknown_password(box: Sandbox):
    path = box.write("z.zip", raw_zip([RawEntry(b"s.exe", SAMPLE, password=b"s3cret")]))
    refused(box, path, ArchiveError, "no known password fits")
    with box.open(path, passwords=(b"infected", b"s3cret")) as members:
        assert [m.path.read_bytes() for m in members] == [SAMPLE]


def test_aes_zip(box: Sandbox):
    path = box.write("aes.zip", aes_zip([("s.exe", SAMPLE), ("t.exe", b"t")], b"infected"))
    with zipfile.ZipFile(path) as zf:
        assert zf.infolist()[0].compress_type == 99  # really WinZip AES
    with box.open(path) as members:
        assert [(m.name_escaped, m.path.read_bytes()) for m in members] == [
            ("s.exe", SAMPLE),
            ("t.exe", b"t"),
        ]
    wrong = box.write("wrong.zip", aes_zip([("s.exe", SAMPLE)], b"other"))
    refused(box, wrong, ArchiveError, "no known password fits")


# -- corrupt input ---------------------------------------------------------------------------------

GOOD_ZIP = zip_bytes([("a.exe", SAMPLE * 4), ("b.exe", SAMPLE)])
GOOD_TGZ = tar_bytes([("a.exe", SAMPLE * 4)], "gz")


def _flip(data: bytes, at: int) -> bytes:
    return data[:at] + bytes([data[at] ^ 0xFF]) + data[at + 1 :]


CORRUPT = [
    ("truncated.zip", GOOD_ZIP[: len(GOOD_ZIP) // 2]),
    ("no-directory.zip", GOOD_ZIP[:-30]),
    ("bad-crc.zip", zip_bytes([("a", b"0123456789" * 10)], zipfile.ZIP_STORED).replace(b"0123", b"9999", 1)),
    ("bad-deflate.zip", _flip(GOOD_ZIP, 60)),
    ("truncated.tgz", GOOD_TGZ[: len(GOOD_TGZ) // 2]),
    ("bad.tgz", _flip(GOOD_TGZ, 30)),
    ("bad.bz2", b"BZh91AY&SY" + b"\x00" * 100),
    ("bad.xz", b"\xfd7zXZ\x00" + b"\x01" * 100),
    ("bad.tar", b"\x00" * 100 + b"x" * 157 + b"ustar\x00" + b"z" * 250),
]


@pytest.mark.parametrize(("name", "data"), CORRUPT, ids=[c[0] for c in CORRUPT])
def test_corrupt_archives_raise_a_typed_error(box: Sandbox, name: str, data: bytes):
    assert is_archive(data[:512])
    with pytest.raises(ArchiveError) as info, box.open(box.write(name, data)):
        pass
    assert "\n" not in str(info.value) and info.value.exit_code == E_ARCHIVE


def test_not_an_archive(box: Sandbox):
    refused(box, box.write("notes.txt", b"hello\n" * 100), ArchiveError, "not a zip, tar")
    refused(box, box.write("empty", b""), ArchiveError, "not a zip, tar")


def test_unreadable_inputs_are_file_access_errors(box: Sandbox):
    refused(box, box.base / "missing.zip", FileAccessError)
    refused(box, box.base, FileAccessError)
    fifo = box.base / "pipe.zip"
    os.mkfifo(fifo)
    refused(box, fifo, FileAccessError, "not a regular file")  # and it did not block
    assert not is_archive(fifo) and not is_archive(box.base) and not is_archive(box.base / "missing")
    ok = box.write("ok.zip", zip_bytes([("a", b"x")]))
    with (
        pytest.raises(FileAccessError, match="temporary folder"),
        open_archive(ok, tmp_root=box.base / "nope"),
    ):
        pass


def test_temporary_folder_is_removed_when_the_body_raises(box: Sandbox):
    path = box.write("s.zip", zip_bytes([("a.exe", SAMPLE)]))
    with pytest.raises(RuntimeError), box.open(path) as members:
        tmp = members.members[0].path.parent
        raise RuntimeError("boom")
    assert not tmp.exists()


IS_ARCHIVE = [
    (b"PK\x03\x04rest", "zip"),
    (b"PK\x05\x06" + bytes(18), "zip"),
    (gzip.compress(b"x"), "gzip"),
    (bz2.compress(b"x"), "bzip2"),
    (bz2.compress(b""), "bzip2"),
    (lzma.compress(b"x"), "xz"),
    (tar_bytes([("a", b"x")])[:512], "tar"),
    (b"MZ" + bytes(600), None),
    (b"\x7fELF" + bytes(600), None),
    (b"hello world\n" * 50, None),
    (b"", None),
    (b"7z\xbc\xaf\x27\x1c" + bytes(100), None),
    (b"Rar!\x1a\x07\x00", None),
    (b"BZh", None),
    (lzma.compress(b"x", format=lzma.FORMAT_ALONE), None),
]


@pytest.mark.parametrize(("head", "kind"), IS_ARCHIVE)
def test_archive_kind(head: bytes, kind: str | None):
    assert archive_kind(head) == kind and is_archive(head) == (kind is not None)


# -- corpus add ------------------------------------------------------------------------------------


def invoke(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


@pytest.fixture
def elf_bytes() -> bytes:
    true = shutil.which("true")
    if true is None:
        pytest.skip("no `true` executable")
    return Path(true).resolve().read_bytes()


@pytest.fixture
def cli_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Archives are extracted under this folder; checked for leftovers afterwards."""
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(tmp))
    yield tmp
    assert not list(tmp.glob("attributor-archive-*"))


def test_corpus_add_expands_archives(tmp_path: Path, elf_bytes: bytes, cli_tmp: Path):
    entries = [
        RawEntry(b"bin/true.elf", elf_bytes, password=b"infected"),
        RawEntry(b"notes.txt", b"not a program\n" * 10, password=b"infected"),
        RawEntry(b"link", b"/etc/passwd", mode=stat.S_IFLNK | 0o777),
    ]
    archive = tmp_path / "samples.zip"
    archive.write_bytes(raw_zip(entries))
    db = str(tmp_path / "c.db")
    first = invoke("corpus", "add", str(archive), "--family", "fam", "--db", db, "-j", "1")
    assert first.exit_code == 4, first.output
    errors = [line for line in first.stderr.splitlines() if line.startswith("attributor: error:")]
    assert errors == [f"attributor: error: {archive}!notes.txt: unsupported file type: text"]
    assert f"{archive}!link: skipped (symlink)" in first.stderr and "1 added" in first.stderr
    with open_store(Path(db), create=False) as store:
        (record,) = store.samples()
    assert (record.family, record.source) == ("fam", f"{archive}!bin/true.elf")
    again = invoke("-q", "corpus", "add", str(archive), "--family", "fam", "--db", db, "-j", "1")
    assert again.exit_code == 4 and again.stderr.count("\n") == 1  # the text file, again


def test_corpus_add_walks_folders_into_archives(tmp_path: Path, elf_bytes: bytes, cli_tmp: Path):
    folder = tmp_path / "drop"
    folder.mkdir()
    (folder / "a.tgz").write_bytes(tar_bytes([("x.elf", elf_bytes)], "gz"))
    (folder / "b.elf").write_bytes(elf_bytes)  # the same sample, outside an archive
    db = str(tmp_path / "c.db")
    result = invoke("corpus", "add", str(folder), "--family", "f", "--db", db, "-j", "1")
    assert result.exit_code == 0, result.output
    assert "1 added" in result.stderr and "1 already present" in result.stderr
    stats = json.loads(invoke("corpus", "stats", "--db", db, "--format", "json").stdout)
    assert stats["samples"] == 1


def test_corpus_add_archive_failures_keep_input_order(tmp_path: Path, cli_tmp: Path):
    text = tmp_path / "notes.txt"
    text.write_text("text\n" * 50)
    bad = tmp_path / "bad.zip"
    bad.write_bytes(GOOD_ZIP[: len(GOOD_ZIP) // 2])
    bomb = tmp_path / "bomb.zip"
    bomb.write_bytes(zip_bytes([("zeros", bytes(20 * MiB))]))
    empty = tmp_path / "empty.tar"
    empty.write_bytes(tar_bytes([tar_entry("l", tarfile.SYMTYPE, "x")]))
    db = str(tmp_path / "c.db")

    def add(*paths: Path) -> Result:
        return invoke("-q", "corpus", "add", *map(str, paths), "--family", "f", "--db", db, "-j", "1")

    assert add(bad).exit_code == E_ARCHIVE
    assert add(bomb).exit_code == E_LIMIT
    assert add(empty).exit_code == E_ARCHIVE and "no file to ingest" in add(empty).stderr
    both = add(text, bad)
    assert both.exit_code == E_UNSUPPORTED
    assert [line.split(": ")[2] for line in both.stderr.splitlines()] == [str(text), str(bad)]
    assert add(bad, text).exit_code == E_ARCHIVE


def test_corpus_add_ingests_in_batches(
    tmp_path: Path, elf_bytes: bytes, cli_tmp: Path, monkeypatch: pytest.MonkeyPatch
):
    """Past max_total_bytes of extracted members, a batch is stored and its files removed."""
    import attributor.archive

    monkeypatch.setattr(attributor.archive, "DEFAULT_ARCHIVE_LIMITS", ArchiveLimits(max_total_bytes=1))
    first = tmp_path / "a.zip"
    first.write_bytes(zip_bytes([("one.elf", elf_bytes), ("notes.txt", b"text\n" * 50)]))
    second = tmp_path / "b.tgz"
    second.write_bytes(tar_bytes([("two.elf", elf_bytes), ("more.txt", b"more\n" * 50)], "gz"))
    db = str(tmp_path / "c.db")
    result = invoke("corpus", "add", str(first), str(second), "--family", "f", "--db", db, "-j", "1")
    assert result.exit_code == 4, result.output
    assert "1 added" in result.stderr and "1 already present" in result.stderr and "2 failed" in result.stderr
    errors = [line.split(": ")[2] for line in result.stderr.splitlines() if "error" in line]
    assert errors == [f"{first}!notes.txt", f"{second}!more.txt"]
