"""``attributor keygen`` and ``attributor verify``: signing keys and case bundle verification.

:func:`register` adds both commands to the root group. ``attributor attribute`` (elsewhere) signs
bundles with a key loaded through :func:`passphrase_options` / :func:`read_passphrase`. Re-running
the analysis needs a corpus: pass ``rerun_factory`` to :func:`register` and ``verify`` grows a
``--db FILE`` option; with ``--db`` the factory's hooks re-run the case and list the corpus labels.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import click

from attributor.case.verify import CorpusEntry, Rerun, VerifyReport
from attributor.cli.common import common_flags, get_state
from attributor.errors import FileAccessError, KeyFileError, SignatureError, VerificationMismatch

F = TypeVar("F", bound=Callable[..., Any])
MAX_SHOWN = 200  # differences printed in text output; --format json has them all


@dataclass(frozen=True)
class RerunHooks:
    """What a corpus (``--db``) lends ``verify``: a re-run of the case, and the corpus labels."""

    rerun: Rerun | None = None
    corpus_samples: Callable[[], Iterable[CorpusEntry]] | None = None


RerunFactory = Callable[[str], RerunHooks]  # called with the --db value


def register(group: click.Group, rerun_factory: RerunFactory | None = None) -> None:
    """Add ``keygen`` and ``verify`` to ``group``; ``verify`` takes ``--db`` when a factory is given."""
    group.add_command(keygen)
    group.add_command(_verify_command(rerun_factory))


def passphrase_options(f: F) -> F:
    """``--passphrase-env VAR`` and ``--passphrase-file FILE`` (never prompted, never on the command line)."""
    f = click.option(
        "--passphrase-file",
        type=click.Path(dir_okay=False, path_type=Path),
        help="Read the key's passphrase from the first line of FILE.",
    )(f)
    return click.option(
        "--passphrase-env",
        metavar="VAR",
        help="Read the key's passphrase from environment variable VAR.",
    )(f)


def read_passphrase(env_var: str | None, file: Path | None) -> bytes | None:
    """The passphrase from ``--passphrase-env`` / ``--passphrase-file``; None when neither is given.

    Raises:
        KeyFileError: both given, the variable is unset, or the passphrase is empty.
        FileAccessError: the file cannot be read.
    """
    if env_var and file:
        raise KeyFileError("give --passphrase-env or --passphrase-file, not both")
    if env_var:
        value = os.environ.get(env_var)
        if value is None:
            raise KeyFileError(f"--passphrase-env: environment variable {env_var} is not set")
        text = value
    elif file:
        try:
            text = file.read_text(encoding="utf-8").splitlines()[0] if file.stat().st_size else ""
        except (OSError, UnicodeDecodeError) as e:
            raise FileAccessError(f"{file}: {getattr(e, 'strerror', None) or e}") from None
    else:
        return None
    if not text:
        raise KeyFileError("the passphrase is empty")
    return text.encode("utf-8")


@click.command("keygen")
@click.option(
    "--private",
    "private",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="New private key file (PEM, mode 0600); never overwritten.",
)
@click.option(
    "--public",
    "public",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="New public key file (PEM), for verifiers; never overwritten.",
)
@passphrase_options
@common_flags
def keygen(private: Path, public: Path, passphrase_env: str | None, passphrase_file: Path | None) -> None:
    """Create an Ed25519 key pair for signing case bundles; prints the key id.

    The private key is encrypted when a passphrase is given. Existing files are never replaced.

    \b
    Example:
      attributor keygen --private case.key --public case.pub
      CASE_PASS=... attributor keygen --private case.key --public case.pub --passphrase-env CASE_PASS
    """
    from attributor.case.keys import generate_keypair

    kid = generate_keypair(private, public, read_passphrase(passphrase_env, passphrase_file))
    get_state().info(f"wrote {private} (private, keep it) and {public} (public, hand it to verifiers)")
    click.echo(kid)


def _verify_command(rerun_factory: RerunFactory | None) -> click.Command:
    @click.command("verify")
    @click.argument("bundle", type=click.Path(dir_okay=False, path_type=Path))
    @click.argument("inputs", nargs=-1, type=click.Path(dir_okay=False, path_type=Path), metavar="[INPUT]...")
    @click.option(
        "--key",
        "key",
        type=click.Path(dir_okay=False, path_type=Path),
        help="The signer's public key (pins it); else only integrity is checked.",
    )
    @click.option(
        "--format",
        "fmt",
        type=click.Choice(["text", "json"]),
        default="text",
        show_default=True,
        help="Output format on stdout.",
    )
    @common_flags
    def verify(
        bundle: Path, inputs: tuple[Path, ...], key: Path | None, fmt: str, db: str | None = None
    ) -> None:
        """Verify a case bundle: signature, hashes, your copies of the INPUTs, and a re-run.

        INPUT... are your own copies of the case's samples and IOC file, matched by SHA-256.
        Exits 0 when everything checks, 30 when the signature fails, 31 when anything differs.

        \b
        Example:
          attributor verify case.zip --key analyst.pub incident.exe iocs.txt
        """
        from attributor.case.keys import load_public_key
        from attributor.case.verify import verify_case

        hooks = rerun_factory(db) if rerun_factory is not None and db is not None else RerunHooks()
        report = verify_case(
            bundle,
            inputs,
            rerun=hooks.rerun,
            public_key=load_public_key(key) if key else None,
            corpus_samples=hooks.corpus_samples() if hooks.corpus_samples else None,
        )
        if fmt == "json":
            click.echo(json.dumps(report.to_dict(), indent=2))
        else:
            click.echo("\n".join(render_text(report)))
        _exit_for(report, bundle)

    if rerun_factory is not None:
        db_help = "Corpus database: re-run the case against it and check its labels."
        verify = click.option("--db", "db", type=click.Path(dir_okay=False), help=db_help)(verify)
    return verify


def _exit_for(report: VerifyReport, bundle: Path) -> None:
    if not report.bundle.signature_ok:
        raise SignatureError(f"{bundle}: signature {report.bundle.signature}; do not trust this bundle")
    if not report.ok:
        raise VerificationMismatch(f"{bundle}: verification found differences (listed on stdout)")


def render_text(report: VerifyReport) -> list[str]:
    """The text report: TLP marking first, then one section per check, each difference on a line."""
    b, m = report.bundle, report.bundle.manifest
    lines = [
        f"{m.case.tlp}  case {m.case.id}  {m.case.title}".rstrip() if m else "TLP:?  (no readable manifest)"
    ]
    lines.append(f"bundle      {b.path} ({b.size} bytes, {len(b.members)} members)")
    lines.append(f"signature   {_signature_line(report)}")
    lines += _section(
        "members", [str(p) for p in b.problems if p.kind != "signature"], "all match the manifest"
    )
    lines += _section(
        "inputs", report.inputs, f"all {len(m.inputs) if m else 0} inputs match", "not checked (none given)"
    )
    lines += _section(
        "corpus", report.corpus, "every corpus sample used is present with the same label", "not checked"
    )
    diffs = [str(d) for d in report.differences]
    shown = diffs[:MAX_SHOWN] + (
        [f"... {len(diffs) - MAX_SHOWN} more (--format json lists all)"] if len(diffs) > MAX_SHOWN else []
    )
    lines.append(f"re-run      {report.rerun}{': ' + report.rerun_note if report.rerun_note else ''}")
    lines += [f"  - {d}" for d in shown]
    lines += [f"environment {e}" for e in report.environment]
    lines.append("result      OK" if report.ok else "result      FAILED")
    return [_printable(line) for line in lines]


def _printable(text: str) -> str:
    """Bundle contents are hostile: no control, bidi or other invisible characters reach the terminal."""
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


def _signature_line(report: VerifyReport) -> str:
    b = report.bundle
    if b.signature == "valid" and b.signature_ok:
        return f"valid, key {b.key_id} (pinned)"
    if b.signature == "unpinned" and b.signature_ok:
        return (
            f"valid but key not pinned: key {b.key_id} is the bundle's own; integrity is checked, "
            "not who signed it (pass --key)"
        )
    detail = "; ".join(str(p) for p in b.problems if p.kind == "signature")
    return f"FAILED ({b.signature}): {detail}"


def _section(name: str, problems: list[str] | None, ok_text: str, unchecked: str = "") -> list[str]:
    if problems is None:
        return [f"{name:<11} {unchecked}"]
    if not problems:
        return [f"{name:<11} {ok_text}"]
    return [f"{name:<11} {len(problems)} problem(s)"] + [f"  - {p}" for p in problems]
