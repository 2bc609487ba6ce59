"""Corpus manifests: which files to ingest and what an analyst says they are.

Two formats, told apart by content (the first non-blank line starting with ``{`` means JSON lines):

CSV with a header row; ``path`` and ``family`` are required, ``actor`` and ``library`` optional::

    path,family,actor,library
    samples/a.exe,emotet,TA542,
    runtime/msvcrt.dll,msvc-runtime,,yes

JSON lines, one object per line with the same keys::

    {"path": "samples/a.exe", "family": "emotet", "actor": "TA542"}

``library`` accepts 1/0/true/false/yes/no (any case) or empty (false); JSON also takes booleans.
Relative paths resolve against the manifest's folder. Unknown columns/keys are refused so that a
typo (``famliy``) cannot silently drop a label. Blank lines are skipped.
"""

from __future__ import annotations

import csv
import io
import json
import os
from pathlib import Path

from attributor.errors import FileAccessError, ManifestError
from attributor.store.base import Label

REQUIRED = ("path", "family")
KNOWN = ("path", "family", "actor", "library")
_TRUE = {"1", "true", "yes"}
_FALSE = {"0", "false", "no", ""}


class _LineError(Exception):
    """What is wrong with one value; ``_labelled`` adds the line number."""


Row = tuple[int, dict[str, object]]  # (line number, column -> value)


def parse_manifest(path: str | os.PathLike[str]) -> list[tuple[Path, Label]]:
    """Read a CSV or JSON-lines manifest into ``(file path, label)`` pairs, in file order.

    Each label's ``source`` is ``"<manifest>:<line>"``. A path listed twice with the same label
    is kept once; with different labels it is an error.

    Raises:
        FileAccessError: the manifest cannot be read.
        ManifestError: ``"manifest.csv:LINE: what is wrong"`` for the first malformed line.

    Example:
        >>> parse_manifest("corpus/manifest.csv")  # doctest: +SKIP
        [(PosixPath('corpus/samples/a.exe'), Label(family='emotet', ..., source='corpus/manifest.csv:2'))]
    """
    manifest = Path(path)
    try:
        text = manifest.read_bytes().decode("utf-8-sig")
    except OSError as e:
        raise FileAccessError(f"{manifest}: cannot read the manifest: {e.strerror or e}") from None
    except UnicodeDecodeError as e:
        raise ManifestError(f"{manifest}: not UTF-8 text (byte {e.start})") from None
    first = next((line.strip() for line in text.splitlines() if line.strip()), "")
    try:
        rows = _jsonl_rows(text) if first.startswith("{") else _csv_rows(text)
        return _labelled(manifest, rows)
    except _LineErrorAt as e:
        raise ManifestError(f"{manifest}:{e.lineno}: {_one_line(e.message)}") from None


def _one_line(message: str, limit: int = 300) -> str:
    """Control characters escaped (a quoted newline stays on the line), long values cut."""
    text = "".join(c if c.isprintable() else repr(c)[1:-1] for c in message)
    return text if len(text) <= limit else text[:limit] + f"...[cut, {len(text)} chars]"


class _LineErrorAt(Exception):
    """A malformed line, with its number; ``parse_manifest`` prefixes the manifest path."""

    def __init__(self, lineno: int, message: str) -> None:
        super().__init__(message)
        self.lineno, self.message = lineno, message


def _labelled(manifest: Path, rows: list[Row]) -> list[tuple[Path, Label]]:
    """Validate rows into labels, refusing a path listed twice with different labels."""
    out: list[tuple[Path, Label]] = []
    seen: dict[Path, tuple[int, Label]] = {}
    for lineno, row in rows:
        try:
            file, label = _item(manifest, lineno, row)
        except _LineError as e:
            raise _LineErrorAt(lineno, str(e)) from None
        if file in seen:
            first_line, first = seen[file]
            if (first.family, first.actor, first.library) != (label.family, label.actor, label.library):
                raise _LineErrorAt(lineno, f"{file} is already labelled differently on line {first_line}")
            continue
        seen[file] = (lineno, label)
        out.append((file, label))
    return out


def _csv_rows(text: str) -> list[Row]:
    """Every non-blank CSV record after the header (``line_num`` is where the record ends)."""
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    header: list[str] | None = None
    rows: list[Row] = []
    try:
        for record in reader:
            if not any(field.strip() for field in record):
                continue
            if header is None:
                header = _header(reader.line_num, record)
            elif len(record) != len(header):
                raise _LineErrorAt(reader.line_num, f"{len(record)} fields, the header has {len(header)}")
            else:
                rows.append((reader.line_num, dict(zip(header, record, strict=True))))
    except csv.Error as e:
        raise _LineErrorAt(reader.line_num, f"bad CSV: {e}") from None
    if header is None:
        raise _LineErrorAt(1, "empty manifest: expected a header row `path,family[,actor,library]`")
    return rows


def _header(lineno: int, record: list[str]) -> list[str]:
    header = [h.strip().lower() for h in record]
    unknown = [h for h in header if h not in KNOWN]
    missing = [h for h in REQUIRED if h not in header]
    if unknown or missing or len(set(header)) != len(header):
        raise _LineErrorAt(
            lineno,
            f"header must name columns from {','.join(KNOWN)} (path and family required), "
            f"got {','.join(header)}",
        )
    return header


def _jsonl_rows(text: str) -> list[Row]:
    rows: list[Row] = []
    for lineno, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except ValueError as e:
            raise _LineErrorAt(lineno, f"not JSON: {e}") from None
        if not isinstance(obj, dict):
            raise _LineErrorAt(lineno, "expected a JSON object")
        unknown = sorted(set(obj) - set(KNOWN))
        if unknown:
            raise _LineErrorAt(lineno, f"unknown keys {', '.join(unknown)} (allowed: {', '.join(KNOWN)})")
        rows.append((lineno, obj))
    return rows


def _item(manifest: Path, lineno: int, row: dict[str, object]) -> tuple[Path, Label]:
    """One validated ``(path, label)``; raises ``_LineError`` with what is wrong."""
    path = _text(row, "path", required=True)
    family = _text(row, "family", required=True)
    try:
        file = Path(path).expanduser()
    except RuntimeError:  # `~name/...` for a user this machine does not have
        raise _LineError(f"path {path!r}: cannot expand ~ (no such user)") from None
    if not file.is_absolute():
        file = manifest.parent / file
    return file, Label(
        family=family,
        actor=_text(row, "actor", required=False) or None,
        library=_flag(row.get("library")),
        source=f"{manifest}:{lineno}",
    )


def _text(row: dict[str, object], key: str, required: bool) -> str:
    value = row.get(key)
    if value is None and not required:
        return ""
    if not isinstance(value, str):
        raise _LineError(f"{key} must be text, got {json.dumps(value)}")
    if required and not value.strip():
        raise _LineError(f"{key} is empty")
    if "\x00" in value:
        raise _LineError(f"{key} contains a NUL character")
    return value.strip()


def _flag(value: object) -> bool:
    if value is None or isinstance(value, bool):
        return bool(value)
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    text = value.strip().lower() if isinstance(value, str) else None
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise _LineError(f"library must be 1/0/true/false/yes/no, got {json.dumps(value)}")
