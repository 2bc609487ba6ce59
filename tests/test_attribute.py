"""Fusion, competing hypotheses and the attribution document (``attributor.scoring``).

* unit tests of the pieces: ICD 203 bands, noisy-OR, ACH stances, confidence, abstention;
* the demo: the incident (aurora's cipher and beacon with their shared session key, borealis's
  core, new code) is attributed to aurora's actor, with key, code and infrastructure evidence,
  and the other actor's code listed against it;
* abstention on a sample whose families are not in the corpus;
* non-attributable infrastructure and low coverage weaken, never support;
* determinism (also across ``PYTHONHASHSEED``), and every renderer on a real document.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from helpers_demo import fingerprint, make_store

from attributor.match.matcher import match_sample
from attributor.match.result import MatchResult, SampleInfo
from attributor.report.attribution import AttributionDocument, EvidenceRecord, estimative
from attributor.scoring import hypotheses as hy
from attributor.scoring.attribute import CaseRequest, InfraHit, build_document
from attributor.scoring.evidence import quality_records
from attributor.scoring.fusion import FusionWeights, family_probability, noisy_or

TESTS = Path(__file__).resolve().parent


# -- pieces --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("p", "word"),
    [(0.0, "almost no chance"), (0.05, "almost no chance"), (0.06, "very unlikely"), (0.3, "unlikely"),
     (0.5, "roughly even chance"), (0.7, "likely"), (0.9, "very likely"), (0.99, "almost certain")],
)  # fmt: skip
def test_icd203_bands(p: float, word: str) -> None:
    assert estimative(p) == word


def test_noisy_or_and_logistic() -> None:
    assert noisy_or([]) == 0.0
    assert noisy_or([0.5, 0.5]) == pytest.approx(0.75)
    w = FusionWeights(bias=0.0, code=1.0, unique=0.0, matchable=0.0, keys=0.0, indicators=0.0)
    assert family_probability({"code": 0.0}, w) == pytest.approx(0.5)
    assert family_probability({"code": 2.0}, w) > family_probability({"code": 1.0}, w)


def _record(kind: str, weight: float, families: tuple[str, ...] = (), actors: tuple[str, ...] = (), **kw):
    return EvidenceRecord(id=f"ev-{kind}{weight}{families}", kind=kind, subtype="t", value="v", weight=weight,
                          families=families, actors=actors, **kw)  # fmt: skip


def _cand(kind: str, name: str, fams: tuple[str, ...] = (), actors: tuple[str, ...] = ()) -> hy.Candidate:
    ident = "unknown" if kind == "unknown" else f"{kind}:{name}"
    return hy.Candidate(ident, kind, name, 0.5, fams, actors)


def test_stances() -> None:
    aurora = _cand("family", "aurora", ("aurora",), ("N",))
    other = _cand("actor", "S", ("borealis",), ("S",))
    unknown = _cand("unknown", "unknown")
    key = _record("key", 1.0, ("aurora",), ("N",))
    assert [hy.stance(key, c) for c in (aurora, other, unknown)] == [
        "consistent",
        "inconsistent",
        "inconsistent",
    ]
    common = _record("crypto", 0.05, ("aurora", "borealis", "cirrus"))
    assert {hy.stance(common, c) for c in (aurora, other, unknown)} == {"neutral"}
    lonely = _record("indicator", 0.8)  # specific, shared with nobody in the corpus: a new actor's
    assert (hy.stance(lonely, aurora), hy.stance(lonely, unknown)) == ("neutral", "consistent")
    assert hy.stance(_record("quality", 1.0), aurora) == "neutral"


def test_verdict_abstains_below_threshold() -> None:
    hyps, _ach = hy.build_hypotheses([], hy.candidates({"aurora": 0.3}, {"aurora": "N"}, {}))
    v = hy.verdict(hyps)
    assert v.abstained and v.hypothesis == "unknown" and "strongest lead N (30%)" in v.text
    hyps, _ach = hy.build_hypotheses([], hy.candidates({"aurora": 0.9}, {"aurora": "N"}, {}))
    assert not hy.verdict(hyps).abstained and hy.verdict(hyps).hypothesis == "actor:N"


def test_unknown_is_the_complement_of_every_corpus_actor() -> None:
    cands = hy.candidates({"a": 0.5, "b": 0.2, "c": 0.1}, {"a": "X", "b": "Y", "c": None}, {"Z": [0.6]})
    p = {c.id: c.probability for c in cands}
    assert p["unknown"] == pytest.approx(0.5 * 0.8 * 0.9 * 0.4)
    assert p["actor:Z"] == pytest.approx(0.6)  # an actor known from infrastructure only


def test_low_coverage_is_counter_evidence_and_caps_confidence() -> None:
    info = SampleInfo(
        "f" * 64, "ELF", "x86-64", 100, 3, 0.2, "complete", ["packed: UPX; code evidence unreliable"]
    )
    recs = quality_records(MatchResult(info, [], [], [], 1, 1, "{}"))
    assert {r.subtype for r in recs} == {"coverage", "packed"}
    code = _record("code", 0.9, ("aurora",), ("N",))
    cands = hy.candidates({"aurora": 0.9}, {"aurora": "N"}, {})
    hyps, _ach = hy.build_hypotheses([code, *recs], cands)
    top = next(h for h in hyps if h.id == "actor:N")
    assert top.confidence == "low"
    assert {a.evidence_id for a in top.against} >= {r.id for r in recs}
    assert any("quality" in alt for alt in top.alternatives)


# -- the demo ------------------------------------------------------------------------------------


def _attribute(store, incident: Path, hits=(), **request) -> AttributionDocument:
    fp = fingerprint(incident, blind=True)
    req = CaseRequest(samples=[incident], listings=False, **request)
    return build_document(
        store, req, [(incident, match_sample(store, fp))], store.samples(), [], list(hits), None
    )


def _hit(indicator: str, actor: str, strength: str = "strong", na: tuple[str, ...] = ()) -> InfraHit:
    fields = (indicator, "domain", indicator, "exact", strength, actor, "test intel")
    return InfraHit(*fields, None, None, None, na, "ioc-file")


@pytest.fixture(scope="module")
def demo_doc(demo_corpus, incident) -> AttributionDocument:
    hits = [_hit("cdn.northwind-update.internal", "ACTOR-NORTHWIND"),
            _hit("8.8.8.8", "ACTOR-EASTFOG", na=("List of known IPv4 public DNS resolvers",))]  # fmt: skip
    return _attribute(make_store(demo_corpus), incident, hits)


def test_demo_incident_is_attributed_with_independent_evidence(demo_doc: AttributionDocument) -> None:
    v = demo_doc.verdict
    assert not v.abstained and v.hypothesis == "actor:ACTOR-NORTHWIND" and v.probability >= hy.ABSTAIN_BELOW
    top = demo_doc.hypothesis("actor:ACTOR-NORTHWIND")
    rival = demo_doc.hypothesis("actor:ACTOR-SOUTHGALE")
    assert top is not None and rival is not None and top.probability > rival.probability
    assert top is not None and top.confidence in ("moderate", "high")
    by_id = demo_doc.evidence_by_id()
    support_kinds = {by_id[a.evidence_id].kind for a in top.support}
    assert {"code", "key", "infrastructure"} <= support_kinds
    key = next(e for e in demo_doc.evidence if e.kind == "key" and e.families)
    assert key.families == ("aurora",) and key.weight == 1.0  # the shared session key
    # borealis's core module is in the incident: another actor's code is listed against it
    against = {by_id[a.evidence_id].value for a in top.against if a.stance == "inconsistent"}
    assert "borealis" in against
    assert any("ACTOR-SOUTHGALE" in alt for alt in top.alternatives)


def test_demo_non_attributable_infrastructure_is_neutral(demo_doc: AttributionDocument) -> None:
    dns = next(e for e in demo_doc.evidence if e.kind == "infrastructure" and e.value == "8.8.8.8")
    assert dns.weight == 0.0 and "non-attributable" in dns.tags
    row = next(r for r in demo_doc.ach.rows if r.evidence_id == dns.id)
    assert set(row.cells) == {"neutral"}
    eastfog = demo_doc.hypothesis("actor:ACTOR-EASTFOG")
    assert eastfog is None or eastfog.probability < 0.2


def test_ach_matrix_shape_and_unknown_always_present(demo_doc: AttributionDocument) -> None:
    assert "unknown" in demo_doc.ach.hypotheses
    assert len(demo_doc.ach.rows) == len(demo_doc.evidence)
    assert all(len(r.cells) == len(demo_doc.ach.hypotheses) for r in demo_doc.ach.rows)
    probs = [h.probability for h in demo_doc.hypotheses]
    assert probs == sorted(probs, reverse=True)


def test_abstains_when_the_family_is_not_in_the_corpus(demo_corpus, incident) -> None:
    store = make_store(demo_corpus, families={"cirrus", "drizzle", "libcommon"})
    doc = _attribute(store, incident)
    assert doc.verdict.abstained, doc.verdict
    assert doc.verdict.hypothesis == "unknown"
    unknown = doc.hypothesis("unknown")
    assert unknown is not None and unknown.probability >= 0.5
    assert all(h.probability < hy.ABSTAIN_BELOW for h in doc.hypotheses if h.level != "unknown")


def test_document_is_deterministic_and_round_trips(demo_corpus, incident, demo_doc) -> None:
    again = _attribute(make_store(demo_corpus), incident, [
        _hit("cdn.northwind-update.internal", "ACTOR-NORTHWIND"),
        _hit("8.8.8.8", "ACTOR-EASTFOG", na=("List of known IPv4 public DNS resolvers",))])  # fmt: skip
    assert again.to_json() == demo_doc.to_json()
    assert AttributionDocument.model_validate_json(demo_doc.to_json()) == demo_doc


def _cli(*args: str, env: dict[str, str], check: bool = True) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run([sys.executable, "-m", "attributor", "-q", *args], env=env, capture_output=True,
                          text=True, timeout=300, check=False)  # fmt: skip
    assert not check or proc.returncode == 0, proc.stderr[-2000:]
    return proc


def _cli_corpus(demo_corpus, db: Path, skip: set[str] = frozenset()) -> dict[str, str]:  # type: ignore[assignment]
    env = {**os.environ, "ATTRIBUTOR_DB": str(db)}
    for family in sorted({s.family for s in demo_corpus} - skip):
        paths = [str(s.path) for s in demo_corpus if s.family == family]
        lib = ["--library"] if all(s.library for s in demo_corpus if s.family == family) else []
        actor = next((s.actor for s in demo_corpus if s.family == family and s.actor), None)
        _cli(
            "corpus", "add", *paths, "--family", family, *lib, *(["--actor", actor] if actor else []), env=env
        )
    return env


def test_cli_attribution_is_byte_identical_across_hash_seeds(demo_corpus, incident, tmp_path) -> None:
    """The whole command, twice, in fresh interpreters with different hash seeds."""
    env = _cli_corpus(demo_corpus, tmp_path / "c.db")
    outs = []
    for seed in ("0", "4242"):
        proc = subprocess.run(
            [sys.executable, "-m", "attributor", "-q", "attribute", str(incident), "--format", "json"],
            env={**env, "PYTHONHASHSEED": seed}, capture_output=True, text=True, timeout=300, check=False,
        )  # fmt: skip
        assert proc.returncode == 0, proc.stderr[-2000:]
        outs.append(proc.stdout)
    assert outs[0] == outs[1]
    doc = AttributionDocument.model_validate_json(outs[0])
    archive = tmp_path / "case.zip"
    with zipfile.ZipFile(archive, "w") as z:  # an archive member is a sample like any other
        z.write(incident, "incident")
    zipped = AttributionDocument.model_validate_json(
        _cli("attribute", str(archive), "--format", "json", env=env).stdout
    )
    assert zipped.inputs[0].name == "case.zip!incident" and zipped.verdict == doc.verdict
    assert doc.pairs and any(p.ref_asm for p in doc.pairs), "listings of matched pairs"
    assert doc.signatures, "verified YARA signatures for the attributed family"


def test_every_renderer_accepts_a_real_document(demo_doc: AttributionDocument) -> None:
    from attributor.cli.attribute import FORMATS, render

    for fmt in FORMATS:
        out = render(demo_doc, fmt)
        assert out and out == render(demo_doc, fmt), fmt
    stix = json.loads(render(demo_doc, "stix"))
    assert stix["type"] == "bundle"
    assert "ACTOR-NORTHWIND" in render(demo_doc, "text")


def test_signed_case_verifies_and_a_changed_corpus_is_named(demo_corpus, incident, tmp_path) -> None:
    """keygen -> attribute --case -> verify --db: the same corpus re-runs byte-identical (exit 0);
    a verifier whose corpus lacks aurora gets exit 31 and the differences by name."""
    env = _cli_corpus(demo_corpus, tmp_path / "c.db")
    key, pub, case = tmp_path / "a.key", tmp_path / "a.pub", tmp_path / "case.zip"
    _cli("keygen", "--private", str(key), "--public", str(pub), env=env)
    _cli("attribute", str(incident), "--case", str(case), "--key", str(key), "--tlp", "TLP:GREEN",
         "--format", "json", env=env)  # fmt: skip
    ok = _cli("verify", str(case), "--key", str(pub), "--db", env["ATTRIBUTOR_DB"], str(incident),
              "--format", "json", env=env)  # fmt: skip
    report = json.loads(ok.stdout)
    assert report["ok"] is True and report["rerun"]["status"] == "same", report
    other = _cli_corpus(demo_corpus, tmp_path / "other.db", skip={"aurora"})
    bad = _cli("verify", str(case), "--key", str(pub), "--db", other["ATTRIBUTOR_DB"], str(incident),
               env=other, check=False)  # fmt: skip
    assert bad.returncode == 31, bad.stdout + bad.stderr
    assert "aurora" in bad.stdout and "verdict" in bad.stdout, bad.stdout
