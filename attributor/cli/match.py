"""``attributor match``: fingerprint samples, match them against the corpus, render the report."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import click

from attributor import __version__
from attributor.cli.common import (
    blind_option,
    common_flags,
    db_option,
    exit_code_for,
    format_option,
    get_state,
    limit_options,
    out_console,
    with_path,
)
from attributor.cli.evidence import analyser, evidence_options, options_from
from attributor.errors import FileAccessError, InputError, LimitExceeded
from attributor.evidence.extract import DEFAULT_OPTIONS, EvidenceOptions
from attributor.match.matcher import TOP_MATCHES
from attributor.report.document import MatchDocument, MatchReport
from attributor.store.base import Store

if TYPE_CHECKING:
    from attributor.isolation import WorkerPool


@click.command("match")
@click.argument("samples", nargs=-1, required=True, metavar="SAMPLE...", type=click.Path(path_type=Path))
@db_option
@blind_option
@format_option
@click.option(
    "--top",
    type=click.IntRange(min=1),
    default=TOP_MATCHES,
    show_default=True,
    help="Best reference matches listed per query function.",
)
@evidence_options
@limit_options
@common_flags
def match(
    samples: tuple[Path, ...],
    db: str | None,
    blind: bool,
    fmt: str,
    top: int,
    capa_rules: Path | None,
    no_evidence: bool,
) -> None:
    """Attribute SAMPLE... to families and actors; the report goes to stdout.

    With --format json the output is always one attributor.match-report/1 object whose
    'results' list holds one attributor.match/1 document per sample that could be analysed.
    Each sample is analysed in a worker process with memory, CPU and time limits
    (docs/limits.md); a sample that hits one is reported with status 'incomplete' and exits 12.

    \b
    Example:
      attributor match suspicious.exe --db corpus.db
      attributor match a.exe b.elf --format json | jq '.results[].families[0]'
    """
    from attributor.store.open import open_store, resolve_db_path

    path = resolve_db_path(db)
    options = options_from(capa_rules, no_evidence)
    with open_store(path, create=False) as store:
        docs, errors = match_all(store, samples, blind=blind, top=top, db_info=path.name, options=options)
    if docs:
        emit(MatchReport.of(docs, __version__), fmt)
    ok = sum(1 for doc in docs if not stopped_by_limit(doc))
    code = exit_code_for(ok, [e.exit_code for e in errors])
    if code:
        click.get_current_context().exit(code)


def match_all(
    store: Store,
    samples: Sequence[Path],
    blind: bool,
    top: int,
    db_info: str | None,
    options: EvidenceOptions | None = DEFAULT_OPTIONS,
) -> tuple[list[MatchDocument], list[InputError | FileAccessError]]:
    """Match each sample; a sample that cannot be analysed is reported on stderr and skipped.

    Samples are fingerprinted one at a time in a limited worker process (the limits current for
    this command, :func:`attributor.isolation.current_limits`). One that hits a limit is kept in
    the report, marked ``incomplete``, and also counted as a failure (:class:`LimitExceeded`,
    exit 12): with no function recovered, "no family attributed" would be no answer at all.
    Store errors (missing db, parameter mismatch) are not per-sample: they propagate.
    """
    from attributor.isolation import WorkerPool

    docs: list[MatchDocument] = []
    errors: list[InputError | FileAccessError] = []
    with WorkerPool(analyser(options), 1, blind=blind, params=store.params) as pool:
        for sample in samples:
            try:
                with _expanded(sample) as members:
                    for shown, path in members:
                        _match_into(store, shown, path, blind, top, db_info, pool, docs, errors)
            except (InputError, FileAccessError) as err:  # the archive itself is unreadable
                click.echo(f"attributor: error: {with_path(sample, err)}", err=True)
                errors.append(err)
    return docs, errors


@contextmanager
def _expanded(sample: Path) -> Iterator[list[tuple[Path, Path]]]:
    """``[(name shown to the user, file to analyse)]``: the sample itself, or an archive's members.

    Members live in a temporary folder for the duration of the ``with`` block
    (see :mod:`attributor.archive`); their names are shown escaped, never used as paths.
    """
    from attributor.archive import is_archive, open_archive

    if not sample.is_file() or not is_archive(sample):
        yield [(sample, sample)]
        return
    state = get_state()
    with open_archive(sample) as contents:
        for skipped in contents.skipped:
            state.info(f"attributor: {sample}!{skipped.name_escaped}: skipped ({skipped.reason})")
        yield [(Path(f"{sample}!{m.name_escaped}"), m.path) for m in contents]


def _match_into(
    store: Store,
    shown: Path,
    path: Path,
    blind: bool,
    top: int,
    db_info: str | None,
    pool: WorkerPool,
    docs: list[MatchDocument],
    errors: list[InputError | FileAccessError],
) -> None:
    """Match one file, appending its document or its error (reported under ``shown``)."""
    state = get_state()
    state.info(f"attributor: matching {shown}")
    try:
        doc = match_one(store, path, blind=blind, top=top, db_info=db_info, pool=pool)
    except (InputError, FileAccessError) as err:
        if shown != path:
            err = type(err)(str(err).replace(str(path), str(shown)))
        click.echo(f"attributor: error: {with_path(shown, err)}", err=True)
        errors.append(err)
        return
    docs.append(doc)
    if stopped_by_limit(doc):
        limit = LimitExceeded(f"{'; '.join(doc.sample.notes)} (reported with status incomplete)")
        click.echo(f"attributor: error: {with_path(shown, limit)}", err=True)
        errors.append(limit)
    elif doc.sample.status != "complete":
        state.info(f"attributor: warning: {shown}: incomplete: {'; '.join(doc.sample.notes)}")


def stopped_by_limit(doc: MatchDocument) -> bool:
    """The sample's analysis was stopped by a worker limit (memory, CPU, wall clock, output)."""
    from attributor.isolation import is_limit_note

    return doc.sample.status != "complete" and any(is_limit_note(n) for n in doc.sample.notes)


def match_one(
    store: Store,
    sample: Path,
    blind: bool,
    top: int,
    db_info: str | None,
    pool: WorkerPool | None = None,
) -> MatchDocument:
    """Fingerprint ``sample`` with the store's parameters, match it, and build its document.

    The fingerprinting runs in ``pool`` (made with the same ``blind`` and the store's params), or
    in a fresh worker with the current limits when no pool is given.
    """
    from attributor.isolation import fingerprint_isolated
    from attributor.match.matcher import match_sample

    if pool is not None:
        fp = pool.fingerprint(sample)
    else:
        fp = fingerprint_isolated(sample, analyser(DEFAULT_OPTIONS), blind=blind, params=store.params)
    result = match_sample(store, fp, top=top)  # a query without functions shares nothing
    return MatchDocument.from_result(result, __version__, db_info=db_info)


def emit(report: MatchReport, fmt: str) -> None:
    """Write the report to stdout as JSON or text."""
    if fmt == "json":
        from attributor.render.json import render_json

        click.echo(render_json(report), nl=False)
    else:
        from attributor.render.text import render_text

        render_text(report, out_console())
