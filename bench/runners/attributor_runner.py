"""attributor runner (our venv): ``python attributor_runner.py JOB.json RESULT.json``.

Every file is fingerprinted with ``fingerprint_path(path, blind=True)`` (no symbol of any kind is
read) in this one process, one file at a time (jobs=1), timed with ``time.process_time``.

Tasks:
* ``function-match``: rank functions with ``attributor.match.pairwise.similarity_matrix``.
* ``embedded-reuse``: index the references into a fresh ``SQLiteStore`` (runtime entries as
  ``Label(library=True)``), record the peak RSS at the end of indexing, then query each file
  with ``attributor.match.matcher.match_sample``.
"""

from __future__ import annotations

import json
import resource
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from bench import ranking


def fingerprint(path: str):
    from attributor.pipeline import fingerprint_path

    t0 = time.process_time()
    fp = fingerprint_path(path, blind=True)
    return fp, time.process_time() - t0


def _fp_stats(fp, cpu: float) -> dict:
    return {
        "n_functions": fp.n_functions,
        "n_instructions": int(np.sum(fp.n_insns)),
        "coverage": fp.coverage,
        "status": fp.status,
        "notes": list(fp.notes)[:3],
        "cpu_fingerprint_s": cpu,
    }


class FunctionMatchAdapter:
    def __init__(self, fps: dict) -> None:
        self.fps = fps

    def addresses(self, binary_id: str) -> np.ndarray:
        return np.asarray(self.fps[binary_id].addresses, dtype=np.int64)

    def scores(self, binary_id: str, rows: np.ndarray, pool_ids: list[str]) -> np.ndarray:
        from attributor.match.pairwise import similarity_matrix

        full = similarity_matrix(self.fps[binary_id], [self.fps[p] for p in pool_ids])
        return np.asarray(full[rows], dtype=np.float32)


def task_function_match(job: dict) -> dict:
    fps, per_binary = {}, {}
    for b in job["binaries"]:
        fp, cpu = fingerprint(b["path"])
        fps[b["id"]] = fp
        per_binary[b["id"]] = {**_fp_stats(fp, cpu), "addresses": [int(a) for a in fp.addresses]}
        print(f"fingerprinted {b['id']}: {fp.n_functions} functions", file=sys.stderr, flush=True)
    rss_index = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    t0 = time.process_time()
    pairs = ranking.run_function_match(FunctionMatchAdapter(fps), job)
    return {
        "tool": "attributor",
        "binaries": per_binary,
        "pairs": pairs,
        "cpu_ranking_s": time.process_time() - t0,
        "max_rss_after_index_mib": rss_index,
    }


def _store_bytes(db: Path) -> int:
    return sum(p.stat().st_size for p in (db, Path(f"{db}-wal")) if p.is_file())


def index_references(job: dict):
    from attributor.store.base import Label
    from attributor.store.sqlite import SQLiteStore

    db = Path(job["store"])
    for suffix in ("", "-wal", "-shm"):
        Path(f"{db}{suffix}").unlink(missing_ok=True)
    db.parent.mkdir(parents=True, exist_ok=True)
    store = SQLiteStore(db)
    refs = {}
    t_all = time.process_time()
    for r in job["references"]:
        fp, cpu = fingerprint(r["path"])
        t0 = time.process_time()
        store.add_sample(fp, Label(family=r["family"], library=bool(r["runtime"]), source=r["id"]))
        refs[r["id"]] = {**_fp_stats(fp, cpu), "cpu_store_s": time.process_time() - t0}
        print(f"indexed {r['id']}: {fp.n_functions} functions", file=sys.stderr, flush=True)
    t0 = time.process_time()
    store.index()  # build the matcher's column view once, as a server would at start-up
    stats = {
        "cpu_ingest_s": time.process_time() - t_all,
        "cpu_index_view_s": time.process_time() - t0,
        "max_rss_after_index_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0,
        "store_bytes": _store_bytes(db),
    }
    return store, refs, stats


def query_file(store, path: str) -> dict:
    from attributor.match.matcher import match_sample

    w0 = time.perf_counter()
    fp, cpu_fp = fingerprint(path)
    t0 = time.process_time()
    res = match_sample(store, fp)
    cpu_match, wall = time.process_time() - t0, time.perf_counter() - w0
    function_families: dict[str, set[str]] = {}
    for fam in res.families:
        for pair in fam.pairs:
            function_families.setdefault(str(int(pair.query_address)), set()).add(fam.family)
    return {
        "n_functions": fp.n_functions,
        "cpu_disasm_s": cpu_fp,
        "cpu_match_s": cpu_match,
        "wall_s": wall,
        "families": [
            {
                "family": f.family,
                "score": float(f.score),
                "attributed": bool(f.attributed),
                "is_library": bool(f.library),
                "n_pairs": len(f.pairs),
                "best_sample": f.best_sample,
            }
            for f in res.families
        ],
        "function_families": {a: sorted(v) for a, v in function_families.items()},
    }


def task_embedded_reuse(job: dict) -> dict:
    store, refs, stats = index_references(job)
    queries = {}
    for q in job["queries"]:
        queries[q["id"]] = query_file(store, q["path"])
        print(f"queried {q['id']}", file=sys.stderr, flush=True)
    store.close()
    return {"tool": "attributor", "references": refs, **stats, "queries": queries}


TASKS = {"function-match": task_function_match, "embedded-reuse": task_embedded_reuse}


def _versions() -> dict[str, str]:
    from importlib.metadata import version

    return {name: version(name) for name in ("attributor", "lief", "capstone", "numpy")}


def main(argv: list[str]) -> int:
    job = json.loads(Path(argv[1]).read_text(encoding="utf-8"))
    result = TASKS[job["task"]](job)
    result["versions"] = _versions()
    Path(argv[2]).write_text(json.dumps(result), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
