"""Which runner script, in which venv, executes a tool; with optional reuse of identical jobs."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path

from bench.config import Settings, attributor_digest, peers_digest
from bench.procs import BENCH_DIR, Usage, ensure_peers_venv, our_python, run_job

log = logging.getLogger("bench")


@dataclass
class ToolRun:
    tool: str
    result: dict
    usage: Usage
    reused: bool
    code: str  # digest of the code that produced ``result`` (see bench.config.code_digest)


_SCRIPTS = {
    "attributor": BENCH_DIR / "runners" / "attributor_runner.py",
    "mcrit": BENCH_DIR / "peers" / "mcrit_runner.py",
    "fuzzy": BENCH_DIR / "peers" / "fuzzy_runner.py",
}


def _python(settings: Settings, tool: str) -> Path:
    if tool == "attributor":
        return our_python()
    return ensure_peers_venv(settings.peers_venv, BENCH_DIR / "requirements-peers.txt")


def run_tool(settings: Settings, tool: str, job: dict) -> ToolRun:
    """Run ``tool`` on ``job`` (a task dict); with ``--reuse``, take an identical earlier run."""
    job = {**job, "code": attributor_digest() if tool == "attributor" else peers_digest()}
    name = f"{settings.mode}-{job['task']}-{tool}"
    work = settings.work / "runs"
    cached = _load_reusable(work, name, job) if settings.reuse else None
    if cached is not None:
        log.info("reusing %s from an identical earlier job", name)
        return ToolRun(tool, cached[0], cached[1], True, job["code"])
    result, usage = run_job(_python(settings, tool), _SCRIPTS[tool], job, work, name)
    (work / f"{name}.usage.json").write_text(json.dumps(usage.to_dict()), encoding="utf-8")
    return ToolRun(tool, result, usage, False, job["code"])


def _load_reusable(work: Path, name: str, job: dict) -> tuple[dict, Usage] | None:
    paths = [work / f"{name}.{kind}.json" for kind in ("job", "result", "usage")]
    if not all(p.is_file() for p in paths):
        return None
    if json.loads(paths[0].read_text(encoding="utf-8")) != job:
        return None
    usage = json.loads(paths[2].read_text(encoding="utf-8"))
    usage.pop("cpu_s", None)
    return json.loads(paths[1].read_text(encoding="utf-8")), Usage(**usage)
