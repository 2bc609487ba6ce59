"""The command line contract: commands, streams and exit codes (docs/exit-codes.md)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import click
import pytest
from click.testing import CliRunner, Result

from attributor import __version__
from attributor.cli import match as match_cmd
from attributor.cli.main import cli
from attributor.errors import E_IO, E_MANIFEST, E_STORE, E_UNSUPPORTED, ManifestError
from attributor.store.open import open_store


def invoke(*args: str, env: dict[str, str] | None = None) -> Result:
    return CliRunner().invoke(cli, list(args), env=env, catch_exceptions=False)


def assert_one_error_line(result: Result, prefix: str = "attributor: error: ") -> str:
    """stderr is exactly one line starting with ``prefix``, and never a traceback."""
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(prefix) and "Traceback" not in result.stderr
    return lines[0]


@pytest.fixture
def empty_db(tmp_path: Path) -> Path:
    path = tmp_path / "empty.db"
    open_store(path, create=True).close()
    return path


@pytest.fixture
def text_file(tmp_path: Path) -> Path:
    path = tmp_path / "notes.txt"
    path.write_text("just some text, not a PE or an ELF\n" * 20)
    return path


def test_version():
    result = invoke("version")
    assert result.exit_code == 0 and result.stdout == f"attributor {__version__}\n"
    assert invoke("--version").exit_code == 0


def test_help_lists_commands():
    out = invoke("--help").stdout
    for name in ("corpus", "match", "demo", "version"):
        assert name in out
    assert "add" in invoke("corpus", "--help").stdout


@pytest.mark.parametrize(
    "args",
    [
        ("match",),
        ("corpus", "add", "x"),
        ("match", "x", "--format", "xml"),
        ("match", "x", "--top", "0"),
        ("no-such-command",),
    ],
)
def test_usage_errors_exit_2(args: tuple[str, ...]):
    result = invoke(*args)
    assert result.exit_code == 2 and "Traceback" not in result.stderr


@pytest.mark.parametrize("args", [("match", "x.exe"), ("corpus", "stats")])
def test_missing_db_exits_20(tmp_path: Path, args: tuple[str, ...]):
    missing = tmp_path / "missing.db"
    result = invoke(*args, "--db", str(missing))
    assert result.exit_code == E_STORE
    assert_one_error_line(result)
    assert not missing.exists(), "match/stats must not create a database"


def test_db_from_environment(tmp_path: Path):
    missing = tmp_path / "from-env.db"
    result = invoke("corpus", "stats", env={"ATTRIBUTOR_DB": str(missing)})
    assert result.exit_code == E_STORE and "from-env.db" in result.stderr


def test_stats_on_empty_db(empty_db: Path):
    result = invoke("corpus", "stats", "--db", str(empty_db))
    assert result.exit_code == 0, result.output
    assert "0 samples" in result.stdout
    data = json.loads(invoke("corpus", "stats", "--db", str(empty_db), "--format", "json").stdout)
    assert data["schema"] == "attributor.stats/1" and data["samples"] == 0 and data["by_family"] == []


def test_match_unsupported_file_exits_10(empty_db: Path, text_file: Path):
    result = invoke("-q", "match", str(text_file), "--db", str(empty_db))
    assert result.exit_code == E_UNSUPPORTED
    assert str(text_file) in assert_one_error_line(result)
    assert result.stdout == ""


def test_match_all_failed_uses_first_code(empty_db: Path, text_file: Path, tmp_path: Path):
    """Several samples, all failing: one line each, exit code of the first failure."""
    result = invoke("-q", "match", str(tmp_path / "absent.exe"), str(text_file), "--db", str(empty_db))
    assert result.exit_code == E_IO
    assert len(result.stderr.splitlines()) == 2 and result.stdout == ""


def test_match_partial_failure_exits_4(empty_db: Path, text_file: Path, monkeypatch: pytest.MonkeyPatch):
    """One sample matched and one failed: the report holds the good one, exit 4."""
    from test_report import make_doc

    real = match_cmd.match_one

    def fake(store, sample, **kw):
        return make_doc() if sample.name == "good.exe" else real(store, sample, **kw)

    monkeypatch.setattr(match_cmd, "match_one", fake)
    result = invoke("match", "good.exe", str(text_file), "--db", str(empty_db), "--format", "json")
    assert result.exit_code == 4
    data = json.loads(result.stdout)
    assert data["schema"] == "attributor.match-report/1" and len(data["results"]) == 1


def test_match_text_output(empty_db: Path, monkeypatch: pytest.MonkeyPatch):
    from test_report import make_doc

    monkeypatch.setattr(match_cmd, "match_one", lambda store, sample, **kw: make_doc())
    result = invoke("-q", "match", "a.exe", "--db", str(empty_db))
    assert result.exit_code == 0 and result.stderr == ""
    assert "verdict: attributed to plugx" in result.stdout


def test_attributor_error_maps_to_its_code(tmp_path: Path):
    manifest = tmp_path / "m.csv"
    manifest.write_text("path,famliy\na.exe,x\n")
    result = invoke("corpus", "import", str(manifest), "--db", str(tmp_path / "c.db"))
    assert result.exit_code == E_MANIFEST
    assert "m.csv:1" in assert_one_error_line(result)
    assert not (tmp_path / "c.db").exists(), "a bad manifest must not create the database"


def test_internal_error_is_one_line(empty_db: Path, monkeypatch: pytest.MonkeyPatch):
    def boom(*a, **kw):
        raise RuntimeError("boom\nsecond line")

    monkeypatch.setattr(match_cmd, "match_one", boom)
    result = invoke("-q", "match", "a.exe", "--db", str(empty_db))
    assert result.exit_code == 1
    line = assert_one_error_line(result, "attributor: internal error: ")
    assert (
        line
        == "attributor: internal error: RuntimeError: boom second line (run with --debug for a traceback)"
    )
    debug = invoke("--debug", "match", "a.exe", "--db", str(empty_db))
    assert debug.exit_code == 1 and "Traceback" in debug.stderr


@pytest.mark.parametrize(("exc", "code"), [(KeyboardInterrupt(), 130), (ManifestError("bad"), E_MANIFEST)])
def test_exception_mapping(empty_db: Path, monkeypatch: pytest.MonkeyPatch, exc: BaseException, code: int):
    def raiser(*a, **kw):
        raise exc

    monkeypatch.setattr(match_cmd, "match_one", raiser)
    assert invoke("match", "a.exe", "--db", str(empty_db)).exit_code == code


def run_module(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """Run ``python -m attributor`` in a real subprocess."""
    env = {k: v for k, v in os.environ.items() if k != "ATTRIBUTOR_DB"}
    return subprocess.run(
        [sys.executable, "-m", "attributor", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_subprocess_exit_codes(tmp_path: Path, empty_db: Path, text_file: Path):
    """The real entry point: missing db 20, unsupported 10, usage 2, stats on an empty db 0."""
    missing = run_module("match", str(text_file), "--db", str(tmp_path / "none.db"), cwd=tmp_path)
    assert missing.returncode == E_STORE and missing.stderr.startswith("attributor: error: ")
    unsupported = run_module("match", str(text_file), "--db", str(empty_db), cwd=tmp_path)
    assert unsupported.returncode == E_UNSUPPORTED, unsupported.stderr
    assert unsupported.stdout == "" and "Traceback" not in unsupported.stderr
    assert run_module("match", cwd=tmp_path).returncode == 2
    stats = run_module("corpus", "stats", "--db", str(empty_db), "--format", "json", cwd=tmp_path)
    assert stats.returncode == 0 and json.loads(stats.stdout)["samples"] == 0
    default = run_module("corpus", "stats", cwd=tmp_path)
    assert default.returncode == E_STORE and "attributor.db" in default.stderr


def _commands(group: click.Group, prefix: str = "") -> list[tuple[str, click.Command]]:
    out: list[tuple[str, click.Command]] = []
    for name, command in sorted(group.commands.items()):
        full = f"{prefix}{name}"
        if isinstance(command, click.Group):
            out += _commands(command, full + " ")
        else:
            out.append((full, command))
    return out


def test_every_command_is_documented():
    """Each command has help text and a section in docs/cli.md."""
    doc = (Path(__file__).parents[1] / "docs" / "cli.md").read_text()
    for name, command in _commands(cli):
        assert command.help, name
        assert f"`attributor {name}" in doc, f"docs/cli.md lacks a section for `attributor {name}`"


@pytest.fixture
def elf(tmp_path: Path) -> Path:
    """A small real ELF x86-64 executable (a copy of the system's ``true``)."""
    true = shutil.which("true")
    if true is None:
        pytest.skip("no `true` executable")
    path = tmp_path / "true.elf"
    shutil.copyfile(Path(true).resolve(), path)
    return path


def test_corpus_add_and_stats(tmp_path: Path, elf: Path, text_file: Path):
    """add: partial failure exits 4; a re-run finds the sample already present and exits 0."""
    db = str(tmp_path / "c.db")
    first = invoke("corpus", "add", str(elf), str(text_file), "--family", "coreutils", "--db", db, "-j", "1")
    assert first.exit_code == 4, first.output
    assert "1 added" in first.stderr and "1 failed" in first.stderr and str(text_file) in first.stderr
    again = invoke("corpus", "add", str(elf), "--family", "coreutils", "--db", db, "-j", "1")
    assert again.exit_code == 0 and "1 already present" in again.stderr
    data = json.loads(invoke("corpus", "stats", "--db", db, "--format", "json").stdout)
    assert data["samples"] == 1 and data["by_family"][0]["family"] == "coreutils"


def test_corpus_add_all_failed_uses_first_code(tmp_path: Path, text_file: Path):
    db = str(tmp_path / "c.db")
    result = invoke("-q", "corpus", "add", str(text_file), "--family", "x", "--db", db, "-j", "1")
    assert result.exit_code == E_UNSUPPORTED
    assert_one_error_line(result)  # -q: the error line only, no summary
    missing = invoke("corpus", "add", str(tmp_path / "absent"), "--family", "x", "--db", db)
    assert missing.exit_code == E_IO


def test_corpus_import(tmp_path: Path, elf: Path):
    manifest = tmp_path / "m.jsonl"
    manifest.write_text(json.dumps({"path": elf.name, "family": "coreutils", "library": True}) + "\n")
    db = str(tmp_path / "c.db")
    result = invoke("corpus", "import", str(manifest), "--db", db, "-j", "1")
    assert result.exit_code == 0, result.output
    data = json.loads(invoke("corpus", "stats", "--db", db, "--format", "json").stdout)
    assert data["library_samples"] == 1 and data["families"] == 0


def test_flags_after_the_command(empty_db: Path, monkeypatch: pytest.MonkeyPatch):
    """``-q`` and ``--debug`` work after the command name too."""
    from test_report import make_doc

    monkeypatch.setattr(match_cmd, "match_one", lambda store, sample, **kw: make_doc())
    assert invoke("match", "a.exe", "--db", str(empty_db), "-q").stderr == ""

    def boom(*a, **kw):
        raise RuntimeError("boom")

    monkeypatch.setattr(match_cmd, "match_one", boom)
    assert "Traceback" in invoke("match", "a.exe", "--db", str(empty_db), "--debug").stderr


@pytest.mark.skipif(shutil.which("gcc") is None, reason="the demo needs gcc")
def test_demo_end_to_end(tmp_path: Path):
    """``attributor demo``: report on stdout, then the JSON and HTML paths and a one-line verdict."""
    from attributor.report.attribution import AttributionDocument

    out = tmp_path / "demo"
    result = invoke("demo", "--out", str(out))
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[-3] == f"JSON report: {out / 'report.json'}"
    assert lines[-2] == f"HTML report: {out / 'report.html'}"
    doc = AttributionDocument.from_file(out / "report.json")
    assert lines[-1] == f"verdict: {doc.verdict.text}"
    assert not doc.verdict.abstained and doc.verdict.hypothesis == "actor:ACTOR-NORTHWIND"
    kinds = {e.kind for e in doc.evidence}
    assert {"code", "key", "infrastructure", "crypto"} <= kinds, kinds
    assert doc.corpus.samples > 0 and doc.corpus.intel_records == 4
    assert {"family:aurora", "family:borealis", "unknown"} <= {h.id for h in doc.hypotheses}
    assert (out / "report.html").read_text().startswith("<!DOCTYPE html>")
    assert (out / "demo.db").exists()
    assert not (out / "corpus").exists() and not (out / "incident").exists()
