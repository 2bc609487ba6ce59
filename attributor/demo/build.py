"""Build the labelled demo corpus (and a demo "incident") from the project's own benign C sources.

Four fictional toolkits share C modules in an overlapping pattern and all link ``libcommon``:

========  ===================  ==========================================
family    actor                modules (besides ``libcommon`` and own code)
========  ===================  ==========================================
aurora    ACTOR-NORTHWIND      cipher, walker, beacon
borealis  ACTOR-SOUTHGALE      cipher, config
cirrus    ACTOR-EASTFOG        walker, logger
drizzle   (none)               config, logger
========  ===================  ==========================================

Each toolkit is compiled with every available cell of :data:`CORPUS_MATRIX` (gcc -O0/-O2, clang
-O1/-O2 as ELF x86-64, mingw-w64 -O2 as PE32+); ``libcommon`` alone is compiled as a shared
object / DLL per cell and labelled ``library=True``. The incident mixes aurora's cipher and beacon,
borealis's own core and new code, built with a compiler / optimisation level absent from the
corpus and stripped. Nothing built here is ever executed by this module.

Builds are reproducible: sources are compiled from inside the source folder with relative names,
prefix maps are set, ``SOURCE_DATE_EPOCH`` is fixed and PE timestamps are suppressed.
"""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from attributor.errors import E_IO, AttributorError, FileAccessError

log = logging.getLogger(__name__)

COMPILE_TIMEOUT_S = 300
_STDERR_LINES = 8


class ToolchainError(AttributorError):
    """A compiler needed for the demo corpus is missing or failed."""

    exit_code = E_IO


@dataclass(frozen=True)
class Toolchain:
    """One compiler driver and the binary format it produces."""

    name: str  # short label used in file names: "gcc", "clang", "mingw"
    candidates: tuple[str, ...]  # executables to look for, first found wins
    format: str  # "ELF" | "PE"
    strip_candidates: tuple[str, ...]
    exe_suffix: str = ""
    lib_suffix: str = ".so"

    def find(self) -> str | None:
        """Absolute path of the first installed candidate, or None."""
        for cand in self.candidates:
            found = shutil.which(cand)
            if found:
                return found
        return None

    def find_strip(self) -> str | None:
        for cand in self.strip_candidates:
            found = shutil.which(cand)
            if found:
                return found
        return None


GCC = Toolchain("gcc", ("gcc",), "ELF", ("strip",))
_CLANGS = ("clang", *(f"clang-{v}" for v in range(20, 10, -1)))
CLANG = Toolchain("clang", _CLANGS, "ELF", ("strip", "llvm-strip"))
MINGW = Toolchain(
    "mingw", ("x86_64-w64-mingw32-gcc",), "PE", ("x86_64-w64-mingw32-strip", "strip"), ".exe", ".dll"
)
TOOLCHAINS = {t.name: t for t in (GCC, CLANG, MINGW)}

# (toolchain, optimisation level) cells every toolkit is compiled with.
CORPUS_MATRIX: tuple[tuple[str, str], ...] = (
    ("gcc", "O0"),
    ("gcc", "O2"),
    ("clang", "O1"),
    ("clang", "O2"),
    ("mingw", "O2"),
)
# Incident build: first installed cell wins; none of them is used for the corpus.
INCIDENT_CELLS: tuple[tuple[str, str], ...] = (("gcc", "O1"), ("clang", "O3"), ("gcc", "Os"))


@dataclass(frozen=True)
class Toolkit:
    """A fictional family: shared modules plus its own ``<family>_core.c`` and ``<family>_main.c``."""

    family: str
    actor: str | None
    modules: tuple[str, ...]

    @property
    def sources(self) -> tuple[str, ...]:
        own = (f"{self.family}_core.c", f"{self.family}_main.c")
        return (*(f"{m}.c" for m in self.modules), *own, "libcommon.c")


TOOLKITS: tuple[Toolkit, ...] = (
    Toolkit("aurora", "ACTOR-NORTHWIND", ("cipher", "walker", "beacon")),
    Toolkit("borealis", "ACTOR-SOUTHGALE", ("cipher", "config")),
    Toolkit("cirrus", "ACTOR-EASTFOG", ("walker", "logger")),
    Toolkit("drizzle", None, ("config", "logger")),
)
LIBRARY_FAMILY = "libcommon"
INCIDENT_SOURCES = ("cipher.c", "beacon.c", "borealis_core.c", "incident_main.c", "libcommon.c")


@dataclass(frozen=True)
class BuiltSample:
    """One compiled corpus binary and its ground-truth labels."""

    path: Path
    family: str
    actor: str | None
    library: bool
    compiler: str  # toolchain label: "gcc" | "clang" | "mingw"
    opt: str  # "O0", "O1", "O2", ...
    format: str  # "ELF" | "PE"
    arch: str = "x86-64"

    @property
    def toolchain(self) -> str:
        return f"{self.compiler}-{self.opt}"


@dataclass(frozen=True)
class _Job:
    """One compiler invocation producing one output file."""

    sample: BuiltSample
    cc: str
    sources: tuple[str, ...]
    shared: bool = False


def source_dir() -> Path:
    """Folder holding the demo C sources (package data)."""
    return Path(__file__).resolve().parent / "src"


def available_toolchains() -> dict[str, str]:
    """Toolchain label -> compiler executable, for the toolchains installed on this machine."""
    out = {}
    for name, tc in TOOLCHAINS.items():
        exe = tc.find()
        if exe:
            out[name] = exe
    return out


def _require_gcc(found: dict[str, str]) -> None:
    if "gcc" not in found:
        raise ToolchainError("gcc not found on PATH: the demo corpus needs at least gcc (apt install gcc)")


def _mkdir(outdir: Path) -> Path:
    try:
        outdir.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise FileAccessError(f"{outdir}: cannot create output folder: {e.strerror or e}") from None
    return outdir.resolve()


def _flags(tc: Toolchain, opt: str, shared: bool) -> list[str]:
    """Deterministic compile and link flags (default unwind tables are kept on purpose)."""
    src = str(source_dir())
    flags = ["-std=gnu99", "-Wall", f"-{opt}", f"-ffile-prefix-map={src}=.", f"-fdebug-prefix-map={src}=."]
    if tc.format == "PE":
        flags.append("-Wl,--no-insert-timestamp")
        if shared:  # the automatic DLL base is a hash of the output path: not reproducible
            flags += ["-DLIBCOMMON_BUILD_DLL", "-Wl,--disable-auto-image-base"]
    elif shared:
        flags.append("-fPIC")
    if shared:
        flags.append("-shared")
    return flags


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env.update(SOURCE_DATE_EPOCH="0", LC_ALL="C", ZERO_AR_DATE="1")
    return env


def _one_line(text: str) -> str:
    lines = [ln.strip() for ln in text.strip().splitlines() if ln.strip()]
    more = f" (+{len(lines) - _STDERR_LINES} more lines)" if len(lines) > _STDERR_LINES else ""
    return " | ".join(lines[:_STDERR_LINES]) + more


def _run(argv: list[str], what: str) -> None:
    """Run one tool from the source folder; raise ToolchainError with its stderr on failure."""
    try:
        proc = subprocess.run(
            argv, cwd=source_dir(), env=_env(), capture_output=True, text=True,
            timeout=COMPILE_TIMEOUT_S, check=False,
        )
    except FileNotFoundError:
        raise ToolchainError(f"{argv[0]} not found while building {what}") from None
    except subprocess.TimeoutExpired:
        raise ToolchainError(f"{argv[0]} timed out after {COMPILE_TIMEOUT_S}s building {what}") from None
    except OSError as e:
        raise ToolchainError(f"{argv[0]} could not run while building {what}: {e}") from None
    if proc.returncode != 0:
        detail = _one_line(proc.stderr) or "no output"
        tool = Path(argv[0]).name
        raise ToolchainError(f"{tool} failed building {what} (exit {proc.returncode}): {detail}")


def _compile(job: _Job) -> BuiltSample:
    tc = TOOLCHAINS[job.sample.compiler]
    out = job.sample.path
    # Link under the final base name (a DLL records it) in a private folder, then move in place.
    tmpdir = out.with_name(f".tmp-{out.name}")
    shutil.rmtree(tmpdir, ignore_errors=True)
    tmpdir.mkdir()
    try:
        argv = [job.cc, *_flags(tc, job.sample.opt, job.shared), "-o", str(tmpdir / out.name), *job.sources]
        _run(argv, out.name)
        os.replace(tmpdir / out.name, out)
    finally:
        shutil.rmtree(tmpdir, ignore_errors=True)
    return job.sample


def _output_name(family: str, tc: Toolchain, opt: str, shared: bool) -> str:
    suffix = tc.lib_suffix if shared else tc.exe_suffix
    return f"{family}-{tc.name}-{opt}{suffix}"


def _corpus_jobs(outdir: Path, found: dict[str, str]) -> list[_Job]:
    jobs: list[_Job] = []
    for name, opt in CORPUS_MATRIX:
        tc = TOOLCHAINS[name]
        if name not in found:
            continue
        for kit in TOOLKITS:
            path = outdir / _output_name(kit.family, tc, opt, False)
            sample = BuiltSample(path, kit.family, kit.actor, False, name, opt, tc.format)
            jobs.append(_Job(sample, found[name], kit.sources))
        lib = BuiltSample(outdir / _output_name(LIBRARY_FAMILY, tc, opt, True), LIBRARY_FAMILY,
                          None, True, name, opt, tc.format)
        jobs.append(_Job(lib, found[name], ("libcommon.c",), shared=True))
    return jobs


def _run_parallel(jobs: Sequence[_Job], workers: int) -> list[BuiltSample]:
    """Compile all jobs on a thread pool; the first failure (in job order) is raised."""
    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        futures = [pool.submit(_compile, j) for j in jobs]
        return [f.result() for f in futures]


def build_corpus(outdir: Path, jobs: int = 2) -> list[BuiltSample]:
    """Compile every toolkit (and libcommon) with every installed toolchain cell into ``outdir``.

    Missing optional toolchains (clang, mingw-w64) are skipped with a warning; gcc is required.
    Returns the samples in a stable order: matrix cell, then toolkit, then the library.
    """
    found = available_toolchains()
    _require_gcc(found)
    for name in dict.fromkeys(n for n, _ in CORPUS_MATRIX):
        if name not in found:
            tc = TOOLCHAINS[name]
            log.warning("demo corpus: %s not installed (%s); skipping its builds", name, tc.candidates[0])
    out = _mkdir(Path(outdir))
    return _run_parallel(_corpus_jobs(out, found), jobs)


def _incident_cell(found: dict[str, str]) -> tuple[str, str]:
    for name, opt in INCIDENT_CELLS:
        if name in found:
            return name, opt
    raise ToolchainError("no compiler for the incident build (needs gcc or clang)")


def build_incident(outdir: Path, keep_unstripped: bool = False) -> Path:
    """Compile and strip the demo incident; returns its path (``incident`` in ``outdir``).

    It combines aurora's cipher and beacon modules, borealis's own core module and code never
    seen in the corpus, and is built with a compiler / optimisation level the corpus does not use.
    ``keep_unstripped`` keeps ``incident-unstripped`` (symbols = ground truth) next to it.
    """
    found = available_toolchains()
    _require_gcc(found)
    name, opt = _incident_cell(found)
    tc = TOOLCHAINS[name]
    out = _mkdir(Path(outdir))
    unstripped = out / f"incident-unstripped{tc.exe_suffix}"
    sample = BuiltSample(unstripped, "incident", None, False, name, opt, tc.format)
    _compile(_Job(sample, found[name], INCIDENT_SOURCES))
    final = out / f"incident{tc.exe_suffix}"
    strip = tc.find_strip()
    if strip is None:
        raise ToolchainError(f"no strip tool found for {name} ({', '.join(tc.strip_candidates)})")
    _run([strip, "--strip-all", "-o", str(final), str(unstripped)], final.name)
    if not keep_unstripped:
        unstripped.unlink()
    return final
