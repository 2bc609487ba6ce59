"""The HTML report: one self-contained, deterministic page rendered from an :class:`AttributionDocument`.

Contract of :func:`render_html`:

* **self-contained**: inline CSS and inline SVG only; no script, no external font, image, style
  or link target. A ``Content-Security-Policy`` meta tag (``default-src 'none'``) makes the
  browser refuse any load or script even if a string slipped through unescaped;
* **safe**: every document string is escaped and clipped (:mod:`attributor.render.html_parts`);
  indicators are shown as text, never as links;
* **deterministic**: the same document gives byte-identical HTML (no timestamps, no random ids,
  every order taken from the document or sorted);
* **marked**: the case's TLP 2.0 label is a banner at the top and at the bottom, in TLP colours.

Sections, in order: summary (verdict, inputs, corpus), hypotheses, plots, evidence tree per
hypothesis, ACH matrix, evidence tables, infrastructure, side-by-side disassembly, code signatures,
parameters. ``docs/reading-the-report.md`` explains how to read them.
"""

from __future__ import annotations

from typing import Final

from attributor.render.html_diff import pairs_section
from attributor.render.html_parts import (
    CSS,
    DASH,
    NAME_LIMIT,
    TLP_COLOURS,
    TLP_MEANING,
    anchor,
    attr,
    badge,
    code,
    dl,
    ident,
    label,
    names,
    num,
    pct,
    section,
    short,
    table,
    tr,
    txt,
)
from attributor.render.html_plots import code_share_chart, evidence_graph
from attributor.render.html_tables import (
    evidence_details,
    evidence_tables,
    infrastructure_table,
    signatures_section,
)
from attributor.report.attribution import Assessment, AttributionDocument, EvidenceRecord, Hypothesis

STANCE_SYMBOL: Final = {"consistent": "+ C", "inconsistent": "− I", "neutral": "○ N"}
CSP: Final = "default-src 'none'; style-src 'unsafe-inline'; img-src data:"
SECTIONS: Final = (
    ("summary", "Summary"),
    ("hypotheses", "Hypotheses"),
    ("plots", "Plots"),
    ("tree", "Evidence per hypothesis"),
    ("ach", "ACH matrix"),
    ("evidence", "Evidence"),
    ("infrastructure", "Infrastructure"),
    ("code", "Side-by-side code"),
    ("signatures", "Code signatures"),
    ("parameters", "Parameters"),
)


def render_html(doc: AttributionDocument) -> str:
    """The complete report page (``<!DOCTYPE html>`` … ``</html>\\n``) for ``doc``.

    Example: ``Path("report.html").write_text(render_html(doc), encoding="utf-8")``.
    """
    title = f"Attribution report: {doc.case.id} ({doc.case.tlp})"
    body = "".join(
        (
            tlp_banner(doc, "top"),
            "<main>",
            header(doc),
            nav(),
            section("summary", "Summary", summary(doc)),
            section("hypotheses", "Hypotheses", hypotheses_table(doc), HYP_INTRO),
            section("plots", "Plots", code_share_chart(doc) + evidence_graph(doc)),
            section("tree", "Evidence per hypothesis", evidence_tree(doc), TREE_INTRO),
            section("ach", "ACH matrix", ach_matrix(doc), ACH_INTRO),
            section("evidence", "Evidence", evidence_tables(doc)),
            section("infrastructure", "Infrastructure", infrastructure_table(doc)),
            section("code", "Side-by-side code", pairs_section(doc)),
            section("signatures", "Code signatures", signatures_section(doc), SIG_INTRO),
            section("parameters", "Parameters", parameters(doc)),
            footer(doc),
            "</main>",
            tlp_banner(doc, "bottom"),
        )
    )
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f'<meta http-equiv="Content-Security-Policy" content="{CSP}">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        '<meta name="referrer" content="no-referrer">\n'
        f"<title>{txt(title, 200)}</title>\n<style>{CSS}</style>\n</head>\n<body>\n{body}\n</body>\n</html>\n"
    )


HYP_INTRO: Final = (
    "Probability: how likely each hypothesis is given the evidence (actor and family hypotheses "
    "overlap, so the column need not sum to 100%). "
    "Confidence: how much the analysis itself can be trusted (amount, independence and quality of "
    "the evidence). The words are the ICD 203 expressions of likelihood."
)
TREE_INTRO: Final = (
    "For each hypothesis: the evidence that supports it, the evidence against it (or that it cannot "
    "explain), and the alternatives an analyst should rule out. Open an item for its full record."
)
ACH_INTRO: Final = (
    "Analysis of Competing Hypotheses: each evidence item against each hypothesis. The hypothesis "
    "with the fewest inconsistencies is the strongest; consistent evidence that fits every "
    "hypothesis has no diagnostic value."
)
SIG_INTRO: Final = (
    "YARA hex strings built from code unique to one family (addresses and relocated operands "
    "wildcarded), each compiled and run against the corpus before it was kept."
)


def tlp_banner(doc: AttributionDocument, where: str) -> str:
    """The TLP label in its colour on black, with its one-line meaning."""
    label = doc.case.tlp
    colour = TLP_COLOURS.get(label, "#FFFFFF")
    meaning = TLP_MEANING.get(label, "")
    return (
        f'<div class="tlp" id="tlp-{where}" role="note" style="color:{colour}">'
        f"<span>{txt(label, 24)}</span><small>{txt(meaning)}</small></div>"
    )


def verdict_name(doc: AttributionDocument) -> str:
    """Who the verdict names; an abstention always reads "unknown / new actor"."""
    if doc.verdict.abstained:
        return "unknown / new actor"
    hyp = doc.hypothesis(doc.verdict.hypothesis)
    return hyp.name if hyp else doc.verdict.hypothesis


def header(doc: AttributionDocument) -> str:
    """Title, the verdict (who, how likely, how confident, the engine's sentence) and provenance."""
    v = doc.verdict
    case_title = f": {txt(doc.case.title, 120)}" if doc.case.title else ""
    cls = "verdict abstained" if v.abstained else "verdict"
    lead = "Abstained: " if v.abstained else "Verdict: "
    line = (
        f'<div class="{cls}" id="verdict"><div class="big">{lead}{txt(verdict_name(doc), NAME_LIMIT)}</div>'
        f"<div><b>{txt(v.estimative, 30)}</b> ({pct(v.probability)}) · "
        f"{badge(v.confidence, f'b-{v.confidence}')}"
        f' confidence</div><div class="meta">{txt(v.text)}</div></div>'
    )
    meta = (
        f'<p class="meta">case {code(doc.case.id, 80)} · {txt(doc.tool.name, 40)} '
        f"{txt(doc.tool.version, 40)} · schema {txt(doc.schema_, 40)} · corpus digest "
        f"{code(doc.corpus.digest, 80)}</p>"
    )
    return f"<header><h1>Attribution report{case_title}</h1>{line}{meta}</header>"


def nav() -> str:
    return "<nav>" + "".join(f'<a href="#{sid}">{txt(name)}</a>' for sid, name in SECTIONS) + "</nav>"


def summary(doc: AttributionDocument) -> str:
    inputs = [
        tr(
            [
                txt(s.name, 80),
                short(s.sha256),
                f"{s.size:,}",
                f"{txt(s.format, 10)}/{txt(s.arch, 12)}",
                str(s.function_count),
                pct(s.coverage),
                txt(s.status, 20),
                names(s.notes, 5),
            ]
        )
        for s in doc.inputs
    ]
    iocs = [
        tr([code(i.value), txt(i.type, 20), txt(i.observed or DASH, 40), txt(i.origin, 80)]) for i in doc.iocs
    ]
    c = doc.corpus
    corpus = dl(
        [
            ("samples", f"{c.samples:,} ({c.library_samples:,} library / goodware)"),
            ("functions", f"{c.functions:,}"),
            ("families / actors", f"{c.families:,} / {c.actors:,}"),
            ("intel records", f"{c.intel_records:,}"),
            ("digest", code(c.digest, 80)),
        ]
    )
    notes = "".join(f"<li>{txt(n)}</li>" for n in doc.notes)
    return (
        "<h3>Input samples</h3>"
        + table(["name", "sha256", "bytes", "format", "functions", "coverage", "status", "notes"], inputs)
        + "<h3>Indicators given</h3>"
        + table(["value", "type", "observed", "origin"], iocs, empty="no indicators given")
        + "<h3>Corpus</h3>"
        + corpus
        + (f"<h3>Notes</h3><ul>{notes}</ul>" if notes else "")
    )


def hypotheses_table(doc: AttributionDocument) -> str:
    rows = []
    for rank, h in enumerate(doc.hypotheses, 1):
        bar = f'<span class="bar" style="width:{h.probability * 80:.1f}px"></span>'
        chosen = h.id == doc.verdict.hypothesis and not doc.verdict.abstained
        cells = [
            str(rank),
            f'<a href="#{anchor("hyp", h.id)}">{txt(h.name, NAME_LIMIT)}</a> '
            f'<span class="meta">{txt(h.level, 10)} · {code(h.id, NAME_LIMIT)}</span>',
            f'<span class="nowrap">{bar}{pct(h.probability)}</span>',
            txt(h.estimative, 30),
            badge(h.confidence, f"b-{h.confidence}"),
            names(h.confidence_reasons, 8),
            names(h.families or h.actors, 8),
        ]
        if chosen:
            cells[1] += " " + badge("verdict", "b-unique")
        rows.append(tr(cells, cls="chosen" if chosen else ""))
    headers = ["#", "hypothesis", "probability", "ICD 203", "confidence", "why this confidence", "related"]
    return table(headers, rows, cls="hyp", empty="no hypotheses")


def _assessment(doc: AttributionDocument, by_id: dict[str, EvidenceRecord], a: Assessment) -> str:
    ev = by_id.get(a.evidence_id)
    what = (
        f"{txt(ev.kind, 20)}: {label(ev.value, 60)}" if ev else f"unknown evidence {code(a.evidence_id, 40)}"
    )
    head = (
        f"<summary>{badge(a.stance, f'b-{a.stance}')} weight {num(a.weight)} · {what} — "
        f"{txt(a.reason, 200)}</summary>"
    )
    body = evidence_details(doc, ev) if ev else '<p class="note">Not in the evidence list.</p>'
    return f"<li><details>{head}{body}</details></li>"


def _branch(
    doc: AttributionDocument, by_id: dict[str, EvidenceRecord], title: str, items: tuple[Assessment, ...]
) -> str:
    if not items:
        return f'<h4>{txt(title)}</h4><p class="empty">none</p>'
    return f'<h4>{txt(title)}</h4><ul class="tree">{"".join(_assessment(doc, by_id, a) for a in items)}</ul>'


def _hypothesis_block(
    doc: AttributionDocument, by_id: dict[str, EvidenceRecord], h: Hypothesis, opened: bool
) -> str:
    alts = "".join(f"<li>{txt(x)}</li>" for x in h.alternatives)
    head = (
        f"<summary>{txt(h.name, NAME_LIMIT)} — {txt(h.estimative, 30)} ({pct(h.probability)}), "
        f"{txt(h.confidence, 20)} confidence · {len(h.support)} for, {len(h.against)} against</summary>"
    )
    return (
        f'<details class="hyp" id="{anchor("hyp", h.id)}"{" open" if opened else ""}>{head}'
        + _branch(doc, by_id, "Supporting evidence", h.support)
        + _branch(doc, by_id, "Evidence against", h.against)
        + (f"<h4>Alternatives to rule out</h4><ul>{alts}</ul>" if alts else "")
        + "</details>"
    )


def evidence_tree(doc: AttributionDocument) -> str:
    """One block per hypothesis; the verdict's hypothesis and the runner-up are open."""
    by_id = doc.evidence_by_id()
    return "".join(_hypothesis_block(doc, by_id, h, i < 2) for i, h in enumerate(doc.hypotheses)) or (
        '<p class="empty">no hypotheses</p>'
    )


def ach_matrix(doc: AttributionDocument) -> str:
    """Evidence × hypotheses; each cell has a symbol, a letter and a colour (never colour alone)."""
    ach, by_id = doc.ach, doc.evidence_by_id()
    hyps = [doc.hypothesis(h) for h in ach.hypotheses]
    head = "".join(
        f'<th scope="col" class="n">{txt(h.name if h else hid, 40)}</th>'
        for hid, h in zip(ach.hypotheses, hyps, strict=True)
    )
    inconsistent = [0] * len(ach.hypotheses)
    rows = []
    for row in ach.rows:
        ev = by_id.get(row.evidence_id)
        name = f"{txt(ev.kind, 20)}: {label(ev.value, 50)}" if ev else ident(row.evidence_id)
        cells = []
        for i in range(len(ach.hypotheses)):
            stance = row.cells[i] if i < len(row.cells) else None
            if stance == "inconsistent":
                inconsistent[i] += 1
            sym = STANCE_SYMBOL.get(stance, "?") if stance else DASH
            cls = f"st-{stance}" if stance else "st-missing"
            cells.append(f'<td class="cell {cls}" title="{attr(stance or "missing")}">{sym}</td>')
        link = f'<a href="#{anchor("ev", row.evidence_id)}">{name}</a>'
        rows.append(f'<tr><th scope="row">{link}</th>{"".join(cells)}</tr>')
    foot = "".join(f"<td>{n}</td>" for n in inconsistent)
    legend = '<p class="meta">+ C consistent · − I inconsistent · ○ N neutral · – no assessment</p>'
    if not ach.rows:
        return '<p class="empty">no ACH rows</p>'
    return (
        f'<table class="ach"><thead><tr><th scope="col">evidence</th>{head}</tr></thead>'
        f'<tbody>{"".join(rows)}</tbody><tfoot><tr><th scope="row">inconsistent</th>{foot}</tr>'
        f"</tfoot></table>{legend}"
    )


def parameters(doc: AttributionDocument) -> str:
    """Scoring parameters, corpus parameters and dependency versions, keys sorted."""
    params = [tr([code(k, 60), code(v, 80)]) for k, v in sorted(doc.parameters.items())]
    cparams = [tr([code(k, 60), code(v, 80)]) for k, v in sorted(doc.corpus.params.items())]
    deps = [tr([txt(d.name, 60), code(d.version, 40)]) for d in doc.tool.dependencies]
    return (
        "<h3>Scoring</h3>"
        + table(["parameter", "value"], params, cls="narrow")
        + "<h3>Corpus fingerprints</h3>"
        + table(["parameter", "value"], cparams, cls="narrow")
        + "<h3>Dependencies</h3>"
        + table(["package", "version"], deps, cls="narrow")
    )


def footer(doc: AttributionDocument) -> str:
    return (
        f"<footer>Generated by {txt(doc.tool.name, 40)} {txt(doc.tool.version, 40)} from a "
        f"{txt(doc.schema_, 40)} document. Estimative language per ICD 203; markings per FIRST TLP 2.0."
        "</footer>"
    )
