"""Measure attributor against its peers in one run and write ``docs/benchmarks.md``.

    python bench/run.py [--cache DIR] [--only function-match,embedded-reuse,speed]
                        [--peers mcrit,tlsh,ssdeep] [--quick]

Datasets are built on first use by the shared scripts (``--shared``, default ``../shared``) into
``$DATASETS_CACHE`` (default ``<cache>/datasets``). Peers run in ``<cache>/bench/venv-peers``,
created on first use. Raw results go to ``<cache>/bench/latest.json``.
"""

from __future__ import annotations

import argparse
import datetime
import fcntl
import json
import logging
import os
import platform
import shlex
import signal
import sys
import time
from pathlib import Path
from typing import IO

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench import (
    calibration,
    capabilities,
    crypto,
    embedded_reuse,
    function_match,
    publish,
    report,
    speed,
    symbols,
)
from bench.config import PEERS, TASKS, Settings
from bench.datasets import (
    EMBEDDED_REUSE,
    FUNCTION_MATCH,
    ensure_dataset,
    read_embedded_reuse,
    read_function_match,
)
from bench.procs import REPO_ROOT
from bench.tools import ToolRun, run_tool

log = logging.getLogger("bench")
ALL_TASKS = (*TASKS, "crypto", "capabilities", "calibration")
DEFAULT_OUTPUT = REPO_ROOT / "docs" / "benchmarks.md"


def parse_args(argv: list[str]) -> Settings:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--cache", type=Path, default=Path(".cache"), help="cache root (default .cache)")
    ap.add_argument(
        "--datasets",
        type=Path,
        default=None,
        help="dataset cache (default $DATASETS_CACHE or <cache>/datasets)",
    )
    ap.add_argument(
        "--shared", type=Path, default=Path("../shared"), help="shared folder with datasets/build_*.py"
    )
    ap.add_argument("--only", default=",".join(ALL_TASKS), help="comma list of " + ",".join(ALL_TASKS))
    ap.add_argument(
        "--peers", default=",".join(PEERS), help="comma list of " + ",".join(PEERS) + " (empty: none)"
    )
    ap.add_argument("--quick", action="store_true", help="small subset for a smoke test (a few minutes)")
    ap.add_argument("--pool-size", type=int, default=10_000, help="function-match distractor pool size")
    ap.add_argument("--seed", type=int, default=20240611, help="seed of the distractor sample")
    ap.add_argument(
        "--reuse", action="store_true", help="reuse results of identical jobs (same code) from earlier runs"
    )
    ap.add_argument("--skip-attributor", action="store_true", help="run the peers only")
    ap.add_argument(
        "--output",
        type=Path,
        default=None,
        help="default docs/benchmarks.md (with --quick: <cache>/bench/benchmarks-quick.md)",
    )
    args = ap.parse_args(argv)
    only = tuple(t for t in args.only.split(",") if t)
    peers = tuple(p for p in args.peers.split(",") if p)
    for name, allowed in ((only, ALL_TASKS), (peers, PEERS)):
        bad = set(name) - set(allowed)
        if bad:
            ap.error(f"unknown: {', '.join(sorted(bad))} (choose from {', '.join(allowed)})")
    env_ds = os.environ.get("DATASETS_CACHE")
    datasets = args.datasets or (Path(env_ds) if env_ds else args.cache / "datasets")
    tools = ("attributor",) if not args.skip_attributor else ()
    command = "python bench/run.py" + "".join(f" {shlex.quote(a)}" for a in argv)
    return Settings(
        cache=args.cache.absolute(),
        datasets=datasets.absolute(),
        shared=args.shared.absolute(),
        only=only,
        tools=tools + peers,
        quick=args.quick,
        pool_size=args.pool_size,
        seed=args.seed,
        reuse=args.reuse,
        output=_output(args),
        command=command,
    )


def _output(args: argparse.Namespace) -> Path:
    """``--output``, else docs/benchmarks.md; a quick run never overwrites the published page."""
    if args.output is not None:
        return args.output.absolute()
    return (args.cache / "bench" / "benchmarks-quick.md").absolute() if args.quick else DEFAULT_OUTPUT


def display(path: Path) -> str:
    """A path as it may appear in a committed file: relative to the repository, never absolute."""
    path = path.absolute()
    if path.is_relative_to(REPO_ROOT):
        return os.path.relpath(path, REPO_ROOT)
    return f"<outside the checkout>/{path.name}"


def run_tools(settings: Settings, job: dict, tools: list[str], runs: list[dict]) -> dict[str, ToolRun]:
    out = {}
    for tool in tools:
        tr = run_tool(settings, tool, job)
        out[tool] = tr
        u = tr.usage
        runs.append(
            {
                "name": f"{job['task']} / {tool}",
                "cpu_s": u.cpu_s,
                "wall_s": u.wall_s,
                "max_rss_mib": u.max_rss_mib,
                "reused": tr.reused,
            }
        )
    return out


def do_function_match(settings: Settings, refs: list, runs: list[dict], tools: list[str]) -> tuple:
    root = ensure_dataset(FUNCTION_MATCH, settings.datasets, settings.shared)
    _, binaries = read_function_match(root)
    plan = function_match.plan(settings, binaries, refs)
    tr = run_tools(settings, plan.job, [t for t in tools if t in ("attributor", "mcrit")], runs)
    results = {t: r.result for t, r in tr.items()}
    summary = {
        "pool_size": plan.pool_size,
        "libraries": sorted({b.library for b in plan.binaries}),
        "topup": [r.id for r in plan.topup],
        "order": [f"{a} → {b}" for a, b in plan.directions],
        "ranking": function_match.score_ranking(plan, results),
        "starts": function_match.score_function_starts(plan, results),
    }
    sizes = {b.id: b.path.stat().st_size for b in plan.binaries}
    return summary, tr, sizes


def do_embedded(settings: Settings, refs: list, queries: list, runs: list[dict], tools: list[str]) -> tuple:
    plan = embedded_reuse.plan(settings, refs, queries)
    runner_tools = [t for t in tools if t in ("attributor", "mcrit")]
    if {"tlsh", "ssdeep"} & set(tools):
        runner_tools.append("fuzzy")
    tr = run_tools(settings, plan.job, runner_tools, runs)
    results = {t: tr[t].result for t in ("attributor", "mcrit") if t in tr}
    results |= {t: tr["fuzzy"].result for t in ("tlsh", "ssdeep") if t in tools}
    scored = embedded_reuse.score(plan, results)
    verdicts = {
        t: embedded_reuse.verdicts(plan, t, results[t]) for t in results if t in ("attributor", "mcrit")
    }
    func_results = {t: results[t] for t in verdicts}
    summary = {
        "n_queries": len(plan.queries),
        "n_references": len(plan.references),
        "n_families": len({r.family for r in plan.references if not r.runtime}),
        "mcrit_threshold": embedded_reuse.MCRIT_THRESHOLD,
        "tools": scored,
        "functions": symbols.score_functions(plan.queries, plan.references, func_results, verdicts),
    }
    sizes = {r.id: r.path.stat().st_size for r in plan.references}
    return summary, tr, sizes


def environment(versions: dict[str, str]) -> dict:
    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
        mem_kib = next(
            int(x.split()[1])
            for x in Path("/proc/meminfo").read_text().splitlines()
            if x.startswith("MemTotal")
        )
    except (OSError, StopIteration):
        mem_kib = 0
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory_gib": mem_kib / 1024 / 1024,
        "platform": platform.platform(terse=True),
        "python": platform.python_version(),
        "versions": versions,
    }


def exclusive(work: Path) -> IO[str]:
    """Hold ``<work>/run.lock``: two runs on one cache would overwrite each other's jobs and store."""
    work.mkdir(parents=True, exist_ok=True)
    fh = open(work / "run.lock", "w")  # noqa: SIM115 - held until the process exits
    try:
        fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        raise SystemExit(
            f"another bench run is using {display(work)}; wait for it or use another --cache"
        ) from None
    return fh


def _stopped(signum: int, _frame: object) -> None:
    log.error("stopped by signal %d; finished jobs are kept in <cache>/bench/runs (see --reuse)", signum)
    raise SystemExit(128 + signum)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(message)s", datefmt="%H:%M:%S", stream=sys.stderr
    )
    settings = parse_args(argv)
    signal.signal(signal.SIGTERM, _stopped)
    lock = exclusive(settings.work)
    os.chdir(REPO_ROOT)
    started = time.perf_counter()
    tools = list(settings.tools)
    runs: list[dict] = []
    tasks: dict = {}
    er_root = ensure_dataset(EMBEDDED_REUSE, settings.datasets, settings.shared)
    _, refs, queries = read_embedded_reuse(er_root)
    fm = er = None
    if settings.wants("function-match") or settings.wants("speed"):
        fm = do_function_match(settings, refs, runs, tools)
        if settings.wants("function-match"):
            tasks["function-match"] = fm[0]
    if settings.wants("embedded-reuse") or settings.wants("speed"):
        er = do_embedded(settings, refs, queries, runs, tools)
        if settings.wants("embedded-reuse"):
            tasks["embedded-reuse"] = er[0]
    if settings.wants("speed"):
        tasks["speed"] = speed.summarise(fm[1], er[1], fm[2], er[2])
    if settings.wants("crypto"):
        tasks["crypto"] = crypto.run(settings, refs, queries, runs)
    if settings.wants("capabilities"):  # capa rules: our extractor vs vivisect (bench/capabilities.py)
        tasks["capabilities"] = capabilities.run(settings.shared / "capa-rules", settings.datasets)
    if settings.wants("calibration"):  # fusion weights fitted and calibrated (bench/calibration.py)
        tasks["calibration"] = calibration.run(settings, refs, queries, runs)
    summary = build_summary(settings, tasks, runs, fm[1] if fm else {}, er[1] if er else {})
    summary["wall_minutes"] = (time.perf_counter() - started) / 60
    summary = publish.keep_published(settings, summary)  # --only crypto/capabilities/calibration
    write_outputs(settings, summary)
    lock.close()
    return 0


def build_summary(
    settings: Settings,
    tasks: dict,
    runs: list[dict],
    fm_runs: dict[str, ToolRun],
    er_runs: dict[str, ToolRun],
) -> dict:
    versions = {}
    for tr in [*fm_runs.values(), *er_runs.values()]:
        versions |= tr.result.get("versions", {})
    check = fm_runs["mcrit"].result.get("score_check_pairs") if "mcrit" in fm_runs else None
    return {
        "command": settings.command,
        "mode": settings.mode,
        "date": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "environment": environment(versions),
        "datasets": f"`{display(settings.datasets)}` (function-match, embedded-reuse)",
        "raw_json": display(settings.work / "latest.json"),
        "mcrit_score_check": check,
        "code": _code_digests([*fm_runs.values(), *er_runs.values()]),
        "tasks": tasks,
        "runs": runs,
        "notes": status_notes(fm_runs, er_runs),
    }


def _code_digests(tool_runs: list[ToolRun]) -> dict[str, str]:
    """The digests of the code each kind of runner ran with (two values if it changed mid-run)."""
    kinds: dict[str, set[str]] = {}
    for tr in tool_runs:
        kind = "attributor sources + runner" if tr.tool == "attributor" else "peer runners + pins"
        kinds.setdefault(kind, set()).add(tr.code)
    return {k: " / ".join(sorted(v)) for k, v in kinds.items()}


def status_notes(fm_runs: dict[str, ToolRun], er_runs: dict[str, ToolRun]) -> list[str]:
    """Files a tool did not analyse completely (SMDA timeout, attributor "incomplete")."""
    notes = []
    for task, tool_runs in (("function-match", fm_runs), ("embedded-reuse", er_runs)):
        for tool, tr in tool_runs.items():
            files = {**tr.result.get("binaries", {}), **tr.result.get("references", {})}
            for name, v in sorted(files.items()):
                if v.get("status") not in (None, "ok", "complete"):
                    why = "; ".join(v.get("notes", [])) or v["status"]
                    notes.append(f"{task} / {tool}: `{name}` not analysed completely ({why})")
    return notes


def write_outputs(settings: Settings, summary: dict) -> None:
    settings.work.mkdir(parents=True, exist_ok=True)
    (settings.work / "latest.json").write_text(json.dumps(summary, indent=1), encoding="utf-8")
    out = settings.output
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(report.render(summary), encoding="utf-8")
    log.info("wrote %s and %s", display(out), display(settings.work / "latest.json"))


if __name__ == "__main__":
    sys.exit(main())
