"""Task 1, function-match (dataset A): cross-toolchain function ranking and function-start recall.

For a pair A -> B of builds of the same library, every library function of A (no fragment, no
runtime/CRT code) whose ``key`` also occurs in B is a query; the right answers are B's
functions with that key. Two pools: all functions the tool recovered in B, and ``pool_size``
functions (B's plus a seeded uniform sample of distractors: every function the tool recovered
in the *other* libraries' binaries, all toolchains, and in a few unrelated Debian libraries
from dataset B). Ranking and tie handling live in ``bench.ranking`` (shared by all runners).
"""

from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass, field

import lief

from bench.config import Settings
from bench.datasets import FMBinary, Reference
from bench.ranking import NO_SIMILARITY, QUERY_NOT_RECOVERED, TARGET_NOT_RECOVERED

log = logging.getLogger("bench")

TOOLCHAIN_PAIRS = [
    ("gcc-O2", "clang-O2"),
    ("gcc-O0", "gcc-O3"),
    ("clang-O0", "clang-O2"),
    ("gcc-O2", "mingw-O2"),
]
QUICK_PAIRS = [("gcc-O2", "clang-O2"), ("gcc-O2", "mingw-O2")]
QUICK_LIBS = ("zlib", "lz4")
QUICK_POOL_SIZE = 2000
# Unrelated Debian libraries (dataset B) that top the distractor pool up to pool_size: dataset A
# alone holds fewer than 10,000 functions outside any one library.
TOPUP_REFERENCES = (
    "sqlite/bookworm/libsqlite3.so.0.8.6",
    "libxml2/bookworm/libxml2.so.2.9.14",
    "libgcrypt/bookworm/libgcrypt.so.20.4.1",
)
QUICK_TOPUP_REFERENCES = ("sqlite/bookworm/libsqlite3.so.0.8.6",)


@dataclass
class Plan:
    binaries: list[FMBinary]
    topup: list[Reference]
    directions: list[tuple[str, str]]  # toolchain A -> toolchain B
    pool_size: int
    job: dict = field(default_factory=dict)


def plan(settings: Settings, binaries: list[FMBinary], references: list[Reference]) -> Plan:
    pairs = QUICK_PAIRS if settings.quick else TOOLCHAIN_PAIRS
    directions = [d for a, b in pairs for d in ((a, b), (b, a))]
    toolchains = {t for d in directions for t in d}
    libs = set(QUICK_LIBS) if settings.quick else {b.library for b in binaries}
    chosen = [b for b in binaries if b.library in libs and (not settings.quick or b.toolchain in toolchains)]
    topup_ids = QUICK_TOPUP_REFERENCES if settings.quick else TOPUP_REFERENCES
    by_id = {r.id: r for r in references}
    missing = [i for i in topup_ids if i not in by_id]
    if missing:
        log.warning("distractor references missing from dataset B, pool will be smaller: %s", missing)
    topup = [by_id[i] for i in topup_ids if i in by_id]
    pool_size = min(settings.pool_size, QUICK_POOL_SIZE) if settings.quick else settings.pool_size
    p = Plan(chosen, topup, directions, pool_size)
    p.job = _job(p, settings.seed)
    return p


def _job(p: Plan, seed: int) -> dict:
    by_key = {(b.library, b.toolchain): b for b in p.binaries}
    binaries = [{"id": b.id, "path": str(b.path)} for b in p.binaries]
    binaries += [{"id": f"ref:{r.id}", "path": str(r.path)} for r in p.topup]
    pairs = []
    for lib in sorted({b.library for b in p.binaries}):
        others = [b.id for b in p.binaries if b.library != lib] + [f"ref:{r.id}" for r in p.topup]
        for ta, tb in p.directions:
            a, b = by_key.get((lib, ta)), by_key.get((lib, tb))
            if a and b:
                pairs.append({"a": a.id, "b": b.id, "queries": _queries(a, b), "distractors": others})
    return {
        "task": "function-match",
        "binaries": binaries,
        "pairs": pairs,
        "pool_size": p.pool_size,
        "seed": seed,
    }


def _queries(a: FMBinary, b: FMBinary) -> list[list]:
    targets: dict[str, list[int]] = defaultdict(list)
    for f in b.library_entries():
        targets[f.key].append(f.addr)
    return [[f.addr, sorted(set(targets[f.key]))] for f in a.library_entries() if f.key in targets]


# --------------------------------------------------------------------------- scoring


def score_ranking(p: Plan, results: dict[str, dict]) -> dict:
    """Per tool: one row per (direction, pool) over all libraries, and one per (pair, pool)."""
    out = {}
    for tool, res in results.items():
        by_direction: dict[tuple[str, str, str], list[dict]] = defaultdict(list)
        per_pair = []
        for pair in res["pairs"]:
            direction = (pair["a"].split("/")[1], pair["b"].split("/")[1])
            for pool, agg in pair["pools"].items():
                by_direction[(*direction, pool)].append({**agg, "n_queries": pair["n_queries"]})
                per_pair.append(
                    {"a": pair["a"], "b": pair["b"], "pool": pool, **_metrics([agg], pair["n_queries"])}
                )
        rows = [
            {"from": a, "to": b, "pool": pool, **_metrics(aggs, sum(x["n_queries"] for x in aggs))}
            for (a, b, pool), aggs in by_direction.items()
        ]
        out[tool] = {"directions": rows, "pairs": per_pair}
    return out


def _metrics(aggs: list[dict], n: int) -> dict:
    statuses: dict[str, int] = defaultdict(int)
    for agg in aggs:
        for k, v in agg["statuses"].items():
            statuses[k] += v
    return {
        "n_queries": n,
        "recall_at_1": sum(a["hit1_sum"] for a in aggs) / n if n else 0.0,
        "mrr": sum(a["rr_sum"] for a in aggs) / n if n else 0.0,
        "pool_size_mean": sum(a["n_pool"] for a in aggs) / len(aggs) if aggs else 0.0,
        "query_not_recovered": statuses[QUERY_NOT_RECOVERED],
        "target_not_recovered": statuses[TARGET_NOT_RECOVERED],
        "no_similarity": statuses[NO_SIMILARITY],
    }


def code_ranges(b: FMBinary) -> list[tuple[int, int]]:
    """Executable sections that hold at least one ground-truth function start."""
    binary = lief.parse(str(b.path))
    ranges = []
    for s in binary.sections:
        if isinstance(binary, lief.PE.Binary):
            is_code = s.has_characteristic(lief.PE.Section.CHARACTERISTICS.MEM_EXECUTE)
            start, size = b.image_base + s.virtual_address, max(s.virtual_size, s.size)
        else:
            is_code = s.has(lief.ELF.Section.FLAGS.EXECINSTR)
            start, size = s.virtual_address, s.size
        if is_code and any(start <= f.addr < start + size for f in b.entries()):
            ranges.append((start, start + size))
    return ranges


def score_function_starts(p: Plan, results: dict[str, dict]) -> dict:
    """Per tool and toolchain: recall of ground-truth starts (all, library only) and precision."""
    ranges = {b.id: code_ranges(b) for b in p.binaries}
    out = {}
    for tool, res in results.items():
        per_tc: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
        for b in p.binaries:
            found = set(res["binaries"][b.id]["addresses"])
            counts = per_tc[b.toolchain]
            for k, v in _start_counts(b, found, ranges[b.id]).items():
                counts[k] += v
        out[tool] = [_start_row(tc, c) for tc, c in sorted(per_tc.items())]
    return out


def _start_counts(b: FMBinary, found: set[int], ranges: list[tuple[int, int]]) -> dict[str, int]:
    starts = {f.addr for f in b.entries()}
    lib_starts = {f.addr for f in b.library_entries()}
    fragments = {f.addr for f in b.functions if f.fragment} - starts
    in_code = {a for a in found if any(lo <= a < hi for lo, hi in ranges)} - fragments
    return {
        "gt": len(starts),
        "gt_found": len(starts & found),
        "lib": len(lib_starts),
        "lib_found": len(lib_starts & found),
        "reported_in_code": len(in_code),
        "reported_correct": len(in_code & starts),
        "reported_total": len(found),
    }


def _start_row(toolchain: str, c: dict[str, int]) -> dict:
    return {
        "toolchain": toolchain,
        **c,
        "recall": c["gt_found"] / c["gt"] if c["gt"] else 0.0,
        "recall_library": c["lib_found"] / c["lib"] if c["lib"] else 0.0,
        "precision": c["reported_correct"] / c["reported_in_code"] if c["reported_in_code"] else 0.0,
    }
