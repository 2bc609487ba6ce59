"""Read an incident's indicators (``--ioc FILE``) as :class:`IocQuery` values.

Accepted:

* text, one indicator per line, optionally ``,timestamp`` (ISO 8601, naive = UTC) after it;
  blank lines and ``#`` comments (whole-line or after the indicator, preceded by a space) are
  skipped; defanged spellings are accepted::

      # incident 2024-117
      hxxp://c2.northwind[.]example/gate.php, 2024-03-02T10:15:00Z
      198.51.100.7
* a STIX 2.1 bundle or a MISP event (sniffed as in :mod:`attributor.intel.load`): every indicator
  it holds, observed at its first-seen time.

A bad line fails the whole file (:class:`IntelFormatError` naming the line), as for intel.
"""

from __future__ import annotations

import os
from pathlib import Path

from attributor.errors import IndicatorError
from attributor.intel.load import MAX_BYTES, json_format, parse_json, read_text, sniff
from attributor.intel.model import IntelFormatError, IntelLimitExceeded, IocQuery, parse_time

MAX_QUERIES = 1_000_000


def parse_ioc_text(text: str, name: str) -> list[IocQuery]:
    """Queries from the line format above (``name`` is used in messages and ``origin``)."""
    queries: list[IocQuery] = []
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.split(" #", 1)[0].strip()
        if not line or line.startswith("#"):
            continue
        if len(queries) >= MAX_QUERIES:
            raise IntelLimitExceeded(f"{name}: more than {MAX_QUERIES} indicators")
        indicator, when = _split_time(line)
        try:
            observed = parse_time(when)
            queries.append(IocQuery.parse(indicator, observed, f"{name} line {number}"))
        except (IndicatorError, ValueError) as e:
            raise IntelFormatError(f"{name}: line {number}: {e}") from None
    return queries


def _split_time(line: str) -> tuple[str, str]:
    """(indicator, time text): the part after the last comma is a time only if it parses as one,
    so URLs with commas in their query survive."""
    head, comma, tail = line.rpartition(",")
    if not comma:
        return line, ""
    try:
        parse_time(tail)
    except ValueError:
        return line, ""
    return head.strip(), tail.strip()


def read_ioc_file(path: str | os.PathLike[str], max_bytes: int = MAX_BYTES) -> list[IocQuery]:
    """Every indicator in ``path`` (text lines, STIX bundle or MISP event), in file order.

    Raises:
        FileAccessError, IntelLimitExceeded, IntelFormatError.
    """
    from attributor.intel.parse_misp import parse_misp
    from attributor.intel.parse_stix import parse_stix

    p = Path(path)
    text = read_text(p, max_bytes)
    if sniff(text) != "json":
        return parse_ioc_text(text, p.name)
    doc = parse_json(text, p.name)
    fmt = json_format(doc)
    if fmt is None:
        raise IntelFormatError(f"{p.name}: JSON, but neither a STIX 2.1 bundle nor a MISP event")
    records = parse_stix(doc, p.name) if fmt == "stix" else parse_misp(doc, p.name)
    seen: dict[tuple, IocQuery] = {}
    for r in records:
        q = IocQuery(r.type, r.value, r.first_seen, r.asn, f"{p.name} {r.provenance.record}")
        seen.setdefault((q.type, q.value, q.observed), q)
    return list(seen.values())
