"""The demo flow (corpus -> MemoryStore -> match the incident -> JSON report) for tests.

Importable (fingerprints are cached per process, so several test modules share one pass over
the corpus) and runnable, so that determinism tests can repeat it in fresh interpreters::

    python tests/helpers_demo.py fingerprint FILE...     # digests of each file's blind fingerprint
    python tests/helpers_demo.py report ROWS.json INCIDENT   # the report JSON, on stdout
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path

from attributor.demo.build import BuiltSample
from attributor.fingerprint.model import SampleFingerprint
from attributor.match.matcher import match_sample
from attributor.match.result import MatchResult
from attributor.pipeline import analyse_path
from attributor.render.json import render_json
from attributor.report.document import MatchDocument, MatchReport
from attributor.store.base import Label
from attributor.store.memory import MemoryStore

TOOL_VERSION = "0.0.0"
DB_INFO = "demo corpus (memory store)"

_cache: dict[tuple[str, bool], SampleFingerprint] = {}


def fingerprint(path: Path, blind: bool) -> SampleFingerprint:
    key = (str(path), blind)
    if key not in _cache:
        _cache[key] = analyse_path(path, blind=blind)
    return _cache[key]


def corpus(samples: Sequence[BuiltSample]) -> list[tuple[BuiltSample, SampleFingerprint]]:
    """Every corpus sample with its fingerprint (references are fingerprinted with their symbols,
    as ``attributor demo`` and ``corpus add`` do)."""
    return [(s, fingerprint(s.path, blind=False)) for s in samples]


def label(s: BuiltSample) -> Label:
    return Label(s.family, s.actor, s.library, source=s.path.name)


def make_store(
    samples: Sequence[BuiltSample], families: Iterable[str] | None = None, exclude: Iterable[str] = ()
) -> MemoryStore:
    """A store of the corpus samples of ``families`` (all when None), minus ``exclude``d files."""
    keep = None if families is None else set(families)
    skip = set(exclude)
    store = MemoryStore()
    for s, fp in corpus(samples):
        if (keep is None or s.family in keep) and s.path.name not in skip:
            store.add_sample(fp, label(s))
    return store


def match_incident(samples: Sequence[BuiltSample], incident: Path) -> MatchResult:
    return match_sample(make_store(samples), fingerprint(incident, blind=True))


def report_json(samples: Sequence[BuiltSample], incident: Path) -> str:
    doc = MatchDocument.from_result(match_incident(samples, incident), TOOL_VERSION, db_info=DB_INFO)
    return render_json(MatchReport.of([doc], TOOL_VERSION))


def sample_rows(samples: Sequence[BuiltSample]) -> str:
    return json.dumps([{**dataclasses.asdict(s), "path": str(s.path)} for s in samples])


def fingerprint_digest(fp: SampleFingerprint) -> dict[str, str]:
    def h(b: bytes) -> str:
        return hashlib.sha256(b).hexdigest()

    return {
        "addresses": h(fp.addresses.tobytes()),
        "exact": h(fp.exact.tobytes()),
        "minhash": h(fp.minhash.tobytes()),
        "edges": h(fp.edges.tobytes()),
    }


def main(argv: list[str]) -> int:
    cmd, *args = argv
    if cmd == "fingerprint":
        print(json.dumps([fingerprint_digest(analyse_path(a, blind=True)) for a in args]))
        return 0
    if cmd == "report":
        rows = json.loads(Path(args[0]).read_text())
        samples = [BuiltSample(**{**r, "path": Path(r["path"])}) for r in rows]
        sys.stdout.write(report_json(samples, Path(args[1])))
        return 0
    raise SystemExit(f"unknown command {cmd!r}")


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
