"""Inline SVG plots of the HTML report, computed in Python with a fixed, data-only layout.

* :func:`code_share_chart`: horizontal bars, one per family, of the query code bytes that the
  document's matched pairs assign to that family, as a share of all matched query bytes.
* :func:`evidence_graph`: three columns (input samples → evidence → hypotheses); an edge from
  evidence to a hypothesis for each assessment, green for consistent, red dashed for inconsistent,
  grey dotted for neutral, its width growing with the assessment's weight.

Coordinates are integers or fixed 1-decimal numbers and every order comes from the document, so
the same document gives the same SVG bytes. Text is escaped and clipped by :mod:`html_parts`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from attributor.render.html_parts import label, txt
from attributor.report.attribution import AttributionDocument, EvidenceRecord

MAX_BARS: Final = 20
MAX_EVIDENCE_NODES: Final = 30
IOC_NODE: Final = "ioc-input"
_STANCE_STYLE: Final[dict[str, str]] = {
    "consistent": 'stroke="#1a7f37"',
    "inconsistent": 'stroke="#b42318" stroke-dasharray="6 3"',
    "neutral": 'stroke="#8c959f" stroke-dasharray="2 3"',
}


def family_code_share(doc: AttributionDocument) -> list[tuple[str, int, int, float]]:
    """``(family, shared bytes, shared functions, share of matchable code)`` from the code evidence.

    Summed over the input samples (the share is the byte-weighted mean); largest first. Empty when
    the document's code records carry no sizes (older documents): then the pairs are used.
    """
    rows: dict[str, list[float]] = {}
    for e in doc.evidence:
        if e.kind == "code" and e.shared_bytes > 0:
            r = rows.setdefault(e.value, [0, 0, 0.0])
            r[0] += e.shared_bytes
            r[1] += e.shared_functions
            r[2] += e.share * e.shared_bytes
    out = [(f, int(b), int(n), (w / b if b else 0.0)) for f, (b, n, w) in rows.items()]
    return sorted(out, key=lambda r: (-r[3], -r[1], r[0]))


def family_code_bytes(doc: AttributionDocument) -> list[tuple[str, int, int]]:
    """``(family, query bytes, query functions)`` per family, largest first, then by name.

    A query function counts once per family even when it matched several reference functions.
    """
    seen: dict[str, dict[tuple[str, str], int]] = {}
    for p in doc.pairs:
        seen.setdefault(p.family, {})[(p.sample, p.query_address)] = max(0, p.query_size)
    rows = [(fam, sum(fns.values()), len(fns)) for fam, fns in seen.items()]
    return sorted(rows, key=lambda r: (-r[1], -r[2], r[0]))


def code_share_chart(doc: AttributionDocument) -> str:
    """The share-of-code bar chart as an ``<svg>`` element (or a note when there are no pairs)."""
    measured = family_code_share(doc)
    if measured:
        return _share_svg(doc, [(f, b, n, share) for f, b, n, share in measured], (
            "Share of the sample's matchable code that each family shares with it (from the matcher; "
            "one function can be shared with several families, so the bars may add up to more than "
            "100%; library families grey)."
        ))  # fmt: skip
    rows = family_code_bytes(doc)
    total = sum(r[1] for r in rows)
    if not rows or total <= 0:
        return '<p class="empty">No matched code, so no share-of-code chart.</p>'
    caption = (
        f"Share of the {total} query code bytes in matched pairs that each family accounts for "
        "(only the pairs listed in the report; library families grey)."
    )
    return _share_svg(doc, [(f, b, n, b / total) for f, b, n in rows], caption)


def _share_svg(doc: AttributionDocument, rows: list[tuple[str, int, int, float]], caption: str) -> str:
    library = {s.family for s in doc.corpus_samples if s.library}
    library |= {e.value for e in doc.evidence if e.kind == "code" and "library" in e.tags}
    shown = rows[:MAX_BARS]
    label_w, bar_w, row_h, top = 190, 520, 26, 8
    height = top * 2 + row_h * len(shown)
    parts = [
        f'<svg class="plot" id="plot-share" role="img" width="{label_w + bar_w + 230}" height="{height}" '
        f'viewBox="0 0 {label_w + bar_w + 230} {height}" xmlns="http://www.w3.org/2000/svg">',
        "<title>Share of matched query code per family</title>",
    ]
    for i, (family, nbytes, nfuncs, share) in enumerate(shown):
        y = top + i * row_h
        width = max(1, round(bar_w * min(1.0, share)))
        colour = "#8c959f" if family in library else "#0b5cad"
        suffix = " (library)" if family in library else ""
        parts.append(
            f'<text x="{label_w - 8}" y="{y + 17}" text-anchor="end" font-size="13">'
            f"{label(family + suffix, 28)}</text>"
            f'<rect x="{label_w}" y="{y + 4}" width="{width}" height="{row_h - 8}" fill="{colour}">'
            f"<title>{txt(family, 80)}: {nbytes} bytes in {nfuncs} functions</title></rect>"
            f'<text x="{label_w + width + 6}" y="{y + 17}" font-size="12" fill="#1b1f24">'
            f"{share * 100:.1f}% · {nfuncs} fn · {nbytes} B</text>"
        )
    parts.append("</svg>")
    more = f" {len(rows) - MAX_BARS} smaller families not drawn." if len(rows) > MAX_BARS else ""
    caption += more
    return f"<figure>{''.join(parts)}<figcaption>{txt(caption)}</figcaption></figure>"


@dataclass(frozen=True)
class _Node:
    key: str
    label: str
    tip: str
    x: int
    y: int


def _graph_evidence(doc: AttributionDocument) -> list[EvidenceRecord]:
    """Evidence drawn in the graph: the heaviest assessed items first, in document order when drawn."""
    weight: dict[str, float] = {}
    for h in doc.hypotheses:
        for a in (*h.support, *h.against):
            weight[a.evidence_id] = max(weight.get(a.evidence_id, 0.0), a.weight)
    order = sorted((e.id not in weight, -weight.get(e.id, e.weight), i) for i, e in enumerate(doc.evidence))
    keep = sorted(i for _, _, i in order[:MAX_EVIDENCE_NODES])
    return [doc.evidence[i] for i in keep]


def _column(items: list[tuple[str, str, str]], x: int, height: int, row_h: int) -> list[_Node]:
    offset = (height - row_h * len(items)) // 2
    return [_Node(k, lab, tip, x, offset + i * row_h) for i, (k, lab, tip) in enumerate(items)]


def evidence_graph(doc: AttributionDocument) -> str:
    """The evidence graph as an ``<svg>`` element inside a ``<figure>``."""
    evidence = _graph_evidence(doc)
    inputs = {s.sha256 for s in doc.inputs}
    samples = [(s.sha256, s.name or s.sha256[:12], s.sha256) for s in doc.inputs]
    if any(e.sample is None for e in evidence):
        samples.append((IOC_NODE, "indicator list / intel", "indicators given with --ioc"))
    ev_items = [
        (e.id, f"{e.kind}: {e.value}", f"{e.id} {e.subtype}: {e.detail or e.value}") for e in evidence
    ]
    hyp_items = [(h.id, f"{h.name} {h.probability * 100:.0f}%", h.id) for h in doc.hypotheses]
    row_h, box_w, box_h = 34, 230, 24
    height = max(len(samples), len(ev_items), len(hyp_items), 1) * row_h + 20
    width = 980
    cols = (
        _column(samples, 10, height, row_h),
        _column(ev_items, 375, height, row_h),
        _column(hyp_items, width - box_w - 10, height, row_h),
    )
    pos = {(c, n.key): n for c, col in enumerate(cols) for n in col}
    edges: list[str] = []
    for e in evidence:
        src = e.sample if e.sample in inputs else (IOC_NODE if e.sample is None else None)
        if src is not None and (0, src) in pos and (1, e.id) in pos:
            edges.append(_edge(pos[(0, src)], pos[(1, e.id)], 'stroke="#b6bec8"', 1.2, box_w, box_h))
    for h in doc.hypotheses:
        for a in (*h.support, *h.against):
            if (1, a.evidence_id) in pos and (2, h.id) in pos:
                style = _STANCE_STYLE.get(a.stance, _STANCE_STYLE["neutral"])
                width_px = 1.0 + 4.0 * a.weight
                edges.append(_edge(pos[(1, a.evidence_id)], pos[(2, h.id)], style, width_px, box_w, box_h))
    nodes = [
        _box(n, box_w, box_h, fill)
        for col, fill in zip(cols, ("#e8f1fb", "#f4f6f8", "#fff4d1"), strict=True)
        for n in col
    ]
    svg = (
        f'<svg class="plot" id="plot-graph" role="img" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" xmlns="http://www.w3.org/2000/svg">'
        "<title>Evidence graph: samples, evidence and hypotheses</title>"
        f'<g fill="none">{"".join(edges)}</g>{"".join(nodes)}</svg>'
    )
    left_out = len(doc.evidence) - len(evidence)
    more = f" {left_out} lighter evidence items not drawn." if left_out > 0 else ""
    caption = (
        "Left: input samples (and the indicator list); middle: evidence; right: hypotheses with their "
        "probability. Green solid = consistent, red dashed = inconsistent, grey dotted = neutral; "
        f"thicker = more weight.{more}"
    )
    return f"<figure>{svg}<figcaption>{txt(caption)}</figcaption></figure>"


def _edge(a: _Node, b: _Node, style: str, width: float, box_w: int, box_h: int) -> str:
    x1, y1 = a.x + box_w, a.y + box_h // 2
    x2, y2 = b.x, b.y + box_h // 2
    mid = (x1 + x2) // 2
    return f'<path d="M{x1} {y1} C{mid} {y1} {mid} {y2} {x2} {y2}" {style} stroke-width="{width:.1f}"/>'


def _box(n: _Node, box_w: int, box_h: int, fill: str) -> str:
    return (
        f'<g><title>{txt(n.tip, 200)}</title><rect x="{n.x}" y="{n.y}" width="{box_w}" height="{box_h}" '
        f'rx="4" fill="{fill}" stroke="#8c959f"/><text x="{n.x + 6}" y="{n.y + 16}" font-size="12" '
        f'fill="#1b1f24">{label(n.label, 34)}</text></g>'
    )
