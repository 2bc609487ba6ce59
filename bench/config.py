"""Settings of one benchmark run, derived from the command line."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from bench.procs import BENCH_DIR, REPO_ROOT

TASKS = ("function-match", "embedded-reuse", "speed")
PEERS = ("mcrit", "tlsh", "ssdeep")


@dataclass(frozen=True)
class Settings:
    cache: Path  # root of everything the bench writes (default .cache)
    datasets: Path  # dataset cache ($DATASETS_CACHE, default <cache>/datasets)
    shared: Path  # the shared folder with datasets/build_*.py
    only: tuple[str, ...]
    tools: tuple[str, ...]  # attributor (unless skipped) and the chosen peers
    quick: bool
    pool_size: int
    seed: int
    reuse: bool
    output: Path  # the markdown report
    command: str

    @property
    def work(self) -> Path:
        return self.cache / "bench"

    @property
    def peers_venv(self) -> Path:
        return self.work / "venv-peers"

    @property
    def mode(self) -> str:
        return "quick" if self.quick else "full"

    def wants(self, task: str) -> bool:
        return task in self.only


def code_digest(paths: list[Path]) -> str:
    """SHA-256 over the given files (recursively for folders): identifies the code a job ran."""
    h = hashlib.sha256()
    for root in paths:
        files = sorted(root.rglob("*.py")) if root.is_dir() else [root]
        for f in files:
            h.update(str(f.relative_to(REPO_ROOT)).encode())
            h.update(f.read_bytes())
    return h.hexdigest()[:16]


def attributor_digest() -> str:
    return code_digest([REPO_ROOT / "attributor", BENCH_DIR / "runners", BENCH_DIR / "ranking.py"])


def peers_digest() -> str:
    return code_digest([BENCH_DIR / "peers", BENCH_DIR / "ranking.py", BENCH_DIR / "requirements-peers.txt"])
