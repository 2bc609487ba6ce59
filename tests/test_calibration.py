"""The fusion calibration job's fitting and metrics (bench/calibration.py) on synthetic data: fast."""

from __future__ import annotations

import json
from types import SimpleNamespace

import numpy as np
import pytest

from attributor.scoring.fusion import FEATURES, FusionWeights, family_probability
from bench import calibration as cal
from bench import publish

PRIOR = {k: float(v) for k, v in vars(FusionWeights()).items() if k != "version"}


def test_brier_of_constant_half_is_quarter() -> None:
    y = np.array([0, 1, 1, 0, 1])
    assert cal.brier(np.full(5, 0.5), y) == pytest.approx(0.25)
    assert cal.log_loss(np.full(5, 0.5), y) == pytest.approx(np.log(2))
    assert cal.brier(y.astype(float), y) == 0.0


def test_reliability_table_and_ece_by_hand() -> None:
    p = np.array([0.05, 0.05, 0.15, 0.95, 1.0])
    y = np.array([0, 1, 0, 1, 1])
    table = cal.reliability(p, y)
    assert len(table) == 10
    assert [b["count"] for b in table] == [2, 1, 0, 0, 0, 0, 0, 0, 0, 2]  # 1.0 falls in the last bin
    assert table[0]["mean_predicted"] == pytest.approx(0.05)
    assert table[0]["observed"] == pytest.approx(0.5)
    assert table[1]["observed"] == 0.0
    assert table[2]["mean_predicted"] is None and table[2]["observed"] is None
    assert table[9]["mean_predicted"] == pytest.approx(0.975)
    assert table[9]["observed"] == 1.0
    assert cal.ece(table) == pytest.approx((2 * 0.45 + 0.15 + 2 * 0.025) / 5)


def test_perfectly_calibrated_bins_have_zero_ece() -> None:
    p = np.array([0.25] * 4 + [0.75] * 4)
    y = np.array([1, 0, 0, 0, 1, 1, 1, 0])
    assert cal.ece(cal.reliability(p, y)) == pytest.approx(0.0)


def _rows(xs: np.ndarray, names: tuple[str, ...]) -> list[dict[str, float]]:
    return [{k: 0.0 for k in FEATURES} | dict(zip(names, map(float, r), strict=True)) for r in xs]


def test_separable_set_gives_low_brier_and_stays_finite() -> None:
    code = np.r_[np.linspace(0, 1, 20), np.linspace(3, 6, 20)]
    y = np.r_[np.zeros(20), np.ones(20)].astype(int)
    rows = _rows(code[:, None], ("code",))
    fit = cal.fit_fusion(rows, y, FEATURES, PRIOR)
    assert fit.free == ["code"]  # the only non-zero feature; the others keep their priors
    assert fit.weights["code"] > 0 and np.isfinite(fit.weights["code"])  # the ridge bounds it
    for k in FEATURES:
        if k != "code":
            assert fit.weights[k] == PRIOR[k]
    p = cal.predict(rows, fit.weights)
    assert cal.brier(p, y) < 0.05
    assert cal.ece(cal.reliability(p, y)) < 0.15


def test_fit_recovers_known_weights() -> None:
    rng = np.random.default_rng(7)
    n = 20000
    x = np.column_stack([rng.uniform(0, 4, n), rng.uniform(0, 1, n)])
    z = -3.0 + 1.5 * x[:, 0] + 2.0 * x[:, 1]
    y = (rng.uniform(size=n) < 1 / (1 + np.exp(-z))).astype(int)
    w = cal.fit_logistic(np.column_stack([np.ones(n), x]), y, l2=1e-6)
    assert w == pytest.approx([-3.0, 1.5, 2.0], abs=0.15)
    again = cal.fit_logistic(np.column_stack([np.ones(n), x]), y, l2=1e-6)
    assert np.array_equal(w, again)  # deterministic


def test_negative_weight_is_fixed_at_zero_and_the_rest_refitted() -> None:
    rng = np.random.default_rng(3)
    n = 4000
    code = rng.uniform(0, 4, n)
    crypto = rng.uniform(0, 1, n)
    z = -3 + 1.5 * code - 2.0 * crypto  # crypto evidence *lowers* the odds here
    y = (rng.uniform(size=n) < 1 / (1 + np.exp(-z))).astype(int)
    fit = cal.fit_fusion(_rows(np.column_stack([code, crypto]), ("code", "crypto")), y, FEATURES, PRIOR)
    assert fit.weights["crypto"] == 0.0
    assert fit.clamped["crypto"] < 0
    assert fit.free == ["code"]
    assert fit.weights["code"] > 0


def test_predict_is_the_products_family_probability() -> None:
    rows = _rows(np.array([[2.0, 1.0, 0.3]]), ("code", "unique", "matchable"))
    w = {**PRIOR, "bias": -1.0, "code": 0.7}
    expected = family_probability(rows[0], cal.to_fusion_weights(w))
    assert cal.predict(rows, w)[0] == pytest.approx(expected)


def test_a_feature_seen_in_one_group_only_keeps_its_prior() -> None:
    rows = _rows(np.array([[0.0, 0.0], [5.0, 0.0], [0.0, 1.0], [5.0, 1.0]]), ("code", "keys"))
    y = [0, 1, 0, 1]
    fit = cal.fit_fusion(rows, y, FEATURES, PRIOR, ["a", "a", "b", "b"], min_groups=2)
    assert "keys" not in fit.free and fit.weights["keys"] == PRIOR["keys"]
    assert fit.free == ["code"]
    only_code = cal.fit_fusion(rows, y, ("code",), PRIOR)  # features outside the list keep priors too
    assert only_code.weights["keys"] == PRIOR["keys"]


def test_grouped_cv_predicts_each_group_from_the_others_only() -> None:
    rows = _rows(np.array([[0.0], [5.0], [0.0], [5.0], [0.0], [5.0]]), ("code",))
    y = [0, 1, 0, 1, 1, 0]  # group c contradicts a and b
    groups = ["a", "a", "b", "b", "c", "c"]
    p, fits = cal.grouped_cv(rows, y, groups, FEATURES, PRIOR)
    assert not np.isnan(p).any()
    assert set(fits) == {"a", "b", "c"}
    assert p[5] > 0.5 and p[4] < 0.5  # c is predicted from a and b, which say the opposite of c
    assert fits["c"].weights["code"] > fits["a"].weights["code"]


def _data(setting: str, query: str, fam: str, label: int | None, control: bool = False) -> dict:
    return {"setting": setting, "query": query, "family": fam, "label": label, "control": control}


def test_decisions_count_named_families_and_abstentions() -> None:
    data = [
        _data("full", "q1", "zstd", 1),
        _data("full", "q1", "lz4", 0, control=True),
        _data("full", "q2", "brotli", 1),
        _data("held-out", "q1", "lz4", 0, control=True),
        _data("held-out", "q2", "zlib", None),
        _data("held-out", "q3", "zlib", 0),
    ]
    p = np.array([0.9, 0.6, 0.2, 0.1, 0.7, 0.3])
    d = cal.decisions(data, p, {"q1": 1, "q2": 2}, 0.5)
    full, held = d["full"], d["held-out"]
    assert (full["named_tp"], full["named_fp"], full["positives"]) == (1, 1, 3)
    assert full["recall"] == pytest.approx(1 / 3) and full["precision"] == 0.5
    assert full["named_negative_controls"] == 1
    assert (full["abstained"], full["verdict_right"], full["queries_with_false_attribution"]) == (1, 1, 1)
    assert held["named_fp"] == 0 and held["named_unscored"] == 1
    assert (held["queries"], held["abstained"]) == (3, 2)
    assert held["abstention_rate"] == pytest.approx(2 / 3)


def test_weights_json_loads_into_fusion_weights() -> None:
    fitted = {**PRIOR, "bias": -5.123456, "code": 0.987654}
    text = cal.weights_json(fitted, 100, 10, ["code"], ["crypto"])
    w = FusionWeights.load(text)
    assert w.bias == -5.1235 and w.code == 0.9877 and w.keys == PRIOR["keys"]
    assert w.version.startswith("fitted on embedded-reuse dev set, 100 rows")
    version = json.loads(text)["version"]
    assert "fixed at 0: crypto" in version
    assert "hand-set priors: unique, matchable, attributed, keys, indicators, capabilities " in version


def test_keep_published_merges_only_the_tasks_that_ran(tmp_path) -> None:
    old = {
        "mode": "full",
        "date": "earlier",
        "tasks": {"embedded-reuse": {"x": 1}, "crypto": {"y": 2}},
        "runs": [{"name": "embedded-reuse / attributor"}, {"name": "calibration / attributor", "old": 1}],
    }
    (tmp_path / "latest.json").write_text(json.dumps(old), encoding="utf-8")
    settings = SimpleNamespace(work=tmp_path, quick=False, only=("calibration",))
    new = {
        "mode": "full",
        "date": "now",
        "environment": {"cpu": "c"},
        "tasks": {"calibration": {"z": 3}},
        "runs": [{"name": "calibration / attributor"}],
    }
    merged = publish.keep_published(settings, new)
    assert set(merged["tasks"]) == {"embedded-reuse", "crypto", "calibration"}
    assert merged["tasks"]["calibration"]["run"]["environment"] == {"cpu": "c"}
    assert merged["date"] == "earlier"
    assert merged["runs"] == [{"name": "embedded-reuse / attributor"}, {"name": "calibration / attributor"}]
    settings.only = ("calibration", "embedded-reuse")  # a run with a main task publishes itself
    assert publish.keep_published(settings, new) is new


def test_keep_published_leaves_an_already_merged_page_alone(tmp_path) -> None:
    page = {"mode": "full", "date": "d", "command": "c", "tasks": {"crypto": {}}, "runs": []}
    (tmp_path / "latest.json").write_text(json.dumps(page), encoding="utf-8")
    settings = SimpleNamespace(work=tmp_path, quick=False, only=("crypto",))
    merged_by_crypto = {**page, "tasks": {"crypto": {"new": 1}}}
    assert publish.keep_published(settings, merged_by_crypto) is merged_by_crypto
    settings.quick = True
    fresh = {**page, "date": "later"}
    assert publish.keep_published(settings, fresh) is fresh  # quick runs never merge
