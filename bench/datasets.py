"""Dataset access: build the shared datasets when missing, and read their ground truth.

The datasets are built by the shared scripts (``<shared>/datasets/build_*.py``) into
``$DATASETS_CACHE`` (default ``<cache>/datasets``). Nothing here interprets scores; it only turns
``ground_truth.json`` into small typed records.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

log = logging.getLogger("bench")

FUNCTION_MATCH = "function-match"
EMBEDDED_REUSE = "embedded-reuse"
_BUILD_SCRIPTS = {
    FUNCTION_MATCH: "build_function_match.py",
    EMBEDDED_REUSE: "build_embedded_reuse.py",
}


def ensure_dataset(name: str, datasets_dir: Path, shared_dir: Path) -> Path:
    """Return ``<datasets_dir>/<name>``, running the shared build script first if needed."""
    root = datasets_dir / name
    if (root / "ground_truth.json").is_file():
        return root
    script = shared_dir / "datasets" / _BUILD_SCRIPTS[name]
    if not script.is_file():
        raise SystemExit(f"dataset {name} is missing and {script} does not exist (see --shared)")
    log.info("building dataset %s with %s (first run takes minutes)", name, script)
    env = dict(os.environ, DATASETS_CACHE=str(datasets_dir))
    subprocess.run([sys.executable, str(script)], check=True, env=env)
    return root


def load_json(path: Path) -> dict:
    with open(path, encoding="utf-8") as fh:
        return json.load(fh)


# --------------------------------------------------------------------------- function-match


@dataclass(frozen=True)
class GTFunction:
    addr: int
    key: str
    origin: str  # "library" | "runtime"
    fragment: bool


@dataclass
class FMBinary:
    id: str  # "<library>/<toolchain>"
    library: str
    toolchain: str
    format: str
    path: Path  # the stripped copy
    unstripped: Path
    image_base: int
    functions: list[GTFunction] = field(default_factory=list)

    def entries(self) -> list[GTFunction]:
        """Real function entries (fragments dropped)."""
        return [f for f in self.functions if not f.fragment]

    def library_entries(self) -> list[GTFunction]:
        """Entries that a matcher gets credit for: library code, not CRT/runtime, not fragments."""
        return [f for f in self.functions if not f.fragment and f.origin != "runtime"]


def read_function_match(root: Path) -> tuple[dict, list[FMBinary]]:
    gt = load_json(root / "ground_truth.json")
    binaries = [_fm_binary(root, b) for b in gt["binaries"]]
    return gt, binaries


def _fm_binary(root: Path, b: dict) -> FMBinary:
    funcs = [
        GTFunction(int(f["addr"], 16), f["key"], f["origin"], bool(f["fragment"])) for f in b["functions"]
    ]
    return FMBinary(
        id=b["id"],
        library=b["library"],
        toolchain=b["toolchain"],
        format=b["format"],
        path=root / b["stripped"],
        unstripped=root / b["unstripped"],
        image_base=int(b["image_base"], 16),
        functions=funcs,
    )


# --------------------------------------------------------------------------- embedded-reuse


@dataclass(frozen=True)
class Reference:
    id: str
    family: str
    runtime: bool
    suite: str
    path: Path


@dataclass
class Query:
    id: str
    path: Path  # the file as shipped in the wheel (may still carry .symtab)
    package: str
    positives: list[str]  # contains[].verified
    uncertain: list[str]  # contains[] not verified: never scored
    negative_controls: list[str]
    negatives_all: list[str]
    vendored_copy_of: str | None = None


def read_embedded_reuse(root: Path) -> tuple[dict, list[Reference], list[Query]]:
    gt = load_json(root / "ground_truth.json")
    refs = [
        Reference(r["id"], r["family"], bool(r.get("runtime")), r.get("suite", ""), root / r["path"])
        for r in gt["references"]
    ]
    return gt, refs, [_query(root, q) for q in gt["queries"]]


def _query(root: Path, q: dict) -> Query:
    contains = q.get("contains", [])
    return Query(
        id=q["id"],
        path=root / q["path"],
        package=q.get("package", ""),
        positives=sorted(c["family"] for c in contains if c.get("verified")),
        uncertain=sorted(c["family"] for c in contains if not c.get("verified")),
        negative_controls=sorted(n["family"] for n in q.get("negative_controls", [])),
        negatives_all=sorted(q.get("negatives_all", [])),
        vendored_copy_of=q.get("vendored_copy_of"),
    )


def stripped_copy(src: Path, dst: Path) -> Path:
    """``strip --strip-all`` copy of ``src`` at ``dst`` (cached): no .symtab reaches any tool."""
    if dst.is_file() and dst.stat().st_mtime >= src.stat().st_mtime:
        return dst
    dst.parent.mkdir(parents=True, exist_ok=True)
    strip = shutil.which("strip")
    if strip is None:
        raise SystemExit("`strip` (binutils) is needed to make symbol-free query copies")
    subprocess.run([strip, "--strip-all", "-o", str(dst), str(src)], check=True)
    return dst
