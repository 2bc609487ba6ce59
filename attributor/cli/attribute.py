"""``attributor attribute``: fuse all evidence into ranked hypotheses; report, exports, signed case."""

from __future__ import annotations

from pathlib import Path

import click

from attributor.cli.common import blind_option, common_flags, db_option, get_state, limit_options, out_console
from attributor.cli.evidence import evidence_options, options_from
from attributor.report.attribution import AttributionDocument

TLPS = ("TLP:CLEAR", "TLP:GREEN", "TLP:AMBER", "TLP:AMBER+STRICT", "TLP:RED")
FORMATS = ("text", "json", "html", "stix", "misp", "yara")
# Case bundle members rendered from the document (report.json, pairs and labels come from the bundle).
BUNDLE_RENDERS = {
    "text": "report/report.txt",
    "html": "report/report.html",
    "stix": "report/report.stix.json",
    "misp": "report/report.misp.json",
    "yara": "report/rules.yar",
}


def render(doc: AttributionDocument, fmt: str) -> str:
    """The document in one output format (all renderers read only the document)."""
    if fmt == "json":
        return doc.to_json()
    if fmt == "html":
        from attributor.render.html import render_html

        return render_html(doc)
    if fmt == "stix":
        from attributor.render.stix import render_stix

        return render_stix(doc)
    if fmt == "misp":
        from attributor.render.misp import render_misp

        return render_misp(doc)
    if fmt == "yara":
        from attributor.render.yara import render_yara

        return render_yara(doc)
    return render_plain_text(doc)


def render_plain_text(doc: AttributionDocument, width: int = 120) -> str:
    """The terminal report without colour, at a fixed width (deterministic; for bundles and pipes)."""
    import io

    from rich.console import Console

    from attributor.render.attribution_text import render_attribution

    buf = io.StringIO()
    render_attribution(
        doc, Console(file=buf, width=width, color_system=None, highlight=False, soft_wrap=False)
    )
    return buf.getvalue()


def run_attribution(
    samples: tuple[Path, ...],
    db: str | None,
    iocs: tuple[Path, ...],
    case_id: str | None,
    title: str,
    tlp: str,
    blind: bool,
    capa_rules: Path | None,
    no_evidence: bool,
    listings: bool = True,
) -> AttributionDocument:
    """Open the corpus (and its intel), read the IOC files, run :func:`attribute`."""
    from attributor.scoring.attribute import CaseRequest, attribute
    from attributor.store.open import open_store, resolve_db_path

    queries = []
    for f in iocs:
        from attributor.intel.ioc import read_ioc_file

        queries += read_ioc_file(f)
    request = CaseRequest(
        samples=samples, iocs=queries, case_id=case_id, title=title, tlp=tlp,  # type: ignore[arg-type]
        blind=blind, options=options_from(capa_rules, no_evidence), listings=listings,
    )  # fmt: skip
    path = resolve_db_path(db)
    with open_store(path, create=False) as store:
        intel = _open_intel(path)
        try:
            return attribute(store, request, intel)
        finally:
            if intel is not None:
                intel.close()


def _open_intel(path: Path):
    """The intel kept in the corpus database, or None when it holds none."""
    from attributor.intel.sqlite import SQLiteIntelStore

    store = SQLiteIntelStore(path)
    if store.stats().records == 0:
        store.close()
        return None
    return store


@click.command("attribute")
@click.argument(
    "samples", nargs=-1, required=True, metavar="SAMPLE...", type=click.Path(dir_okay=False, path_type=Path)
)
@db_option
@click.option(
    "--ioc",
    "iocs",
    multiple=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="Indicators seen in the incident (one per line, or a STIX bundle / MISP event); repeatable.",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(FORMATS),
    default="text",
    show_default=True,
    help="Report format on stdout (or in --output).",
)
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Write the report to FILE instead of stdout.",
)
@click.option(
    "--html",
    "html_out",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Also write the self-contained HTML report to FILE.",
)
@click.option(
    "--case",
    "case_out",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Write a signed case bundle (zip) with the report in every format; needs --key.",
)
@click.option(
    "--key",
    "key",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    envvar="ATTRIBUTOR_SIGNING_KEY",
    help="Ed25519 private key for --case (attributor keygen).",
)
@click.option(
    "--tlp",
    type=click.Choice(TLPS, case_sensitive=False),
    default="TLP:AMBER",
    show_default=True,
    help="TLP 2.0 marking of the case, carried into every export.",
)
@click.option("--case-id", default=None, help="Case identifier [default: derived from the inputs].")
@click.option("--title", default="", help="Case title.")
@evidence_options
@blind_option
@limit_options
@common_flags
def attribute_cmd(
    samples: tuple[Path, ...], db: str | None, iocs: tuple[Path, ...], fmt: str, output: Path | None,
    html_out: Path | None, case_out: Path | None, key: Path | None, tlp: str, case_id: str | None, title: str,
    capa_rules: Path | None, no_evidence: bool, blind: bool,
) -> None:  # fmt: skip
    """Attribute SAMPLE... to actors and families with calibrated confidence, or abstain.

    Fuses code reuse (weighted by rarity), crypto and key material, capabilities, indicators and
    infrastructure overlap (intel imported with `attributor intel import`) into ranked hypotheses,
    always including "unknown / new actor", with the evidence for and against each.

    \b
    Example:
      attributor attribute incident.exe --ioc iocs.txt --html report.html
      attributor attribute incident.exe --case case.zip --key analyst.key --tlp TLP:AMBER
    """
    from attributor.util.atomic import atomic_write_text

    if case_out is not None and key is None:
        raise click.UsageError("--case needs --key (create one with `attributor keygen`)")
    private = None
    if case_out is not None and key is not None:
        from attributor.case.keys import load_private_key

        private = load_private_key(key)  # before the analysis: a bad key fails fast
    doc = run_attribution(samples, db, iocs, case_id, title, tlp.upper(), blind, capa_rules, no_evidence)
    state = get_state()
    if html_out is not None:
        atomic_write_text(html_out, render(doc, "html"))
        state.info(f"attributor: HTML report: {html_out}")
    if case_out is not None and private is not None:
        from attributor.case.bundle import write_case

        renders = {name: render(doc, f).encode("utf-8") for f, name in BUNDLE_RENDERS.items()}
        write_case(case_out, doc, private, renders, iocs=iocs[0] if len(iocs) == 1 else None)
        state.info(f"attributor: signed case bundle: {case_out}")
    if output is not None:
        atomic_write_text(output, render(doc, fmt))
    elif fmt == "text":
        from attributor.render.attribution_text import render_attribution

        render_attribution(doc, out_console())
    else:
        click.echo(render(doc, fmt), nl=False)
    state.info(f"attributor: verdict: {doc.verdict.text}")
