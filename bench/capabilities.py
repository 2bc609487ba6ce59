"""Capabilities: capa's rules over attributor's extractor vs capa's default vivisect backend.

    python bench/capabilities.py [--rules ../shared/capa-rules] [--datasets .cache/datasets]
                                 [--timeout 900] [--json OUT]

For each binary (our capability and crypto fixtures, compiled here, and a few real libraries from
the embedded-reuse dataset, the largest about 5 MB) both sides run in a fresh subprocess and are
charged the CPU seconds (user + system) of that process:

* ``attributor``: load, ``recover``, :func:`detect_capabilities` with the cached rule set.
* ``capa-viv``: ``python -m capa.main -q -j -r RULES -s EMPTY FILE`` (vivisect backend, its own rule
  cache, no FLIRT signatures: attributor does no library identification either).

Both caches are warmed first, so neither side pays for compiling the rules. Agreement compares the
reported rule names (no ``lib`` rules): both / only attributor / only vivisect. A vivisect run
past ``--timeout`` is recorded as a lower bound. :func:`run` is the job ``bench/run.py`` calls.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SRC = REPO / "tests" / "fixtures" / "src"
FIXTURES = (
    ("destroy_win", "x86_64-w64-mingw32-gcc", ".exe"),
    ("crypto_algos", "x86_64-w64-mingw32-gcc", ".exe"),
    ("destroy_elf", "gcc", ""),
    ("benign_io", "gcc", ""),
)
# real libraries, smallest to largest (libcrypto.so.3 of bookworm is 4.7 MB)
LIBRARIES = (
    "references/zlib",
    "references/libc/bookworm_2.36-9+deb12u14/libc.so.6",
    "references/openssl/bookworm_3.0.20-1~deb12u2/libcrypto.so.3",
)
_STAGES = """
import json, sys, time
from attributor.disasm.recover import recover
from attributor.evidence.capabilities import detect_capabilities, load_rules
from attributor.evidence.crypto import detect_crypto, extract_key_material
from attributor.evidence.indicators import extract_indicators
from attributor.loading.loader import load_path
rules = load_rules(sys.argv[2])
t = {}
c = time.process_time(); b = load_path(sys.argv[1]); t["load"] = time.process_time() - c
c = time.process_time(); p = recover(b); t["recover"] = time.process_time() - c
c = time.process_time(); h = detect_crypto(b, p); extract_key_material(b, h, p)
t["crypto"] = time.process_time() - c
c = time.process_time(); extract_indicators(b, p); t["indicators"] = time.process_time() - c
c = time.process_time(); detect_capabilities(b, p, rules); t["capabilities"] = time.process_time() - c
print(json.dumps(t))
"""
_OURS = """
import json, sys
from attributor.disasm.recover import recover
from attributor.evidence.capabilities import detect_capabilities, load_rules
from attributor.loading.loader import load_path
rules = load_rules(sys.argv[2])
b = load_path(sys.argv[1])
print(json.dumps(sorted({e.value for e in detect_capabilities(b, recover(b), rules)})))
"""


def _timed(argv: list[str], timeout: float) -> tuple[float, str | None]:
    """CPU seconds of a child process and its stdout (None when it failed or timed out)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    try:
        proc = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, check=False, cwd=REPO)
        out = proc.stdout if proc.returncode == 0 else None
    except subprocess.TimeoutExpired:
        out = None
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime), out


def stages(path: Path, rules: Path, timeout: float) -> dict[str, float] | None:
    """CPU seconds of each evidence stage on ``path`` in one fresh process (rules cache warm)."""
    _cpu, out = _timed([sys.executable, "-c", _STAGES, str(path), str(rules)], timeout)
    return None if out is None else {k: round(v, 2) for k, v in json.loads(out).items()}


def ours(path: Path, rules: Path, timeout: float) -> tuple[float, set[str] | None]:
    cpu, out = _timed([sys.executable, "-c", _OURS, str(path), str(rules)], timeout)
    return cpu, None if out is None else set(json.loads(out))


def vivisect(path: Path, rules: Path, timeout: float) -> tuple[float, set[str] | None]:
    # an empty signatures folder: no FLIRT library identification, which attributor lacks too
    with tempfile.TemporaryDirectory(prefix="no-sigs-") as sigs:
        argv = [sys.executable, "-m", "capa.main", "-q", "-j", "-r", str(rules), "-s", sigs, str(path)]
        cpu, out = _timed(argv, timeout)
    if out is None:
        return cpu, None
    doc = json.loads(out)
    return cpu, {name for name, r in doc["rules"].items() if not r["meta"].get("lib")}


def build_fixtures(dest: Path) -> list[Path]:
    """Compile the fixture programs with the installed compilers (missing ones are skipped)."""
    out = []
    for program, cc, suffix in FIXTURES:
        if shutil.which(cc) is None:
            continue
        target = dest / f"{program}{suffix}"
        cmd = [cc, "-std=gnu99", "-O2", "-o", str(target), str(SRC / f"{program}.c")]
        if subprocess.run(cmd, capture_output=True, check=False).returncode == 0:
            out.append(target)
    return out


def library_paths(datasets: Path) -> list[Path]:
    root = datasets / "embedded-reuse"
    out = []
    for rel in LIBRARIES:
        p = root / rel
        if p.is_dir():  # a family folder: its smallest shared object
            sos = sorted((f for f in p.rglob("*.so*") if f.is_file()), key=lambda f: f.stat().st_size)
            p = sos[0] if sos else p
        if p.is_file():
            out.append(p)
    return out


def run(rules: Path, datasets: Path, timeout: float = 900.0) -> dict:
    """Measure every binary; returns ``{"rows": [...], "totals": {...}}`` (see module doc)."""
    with tempfile.TemporaryDirectory(prefix="bench-capa-") as tmp:
        binaries = [*build_fixtures(Path(tmp)), *library_paths(datasets)]
        if binaries:  # warm both rule caches
            ours(binaries[0], rules, timeout)
            vivisect(binaries[0], rules, timeout)
        rows = [_row(b, rules, timeout) for b in binaries]
    ok = [r for r in rows if r["viv_rules"] is not None and r["ours_rules"] is not None]
    totals = {
        "ours_cpu_s": sum(r["ours_cpu_s"] for r in rows),
        "viv_cpu_s": sum(r["viv_cpu_s"] for r in rows),
        "both": sum(r["both"] for r in ok),
        "only_ours": sum(r["only_ours"] for r in ok),
        "only_viv": sum(r["only_viv"] for r in ok),
    }
    totals["ratio"] = totals["viv_cpu_s"] / max(totals["ours_cpu_s"], 1e-9)
    when = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")
    return {"rows": rows, "totals": totals, "run": {"date": when}}


def _row(path: Path, rules: Path, timeout: float) -> dict:
    t_ours, r_ours = ours(path, rules, timeout)
    t_viv, r_viv = vivisect(path, rules, timeout)
    st = stages(path, rules, timeout)
    row = {
        "stages_cpu_s": st,
        "evidence_cpu_s": None if st is None else round(sum(st.values()) - st["capabilities"], 2),
        "binary": path.name,
        "size": path.stat().st_size,
        "ours_cpu_s": round(t_ours, 2),
        "viv_cpu_s": round(t_viv, 2),
        "viv_timed_out": r_viv is None,
        "ratio": round(t_viv / max(t_ours, 1e-9), 1),
        "ours_rules": sorted(r_ours) if r_ours is not None else None,
        "viv_rules": sorted(r_viv) if r_viv is not None else None,
    }
    if r_ours is not None and r_viv is not None:
        row |= {
            "both": len(r_ours & r_viv),
            "only_ours": len(r_ours - r_viv),
            "only_viv": len(r_viv - r_ours),
        }
        row |= {"only_ours_names": sorted(r_ours - r_viv), "only_viv_names": sorted(r_viv - r_ours)}
    print(json.dumps({k: v for k, v in row.items() if not k.endswith("_rules")}), file=sys.stderr, flush=True)
    return row


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument(
        "--rules", type=Path, default=Path(os.environ.get("ATTRIBUTOR_CAPA_RULES", "../shared/capa-rules"))
    )
    ap.add_argument(
        "--datasets", type=Path, default=Path(os.environ.get("DATASETS_CACHE", ".cache/datasets"))
    )
    ap.add_argument("--timeout", type=float, default=900.0, help="seconds per vivisect run")
    ap.add_argument("--json", type=Path, default=None, help="write the results here")
    args = ap.parse_args(argv)
    started = time.perf_counter()
    result = run(args.rules.resolve(), args.datasets.resolve(), args.timeout)
    result["wall_s"] = round(time.perf_counter() - started, 1)
    text = json.dumps(result, indent=1)
    if args.json:
        args.json.write_text(text)
    print(json.dumps(result["totals"]))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
