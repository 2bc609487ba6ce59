"""Evidence tables of the HTML report: code, crypto and keys, capabilities, indicators,
infrastructure, quality, and the code signatures.

Each evidence row carries the evidence id as its element id, so the hypothesis tree and the ACH
matrix link to it. :func:`evidence_details` is the expandable view of one item (kind, value,
location, function, rarity) shared by the tree and the tables.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Final

from attributor.render.html_parts import (
    DASH,
    NAME_LIMIT,
    VALUE_LIMIT,
    anchor,
    badge,
    code,
    dl,
    ident,
    names,
    num,
    short,
    table,
    tr,
    txt,
)
from attributor.report.attribution import AttributionDocument, CodeSignature, EvidenceRecord

_Rows = tuple[list[str], list[str]]  # (column headers, rendered rows)
ALERT_TAGS: Final = ("destructive", "anti-forensic", "non-attributable")
KIND_TITLES: Final[tuple[tuple[str, str], ...]] = (
    ("code", "Shared code"),
    ("crypto", "Cryptography"),
    ("key", "Keys and key material"),
    ("capability", "Capabilities"),
    ("indicator", "Indicators found in the samples"),
    ("infrastructure", "Infrastructure evidence"),
    ("quality", "Analysis quality"),
)


def sample_label(doc: AttributionDocument, sha: str | None) -> str:
    """An input sample's file name and short hash; ``None`` means the indicator list."""
    if sha is None:
        return "indicator list"
    name = next((s.name for s in doc.inputs if s.sha256 == sha), "")
    return (txt(name, 60) + " " if name else "") + short(sha)


def location(doc: AttributionDocument, ev: EvidenceRecord) -> str:
    where = sample_label(doc, ev.sample)
    return where + (f" @ {code(ev.address, 20)}" if ev.address else "")


def tags(ev: EvidenceRecord) -> str:
    """Tags as badges; destructive, anti-forensic and non-attributable stand out."""
    out = [badge(t, f"b-{t}" if t in ALERT_TAGS else "b-tag") for t in ev.tags]
    return "".join(out) or DASH


def rarity(ev: EvidenceRecord) -> str:
    """How common the item is: families and actors sharing it, library samples containing it."""
    lib = f"{ev.library_samples} library sample{'s' if ev.library_samples != 1 else ''}"
    return f"{len(ev.families)} famil{'y' if len(ev.families) == 1 else 'ies'} ({names(ev.families)}); {lib}"


def evidence_details(doc: AttributionDocument, ev: EvidenceRecord) -> str:
    """The full record of one evidence item as a definition list."""
    items = [
        ("id", f'<a href="#{anchor("ev", ev.id)}">{ident(ev.id)}</a>'),
        ("kind", f"{txt(ev.kind, 20)} / {txt(ev.subtype, NAME_LIMIT)}"),
        ("value", code(ev.value)),
        ("detail", txt(ev.detail) or DASH),
        ("location", location(doc, ev)),
        ("function", code(ev.function, 20) if ev.function else DASH),
        ("rarity", rarity(ev)),
        ("actors sharing", names(ev.actors)),
        ("weight", num(ev.weight)),
        ("source", txt(ev.source, NAME_LIMIT) or DASH),
    ]
    if ev.attack:
        items.append(("ATT&CK", names(ev.attack)))
    if ev.tags:
        items.append(("tags", tags(ev)))
    return dl(items)


def _row(ev: EvidenceRecord, cells: list[str]) -> str:
    alert = any(t in ("destructive", "anti-forensic") for t in ev.tags)
    cls = "alert" if alert else "nonattr" if "non-attributable" in ev.tags else ""
    return tr([*cells, ident(ev.id)], row_id=anchor("ev", ev.id), cls=cls)


def _code_rows(doc: AttributionDocument, items: list[EvidenceRecord]) -> _Rows:
    rows = [
        _row(e, [txt(e.value, NAME_LIMIT), txt(e.detail), names(e.actors), rarity(e), num(e.weight), tags(e)])
        for e in items
    ]
    return ["family", "detail", "actors", "shared with", "weight", "tags", "id"], rows


def _crypto_rows(doc: AttributionDocument, items: list[EvidenceRecord]) -> _Rows:
    rows = [
        _row(
            e,
            [
                txt(e.subtype, NAME_LIMIT),
                code(e.value),
                txt(e.detail),
                location(doc, e),
                code(e.function, 20) if e.function else DASH,
                rarity(e),
                num(e.weight),
            ],
        )
        for e in items
    ]
    return ["what", "value", "detail", "location", "function", "shared with", "weight", "id"], rows


def _capability_rows(doc: AttributionDocument, items: list[EvidenceRecord]) -> _Rows:
    rows = [
        _row(
            e,
            [
                txt(e.value, VALUE_LIMIT),
                txt(e.subtype, NAME_LIMIT),
                names(e.attack),
                tags(e),
                location(doc, e),
                rarity(e),
                num(e.weight),
            ],
        )
        for e in items
    ]
    return ["capability", "rule namespace", "ATT&CK", "tags", "location", "shared with", "weight", "id"], rows


def _indicator_rows(doc: AttributionDocument, items: list[EvidenceRecord]) -> _Rows:
    rows = [
        _row(
            e,
            [
                txt(e.subtype, NAME_LIMIT),
                code(e.value),
                txt(e.detail),
                location(doc, e),
                txt(e.source, NAME_LIMIT) or DASH,
                tags(e),
                num(e.weight),
            ],
        )
        for e in items
    ]
    return ["type", "value", "as seen", "location", "found by", "tags", "weight", "id"], rows


def _generic_rows(doc: AttributionDocument, items: list[EvidenceRecord]) -> _Rows:
    rows = [
        _row(
            e,
            [
                txt(e.subtype, NAME_LIMIT),
                code(e.value),
                txt(e.detail),
                names(e.actors),
                tags(e),
                num(e.weight),
            ],
        )
        for e in items
    ]
    return ["what", "value", "detail", "actors", "tags", "weight", "id"], rows


_ROWS: Final[dict[str, Callable[[AttributionDocument, list[EvidenceRecord]], _Rows]]] = {
    "code": _code_rows,
    "crypto": _crypto_rows,
    "key": _crypto_rows,
    "capability": _capability_rows,
    "indicator": _indicator_rows,
}


def evidence_tables(doc: AttributionDocument) -> str:
    """One table per evidence kind, in a fixed kind order; kinds without items say so."""
    out = []
    for kind, title in KIND_TITLES:
        items = [e for e in doc.evidence if e.kind == kind]
        headers, rows = _ROWS.get(kind, _generic_rows)(doc, items)
        out.append(
            f'<h3 id="kind-{kind}">{txt(title)}</h3>' + table(headers, rows, empty=f"no {kind} evidence")
        )
    return "".join(out)


def infrastructure_table(doc: AttributionDocument) -> str:
    """Intel matches; a match on non-attributable infrastructure is dimmed and says why."""
    rows = []
    for m in doc.infrastructure:
        why = "".join(badge("non-attributable", "b-non-attributable", r) + txt(r) for r in m.non_attributable)
        window = DASH if m.in_window is None else ("yes" if m.in_window else "no")
        seen = f"{txt(m.first_seen or '?', 30)} – {txt(m.last_seen or '?', 30)}"
        cells = [
            code(m.indicator),
            txt(m.indicator_type, 20),
            code(m.intel_value),
            txt(m.match, 20),
            txt(m.strength, 20),
            txt(m.actor, NAME_LIMIT),
            txt(m.source, NAME_LIMIT) or DASH,
            seen,
            window,
            why or DASH,
            f'<a href="#{anchor("ev", m.evidence_id)}">{ident(m.evidence_id)}</a>',
        ]
        rows.append(tr(cells, cls="nonattr" if m.non_attributable else ""))
    headers = [
        "indicator",
        "type",
        "intel value",
        "match",
        "strength",
        "actor",
        "source",
        "seen",
        "in window",
        "non-attributable",
        "evidence",
    ]
    return table(headers, rows, empty="no indicator matches actor infrastructure in the intel store")


def _signature(doc: AttributionDocument, s: CodeSignature) -> str:
    asm = txt("\n".join(s.asm[:200]), 20000)
    listing = f"<details><summary>disassembly ({len(s.asm)} instructions)</summary><pre>{asm}</pre></details>"
    matched = ", ".join(
        sample_label(doc, m) if m in {i.sha256 for i in doc.inputs} else short(m) for m in s.matched
    )
    facts = dl(
        [
            ("family", txt(s.family, NAME_LIMIT)),
            ("function", f"{sample_label(doc, s.sample)} @ {code(s.function, 20)} ({s.size} bytes)"),
            (
                "verified",
                f"the compiled rule matched {len(s.matched)} samples (query included); "
                f"run against {s.checked} corpus samples",
            ),
            ("matched", matched or DASH),
        ]
    )
    return f'<div class="sig">{facts}<pre class="pattern">{{ {txt(s.pattern, 6000)} }}</pre>{listing}</div>'


def signatures_section(doc: AttributionDocument) -> str:
    if not doc.signatures:
        return '<p class="empty">No code signature: no function unique to one family passed the checks.</p>'
    return "".join(_signature(doc, s) for s in doc.signatures)
