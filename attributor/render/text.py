"""Human-readable match report (rich), rendered from a :class:`MatchReport` or one document.

Per sample: a header line with the sample's facts, the ranked family table, a one-line verdict,
and the strongest function pairs behind each attributed family. All user-supplied strings (family
and actor names, notes) go through :class:`rich.text.Text`, so they are never parsed as markup.
"""

from __future__ import annotations

from collections import Counter

from rich.console import Console, JustifyMethod
from rich.table import Table
from rich.text import Text

from attributor.evidence.record import Evidence
from attributor.fingerprint.model import SampleFingerprint
from attributor.report.document import EvidenceItem, Family, MatchDocument, MatchReport, Pair

TOP_PAIRS = 5
TOP_EVIDENCE = 12
VALUE_WIDTH = 64
TICK = "✓"
DASH = "–"


def render_text(report: MatchReport | MatchDocument, console: Console) -> None:
    """Print every sample of ``report`` to ``console``, separated by a rule."""
    docs = report.results if isinstance(report, MatchReport) else (report,)
    for i, doc in enumerate(docs):
        if i:
            console.rule(style="dim")
        render_document(doc, console)


def render_document(doc: MatchDocument, console: Console) -> None:
    """Print one sample: header, family table, verdict, top pairs per attributed family."""
    console.print(header_line(doc), soft_wrap=True)  # a sha256 is never wrapped
    for note in doc.sample.notes:
        console.print(Text.assemble(("note: ", "yellow"), note))
    if doc.families:
        console.print(Text("families", "bold"))
        console.print(family_table(doc))
    else:
        console.print(Text("no function is shared with the corpus", style="dim"))
    console.print(verdict_line(doc))
    for family in doc.attributed_families:
        console.print()
        console.print(Text.assemble("top pairs: ", (family.family, "bold")))
        console.print(pairs_table(family))
    render_shared_evidence(doc, console)


def render_shared_evidence(doc: MatchDocument, console: Console) -> None:
    """Evidence beyond code, per family that shares it; then a count of the sample's own findings."""
    if not doc.evidence:
        return
    families = sorted({f for e in doc.evidence for f in e.families})
    for family in families:
        shared = [e for e in doc.evidence if family in e.families]
        console.print()
        console.print(Text.assemble("evidence shared with ", (family, "bold"), f" ({len(shared)} items)"))
        console.print(evidence_table(shared[:TOP_EVIDENCE], sharers=True))
    kinds = Counter(e.kind for e in doc.evidence)
    summary = ", ".join(f"{n} {k}" for k, n in sorted(kinds.items()))
    console.print(
        Text.assemble(
            ("evidence in the sample: ", "bold"), summary, (" (attributor evidence SAMPLE lists it)", "dim")
        )
    )


def _short(value: str, width: int = VALUE_WIDTH) -> str:
    value = value.replace("\n", "\\n").replace("\r", "\\r")
    return value if len(value) <= width else value[: width - 1] + "…"


def evidence_table(items: list[EvidenceItem] | list[Evidence], sharers: bool = False) -> Table:
    """Kind, value, location, source, ATT&CK and tags of each item (plus its sharers for match)."""
    table = Table(show_edge=False, pad_edge=False)
    cols = ["kind", "subtype", "value", "address", "function", "source", "ATT&CK", "tags"]
    if sharers:
        cols += ["families", "libraries"]
    for name in cols:
        table.add_column(name, overflow="fold" if name == "value" else "ellipsis")
    for e in items:
        address = e.address if isinstance(e.address, str) or e.address is None else f"{e.address:#x}"
        function = e.function if isinstance(e.function, str) or e.function is None else f"{e.function:#x}"
        row = [
            Text(str(e.kind)), Text(e.subtype), Text(_short(e.value)), Text(address or DASH),
            Text(function or DASH), Text(e.source), Text(", ".join(e.attack) or DASH),
            Text(", ".join(e.tags) or DASH),
        ]  # fmt: skip
        if isinstance(e, EvidenceItem):
            row += [Text(", ".join(e.families) or DASH), Text(str(e.library_samples))]
        table.add_row(*row)
    return table


def render_evidence(fp: SampleFingerprint, console: Console) -> None:
    """``attributor evidence``: the sample line, its notes and every finding."""
    console.print(
        Text.assemble(
            ("sample ", "bold"), (fp.sha256, "bold cyan"), f"  {fp.format}/{fp.arch}  {fp.size:,} bytes"
        ),
        soft_wrap=True,
    )
    for note in fp.notes:
        console.print(Text.assemble(("note: ", "yellow"), note))
    if not fp.evidence:
        console.print(Text("no evidence found", style="dim"))
        return
    console.print(evidence_table(fp.evidence))


def header_line(doc: MatchDocument) -> Text:
    """``sample <sha256>  PE/x86-64  123 functions  coverage 91.2%  complete``, then a dim line of context."""
    s = doc.sample
    status_style = "green" if s.status == "complete" else "yellow"
    corpus = doc.corpus
    where = f" {corpus.db}" if corpus.db else ""
    context = f"{s.size:,} bytes; corpus{where}: {corpus.samples:,} samples, {corpus.functions:,} functions"
    return Text.assemble(
        ("sample ", "bold"),
        (s.sha256, "bold cyan"),
        f"  {s.format}/{s.arch}  {s.function_count:,} functions  coverage {s.coverage:.1%}  ",
        (s.status, status_style),
        "\n",
        (context, "dim"),
    )


def family_table(doc: MatchDocument) -> Table:
    """The ranked family table; library/background families are dimmed and never ticked."""
    table = Table(show_edge=False, pad_edge=False)
    for name, justify in COLUMNS:
        table.add_column(name, justify=justify, no_wrap=name not in ("family", "actor(s)"))
    for rank, f in enumerate(doc.families, 1):
        table.add_row(*_family_cells(rank, f), style="dim" if f.library else None)
    return table


COLUMNS: tuple[tuple[str, JustifyMethod], ...] = (
    ("#", "right"),
    ("family", "left"),
    ("actor(s)", "left"),
    ("score", "right"),
    ("attributed", "center"),
    ("shared fns", "right"),
    ("shared KiB", "right"),
    ("% matchable", "right"),
    ("unique fns", "right"),
)


def _family_cells(rank: int, f: Family) -> tuple[Text, ...]:
    name = Text(f.family)
    if f.library:
        name.append(" (library)", "italic")
    mark = Text(TICK, "bold green") if f.attributed and not f.library else Text(DASH, "dim")
    return (
        Text(str(rank)),
        name,
        Text(", ".join(f.actors) or DASH),
        Text(f"{f.score:.2f}"),
        mark,
        Text(str(f.shared_functions)),
        Text(f"{f.shared_bytes / 1024:.1f}"),
        Text(f"{f.matchable_fraction:.1%}"),
        Text(str(f.unique_functions)),
    )


def verdict_text(doc: MatchDocument) -> str:
    """``attributed to FAMILY (ACTOR)`` (joined with ``; `` if several), else the unknown verdict."""
    attributed = doc.attributed_families
    if not attributed:
        return "no family attributed (unknown)"
    parts = [f"{f.family} ({', '.join(f.actors) or 'actor unknown'})" for f in attributed]
    return "attributed to " + "; ".join(parts)


def verdict_line(doc: MatchDocument) -> Text:
    style = "bold green" if doc.attributed_families else "bold yellow"
    return Text.assemble(("verdict: ", "bold"), (verdict_text(doc), style))


def top_pairs(family: Family, n: int = TOP_PAIRS) -> list[Pair]:
    """The ``n`` pairs that contribute most (weight × similarity), ties broken by address."""
    ranked = sorted(family.pairs, key=lambda p: (-p.weight * p.similarity, int(p.query_address, 16)))
    return ranked[:n]


def pairs_table(family: Family) -> Table:
    """The strongest evidence for one family: which query function matched which reference."""
    table = Table(show_edge=False, pad_edge=False)
    for name in ("query", "size", "reference sample", "ref address", "similarity", "families", "weight"):
        table.add_column(name, justify="left" if name in ("query", "reference sample") else "right")
    for p in top_pairs(family):
        table.add_row(
            p.query_address,
            str(p.query_size),
            Text(p.ref_sha256[:16]),
            p.ref_address,
            f"{p.similarity:.3f}",
            str(p.n_families),
            f"{p.weight:.3f}",
        )
    return table
