"""Golden JSON of the demo flow (corpus -> MemoryStore -> match the incident), and its determinism.

The compiled bytes depend on the toolchain, so the golden file is only compared on a machine whose
compilers, linkers and C library report the versions recorded next to it
(``golden/demo_incident.toolchain.txt``); elsewhere the comparison is skipped with the difference.
Regenerate both files with ``ATTRIBUTOR_UPDATE_GOLDEN=1`` and review ``git diff tests/golden``.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from golden_util import GOLDEN_DIR, UPDATE_ENV, assert_golden
from helpers_demo import report_json, sample_rows

from attributor.demo import build as demo_build
from attributor.render.json import render_json
from attributor.report.document import MatchReport

TESTS = Path(__file__).resolve().parent
GOLDEN = "demo_incident.json"
TOOLCHAIN_FILE = GOLDEN_DIR / "demo_incident.toolchain.txt"
# Besides the compilers: the linkers and the C library put their own code into every binary.
EXTRA_TOOLS = (
    ("ld", ("ld",)),
    ("mingw-ld", ("x86_64-w64-mingw32-ld",)),
    ("strip", ("strip",)),
    ("libc", ("ldd",)),
)


def _first_line(exe: str | None) -> str:
    if exe is None:
        return "absent"
    try:
        out = subprocess.run([exe, "--version"], capture_output=True, text=True, timeout=30, check=False)
    except (OSError, subprocess.TimeoutExpired) as e:
        return f"unknown ({type(e).__name__})"
    lines = (out.stdout or out.stderr).splitlines()
    return lines[0].strip() if lines else "unknown"


def toolchain_identity() -> str:
    """One line per tool that shapes the demo binaries: ``name: first line of --version``."""
    tools = [(name, tc.find()) for name, tc in demo_build.TOOLCHAINS.items()]
    tools += [(name, next((p for c in cands if (p := shutil.which(c))), None)) for name, cands in EXTRA_TOOLS]
    return "".join(f"{name}: {_first_line(exe)}\n" for name, exe in tools)


def test_demo_incident_golden(demo_corpus, incident) -> None:
    text = report_json(demo_corpus, incident)
    here = toolchain_identity()
    if os.environ.get(UPDATE_ENV) == "1":
        TOOLCHAIN_FILE.write_text(here, encoding="utf-8", newline="\n")
    elif not TOOLCHAIN_FILE.exists():
        raise AssertionError(f"{TOOLCHAIN_FILE} is missing; create it with {UPDATE_ENV}=1")
    else:
        recorded = TOOLCHAIN_FILE.read_text(encoding="utf-8")
        if recorded != here:
            differ = sorted(set(here.splitlines()) ^ set(recorded.splitlines()))
            pytest.skip(
                "golden/demo_incident.json was recorded with another toolchain, so the demo binaries "
                f"differ here ({'; '.join(differ)}); regenerate with {UPDATE_ENV}=1 to compare locally"
            )
    assert_golden(GOLDEN, text)


def test_report_json_is_a_valid_document_that_round_trips(demo_corpus, incident) -> None:
    text = report_json(demo_corpus, incident)
    report = MatchReport.model_validate_json(text)
    assert render_json(report) == text
    doc = report.results[0]
    assert doc.sample.format == "ELF" and doc.corpus.samples == len(demo_corpus)
    assert {f.family for f in doc.attributed_families} == {"aurora", "borealis"}


def _report_in_subprocess(rows: Path, incident: Path, seed: int) -> str:
    proc = subprocess.run(
        [sys.executable, str(TESTS / "helpers_demo.py"), "report", str(rows), str(incident)],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONHASHSEED": str(seed)},
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    return proc.stdout


def test_demo_flow_is_deterministic_across_hash_seeds(demo_corpus, incident, tmp_path) -> None:
    rows = tmp_path / "rows.json"
    rows.write_text(sample_rows(demo_corpus))
    first, second = (_report_in_subprocess(rows, incident, seed) for seed in (0, 987654321))
    assert first == second
    assert first == report_json(demo_corpus, incident)
