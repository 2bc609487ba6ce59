"""Faults and durability beyond tests/test_ingest_kill.py: committed samples survive later kills,
concurrent CLI ingests of one sample, a full disk, atomic report writes, truncated databases.

Every subprocess here runs our own code on our own bytes; nothing from a sample is executed.
"""

from __future__ import annotations

import contextlib
import os
import random
import resource
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from helpers_ingest import fake_fingerprinter, make_files
from test_ingest_kill import N_FILES, check_whole, finish, kill_group, start

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "fuzz"))

from fuzz_common import X64_MAIN, mini_elf

from attributor.errors import E_STORE, FileAccessError, StoreError
from attributor.store.sqlite import SQLiteStore

TESTS = Path(__file__).resolve().parent


def stored(db: Path) -> set[str]:
    if not db.exists():
        return set()
    with SQLiteStore(db) as store:
        return {r.sha256 for r in store.samples()}


def cli(*args: str, limit_fsize: int | None = None, cwd: Path | None = None) -> subprocess.Popen[str]:
    """``python -m attributor ARGS`` (optionally under ``RLIMIT_FSIZE``; Python ignores SIGXFSZ, so
    a write past the limit fails with EFBIG instead of killing the process)."""

    def limit() -> None:
        if limit_fsize is not None:
            resource.setrlimit(resource.RLIMIT_FSIZE, (limit_fsize, limit_fsize))

    return subprocess.Popen(
        [sys.executable, "-m", "attributor", *args],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=cwd, preexec_fn=limit,
    )  # fmt: skip


def sample_files(folder: Path, n: int, seed: int, code: int = 4096) -> list[Path]:
    """``n`` distinct small ELF executables (our own code bytes, never run)."""
    rng = random.Random(seed)
    folder.mkdir(parents=True, exist_ok=True)
    out = []
    for i in range(n):
        path = folder / f"s{i:03d}.elf"
        path.write_bytes(mini_elf(X64_MAIN + rng.randbytes(code)))
        out.append(path)
    return out


# -- (a) kills: what was committed before a kill is never lost by a later one -------------------------


def count_rows(db: Path) -> int:
    """Committed samples, read without opening a store (no quick_check, never creates the file)."""
    import sqlite3

    try:
        with contextlib.closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5)) as raw:
            return int(raw.execute("SELECT count(*) FROM samples").fetchone()[0])
    except sqlite3.Error:
        return 0


def test_committed_samples_survive_every_later_kill(tmp_path: Path) -> None:
    """tests/test_ingest_kill.py checks each state is whole; this checks no state loses anything the
    previous one had (monotonic), with every kill landing after at least one new commit, then that a
    re-run completes."""
    folder = tmp_path / "corpus"
    files = make_files(folder, N_FILES, seed=99)
    expected = {fp.sha256: fp for fp in map(fake_fingerprinter, files)}
    db = tmp_path / "c.db"
    rng = random.Random(0xD1E)
    before: set[str] = set()
    lost = kills = 0
    for _ in range(5):
        proc = start(db, folder, jobs=2)
        deadline = time.monotonic() + 30
        while count_rows(db) <= len(before) and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.02)
        time.sleep(rng.uniform(0.0, 0.15))  # somewhere in the middle of the next commits
        kill_group(proc)
        kills += 1
        check_whole(db, expected)
        now = stored(db)
        lost += len(before - now)
        assert len(now) > len(before) or len(now) == N_FILES
        before = now
    assert lost == 0
    finish(db, tmp_path / "corpus")
    assert check_whole(db, expected) == N_FILES and kills == 5


# -- (b) concurrent ingests of one sample -------------------------------------------------------------


def _add_at_barrier(db: str, fp: object, barrier: object, results: object) -> None:
    from attributor.store.base import Label

    with SQLiteStore(db) as store:
        assert not store.has_sample(fp.sha256)  # type: ignore[attr-defined]  # all past ingest's check
        barrier.wait()  # type: ignore[attr-defined]
        results.put(store.add_sample(fp, Label("same")))  # type: ignore[arg-type, attr-defined]


def test_processes_adding_one_sample_at_once_leave_one_record(tmp_path: Path) -> None:
    """Four processes holding the same sample's fingerprint all see it absent, then add it at the
    same instant: exactly one insert wins, the others are told it is already there (ingest counts
    them as already present). tests/test_ingest_kill.py runs two whole ingests of one folder."""
    import multiprocessing

    from attributor.pipeline import fingerprint_path

    sample = tmp_path / "s.elf"
    sample.write_bytes(mini_elf(X64_MAIN + random.Random(5).randbytes(2048)))
    fp = fingerprint_path(sample)
    ctx = multiprocessing.get_context("fork")  # the children inherit fp and the imports
    for i in range(3):
        db = tmp_path / f"c{i}.db"
        SQLiteStore(db).close()
        barrier, results = ctx.Barrier(4), ctx.Queue()
        procs = [ctx.Process(target=_add_at_barrier, args=(str(db), fp, barrier, results)) for _ in range(4)]
        for p in procs:
            p.start()
        outcomes = sorted(results.get(timeout=60) for _ in procs)
        for p in procs:
            p.join(timeout=60)
        assert outcomes == [False, False, False, True]
        with SQLiteStore(db) as store:
            assert len(store.samples()) == 1 and store.integrity_check() == []


# -- (c) full disk ------------------------------------------------------------------------------------


def add_directly(db: Path, files: list[Path], family: str) -> None:
    """Fingerprint in this process and store (no worker pool: faster than the CLI for set-up)."""
    from attributor.pipeline import fingerprint_path
    from attributor.store.base import Label

    with SQLiteStore(db) as store:
        for f in files:
            store.add_sample(fingerprint_path(f), Label(family))


def test_full_disk_is_a_clean_store_error_and_keeps_the_store(tmp_path: Path) -> None:
    """`corpus add` under a file size limit just above the database: exit 20 with one line, the
    store passes the integrity check and keeps every sample committed before; a re-run completes."""
    db = tmp_path / "c.db"
    add_directly(db, sample_files(tmp_path / "first", 5, seed=1), "a")
    before = stored(db)
    more = sample_files(tmp_path / "more", 20, seed=2)
    limit = max(db.stat().st_size, 64 * 1024) + 8 * 1024
    proc = cli(
        "corpus",
        "add",
        str(tmp_path / "more"),
        "--family",
        "b",
        "--db",
        str(db),
        "-j",
        "1",
        limit_fsize=limit,
    )
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == E_STORE, err
    lines = err.strip().splitlines()
    assert "Traceback" not in err and lines[-1].startswith("attributor: error: "), err
    assert "cannot write the database" in lines[-1] and str(db) in lines[-1]
    with SQLiteStore(db) as store:
        assert store.integrity_check() == []
        after = {r.sha256 for r in store.samples()}
    assert len(before) == 5 and before <= after and len(after) < len(before) + len(more)
    from attributor.pipeline import fingerprint_path

    add_directly(db, [f for f in more if fingerprint_path(f).sha256 not in after], "b")
    assert len(stored(db)) == len(before) + len(more)


def test_full_disk_report_write_keeps_the_old_report(tmp_path: Path) -> None:
    report = tmp_path / "report.json"
    report.write_text('{"old": true}\n')
    code = (
        "import resource, sys\n"
        "resource.setrlimit(resource.RLIMIT_FSIZE, (4096, 4096))\n"
        "from attributor.util.atomic import atomic_write_text\n"
        "from attributor.errors import AttributorError\n"
        "try:\n"
        f"    atomic_write_text({str(report)!r}, 'x' * 100000)\n"
        "except AttributorError as e:\n"
        "    print(type(e).__name__, e, file=sys.stderr); sys.exit(e.exit_code)\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )
    assert proc.returncode == FileAccessError.exit_code, proc.stderr
    assert proc.stderr.startswith("FileAccessError") and len(proc.stderr.strip().splitlines()) == 1
    assert report.read_text() == '{"old": true}\n'
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report.json"], "temporary file left behind"


# -- (d) reports are written atomically ---------------------------------------------------------------

_WRITER = """
import sys
from attributor.util.atomic import atomic_write_text
path = sys.argv[1]
texts = ["A" * 3_000_000 + "\\n", "B" * 3_000_000 + "\\n"]
print("ready", flush=True)
i = 0
while True:
    atomic_write_text(path, texts[i % 2])
    i += 1
"""


def test_kill_during_report_write_leaves_old_or_new(tmp_path: Path) -> None:
    report = tmp_path / "report.json"
    versions = {"A" * 3_000_000 + "\n", "B" * 3_000_000 + "\n"}
    report.write_text("A" * 3_000_000 + "\n")
    rng = random.Random(11)
    for _ in range(8):
        proc = subprocess.Popen(
            [sys.executable, "-c", _WRITER, str(report)], stdout=subprocess.PIPE, start_new_session=True
        )
        assert proc.stdout is not None and proc.stdout.readline() == b"ready\n"
        time.sleep(rng.uniform(0.0, 0.15))
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        assert report.read_text() in versions, "a partial report was left"
    # A kill between mkstemp and the rename can leave a hidden temporary file, never anything else.
    for p in tmp_path.iterdir():
        assert p.name == "report.json" or (p.name.startswith(".report.json.") and p.name.endswith(".tmp"))


def test_demo_report_writer_is_atomic(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`attributor demo` writes report.json through atomic_write_text: a failure mid-write leaves the
    previous report and no temporary file, and surfaces as one FileAccessError."""
    from attributor.cli import demo

    report = tmp_path / "report.json"
    report.write_text("previous\n")

    def broken_fsync(fd: int) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", broken_fsync)
    with pytest.raises(FileAccessError, match="No space left on device"):
        demo.write_text(report, "new report\n")
    assert report.read_text() == "previous\n"
    assert [p.name for p in tmp_path.iterdir()] == ["report.json"]
    monkeypatch.undo()
    demo.write_text(report, "new report\n")
    assert report.read_text() == "new report\n" and [p.name for p in tmp_path.iterdir()] == ["report.json"]


# -- (e) a corrupt or truncated database is detected on open --------------------------------------------


@pytest.fixture(scope="module")
def filled(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    import numpy as np
    from helpers_fp import realistic_fingerprint

    from attributor.store.base import Label

    db = tmp_path_factory.mktemp("filled") / "c.db"
    rng = np.random.default_rng(3)
    with SQLiteStore(db) as store:
        for i in range(20):
            store.add_sample(realistic_fingerprint(rng, 60), Label(f"fam{i % 3}"))
    return db.read_bytes()


def test_truncated_at_every_page_is_detected_on_open(tmp_path: Path, filled: bytes) -> None:
    page = 4096
    for k in range(1, len(filled) // page):
        db = tmp_path / f"t{k}.db"
        db.write_bytes(filled[: k * page])
        with pytest.raises(StoreError) as info:
            SQLiteStore.open_existing(db)
        msg = str(info.value)
        assert "corrupt" in msg and "\n" not in msg and str(db) in msg


def test_truncated_without_quick_check_fails_on_read_not_with_a_crash(tmp_path: Path, filled: bytes) -> None:
    """Above QUICK_CHECK_MAX_BYTES the open skips quick_check: reads then fail with a StoreError."""
    page = 4096
    for k in range(2, len(filled) // page, 3):
        db = tmp_path / f"t{k}.db"
        db.write_bytes(filled[: k * page])
        try:
            with SQLiteStore.open_existing(db, check=False) as store:
                store.samples()
                store.index()
                problems = store.integrity_check()
        except StoreError as e:
            assert "\n" not in str(e)
            continue
        assert problems, f"truncated at page {k}, but nothing noticed"


def test_cli_on_truncated_database_exits_20(tmp_path: Path, filled: bytes) -> None:
    db = tmp_path / "c.db"
    db.write_bytes(filled[: len(filled) // 2])
    sample = tmp_path / "s.elf"
    sample.write_bytes(mini_elf(X64_MAIN))
    for args in (("corpus", "stats"), ("match", str(sample))):
        proc = cli(*args, "--db", str(db))
        _, err = proc.communicate(timeout=60)
        assert proc.returncode == E_STORE, (args, err)
        assert len(err.strip().splitlines()) == 1 and "corrupt" in err and "Traceback" not in err, err
