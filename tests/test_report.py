"""The report document (attributor.match/1), its JSON renderer and its text renderer."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from golden_util import assert_golden
from pydantic import ValidationError
from rich.console import Console

from attributor.fingerprint.model import DEFAULT_PARAMS
from attributor.match.result import (
    ActorScore,
    FamilyScore,
    FunctionPair,
    MatchResult,
    QueryFunction,
    RefMatch,
    SampleInfo,
)
from attributor.render.json import render_json
from attributor.render.stats import render_stats_json, render_stats_text
from attributor.render.text import render_text, verdict_text
from attributor.report.document import SCHEMA, CorpusStats, MatchDocument, MatchReport
from attributor.store.base import SampleRecord

REF_A = "a" * 64
REF_B = "b" * 64
QUERY = "c" * 64


def make_result(attributed: bool = True) -> MatchResult:
    """A hand-made result: one attributed family, one library family, one unattributed family."""
    pairs = [
        FunctionPair(0x140001000, 320, REF_A, 0x401000, 1.0, 1, 1.0),
        FunctionPair(0x140001200, 96, REF_A, 0x401400, 0.8765432, 2, 0.5),
    ]
    families = [
        FamilyScore(
            "plugx",
            ["APT41", "Mustang Panda"],
            1.43827,
            2,
            416,
            0.4123456,
            1,
            attributed,
            REF_A,
            False,
            pairs,
        ),
        FamilyScore(
            "zlib",
            [],
            0.0,
            3,
            2048,
            0.6,
            0,
            False,
            REF_B,
            True,
            [FunctionPair(0x140002000, 700, REF_B, 0x10000, 1.0, 5, 0.0)],
        ),
        FamilyScore("[bold]evil[/bold]", [], 0.1, 1, 96, 0.01, 0, False, REF_B, False, []),
    ]
    actors = [ActorScore("APT41", 1.43827, ["plugx"], attributed)]
    functions = [
        QueryFunction(0x140001000, 320, 80, [RefMatch(REF_A, 0x401000, 1.0, "plugx")]),
        QueryFunction(
            0x140001200,
            96,
            24,
            [RefMatch(REF_A, 0x401400, 0.8765432, "plugx"), RefMatch(REF_B, 0x10400, 0.51, "zlib")],
        ),
        QueryFunction(0x140003000, 8, 2, []),
    ]
    sample = SampleInfo(QUERY, "PE", "x86-64", 123456, 3, 0.912345, "complete", [])
    return MatchResult(sample, families, actors, functions, 42, 9001, DEFAULT_PARAMS.to_json())


def make_doc(attributed: bool = True) -> MatchDocument:
    return MatchDocument.from_result(make_result(attributed), "0.1.0", db_info="corpus.db")


def render(doc: MatchDocument | MatchReport) -> str:
    buf = io.StringIO()
    render_text(doc, Console(file=buf, width=120))
    return buf.getvalue()


def test_from_result_converts_addresses_and_rounds():
    """Addresses become hex strings, floats are rounded to 4 decimals, params become a dict."""
    doc = make_doc()
    assert doc.schema_ == SCHEMA
    assert doc.sample.function_count == 3 and doc.sample.coverage == 0.9123
    fam = doc.families[0]
    assert fam.actors == ("APT41", "Mustang Panda") and fam.score == 1.4383
    assert fam.pairs[1].query_address == "0x140001200" and fam.pairs[1].ref_address == "0x401400"
    assert fam.pairs[1].similarity == 0.8765
    assert doc.functions[1].matches[0].similarity == 0.8765
    assert doc.params["num_perm"] == DEFAULT_PARAMS.num_perm
    assert doc.corpus.samples == 42 and doc.corpus.db == "corpus.db"


def test_json_round_trip():
    """document -> JSON -> model_validate_json gives an equal document."""
    doc = make_doc()
    text = render_json(doc)
    assert json.loads(text)["schema"] == SCHEMA
    assert MatchDocument.model_validate_json(text) == doc


def test_json_is_deterministic():
    """The same result yields byte-identical JSON."""
    assert render_json(make_doc()) == render_json(make_doc())


def test_report_round_trip(tmp_path: Path):
    """The multi-sample wrapper round-trips, through a file too."""
    report = MatchReport.of([make_doc(), make_doc(False)], "0.1.0")
    path = tmp_path / "report.json"
    path.write_text(render_json(report))
    loaded = MatchReport.from_file(path)
    assert loaded == report
    assert MatchDocument.model_validate(json.loads(path.read_text())["results"][0]) == report.results[0]


def test_extra_field_rejected():
    data = json.loads(render_json(make_doc()))
    data["families"][0]["surprise"] = 1
    with pytest.raises(ValidationError):
        MatchDocument.model_validate(data)


def test_other_schema_version_rejected():
    data = json.loads(render_json(make_doc()))
    data["schema"] = "attributor.match/2"
    with pytest.raises(ValidationError):
        MatchDocument.model_validate(data)


def test_document_is_frozen():
    doc = make_doc()
    with pytest.raises(ValidationError):
        doc.sample = doc.sample  # type: ignore[misc]


def test_bad_address_rejected():
    data = json.loads(render_json(make_doc()))
    data["functions"][0]["address"] = "4096"
    with pytest.raises(ValidationError):
        MatchDocument.model_validate(data)


def test_text_has_header_table_verdict_and_pairs():
    out = render(MatchReport.of([make_doc()], "0.1.0"))
    assert QUERY in out and "PE/x86-64" in out and "91.2%" in out and "complete" in out
    for column in ("family", "actor(s)", "score", "attributed", "shared fns", "shared KiB", "unique fns"):
        assert column in out
    assert "APT41, Mustang Panda" in out and "✓" in out
    assert "zlib (library)" in out
    assert "verdict: attributed to plugx (APT41, Mustang Panda)" in out
    assert "top pairs: plugx" in out and "0x140001000" in out


def test_text_escapes_markup_in_names():
    """A family name that looks like rich markup is printed literally."""
    assert "[bold]evil[/bold]" in render(make_doc())


def test_verdict_unknown():
    doc = make_doc(attributed=False)
    assert verdict_text(doc) == "no family attributed (unknown)"
    out = render(doc)
    assert "no family attributed (unknown)" in out and "top pairs" not in out


def test_library_family_never_attributed():
    """Even if a library family is marked attributed, the verdict ignores it."""
    result = make_result(attributed=False)
    result.families[1].attributed = True
    doc = MatchDocument.from_result(result, "0.1.0")
    assert verdict_text(doc) == "no family attributed (unknown)"


def test_text_golden():
    """The text rendering of the synthetic result; refresh with ATTRIBUTOR_UPDATE_GOLDEN=1."""
    assert_golden("synthetic_report.txt", render(MatchReport.of([make_doc(), make_doc(False)], "0.1.0")))


def test_json_golden():
    """The JSON rendering of the synthetic result; refresh with ATTRIBUTOR_UPDATE_GOLDEN=1."""
    assert_golden("synthetic_report.json", render_json(MatchReport.of([make_doc()], "0.1.0")))


def _record(i: int, family: str, actor: str | None, library: bool = False) -> SampleRecord:
    return SampleRecord(
        i, f"{i:064x}", family, actor, library, "ELF", "x86-64", 1000, 10 * i, 0.9, "complete"
    )


def test_corpus_stats():
    records = [_record(1, "plugx", "APT41"), _record(2, "plugx", "APT41"), _record(3, "zlib", None, True)]
    stats = CorpusStats.from_records(records, DEFAULT_PARAMS, "0.1.0", db_info="c.db", bytes_on_disk=4096)
    assert (stats.samples, stats.functions, stats.families, stats.actors) == (3, 60, 1, 1)
    assert stats.library_samples == 1 and stats.formats == {"ELF/x86-64": 3}
    assert [f.family for f in stats.by_family] == ["plugx", "zlib"] and stats.by_family[1].library
    assert CorpusStats.model_validate_json(render_stats_json(stats)) == stats
    buf = io.StringIO()
    render_stats_text(stats, Console(file=buf, width=120))
    assert "3 samples, 60 functions, 1 families" in buf.getvalue() and "plugx" in buf.getvalue()


def test_corpus_stats_empty():
    stats = CorpusStats.from_records([], DEFAULT_PARAMS, "0.1.0")
    assert stats.samples == 0 and stats.by_family == ()
    buf = io.StringIO()
    render_stats_text(stats, Console(file=buf, width=120))
    assert "0 samples" in buf.getvalue()
