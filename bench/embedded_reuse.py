"""Task 2, embedded-reuse (dataset B): which reference libraries are inside each query file?

Every tool gets the same inputs: the Debian references as they are (already stripped) and a
``strip --strip-all`` copy of each query. Each tool's output becomes, per query, a score per
family (higher = more evidence; runtime entries never count as a family) and, where the tool
makes a decision, the set of families it attributes:

* attributor: ``FamilyScore.score`` and ``FamilyScore.attributed`` (the engine's own decision);
* MCRIT: ``matched_percent_frequency_weighted`` of the family's best sample, attributed when at
  least ``MCRIT_THRESHOLD`` (stated before the run; ``MCRIT_SWEEP`` shows other thresholds);
* TLSH: minus the smallest distance to any reference of the family; ssdeep: the best score
  (0 = no evidence). Neither decides anything: they get ranking metrics only.

Labels: ``contains[].verified`` are positives, ``negative_controls`` and ``negatives_all`` are
negatives; an attributed family that is none of these is "unknown" and reported on its own.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from bench.config import Settings
from bench.datasets import Query, Reference, stripped_copy

MCRIT_THRESHOLD = 5.0
MCRIT_SWEEP = (1.0, 2.0, 5.0, 10.0, 20.0, 40.0)
QUICK_QUERIES = (
    "linux/lz4-4.3.3/lz4/block/_block.cpython-311-x86_64-linux-gnu.so",
    "linux/PyYAML-6.0.2/yaml/_yaml.cpython-311-x86_64-linux-gnu.so",
    "linux/Brotli-1.1.0/_brotli.cpython-311-x86_64-linux-gnu.so",
    "linux/pillow-10.4.0/pillow.libs/libpng16-58efbb84.so.16.43.0",
    "linux/pillow-10.4.0/pillow.libs/liblzma-13fa198c.so.5.4.5",
    "linux/psycopg2-binary-2.9.9/psycopg2_binary.libs/libpq-e8a033dd.so.5.16",
)
TOP_K = 5


@dataclass
class Plan:
    references: list[Reference]
    queries: list[Query]
    stripped: dict[str, Path]
    job: dict = field(default_factory=dict)

    @property
    def runtime_families(self) -> set[str]:
        return {r.family for r in self.references if r.runtime}


def plan(settings: Settings, references: list[Reference], queries: list[Query]) -> Plan:
    if settings.quick:
        queries = [q for q in queries if q.id in QUICK_QUERIES]
        wanted = {f for q in queries for f in (*q.positives, *q.negative_controls)}
        references = [r for r in references if r.runtime or (r.family in wanted and r.suite == "bookworm")]
    stripped = {q.id: stripped_copy(q.path, settings.work / "stripped-queries" / q.id) for q in queries}
    p = Plan(references, queries, stripped)
    p.job = {
        "task": "embedded-reuse",
        "references": [
            {"id": r.id, "path": str(r.path), "family": r.family, "runtime": r.runtime} for r in references
        ],
        "queries": [{"id": q.id, "path": str(stripped[q.id])} for q in queries],
        "store": str(settings.work / f"attributor-references-{settings.mode}.sqlite"),  # attributor only
    }
    return p


# --------------------------------------------------------------------------- per-tool family views


@dataclass
class Verdict:
    scores: dict[str, float]  # family -> evidence (absent = none)
    attributed: set[str] | None  # None: the tool makes no decision


def attributor_verdict(q: dict, runtime: set[str]) -> Verdict:
    fams = [f for f in q["families"] if not f["is_library"] and f["family"] not in runtime]
    return Verdict({f["family"]: f["score"] for f in fams}, {f["family"] for f in fams if f["attributed"]})


def mcrit_verdict(q: dict, runtime: set[str], threshold: float = MCRIT_THRESHOLD) -> Verdict:
    fams = [f for f in q["families"] if not f["is_library"] and f["family"] not in runtime and f["score"] > 0]
    return Verdict(
        {f["family"]: f["score"] for f in fams}, {f["family"] for f in fams if f["score"] >= threshold}
    )


def fuzzy_verdict(q: dict, kind: str, family_of: dict[str, str], runtime: set[str]) -> Verdict:
    best: dict[str, float] = {}
    if kind == "tlsh":
        for rid, dist in q["tlsh_distance"].items():
            fam = family_of[rid]
            if fam not in runtime:
                best[fam] = max(best.get(fam, float("-inf")), -float(dist))
    else:
        for rid, s in q["ssdeep_score"].items():
            fam = family_of[rid]
            if fam not in runtime and s > 0:
                best[fam] = max(best.get(fam, 0.0), float(s))
    return Verdict(best, None)


def verdicts(p: Plan, tool: str, result: dict) -> dict[str, Verdict]:
    runtime = p.runtime_families
    family_of = {r.id: r.family for r in p.references}
    out = {}
    for q in p.queries:
        raw = result["queries"][q.id]
        if tool == "attributor":
            out[q.id] = attributor_verdict(raw, runtime)
        elif tool == "mcrit":
            out[q.id] = mcrit_verdict(raw, runtime)
        else:
            out[q.id] = fuzzy_verdict(raw, tool, family_of, runtime)
    return out


# --------------------------------------------------------------------------- metrics


def expected_in_top_k(scores: dict[str, float], family: str, k: int) -> float:
    """P(family is among the first k) when ties are broken at random; 0 without evidence."""
    if family not in scores:
        return 0.0
    s = scores[family]
    greater = sum(1 for v in scores.values() if v > s)
    tied = sum(1 for v in scores.values() if v == s) - 1
    return max(0, min(tied + 1, k - greater)) / (tied + 1)


def ranking_metrics(p: Plan, v: dict[str, Verdict]) -> dict:
    top1 = rec_k = rec_p = 0.0
    n_q = n_pos = 0
    for q in p.queries:
        if not q.positives:
            continue
        n_q += 1
        n_pos += len(q.positives)
        scores = v[q.id].scores
        top1 += sum(expected_in_top_k(scores, f, 1) for f in q.positives)
        rec_k += sum(expected_in_top_k(scores, f, TOP_K) for f in q.positives)
        rec_p += sum(expected_in_top_k(scores, f, len(q.positives)) for f in q.positives)
    return {
        "queries": n_q,
        "positives": n_pos,
        "top1_correct": top1 / n_q if n_q else 0.0,
        f"recall_at_{TOP_K}": rec_k / n_pos if n_pos else 0.0,
        "recall_at_n_positives": rec_p / n_pos if n_pos else 0.0,
    }


def decision_metrics(p: Plan, v: dict[str, Verdict]) -> dict:
    c = dict.fromkeys(("positives", "tp", "fp_negatives_all", "fp_negative_controls", "unknown", "bad_q"), 0)
    for q in p.queries:
        got = v[q.id].attributed or set()
        pos, neg_all = set(q.positives), set(q.negatives_all)
        c["positives"] += len(pos)
        c["tp"] += len(got & pos)
        c["fp_negatives_all"] += len(got & neg_all)
        c["fp_negative_controls"] += len(got & set(q.negative_controls))
        c["unknown"] += len(got - pos - neg_all - set(q.uncertain))
        c["bad_q"] += bool(got & neg_all)
    judged = c["tp"] + c["fp_negatives_all"]
    return {
        **c,
        "recall": c["tp"] / c["positives"] if c["positives"] else 0.0,
        "precision": c["tp"] / judged if judged else 1.0,
        "queries_with_false_attribution": c.pop("bad_q"),
        "negative_controls": sum(len(q.negative_controls) for q in p.queries),
        "negatives_all": sum(len(q.negatives_all) for q in p.queries),
    }


def query_rows(p: Plan, v: dict[str, Verdict]) -> list[dict]:
    rows = []
    for q in p.queries:
        verdict = v[q.id]
        top = sorted(verdict.scores.items(), key=lambda kv: (-kv[1], kv[0]))[:TOP_K]
        rows.append(
            {
                "query": q.id,
                "expected": q.positives,
                "attributed": sorted(verdict.attributed) if verdict.attributed is not None else None,
                "top": [[f, round(s, 3)] for f, s in top],
            }
        )
    return rows


def mcrit_sweep(p: Plan, result: dict) -> list[dict]:
    runtime = p.runtime_families
    rows = []
    for t in MCRIT_SWEEP:
        v = {q.id: mcrit_verdict(result["queries"][q.id], runtime, t) for q in p.queries}
        rows.append({"threshold": t, **decision_metrics(p, v)})
    return rows


def score(p: Plan, results: dict[str, dict]) -> dict:
    """``results``: tool -> runner result (``tlsh`` and ``ssdeep`` share the fuzzy runner's)."""
    out = {}
    for tool, result in results.items():
        v = verdicts(p, tool, result)
        entry = {"ranking": ranking_metrics(p, v), "queries": query_rows(p, v)}
        if tool in ("attributor", "mcrit"):
            entry["decision"] = decision_metrics(p, v)
        if tool == "mcrit":
            entry["threshold"] = MCRIT_THRESHOLD
            entry["sweep"] = mcrit_sweep(p, result)
        out[tool] = entry
    return out
