"""``attributor evidence SAMPLE``, and the evidence options shared by ``corpus add`` and ``match``."""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from attributor import __version__
from attributor.cli.common import blind_option, common_flags, format_option, limit_options, out_console
from attributor.evidence.extract import EvidenceOptions
from attributor.evidence.record import Evidence
from attributor.fingerprint.model import SampleFingerprint

F = TypeVar("F", bound=Callable[..., Any])
EVIDENCE_SCHEMA = "attributor.evidence/1"


def evidence_options(f: F) -> F:
    """``--capa-rules DIR`` and ``--no-evidence``; the command receives ``capa_rules``, ``no_evidence``."""
    f = click.option(
        "--no-evidence",
        is_flag=True,
        help="Code fingerprints only: skip crypto, key, indicator and capability extraction.",
    )(f)
    return click.option(
        "--capa-rules",
        "capa_rules",
        type=click.Path(file_okay=False, path_type=Path),
        envvar="ATTRIBUTOR_CAPA_RULES",
        default=None,
        help="capa rules directory: also report capabilities (ATT&CK) [default: $ATTRIBUTOR_CAPA_RULES].",
    )(f)


def options_from(capa_rules: Path | None, no_evidence: bool) -> EvidenceOptions | None:
    """The extraction options, with the rules directory checked now (a bad one fails before any work)."""
    if no_evidence:
        return None
    if capa_rules is not None:
        from attributor.evidence.capabilities import load_rules

        load_rules(str(capa_rules))
        return EvidenceOptions(capa_rules=str(capa_rules))
    return EvidenceOptions()


def analyser(options: EvidenceOptions | None) -> Callable[..., SampleFingerprint]:
    """A picklable fingerprinter for worker pools: fingerprints plus the evidence ``options`` ask for."""
    from attributor.pipeline import analyse_path

    return functools.partial(analyse_path, options=options)


def evidence_json(e: Evidence) -> dict[str, Any]:
    return {
        "kind": str(e.kind),
        "subtype": e.subtype,
        "value": e.value,
        "detail": e.detail,
        "address": None if e.address is None else f"{e.address:#x}",
        "function": None if e.function is None else f"{e.function:#x}",
        "source": e.source,
        "attack": list(e.attack),
        "tags": list(e.tags),
    }


@click.command("evidence")
@click.argument("sample", type=click.Path(dir_okay=False, path_type=Path))
@evidence_options
@blind_option
@format_option
@limit_options
@common_flags
def evidence(sample: Path, capa_rules: Path | None, no_evidence: bool, blind: bool, fmt: str) -> None:
    """Print every piece of evidence in SAMPLE: crypto, keys, capabilities, indicators. No corpus needed.

    The sample is analysed in a limited worker process, never executed.

    \b
    Example:
      attributor evidence incident.exe --capa-rules ../capa-rules
      attributor evidence incident.exe --format json | jq '.evidence[] | select(.kind == "key")'
    """
    from attributor.isolation import WorkerPool

    options = options_from(capa_rules, no_evidence) or EvidenceOptions(crypto=False, indicators=False)
    with WorkerPool(analyser(options), 1, blind=blind) as pool:
        fp = pool.fingerprint(sample)
    if fmt == "json":
        doc = {
            "schema": EVIDENCE_SCHEMA,
            "tool": {"name": "attributor", "version": __version__},
            "sample": {"sha256": fp.sha256, "format": fp.format, "arch": fp.arch, "size": fp.size,
                       "status": fp.status, "notes": list(fp.notes)},
            "evidence": [evidence_json(e) for e in fp.evidence],
        }  # fmt: skip
        click.echo(json.dumps(doc, indent=2, sort_keys=False))
    else:
        from attributor.render.text import render_evidence

        render_evidence(fp, out_console())
    if fp.status != "complete":
        from attributor.isolation import is_limit_note

        if any(is_limit_note(n) for n in fp.notes):
            from attributor.errors import LimitExceeded

            raise LimitExceeded(f"{sample}: {'; '.join(fp.notes)} (evidence is partial)")
