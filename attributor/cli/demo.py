"""``attributor demo``: build a small labelled corpus from the bundled C sources and attribute an incident.

Everything is written under ``--out`` (default ``./demo-out``)::

    demo.db        the corpus store (and its intel), rebuilt from scratch on every run
    report.json    the incident's attributor.attribution/1 document
    report.html    the same report, self-contained HTML
    incident.ioc   the network indicators "seen" during the incident (a copy of the bundled file)
    corpus/        compiled reference samples   (removed at the end unless --keep)
    incident/      the compiled incident sample (removed at the end unless --keep)
"""

from __future__ import annotations

import shutil
from pathlib import Path

import click

from attributor.cli.common import common_flags, get_state, out_console
from attributor.cli.evidence import analyser, evidence_options, options_from
from attributor.errors import FileAccessError
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
@evidence_options
@common_flags
def demo(out: Path, keep: bool, capa_rules: Path | None, no_evidence: bool) -> None:
    """Build a demo corpus, then attribute a demo incident against it.

    Needs a C compiler. Imports fictional intel for the demo actors, attributes the incident with
    the indicators "seen" during it, prints the report, the paths of the JSON and HTML reports,
    and a one-line verdict.

    \b
    Example:
      attributor demo --out /tmp/demo --keep
    """
    from attributor.cli.attribute import render
    from attributor.cli.corpus import report_ingest
    from attributor.demo.build import build_corpus, build_incident
    from attributor.ingest import ingest
    from attributor.intel.load import load_intel
    from attributor.intel.sqlite import SQLiteIntelStore
    from attributor.render.attribution_text import render_attribution
    from attributor.scoring.attribute import CaseRequest, attribute
    from attributor.store.open import open_store

    state = get_state()
    db = fresh_db(out)
    state.info(f"attributor: building the demo corpus in {out / 'corpus'}")
    built = build_corpus(make_dir(out / "corpus"))
    incident = build_incident(make_dir(out / "incident"))
    items = [(b.path, Label(b.family, b.actor, b.library, source=str(b.path))) for b in built]
    ioc_file = write_text(out / "incident.ioc", _data("incident.ioc"))
    with open_store(db, create=True) as store:
        options = options_from(capa_rules, no_evidence)
        fingerprinter = analyser(options)
        report_ingest(
            ingest(store, items, blind=False, progress=not state.quiet, fingerprinter=fingerprinter)
        )
        with SQLiteIntelStore(db) as intel:
            intel_csv = write_text(out / "intel.csv", _data("intel.csv"))
            added = intel.add(load_intel(intel_csv))
            state.info(f"attributor: imported {added} intel records (fictional infrastructure)")
            state.info(f"attributor: attributing {incident} with {ioc_file}")
            from attributor.intel.ioc import read_ioc_file

            request = CaseRequest(
                samples=[incident],
                iocs=read_ioc_file(ioc_file),
                title="attributor demo incident",
                options=options,
            )
            doc = attribute(store, request, intel)
    render_attribution(doc, out_console())
    json_path = write_text(out / "report.json", doc.to_json())
    html_path = write_text(out / "report.html", render(doc, "html"))
    if not keep:
        for name in BUILD_DIRS:
            shutil.rmtree(out / name, ignore_errors=True)
    click.echo(f"JSON report: {json_path}")
    click.echo(f"HTML report: {html_path}")
    click.echo(f"verdict: {doc.verdict.text}")


def _data(name: str) -> str:
    """A bundled demo data file (fictional intel, incident indicators)."""
    from importlib import resources

    return resources.files("attributor.demo").joinpath("data", name).read_text(encoding="utf-8")


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
