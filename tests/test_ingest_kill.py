"""``kill -9`` during ingest never leaves a torn sample, and a re-run completes the corpus.

Each round starts ``python -m ingest_kill_script`` (tests/ingest_kill_script.py) in its own
process group and SIGKILLs the group (parent, forkserver and workers) at a random moment.
"""

from __future__ import annotations

import contextlib
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

from helpers_fp import SMALL_PARAMS
from helpers_ingest import fake_fingerprinter, make_files

from attributor.fingerprint.model import SampleFingerprint
from attributor.store.sqlite import SQLiteStore

TESTS = Path(__file__).parent
N_FILES = 30
ROUNDS_PER_DB, DBS = 3, 8  # 24 kills; a fresh database every few rounds keeps kills mid-write
BUDGET_S = 20.0


def start(db: Path, folder: Path, jobs: int = 2) -> subprocess.Popen[bytes]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(TESTS), os.environ.get("PYTHONPATH", "")])}
    return subprocess.Popen(
        [sys.executable, "-m", "ingest_kill_script", str(db), str(folder), str(jobs)],
        env=env,
        start_new_session=True,  # its own process group: the kill reaches the workers too
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


def kill_group(proc: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(ProcessLookupError):  # it finished before the kill
        os.killpg(proc.pid, signal.SIGKILL)
    proc.communicate()


def check_whole(db: Path, expected: dict[str, SampleFingerprint]) -> int:
    """Every stored sample is complete and exactly what the fingerprinter made; returns the count."""
    if not db.exists():
        return 0
    with SQLiteStore(db) as store:
        assert store.integrity_check() == []
        records = store.samples()
        assert len({r.sha256 for r in records}) == len(records)
        for rec in records:
            got, want = store.get_fingerprint(rec.sha256), expected[rec.sha256]
            assert got is not None and rec.n_functions == want.n_functions
            assert (got.minhash == want.minhash).all() and (got.edges == want.edges.reshape(-1, 2)).all()
        assert store.index().n_functions == sum(r.n_functions for r in records)
        return len(records)


def finish(db: Path, folder: Path) -> None:
    proc = start(db, folder)
    _out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err.decode()


def test_kill_during_ingest(tmp_path: Path) -> None:
    folder = tmp_path / "corpus"
    files = make_files(folder, N_FILES, seed=42)
    expected = {fp.sha256: fp for fp in map(fake_fingerprinter, files)}
    rng = random.Random(0xC0FFEE)
    deadline = time.monotonic() + BUDGET_S
    kills = 0
    for d in range(DBS):
        db = tmp_path / f"c{d}.db"
        for _ in range(ROUNDS_PER_DB):
            if kills >= 20 and time.monotonic() > deadline:
                break
            proc = start(db, folder)
            time.sleep(rng.uniform(0.1, 0.9))
            kill_group(proc)
            kills += 1
            assert check_whole(db, expected) <= N_FILES
        finish(db, folder)
        assert check_whole(db, expected) == N_FILES
    assert kills >= 20


def test_concurrent_ingests_leave_one_record_each(tmp_path: Path) -> None:
    """Two processes ingesting the same folder into one database store every sample once."""
    folder = tmp_path / "corpus"
    files = make_files(folder, N_FILES, seed=7)
    db = tmp_path / "c.db"
    procs = [start(db, folder), start(db, folder)]
    for proc in procs:
        _out, err = proc.communicate(timeout=60)
        assert proc.returncode == 0, err.decode()
    assert check_whole(db, {fp.sha256: fp for fp in map(fake_fingerprinter, files)}) == N_FILES


def test_kill_script_refuses_other_params(tmp_path: Path) -> None:
    """Sanity: the script really uses the database it is given (a mismatching one fails)."""
    db = tmp_path / "c.db"
    SQLiteStore(db, SMALL_PARAMS).close()
    proc = start(db, tmp_path)
    _out, err = proc.communicate(timeout=60)
    assert proc.returncode != 0 and b"ParameterMismatch" in err
