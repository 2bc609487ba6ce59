"""Pieces shared by every command: the error-mapping group, per-run state, consoles, options.

Exit codes are decided here and nowhere else (see docs/exit-codes.md):
  * an :class:`AttributorError` prints ``attributor: error: <message>`` and exits ``err.exit_code``;
  * any other exception prints ``attributor: internal error: <Type>: <msg> (run with --debug ...)``
    and exits 1; ``--debug`` adds the traceback;
  * Ctrl-C exits 130; click's usage errors exit 2; a closed stdout pipe is left to click.
"""

from __future__ import annotations

import logging
import os
import sys
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import click
from rich.console import Console

from attributor.errors import E_INTERNAL, AttributorError

E_PARTIAL = 4  # some inputs failed, the others were processed
E_INTERRUPTED = 130  # Ctrl-C (128 + SIGINT)
DEFAULT_WIDTH = 120  # for text output that is not going to a terminal

F = TypeVar("F", bound=Callable[..., Any])
log = logging.getLogger("attributor")


def one_line(text: str) -> str:
    """Collapse a message onto one line, so every error is exactly one line on stderr."""
    return " ".join(text.split()) or "(no message)"


def with_path(path: Path, err: Exception | str) -> str:
    """The error's one-line message, prefixed with ``path`` unless it already names it."""
    message = one_line(str(err))
    return message if str(path) in message else f"{path}: {message}"


class AttributorGroup(click.Group):
    """A click group that maps exceptions to one stderr line and a documented exit code."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (click.exceptions.ClickException, click.exceptions.Exit, click.exceptions.Abort):
            raise
        except BrokenPipeError:
            raise  # click silences stdout and exits 1
        except AttributorError as err:
            click.echo(f"attributor: error: {one_line(str(err))}", err=True)
            ctx.exit(err.exit_code)
        except KeyboardInterrupt:
            click.echo("attributor: interrupted", err=True)
            ctx.exit(E_INTERRUPTED)
        except Exception as err:
            debug = isinstance(ctx.obj, CliState) and ctx.obj.debug
            if debug:
                traceback.print_exc(file=sys.stderr)
            hint = "" if debug else " (run with --debug for a traceback)"
            click.echo(
                f"attributor: internal error: {type(err).__name__}: {one_line(str(err))}{hint}", err=True
            )
            ctx.exit(E_INTERNAL)


@dataclass
class CliState:
    """Global flags, kept in ``ctx.obj`` by the root group."""

    debug: bool = False
    quiet: bool = False

    @property
    def err(self) -> Console:
        """Console for progress and summaries (stderr); silent with ``--quiet``."""
        return Console(stderr=True, quiet=self.quiet, highlight=False)

    def info(self, message: str) -> None:
        """One plain progress/summary line on stderr, unless ``--quiet``."""
        if not self.quiet:
            click.echo(message, err=True)


def get_state() -> CliState:
    obj = click.get_current_context().find_root().obj
    return obj if isinstance(obj, CliState) else CliState()


def out_console() -> Console:
    """Console for results (stdout); a fixed width when piped, so text output is stable."""
    piped = not sys.stdout.isatty() and "COLUMNS" not in os.environ
    return Console(width=DEFAULT_WIDTH if piped else None, highlight=False, soft_wrap=False)


def setup_logging(debug: bool, quiet: bool) -> None:
    """Library logs go to stderr: warnings by default, errors only with -q, everything with --debug."""
    level = logging.DEBUG if debug else logging.ERROR if quiet else logging.WARNING
    log.setLevel(level)
    if not log.handlers:
        handler = logging.StreamHandler()  # resolves sys.stderr at import; fine for a CLI
        handler.setFormatter(logging.Formatter("attributor: %(levelname)s: %(message)s"))
        log.addHandler(handler)


def _set_flag(ctx: click.Context, param: click.Parameter, value: bool) -> None:
    """Let ``-q`` and ``--debug`` also follow the command name (``attributor match -q x``)."""
    if value and param.name:
        state = get_state()
        setattr(state, param.name, True)
        setup_logging(state.debug, state.quiet)


def common_flags(f: F) -> F:
    """``--debug`` and ``-q/--quiet`` on a command, same meaning as before the command name."""
    for decls, help_text in (
        (("--debug",), "Debug logging, and a traceback for internal errors."),
        (("-q", "--quiet"), "No progress or summary lines on stderr (errors remain)."),
    ):
        f = click.option(*decls, is_flag=True, expose_value=False, callback=_set_flag, help=help_text)(f)
    return f


def db_option(f: F) -> F:
    """``--db FILE``; resolution (option, $ATTRIBUTOR_DB, ./attributor.db) is the store's job."""
    return click.option(
        "--db",
        "db",
        type=click.Path(dir_okay=False),
        default=None,
        help="Corpus database [default: $ATTRIBUTOR_DB, else ./attributor.db].",
    )(f)


def jobs_option(f: F) -> F:
    return click.option(
        "--jobs",
        "-j",
        type=click.IntRange(min=1),
        default=None,
        help="Worker processes for fingerprinting [default: one per CPU].",
    )(f)


def blind_option(f: F) -> F:
    return click.option(
        "--blind",
        is_flag=True,
        help="Ignore symbols and other metadata; use only the code bytes.",
    )(f)


def format_option(f: F) -> F:
    return click.option(
        "--format",
        "fmt",
        type=click.Choice(["text", "json"]),
        default="text",
        show_default=True,
        help="Output format on stdout.",
    )(f)


def exit_code_for(n_ok: int, failure_codes: Sequence[int]) -> int:
    """0 when nothing failed; 4 when some inputs failed; the first failure's code when all failed."""
    if not failure_codes:
        return 0
    return E_PARTIAL if n_ok else failure_codes[0]
