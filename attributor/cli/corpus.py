"""``attributor corpus add|import|stats``: build and inspect the reference corpus."""

from __future__ import annotations

from contextlib import closing
from pathlib import Path
from typing import TYPE_CHECKING

import click

from attributor import __version__, errors
from attributor.cli.common import (
    blind_option,
    common_flags,
    db_option,
    exit_code_for,
    format_option,
    get_state,
    jobs_option,
    out_console,
    with_path,
)
from attributor.store.base import Label

if TYPE_CHECKING:
    from attributor.ingest import IngestSummary


@click.group("corpus")
@common_flags
def corpus() -> None:
    """Build and inspect the labelled reference corpus."""


@corpus.command("add")
@click.argument("paths", nargs=-1, required=True, metavar="PATH...", type=click.Path(path_type=Path))
@click.option("--family", required=True, help="Family label of every given sample.")
@click.option("--actor", default=None, help="Actor (threat group) behind the family.")
@click.option("--library", is_flag=True, help="Library/goodware/runtime: background code, never attributed.")
@db_option
@jobs_option
@blind_option
@common_flags
def add(
    paths: tuple[Path, ...],
    family: str,
    actor: str | None,
    library: bool,
    db: str | None,
    jobs: int | None,
    blind: bool,
) -> None:
    """Fingerprint PATH... (files or folders) and store them under one label.

    \b
    Example:
      attributor corpus add samples/emotet/ --family emotet --actor TA542
    """
    label = Label(family=family, actor=actor, library=library)
    run_ingest([(p, label) for p in paths], db, jobs=jobs, blind=blind)


@corpus.command("import")
@click.argument("manifest", type=click.Path(dir_okay=False, path_type=Path))
@db_option
@jobs_option
@blind_option
@common_flags
def import_(manifest: Path, db: str | None, jobs: int | None, blind: bool) -> None:
    """Ingest every sample listed in MANIFEST (CSV or JSON lines; see docs/cli.md).

    \b
    Example:
      attributor corpus import corpus.csv --db corpus.db --jobs 8
    """
    from attributor.manifest import parse_manifest

    run_ingest(parse_manifest(manifest), db, jobs=jobs, blind=blind)


def run_ingest(items: list[tuple[Path, Label]], db: str | None, jobs: int | None, blind: bool) -> None:
    """Open (or create) the store, ingest, print the summary; exit 0, 4, or the first failure's code."""
    from attributor.ingest import ingest
    from attributor.store.open import open_store, resolve_db_path

    with open_store(resolve_db_path(db), create=True) as store:
        summary = ingest(store, items, jobs=jobs, blind=blind, progress=not get_state().quiet)
    code = report_ingest(summary)
    if code:
        click.get_current_context().exit(code)


def report_ingest(summary: IngestSummary) -> int:
    """Print one error line per failed input and the one-line summary; return the exit code.

    0 when every input was added or already present, 4 when some failed, and the first failure's
    own code (e.g. 10 for an unsupported file) when all of them failed.
    """
    codes = [failure_exit_code(f.error_class) for f in summary.failed]
    for f, code in zip(summary.failed, codes, strict=True):
        message = f.message if code != errors.E_INTERNAL else f"{f.error_class}: {f.message}"
        click.echo(f"attributor: error: {with_path(f.path, message)}", err=True)
    get_state().info(
        f"attributor: {summary.added} added ({summary.functions_added:,} functions), "
        f"{summary.skipped_existing} already present, {len(summary.failed)} failed "
        f"in {summary.seconds:.1f}s"
    )
    return exit_code_for(summary.added + summary.skipped_existing, codes)


def failure_exit_code(error_class: str) -> int:
    """The exit code of an ingest failure, from the name of its error class (1 if not ours)."""
    cls = getattr(errors, error_class, None)
    if isinstance(cls, type) and issubclass(cls, errors.AttributorError):
        return cls.exit_code
    return errors.E_INTERNAL


@corpus.command("stats")
@db_option
@format_option
@common_flags
def stats(db: str | None, fmt: str) -> None:
    """Summarise the corpus: samples, functions, families, actors, formats.

    \b
    Example:
      attributor corpus stats --db corpus.db --format json
    """
    from attributor.render.stats import render_stats_json, render_stats_text
    from attributor.report.document import CorpusStats
    from attributor.store.open import open_store, resolve_db_path

    path = resolve_db_path(db)
    with closing(open_store(path, create=False)) as store:
        doc = CorpusStats.from_records(
            store.samples(),
            store.params,
            __version__,
            db_info=path.name,
            bytes_on_disk=store.stats()["bytes_on_disk"],
        )
    if fmt == "json":
        click.echo(render_stats_json(doc), nl=False)
    else:
        render_stats_text(doc, out_console())
