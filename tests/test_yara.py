"""YARA signatures: wildcarding, verification against the demo corpus, and the rendered rules.

The golden rules of the example document are refreshed with ``ATTRIBUTOR_UPDATE_GOLDEN=1``
(see ``tests/golden_util.py``).
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
import yara
from golden_util import assert_golden
from helpers_attribution import QUERY, example_document
from helpers_demo import match_incident

from attributor.loading.binary import Binary, Section
from attributor.loading.loader import load_path
from attributor.render.yara import comment, render_yara, rule_name
from attributor.report.attribution import CodeSignature, CorpusSample
from attributor.signature import build_signature_set, candidates_from_result, function_pattern
from attributor.signature.pattern import Ins, decode, shared_patterns

TEXT = 0x401000
# a distinctive body that is long enough to be a pattern on its own: constants stay concrete
BODY = bytes.fromhex("b84c3d2e1f c1c005 69c0b1793796 83f05a 35150aa1b0")


def image(code: bytes, bits: int = 64, text: int = TEXT, data: int = 0x404000) -> Binary:
    """A hand-made image: ``code`` in an executable section, an empty data section after it."""
    sections = [Section(".text", text, len(code), code, True), Section(".data", data, 0x1000, b"", False)]
    arch = "x86-64" if bits == 64 else "x86"
    return Binary("0" * 64, len(code), "ELF", arch, bits, text & ~0xFFFF, text, sections)


def tokens(code: bytes, bits: int = 64, **kw: int) -> list[str]:
    """The wildcarded bytes of ``code`` decoded as one run."""
    return [t for ins in decode(image(code, bits, **kw), kw.get("text", TEXT), len(code)) for t in ins.tokens]


def hexes(spec: str) -> list[str]:
    return spec.split()


# -- wildcarding -------------------------------------------------------------------------------


def test_call_rel32_displacement_is_wildcarded() -> None:
    assert tokens(bytes.fromhex("e810000000")) == hexes("E8 ?? ?? ?? ??")


def test_jmp_rel8_and_jcc_displacements_are_wildcarded() -> None:
    assert tokens(bytes.fromhex("eb05 7403 0f8510000000")) == hexes("EB ?? 74 ?? 0F 85 ?? ?? ?? ??")


def test_rip_relative_lea_and_mov_displacements_are_wildcarded() -> None:
    code = bytes.fromhex("488d0500100000 8b0dfc0f0000 c705f00f000001000000")
    # the immediate 1 of the last mov is a constant: kept
    want = "48 8D 05 ?? ?? ?? ?? 8B 0D ?? ?? ?? ?? C7 05 ?? ?? ?? ?? 01 00 00 00"
    assert tokens(code) == hexes(want)


def test_immediate_inside_the_image_is_wildcarded_small_constant_kept() -> None:
    code = bytes.fromhex("bf10404000 83f05a b84c3d2e1f")  # mov edi, 0x404010; xor eax, 0x5a; mov eax, K
    assert tokens(code) == hexes("BF ?? ?? ?? ?? 83 F0 5A B8 4C 3D 2E 1F")


def test_image_linked_at_zero_keeps_immediates() -> None:
    """PIE code holds no absolute addresses, and 0x1010 there is as likely a constant."""
    code = bytes.fromhex("bf10100000")
    assert tokens(code, text=0x1000, data=0x4000) == hexes("BF 10 10 00 00")


def test_x86_absolute_memory_operands_are_wildcarded() -> None:
    code = bytes.fromhex("a110404000 ff1500204000 8b0485 00124000 8b4508")
    # mov eax, [0x404010]; call [0x402000]; mov eax, [eax*4 + 0x401200]; mov eax, [ebp + 8]
    want = "A1 ?? ?? ?? ?? FF 15 ?? ?? ?? ?? 8B 04 85 ?? ?? ?? ?? 8B 45 08"
    assert tokens(code, bits=32) == hexes(want)


def test_function_pattern_trims_wildcards_and_gives_asm() -> None:
    code = BODY + bytes.fromhex("e810000000")  # a tail call: its displacement ends the pattern
    got = function_pattern(image(code), TEXT)
    assert got is not None
    pattern, asm = got
    assert pattern == "B8 4C 3D 2E 1F C1 C0 05 69 C0 B1 79 37 96 83 F0 5A 35 15 0A A1 B0 E8"
    assert asm[0] == "0x401000  mov eax, 0x1f2e3d4c" and asm[-1] == "0x401016  call 0x40102b"
    assert len(asm) == 6


def test_function_pattern_rejects_short_and_generic_code() -> None:
    assert function_pattern(image(bytes.fromhex("31c0c3")), TEXT) is None  # 3 bytes
    calls = bytes.fromhex("e810000000") * 8 + bytes.fromhex("c3")  # mostly displacements
    assert function_pattern(image(calls), TEXT) is None
    assert function_pattern(image(BODY), 0x404000) is None  # not code


def test_function_pattern_respects_size_and_cap() -> None:
    code = BODY * 4
    short = function_pattern(image(code), TEXT, size=len(BODY))
    capped = function_pattern(image(code), TEXT, max_bytes=40)
    assert short is not None and capped is not None
    assert len(short[0].split()) == len(BODY)
    assert len(capped[0].split()) <= 40


def test_shared_patterns_join_runs_with_jumps() -> None:
    def ins(address: int, hexs: str) -> Ins:
        return Ins(address, tuple(hexs.split()), f"0x{address:x}  x")

    common_a, common_b = "B8 4C 3D 2E 1F C1 C0 05 69", "C0 B1 79 37 96 83 F0 5A 35"
    query = [ins(0x10, common_a), ins(0x19, "90"), ins(0x1A, common_b)]
    ref = [ins(0x80, common_a), ins(0x89, "66 90 90"), ins(0x8C, common_b)]
    (p,) = shared_patterns(query, ref)
    assert p.hex == f"{common_a} [1-3] {common_b}"
    assert p.address == 0x10 and p.fixed == 18


# -- building and verifying on the demo corpus ---------------------------------------------------


@pytest.fixture(scope="module")
def demo_signatures(demo_corpus, incident):
    """Signatures for the demo incident, and the corpus files they were checked against."""
    result = match_incident(demo_corpus, incident)
    files = {hashlib.sha256(s.path.read_bytes()).hexdigest(): s.path for s in demo_corpus}
    families = {sha: s.family for sha, s in zip(files, demo_corpus, strict=True)}
    candidates = candidates_from_result(result)
    build = build_signature_set(candidates, load_path(incident, blind=True), incident, files, families)
    return result, build, files, families


def test_demo_signatures_are_unique_to_their_family(demo_signatures, incident) -> None:
    result, build, files, families = demo_signatures
    attributed = {f.family for f in result.families if f.attributed}
    assert build.signatures, build.summary()
    assert {s.family for s in build.signatures} <= attributed
    assert build.checked == len(files) and build.skipped_files == 0
    doc = example_document().model_copy(update={"signatures": tuple(build.signatures)})
    rules = yara.compile(source=render_yara(doc))
    by_rule = {r.identifier: r.meta["family"] for r in rules}
    assert sorted(by_rule.values()) == sorted({s.family for s in build.signatures})
    assert {m.rule for m in rules.match(str(incident))} == set(by_rule)
    own: dict[str, int] = dict.fromkeys(by_rule.values(), 0)
    for sha, path in files.items():
        for m in rules.match(str(path)):
            assert by_rule[m.rule] == families[sha], f"{m.rule} matches {path.name} of another family"
            own[families[sha]] += 1
    assert all(own.values()), own


def test_demo_signature_records(demo_signatures) -> None:
    _, build, files, families = demo_signatures
    for sig in build.signatures:
        assert sig.matched[0] == sig.sample and len(sig.matched) >= 2
        assert all(families[s] == sig.family for s in sig.matched[1:])
        assert sig.checked == len(files) and sig.asm
    assert build.tried >= len(build.signatures)


def test_missing_and_changed_corpus_files_are_skipped(demo_corpus, incident, tmp_path: Path) -> None:
    result = match_incident(demo_corpus, incident)
    files: dict[str, Path] = {hashlib.sha256(s.path.read_bytes()).hexdigest(): s.path for s in demo_corpus}
    families = {sha: s.family for sha, s in zip(files, demo_corpus, strict=True)}
    changed = tmp_path / "changed"
    changed.write_bytes(b"not the sample")
    files = {**files, "e" * 64: tmp_path / "missing", "f" * 64: changed}
    build = build_signature_set(
        candidates_from_result(result), load_path(incident, blind=True), incident, files, families
    )
    assert build.skipped_files == 2 and build.checked == len(files) - 2


def test_query_file_must_be_the_query(demo_corpus, incident, tmp_path: Path) -> None:
    other = tmp_path / "other"
    other.write_bytes(b"x")
    from attributor.errors import FileAccessError

    with pytest.raises(FileAccessError):
        build_signature_set([], load_path(incident, blind=True), other, {}, {})


# -- rendering ---------------------------------------------------------------------------------


def test_example_document_rules_compile_and_match_golden() -> None:
    text = render_yara(example_document())
    rules = yara.compile(source=text)
    (rule,) = list(rules)
    assert rule.meta["family"] == "aurora" and rule.meta["tlp"] == "TLP:AMBER"
    data = bytes.fromhex(example_document().signatures[0].pattern.replace(" ", ""))
    assert [m.rule for m in rules.match(data=b"\0" + data)] == [rule.identifier]
    assert_golden("report_example.yar", text)


def test_no_signatures_renders_a_valid_comment_only_file() -> None:
    text = render_yara(example_document().model_copy(update={"signatures": ()}))
    assert "no verified code signature" in text and "rule " not in text
    assert list(yara.compile(source=text)) == []


HOSTILE = (
    'evil" } rule pwn { condition: true } /*',
    "line\nbreak\r\u2028*/",
    "ünïcödé 家族 \\x41",
    "",
    "___",
)


def test_hostile_names_and_asm_still_compile() -> None:
    base = example_document()
    sig = base.signatures[0]
    asm = ("0x401000  mov */ eax\n}", "rule x { condition: true }", "/* \x00 \u202e")
    sigs = tuple(sig.model_copy(update={"family": f, "asm": asm}) for f in HOSTILE)
    samples = tuple(CorpusSample(sha256=QUERY, family=f, actor=f + '"\n') for f in HOSTILE)
    case = base.case.model_copy(update={"id": 'c"ase\n*/'})
    doc = base.model_copy(update={"signatures": sigs, "corpus_samples": samples, "case": case})
    rules = list(yara.compile(source=render_yara(doc)))
    assert len(rules) == len(HOSTILE)
    assert sorted(r.meta["family"] for r in rules) == sorted(HOSTILE)


def test_rule_names_are_identifiers_and_distinct() -> None:
    names = [rule_name(f) for f in (*HOSTILE, "a-b", "a_b", "x" * 500)]
    assert len(set(names)) == len(names)
    assert all(n.isascii() and n.replace("_", "a").isalnum() and len(n) <= 128 for n in names)


def test_comment_cannot_break_out() -> None:
    for text in ("a*/b", "*/*/", "/*/", "x\ny", "tab\there", "é"):
        out = comment(text)
        assert "*/" not in out and "/*" not in out and "\n" not in out and out.isascii()


def test_pattern_that_is_not_hex_is_refused() -> None:
    bad = CodeSignature(family="a", sample=QUERY, function="0x1", size=1, pattern="} condition: true }")
    with pytest.raises(ValueError, match="hex string"):
        render_yara(example_document().model_copy(update={"signatures": (bad,)}))
