"""Entry point of the ``attributor`` command (and of ``python -m attributor``).

Results go to stdout, progress and errors to stderr; exit codes are listed in docs/exit-codes.md.
"""

from __future__ import annotations

import click

from attributor import __version__
from attributor.cli.attribute import attribute_cmd, rerun_factory
from attributor.cli.case import register as register_case
from attributor.cli.common import AttributorGroup, CliState, setup_logging
from attributor.cli.corpus import corpus
from attributor.cli.demo import demo
from attributor.cli.evidence import evidence
from attributor.cli.intel import intel
from attributor.cli.match import match


@click.group(cls=AttributorGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--debug", is_flag=True, help="Debug logging, and a traceback for internal errors.")
@click.option("-q", "--quiet", is_flag=True, help="No progress or summary lines on stderr (errors remain).")
@click.version_option(__version__, "-V", "--version", prog_name="attributor")
@click.pass_context
def cli(ctx: click.Context, debug: bool, quiet: bool) -> None:
    """Attribute PE/ELF binaries to malware families and actors by rarity-weighted code reuse.

    Samples are parsed and disassembled, never executed.

    \b
    Example:
      attributor corpus add samples/emotet/ --family emotet --actor TA542
      attributor match incident.exe
    """
    ctx.obj = CliState(debug=debug, quiet=quiet)
    setup_logging(debug, quiet)


@cli.command("version")
def version() -> None:
    """Print the version."""
    click.echo(f"attributor {__version__}")


cli.add_command(corpus)
cli.add_command(match)
cli.add_command(demo)
cli.add_command(intel)
cli.add_command(evidence)
cli.add_command(attribute_cmd)
register_case(cli, rerun_factory=rerun_factory)  # keygen, verify


def main(argv: list[str] | None = None) -> None:
    """Run the CLI and exit with its code (the console script and ``python -m attributor``)."""
    cli.main(args=argv, prog_name="attributor")
