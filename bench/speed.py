"""Task 3, speed: ingest throughput, query latency, peak RSS and store size, from the same runs.

All CPU times are ``time.process_time`` inside the runner process (one file at a time, no worker
pools); peak RSS is ``ru_maxrss``. Functions are counted as each tool recovered them, so the
tool-independent rate is input MiB per CPU-second.
"""

from __future__ import annotations

import statistics
from pathlib import Path

from bench.tools import ToolRun

LATENCY_TARGET_FUNCTIONS = 2000
MIB = 1024.0 * 1024.0


def _ingest_cpu(tool: str, stats: dict) -> float:
    if tool == "attributor":
        return stats["cpu_fingerprint_s"] + stats.get("cpu_store_s", 0.0)
    return stats["cpu_disasm_s"] + stats["cpu_index_s"]


def ingest(tool: str, per_file: dict[str, dict], sizes: dict[str, int]) -> dict:
    """Functions and MiB of input per CPU-second over ``per_file`` (runner per-file stats)."""
    cpu = sum(_ingest_cpu(tool, s) for s in per_file.values())
    n = sum(s["n_functions"] for s in per_file.values())
    size = sum(sizes[k] for k in per_file)
    return {
        "files": len(per_file),
        "functions": n,
        "cpu_s": cpu,
        "functions_per_cpu_s": n / cpu if cpu else 0.0,
        "mib_per_cpu_s": size / MIB / cpu if cpu else 0.0,
    }


def near_target(queries: dict[str, dict]) -> str | None:
    """The query whose function count is closest to ``LATENCY_TARGET_FUNCTIONS``."""
    if not queries:
        return None
    return min(queries, key=lambda qid: abs(queries[qid]["n_functions"] - LATENCY_TARGET_FUNCTIONS))


def latency(queries: dict[str, dict], near_id: str | None) -> dict:
    """CPU (fingerprint/disassembly + matching) and wall seconds per query file."""
    if not queries:
        return {}
    cpu = [q["cpu_disasm_s"] + q["cpu_match_s"] for q in queries.values()]
    out = {
        "queries": len(queries),
        "cpu_median_s": statistics.median(cpu),
        "cpu_max_s": max(cpu),
        "wall_median_s": statistics.median(q["wall_s"] for q in queries.values()),
    }
    if near_id in queries:
        q = queries[near_id]
        cpu_s = q["cpu_disasm_s"] + q["cpu_match_s"]
        out["near_2000"] = {
            "query": near_id,
            "n_functions": q["n_functions"],
            "cpu_s": cpu_s,
            "wall_s": q["wall_s"],
        }
    return out


def summarise(
    fm_runs: dict[str, ToolRun], er_runs: dict[str, ToolRun], fm_sizes: dict, er_sizes: dict
) -> dict:
    out: dict[str, dict] = {}
    first = next((er_runs[t] for t in ("attributor", "mcrit") if t in er_runs), None)
    near_id = near_target(first.result["queries"]) if first else None  # the same file for both tools
    for tool in ("attributor", "mcrit"):
        entry: dict = {}
        if tool in fm_runs:
            per_bin = {k: v for k, v in fm_runs[tool].result["binaries"].items() if not k.startswith("ref:")}
            entry["ingest_dataset_a"] = ingest(tool, per_bin, fm_sizes)
        if tool in er_runs:
            res = er_runs[tool].result
            entry["ingest_dataset_b_refs"] = ingest(tool, res["references"], er_sizes)
            entry["query_latency"] = latency(res["queries"], near_id)
            entry["max_rss_index_mib"] = res["max_rss_after_index_mib"]
            entry["max_rss_process_mib"] = er_runs[tool].usage.max_rss_mib
            if "store_bytes" in res:
                n = entry["ingest_dataset_b_refs"]["functions"]
                entry["store_bytes"] = res["store_bytes"]
                entry["store_bytes_per_function"] = res["store_bytes"] / n if n else 0.0
        if entry:
            out[tool] = entry
    if "fuzzy" in er_runs:
        out["fuzzy"] = {"cpu_hash_s": er_runs["fuzzy"].result["cpu_hash_s"]}
    out["ratios"] = ratios(out)
    return out


def ratios(s: dict) -> dict:
    """attributor / MCRIT for each comparable number (>1 means attributor is higher)."""
    a, m = s.get("attributor"), s.get("mcrit")
    if not a or not m:
        return {}
    out = {}
    for key in ("ingest_dataset_a", "ingest_dataset_b_refs"):
        if key in a and key in m:
            for metric in ("functions_per_cpu_s", "mib_per_cpu_s"):
                out[f"{key}.{metric}"] = _div(a[key][metric], m[key][metric])
    if "query_latency" in a and "query_latency" in m and a["query_latency"] and m["query_latency"]:
        out["query_latency.cpu_median_s"] = _div(
            a["query_latency"]["cpu_median_s"], m["query_latency"]["cpu_median_s"]
        )
        out["query_latency.cpu_max_s"] = _div(
            a["query_latency"]["cpu_max_s"], m["query_latency"]["cpu_max_s"]
        )
    if "max_rss_index_mib" in a and "max_rss_index_mib" in m:
        out["max_rss_index_mib"] = _div(a["max_rss_index_mib"], m["max_rss_index_mib"])
    return out


def _div(x: float, y: float) -> float | None:
    return x / y if y else None


def file_sizes(items: dict[str, Path]) -> dict[str, int]:
    return {k: p.stat().st_size for k, p in items.items()}
