"""Session fixtures: binaries compiled from the project's own C sources (nothing is downloaded).

* ``demo_corpus`` - the labelled demo corpus (:func:`attributor.demo.build.build_corpus`).
* ``incident`` - the stripped demo incident (:func:`attributor.demo.build.build_incident`).
* ``fixture_bins`` - small single-purpose programs from ``tests/fixtures/src`` compiled with every
  installed cell of :data:`CELLS`, each with a ``strip --strip-all`` copy; a
  :class:`FixtureBins` mapping ``"<program>/<cell>"`` (e.g. ``"switch/gcc-O2"``) to
  :class:`FixtureBin`. ``fixture_bins.need(key)`` skips the test when that compiler is absent.
* ``each_fixture_bin`` - parametrised over every possible key (skips absent ones).

Builds are cached by a content hash of the sources, this file and the compiler versions, in
pytest's cache folder (``.pytest_cache/d/attributor-bins``), or in the session tmp dir when the
cache plugin is off or ``ATTRIBUTOR_TEST_NOCACHE=1``. The files are shared between sessions:
treat them as read-only (copy before patching). Nothing compiled here is ever executed.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from attributor.demo import build as demo_build

TESTS = Path(__file__).resolve().parent
FIXTURE_SRC = TESTS / "fixtures" / "src"
PROGRAMS = ("switch", "calls", "tiny")
_CLANGS = ("clang", *(f"clang-{v}" for v in range(20, 10, -1)))
_STALE_S = 24 * 3600
_NOLIBC = ("-ffreestanding", "-nostdlib", "-static", "-fno-pie", "-no-pie", "-fno-stack-protector")


@dataclass(frozen=True)
class Cell:
    """One compiler configuration the fixture programs are built with."""

    name: str
    compilers: tuple[str, ...]  # candidate executables, first installed wins
    flags: tuple[str, ...]
    format: str  # "ELF" | "PE"
    bits: int
    strips: tuple[str, ...]
    programs: tuple[str, ...] = PROGRAMS
    suffix: str = ""
    probe: bool = False  # a failed build means "unsupported on this host" (skip), not a bug

    @property
    def arch(self) -> str:
        return "x86-64" if self.bits == 64 else "x86"


CELLS: tuple[Cell, ...] = (
    Cell("gcc-O0", ("gcc",), ("-O0",), "ELF", 64, ("strip",)),
    Cell("gcc-O2", ("gcc",), ("-O2",), "ELF", 64, ("strip",)),
    Cell("clang-O2", _CLANGS, ("-O2",), "ELF", 64, ("strip", "llvm-strip")),
    Cell("gcc32-O2", ("gcc",), ("-m32", "-O2"), "ELF", 32, ("strip",), probe=True),
    Cell(
        "gcc32-nolibc",
        ("gcc",),
        ("-m32", "-O2", *_NOLIBC),
        "ELF",
        32,
        ("strip",),
        ("freestanding",),
        probe=True,
    ),
    Cell(
        "mingw64-O2",
        ("x86_64-w64-mingw32-gcc",),
        ("-O2", "-Wl,--no-insert-timestamp"),
        "PE",
        64,
        ("x86_64-w64-mingw32-strip", "strip"),
        suffix=".exe",
    ),
    Cell(
        "mingw32-O2",
        ("i686-w64-mingw32-gcc",),
        ("-O2", "-Wl,--no-insert-timestamp"),
        "PE",
        32,
        ("i686-w64-mingw32-strip", "strip"),
        suffix=".exe",
    ),
)
ALL_KEYS = tuple(f"{p}/{c.name}" for c in CELLS for p in c.programs)


@dataclass(frozen=True)
class FixtureBin:
    """One compiled fixture program and its stripped copy."""

    key: str  # "<program>/<cell>"
    program: str
    cell: str
    path: Path
    stripped: Path
    format: str
    arch: str
    bits: int


class FixtureBins(dict[str, FixtureBin]):
    """``key -> FixtureBin`` for what could be built; ``missing`` says why the rest could not."""

    def __init__(self, bins: dict[str, FixtureBin], missing: dict[str, str]) -> None:
        super().__init__(bins)
        self.missing = missing

    def need(self, key: str) -> FixtureBin:
        """The fixture, or ``pytest.skip`` when its compiler is not available here."""
        if key in self:
            return self[key]
        cell = key.split("/", 1)[-1]
        if cell in self.missing:
            pytest.skip(f"{key}: {self.missing[cell]}")
        raise KeyError(f"unknown fixture binary {key!r} (known: {', '.join(ALL_KEYS)})")


# -- building ----------------------------------------------------------------------------------


def _which(cands: tuple[str, ...]) -> str | None:
    return next((found for c in cands if (found := shutil.which(c))), None)


def _compiler_identity(cands: tuple[str, ...]) -> str:
    exe = _which(cands)
    if exe is None:
        return f"{cands[0]}:absent"
    try:
        out = subprocess.run([exe, "--version"], capture_output=True, text=True, timeout=30, check=False)
        return f"{exe}:{out.stdout.splitlines()[0] if out.stdout else ''}"
    except (OSError, subprocess.TimeoutExpired):
        return f"{exe}:unknown"


def _content_key(files: list[Path], extra: list[str]) -> str:
    h = hashlib.sha256()
    for f in sorted(files):
        h.update(f.name.encode() + b"\0" + f.read_bytes() + b"\0")
    for e in extra:
        h.update(e.encode() + b"\0")
    return h.hexdigest()[:20]


def _cache_root(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Path:
    cache = getattr(request.config, "cache", None)
    if cache is None or os.environ.get("ATTRIBUTOR_TEST_NOCACHE"):
        return tmp_path_factory.mktemp("attributor-bins")
    return Path(cache.mkdir("attributor-bins"))


def _prune_stale(root: Path, label: str, keep: Path) -> None:
    """Drop builds of older source versions (a day old: a parallel session may still use them)."""
    cutoff = time.time() - _STALE_S
    for old in root.glob(f"{label}-*"):
        with contextlib.suppress(OSError):
            if old != keep and old.stat().st_mtime < cutoff:
                shutil.rmtree(old, ignore_errors=True)


def _cached_build(root: Path, label: str, key: str, build: Callable[[Path], Any]) -> tuple[Path, Any]:
    """Build into a private folder, then rename it into place (safe against parallel sessions)."""
    final = root / f"{label}-{key}"
    manifest = final / "manifest.json"
    if manifest.is_file():
        return final, json.loads(manifest.read_text())
    _prune_stale(root, label, final)
    partial = Path(tempfile.mkdtemp(prefix=f"{label}-{key}.partial-", dir=root))
    try:
        data = build(partial)
        (partial / "manifest.json").write_text(json.dumps(data))
        with contextlib.suppress(OSError):  # another session finished first: use its copy
            os.rename(partial, final)
    finally:
        shutil.rmtree(partial, ignore_errors=True)
    return final, json.loads(manifest.read_text())


def _run(argv: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        argv,
        cwd=FIXTURE_SRC,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env={**os.environ, "LC_ALL": "C", "SOURCE_DATE_EPOCH": "0"},
    )


def _build_one(cell: Cell, program: str, cc: str, strip: str, dest: Path) -> str | None:
    """Compile and strip one program; returns an error line, or None on success."""
    out = dest / f"{program}-{cell.name}{cell.suffix}"
    proc = _run([cc, "-std=gnu99", "-Wall", *cell.flags, "-o", str(out), f"{program}.c"])
    if proc.returncode != 0:
        return f"{Path(cc).name} {' '.join(cell.flags)} failed: {proc.stderr.strip()[-600:]}"
    proc = _run([strip, "--strip-all", "-o", str(out.with_name(out.name + ".stripped")), str(out)])
    if proc.returncode != 0:
        return f"{Path(strip).name} failed: {proc.stderr.strip()[-600:]}"
    return None


def _first_error(text: str) -> str:
    lines = text.splitlines() or [""]
    return next((ln.strip() for ln in lines if "error" in ln.lower()), lines[-1].strip())


def _build_fixtures(dest: Path) -> dict[str, Any]:
    """Compile every installed cell; JSON manifest of built keys and reasons for missing cells."""
    missing: dict[str, str] = {}
    tasks = []
    for cell in CELLS:
        cc, strip = _which(cell.compilers), _which(cell.strips)
        if cc is None or strip is None:
            missing[cell.name] = f"{(cell.compilers if cc is None else cell.strips)[0]} not installed"
            continue
        tasks += [(cell, p, cc, strip) for p in cell.programs]
    with ThreadPoolExecutor(max_workers=min(4, os.cpu_count() or 2)) as pool:
        errors = list(pool.map(lambda t: _build_one(*t, dest), tasks))
    built = []
    for (cell, program, _, _), err in zip(tasks, errors, strict=True):
        if err is None:
            built.append(f"{program}/{cell.name}")
        elif cell.probe:
            missing.setdefault(cell.name, f"{cell.name} unsupported here: {_first_error(err)}")
        else:
            raise RuntimeError(f"fixture build {program}/{cell.name}: {err}")
    built = [k for k in built if k.split("/")[1] not in missing]
    return {"built": built, "missing": missing}


def _fixture_bins_from(folder: Path, manifest: dict[str, Any]) -> FixtureBins:
    cells = {c.name: c for c in CELLS}
    bins = {}
    for key in manifest["built"]:
        program, cname = key.split("/")
        cell = cells[cname]
        path = folder / f"{program}-{cname}{cell.suffix}"
        stripped = path.with_name(path.name + ".stripped")
        bins[key] = FixtureBin(key, program, cname, path, stripped, cell.format, cell.arch, cell.bits)
    return FixtureBins(bins, manifest["missing"])


def _demo_key(label: str) -> str:
    src = demo_build.source_dir()
    files = [*src.glob("*.[ch]"), Path(demo_build.__file__)]
    tools = [_compiler_identity(t.candidates) for t in demo_build.TOOLCHAINS.values()]
    return _content_key(files, [label, *tools])


def _require_gcc() -> None:
    if shutil.which("gcc") is None:
        pytest.skip("gcc not installed: cannot compile test binaries")


# -- fixtures ----------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def fixture_bins(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> FixtureBins:
    """Small fixture programs x installed compiler cells (see module docstring)."""
    _require_gcc()
    files = [*FIXTURE_SRC.glob("*.[ch]"), Path(__file__)]
    key = _content_key(files, [_compiler_identity(c.compilers) for c in CELLS])
    folder, manifest = _cached_build(_cache_root(request, tmp_path_factory), "fixtures", key, _build_fixtures)
    return _fixture_bins_from(folder, manifest)


@pytest.fixture(params=ALL_KEYS)
def each_fixture_bin(request: pytest.FixtureRequest, fixture_bins: FixtureBins) -> FixtureBin:
    """Every fixture binary in turn; skipped where its compiler is absent."""
    return fixture_bins.need(request.param)


@pytest.fixture(scope="session")
def demo_corpus(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> list[demo_build.BuiltSample]:
    """The labelled demo corpus: every toolkit x installed toolchain cell, plus libcommon."""
    _require_gcc()

    def build(dest: Path) -> list[dict[str, Any]]:
        samples = demo_build.build_corpus(dest, jobs=min(4, os.cpu_count() or 2))
        return [{**dataclasses.asdict(s), "path": s.path.name} for s in samples]

    folder, rows = _cached_build(_cache_root(request, tmp_path_factory), "demo", _demo_key("corpus"), build)
    return [demo_build.BuiltSample(**{**r, "path": folder / r["path"]}) for r in rows]


@pytest.fixture(scope="session")
def incident(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The stripped demo incident binary."""
    _require_gcc()

    def build(dest: Path) -> str:
        return demo_build.build_incident(dest).name

    root = _cache_root(request, tmp_path_factory)
    folder, name = _cached_build(root, "incident", _demo_key("incident"), build)
    return folder / name
