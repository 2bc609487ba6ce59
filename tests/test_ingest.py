"""Ingest with a fake, picklable fingerprinter: idempotence, failures, parallelism, order."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import numpy as np
import pytest
from helpers_fp import SMALL_PARAMS
from helpers_ingest import fake_fingerprinter, make_files

from attributor.errors import ParameterMismatch
from attributor.ingest import WORKER_CRASHED, IngestFailure, expand, ingest
from attributor.ingest import IngestSummary as Summary
from attributor.store.base import Label, Store
from attributor.store.memory import MemoryStore
from attributor.store.sqlite import SQLiteStore


def run(store: Store, items: list[tuple[Path, Label]], jobs: int = 2) -> Summary:
    return ingest(store, items, jobs=jobs, progress=False, fingerprinter=fake_fingerprinter)


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def corpus(tmp_path: Path) -> tuple[Path, list[Path]]:
    folder = tmp_path / "corpus"
    return folder, make_files(folder, 9)


def test_ingest_then_rerun_is_idempotent(tmp_path: Path, corpus: tuple[Path, list[Path]]) -> None:
    folder, files = corpus
    (folder / "bad.exe").write_bytes(b"BAD header")
    (folder / "copy.bin").write_bytes(files[0].read_bytes())  # same content: stored once
    with SQLiteStore(tmp_path / "c.db") as store:
        first = run(store, [(folder, Label("fam"))])
        assert (first.added, first.skipped_existing) == (9, 1)
        assert first.failed == [
            IngestFailure(
                folder / "bad.exe", "UnsupportedFormat", f"{folder / 'bad.exe'}: not a PE or ELF file"
            )
        ]
        want = [fake_fingerprinter(f) for f in files]
        assert first.functions_added == sum(fp.n_functions for fp in want) == store.index().n_functions
        assert first.cpu_seconds >= 0 and first.seconds > 0

        again = run(store, [(folder, Label("other"))])
        assert (again.added, again.skipped_existing, len(again.failed)) == (0, 10, 1)
        assert {r.family for r in store.samples()} == {"fam"}
        assert store.integrity_check() == []


def test_failures_do_not_stop_the_others(tmp_path: Path, corpus: tuple[Path, list[Path]]) -> None:
    """A typed error, a parser bug and a dying worker are recorded; every good file is stored."""
    folder, files = corpus
    (folder / "a_bad").write_bytes(b"BAD")
    (folder / "b_boom").write_bytes(b"BOOM")
    (folder / "c_crash").write_bytes(b"CRASH")
    store = MemoryStore()
    summary = run(store, [(folder, Label("fam")), (tmp_path / "missing.exe", Label("x"))], jobs=3)
    assert summary.added == len(files)
    assert sorted((f.path.name, f.error_class) for f in summary.failed) == [
        ("a_bad", "UnsupportedFormat"),
        ("b_boom", "RuntimeError"),
        ("c_crash", WORKER_CRASHED),
        ("missing.exe", "FileAccessError"),
    ]
    assert {r.sha256 for r in store.samples()} == {sha(f) for f in files}


@pytest.mark.parametrize("jobs", [1, 2, 4])
def test_store_order_is_input_order_whatever_jobs(corpus: tuple[Path, list[Path]], jobs: int) -> None:
    folder, files = corpus
    store = MemoryStore()
    run(store, [(folder, Label("fam"))], jobs=jobs)
    assert [r.sha256 for r in store.samples()] == [sha(f) for f in sorted(files)]
    assert [r.id for r in store.samples()] == list(range(1, len(files) + 1))


def test_round_trips_what_the_fingerprinter_made(tmp_path: Path, corpus: tuple[Path, list[Path]]) -> None:
    folder, files = corpus
    with SQLiteStore(tmp_path / "c.db") as store:
        run(store, [(folder, Label("fam", actor="apt"))])
        idx = store.index()
        want = [fake_fingerprinter(f) for f in sorted(files)]
        np.testing.assert_array_equal(idx.minhash, np.concatenate([fp.minhash for fp in want]))
        np.testing.assert_array_equal(idx.addresses, np.concatenate([fp.addresses for fp in want]))
        assert {(r.family, r.actor, r.source) for r in idx.samples} == {("fam", "apt", str(folder))}


def test_labels_and_sources(tmp_path: Path, corpus: tuple[Path, list[Path]]) -> None:
    """Manifest sources are kept; unsourced labels get the path they were given for."""
    _folder, files = corpus
    store = MemoryStore()
    run(store, [(files[1], Label("one", source="m.csv:2")), (files[2], Label("two"))])
    assert [(r.family, r.source) for r in store.samples()] == [("one", "m.csv:2"), ("two", str(files[2]))]


def test_expand_skips_symlinks_and_duplicates(tmp_path: Path, corpus: tuple[Path, list[Path]]) -> None:
    folder, files = corpus
    os.symlink(files[0], folder / "link.bin")
    os.symlink(folder / "sub", folder / "linkdir")
    os.mkfifo(folder / "fifo")
    summary = Summary()
    got = expand([(folder, Label("a")), (files[0], Label("b"))], summary)
    assert [p for p, _ in got] == sorted(files) and summary.failed == []


def test_store_errors_abort(corpus: tuple[Path, list[Path]]) -> None:
    folder, _ = corpus
    with pytest.raises(ParameterMismatch):
        run(MemoryStore(SMALL_PARAMS), [(folder, Label("fam"))])


def test_nothing_to_do_starts_no_workers(tmp_path: Path) -> None:
    summary = run(MemoryStore(), [])
    assert (summary.added, summary.skipped_existing, summary.failed) == (0, 0, [])


def test_no_progress_output_when_stderr_is_not_a_terminal(
    corpus: tuple[Path, list[Path]], capfd: pytest.CaptureFixture[str]
) -> None:
    folder, _ = corpus
    ingest(MemoryStore(), [(folder, Label("fam"))], jobs=1, progress=True, fingerprinter=fake_fingerprinter)
    assert capfd.readouterr() == ("", "")


def test_special_file_named_directly(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "fifo")
    summary = run(MemoryStore(), [(tmp_path / "fifo", Label("x"))])
    assert summary.failed == [
        IngestFailure(tmp_path / "fifo", "FileAccessError", f"{tmp_path / 'fifo'}: not a regular file")
    ]
