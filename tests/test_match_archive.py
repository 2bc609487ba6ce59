"""``attributor match`` on an archive: members are matched one by one, names shown escaped."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

from click.testing import CliRunner

from attributor.cli.main import cli


def test_match_reads_zip_members_and_reports_bad_ones(demo_corpus, incident: Path, tmp_path: Path) -> None:
    db = tmp_path / "c.db"
    runner = CliRunner()
    aurora = [str(s.path) for s in demo_corpus if s.family == "aurora"]
    added = runner.invoke(cli, ["-q", "corpus", "add", *aurora, "--family", "aurora", "--db", str(db)])
    assert added.exit_code == 0, added.output
    archive = tmp_path / "case.zip"
    with zipfile.ZipFile(archive, "w") as z:
        z.write(incident, "../../evil\u202ename.bin")
        z.writestr("notes.txt", "not a binary")
    before = sorted(p.name for p in tmp_path.parent.iterdir())
    result = runner.invoke(cli, ["match", str(archive), "--db", str(db), "--format", "json"])
    assert sorted(p.name for p in tmp_path.parent.iterdir()) == before  # nothing written outside
    assert result.exit_code == 4, result.output  # one member matched, one unsupported
    report = json.loads(result.stdout)
    assert len(report["results"]) == 1
    assert report["results"][0]["families"][0]["family"] == "aurora"
    assert "notes.txt: unsupported file type" in result.stderr
    assert "\\u202e" in result.stderr  # the right-to-left override is shown escaped, not applied
