"""Atomic file replacement: a reader (or a crash) sees the old file or the new one, never a part.

The text goes to a temporary file in the target's own folder (so that the final ``os.replace`` is
a rename within one file system), is flushed and fsync'ed, then renamed over the target; the folder
is fsync'ed too, so the rename itself survives a power loss. A failure removes the temporary file
and raises :class:`FileAccessError`; after ``kill -9`` at most a ``.<name>.*.tmp`` file is left.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path

from attributor.errors import FileAccessError


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes, mode: int = 0o644) -> Path:
    """Replace ``path`` with ``data`` atomically; returns the path."""
    target = Path(path)
    folder = target.parent
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=folder)
    except OSError as e:
        raise FileAccessError(f"{target}: {e.strerror or e}") from None
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, mode & ~_umask())
        os.replace(tmp, target)
    except BaseException as e:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        if isinstance(e, OSError):
            raise FileAccessError(f"{target}: {e.strerror or e}") from None
        raise
    _fsync_dir(folder)
    return target


def atomic_write_text(path: str | os.PathLike[str], text: str, encoding: str = "utf-8") -> Path:
    """Replace ``path`` with ``text`` atomically (temporary file + fsync + ``os.replace``)."""
    return atomic_write_bytes(path, text.encode(encoding))


def _umask() -> int:
    current = os.umask(0)
    os.umask(current)
    return current


def _fsync_dir(folder: Path) -> None:
    """Make the rename durable; not every platform or file system can open a folder for this."""
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
