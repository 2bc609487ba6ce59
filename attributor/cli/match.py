"""``attributor match``: fingerprint samples, match them against the corpus, render the report."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import click

from attributor import __version__
from attributor.cli.common import (
    blind_option,
    common_flags,
    db_option,
    exit_code_for,
    format_option,
    get_state,
    out_console,
    with_path,
)
from attributor.errors import FileAccessError, InputError
from attributor.match.matcher import TOP_MATCHES
from attributor.report.document import MatchDocument, MatchReport
from attributor.store.base import Store


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
@common_flags
def match(samples: tuple[Path, ...], db: str | None, blind: bool, fmt: str, top: int) -> None:
    """Attribute SAMPLE... to families and actors; the report goes to stdout.

    With --format json the output is always one attributor.match-report/1 object whose
    'results' list holds one attributor.match/1 document per sample that could be analysed.

    \b
    Example:
      attributor match suspicious.exe --db corpus.db
      attributor match a.exe b.elf --format json | jq '.results[].families[0]'
    """
    from attributor.store.open import open_store, resolve_db_path

    path = resolve_db_path(db)
    with open_store(path, create=False) as store:
        docs, errors = match_all(store, samples, blind=blind, top=top, db_info=path.name)
    if docs:
        emit(MatchReport.of(docs, __version__), fmt)
    code = exit_code_for(len(docs), [e.exit_code for e in errors])
    if code:
        click.get_current_context().exit(code)


def match_all(
    store: Store, samples: Sequence[Path], blind: bool, top: int, db_info: str | None
) -> tuple[list[MatchDocument], list[InputError | FileAccessError]]:
    """Match each sample; a sample that cannot be analysed is reported on stderr and skipped.

    Store errors (missing db, parameter mismatch) are not per-sample: they propagate.
    """
    state = get_state()
    docs: list[MatchDocument] = []
    errors: list[InputError | FileAccessError] = []
    for sample in samples:
        state.info(f"attributor: matching {sample}")
        try:
            docs.append(match_one(store, sample, blind=blind, top=top, db_info=db_info))
        except (InputError, FileAccessError) as err:
            click.echo(f"attributor: error: {with_path(sample, err)}", err=True)
            errors.append(err)
    return docs, errors


def match_one(store: Store, sample: Path, blind: bool, top: int, db_info: str | None) -> MatchDocument:
    """Fingerprint ``sample`` with the store's parameters, match it, and build its document."""
    from attributor.match.matcher import match_sample
    from attributor.pipeline import fingerprint_path

    fp = fingerprint_path(sample, blind=blind, params=store.params)
    result = match_sample(store, fp, top=top)
    return MatchDocument.from_result(result, __version__, db_info=db_info)


def emit(report: MatchReport, fmt: str) -> None:
    """Write the report to stdout as JSON or text."""
    if fmt == "json":
        from attributor.render.json import render_json

        click.echo(render_json(report), nl=False)
    else:
        from attributor.render.text import render_text

        render_text(report, out_console())
