"""Corpus matching on the demo corpus, checked against what ``attributor/demo/build.py`` put where.

Expectations are derived from the build recipe (which toolkit compiles which C module, what the
incident is made of), never from a previous run's output; function identities come from the
symbol tables of unstripped builds (``helpers_truth``), while matching itself runs blind.
"""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pytest
from helpers_demo import corpus, fingerprint, label, make_store
from helpers_truth import base_name, defining_file, expected_attribution, names_by_address

from attributor.demo import build as demo_build
from attributor.errors import ParameterMismatch
from attributor.fingerprint.model import DEFAULT_PARAMS, FingerprintParams
from attributor.match.matcher import find_pairs, match_sample
from attributor.match.pairwise import similarity_matrix
from attributor.match.rank import UNIQUE_SIM, UNIQUE_WEIGHT
from attributor.match.result import FunctionPair, MatchResult
from attributor.store.memory import MemoryStore

FAMILIES = [k.family for k in demo_build.TOOLKITS]
LIBRARY = demo_build.LIBRARY_FAMILY
ALL = {*FAMILIES, LIBRARY}
ACTORS = {k.family: k.actor for k in demo_build.TOOLKITS}


@pytest.fixture(scope="module")
def incident_pair(tmp_path_factory, incident) -> tuple[Path, Path]:
    """(stripped, unstripped) incident; the stripped copy is the ``incident`` fixture byte for byte."""
    dest = tmp_path_factory.mktemp("incident-truth")
    stripped = demo_build.build_incident(dest, keep_unstripped=True)
    assert stripped.read_bytes() == incident.read_bytes(), "incident build is not reproducible"
    return incident, dest / "incident-unstripped"


def _unique(p: FunctionPair) -> bool:
    """The decision rule's unique evidence (attributor.match.rank)."""
    return p.n_families == 1 and p.weight >= UNIQUE_WEIGHT and p.similarity >= UNIQUE_SIM


def _match(demo_corpus, incident: Path, families: set[str]) -> MatchResult:
    return match_sample(make_store(demo_corpus, families), fingerprint(incident, blind=True))


# -- the incident ----------------------------------------------------------------------------------

STORE_SUBSETS = [
    ALL,
    ALL - {"aurora"},
    ALL - {"borealis"},
    {"cirrus", "drizzle", LIBRARY},  # abstention: nothing the incident contains is there
    {LIBRARY},
    {"aurora", "cirrus"},
]


@pytest.mark.parametrize("families", STORE_SUBSETS, ids=lambda f: "+".join(sorted(f)))
def test_incident_attribution_follows_the_build_recipe(demo_corpus, incident, families) -> None:
    result = _match(demo_corpus, incident, families)
    expected = expected_attribution(families)
    attributed = {f.family for f in result.families if f.attributed}
    assert attributed == expected, [(f.family, f.score, f.unique_functions) for f in result.families]
    assert {a.actor for a in result.actors if a.attributed} == {ACTORS[f] for f in expected if ACTORS[f]}
    assert {f.family for f in result.families} <= families
    for f in result.families:
        if f.family == LIBRARY:
            assert f.library and not f.attributed
        if f.family not in expected:  # shares only the library and other families' code with it
            assert not f.attributed


def test_default_store_attributes_aurora_and_borealis(demo_corpus, incident) -> None:
    """The recipe today (guards ``expected_attribution`` itself against a silent change)."""
    assert expected_attribution(ALL) == {"aurora", "borealis"}
    result = _match(demo_corpus, incident, ALL)
    ranked = [f.family for f in result.families]
    assert ranked[:2] in (["aurora", "borealis"], ["borealis", "aurora"])
    assert result.sample.n_functions == len(result.functions) > 0
    assert result.corpus_samples == len(demo_corpus)


def test_unique_evidence_is_true_code_reuse(demo_corpus, incident_pair) -> None:
    """Every pair that counts as unique evidence links an incident function to the same C function
    in the reference, and that function's source file is compiled into the attributed family."""
    stripped, unstripped = incident_pair
    result = _match(demo_corpus, stripped, ALL)
    q_names = names_by_address(unstripped)
    ref_names = {fp.sha256: names_by_address(s.path) for s, fp in corpus(demo_corpus)}
    kits = {k.family: set(k.sources) for k in demo_build.TOOLKITS}
    checked = 0
    for fam in result.families:
        if not fam.attributed:
            continue
        for p in fam.pairs:
            if not _unique(p):
                continue
            q = base_name(q_names.get(p.query_address))
            r = base_name(ref_names[p.ref_sha256].get(p.ref_address))
            assert q and q == r, f"{fam.family}: incident {q or hex(p.query_address)} paired with {r}"
            assert defining_file()[q] & kits[fam.family], f"{q} is not {fam.family} code"
            assert "libcommon.c" not in defining_file()[q]
            checked += 1
    assert checked >= 2 * 3  # UNIQUE_MIN per attributed family, at the least


def test_unique_function_count_matches_the_pairs(demo_corpus, incident) -> None:
    for fam in _match(demo_corpus, incident, ALL).families:
        unique = [p for p in fam.pairs if _unique(p)]
        assert fam.unique_functions == len(unique), fam.family
        assert fam.shared_functions == len(fam.pairs) == len({p.query_address for p in fam.pairs})
        assert fam.shared_bytes == sum(p.query_size for p in fam.pairs)


def test_library_code_carries_little_weight(demo_corpus, incident) -> None:
    """A query function that also matches libcommon is shared with background code: its pairs in
    every other family have n_families >= 2, weight <= 1/n_families < 1, and never count as unique."""
    result = _match(demo_corpus, incident, ALL)
    lib = next(f for f in result.families if f.family == LIBRARY)
    shared = {p.query_address for p in lib.pairs}
    assert shared, "the incident links libcommon statically: some of it must match"
    seen = 0
    for fam in result.families:
        if fam.library:
            continue
        for p in fam.pairs:
            if p.query_address in shared:
                assert p.n_families >= 2, (fam.family, hex(p.query_address))
                assert p.weight < 1.0 and p.weight <= 1.0 / p.n_families + 1e-4
                seen += 1
    assert seen >= len(shared)


def test_unrelated_program_is_attributed_to_nothing(demo_corpus, fixture_bins) -> None:
    store = make_store(demo_corpus)
    for key in ("calls/gcc-O2", "switch/clang-O2", "tiny/mingw64-O2"):
        if key not in fixture_bins:
            continue
        result = match_sample(store, fingerprint(fixture_bins[key].stripped, blind=True))
        assert not [f.family for f in result.families if f.attributed], key
        assert not [a.actor for a in result.actors if a.attributed], key


# -- corpus samples against a store that holds them -------------------------------------------------


def _corpus_names() -> list[str]:
    return [
        f"{k.family}-{tc}-{opt}{demo_build.TOOLCHAINS[tc].exe_suffix}"
        for tc, opt in demo_build.CORPUS_MATRIX
        for k in demo_build.TOOLKITS
    ]


@pytest.mark.parametrize("name", _corpus_names())
def test_sample_in_the_store_ranks_its_family_first(demo_corpus, name) -> None:
    sample = next((s for s in demo_corpus if s.path.name == name), None)
    if sample is None:
        pytest.skip(f"{name}: toolchain not installed")
    result = match_sample(make_store(demo_corpus), fingerprint(sample.path, blind=True))
    top = result.families[0]
    assert top.family == sample.family, [(f.family, f.score) for f in result.families[:3]]
    assert top.attributed and top.matchable_fraction > 0.5
    assert [f.family for f in result.families if f.attributed] == [sample.family]
    assert any(p.ref_sha256 == fingerprint(sample.path, blind=False).sha256 for p in top.pairs)


MISATTRIBUTED = pytest.mark.xfail(
    strict=True,
    reason="known limitation: the only -O0 build of a family, held out, shares a module (cipher: "
    "aurora+borealis) with another family's -O0 build, while its own family's remaining builds are all "
    "optimised and resemble it below RARITY_MIN; the shared module then looks unique to the other "
    "family (cross-optimisation similarity, see docs/benchmarks.md gcc-O0<->gcc-O3)",
)
LOO_BAD = {"aurora-gcc-O0", "borealis-gcc-O0"}


def _held_out(demo_corpus, name: str) -> tuple[demo_build.BuiltSample, MatchResult]:
    """Match a corpus build against the corpus without that file: a new build of a known family."""
    sample = next((s for s in demo_corpus if s.path.name == name), None)
    if sample is None:
        pytest.skip(f"{name}: toolchain not installed")
    store = make_store(demo_corpus, exclude={name})
    return sample, match_sample(store, fingerprint(sample.path, blind=True))


@pytest.mark.parametrize(
    "name", [pytest.param(n, marks=MISATTRIBUTED) if n in LOO_BAD else n for n in _corpus_names()]
)
def test_new_build_is_never_attributed_to_another_family(demo_corpus, name) -> None:
    """Abstaining is fine (e.g. the only PE build of a family); naming a wrong family is not."""
    sample, result = _held_out(demo_corpus, name)
    wrong = [(f.family, f.score, f.unique_functions) for f in result.families if f.attributed]
    assert {f for f, _, _ in wrong} <= {sample.family}, wrong
    assert {a.actor for a in result.actors if a.attributed} <= {sample.actor}


@pytest.mark.parametrize(
    "name", [n for n in _corpus_names() if n.split("-", 1)[1] in ("gcc-O2", "clang-O1", "clang-O2")]
)
def test_new_optimised_build_ranks_its_family_first(demo_corpus, name) -> None:
    """Optimised ELF builds have a similar sibling build in the corpus (another -O level or compiler)."""
    sample, result = _held_out(demo_corpus, name)
    assert result.families[0].family == sample.family, [(f.family, f.score) for f in result.families[:3]]


# -- parameters --------------------------------------------------------------------------------------

OTHER_PARAMS = [
    FingerprintParams(num_perm=64, bands=16),
    FingerprintParams(seed=DEFAULT_PARAMS.seed ^ 1),
    FingerprintParams(bands=16),
    FingerprintParams(min_insns=DEFAULT_PARAMS.min_insns + 1),
    FingerprintParams(norm_version=DEFAULT_PARAMS.norm_version + 1),
]


@pytest.mark.parametrize("params", OTHER_PARAMS, ids=lambda p: p.to_json())
def test_parameter_mismatch(demo_corpus, incident, params) -> None:
    fp = fingerprint(incident, blind=True)
    store = MemoryStore(params)
    with pytest.raises(ParameterMismatch):
        match_sample(store, fp)
    with pytest.raises(ParameterMismatch):
        find_pairs(fp, store, store.index())
    with pytest.raises(ParameterMismatch):
        store.add_sample(fp, label(demo_corpus[0]))
    assert store.samples() == []


# -- pairwise similarity across compilers -------------------------------------------------------------

CELL_NAMES = [f"{tc}-{opt}" for tc, opt in demo_build.CORPUS_MATRIX]
CROSS = [(fam, a, b) for fam in FAMILIES for a, b in itertools.permutations(CELL_NAMES, 2)]


def _path(demo_corpus, family: str, cell: str) -> Path:
    tc = demo_build.TOOLCHAINS[cell.split("-")[0]]
    name = f"{family}-{cell}{tc.exe_suffix}"
    found = [s.path for s in demo_corpus if s.path.name == name]
    if not found:
        pytest.skip(f"{name}: toolchain not installed")
    return found[0]


def _recall_at_1(query: Path, pool: Path) -> tuple[int, int]:
    """Hits and total over query functions (>= 10 instructions) whose name the pool also has."""
    fq, fp = fingerprint(query, blind=True), fingerprint(pool, blind=True)
    nq, np_ = names_by_address(query), names_by_address(pool)
    pool_idx = {np_.get(int(a)): i for i, a in enumerate(fp.addresses) if np_.get(int(a))}
    s = similarity_matrix(fq, [fp])
    assert s.shape == (fq.n_functions, fp.n_functions)
    hits = total = 0
    for i, a in enumerate(fq.addresses):
        name = nq.get(int(a))
        if name in pool_idx and fq.n_insns[i] >= 10 and name not in ("_start", "main"):
            total += 1
            hits += int(np.argmax(s[i]) == pool_idx[name])
    return hits, total


@pytest.mark.parametrize(("family", "a", "b"), CROSS)
def test_similarity_matrix_finds_counterparts_across_compilers(demo_corpus, family, a, b) -> None:
    hits, total = _recall_at_1(_path(demo_corpus, family, a), _path(demo_corpus, family, b))
    assert total >= 15
    assert hits / total >= 0.5, f"recall@1 {hits}/{total}"


def test_similarity_matrix_recall_overall(demo_corpus) -> None:
    hits = total = 0
    for fam, a, b in CROSS:
        try:
            h, t = _recall_at_1(_path(demo_corpus, fam, a), _path(demo_corpus, fam, b))
        except pytest.skip.Exception:
            continue
        hits, total = hits + h, total + t
    assert total > 0 and hits / total >= 0.75, f"recall@1 {hits}/{total}"


def test_similarity_matrix_against_a_pool(demo_corpus) -> None:
    """With every other family in the pool too, the right family's function still wins."""
    q = _path(demo_corpus, "aurora", "gcc-O2")
    pool_paths = [_path(demo_corpus, f, "clang-O2") for f in FAMILIES]
    fq = fingerprint(q, blind=True)
    pool = [fingerprint(p, blind=True) for p in pool_paths]
    s = similarity_matrix(fq, pool)
    owner = np.concatenate([np.full(p.n_functions, i) for i, p in enumerate(pool)])
    nq = names_by_address(q)
    own = [
        i
        for i, a in enumerate(fq.addresses)
        if nq.get(int(a), "").startswith(("aurora_", "beacon_")) and fq.n_insns[i] >= 10
    ]
    assert len(own) >= 5
    wins = sum(int(owner[int(np.argmax(s[i]))] == FAMILIES.index("aurora")) for i in own)
    assert wins / len(own) >= 0.8


def test_query_without_any_pair_ranks_nothing(demo_corpus) -> None:
    """An empty store, or a query sharing nothing, gives an empty ranking (not an error)."""
    from attributor.store.memory import MemoryStore

    sample = demo_corpus[0]
    fp = fingerprint(sample.path, blind=True)
    result = match_sample(MemoryStore(), fp)
    assert result.families == [] and result.actors == []
    assert result.corpus_samples == 0 and len(result.functions) == fp.n_functions
