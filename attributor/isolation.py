"""Run each sample's analysis in a resource-limited worker process (docs/limits.md).

Parsing, function recovery and fingerprinting of hostile input run in worker processes that the
parent can afford to lose. A :class:`WorkerPool` owns up to ``jobs`` of them and gives each one
sample at a time, so a limit or a crash is always charged to the right file:

  * **memory**: ``RLIMIT_AS`` (address space) on the worker; an allocation past it raises
    ``MemoryError`` in the worker, which reports the limit and retires;
  * **CPU time**: ``RLIMIT_CPU``, re-armed before every sample; past it the kernel stops the
    worker with ``SIGXCPU``;
  * **wall clock**: enforced by the parent, which ``SIGKILL``\\ s a worker still busy at the deadline
    (a sample blocked in I/O or sleeping uses no CPU);
  * **output**: the pickled result must fit ``max_output_bytes`` (the number of functions is
    capped earlier by :class:`attributor.loading.loader.Limits`);
  * ``RLIMIT_CORE`` is 0, BLAS/OpenMP thread pools are pinned to one thread, ``SIGINT`` is
    ignored (the parent handles Ctrl-C and stops its workers).

A sample that hits a limit is not an error: its :class:`Outcome` carries a fingerprint with status
``incomplete``, zero functions and a note naming the limit (:data:`INCOMPLETE_PREFIX`). A worker
that dies of anything else (a signal such as ``SIGSEGV``, an exit) is a failure of that sample,
:data:`WORKER_CRASHED`. Dead, killed and recycled workers are replaced on demand, and every worker
is joined, so the parent never leaves zombies. Workers are not a security sandbox: they run as the
same user; the limits bound resources, not privileges.

Workers start with the ``forkserver`` method (``spawn`` where it is missing), never ``fork``: the
parent holds an open SQLite connection and maybe threads.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import math
import multiprocessing
import os
import pickle
import resource
import signal
import sys
import time
from collections import deque
from collections.abc import Callable, Hashable, Iterator
from contextvars import ContextVar
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from multiprocessing.connection import wait as wait_for
from multiprocessing.process import BaseProcess
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

from attributor.errors import E_INTERNAL, E_IO, E_LIMIT, AttributorError, InputError

if TYPE_CHECKING:
    from attributor.fingerprint.model import FingerprintParams, SampleFingerprint

log = logging.getLogger(__name__)

KiB, MiB, GiB = 1 << 10, 1 << 20, 1 << 30

LIMIT_MEMORY, LIMIT_CPU, LIMIT_WALL, LIMIT_OUTPUT = "memory", "cpu", "wall", "output"
WORKER_CRASHED = "WorkerCrashed"  # error_class of a sample whose worker died (signal, exit)
INCOMPLETE_PREFIX = "analysis stopped: "  # every note written for a limit hit starts with this
STARTUP_SECONDS = 60.0  # a worker that is not ready by then is a broken installation
_EXIT_GRACE_SECONDS = 5.0  # a worker told to stop (or that retired) gets this long before SIGKILL
_NO_MEMORY_MESSAGES = ("Cannot allocate memory", "failed to map segment")  # dlopen under RLIMIT_AS
_THREAD_ENV = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "NUMEXPR_NUM_THREADS")

Fingerprinter = Callable[..., "SampleFingerprint"]  # f(path, **kwargs) -> SampleFingerprint


@dataclass(frozen=True)
class WorkerLimits:
    """Per-sample limits of a worker process; ``None`` switches a limit off.

    Attributes:
        memory_bytes: ``RLIMIT_AS`` of the worker (its whole address space, interpreter included).
        cpu_seconds: CPU time one sample may use (``RLIMIT_CPU``, whole seconds).
        wall_seconds: wall-clock time one sample may take; the parent kills the worker after it.
        max_output_bytes: size of the pickled result a worker may send back.
        max_tasks_per_child: samples a worker analyses before it is replaced (parsers leak).
    """

    memory_bytes: int | None = 2 * GiB
    cpu_seconds: int | None = 120
    wall_seconds: float | None = 180.0
    max_output_bytes: int | None = 512 * MiB
    max_tasks_per_child: int = 100

    def __post_init__(self) -> None:
        for name in ("memory_bytes", "cpu_seconds", "wall_seconds", "max_output_bytes"):
            value = getattr(self, name)
            if value is not None and not value > 0:
                raise ValueError(f"WorkerLimits.{name} must be positive or None, not {value!r}")
        if self.max_tasks_per_child < 1:
            raise ValueError("WorkerLimits.max_tasks_per_child must be at least 1")

    def describe(self) -> str:
        """``memory 2 GiB, CPU 120 s, wall clock 180 s, output 512 MiB`` (``off`` for no limit)."""

        def show(value: float | None, fmt: Callable[[float], str]) -> str:
            return "off" if value is None else fmt(value)

        return (
            f"memory {show(self.memory_bytes, format_bytes)}, "
            f"CPU {show(self.cpu_seconds, format_seconds)}, "
            f"wall clock {show(self.wall_seconds, format_seconds)}, "
            f"output {show(self.max_output_bytes, format_bytes)}"
        )


DEFAULT_WORKER_LIMITS = WorkerLimits()
_current_limits: ContextVar[WorkerLimits] = ContextVar("worker_limits", default=DEFAULT_WORKER_LIMITS)


def current_limits() -> WorkerLimits:
    """The limits used when none are given: :data:`DEFAULT_WORKER_LIMITS` or :func:`using_limits`'."""
    return _current_limits.get()


@contextlib.contextmanager
def using_limits(limits: WorkerLimits) -> Iterator[WorkerLimits]:
    """Make ``limits`` the :func:`current_limits` inside the ``with`` block (the CLI options do)."""
    token = _current_limits.set(limits)
    try:
        yield limits
    finally:
        _current_limits.reset(token)


def format_bytes(n: float) -> str:
    """``2 GiB``, ``512 MiB``, ``1.5 KiB``, ``100 bytes``."""
    for unit, size in (("TiB", 1 << 40), ("GiB", GiB), ("MiB", MiB), ("KiB", KiB)):
        if n >= size:
            return f"{n / size:.4g} {unit}"
    return f"{int(n)} bytes"


def format_seconds(s: float) -> str:
    return f"{s:g} s"


def limit_note(limit: str, limits: WorkerLimits, detail: str = "") -> str:
    """The note stored with a sample whose analysis stopped at ``limit``, e.g.

    ``analysis stopped: CPU time limit of 120 s exceeded during loading, function recovery or
    fingerprinting; no functions recorded``.
    """
    what = {
        LIMIT_MEMORY: (
            f"memory limit of {format_bytes(limits.memory_bytes)} exceeded"
            if limits.memory_bytes
            else "out of memory"
        ),
        LIMIT_CPU: f"CPU time limit of {format_seconds(limits.cpu_seconds or 0)} exceeded",
        LIMIT_WALL: f"wall-clock limit of {format_seconds(limits.wall_seconds or 0)} exceeded",
        LIMIT_OUTPUT: f"output limit of {format_bytes(limits.max_output_bytes or 0)} exceeded",
    }[limit]
    detail = detail or ("worker killed" if limit == LIMIT_WALL else "")
    detail = f" ({detail})" if detail else ""
    return (
        f"{INCOMPLETE_PREFIX}{what} during loading, function recovery or fingerprinting{detail}; "
        "no functions recorded"
    )


def is_limit_note(note: str) -> bool:
    """True for the notes :func:`limit_note` writes."""
    return note.startswith(INCOMPLETE_PREFIX)


class Outcome(NamedTuple):
    """What became of one sample.

    * ``fp`` set, ``limit`` empty: the fingerprinter's result (status ``complete`` or, when the
      fingerprinter itself capped something, ``incomplete``);
    * ``fp`` set, ``limit`` set: a worker limit stopped the analysis; ``fp`` is an ``incomplete``
      placeholder with zero functions whose note names the limit;
    * ``fp`` None: a failure; ``error_class`` is the exception's class name (or
      :data:`WORKER_CRASHED`), ``exit_code`` its CLI exit code.
    """

    fp: SampleFingerprint | None
    error_class: str = ""
    message: str = ""
    cpu_seconds: float = 0.0
    exit_code: int = 0
    limit: str = ""


class WorkerStartError(AttributorError):
    """No worker process can start under the configured limits (not a problem of one sample)."""

    exit_code = E_LIMIT


class AnalysisFailed(InputError):
    """A sample's analysis crashed its worker or raised an unexpected exception: a bug, per sample."""

    exit_code = E_INTERNAL


def outcome_error(outcome: Outcome) -> AttributorError:
    """The typed error a failed :class:`Outcome` stands for (class rebuilt from ``attributor.errors``)."""
    from attributor import errors

    cls = getattr(errors, outcome.error_class, None)
    if isinstance(cls, type) and issubclass(cls, AttributorError) and cls.exit_code == outcome.exit_code:
        return cls(outcome.message)
    if outcome.exit_code in (0, E_INTERNAL):
        prefix = "" if outcome.error_class == WORKER_CRASHED else f"{outcome.error_class}: "
        return AnalysisFailed(prefix + outcome.message)
    err = InputError(outcome.message)  # a typed error defined outside attributor.errors
    err.exit_code = outcome.exit_code
    return err


def incomplete_fingerprint(
    sha256: str, size: int, fmt: str, arch: str, notes: list[str], params: FingerprintParams
) -> SampleFingerprint:
    """A zero-function ``incomplete`` fingerprint: what is stored for a sample that hit a limit."""
    import numpy as np

    from attributor.fingerprint.model import SampleFingerprint

    return SampleFingerprint(
        sha256=sha256,
        format=fmt,
        arch=arch,
        size=size,
        code_bytes=0,
        covered_bytes=0,
        addresses=np.zeros(0, dtype=np.int64),
        sizes=np.zeros(0, dtype=np.int32),
        n_insns=np.zeros(0, dtype=np.int32),
        n_blocks=np.zeros(0, dtype=np.int32),
        exact=np.zeros(0, dtype=np.uint64),
        minhash=np.zeros((0, params.num_perm), dtype=np.uint8),
        edges=np.zeros((0, 2), dtype=np.int32),
        params=params,
        status="incomplete",
        notes=list(notes),
    )


# -- the worker side -------------------------------------------------------------------------------


def _worker_main(conn: Connection, limits: WorkerLimits) -> None:
    """Worker process: apply the limits, load the fingerprinter, then analyse one path per message.

    Messages to the parent: ``("ready", vm_bytes)`` or ``("init_error", class, message, is_memory)``
    once; then per sample ``("facts", {...})`` and ``("done", Outcome, retiring)``.
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGXCPU, signal.SIG_DFL)
    for var in _THREAD_ENV:  # before numpy is imported by the fingerprinter's module
        os.environ[var] = "1"
    _apply_static_limits(limits)
    try:
        fingerprinter, kwargs = conn.recv()  # imports the fingerprinter's module, under the limits
    except Exception as e:
        memory = _is_memory_error(e) or any(m in str(e) for m in _NO_MEMORY_MESSAGES)
        conn.send(("init_error", type(e).__name__, str(e), memory))
        return
    conn.send(("ready", _vm_bytes()))
    for done in range(1, limits.max_tasks_per_child + 1):
        try:
            path = conn.recv()
        except EOFError:  # the parent is gone
            return
        if path is None:
            return
        _arm_cpu_limit(limits.cpu_seconds)
        conn.send(("facts", _facts(path)))
        outcome = _analyse(fingerprinter, path, kwargs, limits)
        _disarm_cpu_limit()
        retiring = done == limits.max_tasks_per_child or outcome.limit == LIMIT_MEMORY
        conn.send_bytes(_encode_done(outcome, retiring, limits))
        if retiring:
            return


def _apply_static_limits(limits: WorkerLimits) -> None:
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    if limits.memory_bytes is not None:
        _soft, hard = resource.getrlimit(resource.RLIMIT_AS)
        cap = limits.memory_bytes if hard == resource.RLIM_INFINITY else min(limits.memory_bytes, hard)
        resource.setrlimit(resource.RLIMIT_AS, (cap, cap))


def _arm_cpu_limit(seconds: int | None) -> None:
    """Let the next sample use ``seconds`` more CPU time (the limit counts the process's lifetime)."""
    if seconds is None:
        return
    usage = resource.getrusage(resource.RUSAGE_SELF)
    _soft, hard = resource.getrlimit(resource.RLIMIT_CPU)
    soft = math.ceil(usage.ru_utime + usage.ru_stime) + math.ceil(seconds)
    if hard != resource.RLIM_INFINITY:
        soft = min(soft, hard)
    resource.setrlimit(resource.RLIMIT_CPU, (soft, hard))


def _disarm_cpu_limit() -> None:
    _soft, hard = resource.getrlimit(resource.RLIMIT_CPU)
    resource.setrlimit(resource.RLIMIT_CPU, (hard, hard))


def _vm_bytes() -> int:
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return 0


def _facts(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Size, and format/arch when the first MiB sniffs as a supported binary: kept for a limit hit."""
    facts: dict[str, Any] = {}
    try:
        with open(path, "rb") as f:
            facts["size"] = os.fstat(f.fileno()).st_size
            head = f.read(MiB)
        if "attributor.loading" in sys.modules:  # not worth importing LIEF for another fingerprinter
            from attributor.loading.sniff import sniff

            facts["format"], facts["arch"] = sniff(head)
    except Exception:  # the fingerprinter reports what is wrong with the file
        pass
    return facts


def _is_memory_error(e: BaseException | None) -> bool:
    """``e`` or an exception it was raised from/while handling is a ``MemoryError``."""
    seen: set[int] = set()
    while e is not None and id(e) not in seen:
        if isinstance(e, MemoryError):
            return True
        seen.add(id(e))
        e = e.__cause__ or e.__context__
    return False


def _analyse(
    fingerprinter: Fingerprinter, path: str, kwargs: dict[str, Any], limits: WorkerLimits
) -> Outcome:
    """Run the fingerprinter; never raises (a bug on one input must not stop the others)."""
    start = time.process_time()
    try:
        fp = fingerprinter(path, **kwargs)
    except Exception as e:
        cpu = time.process_time() - start
        if _is_memory_error(e):
            return Outcome(None, "MemoryError", limit_note(LIMIT_MEMORY, limits), cpu, E_LIMIT, LIMIT_MEMORY)
        if isinstance(e, AttributorError):
            return Outcome(None, type(e).__name__, str(e), cpu, e.exit_code)
        return Outcome(None, type(e).__name__, f"unexpected error: {e}", cpu, E_INTERNAL)
    return Outcome(fp, cpu_seconds=time.process_time() - start)


def _encode_done(outcome: Outcome, retiring: bool, limits: WorkerLimits) -> bytes:
    """Pickle the result, or a small limit outcome when it is too large or cannot be built."""
    cap = limits.max_output_bytes
    too_big = ""
    try:
        if outcome.fp is not None and cap is not None:
            fields = getattr(outcome.fp, "__dict__", {})  # other results (listings) are plain dicts
            arrays = sum(v.nbytes for v in fields.values() if hasattr(v, "nbytes"))
            if arrays > cap:
                too_big = f"result of at least {format_bytes(arrays)}"
        if not too_big:
            payload = pickle.dumps(("done", outcome, retiring), protocol=pickle.HIGHEST_PROTOCOL)
            if cap is None or len(payload) <= cap:
                return payload
            too_big = f"result of {format_bytes(len(payload))}"
            del payload
        note, limit = limit_note(LIMIT_OUTPUT, limits, too_big), LIMIT_OUTPUT
    except MemoryError:
        note, limit, retiring = limit_note(LIMIT_MEMORY, limits), LIMIT_MEMORY, True
    limited = Outcome(None, "", note, outcome.cpu_seconds, E_LIMIT, limit)
    return pickle.dumps(("done", limited, retiring), protocol=pickle.HIGHEST_PROTOCOL)


# -- the parent side -------------------------------------------------------------------------------


def _mp_context() -> multiprocessing.context.BaseContext:
    # Never fork: the parent holds an open SQLite connection and maybe threads.
    method = "forkserver" if "forkserver" in multiprocessing.get_all_start_methods() else "spawn"
    return multiprocessing.get_context(method)


class _Task(NamedTuple):
    key: Hashable
    path: Path
    sha256: str | None


@dataclass(eq=False)
class _Worker:
    process: BaseProcess
    conn: Connection
    deadline: float | None  # startup deadline while starting, the sample's while busy
    state: str = "starting"  # "starting" | "idle" | "busy"
    task: _Task | None = None
    facts: dict[str, Any] = field(default_factory=dict)
    killed_for_wall: bool = False


class WorkerPool:
    """Up to ``jobs`` limited worker processes running ``fingerprinter(path, **kwargs)``.

    Use as a context manager; :meth:`submit` paths with a key, collect ``(key, Outcome)`` pairs
    with :meth:`next_results`. Results come in completion order. Workers start on first need,
    so a pool that is never given work starts no process.

    Example:
        >>> with WorkerPool(fingerprint_path, jobs=4, blind=True) as pool:  # doctest: +SKIP
        ...     for i, p in enumerate(paths):
        ...         pool.submit(i, p)
        ...     while pool.pending:
        ...         for key, outcome in pool.next_results():
        ...             ...

    Raises (from :meth:`next_results`):
        WorkerStartError: a worker cannot even start under the memory limit.
        RuntimeError: a worker cannot start for another reason (e.g. an unpicklable fingerprinter).
    """

    def __init__(
        self,
        fingerprinter: Fingerprinter | None = None,
        jobs: int = 1,
        limits: WorkerLimits | None = None,
        **kwargs: Any,
    ) -> None:
        if fingerprinter is None:
            from attributor.pipeline import fingerprint_path

            fingerprinter = fingerprint_path
        self.fingerprinter, self.kwargs = fingerprinter, kwargs
        self.jobs = max(1, jobs)
        self.limits = limits if limits is not None else current_limits()
        self.started_pids: list[int] = []  # every worker ever started (tests check they are gone)
        self._ctx = _mp_context()
        self._queue: deque[_Task] = deque()
        self._workers: list[_Worker] = []

    def __enter__(self) -> WorkerPool:
        return self

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        self.close(kill=exc_type is not None)

    @property
    def pending(self) -> int:
        """Samples submitted and not yet returned by :meth:`next_results`."""
        return len(self._queue) + sum(1 for w in self._workers if w.state == "busy")

    def submit(self, key: Hashable, path: str | os.PathLike[str], sha256: str | None = None) -> None:
        """Queue ``path``; ``sha256`` (if known) saves re-hashing it when a limit is hit."""
        self._queue.append(_Task(key, Path(path), sha256))

    def fingerprint(self, path: str | os.PathLike[str], sha256: str | None = None) -> SampleFingerprint:
        """Analyse one sample now: its fingerprint (maybe an ``incomplete`` placeholder).

        Raises:
            AttributorError: the typed error of a failure (see :func:`outcome_error`).
        """
        if self.pending:
            raise RuntimeError("WorkerPool.fingerprint needs a pool with nothing else pending")
        key = object()
        self.submit(key, path, sha256)
        while True:
            for got, outcome in self.next_results():
                if got is key:
                    if outcome.fp is None:
                        raise outcome_error(outcome)
                    return outcome.fp

    def next_results(self) -> list[tuple[Hashable, Outcome]]:
        """Block until at least one sample is finished; ``[]`` when nothing is pending."""
        done: list[tuple[Hashable, Outcome]] = []
        while not done:
            self._dispatch()
            if not any(w.state != "idle" for w in self._workers):
                return done
            conns: list[Any] = [w.conn for w in self._workers]
            ready = set(wait_for(conns + [w.process.sentinel for w in self._workers], self._timeout()))
            for w in list(self._workers):
                if w.conn in ready or w.process.sentinel in ready:
                    done.extend(self._service(w, exited=w.process.sentinel in ready))
            now = time.monotonic()
            for w in list(self._workers):
                if w.deadline is not None and now >= w.deadline:
                    done.extend(self._expire(w))
        return done

    def close(self, kill: bool = False) -> None:
        """Stop every worker (``kill``: at once) and join it; queued samples are dropped."""
        self._queue.clear()
        for w in self._workers:
            if kill or w.state != "idle":
                w.process.kill()
            else:
                with contextlib.suppress(OSError):
                    w.conn.send(None)
        for w in list(self._workers):
            self._reap(w)

    # -- internals --

    def _timeout(self) -> float | None:
        deadlines = [w.deadline for w in self._workers if w.deadline is not None]
        return max(0.0, min(deadlines) - time.monotonic()) if deadlines else None

    def _dispatch(self) -> None:
        for w in self._workers:
            if w.state == "idle" and self._queue:
                self._assign(w, self._queue.popleft())
        waiting = len(self._queue) - sum(1 for w in self._workers if w.state == "starting")
        while waiting > 0 and len(self._workers) < self.jobs:
            self._start_worker()
            waiting -= 1

    def _start_worker(self) -> None:
        parent_conn, child_conn = self._ctx.Pipe(duplex=True)
        process = self._ctx.Process(  # type: ignore[attr-defined]
            target=_worker_main,
            args=(child_conn, self.limits),
            name=f"attributor-worker-{len(self.started_pids) + 1}",
            daemon=True,
        )
        with _single_threaded_environment():
            process.start()
        child_conn.close()
        self.started_pids.append(process.pid)
        w = _Worker(process, parent_conn, deadline=time.monotonic() + STARTUP_SECONDS)
        self._workers.append(w)
        try:
            parent_conn.send((self.fingerprinter, self.kwargs))
        except OSError:
            pass  # it died already: seen by the next wait
        except (pickle.PicklingError, AttributeError, TypeError) as e:
            self._reap(w, kill=True)
            raise RuntimeError(f"the fingerprinter cannot be sent to a worker process: {e}") from e

    def _assign(self, w: _Worker, task: _Task) -> None:
        w.state, w.task, w.facts = "busy", task, {}
        w.deadline = None if self.limits.wall_seconds is None else time.monotonic() + self.limits.wall_seconds
        with contextlib.suppress(OSError):  # it died while idle: the next wait charges this task
            w.conn.send(task.path)

    def _service(self, w: _Worker, exited: bool) -> list[tuple[Hashable, Outcome]]:
        out: list[tuple[Hashable, Outcome]] = []
        try:
            while w in self._workers and w.conn.poll():
                result = self._handle(w, w.conn.recv())
                if result is not None:
                    out.append(result)
        except (EOFError, OSError):
            exited = True
        if exited and w in self._workers:
            out.extend(self._died(w))
        return out

    def _handle(self, w: _Worker, msg: tuple[Any, ...]) -> tuple[Hashable, Outcome] | None:
        kind = msg[0]
        if kind == "ready":
            w.state, w.deadline = "idle", None
            log.debug("worker %s ready (%s of address space)", w.process.pid, format_bytes(msg[1]))
            if self.limits.memory_bytes is not None and msg[1] > 0.75 * self.limits.memory_bytes:
                log.warning(
                    "worker processes start with %s of their %s memory limit in use; consider --max-memory",
                    format_bytes(msg[1]),
                    format_bytes(self.limits.memory_bytes),
                )
            return None
        if kind == "init_error":
            _name, cls, message, memory = msg
            self._reap(w, kill=True)
            if memory:
                raise WorkerStartError(
                    f"a worker process cannot start under the memory limit of "
                    f"{format_bytes(self.limits.memory_bytes or 0)}: raise it (--max-memory)"
                )
            hint = "" if self.limits.memory_bytes is None else " (is --max-memory too small?)"
            raise RuntimeError(f"a worker process failed to start: {cls}: {message}{hint}")
        if kind == "facts":
            w.facts = msg[1]
            return None
        assert kind == "done" and w.task is not None
        _kind, outcome, retiring = msg
        task = w.task
        w.state, w.task, w.deadline = "idle", None, None
        if retiring:
            self._reap(w)
        if outcome.limit:
            outcome = self._placeholder(task, w.facts, outcome.limit, outcome.message, outcome.cpu_seconds)
        return task.key, outcome

    def _died(self, w: _Worker) -> list[tuple[Hashable, Outcome]]:
        state, task, facts = w.state, w.task, w.facts
        code = self._reap(w)
        if state == "starting":
            raise RuntimeError(f"a worker process died while starting ({_exit_description(code)})")
        if task is None:
            return []
        if w.killed_for_wall:
            note = limit_note(LIMIT_WALL, self.limits)
            return [(task.key, self._placeholder(task, facts, LIMIT_WALL, note, 0.0))]
        if code == -signal.SIGXCPU and self.limits.cpu_seconds is not None:
            note, cpu = limit_note(LIMIT_CPU, self.limits), float(self.limits.cpu_seconds)
            return [(task.key, self._placeholder(task, facts, LIMIT_CPU, note, cpu))]
        message = f"the worker process died on this file ({_exit_description(code)})"
        log.info("%s: %s", task.path, message)
        return [(task.key, Outcome(None, WORKER_CRASHED, message, 0.0, E_INTERNAL))]

    def _expire(self, w: _Worker) -> list[tuple[Hashable, Outcome]]:
        if w.state == "starting":
            self._reap(w, kill=True)
            raise RuntimeError(f"a worker process did not start within {STARTUP_SECONDS:g} s")
        w.killed_for_wall = True
        return self._died(w)  # _reap kills it

    def _reap(self, w: _Worker, kill: bool = False) -> int | None:
        """Join ``w`` (SIGKILL first when asked, or when it does not exit in time) and forget it."""
        if w.killed_for_wall:
            kill = True
        if kill:
            with contextlib.suppress(OSError, ValueError):
                w.process.kill()
        w.process.join(_EXIT_GRACE_SECONDS)
        if w.process.exitcode is None:
            w.process.kill()
            w.process.join()
        code = w.process.exitcode
        w.conn.close()
        w.process.close()
        if w in self._workers:
            self._workers.remove(w)
        return code

    def _placeholder(self, task: _Task, facts: dict[str, Any], limit: str, note: str, cpu: float) -> Outcome:
        """The ``incomplete`` outcome of a sample that hit ``limit``."""
        from attributor.fingerprint.model import DEFAULT_PARAMS

        log.info("%s: %s", task.path, note)
        try:
            sha = task.sha256 or _sha256(task.path)
            size = facts["size"] if "size" in facts else task.path.stat().st_size
        except OSError as e:
            return Outcome(None, "FileAccessError", f"{task.path}: {e.strerror or e}", cpu, E_IO)
        fp = incomplete_fingerprint(
            sha,
            size,
            facts.get("format", "unknown"),
            facts.get("arch", "unknown"),
            [note],
            self.kwargs.get("params", DEFAULT_PARAMS),
        )
        return Outcome(fp, "", note, cpu, E_LIMIT, limit)


@contextlib.contextmanager
def _single_threaded_environment() -> Iterator[None]:
    """Pin BLAS/OpenMP pools to one thread in what a new worker (and the forkserver) inherits.

    The child imports ``__main__`` before any worker code runs, and with it maybe numpy, whose
    OpenBLAS reserves tens of MiB of address space per CPU: on a many-core machine that alone
    would exceed the memory limit.
    """
    saved = {var: os.environ.get(var) for var in _THREAD_ENV}
    os.environ.update(dict.fromkeys(_THREAD_ENV, "1"))
    try:
        yield
    finally:
        for var, value in saved.items():
            if value is None:
                os.environ.pop(var, None)
            else:
                os.environ[var] = value


def _exit_description(code: int | None) -> str:
    if code is None:
        return "still running"
    if code < 0:
        try:
            name = signal.Signals(-code).name
        except ValueError:
            name = f"signal {-code}"
        hint = ", maybe the system ran out of memory" if -code == signal.SIGKILL else ""
        return f"killed by {name}{hint}"
    return f"exit status {code}"


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(MiB):
            h.update(chunk)
    return h.hexdigest()


def fingerprint_isolated(
    path: str | os.PathLike[str],
    fingerprinter: Fingerprinter | None = None,
    limits: WorkerLimits | None = None,
    **kwargs: Any,
) -> SampleFingerprint:
    """Fingerprint one file in a fresh limited worker (see :meth:`WorkerPool.fingerprint`)."""
    with WorkerPool(fingerprinter, 1, limits, **kwargs) as pool:
        return pool.fingerprint(path)
