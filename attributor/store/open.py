"""Where the corpus database lives, and how the CLI opens it."""

from __future__ import annotations

import os
from pathlib import Path

from attributor.fingerprint.model import DEFAULT_PARAMS, FingerprintParams
from attributor.store.sqlite import SQLiteStore

DB_ENV = "ATTRIBUTOR_DB"
DEFAULT_DB = "attributor.db"


def resolve_db_path(cli_value: str | None) -> Path:
    """The database path: ``--db`` if given, else ``$ATTRIBUTOR_DB``, else ``./attributor.db``.

    Example:
        >>> resolve_db_path("corpus.db")
        PosixPath('corpus.db')
    """
    if cli_value:
        return Path(cli_value)
    return Path(os.environ.get(DB_ENV) or DEFAULT_DB)


def open_store(
    path: str | os.PathLike[str], create: bool, params: FingerprintParams = DEFAULT_PARAMS
) -> SQLiteStore:
    """Open (``create``: or create) the SQLite corpus at ``path`` for this build's ``params``.

    Raises:
        StoreError: missing (with ``create=False``), corrupt, or not an attributor database.
        ParameterMismatch: the database was built with other fingerprint parameters.
    """
    return SQLiteStore(path, params=params, create=create)
