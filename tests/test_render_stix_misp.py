"""STIX 2.1 and MISP exports of the example attribution document.

Goldens: ``golden/report_example.stix.json`` and ``golden/report_example.misp.json``; refresh with
``ATTRIBUTOR_UPDATE_GOLDEN=1 pytest tests/test_render_stix_misp.py`` and review ``git diff tests/golden``.

stix2-validator runs in strict mode (every SHOULD is an error, no custom properties, every
reference resolvable) with one check disabled: ``uuid-check`` (103), because the export uses
UUIDv5 ids on purpose (deterministic output; see ``docs/exports.md``). ``strict_types`` stays off
because validator 3.3.2 rejects every top-level SCO (``file``) as "not defined in the
specification" (its type list predates STIX 2.1 SCOs); the non-strict run below pins that the
only warnings left are exactly those two.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
import stix2
from golden_util import assert_golden
from helpers_attribution import QUERY, example_document
from pymisp import MISPEvent
from stix2validator import ValidationOptions, validate_string
from stix2validator.v21.enums import OBSERVABLE_TYPES

from attributor.render.misp import actor_tag, galaxy_value, render_misp
from attributor.render.stix import TLP2_EXTENSION, TLP2_MARKINGS, render_stix, stable_uuid, stix_pattern
from attributor.report.attribution import AttributionDocument

TESTS = Path(__file__).resolve().parent
TLPS = tuple(TLP2_MARKINGS)


def _objects(text: str) -> list[dict]:
    return json.loads(text)["objects"]


def _by_type(objs: list[dict], stype: str) -> list[dict]:
    return [o for o in objs if o["type"] == stype]


def _rels(objs: list[dict]) -> set[tuple[str, str, str]]:
    name = {o["id"]: o.get("name", o["type"]) for o in objs}
    return {
        (name[o["source_ref"]], o["relationship_type"], name[o["target_ref"]])
        for o in _by_type(objs, "relationship")
    }


def _abstained() -> AttributionDocument:
    doc = example_document()
    verdict = doc.verdict.model_copy(update={"abstained": True, "text": "abstained: evidence too weak"})
    return doc.model_copy(update={"verdict": verdict})


def _with_tlp(tlp: str) -> AttributionDocument:
    doc = example_document()
    return doc.model_copy(update={"case": doc.case.model_copy(update={"tlp": tlp})})


def _strict() -> ValidationOptions:
    return ValidationOptions(
        version="2.1", strict=True, strict_properties=True, enforce_refs=True, disabled="uuid-check"
    )


@pytest.mark.parametrize("make", [example_document, _abstained], ids=["verdict", "abstained"])
def test_stix_bundle_passes_the_strict_validator(make) -> None:
    result = validate_string(render_stix(make()), _strict())
    assert result.is_valid, [str(e) for e in result.errors]
    assert not result.warnings, [str(w) for w in result.warnings]


def test_stix_only_warnings_without_strict_are_the_documented_ones() -> None:
    opts = ValidationOptions(version="2.1", strict_types=True, strict_properties=True, enforce_refs=True)
    text = render_stix(example_document())
    result = validate_string(text, opts)
    assert result.is_valid
    file_ids = {o["id"] for o in _by_type(_objects(text), "file")}
    for w in map(str, result.warnings):
        assert "{103}" in w or (w.split(":")[0] in file_ids and "Object type 'file'" in w), w
    for o in _by_type(_objects(text), "indicator"):  # the pattern half of strict_types
        assert stix2.Indicator(**o).pattern.split(":")[0].lstrip("[") in OBSERVABLE_TYPES


def test_stix_bundle_parses_without_custom_content() -> None:
    bundle = stix2.parse(render_stix(example_document()), allow_custom=False)
    assert bundle.type == "bundle"


def test_stix_inventory_of_the_example() -> None:
    doc = example_document()
    objs = _objects(render_stix(doc))
    families = {o["name"] for o in _by_type(objs, "malware") if o["is_family"]}
    samples = [o for o in _by_type(objs, "malware") if not o["is_family"]]
    assert families == {"aurora", "borealis", "cirrus"}
    assert {o["name"] for o in _by_type(objs, "intrusion-set")} == {"Example Group", "Other Team"}
    assert [s["name"] for s in samples] == [QUERY]
    (file,) = _by_type(objs, "file")
    assert file["hashes"] == {"SHA-256": QUERY} and samples[0]["sample_refs"] == [file["id"]]
    patterns = {o["pattern"] for o in _by_type(objs, "indicator")}
    assert patterns == {
        "[ipv4-addr:value = '203.0.113.7']",
        "[domain-name:value = 'update.example-cdn.test']",
    }
    (analysis,) = _by_type(objs, "malware-analysis")
    assert analysis["product"] == "attributor" and analysis["analysis_engine_version"] == doc.tool.version
    assert analysis["analysis_definition_version"] == doc.corpus.digest
    assert analysis["sample_ref"] == file["id"]
    (note,) = _by_type(objs, "note")
    assert "very likely (87%), moderate confidence" in note["content"]
    assert {o["external_references"][0]["external_id"] for o in _by_type(objs, "attack-pattern")} == {
        "T1561.002"
    }


def test_stix_relationships_of_the_example() -> None:
    objs = _objects(render_stix(example_document()))
    rels = _rels(objs)
    assert {
        (QUERY, "variant-of", "aurora"),
        (QUERY, "authored-by", "Example Group"),
        ("Example incident", "attributed-to", "Example Group"),
        ("aurora", "authored-by", "Example Group"),
        ("ipv4 203.0.113.7", "indicates", "Example Group"),
        ("domain update.example-cdn.test", "indicates", QUERY),
        ("malware-analysis", "static-analysis-of", QUERY),
    } <= rels
    # borealis is "unlikely" (40%) and Other Team "almost no chance": named, never claimed
    assert not {r for r in rels if r[2] in ("borealis", "Other Team") and r[1] != "authored-by"}
    assert (QUERY, "variant-of", "borealis") not in rels
    confidence = {
        o["relationship_type"]: o.get("confidence")
        for o in _by_type(objs, "relationship")
        if o["relationship_type"] in ("attributed-to", "variant-of")
    }
    assert confidence == {"attributed-to": 87, "variant-of": 81}


def test_non_attributable_indicators_are_not_stix_indicators() -> None:
    text = render_stix(example_document())
    assert "8.8.8.8" not in json.dumps(_by_type(_objects(text), "indicator"))


def test_abstaining_document_claims_nothing() -> None:
    objs = _objects(render_stix(_abstained()))
    kinds = {r[1] for r in _rels(objs)}
    assert "attributed-to" not in kinds and "variant-of" not in kinds
    assert (QUERY, "authored-by", "Example Group") not in _rels(objs)
    (analysis,) = _by_type(objs, "malware-analysis")
    assert "result_name" not in analysis
    event = MISPEvent()
    event.load(render_misp(_abstained()))
    assert [t.name for t in event.tags if "actor" in t.name or "family" in t.name] == []


@pytest.mark.parametrize("tlp", TLPS)
def test_every_stix_object_carries_the_tlp2_marking(tlp: str) -> None:
    objs = _objects(render_stix(_with_tlp(tlp)))
    (marking,) = _by_type(objs, "marking-definition")
    assert marking["id"] == TLP2_MARKINGS[tlp] and marking["name"] == tlp
    level = tlp.removeprefix("TLP:").lower()
    assert marking["extensions"][TLP2_EXTENSION] == {"extension_type": "property-extension", "tlp_2_0": level}
    for o in objs:
        if o is not marking:
            assert o["object_marking_refs"] == [marking["id"]], o["id"]
    event = MISPEvent()
    event.load(render_misp(_with_tlp(tlp)))
    assert event.tags[0].name == tlp.lower()


def test_published_tlp2_ids_are_pinned() -> None:
    """Literal ids from OASIS cti-stix-common-objects (tlp-2.0); a typo would agree with itself."""
    assert TLP2_MARKINGS["TLP:AMBER"] == "marking-definition--55d920b0-5e8b-4f79-9ee9-91f868d9b421"
    assert TLP2_MARKINGS["TLP:RED"] == "marking-definition--e828b379-4e03-4974-9ac4-e53a884c97c1"
    assert TLP2_MARKINGS["TLP:CLEAR"] == "marking-definition--94868c89-83c2-464b-929b-a1a8aa3c8487"
    assert TLP2_MARKINGS["TLP:GREEN"] == "marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb"
    assert TLP2_MARKINGS["TLP:AMBER+STRICT"] == "marking-definition--939a9414-2ddd-4d32-a0cd-375ea402b003"


def test_ids_are_content_derived_and_case_scoped() -> None:
    doc = example_document()
    other = doc.model_copy(update={"case": doc.case.model_copy(update={"id": "case-other"})})
    a, b = (_objects(render_stix(d)) for d in (doc, other))
    ids = lambda objs, t: {o["id"] for o in _by_type(objs, t)}  # noqa: E731
    assert ids(a, "malware") == ids(b, "malware") and ids(a, "intrusion-set") == ids(b, "intrusion-set")
    assert ids(a, "relationship").isdisjoint(ids(b, "relationship"))
    assert ids(a, "indicator").isdisjoint(ids(b, "indicator"))
    assert stable_uuid("malware", "family", "aurora") in {i.split("--")[1] for i in ids(a, "malware")}


def test_timestamp_stamps_case_statements_only() -> None:
    when = datetime(2024, 5, 1, 14, 0, tzinfo=timezone(timedelta(hours=2)))
    objs = _objects(render_stix(example_document(), when))
    for o in objs:
        if o["type"] in ("malware", "intrusion-set", "identity", "attack-pattern"):
            assert o["created"] == o["modified"] == "1970-01-01T00:00:00.000Z"
        elif o["type"] in ("relationship", "indicator", "note", "report", "campaign"):
            assert o["created"] == "2024-05-01T12:00:00.000Z", o["id"]
    misp = json.loads(render_misp(example_document(), when))["Event"]
    assert misp["date"] == "2024-05-01" and misp["timestamp"] == str(int(when.timestamp()))
    with pytest.raises(ValueError, match="timezone"):
        render_stix(example_document(), datetime(2024, 5, 1))


def test_stix_pattern_escapes_hostile_strings() -> None:
    pattern = stix_pattern("url", "http://x.test/a'b\\c")
    assert pattern == "[url:value = 'http://x.test/a\\'b\\\\c']"
    stix2.Indicator(pattern=pattern, pattern_type="stix", valid_from=datetime(2020, 1, 1, tzinfo=UTC))
    assert stix_pattern("mutex", "x") is None


def test_misp_event_loads_back_with_tags_and_attributes() -> None:
    event = MISPEvent()
    event.load(render_misp(example_document()))
    tags = [t.name for t in event.tags]
    assert tags[0] == "tlp:amber"
    assert 'attributor:actor="Example Group"' in tags and 'attributor:family="aurora"' in tags
    assert 'misp-galaxy:mitre-attack-pattern="Disk Structure Wipe - T1561.002"' in tags
    assert not any("borealis" in t or "Other Team" in t for t in tags)
    to_ids = {a.value: a.to_ids for a in event.attributes}
    assert to_ids == {QUERY: True, "203.0.113.7": True, "8.8.8.8": False, "update.example-cdn.test": True}
    assert event.event_reports[0].name == "attribution"
    assert "timestamp" not in json.loads(render_misp(example_document()))["Event"]


def test_misp_galaxy_tag_for_a_known_actor() -> None:
    assert actor_tag("Lazarus Group") == 'misp-galaxy:threat-actor="Lazarus Group"'
    assert actor_tag("lazarus group") == 'misp-galaxy:threat-actor="Lazarus Group"'
    assert galaxy_value("threat-actor", "APT38") == "Lazarus Group"  # a synonym
    doc = example_document()
    renamed = json.loads(doc.to_json().replace("Example Group", "Lazarus Group"))
    event = MISPEvent()
    event.load(render_misp(AttributionDocument.model_validate(renamed)))
    assert 'misp-galaxy:threat-actor="Lazarus Group"' in [t.name for t in event.tags]


def test_goldens() -> None:
    assert_golden("report_example.stix.json", render_stix(example_document()))
    assert_golden("report_example.misp.json", render_misp(example_document()))


_SCRIPT = """
import sys
sys.path.insert(0, {tests!r})
from helpers_attribution import example_document
from attributor.render.misp import render_misp
from attributor.render.stix import render_stix
sys.stdout.write(render_stix(example_document()) + render_misp(example_document()))
"""


def test_exports_are_identical_across_hash_seeds() -> None:
    """One child with a hash seed other than ours (imports cost seconds, so not two children)."""
    ours = os.environ.get("PYTHONHASHSEED", "random")
    seed = "1" if ours == "0" else "0"
    proc = subprocess.run(
        [sys.executable, "-c", _SCRIPT.format(tests=str(TESTS))],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONHASHSEED": seed},
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout == render_stix(example_document()) + render_misp(example_document())
