"""Fusion calibration on the embedded-reuse dataset: fit the logistic weights, measure calibration.

The fusion model (:mod:`attributor.scoring.fusion`) gives every candidate family of a sample
``P = sigmoid(bias + w . x)`` over the evidence features ``x = family_features(...)``. This job
measures how well those probabilities are calibrated and fits the weights that the data can speak
to, on dataset B (third-party libraries embedded in Python wheels: "family" = library).

Job (one measured subprocess; the runner is this file: ``python bench/calibration.py JOB RESULT``):

* every reference is analysed with ``analyse_path(path, blind=True)`` with evidence on (crypto,
  key material, indicators; no capa rules) and ingested into a SQLite store in the bench cache
  (``calibration-references-<mode>.sqlite``, runtime entries as ``Label(library=True)``). The store
  is reused when the references, the evidence options and attributor's sources are unchanged;
* every query (its ``strip --strip-all`` copy, as in ``bench/embedded_reuse.py``) is analysed the
  same way and matched with ``match_sample`` twice: against the full store (**full** setting), and
  against the store without the references of the query's own embedded families (**held-out**
  setting: the query's family is not in the corpus, so every candidate is wrong and the right
  answer is to abstain; these are the negative controls);
* one row per (query, setting, candidate family): candidates are the non-library families of
  ``result.families`` plus the families named by shared evidence (as ``build_document`` does),
  with ``family_features``.

Scoring (here, in the parent): label 1 when the family is a verified ``contains`` family of the
query, 0 when it is in the query's ``negatives_all``; any other family (unverified or unlisted) is
left out of every metric and counted. Logistic regression (L2-regularised Newton/IRLS, ``L2`` on the
non-bias weights) fits ``bias`` and every feature that is non-zero in rows of at least
``MIN_GROUPS`` packages (else cross-validation could not check it); the others keep their hand-set
prior. Evidence may not lower a probability: a weight fitted below zero is fixed at 0 and the rest
refitted. A variant fits only the code features and crypto (``CODE_ONLY``), keeping keys, indicators
and capabilities at their priors. Out-of-sample numbers come from grouped cross-validation that
leaves one wheel *package* out at a time (queries of one package, e.g. three zstandard versions,
are near-copies and never sit on both sides). Reported: Brier score, log loss, a 10-bin
reliability table and ECE of the hand-set defaults (``FusionWeights()``) and of the fitted weights
(out-of-sample and in-sample), on all rows and on the *contested* ones (some model gives them at
least ``CONTESTED``), and the decisions at ``ABSTAIN_BELOW``. ``attributor/scoring/weights.json``
is written (full runs only) when the out-of-sample Brier beats the hand-set weights'.
"""

from __future__ import annotations

import datetime
import json
import logging
import resource
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from attributor.fingerprint.model import SampleFingerprint
    from attributor.match.result import MatchResult
    from attributor.scoring.fusion import FusionWeights
    from attributor.store.base import Label
    from attributor.store.sqlite import SQLiteStore

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

log = logging.getLogger("bench")

L2 = 1.0  # ridge on the non-bias weights (0.5 * L2 * |w|^2), fixed before looking at the data
MIN_GROUPS = 2  # a feature is fitted only when non-zero in two packages (else CV cannot check it)
CONTESTED = 0.1  # "contested" rows: some compared model gives them at least this probability
# the variant that keeps every other kind at its prior
CODE_ONLY = ("code", "unique", "matchable", "attributed", "crypto")
BINS = 10
WEIGHTS_FILE = Path(__file__).resolve().parents[1] / "attributor" / "scoring" / "weights.json"
SETTINGS = ("full", "held-out")


# --------------------------------------------------------------------------- metrics


def brier(p: np.ndarray, y: np.ndarray) -> float:
    """Mean squared error of probabilities ``p`` against 0/1 labels ``y``."""
    p, y = np.asarray(p, dtype=float), np.asarray(y, dtype=float)
    return float(np.mean((p - y) ** 2)) if len(p) else float("nan")


def log_loss(p: np.ndarray, y: np.ndarray, eps: float = 1e-15) -> float:
    p = np.clip(np.asarray(p, dtype=float), eps, 1 - eps)
    y = np.asarray(y, dtype=float)
    return float(-np.mean(y * np.log(p) + (1 - y) * np.log(1 - p))) if len(p) else float("nan")


def reliability(p: np.ndarray, y: np.ndarray, bins: int = BINS) -> list[dict]:
    """Equal-width bins over [0, 1] (the last one closed): count, mean predicted, observed frequency."""
    p, y = np.asarray(p, dtype=float), np.asarray(y, dtype=float)
    idx = np.minimum((p * bins).astype(int), bins - 1)
    out = []
    for b in range(bins):
        m = idx == b
        n = int(m.sum())
        out.append(
            {
                "lo": b / bins,
                "hi": (b + 1) / bins,
                "count": n,
                "positives": int(y[m].sum()) if n else 0,
                "mean_predicted": float(p[m].mean()) if n else None,
                "observed": float(y[m].mean()) if n else None,
            }
        )
    return out


def ece(table: Sequence[Mapping]) -> float:
    """Expected calibration error: count-weighted mean |observed - mean predicted| over the bins."""
    n = sum(b["count"] for b in table)
    if not n:
        return float("nan")
    return float(sum(b["count"] * abs(b["observed"] - b["mean_predicted"]) for b in table if b["count"]) / n)


def calibration_metrics(p: np.ndarray, y: np.ndarray) -> dict:
    table = reliability(p, y)
    return {
        "n": len(p),
        "positives": int(np.sum(y)),
        "brier": brier(p, y),
        "log_loss": log_loss(p, y),
        "ece": ece(table),
        "reliability": table,
    }


# --------------------------------------------------------------------------- fitting


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-np.clip(z, -40.0, 40.0)))


def fit_logistic(
    x: np.ndarray,
    y: np.ndarray,
    l2: float = L2,
    offset: np.ndarray | None = None,
    max_iter: int = 100,
    tol: float = 1e-10,
) -> np.ndarray:
    """Ridge logistic regression by damped Newton (IRLS); column 0 of ``x`` is the unpenalised bias.

    Minimises ``-sum log-likelihood + 0.5 * l2 * |w[1:]|^2``; strictly convex for ``l2 > 0``, so the
    result is unique and deterministic (no random start). ``offset`` is added to the linear term
    (features held at fixed weights).
    """
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    n, d = x.shape
    off = np.zeros(n) if offset is None else np.asarray(offset, dtype=float)
    pen = np.full(d, float(l2))
    pen[0] = 0.0
    w = np.zeros(d)

    def objective(w: np.ndarray) -> float:
        z = np.clip(x @ w + off, -40.0, 40.0)
        return float(np.sum(np.logaddexp(0.0, z) - y * z) + 0.5 * np.sum(pen * w * w))

    f = objective(w)
    for _ in range(max_iter):
        p = _sigmoid(x @ w + off)
        g = x.T @ (p - y) + pen * w
        h = (x * (p * (1 - p))[:, None]).T @ x + np.diag(pen) + 1e-9 * np.eye(d)
        step = np.linalg.solve(h, g)
        t = 1.0
        while t > 1e-8:
            f_new = objective(w - t * step)
            if f_new <= f + 1e-12:
                break
            t /= 2
        w, f = w - t * step, f_new
        if float(np.max(np.abs(t * step))) < tol:
            break
    return w


@dataclass
class Fit:
    """Fitted weights of one fit: ``free`` features were fitted, the rest kept at ``prior``."""

    weights: dict[str, float]
    free: list[str]
    clamped: dict[str, float] = field(default_factory=dict)  # feature -> its unconstrained weight


def fit_fusion(
    rows: Sequence[Mapping[str, float]],
    y: Sequence[int],
    features: Sequence[str],
    prior: Mapping[str, float],
    groups: Sequence[str] | None = None,
    min_groups: int = 1,
) -> Fit:
    """Fit ``bias`` and the features of ``features`` the data can speak to; the rest keep ``prior``.

    A feature is fitted when it is non-zero in rows of at least ``min_groups`` groups (any row when
    ``groups`` is None); every other weight (FEATURES outside ``features`` too) keeps its prior.
    Monotone: evidence may only raise a probability. A feature fitted below zero is fixed at 0 and
    the others are refitted, until every free weight is >= 0.
    """
    from attributor.scoring.fusion import FEATURES

    yv = np.asarray(y, dtype=float)
    cols = {k: np.array([r.get(k, 0.0) for r in rows], dtype=float) for k in FEATURES}
    garr = np.asarray(groups) if groups is not None else np.zeros(len(yv))
    free = [k for k in features if len(set(garr[cols[k] != 0.0].tolist())) >= max(1, min_groups)]
    fixed = {k: float(prior[k]) for k in FEATURES if k not in free}
    clamped: dict[str, float] = {}
    while True:
        x = np.column_stack([np.ones(len(yv)), *(cols[k] for k in free)]) if free else np.ones((len(yv), 1))
        offset = sum((fixed[k] * cols[k] for k in fixed), np.zeros(len(yv)))
        w = fit_logistic(x, yv, offset=offset)
        neg = [(w[i + 1], k) for i, k in enumerate(free) if w[i + 1] < 0]
        if not neg:
            break
        value, worst = min(neg)
        clamped[worst] = float(value)
        free.remove(worst)
        fixed[worst] = 0.0
    weights = {"bias": float(w[0]), **{k: float(w[i + 1]) for i, k in enumerate(free)}, **fixed}
    return Fit(weights, free, clamped)


def predict(rows: Sequence[Mapping[str, float]], weights: Mapping[str, float]) -> np.ndarray:
    """The product's own :func:`family_probability` with these weights."""
    from attributor.scoring.fusion import family_probability

    w = to_fusion_weights(weights)
    return np.array([family_probability(r, w) for r in rows], dtype=float)


def to_fusion_weights(weights: Mapping[str, float], version: str = "calibration") -> FusionWeights:
    from attributor.scoring.fusion import FusionWeights

    known = {f.name for f in fields(FusionWeights)} - {"version"}
    return FusionWeights(**{k: float(v) for k, v in weights.items() if k in known}, version=version)


def grouped_cv(
    rows: Sequence[Mapping[str, float]],
    y: Sequence[int],
    groups: Sequence[str],
    features: Sequence[str],
    prior: Mapping[str, float],
    min_groups: int = 1,
) -> tuple[np.ndarray, dict[str, Fit]]:
    """Out-of-sample probabilities: each group is predicted by a fit on all the other groups."""
    p = np.full(len(rows), np.nan)
    fits = {}
    garr = np.asarray(groups)
    for g in sorted(set(groups)):
        test = garr == g
        train = ~test
        fit = fit_fusion(
            [r for r, t in zip(rows, train, strict=True) if t],
            [v for v, t in zip(y, train, strict=True) if t],
            features,
            prior,
            [str(v) for v in garr[train]],
            min_groups,
        )
        fits[g] = fit
        p[test] = predict([r for r, t in zip(rows, test, strict=True) if t], fit.weights)
    return p, fits


# --------------------------------------------------------------------------- decisions


def decisions(data: list[dict], p: np.ndarray, positives: Mapping[str, int], threshold: float) -> dict:
    """Decisions at ``threshold`` (= ``ABSTAIN_BELOW``): a family is named when ``P >= threshold``.

    ``data``: the row records (query, setting, family, label; label None = not scored), ``p`` their
    probabilities, ``positives``: query -> number of verified embedded families (recall's base:
    a positive family with no candidate row at all is a miss). Per setting: families named (TP, FP,
    named but not scored), recall / precision, queries where the verdict abstains (no family reaches
    the threshold), and whether the top family is right.
    """
    out = {}
    for setting in SETTINGS:
        idx = [i for i, d in enumerate(data) if d["setting"] == setting]
        queries = sorted({data[i]["query"] for i in idx} | (set(positives) if setting == "full" else set()))
        by_q: dict[str, list[int]] = {q: [] for q in queries}
        for i in idx:
            by_q[data[i]["query"]].append(i)
        tp = sum(1 for i in idx if p[i] >= threshold and data[i]["label"] == 1)
        fp = sum(1 for i in idx if p[i] >= threshold and data[i]["label"] == 0)
        unscored = sum(1 for i in idx if p[i] >= threshold and data[i]["label"] is None)
        fp_controls = sum(1 for i in idx if p[i] >= threshold and data[i].get("control"))
        abstain = top_right = wrong_q = 0
        for _q, ii in by_q.items():
            named = [i for i in ii if p[i] >= threshold]
            if not named:
                abstain += 1
                continue
            best = max(named, key=lambda i: (p[i], data[i]["family"]))
            top_right += data[best]["label"] == 1
            wrong_q += any(data[i]["label"] == 0 for i in named)
        n_pos = sum(positives.values()) if setting == "full" else 0
        out[setting] = {
            "queries": len(queries),
            "named_tp": tp,
            "named_fp": fp,
            "named_unscored": unscored,
            "named_negative_controls": fp_controls,
            "positives": n_pos,
            "recall": tp / n_pos if n_pos else None,
            "precision": tp / (tp + fp) if tp + fp else None,
            "abstained": abstain,
            "abstention_rate": abstain / len(queries) if queries else None,
            "verdict_right": top_right,
            "queries_with_false_attribution": wrong_q,
        }
    return out


def engine_decisions(data: list[dict], positives: Mapping[str, int]) -> dict:
    """The matcher's own rule (``FamilyScore.attributed``) as a reference point."""
    p = np.array([1.0 if d["attributed"] else 0.0 for d in data])
    return decisions(data, p, positives, 0.5)


# --------------------------------------------------------------------------- scoring of a run


def label_rows(result: dict, truth: Mapping[str, dict]) -> list[dict]:
    """Runner rows with their labels: 1 verified, 0 listed negative, None otherwise (not scored)."""
    out = []
    for r in result["rows"]:
        t = truth[r["query"]]
        fam = r["family"]
        label = 1 if fam in t["positives"] else 0 if fam in t["negatives_all"] else None
        out.append({**r, "label": label, "control": fam in t["negative_controls"]})
    return out


def summarise(result: dict, truth: Mapping[str, dict], prior: Mapping[str, float], threshold: float) -> dict:
    """Fit, cross-validate and measure; ``truth``: query -> package, positives, negatives (lists)."""
    from attributor.scoring.fusion import FEATURES

    data = label_rows(result, truth)
    scored = [d for d in data if d["label"] is not None]
    x = [d["features"] for d in scored]
    y = [int(d["label"]) for d in scored]
    groups = [truth[d["query"]]["package"] for d in scored]
    nonzero = {k: sum(1 for r in x if r.get(k, 0.0) != 0.0) for k in FEATURES}
    pos_rows = {k: sum(1 for r, v in zip(x, y, strict=True) if v and r.get(k, 0.0) != 0.0) for k in FEATURES}

    full_fit = fit_fusion(x, y, FEATURES, prior, groups, MIN_GROUPS)
    p_oos, fold_fits = grouped_cv(x, y, groups, FEATURES, prior, MIN_GROUPS)
    code_fit = fit_fusion(x, y, CODE_ONLY, prior, groups, MIN_GROUPS)
    p_code, code_folds = grouped_cv(x, y, groups, CODE_ONLY, prior, MIN_GROUPS)
    p_in = predict(x, full_fit.weights)
    p_hand = predict(x, prior)

    # rows any compared model finds at least slightly likely: one row set for every model, without
    # the easy negatives that make up most rows and flatter every score
    contested = (p_hand >= CONTESTED) | (p_oos >= CONTESTED) | (p_code >= CONTESTED)

    def per_setting(p: np.ndarray) -> dict:
        out = {"all": calibration_metrics(p, np.asarray(y))}
        for s in SETTINGS:
            m = np.array([d["setting"] == s for d in scored])
            out[s] = calibration_metrics(p[m], np.asarray(y)[m])
        out["contested"] = calibration_metrics(p[contested], np.asarray(y)[contested])
        return out

    positives = {q: len(t["positives"]) for q, t in truth.items()}
    # decisions over every row (unscored rows too: naming an unscored family is reported apart)
    p_all = {
        "hand-set": predict([d["features"] for d in data], prior),
        "fitted (out-of-sample)": _oos_all(data, scored, p_oos, fold_fits, truth),
        "fitted, other kinds at priors (out-of-sample)": _oos_all(data, scored, p_code, code_folds, truth),
    }
    fold_weights = {g: f.weights for g, f in fold_fits.items()}
    spread = {
        k: [min(w[k] for w in fold_weights.values()), max(w[k] for w in fold_weights.values())]
        for k in ("bias", *FEATURES)
    }
    return {
        "n_queries": len(truth),
        "n_rows": len(data),
        "n_scored": len(scored),
        "n_unscored": len(data) - len(scored),
        "rows_per_setting": {s: sum(1 for d in scored if d["setting"] == s) for s in SETTINGS},
        "positives_per_setting": {
            s: sum(1 for d in scored if d["setting"] == s and d["label"]) for s in SETTINGS
        },
        "groups": sorted(set(groups)),
        "l2": L2,
        "threshold": threshold,
        "nonzero_rows": nonzero,
        "nonzero_positive_rows": pos_rows,
        "prior": dict(prior),
        "fitted": full_fit.weights,
        "fitted_free": full_fit.free,
        "fitted_clamped": full_fit.clamped,
        "min_groups": MIN_GROUPS,
        "contested": CONTESTED,
        "groups_nonzero": {
            k: len({gg for r, gg in zip(x, groups, strict=True) if r.get(k)}) for k in FEATURES
        },
        "fold_spread": spread,
        "variant": {"features": list(CODE_ONLY), "weights": code_fit.weights, "clamped": code_fit.clamped},
        "calibration": {
            "hand-set": per_setting(p_hand),
            "fitted (out-of-sample)": per_setting(p_oos),
            "fitted (in-sample)": per_setting(p_in),
            "fitted, other kinds at priors (out-of-sample)": per_setting(p_code),
        },
        "decisions": {
            **{k: decisions(data, v, positives, threshold) for k, v in p_all.items()},
            "matcher rule (`attributed`)": engine_decisions(data, positives),
        },
        "hardest": _hardest(scored, p_oos),
        "held_out_families": result.get("held_out", {}),
        "failed": result.get("failed", {}),
    }


def _oos_all(
    data: list[dict], scored: list[dict], p_oos: np.ndarray, fits: dict, truth: Mapping
) -> np.ndarray:
    """Out-of-sample probability of every row (unscored rows: by their query's fold)."""
    by_id = {id(d): p for d, p in zip(scored, p_oos, strict=True)}
    out = []
    for d in data:
        if id(d) in by_id:
            out.append(by_id[id(d)])
        else:
            out.append(float(predict([d["features"]], fits[truth[d["query"]]["package"]].weights)[0]))
    return np.asarray(out, dtype=float)


def _hardest(scored: list[dict], p: np.ndarray, n: int = 8) -> list[dict]:
    """The rows with the largest squared error out-of-sample (where the model is wrong)."""
    err = (p - np.array([d["label"] for d in scored])) ** 2
    order = np.argsort(-err, kind="stable")[:n]
    return [
        {
            "query": scored[i]["query"],
            "setting": scored[i]["setting"],
            "family": scored[i]["family"],
            "label": scored[i]["label"],
            "p": float(p[i]),
            "features": {k: round(v, 3) for k, v in scored[i]["features"].items() if v},
        }
        for i in order
    ]


def weights_json(
    fitted: Mapping[str, float],
    n_rows: int,
    n_queries: int,
    free: Sequence[str],
    clamped: Sequence[str] = (),
) -> str:
    """``weights.json``: every ``FusionWeights`` field (4 decimals) and a ``version`` that says how."""
    from attributor.scoring.fusion import FusionWeights

    names = [f.name for f in fields(FusionWeights) if f.name != "version"]
    fixed = [k for k in names if k not in ("bias", *free, *clamped)]
    data: dict[str, float | str] = {k: round(float(fitted[k]), 4) for k in names}
    at_zero = f"; fitted below 0, fixed at 0: {', '.join(clamped)}" if clamped else ""
    data["version"] = (
        f"fitted on embedded-reuse dev set, {n_rows} rows ({n_queries} queries, full and held-out corpus), "
        f"ridge logistic regression (L2 {L2}), weights >= 0; fitted: bias, {', '.join(free)}{at_zero}; "
        f"hand-set priors: {', '.join(fixed) or 'none'} (bench/calibration.py)"
    )
    return json.dumps(data, indent=1) + "\n"


# --------------------------------------------------------------------------- plan / run (parent)


def run(settings, refs: list, queries: list, runs: list[dict]) -> dict:
    """Run the calibration job (one measured subprocess, reused with ``--reuse``), fit and measure."""
    from attributor.scoring.fusion import FusionWeights
    from attributor.scoring.hypotheses import ABSTAIN_BELOW
    from bench.config import code_digest
    from bench.datasets import stripped_copy
    from bench.embedded_reuse import QUICK_QUERIES
    from bench.procs import BENCH_DIR, REPO_ROOT, Usage, our_python, run_job

    if settings.quick:
        queries = [q for q in queries if q.id in QUICK_QUERIES]
        wanted = {f for q in queries for f in (*q.positives, *q.negative_controls)}
        refs = [r for r in refs if r.runtime or (r.family in wanted and r.suite == "bookworm")]
    stripped = {q.id: stripped_copy(q.path, settings.work / "stripped-queries" / q.id) for q in queries}
    job = {
        "task": "calibration",
        "references": [
            {"id": r.id, "path": str(r.path), "family": r.family, "runtime": r.runtime} for r in refs
        ],
        "queries": [
            {"id": q.id, "path": str(stripped[q.id]), "hold_out": sorted(q.positives)} for q in queries
        ],
        "store": str(settings.work / f"calibration-references-{settings.mode}.sqlite"),
        "store_code": code_digest([REPO_ROOT / "attributor"]),
        "code": code_digest([REPO_ROOT / "attributor", Path(__file__).resolve()]),
    }
    name = f"{settings.mode}-calibration-attributor"
    work = settings.work / "runs"
    reused = _reusable(work, name, job) if settings.reuse else None
    if reused is not None:
        log.info("reusing %s from an identical earlier job", name)
        result, usage = reused
    else:
        result, usage = run_job(our_python(), BENCH_DIR / "calibration.py", job, work, name)
        (work / f"{name}.usage.json").write_text(json.dumps(usage.to_dict()), encoding="utf-8")
    assert isinstance(usage, Usage)
    runs.append(
        {
            "name": "calibration / attributor",
            "cpu_s": usage.cpu_s,
            "wall_s": usage.wall_s,
            "max_rss_mib": usage.max_rss_mib,
            "reused": reused is not None,
        }
    )
    truth = {
        q.id: {
            "package": q.package or q.id.split("/")[1],
            "positives": list(q.positives),
            "negatives_all": list(q.negatives_all),
            "negative_controls": list(q.negative_controls),
        }
        for q in queries
    }
    prior = {k: float(v) for k, v in vars(FusionWeights()).items() if k != "version"}
    summary = summarise(result, truth, prior, ABSTAIN_BELOW)
    summary["n_references"] = len(refs)
    summary["store_reused"] = bool(result.get("store_reused"))
    summary["weights_file"] = _maybe_write_weights(summary, settings)
    summary["run"] = {
        "command": settings.command,
        "date": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "code": job["code"],
        "versions": result.get("versions", {}),
        "cpu_s": usage.cpu_s,
        "wall_s": usage.wall_s,
        "reused": reused is not None,
    }
    return summary


def _reusable(work: Path, name: str, job: dict) -> tuple[dict, object] | None:
    from bench.procs import Usage

    paths = [work / f"{name}.{kind}.json" for kind in ("job", "result", "usage")]
    if not all(p.is_file() for p in paths) or json.loads(paths[0].read_text(encoding="utf-8")) != job:
        return None
    usage = json.loads(paths[2].read_text(encoding="utf-8"))
    usage.pop("cpu_s", None)
    return json.loads(paths[1].read_text(encoding="utf-8")), Usage(**usage)


def _maybe_write_weights(summary: dict, settings) -> dict:
    """Write ``weights.json`` when the out-of-sample Brier beats the hand-set weights (full runs only)."""
    oos = summary["calibration"]["fitted (out-of-sample)"]["all"]["brier"]
    hand = summary["calibration"]["hand-set"]["all"]["brier"]
    better = oos < hand
    status = {"oos_brier": oos, "hand_brier": hand, "written": False}
    if settings.quick:
        status["why"] = "quick run: never writes weights"
    elif not better:
        status["why"] = "the fitted weights do not beat the hand-set ones out-of-sample: defaults kept"
    else:
        n = (summary["n_scored"], summary["n_queries"])
        text = weights_json(summary["fitted"], *n, summary["fitted_free"], list(summary["fitted_clamped"]))
        WEIGHTS_FILE.write_text(text, encoding="utf-8")
        status["written"] = True
        status["why"] = "out-of-sample Brier below the hand-set weights'"
    log.info("calibration: Brier hand-set %.4f, fitted out-of-sample %.4f: %s", hand, oos, status["why"])
    return status


# --------------------------------------------------------------------------- runner (subprocess)


def _options():
    from attributor.evidence.extract import EvidenceOptions

    return EvidenceOptions(crypto=True, indicators=True, capa_rules=None)


def _analyse(path: str):
    from attributor.pipeline import analyse_path

    return analyse_path(path, blind=True, options=_options())


def open_store(job: dict) -> tuple[SQLiteStore, bool, dict]:
    """The reference store: reused when its stamp (references, options, attributor code) matches."""
    from attributor.errors import AttributorError
    from attributor.evidence.extract import EVIDENCE_VERSION
    from attributor.store.base import Label
    from attributor.store.sqlite import SQLiteStore

    db = Path(job["store"])
    stamp_path = Path(f"{db}.stamp.json")
    stamp = {
        "references": job["references"],
        "options": repr(_options()),
        "evidence_version": EVIDENCE_VERSION,
        "code": job["store_code"],
    }
    if db.is_file() and stamp_path.is_file() and json.loads(stamp_path.read_text(encoding="utf-8")) == stamp:
        print(f"reusing the reference store {db.name}", file=sys.stderr, flush=True)
        return SQLiteStore(db), True, {}
    for suffix in ("", "-wal", "-shm", ".stamp.json"):
        Path(f"{db}{suffix}").unlink(missing_ok=True)
    db.parent.mkdir(parents=True, exist_ok=True)
    store = SQLiteStore(db)
    failed = {}
    for r in job["references"]:
        try:
            fp = _analyse(r["path"])
        except AttributorError as exc:
            failed[r["id"]] = f"{type(exc).__name__}: {exc}"
            continue
        store.add_sample(fp, Label(family=r["family"], library=bool(r["runtime"]), source=r["id"]))
        print(f"indexed {r['id']}: {fp.n_functions} functions, {len(fp.evidence)} evidence", file=sys.stderr)
    store.index()
    stamp_path.write_text(json.dumps(stamp), encoding="utf-8")
    return store, False, failed


def reference_fingerprints(store: SQLiteStore) -> list[tuple[SampleFingerprint, Label]]:
    """(fingerprint with its evidence, label) of every stored sample, to build held-out stores."""
    from attributor.store.base import Label

    out = []
    for rec in store.samples():
        fp = store.get_fingerprint(rec.sha256)
        if fp is None:
            continue
        fp = replace(fp, evidence=store.evidence(rec.sha256))
        out.append((fp, Label(family=rec.family, library=rec.library, source=rec.source)))
    return out


def candidate_rows(res: MatchResult, query: str, setting: str) -> list[dict]:
    """One row per candidate family (as ``build_document`` enumerates them) with its features."""
    from attributor.scoring.fusion import family_features

    scored = {f.family: f for f in res.families if not f.library}
    named = set(scored) | {f for s in res.evidence for f in s.families}
    rows = []
    for fam in sorted(named):
        fs = scored.get(fam)
        kinds = sorted({str(s.evidence.kind) for s in res.evidence if fam in s.families})
        rows.append(
            {
                "query": query,
                "setting": setting,
                "family": fam,
                "features": family_features(fs, res.evidence, fam),
                "attributed": bool(fs.attributed) if fs else False,
                "score": float(fs.score) if fs else 0.0,
                "evidence_kinds": kinds,
            }
        )
    return rows


def runner_main(argv: list[str]) -> int:
    from importlib.metadata import version

    from attributor.errors import AttributorError
    from attributor.match.matcher import match_sample
    from attributor.store.memory import MemoryStore

    job = json.loads(Path(argv[1]).read_text(encoding="utf-8"))
    t0 = time.process_time()
    store, reused, failed = open_store(job)
    cpu_index = time.process_time() - t0
    fps = {}
    rows: list[dict] = []
    for q in job["queries"]:
        try:
            fps[q["id"]] = _analyse(q["path"])
        except AttributorError as exc:
            failed[q["id"]] = f"{type(exc).__name__}: {exc}"
            continue
        rows += candidate_rows(match_sample(store, fps[q["id"]]), q["id"], "full")
        print(f"matched {q['id']} (full corpus)", file=sys.stderr, flush=True)
    refs = reference_fingerprints(store)
    store.close()
    groups: dict[tuple[str, ...], list[str]] = {}
    for q in job["queries"]:
        if q["id"] in fps:
            groups.setdefault(tuple(q["hold_out"]), []).append(q["id"])
    held_out = {}
    for fams, qids in sorted(groups.items()):
        mem = MemoryStore(refs[0][0].params) if refs else MemoryStore()
        kept = 0
        for fp, label in refs:
            if label.family not in fams:
                kept += mem.add_sample(fp, label)
        for qid in qids:
            rows += candidate_rows(match_sample(mem, fps[qid]), qid, "held-out")
            held_out[qid] = {"families": list(fams), "references_kept": kept}
            print(f"matched {qid} without {', '.join(fams)}", file=sys.stderr, flush=True)
    result = {
        "tool": "attributor",
        "rows": rows,
        "held_out": held_out,
        "failed": failed,
        "store_reused": reused,
        "cpu_index_s": cpu_index,
        "cpu_s": time.process_time() - t0,
        "max_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0,
        "versions": {n: version(n) for n in ("attributor", "lief", "capstone", "numpy")},
    }
    Path(argv[2]).write_text(json.dumps(result), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(runner_main(sys.argv))
