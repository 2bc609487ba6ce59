"""Ingest labelled reference samples into a store, fingerprinting in parallel worker processes.

Contract:
  * inputs are ``(path, label)`` pairs; folders expand recursively in sorted order, skipping
    symlinks and anything that is not a regular file (a symlink named directly is followed);
  * the parent hashes each file first and skips SHA-256s already stored, so a re-run after a
    crash only redoes what is missing;
  * fingerprinting runs in limited worker processes (:mod:`attributor.isolation`: memory, CPU
    time, wall clock and output size per file; forkserver/spawn; recycled every
    ``max_tasks_per_child`` files, because parsers of hostile input leak and crash); the parent is
    the only writer, and writes in input order, so ids are deterministic whatever ``jobs`` is;
  * a file that hits a worker limit is stored as ``incomplete`` with zero functions and a note
    naming the limit (:attr:`IngestSummary.incomplete`, and a warning in the log); being stored,
    it is skipped by later runs like any other sample (docs/limits.md);
  * a file that cannot be fingerprinted (typed error, unexpected exception, or a worker that
    dies on it) is recorded in :attr:`IngestSummary.failed`; the others carry on. Store errors abort.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import os
import stat
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import NamedTuple, cast

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from attributor.errors import FileAccessError
from attributor.fingerprint.model import SampleFingerprint
from attributor.isolation import WORKER_CRASHED, Outcome, WorkerLimits, WorkerPool, current_limits
from attributor.store.base import Label, Store

log = logging.getLogger(__name__)

__all__ = ["WORKER_CRASHED", "IncompleteSample", "IngestFailure", "IngestSummary", "expand", "ingest"]

Fingerprinter = Callable[..., SampleFingerprint]  # fingerprinter(path, blind=...) -> SampleFingerprint


class IngestFailure(NamedTuple):
    path: Path
    error_class: str  # AttributorError subclass name, another exception's name, or WORKER_CRASHED
    message: str


class IncompleteSample(NamedTuple):
    """A file stored with status ``incomplete``; ``limit`` names the worker limit it hit, if any."""

    path: Path
    limit: str  # "memory" | "cpu" | "wall" | "output", or "" when the fingerprinter capped something
    notes: tuple[str, ...]


@dataclass
class IngestSummary:
    """What an ingest did. Files seen twice in one run count as ``skipped_existing``."""

    added: int = 0  # includes the incomplete ones
    skipped_existing: int = 0
    failed: list[IngestFailure] = field(default_factory=list)
    incomplete: list[IncompleteSample] = field(default_factory=list)  # added, but status incomplete
    functions_added: int = 0
    seconds: float = 0.0  # wall clock
    cpu_seconds: float = 0.0  # sum of the workers' CPU time spent fingerprinting


@dataclass
class _Task:
    seq: int  # position in write order
    path: Path
    label: Label
    sha256: str


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


class _Run:
    """One ingest: a bounded window of tasks in flight, results written in input order."""

    def __init__(self, store: Store, files: list[tuple[Path, Label]], pool: WorkerPool) -> None:
        self.store, self.pool, self.jobs, self.files = store, pool, pool.jobs, iter(files)
        self.summary = IngestSummary()
        self.inflight: dict[int, _Task] = {}
        self.ready: dict[int, tuple[_Task, Outcome]] = {}
        self.hashes: set[str] = set()
        self.next_seq = self.next_write = 0
        self.advance: Callable[[], None] = lambda: None

    def run(self) -> None:
        while True:
            self._fill()
            if not self.inflight:
                return
            for key, outcome in self.pool.next_results():
                seq = cast(int, key)
                self.ready[seq] = (self.inflight.pop(seq), outcome)
            self._flush()

    def _fill(self) -> None:
        window = 4 * self.jobs  # bounds results buffered behind a slow file
        while len(self.inflight) < 2 * self.jobs and self.next_seq - self.next_write < window:
            task = self._next_task()
            if task is None:
                return
            self.inflight[task.seq] = task
            self.pool.submit(task.seq, task.path, sha256=task.sha256)

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
            return _Task(self.next_seq - 1, path, label, sha)
        return None

    def _flush(self) -> None:
        while self.next_write in self.ready:
            task, outcome = self.ready.pop(self.next_write)
            self.next_write += 1
            self.summary.cpu_seconds += outcome.cpu_seconds
            if outcome.fp is None:
                self._fail(task.path, outcome.error_class, outcome.message)
                continue
            if self.store.add_sample(outcome.fp, task.label):
                self.summary.added += 1
                self.summary.functions_added += outcome.fp.n_functions
                if outcome.fp.status != "complete":
                    self._incomplete(task.path, outcome)
            else:
                self.summary.skipped_existing += 1
            self.advance()

    def _incomplete(self, path: Path, outcome: Outcome) -> None:
        assert outcome.fp is not None
        notes = tuple(outcome.fp.notes)
        self.summary.incomplete.append(IncompleteSample(path, outcome.limit, notes))
        if outcome.limit:  # nothing of the sample's code is in the corpus: say so
            log.warning("%s: stored as incomplete: %s", path, "; ".join(notes))
        else:
            log.info("%s: stored as incomplete: %s", path, "; ".join(notes))

    def _fail(self, path: Path, error_class: str, message: str) -> None:
        log.info("ingest: %s failed: %s: %s", path, error_class, message)
        self.summary.failed.append(IngestFailure(path, error_class, message))
        self.advance()


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
    limits: WorkerLimits | None = None,
) -> IngestSummary:
    """Fingerprint ``items`` (files or folders) and add them to ``store``.

    Args:
        jobs: worker processes; ``None`` or 0 means ``os.cpu_count()``.
        blind: passed to the fingerprinter (ignore symbols and other labels in the sample).
        progress: show a progress bar on stderr (only when stderr is a terminal).
        fingerprinter: a picklable top-level function ``f(path, blind=...) -> SampleFingerprint``;
            defaults to :func:`attributor.pipeline.analyse_path` (fingerprints plus evidence).
        limits: per-file limits of the worker processes; defaults to
            :func:`attributor.isolation.current_limits` (the CLI's ``--max-memory``/``--timeout``).

    Raises:
        StoreError / ParameterMismatch: the store refused a write (nothing after it is written).
        WorkerStartError: the memory limit is too small for a worker process to start at all.

    Example:
        >>> summary = ingest(store, [(Path("corpus/emotet"), Label("emotet"))])  # doctest: +SKIP
    """
    started = time.monotonic()
    if fingerprinter is None:
        from attributor.pipeline import analyse_path

        fingerprinter = analyse_path
    early = IngestSummary()
    files = expand(items, early)
    jobs = max(1, min(jobs or os.cpu_count() or 1, len(files) or 1))
    with WorkerPool(fingerprinter, jobs, limits or current_limits(), blind=blind) as pool:
        run = _Run(store, files, pool)
        run.summary.failed.extend(early.failed)
        with _progress(progress) as bar:
            run.advance = functools.partial(bar.advance, bar.add_task("ingest", total=len(files)))
            run.run()
    run.summary.seconds = time.monotonic() - started
    return run.summary
