"""Read one intel file, whatever its format: STIX 2.1 bundle, MISP event JSON, or CSV.

The format is sniffed from the content, never the file name: JSON whose top level is an object
with ``"type": "bundle"`` is STIX; JSON with ``"Event"`` (or ``"response"``, or a list of events)
is MISP; anything else must be CSV with the header of :mod:`attributor.intel.parse_csv`.

Hostile input: files over :data:`MAX_BYTES` are refused unread; text must be UTF-8 (a BOM is
allowed); JSON nesting is bounded by Python's recursion limit and reported, not crashed on; at
most :data:`MAX_RECORDS` records. A file either yields all its records or raises: callers store
the whole list in one transaction, so a bad line never leaves half a file imported.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from attributor.errors import FileAccessError
from attributor.intel.model import IntelFormatError, IntelLimitExceeded, IntelRecord

MAX_BYTES = 256 * 1024 * 1024
MAX_RECORDS = 2_000_000


@dataclass(frozen=True)
class IntelFile:
    """The records of one file and what it was."""

    path: Path
    format: str  # "stix", "misp" or "csv"
    records: list[IntelRecord]


def read_text(path: Path, max_bytes: int = MAX_BYTES) -> str:
    """The UTF-8 text of ``path``, refusing folders, unreadable, over-size and non-UTF-8 files.

    Raises:
        FileAccessError: missing, a folder, or unreadable.
        IntelLimitExceeded: larger than ``max_bytes``.
        IntelFormatError: not UTF-8 (names the byte offset).
    """
    try:
        if path.is_dir():
            raise FileAccessError(f"{path}: is a folder, not an intel file")
        with path.open("rb") as f:
            size = os.fstat(f.fileno()).st_size
            if size > max_bytes:
                raise IntelLimitExceeded(f"{path}: {size} bytes, over the {max_bytes}-byte limit")
            data = f.read(max_bytes + 1)  # st_size of a pipe or /proc file can be 0: check again
    except OSError as e:
        raise FileAccessError(f"{path}: cannot read: {e.strerror or e}") from None
    if len(data) > max_bytes:
        raise IntelLimitExceeded(f"{path}: over the {max_bytes}-byte limit")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        line = data[: e.start].count(b"\n") + 1
        raise IntelFormatError(f"{path}: line {line}: not UTF-8 text (byte offset {e.start})") from None


def parse_json(text: str, name: str) -> Any:
    """``json.loads`` with a typed, one-line error naming the line; refuses NaN/Infinity."""

    def no_constants(token: str) -> Any:
        raise ValueError(f"{token} is not valid JSON")

    try:
        return json.loads(text, parse_constant=no_constants)
    except json.JSONDecodeError as e:
        raise IntelFormatError(f"{name}: line {e.lineno}: malformed JSON ({e.msg})") from None
    except RecursionError:
        raise IntelFormatError(f"{name}: JSON nested too deeply") from None
    except ValueError as e:
        raise IntelFormatError(f"{name}: malformed JSON ({e})") from None


def sniff(text: str) -> str:
    """``"json"`` when the text starts like JSON, else ``"csv"``."""
    head = text.lstrip()[:1]
    return "json" if head in ("{", "[") else "csv"


def json_format(doc: Any) -> str | None:
    """``"stix"``, ``"misp"`` or None for parsed JSON ``doc``."""
    if isinstance(doc, dict) and doc.get("type") == "bundle":
        return "stix"
    if isinstance(doc, dict) and ("Event" in doc or "response" in doc):
        return "misp"
    if isinstance(doc, list) and doc and all(isinstance(d, dict) and "Event" in d for d in doc):
        return "misp"
    return None


def load_intel_file(path: str | os.PathLike[str], max_bytes: int = MAX_BYTES) -> IntelFile:
    """Parse intel file ``path`` whole; see the module docstring for formats and limits.

    Raises:
        FileAccessError, IntelLimitExceeded, IntelFormatError: nothing is returned then.

    Example:
        >>> load_intel_file("tests/fixtures/intel/northwind.csv").format  # doctest: +SKIP
        'csv'
    """
    from attributor.intel.parse_csv import parse_csv
    from attributor.intel.parse_misp import parse_misp
    from attributor.intel.parse_stix import parse_stix

    p = Path(path)
    text = read_text(p, max_bytes)
    name = p.name
    if sniff(text) == "csv":
        fmt, records = "csv", parse_csv(text, name)
    else:
        doc = parse_json(text, name)
        found = json_format(doc)
        if found is None:
            raise IntelFormatError(f"{name}: JSON, but neither a STIX 2.1 bundle nor a MISP event")
        fmt = found
        records = parse_stix(doc, name) if fmt == "stix" else parse_misp(doc, name)
    if len(records) > MAX_RECORDS:
        raise IntelLimitExceeded(f"{name}: {len(records)} records, over the {MAX_RECORDS} limit")
    return IntelFile(p, fmt, records)


def load_intel(path: str | os.PathLike[str]) -> list[IntelRecord]:
    """The records of intel file ``path`` (STIX, MISP or CSV, sniffed); all or an error."""
    return load_intel_file(path).records
