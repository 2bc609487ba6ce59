"""The Store contract, run against every implementation, plus SQLite's durability guarantees."""

from __future__ import annotations

import itertools
import multiprocessing
import sqlite3
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from helpers_fp import SMALL_PARAMS, random_fingerprint, realistic_fingerprint
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from attributor.errors import AttributorError, ParameterMismatch, StoreError
from attributor.fingerprint.model import DEFAULT_PARAMS, FingerprintParams, SampleFingerprint
from attributor.store.base import Label
from attributor.store.memory import MemoryStore
from attributor.store.open import open_store, resolve_db_path
from attributor.store.sqlite import SQLiteStore

AnyStore = MemoryStore | SQLiteStore
MakeStore = Callable[..., AnyStore]


@pytest.fixture(params=["memory", "sqlite"])
def make_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[MakeStore]:
    """A factory of fresh, empty stores of one implementation (closed at teardown)."""
    counter = itertools.count()
    opened: list[AnyStore] = []

    def make(params: FingerprintParams = DEFAULT_PARAMS) -> AnyStore:
        if request.param == "memory":
            store: AnyStore = MemoryStore(params)
        else:
            store = SQLiteStore(tmp_path / f"corpus{next(counter)}.db", params)
        opened.append(store)
        return store

    yield make
    for store in opened:
        store.close()


@pytest.fixture
def store(make_store: MakeStore) -> AnyStore:
    return make_store()


def assert_same_fingerprint(got: SampleFingerprint | None, want: SampleFingerprint) -> None:
    assert got is not None
    for name in ("addresses", "sizes", "n_insns", "n_blocks", "exact", "minhash"):
        np.testing.assert_array_equal(getattr(got, name), getattr(want, name), err_msg=name)
    np.testing.assert_array_equal(got.edges.reshape(-1, 2), want.edges.reshape(-1, 2))
    for name in (
        "sha256",
        "format",
        "arch",
        "size",
        "code_bytes",
        "covered_bytes",
        "params",
        "status",
        "notes",
    ):
        assert getattr(got, name) == getattr(want, name), name


# -- the contract, for every implementation ---------------------------------------------------------


def test_empty_store(store: AnyStore) -> None:
    """An empty store has an empty, well-shaped index and no problems."""
    idx = store.index()
    assert store.samples() == [] and idx.n_functions == 0
    assert idx.minhash.shape == (0, store.params.num_perm) and idx.edges.shape == (0, 2)
    assert store.integrity_check() == []
    assert store.stats()["samples"] == 0


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    seed=st.integers(0, 2**32 - 1),
    sizes=st.lists(st.integers(0, 40), min_size=1, max_size=5),
    params=st.sampled_from([SMALL_PARAMS, DEFAULT_PARAMS]),
)
def test_round_trip(make_store: MakeStore, seed: int, sizes: list[int], params: FingerprintParams) -> None:
    """Every column survives add_sample -> index() exactly; edges are shifted to global indices."""
    rng = np.random.default_rng(seed)
    store = make_store(params)
    fps = [random_fingerprint(rng, n, params) for n in sizes]
    labels = [
        Label(f"fam{i % 2}", actor=None if i % 3 else "apt", library=i == 1, source=f"m:{i}")
        for i in range(len(fps))
    ]
    assert all(store.add_sample(fp, label) for fp, label in zip(fps, labels, strict=True))

    idx = store.index()
    assert [r.sha256 for r in idx.samples] == [fp.sha256 for fp in fps]
    for name in ("addresses", "sizes", "n_insns", "exact", "minhash"):
        want = np.concatenate([getattr(fp, name) for fp in fps])
        np.testing.assert_array_equal(getattr(idx, name), want, err_msg=name)
    offsets = np.cumsum([0, *sizes[:-1]])
    np.testing.assert_array_equal(idx.sample_idx, np.repeat(np.arange(len(fps)), sizes))
    np.testing.assert_array_equal(
        idx.edges, np.concatenate([fp.edges + o for fp, o in zip(fps, offsets, strict=True)])
    )
    for rec, fp, label in zip(store.samples(), fps, labels, strict=True):
        assert (rec.family, rec.actor, rec.library, rec.source) == (
            label.family,
            label.actor,
            label.library,
            label.source,
        )
        assert (rec.n_functions, rec.coverage, rec.status) == (fp.n_functions, fp.coverage, fp.status)
        assert_same_fingerprint(store.get_fingerprint(fp.sha256), fp)
    assert store.integrity_check() == []


def test_add_is_idempotent(store: AnyStore) -> None:
    """A second add of the same SHA-256 returns False and changes nothing, not even the label."""
    fp = random_fingerprint(np.random.default_rng(1), 10)
    assert store.add_sample(fp, Label("a")) is True
    before = store.index()
    assert store.add_sample(fp, Label("b")) is False
    assert [r.family for r in store.samples()] == ["a"]
    assert store.index() is before, "an unchanged store keeps its cached index"


def test_index_cache_invalidated_on_add(store: AnyStore) -> None:
    rng = np.random.default_rng(2)
    store.add_sample(random_fingerprint(rng, 3), Label("a"))
    first = store.index()
    store.add_sample(random_fingerprint(rng, 4), Label("a"))
    assert store.index() is not first and store.index().n_functions == 7


def test_refuses_other_params(store: AnyStore) -> None:
    fp = random_fingerprint(np.random.default_rng(3), 5, SMALL_PARAMS)
    with pytest.raises(ParameterMismatch, match="num_perm"):
        store.add_sample(fp, Label("a"))
    assert store.samples() == []


@pytest.mark.parametrize(
    "broken",
    [
        {"sizes": np.zeros(3, np.int32)},
        {"minhash": np.zeros((5, 7), np.uint8)},
        {"edges": np.array([[0, 5]], np.int32)},
        {"edges": np.array([[-1, 0]], np.int32)},
        {"sha256": "ABC"},
    ],
    ids=["sizes", "minhash", "edge-high", "edge-negative", "sha"],
)
def test_refuses_inconsistent_fingerprint(store: AnyStore, broken: dict) -> None:
    fp = replace(random_fingerprint(np.random.default_rng(4), 5), **broken)
    with pytest.raises(StoreError):
        store.add_sample(fp, Label("a"))
    assert store.samples() == []


def test_stats(store: AnyStore) -> None:
    rng = np.random.default_rng(5)
    for family, n, library in [("zlib", 10, True), ("plugx", 20, False), ("plugx", 5, False)]:
        store.add_sample(random_fingerprint(rng, n), Label(family, library=library))
    stats = store.stats()
    assert (stats["samples"], stats["functions"], stats["families"]) == (3, 35, 2)
    assert stats["per_family"] == {
        "plugx": {"samples": 2, "functions": 25, "library": False},
        "zlib": {"samples": 1, "functions": 10, "library": True},
    }


# -- SQLite: persistence, parameters, corruption ----------------------------------------------------


def filled_db(path: Path, n_samples: int = 20, n_functions: int = 60) -> list[SampleFingerprint]:
    rng = np.random.default_rng(6)
    fps = [realistic_fingerprint(rng, n_functions) for _ in range(n_samples)]
    with SQLiteStore(path) as store:
        for i, fp in enumerate(fps):
            store.add_sample(fp, Label(f"fam{i % 3}"))
    return fps


def test_sqlite_persists_and_uses_wal(tmp_path: Path) -> None:
    db = tmp_path / "c.db"
    fps = filled_db(db)
    with SQLiteStore(db, create=False) as store:
        assert store.index().n_functions == sum(fp.n_functions for fp in fps)
        assert_same_fingerprint(store.get_fingerprint(fps[3].sha256), fps[3])
        with sqlite3.connect(db) as raw:
            assert raw.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
            meta = dict(raw.execute("SELECT key, value FROM meta"))
        assert meta["schema_version"] == "1" and FingerprintParams.from_json(meta["params"]) == DEFAULT_PARAMS


def test_sqlite_storage_is_compact(tmp_path: Path) -> None:
    """About 150-200 bytes per function on disk for realistic fingerprints."""
    db = tmp_path / "c.db"
    filled_db(db, n_samples=10, n_functions=500)
    with SQLiteStore(db) as store:
        per_function = store.stats()["bytes_per_function"]
    assert 140 < per_function < 220, per_function


def test_param_mismatch_on_reopen(tmp_path: Path) -> None:
    db = tmp_path / "c.db"
    SQLiteStore(db, SMALL_PARAMS).close()
    with pytest.raises(ParameterMismatch, match=r"num_perm: stored 16, requested 128.*re-ingest"):
        SQLiteStore(db)
    with SQLiteStore.open_existing(db) as store:
        assert store.params == SMALL_PARAMS


def test_missing_db_without_create(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="no corpus database"):
        SQLiteStore(tmp_path / "nope.db", create=False)
    with pytest.raises(StoreError):
        SQLiteStore.open_existing(tmp_path / "nope.db")
    assert not (tmp_path / "nope.db").exists()


def _zero_root_page_of_samples(db: Path) -> None:
    with sqlite3.connect(db) as raw:
        page = raw.execute("SELECT rootpage FROM sqlite_master WHERE name = 'samples'").fetchone()[0]
        size = raw.execute("PRAGMA page_size").fetchone()[0]
    with db.open("r+b") as f:
        f.seek((page - 1) * size)
        f.write(b"\x00" * size)


def _corruptions() -> dict[str, Callable[[Path], None]]:
    def garbage(db: Path) -> None:
        db.write_bytes(np.random.default_rng(7).bytes(50_000))

    def truncate_half(db: Path) -> None:
        with db.open("r+b") as f:
            f.truncate(db.stat().st_size // 2)

    def short_header(db: Path) -> None:
        db.write_bytes(db.read_bytes()[:60])

    def foreign_sqlite(db: Path) -> None:
        db.unlink()
        with sqlite3.connect(db) as raw:
            raw.execute("CREATE TABLE other (x)")

    def wrong_schema(db: Path) -> None:
        with sqlite3.connect(db) as raw:
            raw.execute("UPDATE meta SET value = '99' WHERE key = 'schema_version'")

    def bad_params(db: Path) -> None:
        with sqlite3.connect(db) as raw:
            raw.execute("UPDATE meta SET value = '{\"bogus\": 1}' WHERE key = 'params'")

    return {
        "garbage": garbage,
        "truncate-half": truncate_half,
        "short-header": short_header,
        "zero-page": _zero_root_page_of_samples,
        "foreign-sqlite": foreign_sqlite,
        "wrong-schema": wrong_schema,
        "bad-params": bad_params,
        "text-file": lambda db: db.write_text("path,family\n"),
    }


@pytest.mark.parametrize("corrupt", list(_corruptions().values()), ids=list(_corruptions()))
def test_corrupt_db_is_a_store_error(tmp_path: Path, corrupt: Callable[[Path], None]) -> None:
    """A damaged or foreign file fails at open with one line, never a raw sqlite3 exception."""
    db = tmp_path / "c.db"
    filled_db(db)
    corrupt(db)
    for create in (True, False):
        with pytest.raises(StoreError) as err:
            SQLiteStore(db, create=create)
        assert "\n" not in str(err.value) and str(db) in str(err.value)


def test_empty_sqlite_file(tmp_path: Path) -> None:
    """An empty SQLite file (e.g. a kill during creation) is adopted only when creating."""
    db = tmp_path / "c.db"
    with sqlite3.connect(db) as raw:
        raw.execute("PRAGMA user_version = 1")
    with pytest.raises(StoreError, match="empty database"):
        SQLiteStore(db, create=False)
    SQLiteStore(db).close()
    SQLiteStore.open_existing(db).close()


def test_damage_found_by_integrity_check_not_open(tmp_path: Path) -> None:
    """Rows damaged behind SQLite's back are reported, and index() fails with a StoreError."""
    db = tmp_path / "c.db"
    fps = filled_db(db, n_samples=3)
    with sqlite3.connect(db) as raw:
        raw.execute("DELETE FROM fingerprints WHERE sample_id = 1")
        raw.execute("UPDATE fingerprints SET sizes = x'00' WHERE sample_id = 2")
    with SQLiteStore(db) as store:
        problems = store.integrity_check()
        assert any(fps[0].sha256 in p and "no fingerprint" in p for p in problems), problems
        assert any(fps[1].sha256 in p and "sizes" in p for p in problems), problems
        assert len(problems) == 2
        with pytest.raises(StoreError):
            store.index()


def test_two_connections_one_record(tmp_path: Path) -> None:
    """Two writers adding the same sample leave one record; each sees the other's writes."""
    db = tmp_path / "c.db"
    fp = random_fingerprint(np.random.default_rng(8), 7)
    with SQLiteStore(db) as a, SQLiteStore(db) as b:
        assert a.index().n_functions == 0
        assert [a.add_sample(fp, Label("x")), b.add_sample(fp, Label("y"))] == [True, False]
        assert b.index().n_functions == 7
        b.add_sample(random_fingerprint(np.random.default_rng(9), 2), Label("y"))
        assert a.index().n_functions == 9, "a's cached index must notice b's write"
        assert len(a.samples()) == 2


def _open_at_barrier(db: Path, barrier: Any, results: Any) -> None:
    barrier.wait()
    try:
        SQLiteStore(db).close()
        results.put("ok")
    except AttributorError as e:
        results.put(str(e))


def test_simultaneous_creation(tmp_path: Path) -> None:
    """Processes creating the same new database at the same instant all succeed (no early BUSY)."""
    ctx = multiprocessing.get_context("fork")
    for i in range(40):
        barrier, results = ctx.Barrier(4), ctx.Queue()
        procs = [
            ctx.Process(target=_open_at_barrier, args=(tmp_path / f"{i}.db", barrier, results))
            for _ in range(4)
        ]
        for p in procs:
            p.start()
        outcomes = [results.get(timeout=60) for _ in procs]
        for p in procs:
            p.join()
        assert outcomes == ["ok"] * 4


def test_closed_store_raises_store_error(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "c.db")
    store.close()
    with pytest.raises(StoreError):
        store.samples()


def test_every_error_is_an_attributor_error() -> None:
    assert issubclass(ParameterMismatch, StoreError) and issubclass(StoreError, AttributorError)


# -- open.py ----------------------------------------------------------------------------------------


def test_resolve_db_path(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ATTRIBUTOR_DB", raising=False)
    assert resolve_db_path(None) == Path("attributor.db")
    monkeypatch.setenv("ATTRIBUTOR_DB", "/x/env.db")
    assert resolve_db_path(None) == Path("/x/env.db")
    assert resolve_db_path("cli.db") == Path("cli.db")


def test_open_store(tmp_path: Path) -> None:
    db = tmp_path / "c.db"
    with pytest.raises(StoreError):
        open_store(db, create=False)
    with open_store(db, create=True) as store:
        assert store.params == DEFAULT_PARAMS
    open_store(db, create=False).close()
