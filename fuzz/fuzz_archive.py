"""Fuzz the archive reader (zip, tar, gzip/bzip2/xz, nested) with small caps.

    python fuzz/fuzz_archive.py -max_total_time=600 fuzz/corpus/archive

A mutant must be refused with a typed error (``ArchiveError``, ``ArchiveLimitExceeded``,
``FileAccessError``) or extracted into the temporary folder only: every member file lies inside it,
is read-only, has the size and SHA-256 announced, and an escaped one-line name.
"""

from __future__ import annotations

import bz2
import gzip
import hashlib
import io
import lzma
import os
import stat
import sys
import tarfile
import zipfile

from fuzz_common import expect_typed, main, scratch_dir

from attributor.archive import ArchiveLimits, open_archive
from attributor.errors import AttributorError

_DIR = scratch_dir("archive")
_FILE = _DIR / "input.bin"
_TMP = _DIR / "extract"
_TMP.mkdir()
LIMITS = ArchiveLimits(
    max_total_bytes=1 << 20, max_member_bytes=256 << 10, max_ratio=50.0, ratio_grace_bytes=4096,
    max_depth=3, max_entries=64,
)  # fmt: skip


def _zip(members: dict[str, bytes], method: int = zipfile.ZIP_DEFLATED) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", method) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return buf.getvalue()


def _tar(members: dict[str, bytes], mode: str = "w") -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode=mode, format=tarfile.PAX_FORMAT) as tf:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
        link = tarfile.TarInfo("link")
        link.type, link.linkname = tarfile.SYMTYPE, "/etc/passwd"
        tf.addfile(link)
    return buf.getvalue()


def seeds_archive() -> list[bytes]:
    sample = b"MZ" + bytes(200) + b"sample"
    two = {"a.exe": sample, "dir/b.bin": b"hello" * 20, "../escape.txt": b"x"}
    return [
        _zip(two),
        _zip(two, zipfile.ZIP_STORED),
        _zip({"inner.zip": _zip({"deep.exe": sample})}),
        _tar(two),
        _tar(two, "w:gz"),
        gzip.compress(sample, mtime=0),
        bz2.compress(sample),
        lzma.compress(sample),
        _zip({"a.exe": sample, "A.exe": sample, "a.exe\u202etxt.exe": b"rtl"}),
    ]


MAX_MESSAGE = 2_000  # characters in one error line


def test_one_input(data: bytes) -> None:
    _FILE.write_bytes(data)
    try:
        with open_archive(_FILE, limits=LIMITS, tmp_root=_TMP) as contents:
            for m in contents:
                where = m.path.resolve()
                if _TMP.resolve() not in where.parents:
                    raise AssertionError(f"member written outside the temporary folder: {where}")
                st = os.lstat(m.path)
                if not stat.S_ISREG(st.st_mode) or st.st_mode & 0o222:
                    raise AssertionError(f"member is not a read-only regular file: {oct(st.st_mode)}")
                body = m.path.read_bytes()
                if len(body) != m.size or hashlib.sha256(body).hexdigest() != m.sha256:
                    raise AssertionError("member size / sha256 differ from the file")
                if "\n" in m.name_escaped or "\r" in m.name_escaped or "\0" in m.name_escaped:
                    raise AssertionError(f"unescaped name {m.name_escaped!r}")
    except AttributorError as e:
        expect_typed(e, max_len=MAX_MESSAGE)
    if any(_TMP.iterdir()):
        raise AssertionError("temporary folder left behind")


if __name__ == "__main__":
    main(test_one_input, seeds_archive, "archive")
    sys.exit(0)
