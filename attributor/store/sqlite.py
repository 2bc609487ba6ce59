"""The embedded default store: one SQLite file in WAL mode.

Schema (``SCHEMA_VERSION`` 1)::

    meta(key TEXT PRIMARY KEY, value TEXT)        schema_version, params (FingerprintParams JSON),
                                                  created_by (attributor version)
    samples(id INTEGER PRIMARY KEY, sha256 TEXT UNIQUE NOT NULL, family, actor, library, format,
            arch, size, n_functions, code_bytes, covered_bytes, status, notes (JSON list), source)
    fingerprints(sample_id INTEGER PRIMARY KEY REFERENCES samples(id),
                 addresses, sizes, n_insns, n_blocks, exact, minhash, edges)   -- all BLOBs
    evidence(sample_id REFERENCES samples(id), kind, value, subtype, detail, address, function,
             source, attack, tags)   -- one row per finding; address/function as hex text,
                                     -- attack/tags as JSON lists; indexed by (kind, value)

Stores made before the evidence table existed get it (empty) on open; their samples simply have
no evidence until they are re-ingested.

Each fingerprint column of a sample is one BLOB of little-endian values:

    addresses  zlib(int64 '<i8' deltas; the first relative to 0; wraps modulo 2**64, so exact)
    sizes, n_insns, n_blocks   raw '<i4'
    exact      raw '<u8'
    minhash    raw uint8, n * num_perm, row-major (random bytes: compression would not pay)
    edges      zlib('<i4' caller, callee pairs, sample-local function indices)

That is about 150–200 bytes per function (128 of them MinHash). The LSH index costs no disk: the
matcher derives it in memory from the MinHash column of :meth:`SQLiteStore.index` at open.

Durability: a sample is inserted in one ``BEGIN IMMEDIATE`` transaction (samples row plus
fingerprints row), so after ``kill -9`` it is there whole or not at all; ``synchronous=NORMAL``
in WAL mode survives process death (only an OS crash may lose the last commits, never consistency).
Concurrent writers wait up to ``BUSY_TIMEOUT_S`` for the write lock instead of failing.
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
import time
import zlib
from collections.abc import Iterable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Self

import numpy as np

from attributor import __version__
from attributor.errors import ParameterMismatch, StoreError
from attributor.evidence.record import Evidence, EvidenceKind, normalise
from attributor.fingerprint.model import DEFAULT_PARAMS, FingerprintParams, SampleFingerprint
from attributor.store.base import CorpusIndex, Label, SampleRecord, Store
from attributor.store.memory import (
    StoreStats,
    build_index,
    check_fingerprint,
    compute_stats,
    fingerprint_problems,
    params_difference,
)

SCHEMA_VERSION = 1
BUSY_TIMEOUT_S = 30.0
QUICK_CHECK_MAX_BYTES = 64 * 1024 * 1024  # quick_check reads every page: only automatic below this
_SQLITE_MAGIC = b"SQLite format 3\x00"

_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
    """CREATE TABLE IF NOT EXISTS samples (
        id INTEGER PRIMARY KEY, sha256 TEXT UNIQUE NOT NULL, family TEXT NOT NULL, actor TEXT,
        library INTEGER NOT NULL, format TEXT NOT NULL, arch TEXT NOT NULL, size INTEGER NOT NULL,
        n_functions INTEGER NOT NULL, code_bytes INTEGER NOT NULL, covered_bytes INTEGER NOT NULL,
        status TEXT NOT NULL, notes TEXT NOT NULL, source TEXT)""",
    """CREATE TABLE IF NOT EXISTS fingerprints (
        sample_id INTEGER PRIMARY KEY REFERENCES samples(id), addresses BLOB NOT NULL,
        sizes BLOB NOT NULL, n_insns BLOB NOT NULL, n_blocks BLOB NOT NULL, exact BLOB NOT NULL,
        minhash BLOB NOT NULL, edges BLOB NOT NULL)""",
    """CREATE TABLE IF NOT EXISTS evidence (
        sample_id INTEGER NOT NULL REFERENCES samples(id), kind TEXT NOT NULL, value TEXT NOT NULL,
        subtype TEXT NOT NULL, detail TEXT NOT NULL, address TEXT, function TEXT, source TEXT NOT NULL,
        attack TEXT NOT NULL, tags TEXT NOT NULL)""",
    "CREATE INDEX IF NOT EXISTS evidence_key ON evidence (kind, value)",
    "CREATE INDEX IF NOT EXISTS evidence_sample ON evidence (sample_id)",
)
_EV_COLS = "kind, value, subtype, detail, address, function, source, attack, tags"
_IN_CHUNK = 400  # values per IN (...) list, under SQLite's default variable limit
_SAMPLE_COLS = (
    "sha256, family, actor, library, format, arch, size, n_functions, "
    "code_bytes, covered_bytes, status, notes, source"
)
_FP_COLS = "addresses, sizes, n_insns, n_blocks, exact, minhash, edges"
_RAW_INT_COLS = (("sizes", "<i4"), ("n_insns", "<i4"), ("n_blocks", "<i4"), ("exact", "<u8"))


def encode_columns(fp: SampleFingerprint) -> tuple[bytes, ...]:
    """The seven fingerprint BLOBs of ``fp``, in ``_FP_COLS`` order (format: module docstring)."""
    addresses = np.asarray(fp.addresses, dtype="<i8")
    deltas = np.diff(addresses, prepend=np.zeros(1, dtype="<i8"))  # modular: wraps and unwraps exactly
    raw = tuple(np.asarray(getattr(fp, name), dtype=dt).tobytes() for name, dt in _RAW_INT_COLS)
    return (
        zlib.compress(deltas.astype("<i8").tobytes()),
        *raw,
        np.ascontiguousarray(fp.minhash, dtype=np.uint8).tobytes(),
        zlib.compress(np.asarray(fp.edges, dtype="<i4").tobytes()),
    )


def _column(blob: bytes, dtype: str, n: int, name: str) -> np.ndarray:
    if len(blob) % np.dtype(dtype).itemsize or len(blob) // np.dtype(dtype).itemsize != n:
        raise StoreError(f"column {name} holds {len(blob)} bytes, expected {n} values of {dtype}")
    return np.frombuffer(blob, dtype=dtype).astype(np.dtype(dtype).newbyteorder("="))


def decode_columns(blobs: tuple[bytes, ...], n: int, num_perm: int) -> dict[str, np.ndarray]:
    """Inverse of :func:`encode_columns` for a sample of ``n`` functions.

    Raises:
        StoreError: a BLOB is not valid zlib or its length disagrees with ``n``.
    """
    addresses, minhash, edges = blobs[0], blobs[5], blobs[6]
    try:
        deltas = _column(zlib.decompress(addresses), "<i8", n, "addresses")
        edge_bytes = zlib.decompress(edges)
    except zlib.error as e:
        raise StoreError(f"compressed column is damaged: {e}") from None
    raw = zip(_RAW_INT_COLS, blobs[1:5], strict=True)
    cols = {name: _column(blob, dt, n, name) for (name, dt), blob in raw}
    if len(edge_bytes) % 8:
        raise StoreError(f"column edges holds {len(edge_bytes)} bytes, not a whole number of pairs")
    return {
        "addresses": np.cumsum(deltas, dtype=np.int64),
        **cols,
        "minhash": _column(minhash, "u1", n * num_perm, "minhash").reshape(n, num_perm),
        "edges": _column(edge_bytes, "<i4", len(edge_bytes) // 4, "edges").reshape(-1, 2),
    }


def _fingerprint(row: tuple, params: FingerprintParams) -> SampleFingerprint:
    """A :class:`SampleFingerprint` from a ``_SAMPLE_COLS, _FP_COLS`` row."""
    sha, _f, _a, _l, fmt, arch, size, n, code, covered, status, notes, _s, *blobs = row
    if blobs[0] is None:
        raise StoreError(f"sample {sha} has no fingerprint row; run the integrity check")
    try:
        cols = decode_columns(tuple(blobs), n, params.num_perm)
        note_list = [str(x) for x in json.loads(notes)]
    except (StoreError, ValueError, TypeError) as e:  # ValueError/TypeError: notes not a JSON list
        raise StoreError(f"sample {sha}: {e}") from None
    return SampleFingerprint(
        sha256=sha, format=fmt, arch=arch, size=size, code_bytes=code, covered_bytes=covered,
        params=params, status=status, notes=note_list, **cols,  # type: ignore[arg-type]
    )  # fmt: skip


def _hex(value: int | None) -> str | None:
    return None if value is None else f"{value:#x}"


def _evidence_row(sample_id: int, e: Evidence) -> tuple:
    return (
        sample_id, str(e.kind), e.value, e.subtype, e.detail, _hex(e.address), _hex(e.function), e.source,
        json.dumps(list(e.attack)), json.dumps(list(e.tags)),
    )  # fmt: skip


def _evidence_of(row: tuple) -> Evidence:
    kind, value, subtype, detail, address, function, source, attack, tags = row
    try:
        return Evidence(
            kind=EvidenceKind(kind), subtype=subtype, value=value, detail=detail,
            address=None if address is None else int(address, 16),
            function=None if function is None else int(function, 16), source=source,
            attack=tuple(str(a) for a in json.loads(attack)), tags=tuple(str(t) for t in json.loads(tags)),
        )  # fmt: skip
    except (ValueError, TypeError) as e:
        raise StoreError(f"unreadable evidence row ({kind!r}, {value!r}): {e}") from None


def _record(row: tuple) -> SampleRecord:
    """A :class:`SampleRecord` from an ``id, _SAMPLE_COLS`` row."""
    sid, sha, family, actor, library, fmt, arch, size, n, code, covered, status, _notes, source = row
    return SampleRecord(
        id=sid, sha256=sha, family=family, actor=actor, library=bool(library), format=fmt, arch=arch,
        size=size, n_functions=n, coverage=covered / code if code else 0.0, status=status, source=source,
    )  # fmt: skip


def _lenient_text(raw: bytes) -> str:
    return raw.decode("utf-8", "replace")


def _one_line(text: str, limit: int = 200) -> str:
    """SQLite quotes names from damaged pages verbatim: keep messages to one printable line."""
    text = " ".join("".join(c if c.isprintable() else " " for c in text).split())
    return text if len(text) <= limit else text[:limit] + "..."


def _describe(path: Path, e: sqlite3.Error | UnicodeDecodeError) -> str:
    """One line for a SQLite failure, with the fix where we know it."""
    if isinstance(e, UnicodeDecodeError):
        return f"{path}: database is corrupt (a text value is not UTF-8); restore a backup or re-ingest it"
    text = _one_line(str(e))
    if "locked" in text or "busy" in text:
        return f"{path}: database is locked by another process (waited {BUSY_TIMEOUT_S:.0f} s)"
    if isinstance(e, sqlite3.DatabaseError) and ("malformed" in text or "not a database" in text):
        return f"{path}: database is corrupt ({text}); restore a backup or re-ingest the corpus"
    if "disk is full" in text or "disk I/O error" in text:  # ENOSPC; EFBIG (file size limit) is an I/O error
        return (
            f"{path}: cannot write the database ({text}: disk full, file size limit or device error); "
            "samples committed so far are kept, free space and run again"
        )
    return f"{path}: {text}"


class SQLiteStore(Store):
    """A :class:`Store` in one SQLite file (WAL mode); safe for several processes at once.

    Args:
        path: database file; created (with ``params``) when missing and ``create`` is true.
        params: the fingerprint parameters expected; ``None`` adopts the stored ones.
        create: whether a missing or empty file may be initialised.
        check: run ``PRAGMA quick_check`` on open; ``None`` does so only below
            ``QUICK_CHECK_MAX_BYTES``.

    Raises:
        StoreError: missing file (``create=False``), not a SQLite file, corrupt, foreign schema.
        ParameterMismatch: the stored params differ from ``params``.

    Example:
        >>> with SQLiteStore("corpus.db") as store:  # doctest: +SKIP
        ...     store.add_sample(fp, Label("emotet"))
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        params: FingerprintParams | None = DEFAULT_PARAMS,
        create: bool = True,
        *,
        check: bool | None = None,
    ) -> None:
        self.path = Path(path)
        self._lock = threading.RLock()
        self._writes = 0  # our own commits: PRAGMA data_version only counts other connections'
        self._cache: tuple[tuple[int, int], CorpusIndex] | None = None
        size = self._check_file(create)
        self._conn = self._connect()
        try:
            with self._errors():
                self._prepare(size, create, check, params or DEFAULT_PARAMS)
                self._params = self._load_params(params)
        except BaseException:
            self._conn.close()
            raise

    @classmethod
    def open_existing(cls, path: str | os.PathLike[str], *, check: bool | None = None) -> SQLiteStore:
        """Open an existing database with whatever params it was built with."""
        return cls(path, params=None, create=False, check=check)

    # -- opening ----------------------------------------------------------------------------------

    def _check_file(self, create: bool) -> int:
        """Size of the file (0 when new); refuses folders, missing files and non-SQLite files."""
        p = self.path
        try:
            if p.is_dir():
                raise StoreError(f"{p} is a folder, not a corpus database")
            if not p.exists() or p.stat().st_size == 0:
                if not create:
                    raise StoreError(f"no corpus database at {p}; build one with `attributor ingest`")
                return 0
            with p.open("rb") as f:
                head = f.read(100)
        except OSError as e:
            raise StoreError(f"{p}: cannot read the database: {e.strerror or e}") from None
        if len(head) < 100 or not head.startswith(_SQLITE_MAGIC):
            raise StoreError(f"{p} is not an attributor corpus database (not a SQLite file)")
        return p.stat().st_size

    def _connect(self) -> sqlite3.Connection:
        try:
            return sqlite3.connect(
                self.path, timeout=BUSY_TIMEOUT_S, isolation_level=None, check_same_thread=False
            )
        except sqlite3.Error as e:
            raise StoreError(_describe(self.path, e)) from None

    def _prepare(self, size: int, create: bool, check: bool | None, params: FingerprintParams) -> None:
        """Pragmas, optional quick_check, and the schema of a new database."""
        c = self._conn
        c.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_S * 1000)}")
        if check or (check is None and size <= QUICK_CHECK_MAX_BYTES):
            problems = self._quick_check()
            if problems:
                first = _one_line(problems[0])
                raise StoreError(f"{self.path}: database is corrupt ({first}); restore a backup")
        self._enable_wal()
        c.execute("PRAGMA synchronous = NORMAL")
        c.execute("PRAGMA foreign_keys = ON")
        tables = {r[0] for r in c.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        if not tables and create:
            self._create_schema(params)
        elif not tables:
            raise StoreError(
                f"{self.path} is an empty database, not a corpus; build one with `attributor ingest`"
            )
        elif "meta" not in tables:
            raise StoreError(f"{self.path} is a SQLite file but not an attributor corpus database")
        elif "evidence" not in tables:  # a store from before evidence was kept: add the empty table
            with self._transaction():
                for statement in _SCHEMA[3:]:
                    c.execute(statement)

    def _enable_wal(self) -> None:
        # Switching a new file to WAL needs an exclusive lock, and SQLite answers SQLITE_BUSY at
        # once (no busy handler) when another process is opening the same new file: retry here.
        deadline = time.monotonic() + BUSY_TIMEOUT_S
        while True:
            try:
                mode = self._conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
                break
            except sqlite3.OperationalError as e:
                if "locked" not in str(e) or time.monotonic() > deadline:
                    raise
                time.sleep(0.01)
        if str(mode).lower() != "wal":
            raise StoreError(f"{self.path}: cannot use WAL journaling here (got {mode!r})")

    def _create_schema(self, params: FingerprintParams) -> None:
        # Two processes may create the same new file at once: IF NOT EXISTS / OR IGNORE make the
        # loser a no-op, and it then validates against the winner's params like any other opener.
        with self._transaction():
            for statement in _SCHEMA:
                self._conn.execute(statement)
            self._conn.executemany(
                "INSERT OR IGNORE INTO meta (key, value) VALUES (?, ?)",
                [
                    ("schema_version", str(SCHEMA_VERSION)),
                    ("params", params.to_json()),
                    ("created_by", f"attributor {__version__}"),
                ],
            )

    def _load_params(self, wanted: FingerprintParams | None) -> FingerprintParams:
        """Validate schema version and params from ``meta``; returns the params in force."""
        meta = dict(self._conn.execute("SELECT key, value FROM meta").fetchall())
        version = meta.get("schema_version")
        if version != str(SCHEMA_VERSION):
            raise StoreError(
                f"{self.path} has schema version {version}, this attributor reads {SCHEMA_VERSION}; "
                "use the matching attributor version or re-ingest the corpus"
            )
        try:
            stored = FingerprintParams.from_json(meta["params"])
        except (KeyError, TypeError, ValueError):
            raise StoreError(f"{self.path}: stored fingerprint parameters are unreadable") from None
        if wanted is not None and stored != wanted:
            raise ParameterMismatch(
                f"{self.path} was built with other fingerprint parameters "
                f"({params_difference(stored, wanted)}); re-ingest the corpus into a new database, "
                "or open it with its stored parameters"
            )
        return stored

    def _quick_check(self) -> list[str]:
        # Problem lines quote names from damaged pages, which need not be UTF-8.
        self._conn.text_factory = _lenient_text
        try:
            rows = [str(r[0]) for r in self._conn.execute("PRAGMA quick_check(20)")]
        finally:
            self._conn.text_factory = str
        return [] if rows == ["ok"] else [r for r in rows if not r.startswith("*** in database")]

    # -- plumbing ---------------------------------------------------------------------------------

    @contextmanager
    def _errors(self) -> Iterator[None]:
        """Turn every sqlite3 exception into a one-line :class:`StoreError`."""
        try:
            yield
        except sqlite3.Error as e:
            raise StoreError(_describe(self.path, e)) from None
        except UnicodeDecodeError as e:  # a TEXT value that is not UTF-8: we never write one
            raise StoreError(_describe(self.path, e)) from None

    @contextmanager
    def _transaction(self, mode: str = "IMMEDIATE") -> Iterator[None]:
        """``BEGIN <mode>`` … ``COMMIT``; rolled back on any exception."""
        self._conn.execute(f"BEGIN {mode}")
        try:
            yield
        except BaseException:
            with suppress(sqlite3.Error):
                self._conn.execute("ROLLBACK")
            raise
        self._conn.execute("COMMIT")

    # -- the Store contract -----------------------------------------------------------------------

    @property
    def params(self) -> FingerprintParams:
        return self._params

    def add_sample(self, fp: SampleFingerprint, label: Label) -> bool:
        check_fingerprint(fp, self._params)
        blobs = encode_columns(fp)
        row = (
            fp.sha256, label.family, label.actor, int(label.library), fp.format, fp.arch, fp.size,
            fp.n_functions, fp.code_bytes, fp.covered_bytes, fp.status, json.dumps(list(fp.notes)),
            label.source,
        )  # fmt: skip
        with self._lock, self._errors(), self._transaction():
            cur = self._conn.execute(
                f"INSERT OR IGNORE INTO samples ({_SAMPLE_COLS}) VALUES ({', '.join('?' * len(row))})", row
            )
            if cur.rowcount == 0:  # the SHA-256 is already stored, maybe by another process
                return False
            sample_id = int(cur.lastrowid or 0)
            self._conn.execute(
                f"INSERT INTO fingerprints (sample_id, {_FP_COLS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (sample_id, *blobs),
            )
            self._conn.executemany(
                f"INSERT INTO evidence (sample_id, {_EV_COLS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [_evidence_row(sample_id, e) for e in normalise(fp.evidence)],
            )
            self._writes += 1
        return True

    def has_sample(self, sha256: str) -> bool:
        with self._lock, self._errors():
            row = self._conn.execute("SELECT 1 FROM samples WHERE sha256 = ?", (sha256,)).fetchone()
        return row is not None

    def samples(self) -> list[SampleRecord]:
        with self._lock, self._errors():
            return self._samples()

    def _samples(self) -> list[SampleRecord]:
        return [_record(r) for r in self._conn.execute(f"SELECT id, {_SAMPLE_COLS} FROM samples ORDER BY id")]

    def _joined(self, where: str = "", args: tuple = ()) -> sqlite3.Cursor:
        """Sample rows joined with their (possibly missing) fingerprint rows, in id order."""
        sample_cols = ", ".join(f"s.{c.strip()}" for c in _SAMPLE_COLS.split(","))
        return self._conn.execute(
            f"SELECT {sample_cols}, {_FP_COLS} FROM samples s "
            f"LEFT JOIN fingerprints f ON f.sample_id = s.id {where} ORDER BY s.id",
            args,
        )

    def get_fingerprint(self, sha256: str) -> SampleFingerprint | None:
        """The stored fingerprint of ``sha256`` (decoded from its BLOBs), or None when absent."""
        with self._lock, self._errors():
            row = self._joined("WHERE s.sha256 = ?", (sha256,)).fetchone()
        return None if row is None else _fingerprint(row, self._params)

    def evidence(self, sha256: str) -> list[Evidence]:
        with self._lock, self._errors():
            rows = self._conn.execute(
                f"SELECT {_EV_COLS} FROM evidence "
                "WHERE sample_id = (SELECT id FROM samples WHERE sha256 = ?)",
                (sha256,),
            ).fetchall()
        return normalise(_evidence_of(r) for r in rows)

    def evidence_sharing(self, keys: Iterable[tuple[str, str]]) -> dict[tuple[str, str], list[int]]:
        by_kind: dict[str, list[str]] = {}
        for kind, value in sorted(set(keys)):
            by_kind.setdefault(kind, []).append(value)
        out: dict[tuple[str, str], set[int]] = {}
        with self._lock, self._errors(), self._transaction("DEFERRED"):
            for kind, values in by_kind.items():
                for i in range(0, len(values), _IN_CHUNK):
                    chunk = values[i : i + _IN_CHUNK]
                    rows = self._conn.execute(
                        f"SELECT value, sample_id FROM evidence WHERE kind = ? "
                        f"AND value IN ({', '.join('?' * len(chunk))})",
                        (kind, *chunk),
                    )
                    for value, sid in rows:
                        out.setdefault((kind, value), set()).add(int(sid))
        return {k: sorted(v) for k, v in sorted(out.items())}

    def index(self) -> CorpusIndex:
        # One read transaction: a WAL snapshot, so concurrent writers cannot tear the index.
        with self._lock, self._errors(), self._transaction("DEFERRED"):
            key = (self._conn.execute("PRAGMA data_version").fetchone()[0], self._writes)
            if self._cache is None or self._cache[0] != key:
                records = self._samples()
                fps = (_fingerprint(row, self._params) for row in self._joined())
                self._cache = (key, build_index(records, fps, self._params))
            return self._cache[1]

    def integrity_check(self) -> list[str]:
        """Problems found: SQLite's quick_check, missing or orphan rows, undecodable BLOBs."""
        try:
            with self._lock, self._transaction("DEFERRED"):
                problems = [f"sqlite: {p}" for p in self._quick_check()]
                problems += self._row_problems()
        except (sqlite3.Error, UnicodeDecodeError) as e:
            problems = [_describe(self.path, e)]
        return problems

    def _row_problems(self) -> list[str]:
        problems = [
            f"fingerprint row {sid} has no sample"
            for (sid,) in self._conn.execute(
                "SELECT sample_id FROM fingerprints WHERE sample_id NOT IN (SELECT id FROM samples)"
            )
        ]
        problems += [
            f"{n} evidence rows of sample id {sid}, which does not exist"
            for sid, n in self._conn.execute(
                "SELECT sample_id, count(*) FROM evidence "
                "WHERE sample_id NOT IN (SELECT id FROM samples) GROUP BY sample_id"
            )
        ]
        for row in self._joined():
            try:
                fp = _fingerprint(row, self._params)
            except StoreError as e:
                problems.append(str(e))
                continue
            problems += [f"sample {fp.sha256}: {p}" for p in fingerprint_problems(fp, self._params.num_perm)]
        return problems

    def stats(self) -> StoreStats:
        """Corpus statistics; ``bytes_on_disk`` counts the database and its write-ahead log."""
        on_disk = sum(
            p.stat().st_size for p in (self.path, self.path.with_name(self.path.name + "-wal")) if p.exists()
        )
        return compute_stats(self.samples(), on_disk)

    def __enter__(self) -> Self:  # narrower than Store.__enter__, so `with` keeps the SQLite API
        return self

    def close(self) -> None:
        with self._lock:
            self._conn.close()
