"""MCRIT + SMDA runner (runs in the peers venv): ``python mcrit_runner.py JOB.json RESULT.json``.

MCRIT runs in process with its in-memory storage and the fake (local) queue, exactly the code
path its own unit tests use; MinHash pools are off, so everything runs in this one process.
SMDA gets stripped files and ``USE_SYMBOLS_AS_CANDIDATES = False``: no symbol address seeds the
disassembly. ``USE_ELF_EH_FRAME_CANDIDATES = True`` (SMDA's own option, off by default) lets it
use the unwind table, as attributor's blind mode does; on dataset A it recovers as many starts
as the symbols would. (SMDA's label providers still read ``.dynsym``/PE exports to *name*
functions; MCRIT's MinHash and PicHash never look at names.)

Tasks:
* ``function-match``: index every binary (SMDA -> ``addSmdaReport`` -> ``updateMinHashesForSample``)
  and rank functions exhaustively with MCRIT's pair score: PicHash equality (query function of at
  least ``PICHASH_SIZE`` instructions) scores 100, else the share of equal MinHash signature
  fields (``MinHash.calculateMinHashScore``), 0 when either function has no MinHash.
* ``embedded-reuse``: index the references (family label; runtime entries ``is_library``), then
  query each file with ``MatcherQuery.getMatchesForSmdaReport`` and rank families with
  ``MatchingResult.getBestSampleMatchesPerFamily`` (MCRIT's own aggregation).
"""

from __future__ import annotations

import json
import logging
import random
import resource
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from bench import ranking

logging.basicConfig(level=logging.WARNING)
log = logging.getLogger("mcrit_runner")


def _quiet() -> None:
    for name in ("mcrit", "smda", "root"):
        logging.getLogger(name).setLevel(logging.WARNING)
    logging.getLogger().setLevel(logging.WARNING)


def make_index():
    from mcrit.config.McritConfig import McritConfig
    from mcrit.index.MinHashIndex import MinHashIndex
    from mcrit.queue.QueueFactory import QueueFactory
    from mcrit.storage.StorageFactory import StorageFactory

    config = McritConfig()
    config.STORAGE_CONFIG.STORAGE_METHOD = StorageFactory.STORAGE_METHOD_MEMORY
    config.QUEUE_CONFIG.QUEUE_METHOD = QueueFactory.QUEUE_METHOD_FAKE
    config.MINHASH_CONFIG.MINHASH_POOL_INDEXING = False
    config.MINHASH_CONFIG.MINHASH_POOL_MATCHING = False
    index = MinHashIndex(config=config)
    _quiet()
    return index


def disassemble(path: str, family: str = "", is_library: bool = False):
    from smda.Disassembler import Disassembler
    from smda.SmdaConfig import SmdaConfig

    config = SmdaConfig()
    config.USE_SYMBOLS_AS_CANDIDATES = False
    config.USE_ELF_EH_FRAME_CANDIDATES = True
    report = Disassembler(config).disassembleFile(path)
    _quiet()
    if report.status not in ("ok", "timeout"):
        raise RuntimeError(f"SMDA failed on {path}: {report.status} {getattr(report, 'message', '')}")
    report.family = family
    report.is_library = is_library
    return report


class Indexed:
    """One binary indexed by MCRIT, as columns sorted by address."""

    def __init__(self, storage, sample_entry, pichash_size: int, sig_len: int) -> None:
        entries = sorted(storage.getFunctionsBySampleId(sample_entry.sample_id), key=lambda e: e.offset)
        self.addresses = np.asarray([e.offset for e in entries], dtype=np.int64)
        self.n_insns = np.asarray([e.num_instructions for e in entries], dtype=np.int64)
        self.pichash = np.asarray([e.pichash & 0xFFFFFFFFFFFFFFFF for e in entries], dtype=np.uint64)
        self.has_minhash = np.asarray([len(e.minhash) == sig_len for e in entries], dtype=bool)
        sig = np.zeros((len(entries), sig_len), dtype=np.uint8)
        for i, e in enumerate(entries):
            if len(e.minhash) == sig_len:
                sig[i] = np.frombuffer(e.minhash, dtype=np.uint8)
        self.signatures = sig
        self.minhash_bytes = [e.minhash for e in entries]
        self.pichash_size = pichash_size


class FunctionMatchAdapter:
    def __init__(self, indexed: dict[str, Indexed]) -> None:
        self.indexed = indexed

    def addresses(self, binary_id: str) -> np.ndarray:
        return self.indexed[binary_id].addresses

    def scores(self, binary_id: str, rows: np.ndarray, pool_ids: list[str]) -> np.ndarray:
        q = self.indexed[binary_id]
        return np.hstack([pair_scores(q, rows, self.indexed[p]) for p in pool_ids])


def pair_scores(q: Indexed, rows: np.ndarray, pool: Indexed, chunk: int = 256) -> np.ndarray:
    """MCRIT's pair score for every (query row, pool function), see the module docstring."""
    out = np.zeros((rows.size, pool.addresses.size), dtype=np.float32)
    sig_len = pool.signatures.shape[1]
    for start in range(0, rows.size, chunk):
        part = rows[start : start + chunk]
        equal = (q.signatures[part][:, None, :] == pool.signatures[None, :, :]).sum(axis=2)
        score = 100.0 * equal / sig_len
        score[~q.has_minhash[part], :] = 0.0
        score[:, ~pool.has_minhash] = 0.0
        pic = (q.pichash[part][:, None] == pool.pichash[None, :]) & (pool.pichash[None, :] != 0)
        pic &= (q.n_insns[part] >= q.pichash_size)[:, None]
        score[pic] = 100.0
        out[start : start + part.size] = score
    return out


def verify_pair_score(indexed: dict[str, Indexed], n: int = 300) -> int:
    """Check the vectorised score against ``MinHash.calculateMinHashScore`` on random pairs."""
    from mcrit.minhash.MinHash import MinHash

    rng = random.Random(7)
    items = [(bid, i) for bid, x in sorted(indexed.items()) for i in np.flatnonzero(x.has_minhash).tolist()]
    checked = 0
    for _ in range(n):
        (ba, ia), (bb, ib) = rng.choice(items), rng.choice(items)
        a, b = indexed[ba], indexed[bb]
        if a.pichash[ia] == b.pichash[ib] and a.pichash[ia] != 0:
            continue
        ours = pair_scores(a, np.asarray([ia]), b)[0, ib]
        theirs = MinHash.calculateMinHashScore(a.minhash_bytes[ia], b.minhash_bytes[ib], minhash_bits=8)
        if abs(float(ours) - float(theirs)) > 1e-3:
            raise AssertionError(f"score mismatch {ours} != {theirs} for {ba}#{ia} vs {bb}#{ib}")
        checked += 1
    return checked


def index_binary(index, path: str, family: str, is_library: bool) -> tuple[object, dict]:
    """SMDA + MCRIT indexing of one file; returns the sample entry and its timings."""
    t0 = time.process_time()
    report = disassemble(path, family, is_library)
    t1 = time.process_time()
    entry = index._storage.addSmdaReport(report)
    if entry is None:  # same SHA-256 already indexed
        entry = index._storage.getSampleBySha256(report.sha256)
    else:
        index.queue._worker.updateMinHashesForSample(entry.sample_id)
    t2 = time.process_time()
    n_insns = sum(f.num_instructions for f in report.getFunctions())
    stats = {
        "n_functions": len(report.xcfg),
        "n_instructions": n_insns,
        "cpu_disasm_s": t1 - t0,
        "cpu_index_s": t2 - t1,
        "status": report.status,
        "notes": [report.message] if report.status != "ok" else [],
    }
    return entry, stats


def task_function_match(job: dict) -> dict:
    index = make_index()
    cfg = index.config.MINHASH_CONFIG
    indexed, per_binary = {}, {}
    for b in job["binaries"]:
        entry, stats = index_binary(index, b["path"], b.get("family", ""), False)
        indexed[b["id"]] = Indexed(index._storage, entry, cfg.PICHASH_SIZE, cfg.MINHASH_SIGNATURE_LENGTH)
        per_binary[b["id"]] = {**stats, "addresses": indexed[b["id"]].addresses.tolist()}
        log.warning("indexed %s: %d functions", b["id"], stats["n_functions"])
    rss_index = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    checked = verify_pair_score(indexed)
    t0 = time.process_time()
    pairs = ranking.run_function_match(FunctionMatchAdapter(indexed), job)
    return {
        "tool": "mcrit",
        "binaries": per_binary,
        "pairs": pairs,
        "cpu_ranking_s": time.process_time() - t0,
        "max_rss_after_index_mib": rss_index,
        "score_check_pairs": checked,
    }


def query_file(index, path: str) -> dict:
    from mcrit.matchers.MatcherQuery import MatcherQuery
    from mcrit.storage.MatchingResult import MatchingResult

    w0, t0 = time.perf_counter(), time.process_time()
    report = disassemble(path)
    t1 = time.process_time()
    match_report = MatcherQuery(index.queue._worker).getMatchesForSmdaReport(report)
    t2, w2 = time.process_time(), time.perf_counter()
    result = MatchingResult.fromDict(match_report)
    families = [
        {
            "family": m.family,
            "score": m.matched_percent_frequency_weighted,
            "nonlib_score": m.matched_percent_nonlib_frequency_weighted,
            "best_sample": m.filename,
            "is_library": bool(m.is_library),
        }
        for m in result.getBestSampleMatchesPerFamily(unfiltered=True)
    ]
    return {
        "n_functions": len(report.xcfg),
        "cpu_disasm_s": t1 - t0,
        "cpu_match_s": t2 - t1,
        "wall_s": w2 - w0,
        "families": families,
        "function_families": _function_families(match_report),
    }


def _function_families(match_report: dict) -> dict[str, list[str]]:
    """Query function address -> families it matched (MinHash > threshold or PicHash)."""
    names = {s["family_id"]: s["family"] for s in match_report["matches"]["samples"]}
    out = {}
    for fn in match_report["matches"]["functions"]:
        fams = sorted({names.get(m[0], str(m[0])) for m in fn["matches"]})
        if fams:
            out[str(fn["offset"])] = fams
    return out


def task_embedded_reuse(job: dict) -> dict:
    index = make_index()
    refs = {}
    t0 = time.process_time()
    for r in job["references"]:
        _, stats = index_binary(index, r["path"], r["family"], bool(r["runtime"]))
        refs[r["id"]] = stats
        log.warning("indexed %s: %d functions", r["id"], stats["n_functions"])
    cpu_ingest = time.process_time() - t0
    rss_index = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    queries = {}
    for q in job["queries"]:
        queries[q["id"]] = query_file(index, q["path"])
        log.warning("queried %s", q["id"])
    return {
        "tool": "mcrit",
        "references": refs,
        "cpu_ingest_s": cpu_ingest,
        "max_rss_after_index_mib": rss_index,
        "queries": queries,
    }


TASKS = {"function-match": task_function_match, "embedded-reuse": task_embedded_reuse}


def main(argv: list[str]) -> int:
    job = json.loads(Path(argv[1]).read_text(encoding="utf-8"))
    result = TASKS[job["task"]](job)
    result["versions"] = _versions()
    Path(argv[2]).write_text(json.dumps(result), encoding="utf-8")
    return 0


def _versions() -> dict[str, str]:
    from importlib.metadata import version

    return {name: version(name) for name in ("mcrit", "smda")}


if __name__ == "__main__":
    sys.exit(main(sys.argv))
