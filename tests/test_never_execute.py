"""Never execute a sample: statically (no code path can reach a process, a loader or an importer
with a sample) and behaviourally (samples that would leave a marker file when run leave none).
"""

from __future__ import annotations

import ast
import hashlib
import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from attributor.errors import E_UNSUPPORTED

REPO = Path(__file__).resolve().parents[1]
PACKAGE = REPO / "attributor"

# Modules whose every use can start a program, load native code or import/execute Python.
DANGEROUS_MODULES = {
    "subprocess",
    "ctypes",
    "_ctypes",
    "importlib",
    "runpy",
    "pty",
    "code",
    "cffi",
    "_posixsubprocess",
}
# Attributes of harmless modules that do the same.
DANGEROUS_ATTRS = {
    "os": {
        "system", "popen", "execv", "execve", "execl", "execle", "execlp", "execlpe", "execvp", "execvpe",
        "spawnl", "spawnle", "spawnlp", "spawnlpe", "spawnv", "spawnve", "spawnvp", "spawnvpe",
        "posix_spawn", "posix_spawnp", "startfile", "forkpty",
    },
    "multiprocessing": {"set_executable"},
    "platform": {"popen"},
    "webbrowser": {"open", "open_new", "open_new_tab"},
}  # fmt: skip
DANGEROUS_BUILTINS = {"exec", "eval", "compile", "__import__", "breakpoint"}
# The one legitimate use: `attributor demo` compiles the project's own C sources.
ALLOWED = {("attributor/demo/build.py", "subprocess")}
ALLOWED_BUILD_IMPORTERS = {"attributor/cli/demo.py"}
# Read-only lookups: installed versions (recorded in reports and case manifests), bundled package
# data (fusion weights), and where a data-only package lies (found without importing it).
READ_ONLY = (
    "import importlib.metadata", "call importlib.metadata.version", "from importlib import resources",
    "call importlib.resources.files", "call importlib.util.find_spec",
)  # fmt: skip
READ_ONLY_IMPORT_UTIL = {"attributor/intel/warninglists.py"}  # for find_spec only (checked above)


def _modules() -> list[Path]:
    return sorted(p for p in PACKAGE.rglob("*.py") if "demo/src" not in p.as_posix())


def dangerous_uses(path: Path) -> list[tuple[str, int, str]]:
    """``(module path, line, what)`` for every import of a dangerous module and every call of a
    dangerous function or builtin in ``path`` (aliases followed: ``import os as o; o.system``)."""
    rel = path.relative_to(REPO).as_posix()
    tree = ast.parse(path.read_text(), filename=rel)
    aliases: dict[str, str] = {}  # local name -> dotted origin
    found: list[tuple[str, int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for a in node.names:
                aliases[a.asname or a.name.split(".")[0]] = a.name if a.asname else a.name.split(".")[0]
                if a.name.split(".")[0] in DANGEROUS_MODULES:
                    found.append((rel, node.lineno, f"import {a.name}"))
        elif isinstance(node, ast.ImportFrom) and node.module:
            top = node.module.split(".")[0]
            for a in node.names:
                aliases[a.asname or a.name] = f"{node.module}.{a.name}"
                if top in DANGEROUS_MODULES or a.name in DANGEROUS_ATTRS.get(top, set()) or a.name == "*":
                    found.append((rel, node.lineno, f"from {node.module} import {a.name}"))
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        name = _dotted(node.func)
        if name is None:
            continue
        head, _, rest = name.partition(".")
        if head not in aliases:  # a local name: a variable called `code` is not the module
            if not rest and head in DANGEROUS_BUILTINS:
                found.append((rel, node.lineno, f"call {head}"))
            continue
        origin = aliases[head] + (f".{rest}" if rest else "")
        parts = origin.split(".")
        if parts[0] in DANGEROUS_MODULES or parts[-1] in DANGEROUS_ATTRS.get(parts[0], set()):
            found.append((rel, node.lineno, f"call {origin}"))
    return found


def _dotted(node: ast.expr) -> str | None:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        inner = _dotted(node.value)
        return None if inner is None else f"{inner}.{node.attr}"
    return None


def test_scanner_sees_what_it_must(tmp_path: Path) -> None:
    """The scanner itself: every evasion we can think of is found."""
    probe = PACKAGE / "_probe_never_execute_test.py"
    src = (
        "import os as o\nimport subprocess as sp\nfrom os import system as s\nfrom ctypes import CDLL\n"
        "import importlib.util\n"
        "o.execv('/x', [])\nsp.run(['x'])\ns('x')\nCDLL('x')\nexec('1')\n__import__('x')\n"
        "importlib.util.spec_from_file_location('m', 'x')\no.posix_spawn('/x', [], {})\n"
    )
    try:
        probe.write_text(src)
        what = {w for _, _, w in dangerous_uses(probe)}
    finally:
        probe.unlink()
    for expected in (
        "import subprocess", "from os import system", "from ctypes import CDLL", "import importlib.util",
        "call os.execv", "call subprocess.run", "call os.system", "call ctypes.CDLL", "call exec",
        "call __import__", "call importlib.util.spec_from_file_location", "call os.posix_spawn",
    ):  # fmt: skip
        assert expected in what, (expected, sorted(what))


def test_no_code_path_can_execute_anything() -> None:
    """The whole package: the only process-starting code is the demo's compiler driver."""
    uses = [u for p in _modules() for u in dangerous_uses(p)]
    uses = [
        u for u in uses
        if u[2] not in READ_ONLY and not (u[2] == "import importlib.util" and u[0] in READ_ONLY_IMPORT_UTIL)
    ]  # fmt: skip
    unexpected = [u for u in uses if (u[0], u[2].split()[-1].split(".")[0]) not in ALLOWED]
    assert not unexpected, unexpected
    assert {u[0] for u in uses} <= {f for f, _ in ALLOWED}


def test_compiler_driver_is_reached_only_from_the_demo_command() -> None:
    """attributor/demo/build.py runs compilers on the project's own sources; no other module may
    import it (so no ingest/match path can hand it a sample)."""
    importers = set()
    for path in _modules():
        rel = path.relative_to(REPO).as_posix()
        for node in ast.walk(ast.parse(path.read_text())):
            names = []
            if isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
            elif isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            if any(n == "attributor.demo.build" for n in names):
                importers.add(rel)
    assert importers <= ALLOWED_BUILD_IMPORTERS, importers
    src = (PACKAGE / "demo" / "build.py").read_text()
    assert "source_dir()" in src and "_compile" in src  # compiles files of the bundled source folder


# -- behaviour -------------------------------------------------------------------------------------

_C_SOURCE = r"""
/* never_execute.c - test fixture: creates a marker file when run. attributor must never run it. */
#include <stdio.h>
int main(void)
{
    FILE *f = fopen("MARKER", "w");
    if (f) { fputs("executed\n", f); fclose(f); }
    return 0;
}
"""


@pytest.fixture
def armed(tmp_path: Path) -> tuple[Path, Path, Path]:
    """(folder with a shell script and an ELF, each creating MARKER when run, MARKER path)."""
    gcc = shutil.which("gcc")
    if gcc is None:
        pytest.skip("gcc not installed")
    folder = tmp_path / "samples"
    folder.mkdir()
    marker = tmp_path / "marker" / "EXECUTED"
    marker.parent.mkdir()
    script = folder / "dropper.sh"
    script.write_text(f"#!/bin/sh\necho executed > '{marker}'\n")
    src = tmp_path / "never_execute.c"
    src.write_text(_C_SOURCE.replace("MARKER", str(marker)))
    elf = folder / "dropper.elf"
    subprocess.run([gcc, "-O1", "-o", str(elf), str(src)], check=True, capture_output=True, timeout=120)
    for p in (script, elf):
        p.chmod(0o755)  # executable on purpose: nothing but attributor stands between them and a run
    assert str(marker).encode() in elf.read_bytes()  # it really would create the marker
    return folder, marker, elf


def _snapshot(folder: Path) -> dict[str, tuple[str, int, int]]:
    return {
        p.name: (hashlib.sha256(p.read_bytes()).hexdigest(), p.stat().st_mode, p.stat().st_mtime_ns)
        for p in folder.iterdir()
    }


def distinctive_windows(data: bytes, width: int = 32) -> list[bytes]:
    """Windows of the sample that cannot occur elsewhere by chance: many distinct byte values, and
    not plain text (the sample's path, which the store keeps as ``source``, is text)."""
    out = []
    for off in range(0, len(data) - width, width):
        w = data[off : off + width]
        if len(set(w)) >= 20 and any(b < 0x20 or b >= 0x7F for b in w):
            out.append(w)
    return out


def _attributor(*args: str, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "attributor", *args], capture_output=True, text=True, timeout=120,
        check=False, cwd=cwd, env=env,
    )  # fmt: skip


def test_samples_that_would_drop_a_marker_never_run(armed: tuple[Path, Path, Path], tmp_path: Path) -> None:
    from attributor.cli.common import E_PARTIAL

    folder, marker, elf = armed
    before = _snapshot(folder)
    tmpdir = tmp_path / "tmpdir"
    tmpdir.mkdir()
    # The samples' folder first on PATH and as the working directory: a stray "run by name" would hit them.
    env = {**os.environ, "TMPDIR": str(tmpdir), "PATH": f"{folder}{os.pathsep}{os.environ.get('PATH', '')}"}
    db = tmp_path / "c.db"
    add = _attributor(
        "corpus", "add", str(folder), "--family", "dropper", "--db", str(db), "-j", "1", cwd=folder, env=env
    )
    assert add.returncode == E_PARTIAL, add.stderr  # the ELF is added, the script is refused
    assert "1 added" in add.stderr and "dropper.sh" in add.stderr and "script" in add.stderr
    both = _attributor(
        "match",
        str(elf),
        str(folder / "dropper.sh"),
        "--db",
        str(db),
        "--format",
        "json",
        cwd=folder,
        env=env,
    )
    assert both.returncode == E_PARTIAL, both.stderr
    script_only = _attributor("match", str(folder / "dropper.sh"), "--db", str(db), cwd=folder, env=env)
    assert script_only.returncode == E_UNSUPPORTED, script_only.stderr
    assert "unsupported file type: script" in script_only.stderr
    assert not marker.exists(), "a sample was executed"
    assert _snapshot(folder) == before, "a sample was modified (content, mode or time)"
    # Fingerprints only: no copy of a sample is kept, in the database or in temporary files.
    needles = distinctive_windows(elf.read_bytes())
    assert len(needles) >= 8
    for path in [*tmp_path.glob("c.db*"), *tmpdir.rglob("*")]:
        if path.is_file():
            data = path.read_bytes()
            assert not [n for n in needles if n in data], f"{path} holds sample bytes"
    assert not [p for p in tmpdir.rglob("*") if p.is_file()], "temporary files left behind"


def test_stored_corpus_holds_no_executable_files(armed: tuple[Path, Path, Path], tmp_path: Path) -> None:
    """Everything ingest writes (the database and its side files) is data: not executable."""
    from attributor.ingest import ingest
    from attributor.store.base import Label
    from attributor.store.sqlite import SQLiteStore

    folder, _marker, _elf = armed
    out = tmp_path / "store"
    out.mkdir()
    with SQLiteStore(out / "c.db") as store:
        ingest(store, [(folder, Label("dropper"))], jobs=1, progress=False)
        written = [p for p in out.rglob("*") if p.is_file()]
        assert written
        for p in written:
            assert not p.stat().st_mode & (stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH), p
