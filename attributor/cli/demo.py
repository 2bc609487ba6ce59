"""``attributor demo``: build a small labelled corpus from the bundled C sources and attribute an incident.

Everything is written under ``--out`` (default ``./demo-out``)::

    demo.db        the corpus store, rebuilt from scratch on every run
    report.json    the incident's attributor.match-report/1 document
    corpus/        compiled reference samples   (removed at the end unless --keep)
    incident/      the compiled incident sample (removed at the end unless --keep)
"""

from __future__ import annotations

import shutil
from pathlib import Path

import click

from attributor import __version__
from attributor.cli.common import common_flags, get_state
from attributor.errors import FileAccessError
from attributor.match.matcher import TOP_MATCHES
from attributor.render.json import render_json
from attributor.report.document import MatchReport
from attributor.store.base import Label
from attributor.util.atomic import atomic_write_text

DEFAULT_OUT = Path("demo-out")
BUILD_DIRS = ("corpus", "incident")


@click.command("demo")
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    default=DEFAULT_OUT,
    show_default=True,
    help="Folder for the demo corpus, database and report.",
)
@click.option("--keep", is_flag=True, help="Keep the compiled corpus and incident binaries.")
@common_flags
def demo(out: Path, keep: bool) -> None:
    """Build a demo corpus, then attribute a demo incident against it.

    Needs a C compiler. Prints the text report, then the path of the JSON report.

    \b
    Example:
      attributor demo --out /tmp/demo --keep
    """
    from attributor.cli.corpus import report_ingest
    from attributor.cli.match import emit, match_one
    from attributor.demo.build import build_corpus, build_incident
    from attributor.ingest import ingest
    from attributor.store.open import open_store

    state = get_state()
    db = fresh_db(out)
    state.info(f"attributor: building the demo corpus in {out / 'corpus'}")
    built = build_corpus(make_dir(out / "corpus"))
    incident = build_incident(make_dir(out / "incident"))
    items = [(b.path, Label(b.family, b.actor, b.library, source=str(b.path))) for b in built]
    with open_store(db, create=True) as store:
        report_ingest(ingest(store, items, jobs=None, blind=False, progress=not state.quiet))
        state.info(f"attributor: matching {incident}")
        doc = match_one(store, incident, blind=False, top=TOP_MATCHES, db_info=db.name)
    report = MatchReport.of([doc], __version__)
    emit(report, "text")
    json_path = write_text(out / "report.json", render_json(report))
    if not keep:
        for name in BUILD_DIRS:
            shutil.rmtree(out / name, ignore_errors=True)
    click.echo(f"JSON report: {json_path}")


def make_dir(path: Path) -> Path:
    """Create ``path`` (and parents); a typed error if that is impossible."""
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise FileAccessError(f"{path}: {e.strerror or e}") from None
    return path


def fresh_db(out: Path) -> Path:
    """``OUT/demo.db`` with any previous database (and its SQLite side files) removed."""
    db = make_dir(out) / "demo.db"
    for suffix in ("", "-wal", "-shm", "-journal"):
        try:
            db.with_name(db.name + suffix).unlink(missing_ok=True)
        except OSError as e:
            raise FileAccessError(f"{db}{suffix}: {e.strerror or e}") from None
    return db


def write_text(path: Path, text: str) -> Path:
    """Write ``text`` to ``path`` atomically: a kill leaves the previous report or the new one."""
    return atomic_write_text(path, text)
