"""Ingest labelled reference samples into a store, fingerprinting in parallel worker processes.

Contract:
  * inputs are ``(path, label)`` pairs; folders expand recursively in sorted order, skipping
    symlinks and anything that is not a regular file (a symlink named directly is followed);
  * the parent hashes each file first and skips SHA-256s already stored, so a re-run after a
    crash only redoes what is missing;
  * fingerprinting runs in worker processes (forkserver/spawn, recycled every
    ``MAX_TASKS_PER_CHILD`` files, because parsers of hostile input leak and crash); the parent is
    the only writer, and writes in input order, so ids are deterministic whatever ``jobs`` is;
  * a file that cannot be fingerprinted (typed error, unexpected exception, or a worker that
    dies on it) is recorded in :attr:`IngestSummary.failed`; the others carry on. Store errors abort.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import multiprocessing
import os
import stat
import time
from collections import deque
from collections.abc import Callable, Iterable
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import NamedTuple

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from attributor.errors import AttributorError, FileAccessError
from attributor.fingerprint.model import SampleFingerprint
from attributor.store.base import Label, Store

log = logging.getLogger(__name__)

MAX_TASKS_PER_CHILD = 100
WORKER_CRASHED = "WorkerCrashed"  # error_class of a file whose worker process died (signal, OOM)
Fingerprinter = Callable[..., SampleFingerprint]  # fingerprinter(path, blind=...) -> SampleFingerprint


class IngestFailure(NamedTuple):
    path: Path
    error_class: str  # AttributorError subclass name, another exception's name, or WORKER_CRASHED
    message: str


@dataclass
class IngestSummary:
    """What an ingest did. Files seen twice in one run count as ``skipped_existing``."""

    added: int = 0
    skipped_existing: int = 0
    failed: list[IngestFailure] = field(default_factory=list)
    functions_added: int = 0
    seconds: float = 0.0  # wall clock
    cpu_seconds: float = 0.0  # sum of the workers' CPU time spent fingerprinting


class _Outcome(NamedTuple):
    """What a worker sends back: a fingerprint, or the class and message of what went wrong."""

    fp: SampleFingerprint | None
    error_class: str
    message: str
    cpu_seconds: float


@dataclass
class _Task:
    seq: int  # position in write order
    path: Path
    label: Label
    solo: bool = False  # run alone after a worker crash, to tell the culprit from bystanders


def _fingerprint_one(fingerprinter: Fingerprinter, path: Path, blind: bool) -> _Outcome:
    """Worker entry point: never raises, so one bad file cannot break the pool."""
    start = time.process_time()
    try:
        fp = fingerprinter(path, blind=blind)
        return _Outcome(fp, "", "", time.process_time() - start)
    except AttributorError as e:
        return _Outcome(None, type(e).__name__, str(e), time.process_time() - start)
    except Exception as e:  # a bug on one input must not stop the corpus
        return _Outcome(None, type(e).__name__, f"unexpected error: {e}", time.process_time() - start)


def expand(items: Iterable[tuple[Path, Label]], summary: IngestSummary) -> list[tuple[Path, Label]]:
    """Files to ingest: folders walked (sorted), duplicates dropped; missing paths go to ``summary``."""
    out: list[tuple[Path, Label]] = []
    seen: set[str] = set()
    for path, label in items:
        path = Path(path)
        label = label if label.source else replace(label, source=str(path))
        if path.is_dir():
            files = _walk(path)
        elif path.is_file():
            files = [path]
        else:
            why = "not a regular file" if path.exists() else "no such file or folder"
            summary.failed.append(IngestFailure(path, FileAccessError.__name__, f"{path}: {why}"))
            continue
        for file in files:
            key = os.path.abspath(file)
            if key not in seen:
                seen.add(key)
                out.append((file, label))
    return out


def _walk(folder: Path) -> list[Path]:
    """Regular files under ``folder``, sorted; symlinks (to files or folders) are not followed."""
    found = []
    for root, _dirs, names in os.walk(folder):
        for name in names:
            p = Path(root, name)
            try:
                if stat.S_ISREG(p.lstat().st_mode):
                    found.append(p)
            except OSError:
                continue  # vanished while walking
    return sorted(found)


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


def _mp_context() -> multiprocessing.context.BaseContext:
    # Never fork: the parent holds an open SQLite connection and maybe threads.
    method = "forkserver" if "forkserver" in multiprocessing.get_all_start_methods() else "spawn"
    return multiprocessing.get_context(method)


class _Run:
    """One ingest: a bounded window of tasks in flight, results written in input order."""

    def __init__(self, store: Store, files: list[tuple[Path, Label]], pool: _Pool) -> None:
        self.store, self.pool, self.jobs, self.files = store, pool, pool.jobs, iter(files)
        self.summary = IngestSummary()
        self.inflight: dict[Future[_Outcome], _Task] = {}
        self.ready: dict[int, tuple[_Task, _Outcome]] = {}
        self.suspects: deque[_Task] = deque()
        self.hashes: set[str] = set()
        self.next_seq = self.next_write = 0
        self.advance: Callable[[], None] = lambda: None

    def run(self) -> None:
        while True:
            self._fill()
            if not self.inflight:
                return
            for fut in wait(self.inflight, return_when=FIRST_COMPLETED).done:
                self._collect(fut)
            self._flush()

    def _fill(self) -> None:
        if self.suspects:  # after a crash, retry in-flight files one by one to find the culprit
            if not self.inflight:
                suspect = self.suspects.popleft()
                suspect.solo = True
                self.inflight[self.pool.submit(suspect.path)] = suspect
            return
        window = 4 * self.jobs  # bounds results buffered behind a slow file
        while len(self.inflight) < 2 * self.jobs and self.next_seq - self.next_write < window:
            task = self._next_task()
            if task is None:
                return
            self.inflight[self.pool.submit(task.path)] = task

    def _next_task(self) -> _Task | None:
        """Hash files until one is new; records unreadable and already-stored ones."""
        for path, label in self.files:
            try:
                sha = _sha256(path)
            except OSError as e:
                self._fail(path, FileAccessError.__name__, f"{path}: {e.strerror or e}")
                continue
            if sha in self.hashes or self.store.has_sample(sha):
                self.summary.skipped_existing += 1
                self.advance()
                continue
            self.hashes.add(sha)
            self.next_seq += 1
            return _Task(self.next_seq - 1, path, label)
        return None

    def _collect(self, fut: Future[_Outcome]) -> None:
        task = self.inflight.pop(fut)
        try:
            outcome = fut.result()
        except BrokenProcessPool:
            self.pool.broken = True
            if not task.solo:
                self.suspects.append(task)
                return
            outcome = _Outcome(None, WORKER_CRASHED, "the worker process died on this file", 0.0)
        except Exception as e:  # e.g. a result that cannot be pickled back
            outcome = _Outcome(None, type(e).__name__, f"unexpected error: {e}", 0.0)
        self.ready[task.seq] = (task, outcome)

    def _flush(self) -> None:
        while self.next_write in self.ready:
            task, outcome = self.ready.pop(self.next_write)
            self.next_write += 1
            self.summary.cpu_seconds += outcome.cpu_seconds
            if outcome.fp is None:
                self._fail(task.path, outcome.error_class, outcome.message)
            elif self.store.add_sample(outcome.fp, task.label):
                self.summary.added += 1
                self.summary.functions_added += outcome.fp.n_functions
                self.advance()
            else:
                self.summary.skipped_existing += 1
                self.advance()

    def _fail(self, path: Path, error_class: str, message: str) -> None:
        log.info("ingest: %s failed: %s: %s", path, error_class, message)
        self.summary.failed.append(IngestFailure(path, error_class, message))
        self.advance()


class _Pool:
    """A ProcessPoolExecutor started on first use and replaced when a worker death breaks it."""

    def __init__(self, jobs: int, fingerprinter: Fingerprinter, blind: bool) -> None:
        self.jobs, self.fingerprinter, self.blind = jobs, fingerprinter, blind
        self.executor: ProcessPoolExecutor | None = None
        self.broken = False

    def submit(self, path: Path) -> Future[_Outcome]:
        if self.executor is None or self.broken:
            self.shutdown(wait=False)
            self.broken = False
            self.executor = ProcessPoolExecutor(
                self.jobs, mp_context=_mp_context(), max_tasks_per_child=MAX_TASKS_PER_CHILD
            )
        return self.executor.submit(_fingerprint_one, self.fingerprinter, path, self.blind)

    def shutdown(self, wait: bool, cancel: bool = False) -> None:
        if self.executor is not None:
            self.executor.shutdown(wait=wait, cancel_futures=cancel)
            self.executor = None


def _progress(enabled: bool) -> Progress:
    console = Console(stderr=True)
    return Progress(
        TextColumn("ingest"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=console,
        disable=not (enabled and console.is_terminal),
    )


def ingest(
    store: Store,
    items: list[tuple[Path, Label]],
    jobs: int | None = None,
    blind: bool = False,
    progress: bool = True,
    fingerprinter: Fingerprinter | None = None,
) -> IngestSummary:
    """Fingerprint ``items`` (files or folders) and add them to ``store``.

    Args:
        jobs: worker processes; ``None`` or 0 means ``os.cpu_count()``.
        blind: passed to the fingerprinter (ignore symbols and other labels in the sample).
        progress: show a progress bar on stderr (only when stderr is a terminal).
        fingerprinter: a picklable top-level function ``f(path, blind=...) -> SampleFingerprint``;
            defaults to :func:`attributor.pipeline.fingerprint_path`.

    Raises:
        StoreError / ParameterMismatch: the store refused a write (nothing after it is written).

    Example:
        >>> summary = ingest(store, [(Path("corpus/emotet"), Label("emotet"))])  # doctest: +SKIP
    """
    started = time.monotonic()
    if fingerprinter is None:
        from attributor.pipeline import fingerprint_path

        fingerprinter = fingerprint_path
    early = IngestSummary()
    files = expand(items, early)
    jobs = max(1, min(jobs or os.cpu_count() or 1, len(files) or 1))
    pool = _Pool(jobs, fingerprinter, blind)
    run = _Run(store, files, pool)
    run.summary.failed.extend(early.failed)
    with _progress(progress) as bar:
        run.advance = functools.partial(bar.advance, bar.add_task("ingest", total=len(files)))
        try:
            run.run()
        except BaseException:
            pool.shutdown(wait=False, cancel=True)
            raise
        pool.shutdown(wait=True)
    run.summary.seconds = time.monotonic() - started
    return run.summary
