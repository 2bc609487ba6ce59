"""Pieces shared by every command: the error-mapping group, per-run state, consoles, options.

Exit codes are decided here and nowhere else (see docs/exit-codes.md):
  * an :class:`AttributorError` prints ``attributor: error: <message>`` and exits ``err.exit_code``;
  * any other exception prints ``attributor: internal error: <Type>: <msg> (run with --debug ...)``
    and exits 1; ``--debug`` adds the traceback;
  * Ctrl-C exits 130; click's usage errors exit 2; a closed stdout pipe is left to click.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import os
import re
import sys
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click
from rich.console import Console

from attributor.errors import E_INTERNAL, AttributorError

if TYPE_CHECKING:
    from attributor.isolation import WorkerLimits

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
    """``-j/--jobs N``, plus the worker limit options (:func:`limit_options`) that go with workers."""
    return click.option(
        "--jobs",
        "-j",
        type=click.IntRange(min=1),
        default=None,
        help="Worker processes for fingerprinting [default: one per CPU].",
    )(limit_options(f))


_UNLIMITED = ("0", "none", "off", "unlimited")
_SIZE = re.compile(r"(\d+(?:\.\d+)?)\s*([kmgt]?)(?:i?b)?", re.IGNORECASE)


class ByteSize(click.ParamType):
    """``2G``, ``512MiB``, ``1500000`` (bytes; K/M/G/T are powers of 1024); ``0``/``none``: no limit."""

    name = "size"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> int:
        if isinstance(value, int):
            return value
        text = str(value).strip()
        if text.lower() in _UNLIMITED:
            return 0
        m = _SIZE.fullmatch(text)
        if m is None:
            self.fail(f"{value!r} is not a size such as 2G, 512M or 1000000", param, ctx)
        scale = 1024 ** " kmgt".index((m.group(2) or " ").lower())
        return int(float(m.group(1)) * scale)


class Seconds(click.ParamType):
    """A positive number of seconds; ``0``/``none``: no limit."""

    name = "seconds"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> float:
        text = str(value).strip().lower().removesuffix("s").strip()
        if text in _UNLIMITED:
            return 0.0
        try:
            seconds = float(text)
        except ValueError:
            self.fail(f"{value!r} is not a number of seconds", param, ctx)
        if not (seconds >= 0 and math.isfinite(seconds)):
            self.fail(f"{value!r} is not a number of seconds", param, ctx)
        return seconds


def worker_limits_from(memory: int | None, cpu: float | None, wall: float | None) -> WorkerLimits:
    """Limits from option values: ``None`` = not given (default), 0 = no limit.

    ``--max-cpu`` follows ``--timeout`` when only the timeout is given, so raising the timeout is
    never silently capped by the default CPU limit.
    """
    from attributor.isolation import DEFAULT_WORKER_LIMITS

    d = DEFAULT_WORKER_LIMITS
    if cpu is None and wall is not None:
        cpu = wall
    return dataclasses.replace(
        d,
        memory_bytes=d.memory_bytes if memory is None else (memory or None),
        cpu_seconds=d.cpu_seconds if cpu is None else (math.ceil(cpu) or None),
        wall_seconds=d.wall_seconds if wall is None else (wall or None),
    )


def _set_limit(ctx: click.Context, param: click.Parameter, value: Any) -> None:
    """Fold one limit option into the command's :class:`WorkerLimits`, made current for its run."""
    from attributor.isolation import using_limits

    given = ctx.meta.setdefault("attributor.limit_options", {})
    given[param.name] = value
    limits = worker_limits_from(given.get("max_memory"), given.get("max_cpu"), given.get("timeout"))
    ctx.with_resource(using_limits(limits))  # undone when the command's context closes


def limit_options(f: F) -> F:
    """``--max-memory``, ``--max-cpu`` and ``--timeout``: each sample's worker limits (docs/limits.md).

    They are not passed to the command: the resulting limits are what
    :func:`attributor.isolation.current_limits` returns while the command runs.
    """
    options = (
        (
            "--max-memory",
            "ATTRIBUTOR_MAX_MEMORY",
            ByteSize(),
            "Address space of each worker process, e.g. 4G; 0 = no limit [default: 2G].",
        ),
        (
            "--max-cpu",
            "ATTRIBUTOR_MAX_CPU",
            Seconds(),
            "CPU seconds per sample; 0 = no limit [default: 120, or --timeout when that is given].",
        ),
        (
            "--timeout",
            "ATTRIBUTOR_TIMEOUT",
            Seconds(),
            "Wall-clock seconds per sample before its worker is killed; 0 = no limit [default: 180].",
        ),
    )
    for name, envvar, kind, help_text in reversed(options):
        f = click.option(
            name,
            type=kind,
            default=None,
            envvar=envvar,
            show_envvar=True,
            expose_value=False,
            callback=_set_limit,
            help=help_text,
        )(f)
    return f


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
