"""The intel store in the corpus database file (SQLite, WAL), beside ``samples``/``fingerprints``.

Tables (``INTEL_SCHEMA_VERSION`` 1), created with ``CREATE TABLE IF NOT EXISTS``::

    intel_meta(key TEXT PRIMARY KEY, value TEXT)     intel_schema_version
    intel(id INTEGER PRIMARY KEY, key TEXT UNIQUE NOT NULL,   -- IntelRecord.key (content SHA-256)
          type, value, host, rhost, net24, asn, actor, actor_raw, first_seen, last_seen,
          source, confidence, prov_file, prov_record)

``rhost`` is the host with its labels reversed plus a dot (``example.evil.c2.``), so a domain's
subtree is an index range; times are ISO 8601 UTC text. The corpus tables belong to
:class:`attributor.store.sqlite.SQLiteStore`: a new file is initialised through it first, so that
either store can open the file afterwards, in any order.

Each :meth:`SQLiteIntelStore.add` is one ``BEGIN IMMEDIATE`` transaction (``INSERT OR IGNORE`` on
``key``): an imported file is there whole or not at all, even across ``kill -9``; other processes
wait up to ``BUSY_TIMEOUT_S`` for the write lock.
"""

from __future__ import annotations

import os
import sqlite3
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager, suppress
from datetime import datetime
from pathlib import Path
from typing import Self

from attributor.errors import StoreError
from attributor.intel.model import IndicatorType, IntelRecord, Provenance, iso, sort_key
from attributor.intel.store import IntelStore, index_values, subtree_prefix

INTEL_SCHEMA_VERSION = 1
BUSY_TIMEOUT_S = 30.0

_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS intel_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
    """CREATE TABLE IF NOT EXISTS intel (
        id INTEGER PRIMARY KEY, key TEXT UNIQUE NOT NULL, type TEXT NOT NULL, value TEXT NOT NULL,
        host TEXT, rhost TEXT, net24 TEXT, asn INTEGER, actor TEXT, actor_raw TEXT,
        first_seen TEXT, last_seen TEXT, source TEXT NOT NULL, confidence INTEGER,
        prov_file TEXT NOT NULL, prov_record TEXT NOT NULL)""",
    "CREATE INDEX IF NOT EXISTS intel_value ON intel (type, value)",
    "CREATE INDEX IF NOT EXISTS intel_host ON intel (host)",
    "CREATE INDEX IF NOT EXISTS intel_rhost ON intel (rhost)",
    "CREATE INDEX IF NOT EXISTS intel_net24 ON intel (net24)",
    "CREATE INDEX IF NOT EXISTS intel_asn ON intel (asn)",
)
_COLS = (
    "type, value, actor, actor_raw, first_seen, last_seen, source, confidence, asn, prov_file, prov_record"
)


def _row(r: IntelRecord) -> tuple:
    host, rhost, net24 = index_values(r)
    return (
        r.key, str(r.type), r.value, r.actor, r.actor_raw, iso(r.first_seen), iso(r.last_seen), r.source,
        r.confidence, r.asn, r.provenance.file, r.provenance.record, host, rhost, net24,
    )  # fmt: skip


def _record(row: tuple) -> IntelRecord:
    kind, value, actor, raw, first, last, source, confidence, asn, pfile, precord = row
    return IntelRecord(
        type=IndicatorType(kind), value=value, actor=actor, actor_raw=raw,
        first_seen=_time(first), last_seen=_time(last), source=source, confidence=confidence, asn=asn,
        provenance=Provenance(pfile, precord),
    )  # fmt: skip


def _time(text: str | None) -> datetime | None:
    return None if text is None else datetime.fromisoformat(text.replace("Z", "+00:00"))


class SQLiteIntelStore(IntelStore):
    """An :class:`IntelStore` in the corpus database at ``path``.

    Args:
        path: the corpus database (``--db``).
        create: whether a missing or empty file may be initialised (corpus schema, then intel).

    Raises:
        StoreError: missing (``create=False``), a folder, not SQLite, not an attributor database,
            corrupt, locked, or an intel schema of another version.

    Example:
        >>> with SQLiteIntelStore("attributor.db") as store:  # doctest: +SKIP
        ...     store.add(load_intel("apt.json"))
    """

    def __init__(self, path: str | os.PathLike[str], create: bool = True) -> None:
        self.path = Path(path)
        self._lock = threading.RLock()
        self._init_file(create)
        try:
            self._conn = sqlite3.connect(
                self.path, timeout=BUSY_TIMEOUT_S, isolation_level=None, check_same_thread=False
            )
        except sqlite3.Error as e:
            raise StoreError(f"{self.path}: {e}") from None
        try:
            with self._errors():
                self._prepare(create)
        except BaseException:
            self._conn.close()
            raise

    def _init_file(self, create: bool) -> None:
        """A missing or empty file gets the corpus schema (through the corpus store) first."""
        try:
            if self.path.is_dir():
                raise StoreError(f"{self.path} is a folder, not an attributor database")
            fresh = not self.path.exists() or self.path.stat().st_size == 0
        except OSError as e:
            raise StoreError(f"{self.path}: {e.strerror or e}") from None
        if fresh and not create:
            raise StoreError(
                f"no attributor database at {self.path}; import intel with `attributor intel import`"
            )
        from attributor.store.sqlite import SQLiteStore

        # Opening checks the file is an attributor database (and creates the corpus schema when new).
        SQLiteStore(self.path, params=None, create=True, check=False).close()

    def _prepare(self, create: bool) -> None:
        c = self._conn
        c.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_S * 1000)}")
        c.execute("PRAGMA journal_mode = WAL")  # already WAL (the corpus store set it): no lock needed
        c.execute("PRAGMA synchronous = NORMAL")
        tables = {r[0] for r in c.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        if "intel_meta" not in tables:
            if not create:
                return  # read-only use of a corpus without intel: every lookup is empty
            with self._transaction():
                for statement in _SCHEMA:
                    c.execute(statement)
                c.execute(
                    "INSERT OR IGNORE INTO intel_meta VALUES ('intel_schema_version', ?)",
                    (str(INTEL_SCHEMA_VERSION),),
                )
        version = c.execute("SELECT value FROM intel_meta WHERE key = 'intel_schema_version'").fetchone()
        if version is None or version[0] != str(INTEL_SCHEMA_VERSION):
            found = version[0] if version else "none"
            raise StoreError(
                f"{self.path} has intel schema version {found}, this attributor reads "
                f"{INTEL_SCHEMA_VERSION}; use the matching attributor version"
            )
        self._ready = True

    _ready = False

    @contextmanager
    def _errors(self) -> Iterator[None]:
        try:
            yield
        except sqlite3.Error as e:
            text = " ".join(str(e).split())
            if "locked" in text or "busy" in text:
                text = f"database is locked by another process (waited {BUSY_TIMEOUT_S:.0f} s)"
            raise StoreError(f"{self.path}: {text}") from None
        except (ValueError, TypeError) as e:  # a stored value that is not ours to read
            raise StoreError(f"{self.path}: intel table holds a damaged row ({e})") from None

    @contextmanager
    def _transaction(self) -> Iterator[None]:
        self._conn.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            with suppress(sqlite3.Error):
                self._conn.execute("ROLLBACK")
            raise
        self._conn.execute("COMMIT")

    def add(self, records: Iterable[IntelRecord]) -> int:
        rows = [_row(r) for r in records]
        if not rows:
            return 0
        if not self._ready:
            raise StoreError(f"{self.path}: opened read-only without intel tables")
        sql = f"INSERT OR IGNORE INTO intel (key, {_COLS}, host, rhost, net24) VALUES ({', '.join('?' * 15)})"
        with self._lock, self._errors(), self._transaction():
            before = self._conn.total_changes
            self._conn.executemany(sql, rows)
            return self._conn.total_changes - before

    def _select(self, where: str = "", args: tuple = ()) -> list[IntelRecord]:
        if not self._ready:
            return []
        with self._lock, self._errors():
            rows = self._conn.execute(f"SELECT {_COLS} FROM intel {where}", args).fetchall()
            return sorted((_record(r) for r in rows), key=sort_key)

    def records(self) -> list[IntelRecord]:
        return self._select()

    def find_value(self, kind: IndicatorType, value: str) -> list[IntelRecord]:
        return self._select("WHERE type = ? AND value = ?", (str(kind), value))

    def find_host(self, host: str) -> list[IntelRecord]:
        return self._select("WHERE host = ?", (host,))

    def find_under(self, domain: str) -> list[IntelRecord]:
        prefix = subtree_prefix(domain)
        return self._select("WHERE rhost >= ? AND rhost < ?", (prefix, prefix[:-1] + "/"))

    def find_net24(self, net: str) -> list[IntelRecord]:
        return self._select("WHERE net24 = ?", (net,))

    def find_asn(self, asn: int) -> list[IntelRecord]:
        return self._select("WHERE asn = ?", (asn,))

    def count(self) -> int:
        """Number of stored records (cheap; for the report's corpus facts)."""
        if not self._ready:
            return 0
        with self._lock, self._errors():
            return int(self._conn.execute("SELECT COUNT(*) FROM intel").fetchone()[0])

    def close(self) -> None:
        with self._lock, suppress(sqlite3.Error):
            self._conn.close()

    def __enter__(self) -> Self:
        return self
