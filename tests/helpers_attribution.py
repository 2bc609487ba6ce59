"""A hand-written, realistic :class:`AttributionDocument` for renderer tests.

It does not come from the engine, so renderer tests (and their golden files) do not change
when the scoring changes; end-to-end tests build real documents from the demo corpus.
Fictional actors and families; documentation IP ranges and example domains only.
"""

from __future__ import annotations

from attributor.report.attribution import (
    Ach,
    AchRow,
    Assessment,
    AttributionDocument,
    CaseInfo,
    CodeSignature,
    CorpusInfo,
    CorpusSample,
    Dependency,
    EvidenceRecord,
    Hypothesis,
    InfraMatch,
    InputIoc,
    InputSample,
    MatchedPair,
    ToolInfo,
    Verdict,
    estimative,
    evidence_id,
)

QUERY = "a" * 64
REF_AURORA = "b" * 64
REF_BOREALIS = "c" * 64
REF_LIB = "d" * 64

_ASM_Q = (
    "0x401000  push rbp",
    "0x401001  mov rbp, rsp",
    "0x401004  xor eax, eax",
    "0x401006  movzx ecx, byte ptr [rdi + rax]",
    "0x40100a  xor ecx, 0x5a",
    "0x40100d  mov byte ptr [rdi + rax], cl",
    "0x401010  inc rax",
    "0x401013  cmp rax, rsi",
    "0x401016  jb 0x401006",
    "0x401018  pop rbp",
    "0x401019  ret",
)
_ASM_R = (
    "0x140001000  push rbp",
    "0x140001001  mov rbp, rsp",
    "0x140001004  xor r8d, r8d",
    "0x140001007  movzx eax, byte ptr [rcx + r8]",
    "0x14000100c  xor eax, 0x5a",
    "0x14000100f  mov byte ptr [rcx + r8], al",
    "0x140001013  inc r8",
    "0x140001016  cmp r8, rdx",
    "0x140001019  jb 0x140001007",
    "0x14000101b  pop rbp",
    "0x14000101c  ret",
)


def _ev(kind: str, subtype: str, value: str, **kw: object) -> EvidenceRecord:
    ident = evidence_id(kind, value, kw.get("sample"))
    fields = {"id": ident, "kind": kind, "subtype": subtype, "value": value}
    return EvidenceRecord.model_validate(fields | kw)


def example_evidence() -> tuple[EvidenceRecord, ...]:
    return (
        _ev(
            "code",
            "shared functions",
            "aurora",
            sample=QUERY,
            detail="14 functions (9 unique) shared with aurora",
            families=("aurora",),
            actors=("Example Group",),
            weight=0.92,
            source="matcher",
        ),
        _ev(
            "code",
            "shared functions",
            "borealis",
            sample=QUERY,
            detail="5 functions (2 unique) shared with borealis",
            families=("borealis",),
            actors=("Example Group",),
            weight=0.55,
            source="matcher",
        ),
        _ev(
            "code",
            "shared functions",
            "libcommon",
            sample=QUERY,
            detail="31 functions shared with libcommon",
            families=(),
            library_samples=3,
            weight=0.0,
            source="matcher",
            tags=("library",),
        ),
        _ev(
            "crypto",
            "key-schedule loop",
            "RC4",
            sample=QUERY,
            address="0x401200",
            function="0x401200",
            detail="RC4 key scheduling loop",
            families=("aurora", "borealis", "cirrus"),
            actors=("Example Group", "Other Team"),
            library_samples=2,
            weight=0.05,
            source="crypto",
        ),
        _ev(
            "key",
            "high-entropy",
            "9f" * 32,
            sample=QUERY,
            address="0x404010",
            function="0x401200",
            detail="16 bytes referenced by RC4 code",
            families=("aurora",),
            actors=("Example Group",),
            weight=0.85,
            source="key",
        ),
        _ev(
            "capability",
            "impact/wipe-disk",
            "overwrite Master Boot Record (MBR)",
            sample=QUERY,
            address="0x401400",
            function="0x401400",
            attack=("T1561.002",),
            tags=("destructive",),
            families=("aurora",),
            actors=("Example Group",),
            weight=0.3,
            source="capa",
        ),
        _ev(
            "indicator",
            "domain",
            "update.example-cdn.test",
            sample=QUERY,
            address="0x405020",
            detail="update.example-cdn[.]test",
            source="strings:xor(0x5a)",
            tags=("obfuscated",),
            weight=0.0,
        ),
        _ev(
            "infrastructure",
            "exact",
            "203.0.113.7",
            detail="C2 address seen 2014-11 (intel: fixture.csv)",
            actors=("Example Group",),
            weight=0.8,
            source="intel",
        ),
        _ev(
            "infrastructure",
            "exact",
            "8.8.8.8",
            detail="public DNS resolver",
            actors=("Other Team",),
            tags=("non-attributable",),
            weight=0.0,
            source="intel",
        ),
        _ev(
            "quality",
            "coverage",
            "coverage 0.81",
            sample=QUERY,
            detail="81% of code bytes in recovered functions",
            weight=0.0,
            source="disasm",
        ),
    )


def example_document() -> AttributionDocument:
    ev = example_evidence()
    e = {x.value: x.id for x in ev}
    ach_h = ("actor:Example Group", "family:aurora", "family:borealis", "actor:Other Team", "unknown")
    stance_rows = (
        (e["aurora"], ("consistent", "consistent", "neutral", "inconsistent", "inconsistent")),
        (e["borealis"], ("consistent", "neutral", "consistent", "inconsistent", "inconsistent")),
        (e["RC4"], ("neutral", "neutral", "neutral", "neutral", "neutral")),
        (e["9f" * 32], ("consistent", "consistent", "neutral", "inconsistent", "inconsistent")),
        (
            e["overwrite Master Boot Record (MBR)"],
            ("consistent", "consistent", "neutral", "neutral", "neutral"),
        ),
        (e["203.0.113.7"], ("consistent", "neutral", "neutral", "inconsistent", "inconsistent")),
        (e["8.8.8.8"], ("neutral", "neutral", "neutral", "neutral", "neutral")),
    )
    group = Hypothesis(
        id="actor:Example Group",
        level="actor",
        name="Example Group",
        families=("aurora", "borealis"),
        probability=0.87,
        estimative=estimative(0.87),
        confidence="moderate",
        confidence_reasons=("3 independent kinds of evidence", "one sample only", "coverage 0.81"),
        support=(
            Assessment(
                evidence_id=e["aurora"],
                stance="consistent",
                weight=0.92,
                reason="9 functions unique to aurora",
            ),
            Assessment(
                evidence_id=e["9f" * 32], stance="consistent", weight=0.85, reason="key shared with 1 family"
            ),
            Assessment(
                evidence_id=e["203.0.113.7"], stance="consistent", weight=0.8, reason="exact C2 match"
            ),
        ),
        against=(
            Assessment(
                evidence_id=e["RC4"],
                stance="neutral",
                weight=0.05,
                reason="RC4 is in 3 families and 2 libraries",
            ),
        ),
        alternatives=("code shared with 'Other Team' (cirrus): possible false flag or common source",),
    )
    fam_a = Hypothesis(
        id="family:aurora",
        level="family",
        name="aurora",
        actors=("Example Group",),
        probability=0.81,
        estimative=estimative(0.81),
        confidence="moderate",
        support=(
            Assessment(
                evidence_id=e["aurora"], stance="consistent", weight=0.92, reason="9 unique functions"
            ),
        ),
    )
    fam_b = Hypothesis(
        id="family:borealis",
        level="family",
        name="borealis",
        actors=("Example Group",),
        probability=0.4,
        estimative=estimative(0.4),
        confidence="low",
        support=(
            Assessment(
                evidence_id=e["borealis"], stance="consistent", weight=0.55, reason="2 unique functions"
            ),
        ),
    )
    other = Hypothesis(
        id="actor:Other Team",
        level="actor",
        name="Other Team",
        families=("cirrus",),
        probability=0.03,
        estimative=estimative(0.03),
        confidence="low",
        against=(
            Assessment(
                evidence_id=e["aurora"], stance="inconsistent", weight=0.92, reason="code of another actor"
            ),
        ),
    )
    unknown = Hypothesis(
        id="unknown",
        level="unknown",
        name="unknown / new actor",
        probability=0.1,
        estimative=estimative(0.1),
        confidence="moderate",
        against=(
            Assessment(
                evidence_id=e["aurora"], stance="inconsistent", weight=0.92, reason="unique corpus code"
            ),
        ),
    )
    return AttributionDocument(
        tool=ToolInfo(version="0.1.0", dependencies=(Dependency(name="capstone", version="5.0.9"),)),
        case=CaseInfo(id="case-0123456789ab", title="Example incident", tlp="TLP:AMBER"),
        inputs=(
            InputSample(
                sha256=QUERY,
                name="incident.exe",
                size=40960,
                format="PE",
                arch="x86-64",
                function_count=120,
                coverage=0.81,
                status="complete",
            ),
        ),
        iocs=(
            InputIoc(value="203.0.113.7", type="ipv4", observed="2014-11-24", origin="ioc-file"),
            InputIoc(value="8.8.8.8", type="ipv4", origin="ioc-file"),
        ),
        corpus=CorpusInfo(
            samples=12,
            functions=4000,
            families=4,
            actors=2,
            library_samples=3,
            digest="e" * 64,
            intel_records=5,
            params={"num_perm": 128, "seed": 1},
        ),
        corpus_samples=(
            CorpusSample(
                sha256=REF_AURORA,
                family="aurora",
                actor="Example Group",
                source="aurora-gcc.exe",
                function_count=300,
            ),
            CorpusSample(
                sha256=REF_BOREALIS,
                family="borealis",
                actor="Example Group",
                source="borealis.exe",
                function_count=250,
            ),
            CorpusSample(
                sha256=REF_LIB, family="libcommon", library=True, source="libcommon.so", function_count=80
            ),
        ),
        parameters={"abstain_below": 0.5, "prior_unknown": 0.3},
        verdict=Verdict(
            abstained=False,
            hypothesis="actor:Example Group",
            probability=0.87,
            estimative=estimative(0.87),
            confidence="moderate",
            text="Example Group (family aurora): very likely (87%), moderate confidence",
        ),
        hypotheses=(group, fam_a, fam_b, unknown, other),
        evidence=ev,
        infrastructure=(
            InfraMatch(
                evidence_id=e["203.0.113.7"],
                indicator="203.0.113.7",
                indicator_type="ipv4",
                intel_value="203.0.113.7",
                match="exact",
                strength="strong",
                actor="Example Group",
                source="fixture.csv",
                first_seen="2014-10-01",
                last_seen="2014-12-31",
                in_window=True,
            ),
            InfraMatch(
                evidence_id=e["8.8.8.8"],
                indicator="8.8.8.8",
                indicator_type="ipv4",
                intel_value="8.8.8.8",
                match="exact",
                strength="strong",
                actor="Other Team",
                source="fixture.csv",
                non_attributable=("List of known IPv4 public DNS resolvers",),
            ),
        ),
        pairs=(
            MatchedPair(
                sample=QUERY,
                family="aurora",
                query_address="0x401000",
                query_size=26,
                ref_sha256=REF_AURORA,
                ref_address="0x140001000",
                similarity=0.93,
                weight=0.9,
                n_families=1,
                unique=True,
                query_asm=_ASM_Q,
                ref_asm=_ASM_R,
            ),
            MatchedPair(
                sample=QUERY,
                family="borealis",
                query_address="0x401200",
                query_size=80,
                ref_sha256=REF_BOREALIS,
                ref_address="0x401180",
                similarity=0.71,
                weight=0.6,
                n_families=1,
                query_asm=_ASM_Q[:4],
            ),
        ),
        signatures=(
            CodeSignature(
                family="aurora",
                sample=QUERY,
                function="0x401000",
                size=26,
                pattern="55 48 89 E5 31 C0 0F B6 0C 07 83 F1 5A 88 0C 07 48 FF C0 48 39 F0 72 EE 5D C3",
                asm=_ASM_Q,
                matched=(QUERY, REF_AURORA),
                checked=3,
            ),
        ),
        ach=Ach(hypotheses=ach_h, rows=tuple(AchRow(evidence_id=i, cells=c) for i, c in stance_rows)),  # type: ignore[arg-type]
        notes=("capabilities: rules from capa-rules (1 directory)",),
    )
