"""``attributor corpus stats`` output: a short summary plus a per-family table, or the JSON document."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table
from rich.text import Text

from attributor.render.json import render_json
from attributor.report.document import CorpusStats

DASH = "–"


def render_stats_json(stats: CorpusStats) -> str:
    """The ``attributor.stats/1`` document as JSON (one ``model_dump_json`` call)."""
    return render_json(stats)


def render_stats_text(stats: CorpusStats, console: Console) -> None:
    """Print the summary lines and, when the corpus is not empty, the family table."""
    size = f"  ({stats.bytes_on_disk / 2**20:.1f} MiB on disk)" if stats.bytes_on_disk is not None else ""
    console.print(Text.assemble(("corpus ", "bold"), (stats.db or "(unnamed)", "cyan"), (size, "dim")))
    console.print(summary_text(stats))
    if stats.formats:
        formats = ", ".join(f"{k}: {v}" for k, v in stats.formats.items())
        console.print(Text(f"formats: {formats}"))
    params = " ".join(f"{k}={v}" for k, v in stats.params.items())
    console.print(Text(f"params: {params}", "dim"))
    if stats.by_family:
        console.print(family_table(stats))


def summary_text(stats: CorpusStats) -> Text:
    """``N samples, M functions, F families, A actors, L library samples, I incomplete``."""
    return Text(
        f"{stats.samples:,} samples, {stats.functions:,} functions, {stats.families} families, "
        f"{stats.actors} actors, {stats.library_samples} library samples, "
        f"{stats.incomplete_samples} incomplete"
    )


def family_table(stats: CorpusStats) -> Table:
    table = Table(show_edge=False, pad_edge=False)
    table.add_column("family")
    table.add_column("actor(s)")
    table.add_column("library", justify="center")
    table.add_column("samples", justify="right")
    table.add_column("functions", justify="right")
    for f in stats.by_family:
        table.add_row(
            Text(f.family),
            Text(", ".join(f.actors) or DASH),
            "yes" if f.library else DASH,
            f"{f.samples:,}",
            f"{f.functions:,}",
        )
    return table
