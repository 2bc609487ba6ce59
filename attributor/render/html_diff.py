"""Side-by-side disassembly of a matched function pair, aligned instruction by instruction.

Alignment runs :class:`difflib.SequenceMatcher` (``autojunk`` off, so long functions align the
same way as short ones) over *normalised* instructions: the leading address is stripped, text is
lower-cased with whitespace collapsed, and every numeric literal becomes ``#``. Two functions
compiled at different base addresses, or with different constants, therefore still line up.

Each aligned row then gets a status, shown by a symbol and a colour:

* ``equal`` (``=``): same instruction once address-like numbers (≥ ``0x1000``) are abstracted;
* ``changed`` (``≠``): aligned, but registers, operands or small constants differ; the differing
  tokens are marked;
* ``query-only`` (``−``) / ``ref-only`` (``+``): an instruction with a gap opposite.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from difflib import SequenceMatcher
from itertools import zip_longest
from typing import Final, Literal

from attributor.render.html_parts import short, txt
from attributor.report.attribution import AttributionDocument, MatchedPair

Status = Literal["equal", "changed", "query-only", "ref-only"]
MAX_LINES: Final = 400  # per side; a bigger listing is cut (the alignment is quadratic)
LINE_LIMIT: Final = 160
SYMBOLS: Final[dict[Status, str]] = {"equal": "=", "changed": "≠", "query-only": "−", "ref-only": "+"}
_PREFIX = re.compile(r"^\s*(0x[0-9a-fA-F]+)(?::)?\s+(.*)$", re.S)
_NUMBER = re.compile(r"\b(?:0x[0-9a-f]+|\d+)\b")
_ADDRESS_LIKE = re.compile(r"\b0x[0-9a-f]{4,}\b")
_TOKEN = re.compile(r"\w+|\s+|[^\w\s]")


@dataclass(frozen=True)
class AsmLine:
    """One instruction: the address as printed (may be empty) and the instruction text."""

    address: str
    text: str


@dataclass(frozen=True)
class AlignedRow:
    query: AsmLine | None
    ref: AsmLine | None
    status: Status


def split_line(line: str) -> AsmLine:
    """``"0x401000  push rbp"`` -> ``AsmLine("0x401000", "push rbp")``; no address -> ``""``."""
    m = _PREFIX.match(line)
    return AsmLine(m.group(1).lower(), m.group(2).strip()) if m else AsmLine("", line.strip())


def normalise(text: str) -> str:
    """The alignment key: lower-case, single spaces, every numeric literal replaced by ``#``."""
    return _NUMBER.sub("#", " ".join(text.lower().split()))


def _address_key(text: str) -> str:
    return _ADDRESS_LIKE.sub("ADDR", " ".join(text.lower().split()))


def align(query: tuple[str, ...], ref: tuple[str, ...]) -> tuple[AlignedRow, ...]:
    """Align two listings (``"0xADDR  instruction"`` lines); deterministic for equal inputs.

    Example: ``align(("0x10  push rbp", "0x11  ret"), ("0x20  push rbp", "0x21  nop", "0x22  ret"))``
    gives ``equal``, ``ref-only`` (``nop`` opposite a gap), ``equal``.
    """
    q = [split_line(s) for s in query]
    r = [split_line(s) for s in ref]
    matcher = SequenceMatcher(
        None, [normalise(x.text) for x in q], [normalise(x.text) for x in r], autojunk=False
    )
    rows: list[AlignedRow] = []
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        for a, b in zip_longest(q[i1:i2], r[j1:j2]):
            rows.append(AlignedRow(a, b, _status(tag, a, b)))
    return tuple(rows)


def _status(tag: str, a: AsmLine | None, b: AsmLine | None) -> Status:
    if b is None:
        return "query-only"
    if a is None:
        return "ref-only"
    if tag == "equal" and _address_key(a.text) == _address_key(b.text):
        return "equal"
    return "changed"


def marked(text: str, other: str) -> str:
    """``text`` escaped, with the tokens that differ from ``other`` wrapped in ``<mark>``."""
    mine, theirs = _TOKEN.findall(text), _TOKEN.findall(other)
    out = []
    for tag, i1, i2, _, _ in SequenceMatcher(None, mine, theirs, autojunk=False).get_opcodes():
        piece = txt("".join(mine[i1:i2]), LINE_LIMIT)
        out.append(piece if tag == "equal" or not piece.strip() else f"<mark>{piece}</mark>")
    return "".join(out)


def _cells(line: AsmLine | None, other: AsmLine | None, status: Status, side: str) -> str:
    if line is None:
        return '<td class="gap"></td><td class="gap"></td>'
    body = marked(line.text, other.text) if status == "changed" and other else txt(line.text, LINE_LIMIT)
    return f'<td class="{side}">{txt(line.address, 20)}</td><td class="{side}">{body}</td>'


def _row(row: AlignedRow) -> str:
    sym = SYMBOLS[row.status]
    middle = f'<td class="m" title="{row.status}">{sym}</td>'
    left = _cells(row.query, row.ref, row.status, "q")
    right = _cells(row.ref, row.query, row.status, "r")
    return f'<tr class="{row.status}">{left}{middle}{right}</tr>'


def counts(rows: tuple[AlignedRow, ...]) -> dict[Status, int]:
    out: dict[Status, int] = dict.fromkeys(SYMBOLS, 0)
    for row in rows:
        out[row.status] += 1
    return out


def _prepare(lines: tuple[str, ...]) -> tuple[str, ...]:
    """At most ``MAX_LINES`` lines of at most ``LINE_LIMIT`` characters, so a hostile listing
    cannot make the quadratic token alignment slow."""
    return tuple(x if len(x) <= LINE_LIMIT else x[: LINE_LIMIT - 1] + "…" for x in lines[:MAX_LINES])


def _listing(lines: tuple[str, ...]) -> str:
    """The query function alone, when there is no reference listing to align it with."""
    rows = "".join(
        f'<tr><td class="q">{txt(x.address, 20)}</td><td class="q">{txt(x.text, LINE_LIMIT)}</td></tr>'
        for x in map(split_line, lines)
    )
    head = '<colgroup><col class="a"><col></colgroup><thead><tr><th colspan="2">query</th></tr></thead>'
    return f'<table class="sbs single">{head}<tbody>{rows}</tbody></table>'


def side_by_side(pair: MatchedPair, ref_label: str) -> str:
    """The aligned table of one pair, or the query listing alone with a note when ``ref_asm`` is empty."""
    query, ref = _prepare(pair.query_asm), _prepare(pair.ref_asm)
    notes = []
    if len(pair.query_asm) > MAX_LINES or len(pair.ref_asm) > MAX_LINES:
        notes.append(f"Listings cut to their first {MAX_LINES} instructions.")
    if not query:
        notes.append("No query disassembly in the document.")
    if not ref:
        notes.append(
            "Reference disassembly not available: the corpus keeps fingerprints, not the reference "
            "binary, so only the query function is shown."
        )
        return "".join(f'<p class="note">{txt(n)}</p>' for n in notes) + (_listing(query) if query else "")
    rows = align(query, ref)
    stats = ", ".join(f"{n} {s} ({SYMBOLS[s]})" for s, n in counts(rows).items() if n)
    head = (
        '<colgroup><col class="a"><col class="i"><col class="m"><col class="a"><col class="i"></colgroup>'
        f'<thead><tr><th colspan="2">query {txt(pair.query_address, 20)}</th><th></th>'
        f'<th colspan="2">reference {ref_label} {txt(pair.ref_address, 20)}</th></tr></thead>'
    )
    table = f'<table class="sbs">{head}<tbody>{"".join(_row(r) for r in rows)}</tbody></table>'
    note = "".join(f'<p class="note">{txt(n)}</p>' for n in notes)
    return f'<p class="meta">{txt(stats)}</p>{note}{table}'


def pairs_section(doc: AttributionDocument, open_first: int = 3) -> str:
    """Every matched pair as a collapsible block; the first ``open_first`` are open."""
    if not doc.pairs:
        return '<p class="empty">No matched function pairs.</p>'
    sources = {s.sha256: s.source or "" for s in doc.corpus_samples}
    blocks = []
    for i, p in enumerate(doc.pairs):
        source = sources.get(p.ref_sha256, "")
        ref_label = (txt(source, 60) + " " if source else "") + short(p.ref_sha256)
        unique = ' <span class="badge b-unique">unique to family</span>' if p.unique else ""
        summary = (
            f"<summary><b>{txt(p.family, 80)}</b>: query {txt(p.query_address, 20)} "
            f"({p.query_size} bytes) ↔ {ref_label} {txt(p.ref_address, 20)} · similarity "
            f"{p.similarity:.2f} · weight {p.weight:.2f} · in {p.n_families} "
            f"{'family' if p.n_families == 1 else 'families'}{unique}</summary>"
        )
        opened = " open" if i < open_first else ""
        blocks.append(
            f'<details class="pair" id="pair-{i}"{opened}>{summary}{side_by_side(p, ref_label)}</details>'
        )
    legend = (
        '<p class="meta">Aligned on normalised instructions (addresses stripped, numbers abstracted). '
        "= same instruction · ≠ aligned but different (differing tokens marked) · "
        "− only in the query · + only in the reference (gap opposite).</p>"
    )
    return legend + "".join(blocks)
