"""``attributor corpus add|import|stats``: build and inspect the reference corpus."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from contextlib import ExitStack, closing
from pathlib import Path
from typing import TYPE_CHECKING, Any

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
from attributor.cli.evidence import analyser, evidence_options, options_from
from attributor.store.base import Label

if TYPE_CHECKING:
    from attributor.fingerprint.model import SampleFingerprint
    from attributor.ingest import IngestFailure, IngestSummary
    from attributor.store.base import Store


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
@evidence_options
@common_flags
def add(
    paths: tuple[Path, ...],
    family: str,
    actor: str | None,
    library: bool,
    db: str | None,
    jobs: int | None,
    blind: bool,
    capa_rules: Path | None,
    no_evidence: bool,
) -> None:
    """Fingerprint PATH... (files, folders, archives) and store them under one label.

    Zip (password 'infected'), tar and gzip/bzip2/xz archives, given or found in a folder, are
    extracted to a temporary folder and their members ingested; see docs/archives.md.

    \b
    Example:
      attributor corpus add samples/emotet/ --family emotet --actor TA542
    """
    label = Label(family=family, actor=actor, library=library)
    options = options_from(capa_rules, no_evidence)
    run_ingest([(p, label) for p in paths], db, jobs=jobs, blind=blind, fingerprinter=analyser(options))


@corpus.command("import")
@click.argument("manifest", type=click.Path(dir_okay=False, path_type=Path))
@db_option
@jobs_option
@blind_option
@evidence_options
@common_flags
def import_(
    manifest: Path, db: str | None, jobs: int | None, blind: bool, capa_rules: Path | None, no_evidence: bool
) -> None:
    """Ingest every sample listed in MANIFEST (CSV or JSON lines; see docs/cli.md).

    \b
    Example:
      attributor corpus import corpus.csv --db corpus.db --jobs 8
    """
    from attributor.manifest import parse_manifest

    items = parse_manifest(manifest)
    fingerprinter = analyser(options_from(capa_rules, no_evidence))
    run_ingest(items, db, jobs=jobs, blind=blind, fingerprinter=fingerprinter)


def run_ingest(
    items: list[tuple[Path, Label]],
    db: str | None,
    jobs: int | None,
    blind: bool,
    fingerprinter: Callable[..., SampleFingerprint] | None = None,
) -> None:
    """Open (or create) the store, ingest, print the summary; exit 0, 4, or the first failure's code."""
    from attributor.store.open import open_store, resolve_db_path

    with open_store(resolve_db_path(db), create=True) as store:
        summary = ingest_with_archives(
            store, items, jobs=jobs, blind=blind, progress=not get_state().quiet, fingerprinter=fingerprinter
        )
    code = report_ingest(summary)
    if code:
        click.get_current_context().exit(code)


def ingest_with_archives(
    store: Store,
    items: list[tuple[Path, Label]],
    jobs: int | None,
    blind: bool,
    progress: bool,
    fingerprinter: Callable[..., SampleFingerprint] | None = None,
) -> IngestSummary:
    """:func:`attributor.ingest.ingest`, with every archive among ``items`` (or in their folders) expanded.

    Members are extracted to a temporary folder (:func:`attributor.archive.open_archive`) and
    ingested with their archive's label and ``source="<archive>!<member name, escaped>"``, in
    batches of at most ``max_total_bytes`` extracted bytes, whose temporary files are removed once
    stored. A failed member is reported as ``<archive>!<member>``; an archive that cannot be
    opened, or holds no file, is one failure. Failures keep the input order.
    """
    from attributor.archive import DEFAULT_ARCHIVE_LIMITS, is_archive
    from attributor.ingest import IngestSummary, expand

    started = time.monotonic()
    total = IngestSummary()
    batch = _Batch()
    opts = {"jobs": jobs, "blind": blind, "progress": progress, "fingerprinter": fingerprinter}
    try:
        for path, label in expand(items, total):
            if not is_archive(path):
                batch.add_file(path, label)
                continue
            batch.add_archive(path, label)
            if batch.extracted >= DEFAULT_ARCHIVE_LIMITS.max_total_bytes:
                _add_up(total, batch.ingest(store, **opts))
                batch.close()
                batch = _Batch()
        _add_up(total, batch.ingest(store, **opts))
    finally:
        batch.close()
    total.seconds = time.monotonic() - started
    return total


class _Batch:
    """Files ingested together, and the open archives whose extracted members are among them."""

    def __init__(self) -> None:
        self.stack = ExitStack()
        self.items: list[tuple[Path, Label]] = []
        self.order: dict[Path, int] = {}  # input position of every file and archive, for failures
        self.shown: dict[Path, Path] = {}  # temporary member file -> "<archive>!<member>"
        self.failed: list[IngestFailure] = []
        self.extracted = 0

    def add_file(self, path: Path, label: Label) -> None:
        self.order.setdefault(path, len(self.order))
        self.items.append((path, label))

    def add_archive(self, path: Path, label: Label) -> None:
        from attributor.archive import open_archive
        from attributor.ingest import IngestFailure

        self.order.setdefault(path, len(self.order))
        try:
            contents = self.stack.enter_context(open_archive(path))
        except errors.AttributorError as e:
            self.failed.append(IngestFailure(path, type(e).__name__, str(e)))
            return
        for skipped in contents.skipped:
            get_state().info(f"attributor: {path}!{skipped.name_escaped}: skipped ({skipped.reason})")
        if not contents.members:
            why = f"{path}: no file to ingest in the archive ({len(contents.skipped)} entries skipped)"
            self.failed.append(IngestFailure(path, errors.ArchiveError.__name__, why))
        for member in contents:
            shown = Path(f"{path}!{member.name_escaped}")
            self.order[member.path], self.shown[member.path] = len(self.order), shown
            self.items.append((member.path, dataclasses.replace(label, source=str(shown))))
            self.extracted += member.size

    def ingest(self, store: Store, **options: Any) -> IngestSummary:
        from attributor.ingest import IngestSummary, ingest

        part = ingest(store, self.items, **options) if self.items else IngestSummary()
        part.failed = sorted([*self.failed, *part.failed], key=lambda f: self.order.get(f.path, -1))
        for f in dataclasses.fields(part):  # failures, incomplete samples ...: name the member
            value = getattr(part, f.name)
            if isinstance(value, list):
                setattr(part, f.name, [self._shown(item) for item in value])
        return part

    def _shown(self, item: Any) -> Any:
        """``item`` (a NamedTuple with ``path``) naming ``<archive>!<member>`` instead of a temporary file."""
        shown = self.shown.get(getattr(item, "path", None))  # type: ignore[arg-type]
        if shown is None:
            return item
        message = getattr(item, "message", None)
        if isinstance(message, str):
            return item._replace(path=shown, message=message.replace(str(item.path), str(shown)))
        return item._replace(path=shown)

    def close(self) -> None:
        self.stack.close()


def _add_up(total: IngestSummary, part: IngestSummary) -> None:
    """Add ``part``'s counts, times and failure lists to ``total``."""
    for f in dataclasses.fields(part):
        setattr(total, f.name, getattr(total, f.name) + getattr(part, f.name))


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
