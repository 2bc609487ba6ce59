"""``python -m ingest_kill_script DB FOLDER JOBS``: ingest FOLDER with the slow fake fingerprinter.

Run by tests/test_ingest_kill.py, which SIGKILLs it at random moments.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from helpers_ingest import slow_fake_fingerprinter

from attributor.ingest import ingest
from attributor.store.base import Label
from attributor.store.sqlite import SQLiteStore


def main(db: str, folder: str, jobs: str) -> None:
    with SQLiteStore(db) as store:
        summary = ingest(
            store,
            [(Path(folder), Label("fam"))],
            jobs=int(jobs),
            progress=False,
            fingerprinter=slow_fake_fingerprinter,
        )
    print(
        json.dumps(
            {"added": summary.added, "skipped": summary.skipped_existing, "failed": len(summary.failed)}
        )
    )


if __name__ == "__main__":
    main(*sys.argv[1:])
