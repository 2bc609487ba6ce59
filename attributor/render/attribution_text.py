"""Terminal rendering (rich) of the attribution report: verdict, hypotheses, evidence, ACH matrix.

Reads only :class:`~attributor.report.attribution.AttributionDocument`. Every string from the
document goes through :class:`rich.text.Text`, so names in samples or intel are never markup.
"""

from __future__ import annotations

from rich.console import Console
from rich.table import Table
from rich.text import Text

from attributor.report.attribution import AttributionDocument, EvidenceRecord, Hypothesis

SYMBOL = {"consistent": "+", "inconsistent": "−", "neutral": "·"}
STYLE = {"consistent": "green", "inconsistent": "red", "neutral": "dim"}
TOP_EVIDENCE = 25
TOP_ASSESSMENTS = 6
VALUE_WIDTH = 56


def _short(text: str, width: int = VALUE_WIDTH) -> str:
    text = text.replace("\n", "\\n").replace("\r", "\\r")
    return text if len(text) <= width else text[: width - 1] + "…"


def render_attribution(doc: AttributionDocument, console: Console) -> None:
    """The whole report, top to bottom."""
    console.print(Text(doc.case.tlp, style="bold"), Text(f"  case {doc.case.id}  {doc.case.title}"))
    for s in doc.inputs:
        console.print(
            Text.assemble(("sample ", "bold"), (s.sha256, "cyan"), f"  {s.name}  {s.format}/{s.arch}  ",
                          f"{s.function_count} functions  coverage {s.coverage:.0%}  {s.status}"),
            soft_wrap=True,
        )  # fmt: skip
    c = doc.corpus
    console.print(Text(f"corpus: {c.samples} samples, {c.families} families, {c.actors} actors, "
                       f"{c.intel_records} intel records; digest {c.digest[:16]}", style="dim"))  # fmt: skip
    v = doc.verdict
    console.print(
        Text.assemble(("verdict: ", "bold"), (v.text, "bold yellow" if v.abstained else "bold green"))
    )
    console.print(hypothesis_table(doc))
    by_id = doc.evidence_by_id()
    for h in doc.hypotheses[:3]:
        render_hypothesis(h, by_id, console)
    console.print(Text("evidence", style="bold"))
    console.print(evidence_table(doc.evidence[:TOP_EVIDENCE]))
    if len(doc.evidence) > TOP_EVIDENCE:
        console.print(Text(f"… {len(doc.evidence) - TOP_EVIDENCE} more in the JSON/HTML report", style="dim"))
    console.print(Text("ACH matrix (+ consistent, − inconsistent, · neutral)", style="bold"))
    console.print(ach_table(doc))
    for note in doc.notes:
        console.print(Text.assemble(("note: ", "yellow"), note))


def hypothesis_table(doc: AttributionDocument) -> Table:
    t = Table(show_edge=False, pad_edge=False)
    for col in ("hypothesis", "level", "probability", "ICD 203", "confidence", "for", "against"):
        t.add_column(col, justify="right" if col in ("probability", "for", "against") else "left")
    for h in doc.hypotheses:
        t.add_row(Text(_short(h.name, 40)), h.level, f"{h.probability:.0%}", h.estimative, h.confidence,
                  str(len(h.support)), str(len(h.against)))  # fmt: skip
    return t


def render_hypothesis(h: Hypothesis, by_id: dict[str, EvidenceRecord], console: Console) -> None:
    console.print()
    console.print(
        Text.assemble(("▸ ", "bold"), (h.name, "bold"), f"  {h.estimative}, {h.confidence} confidence")
    )
    console.print(Text("  confidence: " + "; ".join(h.confidence_reasons), style="dim"))
    for label, items in (("for", h.support), ("against", h.against)):
        ranked = sorted(items, key=lambda a: -a.weight)[:TOP_ASSESSMENTS]
        for a in ranked:
            e = by_id.get(a.evidence_id)
            kind = e.kind if e else "?"
            style = STYLE[a.stance]
            console.print(
                Text.assemble(f"  {label:7} ", (SYMBOL[a.stance], style), f" [{kind}] ", _short(a.reason, 90))
            )
    for alt in h.alternatives:
        console.print(Text.assemble("  ", ("alternative: ", "yellow"), alt))


def evidence_table(items: tuple[EvidenceRecord, ...]) -> Table:
    t = Table(show_edge=False, pad_edge=False)
    for col in ("id", "kind", "value", "where", "ATT&CK", "families", "libs", "weight"):
        t.add_column(col, justify="right" if col in ("libs", "weight") else "left")
    for e in items:
        where = e.function or e.address or ""
        sharers = Text(_short(", ".join(e.families or e.actors), 30))
        t.add_row(
            e.id, e.kind, Text(_short(e.value)), where, ", ".join(e.attack), sharers, str(e.library_samples),
            f"{e.weight:.2f}",
        )  # fmt: skip
    return t


def ach_table(doc: AttributionDocument) -> Table:
    t = Table(show_edge=False, pad_edge=False)
    t.add_column("evidence", no_wrap=True)
    for hid in doc.ach.hypotheses:
        t.add_column(Text(_short(hid.split(":", 1)[-1], 12)), justify="center", no_wrap=True)
    by_id = doc.evidence_by_id()
    for row in doc.ach.rows[:TOP_EVIDENCE]:
        e = by_id.get(row.evidence_id)
        label = f"{e.kind[:5]}: {_short(e.value, 26)}" if e else row.evidence_id
        t.add_row(Text(label), *(Text(SYMBOL[c], style=STYLE[c]) for c in row.cells))
    return t
