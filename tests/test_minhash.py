"""Properties of the b-bit MinHash (``minhash_batch``/``similarity``) and of the params' JSON form."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import asdict, fields
from pathlib import Path

import numpy as np
import pytest
from helpers_demo import fingerprint_digest
from hypothesis import given, settings
from hypothesis import strategies as st

from attributor.fingerprint.minhash import minhash_batch, similarity, token_hash
from attributor.fingerprint.model import DEFAULT_PARAMS, FingerprintParams
from attributor.pipeline import fingerprint_path

TESTS = Path(__file__).resolve().parent
P = DEFAULT_PARAMS

tokens_st = st.lists(st.text(max_size=12), min_size=1, max_size=40)


def signatures(groups: list[list[str]], params: FingerprintParams = P) -> np.ndarray:
    """MinHash rows of token groups, all in one batch."""
    hashes = np.array([token_hash(t) for g in groups for t in g], dtype=np.uint64)
    offsets = np.cumsum([0, *(len(g) for g in groups)]).astype(np.int64)
    return minhash_batch(hashes, offsets, params)


def one(group: list[str], params: FingerprintParams = P) -> np.ndarray:
    return signatures([group], params)[0]


@settings(max_examples=80, deadline=None)
@given(tokens=tokens_st, data=st.data())
def test_order_and_duplicates_do_not_matter(tokens: list[str], data: st.DataObject) -> None:
    shuffled = data.draw(st.permutations(tokens))
    extra = data.draw(st.lists(st.sampled_from(tokens), max_size=20))
    sig = signatures([tokens, [*shuffled, *extra], sorted(set(tokens))])
    assert sig.shape == (3, P.num_perm) and sig.dtype == np.uint8
    assert np.array_equal(sig[0], sig[1]) and np.array_equal(sig[0], sig[2])
    assert similarity(sig[:1], sig[1:2])[0, 0] == 1.0


@settings(max_examples=40, deadline=None)
@given(groups=st.lists(tokens_st, min_size=1, max_size=8))
def test_a_signature_does_not_depend_on_its_batch(groups: list[list[str]]) -> None:
    batch = signatures(groups)
    for i, g in enumerate(groups):
        assert np.array_equal(batch[i], one(g))


def test_batches_larger_than_one_chunk() -> None:
    """Groups that straddle the internal chunking (32 Ki tokens) and one group larger than a chunk."""
    rng = np.random.default_rng(7)
    groups = [[f"t{v}" for v in rng.integers(0, 60_000, n)] for n in (9_000, 20_000, 40_000, 3, 15_000)]
    batch = signatures(groups)
    for i, g in enumerate(groups):
        assert np.array_equal(batch[i], one(g)), i


def _pair(n_common: int, n_a: int, n_b: int, salt: int) -> tuple[list[str], list[str], float]:
    common = [f"c{salt}:{i}" for i in range(n_common)]
    a = common + [f"a{salt}:{i}" for i in range(n_a)]
    b = common + [f"b{salt}:{i}" for i in range(n_b)]
    return a, b, n_common / (n_common + n_a + n_b)


@settings(max_examples=60, deadline=None, derandomize=True)
@given(
    n_common=st.integers(0, 300),
    n_a=st.integers(0, 300),
    n_b=st.integers(0, 300),
    salt=st.integers(0, 10**6),
)
def test_estimate_is_close_to_the_true_jaccard(n_common: int, n_a: int, n_b: int, salt: int) -> None:
    if n_common + n_a == 0 or n_common + n_b == 0:
        n_common = 1
    errors = []
    for k in range(5):  # average over independent token draws: one draw has sd <= 0.045
        a, b, j = _pair(n_common, n_a, n_b, salt * 8 + k)
        sig = signatures([a, b])
        errors.append(abs(float(similarity(sig[:1], sig[1:])[0, 0]) - j))
    assert sum(errors) / len(errors) < 0.15, errors


def test_estimator_is_unbiased_over_many_sets() -> None:
    """Across 300 random pairs the mean error is near 0 and the mean absolute error is small."""
    rng = np.random.default_rng(11)
    est, true = [], []
    for k in range(300):
        n_common, n_a, n_b = (int(x) for x in rng.integers(1, 200, 3))
        a, b, j = _pair(n_common, n_a, n_b, 10**7 + k)
        sig = signatures([a, b])
        est.append(float(similarity(sig[:1], sig[1:])[0, 0]))
        true.append(j)
    err = np.array(est) - np.array(true)
    assert abs(err.mean()) < 0.01
    assert np.abs(err).mean() < 0.05


@settings(max_examples=40, deadline=None)
@given(groups=st.lists(tokens_st, min_size=1, max_size=6), others=st.lists(tokens_st, min_size=1, max_size=6))
def test_similarity_is_a_bounded_symmetric_score(groups: list[list[str]], others: list[list[str]]) -> None:
    a, b = signatures(groups), signatures(others)
    s = similarity(a, b)
    assert s.shape == (len(groups), len(others)) and s.dtype == np.float32
    assert np.all((s >= 0.0) & (s <= 1.0))
    assert np.array_equal(s, similarity(b, a).T)
    assert np.all(np.diag(similarity(a, a)) == 1.0)


def test_disjoint_sets_score_near_zero() -> None:
    sig = signatures([[f"x{i}" for i in range(500)], [f"y{i}" for i in range(500)]])
    assert similarity(sig[:1], sig[1:])[0, 0] < 0.1


def test_signatures_depend_on_the_seed_and_num_perm() -> None:
    toks = [f"tok{i}" for i in range(50)]
    other_seed = FingerprintParams(seed=P.seed + 1)
    assert not np.array_equal(one(toks), one(toks, other_seed))
    small = FingerprintParams(num_perm=64, bands=16)
    assert one(toks, small).shape == (64,)


# -- independence from the interpreter's string hashing ----------------------------------------------


def _helper(*args: str, seed: int) -> str:
    env = {**os.environ, "PYTHONHASHSEED": str(seed)}
    proc = subprocess.run(
        [sys.executable, str(TESTS / "helpers_demo.py"), *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    return proc.stdout


def test_fingerprints_do_not_depend_on_pythonhashseed(fixture_bins) -> None:
    keys = [k for k in ("calls/gcc-O2", "switch/clang-O2", "tiny/mingw64-O2") if k in fixture_bins]
    paths = [str(fixture_bins[k].stripped) for k in keys]
    runs = [json.loads(_helper("fingerprint", *paths, seed=seed)) for seed in (1, 4242)]
    here = [fingerprint_digest(fingerprint_path(p, blind=True)) for p in paths]
    assert runs[0] == runs[1] == here


# -- params ----------------------------------------------------------------------------------------

params_st = st.builds(
    FingerprintParams,
    norm_version=st.integers(0, 1000),
    num_perm=st.sampled_from([16, 32, 64, 128, 256]),
    seed=st.integers(0, 2**63 - 1),
    bands=st.sampled_from([4, 8, 16, 32]),
    min_insns=st.integers(0, 100),
    byte_order=st.sampled_from(["little", "big"]),
)


@given(p=params_st)
def test_params_json_round_trip(p: FingerprintParams) -> None:
    text = p.to_json()
    assert FingerprintParams.from_json(text) == p
    assert json.loads(text) == asdict(p)
    assert list(json.loads(text)) == sorted(f.name for f in fields(FingerprintParams))
    assert FingerprintParams.from_json(text).to_json() == text


def test_params_rows_and_default_json() -> None:
    assert P.rows * P.bands == P.num_perm
    assert FingerprintParams.from_json(P.to_json()) == P
    with pytest.raises(TypeError):
        FingerprintParams.from_json('{"num_perm": 128, "unknown": 1}')
