"""Intel as CSV: ``indicator,actor,first_seen,last_seen,source,confidence[,asn]``.

The header row is required; names are case-insensitive and may come in any order; ``asn`` is
optional, other extra columns are ignored. ``indicator`` is an IP address, domain, URL or e-mail
address (defanged spellings accepted); ``first_seen``/``last_seen`` are ISO 8601 dates or
date-times (naive = UTC); ``confidence`` is 0..100; ``asn`` is ``AS64500`` or ``64500``. Empty
cells mean "unknown". Blank lines and lines starting with ``#`` are skipped.

Any bad row fails the whole file with an :class:`IntelFormatError` naming the file and line.
"""

from __future__ import annotations

import csv
import io

from attributor.errors import IndicatorError
from attributor.intel.actors import resolve_actor
from attributor.intel.model import (
    IntelFormatError,
    IntelLimitExceeded,
    IntelRecord,
    Provenance,
    canon_indicator,
    check_confidence,
    parse_asn,
    parse_time,
)

REQUIRED = ("indicator", "actor", "first_seen", "last_seen", "source", "confidence")
OPTIONAL = ("asn",)
MAX_FIELD_CHARS = 10_000
MAX_ROWS = 1_000_000


def parse_csv(text: str, name: str) -> list[IntelRecord]:
    """Every record of CSV ``text`` (from file ``name``), in file order.

    Raises:
        IntelFormatError: no or incomplete header, a malformed row or value (names the line).
        IntelLimitExceeded: more than :data:`MAX_ROWS` rows.
    """
    rows = csv.reader(io.StringIO(text, newline=""), strict=True)
    columns: dict[str, int] | None = None
    records: list[IntelRecord] = []
    try:
        for row in rows:
            line = rows.line_num
            if not row or not "".join(row).strip() or row[0].lstrip().startswith("#"):
                continue
            if any(len(cell) > MAX_FIELD_CHARS for cell in row):
                raise IntelFormatError(f"{name}: line {line}: a field is over {MAX_FIELD_CHARS} characters")
            if columns is None:
                columns = _header(row, name, line)
                continue
            if len(records) >= MAX_ROWS:
                raise IntelLimitExceeded(f"{name}: more than {MAX_ROWS} rows; split the file")
            records.append(_record(row, columns, name, line))
    except csv.Error as e:
        raise IntelFormatError(f"{name}: line {rows.line_num}: malformed CSV ({e})") from None
    if columns is None:
        raise IntelFormatError(f"{name}: no CSV header ({','.join(REQUIRED)})")
    return records


def _header(row: list[str], name: str, line: int) -> dict[str, int]:
    columns: dict[str, int] = {}
    for i, cell in enumerate(row):
        key = cell.strip().lower().replace(" ", "_").replace("-", "_")
        columns.setdefault(key, i)
    missing = [c for c in REQUIRED if c not in columns]
    if missing:
        raise IntelFormatError(
            f"{name}: line {line}: header lacks {', '.join(missing)} (expected {','.join(REQUIRED)}[,asn])"
        )
    return {c: columns[c] for c in (*REQUIRED, *OPTIONAL) if c in columns}


def _record(row: list[str], columns: dict[str, int], name: str, line: int) -> IntelRecord:
    def cell(column: str) -> str:
        i = columns.get(column)
        return row[i].strip() if i is not None and i < len(row) else ""

    try:
        if not cell("indicator"):
            raise ValueError("empty indicator")
        kind, value = canon_indicator(cell("indicator"))
        return IntelRecord(
            type=kind,
            value=value,
            actor=resolve_actor(cell("actor")),
            actor_raw=cell("actor") or None,
            first_seen=parse_time(cell("first_seen")),
            last_seen=parse_time(cell("last_seen"), end_of_day=True),
            source=cell("source"),
            confidence=check_confidence(cell("confidence")),
            asn=parse_asn(cell("asn")),
            provenance=Provenance(name, f"line {line}"),
        )
    except (IndicatorError, ValueError) as e:
        raise IntelFormatError(f"{name}: line {line}: {e}") from None
