"""``attributor intel import|stats|lookup``: infrastructure intelligence in the corpus database."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

import click

from attributor import errors
from attributor.cli.common import common_flags, db_option, exit_code_for, format_option, get_state, with_path

if TYPE_CHECKING:
    from attributor.intel.match import IntelMatch
    from attributor.intel.store import IntelStats


@click.group("intel")
@common_flags
def intel() -> None:
    """Import threat intel (STIX 2.1, MISP, CSV) and look indicators up in it."""


@intel.command("import")
@click.argument("files", nargs=-1, required=True, metavar="FILE...", type=click.Path(path_type=Path))
@db_option
@format_option
@common_flags
def import_(files: tuple[Path, ...], db: str | None, fmt: str) -> None:
    """Import intel FILE... (STIX 2.1 bundle, MISP event JSON or CSV, sniffed) into the database.

    Each file is imported whole, in one transaction, or not at all; importing the same intel
    again stores nothing new. Counts per type and actor go to stdout.

    \b
    Example:
      attributor intel import apt-report.json misp-event.json feed.csv --db corpus.db
    """
    from attributor.intel.load import load_intel_file
    from attributor.intel.sqlite import SQLiteIntelStore
    from attributor.intel.store import compute_stats
    from attributor.intel.warninglists import default_checker
    from attributor.store.open import resolve_db_path

    state = get_state()
    failures: list[int] = []
    imported = []
    with SQLiteIntelStore(resolve_db_path(db), create=True) as store:
        for path in files:
            try:
                loaded = load_intel_file(path)
                new = store.add(loaded.records)
            except errors.AttributorError as e:
                click.echo(f"attributor: error: {with_path(path, e)}", err=True)
                failures.append(e.exit_code)
                continue
            imported.extend(loaded.records)
            state.info(f"{path}: {len(loaded.records)} {loaded.format} records, {new} new")
    checker = default_checker()
    flagged = sum(1 for r in imported if checker.check(r.type, r.value))
    if flagged:
        state.info(f"attributor: {flagged} imported records are on warning lists (non-attributable)")
    _print_stats(compute_stats(imported), fmt)
    code = exit_code_for(len(files) - len(failures), failures)
    if code:
        click.get_current_context().exit(code)


@intel.command("stats")
@db_option
@format_option
@common_flags
def stats(db: str | None, fmt: str) -> None:
    """Count the stored intel by indicator type, actor and source."""
    from attributor.intel.sqlite import SQLiteIntelStore
    from attributor.store.open import resolve_db_path

    with SQLiteIntelStore(resolve_db_path(db), create=False) as store:
        _print_stats(store.stats(), fmt)


@intel.command("lookup")
@click.argument("indicators", nargs=-1, metavar="INDICATOR...")
@click.option(
    "--ioc",
    "ioc_files",
    multiple=True,
    type=click.Path(path_type=Path),
    help="File of indicators (one per line, optional ',time'; or STIX / MISP JSON).",
)
@click.option(
    "--observed", default=None, help="When the INDICATORs were seen (ISO 8601), for the time window."
)
@db_option
@format_option
@common_flags
def lookup(
    indicators: tuple[str, ...], ioc_files: tuple[Path, ...], observed: str | None, db: str | None, fmt: str
) -> None:
    """Match INDICATOR... and --ioc files against the stored intel.

    \b
    Example:
      attributor intel lookup 198.51.100.7 hxxp://c2.evil[.]example/gate --db corpus.db
      attributor intel lookup --ioc incident-iocs.txt --format json
    """
    from attributor.intel.ioc import read_ioc_file
    from attributor.intel.match import match_indicators
    from attributor.intel.model import IntelFormatError, IocQuery, parse_time
    from attributor.intel.sqlite import SQLiteIntelStore
    from attributor.store.open import resolve_db_path

    if not indicators and not ioc_files:
        raise click.UsageError("give at least one INDICATOR or --ioc FILE")
    try:
        when = parse_time(observed)
    except ValueError as e:
        raise IntelFormatError(f"--observed: {e}") from None
    queries = [IocQuery.parse(text, when, "command line") for text in indicators]
    for path in ioc_files:
        queries.extend(read_ioc_file(path))
    with SQLiteIntelStore(resolve_db_path(db), create=False) as store:
        matches = match_indicators(queries, store)
    if fmt == "json":
        click.echo(json.dumps([m.to_dict() for m in matches], indent=2, sort_keys=True))
    else:
        for m in matches:
            click.echo(_match_line(m))
    get_state().info(f"attributor: {len(matches)} matches for {len(set(queries))} indicators")


def _match_line(m: IntelMatch) -> str:
    window = {True: "in window", False: "OUTSIDE time window", None: "no times"}[m.in_window]
    values = ", ".join(sorted({r.value for r in m.records}))
    sources = ", ".join(sorted({r.source for r in m.records if r.source})) or "-"
    line = f"{m.query.value}  {m.kind} ({m.strength})  actor={m.actor or '-'}  intel={values}"
    line += f"  [{window}; {sources}]"
    if m.non_attributable:
        line += f"  NON-ATTRIBUTABLE: {', '.join(m.non_attributable)}"
    return line


def _print_stats(s: IntelStats, fmt: str) -> None:
    if fmt == "json":
        doc = {"records": s.records, "by_type": s.by_type, "by_actor": s.by_actor, "by_source": s.by_source}
        click.echo(json.dumps(doc, indent=2, sort_keys=True))
        return
    click.echo(f"records: {s.records}")
    for title, counts in (("type", s.by_type), ("actor", s.by_actor), ("source", s.by_source)):
        for key, n in counts.items():
            click.echo(f"  {title:<6} {key}: {n}")
