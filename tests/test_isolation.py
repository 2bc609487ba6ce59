"""Worker isolation (attributor.isolation): limits, crashes, recycling, no zombies; CLI options.

Misbehaving fingerprinters live in tests/helpers_isolation.py (workers import them by name).
Every test that starts workers ends by checking that none is left, alive or zombie.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner, Result
from helpers_ingest import fake_fingerprinter, make_files
from helpers_isolation import misbehaving_fingerprinter

from attributor.cli.common import ByteSize, Seconds, worker_limits_from
from attributor.cli.main import cli
from attributor.errors import E_INTERNAL, E_LIMIT, MalformedBinary, UnsupportedFormat
from attributor.fingerprint.model import SampleFingerprint
from attributor.ingest import IngestSummary, ingest
from attributor.isolation import (
    DEFAULT_WORKER_LIMITS,
    INCOMPLETE_PREFIX,
    LIMIT_CPU,
    LIMIT_MEMORY,
    LIMIT_OUTPUT,
    LIMIT_WALL,
    WORKER_CRASHED,
    AnalysisFailed,
    Outcome,
    WorkerLimits,
    WorkerPool,
    WorkerStartError,
    current_limits,
    fingerprint_isolated,
    outcome_error,
    using_limits,
)
from attributor.store.base import Label
from attributor.store.memory import MemoryStore
from attributor.store.open import open_store

SMALL_MEMORY = 1 << 30  # room for the interpreter, numpy and LIEF; far below the 8 GiB a HOG asks for
QUICK = WorkerLimits(memory_bytes=SMALL_MEMORY, cpu_seconds=2, wall_seconds=20.0)


# -- process bookkeeping ---------------------------------------------------------------------------


def _children(pid: int) -> list[int]:
    out: list[int] = []
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return out
    for tid in tasks:
        try:
            with open(f"/proc/{pid}/task/{tid}/children") as f:
                out += [int(c) for c in f.read().split()]
        except OSError:
            continue
    return out


def _describe(pid: int) -> tuple[str, str]:
    """(state letter, command line) of ``pid``; ("", "") once it is gone."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            state = f.read().rsplit(")", 1)[1].split()[0]
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            cmd = f.read().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return "", ""
    return state, cmd


def leftover_processes() -> list[str]:
    """Processes started on our behalf that still exist (zombies included).

    multiprocessing's own long-lived helpers (the forkserver and the resource tracker, direct
    children of this process) are expected; any child of theirs is a worker that was not reaped.
    """
    left = []
    for pid in _children(os.getpid()):
        state, cmd = _describe(pid)
        if not state:
            continue
        helper = "multiprocessing.forkserver" in cmd or "multiprocessing.resource_tracker" in cmd
        if not helper or state == "Z":
            left.append(f"{pid} [{state}] {cmd[:80]}")
            continue
        for worker in _children(pid):
            w_state, _cmd = _describe(worker)
            if w_state:
                left.append(f"{worker} [{w_state}] worker of {pid}")
    return left


def assert_no_leftovers() -> None:
    assert leftover_processes() == []
    try:
        pid, _status = os.waitpid(-1, os.WNOHANG)
    except ChildProcessError:
        return  # no child at all
    assert pid == 0, f"child {pid} was a zombie"


@pytest.fixture
def no_leftovers() -> Iterator[None]:
    yield
    assert_no_leftovers()


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    """Three good files (s000.bin... in sorted order) to check the pool carries on."""
    folder = tmp_path / "in"
    make_files(folder, 3)
    return folder


def add(folder: Path, name: str, data: bytes) -> Path:
    path = folder / name
    path.write_bytes(data)
    return path


def run(folder: Path, limits: WorkerLimits, jobs: int = 1) -> tuple[MemoryStore, IngestSummary]:
    store = MemoryStore()
    summary = ingest(
        store,
        [(folder, Label("fam"))],
        jobs=jobs,
        progress=False,
        fingerprinter=misbehaving_fingerprinter,
        limits=limits,
    )
    return store, summary


def assert_incomplete(store: MemoryStore, path: Path, limit_words: str) -> SampleFingerprint:
    import hashlib

    fp = store.get_fingerprint(hashlib.sha256(path.read_bytes()).hexdigest())
    assert fp is not None, f"{path.name} was not stored"
    assert fp.status == "incomplete" and fp.n_functions == 0
    assert len(fp.notes) == 1 and fp.notes[0].startswith(INCOMPLETE_PREFIX), fp.notes
    assert limit_words in fp.notes[0], fp.notes
    assert fp.size == path.stat().st_size
    return fp


def good_ones_stored(store: MemoryStore, folder: Path) -> None:
    """The well-behaved files (``s*.bin``) are stored exactly as the fingerprinter made them."""
    good = sorted(folder.glob("**/s[0-9]*.bin"))
    assert len(good) == 3
    for path in good:
        want = fake_fingerprinter(path)
        got = store.get_fingerprint(want.sha256)
        assert got is not None and got.status == want.status and got.n_functions == want.n_functions


# -- limits ----------------------------------------------------------------------------------------


def test_memory_limit_gives_incomplete(folder: Path, no_leftovers: None) -> None:
    hog = add(folder, "hog.bin", b"HOG" + bytes(100))
    wrap = add(folder, "wrap.bin", b"WRAP" + bytes(100))
    store, summary = run(folder, QUICK)
    assert summary.failed == []
    assert_incomplete(store, hog, "memory limit of 1 GiB exceeded")
    assert_incomplete(store, wrap, "memory limit of 1 GiB exceeded")  # found behind `from None`
    assert sorted((i.path.name, i.limit) for i in summary.incomplete) == [
        ("hog.bin", LIMIT_MEMORY),
        ("wrap.bin", LIMIT_MEMORY),
    ]
    good_ones_stored(store, folder)


def test_cpu_limit_gives_incomplete(folder: Path, no_leftovers: None) -> None:
    spin = add(folder, "spin.bin", b"SPIN")
    started = time.monotonic()
    store, summary = run(folder, WorkerLimits(cpu_seconds=1, wall_seconds=30.0))
    assert time.monotonic() - started < 15
    fp = assert_incomplete(store, spin, "CPU time limit of 1 s exceeded")
    assert "no functions recorded" in fp.notes[0]
    assert [(i.path, i.limit) for i in summary.incomplete] == [(spin, LIMIT_CPU)]
    assert summary.failed == []
    good_ones_stored(store, folder)


def test_wall_timeout_kills_and_the_pool_carries_on(folder: Path, no_leftovers: None) -> None:
    """A sleeping sample uses no CPU: the parent kills it; the files after it are still done."""
    sleeper = add(folder, "a_sleep.bin", b"SLEEP")  # first in sorted order, one worker
    started = time.monotonic()
    store, summary = run(folder, WorkerLimits(wall_seconds=1.5), jobs=1)
    assert time.monotonic() - started < 15
    assert_incomplete(store, sleeper, "wall-clock limit of 1.5 s exceeded")
    assert [(i.path, i.limit) for i in summary.incomplete] == [(sleeper, LIMIT_WALL)]
    assert summary.failed == []
    good_ones_stored(store, folder)


def test_output_limit_gives_incomplete(folder: Path, no_leftovers: None) -> None:
    huge = add(folder, "huge.bin", b"HUGE")
    store, summary = run(folder, WorkerLimits(max_output_bytes=1 << 20))
    assert_incomplete(store, huge, "output limit of 1 MiB exceeded")
    assert [i.limit for i in summary.incomplete] == [LIMIT_OUTPUT]
    good_ones_stored(store, folder)


def test_segfault_is_a_failure_and_others_continue(folder: Path, no_leftovers: None) -> None:
    add(folder, "segv.bin", b"SEGV")
    add(folder, "sleep.bin", b"SLEEP")
    store, summary = run(folder, WorkerLimits(wall_seconds=1.0), jobs=2)
    assert [(f.path.name, f.error_class) for f in summary.failed] == [("segv.bin", WORKER_CRASHED)]
    assert "SIGSEGV" in summary.failed[0].message
    assert [i.path.name for i in summary.incomplete] == ["sleep.bin"]
    assert len(store.samples()) == 4  # three good ones and the incomplete sleeper
    good_ones_stored(store, folder)


def test_many_misbehaving_files_in_parallel(folder: Path, no_leftovers: None) -> None:
    """All kinds at once with three workers: each file gets its own verdict; good ones are stored."""
    for i, kind in enumerate([b"SEGV", b"HUGE", b"SPIN", b"HOG", b"BAD", b"BOOM", b"SEGV"]):
        add(folder, f"x{i}.bin", kind + bytes([i]))
    limits = WorkerLimits(memory_bytes=SMALL_MEMORY, cpu_seconds=1, max_output_bytes=1 << 20)
    store, summary = run(folder, limits, jobs=3)
    assert sorted((f.path.name, f.error_class) for f in summary.failed) == [
        ("x0.bin", WORKER_CRASHED),
        ("x4.bin", UnsupportedFormat.__name__),
        ("x5.bin", "RuntimeError"),
        ("x6.bin", WORKER_CRASHED),
    ]
    assert sorted((i.path.name, i.limit) for i in summary.incomplete) == [
        ("x1.bin", LIMIT_OUTPUT),
        ("x2.bin", LIMIT_CPU),
        ("x3.bin", LIMIT_MEMORY),
    ]
    assert summary.added == len(store.samples()) == 6  # three good ones, three incomplete
    good_ones_stored(store, folder)


# -- the pool itself -------------------------------------------------------------------------------


def test_workers_are_recycled_and_reaped(folder: Path, no_leftovers: None) -> None:
    files = sorted(folder.glob("**/*.bin"))
    limits = WorkerLimits(max_tasks_per_child=2)
    with WorkerPool(fake_fingerprinter, jobs=1, limits=limits) as pool:
        for i, f in enumerate(files * 2):
            pool.submit(i, f)
        got: dict[object, Outcome] = {}
        while pool.pending:
            got.update(pool.next_results())
        assert sorted(got) == list(range(6))  # type: ignore[type-var]
        assert all(o.fp is not None and not o.limit for o in got.values())
        assert len(pool.started_pids) == 3  # 6 files, 2 per worker
    for pid in pool.started_pids:
        assert _describe(pid) == ("", ""), f"worker {pid} still exists"


def test_pool_that_gets_no_work_starts_no_process(no_leftovers: None) -> None:
    with WorkerPool(fake_fingerprinter, jobs=4) as pool:
        assert pool.next_results() == []
    assert pool.started_pids == []


def test_killed_on_exception_and_no_zombies(folder: Path, no_leftovers: None) -> None:
    """An exception in the parent (e.g. Ctrl-C) kills busy workers at once."""
    add(folder, "a_sleep.bin", b"SLEEP")
    started = time.monotonic()
    with pytest.raises(KeyboardInterrupt), WorkerPool(misbehaving_fingerprinter, jobs=2) as pool:
        for i, f in enumerate(sorted(folder.glob("**/*.bin"))):
            pool.submit(i, f)
        pool.next_results()
        raise KeyboardInterrupt
    assert time.monotonic() - started < 10


def test_worker_killed_from_outside_is_a_crash(folder: Path, no_leftovers: None) -> None:
    """A worker SIGKILLed by someone else (e.g. the kernel's OOM killer) fails its sample only."""
    sleeper = add(folder, "sleep.bin", b"SLEEP")
    with WorkerPool(misbehaving_fingerprinter, jobs=1, limits=WorkerLimits(wall_seconds=30.0)) as pool:
        pool.submit("s", sleeper)
        pool.submit("next", sorted(folder.glob("**/s[0-9]*.bin"))[0])
        killer = threading.Thread(target=_kill_when_busy, args=(pool,), daemon=True)
        killer.start()
        results = dict(pool.next_results())
        while pool.pending:
            results.update(pool.next_results())
        killer.join()
    crash = results["s"]
    assert crash.fp is None and crash.error_class == WORKER_CRASHED and "SIGKILL" in crash.message
    assert results["next"].fp is not None


def _kill_when_busy(pool: WorkerPool) -> None:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        workers = list(pool._workers)
        if workers and workers[0].state == "busy":
            time.sleep(0.3)  # let it reach the sleep
            os.kill(workers[0].process.pid, signal.SIGKILL)  # type: ignore[arg-type]
            return
        time.sleep(0.02)


def test_memory_limit_too_small_to_start(folder: Path, no_leftovers: None) -> None:
    with pytest.raises(WorkerStartError, match="memory limit of 32 MiB"):
        run(folder, WorkerLimits(memory_bytes=32 << 20))


def test_fingerprint_one_sample_raises_typed_errors(tmp_path: Path, no_leftovers: None) -> None:
    with pytest.raises(UnsupportedFormat, match="not a PE or ELF"):
        fingerprint_isolated(add(tmp_path, "bad", b"BAD"), misbehaving_fingerprinter)
    with WorkerPool(misbehaving_fingerprinter, limits=WorkerLimits(max_output_bytes=1 << 20)) as pool:
        with pytest.raises(AnalysisFailed, match="SIGSEGV") as info:
            pool.fingerprint(add(tmp_path, "segv", b"SEGV"))
        assert info.value.exit_code == E_INTERNAL
        huge = pool.fingerprint(add(tmp_path, "huge", b"HUGE"))
        assert (huge.status, huge.format, huge.n_functions) == ("incomplete", "unknown", 0)
        good = add(tmp_path, "good", b"good")
        assert pool.fingerprint(good).n_functions == fake_fingerprinter(good).n_functions
        assert len(pool.started_pids) == 2  # the crashed worker was replaced


def test_real_fingerprinter_in_a_worker(no_leftovers: None) -> None:
    """The default fingerprinter (attributor.pipeline.fingerprint_path) under the default limits."""
    true = shutil.which("true")
    if true is None:
        pytest.skip("no `true` executable")
    fp = fingerprint_isolated(true)
    assert fp.status in ("complete", "incomplete") and fp.n_functions > 0 and fp.format == "ELF"


def test_outcome_error_rebuilds_typed_errors() -> None:
    err = outcome_error(Outcome(None, "MalformedBinary", "bad header", 0.0, MalformedBinary.exit_code))
    assert type(err) is MalformedBinary and str(err) == "bad header"
    other = outcome_error(Outcome(None, "ArchiveBomb", "too deep", 0.0, 17))
    assert other.exit_code == 17 and str(other) == "too deep"
    bug = outcome_error(Outcome(None, "RuntimeError", "unexpected error: x", 0.0, E_INTERNAL))
    assert isinstance(bug, AnalysisFailed) and "RuntimeError" in str(bug)


def test_limits_validation_and_description() -> None:
    assert DEFAULT_WORKER_LIMITS.describe() == "memory 2 GiB, CPU 120 s, wall clock 180 s, output 512 MiB"
    assert (
        WorkerLimits(None, None, None, None).describe() == "memory off, CPU off, wall clock off, output off"
    )
    with pytest.raises(ValueError, match="wall_seconds"):
        WorkerLimits(wall_seconds=0)
    with pytest.raises(ValueError, match="max_tasks_per_child"):
        WorkerLimits(max_tasks_per_child=0)


# -- command line ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "value"), [("2G", 2 << 30), ("512MiB", 512 << 20), ("1000", 1000), ("1.5k", 1536), ("none", 0)]
)
def test_byte_size(text: str, value: int) -> None:
    assert ByteSize().convert(text, None, None) == value


def test_seconds_and_limits_from_options() -> None:
    assert Seconds().convert("90", None, None) == 90.0
    assert Seconds().convert("2.5s", None, None) == 2.5
    assert Seconds().convert("off", None, None) == 0.0
    assert worker_limits_from(None, None, None) == DEFAULT_WORKER_LIMITS
    raised = worker_limits_from(4 << 30, None, 600.0)  # --timeout alone moves the CPU limit too
    assert (raised.memory_bytes, raised.cpu_seconds, raised.wall_seconds) == (4 << 30, 600, 600.0)
    both = worker_limits_from(0, 30.0, 0.0)  # 0 = no limit
    assert (both.memory_bytes, both.cpu_seconds, both.wall_seconds) == (None, 30, None)


def invoke(*args: str, env: dict[str, str] | None = None) -> Result:
    return CliRunner().invoke(cli, list(args), env=env, catch_exceptions=False)


@pytest.fixture
def elf(tmp_path: Path) -> Path:
    """A real ELF whose analysis takes far longer than 10 ms (a copy of the system's ``ls``)."""
    ls = shutil.which("ls")
    if ls is None:
        pytest.skip("no `ls` executable")
    path = tmp_path / "ls.elf"
    shutil.copyfile(Path(ls).resolve(), path)
    return path


def test_cli_match_timeout_is_incomplete_and_exits_12(tmp_path: Path, elf: Path, no_leftovers: None) -> None:
    db = tmp_path / "c.db"
    open_store(db, create=True).close()
    result = invoke("match", str(elf), "--db", str(db), "--timeout", "0.01", "--format", "json")
    assert result.exit_code == E_LIMIT, result.output
    sample = json.loads(result.stdout)["results"][0]["sample"]
    assert sample["status"] == "incomplete" and sample["function_count"] == 0
    assert sample["format"] == "ELF" and "wall-clock limit of 0.01 s exceeded" in sample["notes"][0]
    errors = [line for line in result.stderr.splitlines() if line.startswith("attributor: error: ")]
    assert len(errors) == 1 and str(elf) in errors[0] and "incomplete" in errors[0]
    text = invoke("-q", "match", str(elf), "--db", str(db), env={"ATTRIBUTOR_TIMEOUT": "0.01"})
    assert text.exit_code == E_LIMIT
    header = text.stdout.splitlines()[0]
    assert header.endswith("incomplete") and "0 functions" in header
    assert "note: analysis stopped: wall-clock limit" in text.stdout
    assert current_limits() == DEFAULT_WORKER_LIMITS, "the options must not outlive the command"


def test_cli_match_limit_counts_as_failed(tmp_path: Path, elf: Path, no_leftovers: None) -> None:
    """Two samples, both stopped: both reported, one error line each, exit 12."""
    db = tmp_path / "c.db"
    open_store(db, create=True).close()
    result = invoke(
        "-q", "match", str(elf), str(elf), "--db", str(db), "--timeout", "0.01", "--format", "json"
    )
    assert result.exit_code == E_LIMIT
    assert len(result.stderr.splitlines()) == 2
    assert [r["sample"]["status"] for r in json.loads(result.stdout)["results"]] == ["incomplete"] * 2


def test_cli_corpus_add_stores_incomplete_and_warns(
    tmp_path: Path, elf: Path, caplog: pytest.LogCaptureFixture, no_leftovers: None
) -> None:
    db = str(tmp_path / "c.db")
    result = invoke("corpus", "add", str(elf), "--family", "f", "--db", db, "-j", "1", "--timeout", "0.01")
    assert result.exit_code == 0, result.output
    assert "1 added (0 functions)" in result.stderr
    [warning] = [r for r in caplog.records if r.levelname == "WARNING"]
    assert (
        "stored as incomplete" in warning.getMessage()
        and "wall-clock limit of 0.01 s" in warning.getMessage()
    )
    stats = json.loads(invoke("corpus", "stats", "--db", db, "--format", "json").stdout)
    assert stats["samples"] == 1 and stats["incomplete_samples"] == 1
    assert current_limits() == DEFAULT_WORKER_LIMITS


def test_cli_rejects_bad_limit_values(tmp_path: Path) -> None:
    for option, value in (("--max-memory", "lots"), ("--timeout", "-1"), ("--max-cpu", "soon")):
        result = invoke("match", "x", "--db", str(tmp_path / "c.db"), option, value)
        assert result.exit_code == 2 and "Traceback" not in result.stderr


def test_cli_memory_too_small_is_one_error(tmp_path: Path, elf: Path, no_leftovers: None) -> None:
    db = tmp_path / "c.db"
    open_store(db, create=True).close()
    result = invoke("-q", "match", str(elf), str(elf), "--db", str(db), "--max-memory", "32M")
    assert result.exit_code == E_LIMIT and result.stdout == ""
    assert result.stderr.splitlines() == [
        "attributor: error: a worker process cannot start under the memory limit of 32 MiB: "
        "raise it (--max-memory)"
    ]


def test_using_limits_is_scoped() -> None:
    with using_limits(QUICK):
        assert current_limits() == QUICK
    assert current_limits() == DEFAULT_WORKER_LIMITS


def test_numpy_is_single_threaded_in_workers(tmp_path: Path, no_leftovers: None) -> None:
    """OpenBLAS would reserve address space per CPU; workers must not count on it."""
    with WorkerPool(fake_fingerprinter, jobs=1) as pool:
        pool.submit(0, add(tmp_path, "f", np.arange(10, dtype=np.uint8).tobytes()))
        [(_key, outcome)] = pool.next_results()
        assert outcome.fp is not None
        status = Path(f"/proc/{pool.started_pids[0]}/status").read_text()
        assert int(status.split("Threads:")[1].split()[0]) == 1
