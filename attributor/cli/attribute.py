"""``attributor attribute``: fuse all evidence into ranked hypotheses; report, exports, signed case."""

from __future__ import annotations

from contextlib import ExitStack
from pathlib import Path
from typing import TYPE_CHECKING

import click

from attributor.cli.case import passphrase_options, read_passphrase
from attributor.cli.common import blind_option, common_flags, db_option, get_state, limit_options, out_console
from attributor.cli.evidence import evidence_options, options_from
from attributor.cli.match import _expanded
from attributor.report.attribution import AttributionDocument

if TYPE_CHECKING:
    from attributor.case.bundle import CaseManifest
    from attributor.cli.case import RerunHooks

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
    ioc: Path | None,
    case_id: str | None,
    title: str,
    tlp: str,
    blind: bool,
    capa_rules: Path | None,
    no_evidence: bool,
    listings: bool = True,
) -> AttributionDocument:
    """Open the corpus (and its intel), read the IOC files, run :func:`attribute`."""
    from attributor.intel.ioc import read_ioc_file
    from attributor.scoring.attribute import CaseRequest, attribute
    from attributor.store.open import open_store, resolve_db_path

    queries = read_ioc_file(ioc) if ioc is not None else []
    request = CaseRequest(
        samples=samples, iocs=queries, case_id=case_id, title=title, tlp=tlp,  # type: ignore[arg-type]
        blind=blind, options=options_from(capa_rules, no_evidence), listings=listings,
    )  # fmt: skip
    path = resolve_db_path(db)
    with ExitStack() as stack, open_store(path, create=False) as store:
        # archives (zip with the usual password, tar) are opened as `match` opens them: each member
        # is one sample, shown as ARCHIVE!MEMBER (escaped), read from a private temporary folder
        files: list[Path] = []
        for sample in samples:
            for shown, member in stack.enter_context(_expanded(sample)):
                files.append(member)
                request.names[member] = shown.name
        request.samples = files
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
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Indicators seen in the incident: one per line (optionally ',time'), a STIX bundle or MISP event.",
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
@passphrase_options
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
    samples: tuple[Path, ...], db: str | None, ioc: Path | None, fmt: str, output: Path | None,
    html_out: Path | None, case_out: Path | None, key: Path | None, passphrase_env: str | None,
    passphrase_file: Path | None, tlp: str, case_id: str | None, title: str, capa_rules: Path | None,
    no_evidence: bool, blind: bool,
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

        # before the analysis: a bad key or passphrase fails fast
        private = load_private_key(key, read_passphrase(passphrase_env, passphrase_file))
    doc = run_attribution(samples, db, ioc, case_id, title, tlp.upper(), blind, capa_rules, no_evidence)
    state = get_state()
    if html_out is not None:
        atomic_write_text(html_out, render(doc, "html"))
        state.info(f"attributor: HTML report: {html_out}")
    if case_out is not None and private is not None:
        from attributor.case.bundle import write_case

        renders = {name: render(doc, f).encode("utf-8") for f, name in BUNDLE_RENDERS.items()}
        write_case(case_out, doc, private, renders, iocs=ioc)
        state.info(f"attributor: signed case bundle: {case_out}")
    if output is not None:
        atomic_write_text(output, render(doc, fmt))
    elif fmt == "text":
        from attributor.render.attribution_text import render_attribution

        render_attribution(doc, out_console())
    else:
        click.echo(render(doc, fmt), nl=False)
    state.info(f"attributor: verdict: {doc.verdict.text}")


def rerun_factory(db: str) -> RerunHooks:
    """``verify --db FILE``: re-run a case on the verifier's corpus with the case's own parameters.

    Capabilities are re-run when the case used them and ``$ATTRIBUTOR_CAPA_RULES`` names the
    verifier's copy of the rules (else the re-run reports the capability evidence as missing).
    """
    import os

    from attributor.case.verify import CaseInputs
    from attributor.cli.case import RerunHooks
    from attributor.store.open import open_store, resolve_db_path

    def rerun(manifest: CaseManifest, inputs: CaseInputs) -> AttributionDocument:
        params = manifest.parameters
        rules = os.environ.get("ATTRIBUTOR_CAPA_RULES") if params.get("evidence.capabilities") else None
        return run_attribution(
            tuple(inputs.samples), db, inputs.iocs, manifest.case.id, manifest.case.title, manifest.case.tlp,
            bool(params.get("blind", False)), Path(rules) if rules else None,
            params.get("evidence.extraction") == "off",
        )  # fmt: skip

    def corpus_samples() -> list[tuple[str, str, str | None, bool]]:
        with open_store(resolve_db_path(db), create=False) as store:
            return [(r.sha256, r.family, r.actor, r.library) for r in store.samples()]

    return RerunHooks(rerun=rerun, corpus_samples=corpus_samples)
