"""Run one tool job as a subprocess and measure it (CPU seconds, peak RSS, wall time).

A job is a JSON file; the runner script writes a JSON result. The child's resource usage comes
from ``os.wait4`` (its own rusage, children included, not ours), so every tool is measured the
same way whatever venv it runs in.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import time
import venv
from dataclasses import asdict, dataclass
from pathlib import Path

log = logging.getLogger("bench")

BENCH_DIR = Path(__file__).resolve().parent
REPO_ROOT = BENCH_DIR.parent


@dataclass(frozen=True)
class Usage:
    cpu_user_s: float
    cpu_sys_s: float
    max_rss_mib: float
    wall_s: float

    @property
    def cpu_s(self) -> float:
        return self.cpu_user_s + self.cpu_sys_s

    def to_dict(self) -> dict:
        return {**asdict(self), "cpu_s": self.cpu_s}


def run_job(python: Path, script: Path, job: dict, work: Path, name: str) -> tuple[dict, Usage]:
    """Run ``python script job.json result.json`` under ``nice``; raise if it fails."""
    work.mkdir(parents=True, exist_ok=True)
    job_path, result_path, log_path = (
        work / f"{name}.job.json",
        work / f"{name}.result.json",
        work / f"{name}.log",
    )
    job_path.write_text(json.dumps(job, indent=1), encoding="utf-8")
    result_path.unlink(missing_ok=True)
    cmd = ["nice", "-n", "10", str(python), str(script), str(job_path), str(result_path)]
    log.info("running %s (log: %s)", name, log_path)
    start = time.perf_counter()
    with open(log_path, "w", encoding="utf-8") as log_fh:
        env = dict(os.environ, TQDM_DISABLE="1")  # MCRIT's progress bars would flood the log
        proc = subprocess.Popen(cmd, stdout=log_fh, stderr=subprocess.STDOUT, cwd=REPO_ROOT, env=env)
        _, status, rusage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
    usage = Usage(rusage.ru_utime, rusage.ru_stime, rusage.ru_maxrss / 1024.0, time.perf_counter() - start)
    if proc.returncode != 0 or not result_path.is_file():
        tail = log_path.read_text(encoding="utf-8", errors="replace")[-3000:]
        raise RuntimeError(f"{name} failed with exit code {proc.returncode}; log tail:\n{tail}")
    log.info(
        "%s done: %.0f CPU s, %.0f MiB peak RSS, %.0f s wall",
        name,
        usage.cpu_s,
        usage.max_rss_mib,
        usage.wall_s,
    )
    return json.loads(result_path.read_text(encoding="utf-8")), usage


def ensure_peers_venv(venv_dir: Path, requirements: Path) -> Path:
    """Create the peers venv once (``pip install -r requirements``); return its python."""
    python = venv_dir / "bin" / "python"
    stamp = venv_dir / ".requirements"
    wanted = requirements.read_text(encoding="utf-8")
    if python.is_file() and stamp.is_file() and stamp.read_text(encoding="utf-8") == wanted:
        return python
    if not python.is_file():
        log.info("creating the peers venv in %s", venv_dir)
        venv.EnvBuilder(with_pip=True).create(venv_dir)
    subprocess.run([str(python), "-m", "pip", "install", "-q", "-r", str(requirements)], check=True)
    stamp.write_text(wanted, encoding="utf-8")
    return python


def our_python() -> Path:
    return Path(sys.executable)
