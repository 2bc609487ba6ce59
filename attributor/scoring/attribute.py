"""``attribute``: samples (+ indicators) -> evidence -> fused hypotheses -> one AttributionDocument.

Steps, each testable alone:

1. analyse every sample in a limited worker (fingerprint + evidence) and match it (code and
   shared evidence, :func:`attributor.match.matcher.match_sample`);
2. match the indicators found in the samples and given with ``--ioc`` against the intel store;
3. build evidence records, fuse them (:mod:`attributor.scoring.fusion`) and weigh competing
   hypotheses (:mod:`attributor.scoring.hypotheses`);
4. attach the disassembly of the strongest pairs and the verified YARA signatures
   (:mod:`attributor.scoring.listing`), each computed in a worker too: samples are hostile.

The document depends only on the inputs, the corpus and the parameters: no time, no host path.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from attributor import __version__
from attributor.evidence.extract import DEFAULT_OPTIONS, EvidenceOptions
from attributor.match.result import MatchResult
from attributor.report.attribution import (
    AttributionDocument,
    CaseInfo,
    CorpusInfo,
    CorpusSample,
    InputIoc,
    InputSample,
    Tlp,
    ToolInfo,
)
from attributor.scoring import hypotheses as hy
from attributor.scoring.evidence import InfraHit, infra_record, sample_records, unique_records
from attributor.scoring.fusion import DEFAULT_WEIGHTS, FusionWeights, family_features, infra_strength
from attributor.scoring.listing import attach_pairs, dependency_versions
from attributor.store.base import SampleRecord, Store

if TYPE_CHECKING:
    from attributor.intel.model import IocQuery
    from attributor.intel.store import IntelStore

NETWORK_TYPES = frozenset({"ipv4", "ipv6", "domain", "url", "email"})


@dataclass
class CaseRequest:
    """What to attribute, and how. Paths are only read; names shown are their file names."""

    samples: Sequence[Path]
    iocs: Sequence[IocQuery] = ()
    case_id: str | None = None
    title: str = ""
    tlp: Tlp = "TLP:AMBER"
    blind: bool = False
    options: EvidenceOptions | None = DEFAULT_OPTIONS
    weights: FusionWeights = DEFAULT_WEIGHTS
    listings: bool = True  # disassemble matched pairs and build YARA signatures
    names: dict[Path, str] = field(default_factory=dict)  # how to show a sample (default: its file name)
    notes: list[str] = field(default_factory=list)


def analyse_samples(store: Store, request: CaseRequest) -> list[tuple[Path, MatchResult]]:
    """Fingerprint + evidence in one limited worker per sample, then match each against ``store``."""
    from attributor.cli.evidence import analyser
    from attributor.isolation import WorkerPool
    from attributor.match.matcher import match_sample

    out = []
    with WorkerPool(analyser(request.options), 1, blind=request.blind, params=store.params) as pool:
        for path in request.samples:
            fp = pool.fingerprint(path)
            out.append((path, match_sample(store, fp)))
    return out


def sample_iocs(results: Sequence[tuple[Path, MatchResult]]) -> list[IocQuery]:
    """Network indicators found in the samples, as intel queries (origin = sample SHA-256)."""
    from attributor.errors import IndicatorError
    from attributor.intel.model import IocQuery

    out = []
    for _path, r in results:
        for s in r.evidence:
            e = s.evidence
            if str(e.kind) == "indicator" and e.subtype in NETWORK_TYPES:
                try:
                    out.append(IocQuery.parse(e.value, origin=r.sample.sha256))
                except IndicatorError:
                    continue
    return out


def infra_hits(queries: Sequence[IocQuery], intel: IntelStore | None) -> list[InfraHit]:
    """Intel matches of every query, flattened; none without an intel store."""
    if intel is None or not queries:
        return []
    from attributor.intel.match import match_indicators
    from attributor.intel.model import iso

    hits = []
    for m in match_indicators(list(queries), intel):
        if m.actor is None:
            continue
        first = min((r.first_seen for r in m.records if r.first_seen), default=None)
        last = max((r.last_seen for r in m.records if r.last_seen), default=None)
        hits.append(
            InfraHit(
                indicator=m.query.value, indicator_type=str(m.query.type), intel_value=m.records[0].value,
                match=str(m.kind), strength=str(m.strength), actor=m.actor,
                source=m.records[0].source or m.records[0].provenance.file, first_seen=iso(first),
                last_seen=iso(last), in_window=m.in_window, non_attributable=tuple(m.non_attributable),
                origin=_origin(m.query.origin),
            )
        )  # fmt: skip
    return hits


def actor_of_families(records: Sequence[SampleRecord]) -> dict[str, str | None]:
    """Each non-library family's actor: the label most of its samples carry (ties: by name)."""
    votes: dict[str, Counter[str]] = {}
    for r in records:
        if not r.library:
            votes.setdefault(r.family, Counter())
            if r.actor:
                votes[r.family][r.actor] += 1
    return {f: (min(c, key=lambda a: (-c[a], a)) if c else None) for f, c in sorted(votes.items())}


def same_actor_names(hits: Sequence[InfraHit], corpus_actors: Sequence[str]) -> list[InfraHit]:
    """Intel actors under the corpus's spelling when both resolve to one actor (galaxy aliases).

    Intel stores canonical names (``APT28``; unknown names lower-cased); the corpus keeps its
    labels as given. Two names of one actor must count once, under one name.
    """
    from dataclasses import replace

    from attributor.intel.actors import resolve_actor

    spelled: dict[str | None, str] = {}
    for a in sorted(corpus_actors):
        spelled.setdefault(resolve_actor(a), a)
    return [replace(h, actor=spelled.get(resolve_actor(h.actor), h.actor)) for h in hits]


def corpus_info(records: Sequence[SampleRecord], store: Store, intel_records: int) -> CorpusInfo:
    lines = sorted(f"{r.sha256}\t{r.family}\t{r.actor or ''}\t{int(r.library)}" for r in records)
    params = {k: v for k, v in sorted(vars(store.params).items()) if isinstance(v, int | float | str | bool)}
    return CorpusInfo(
        samples=len(records),
        functions=sum(r.n_functions for r in records),
        families=len({r.family for r in records if not r.library}),
        actors=len({r.actor for r in records if r.actor}),
        library_samples=sum(1 for r in records if r.library),
        digest=hashlib.sha256("\n".join(lines).encode()).hexdigest(),
        intel_records=intel_records,
        params=params,
    )


def case_id_for(inputs: Sequence[str], iocs: Sequence[str]) -> str:
    text = "\n".join(sorted(inputs)) + "\n--\n" + "\n".join(sorted(iocs))
    return "case-" + hashlib.sha256(text.encode()).hexdigest()[:12]


def attribute(store: Store, request: CaseRequest, intel: IntelStore | None = None) -> AttributionDocument:
    """Run the whole analysis and build the report document (see the module doc)."""
    results = analyse_samples(store, request)
    records_corpus = store.samples()
    queries = [*request.iocs, *sample_iocs(results)]
    hits = infra_hits(queries, intel)
    return build_document(store, request, results, records_corpus, queries, hits, intel)


def build_document(
    store: Store,
    request: CaseRequest,
    results: Sequence[tuple[Path, MatchResult]],
    corpus: Sequence[SampleRecord],
    queries: Sequence[IocQuery],
    hits: Sequence[InfraHit],
    intel: IntelStore | None,
) -> AttributionDocument:
    actor_of = actor_of_families(corpus)
    hits = same_actor_names(hits, [a for a in actor_of.values() if a])
    records = [r for _p, res in results for r in sample_records(res)]
    infra_pairs = [infra_record(h) for h in hits]
    records = unique_records([*records, *(rec for rec, _m in infra_pairs)])
    features: dict[str, list[dict[str, float]]] = {}
    for _p, res in results:
        scored = {f.family: f for f in res.families if not f.library}
        named = set(scored) | {f for s in res.evidence for f in s.families}
        for name in sorted(named):
            features.setdefault(name, []).append(family_features(scored.get(name), res.evidence, name))
    # One indicator counts once per actor (its strongest match): an exact and a parent-domain
    # match of the same host are one observation, not two.
    best: dict[tuple[str, str, str], float] = {}
    for h in hits:
        key = (h.actor, h.origin, h.indicator)
        best[key] = max(best.get(key, 0.0), infra_strength(h.strength, h.in_window, bool(h.non_attributable)))
    infra: dict[str, list[float]] = {}
    for (actor, _o, _i), strength in sorted(best.items()):
        infra.setdefault(actor, []).append(strength)
    fam_p = hy.family_probabilities(features, request.weights)
    cands = hy.candidates(fam_p, actor_of, infra)
    hyps, ach = hy.build_hypotheses(records, cands)
    verdict = hy.verdict(hyps)
    pairs, signatures, used, notes = attach_pairs(store, request, results, fam_p, corpus)
    inputs = tuple(
        InputSample(
            sha256=r.sample.sha256, name=request.names.get(p, p.name), size=r.sample.size,
            format=r.sample.format, arch=r.sample.arch,
            function_count=r.sample.n_functions, coverage=r.sample.coverage, status=r.sample.status,
            notes=tuple(r.sample.notes),
        )
        for p, r in results
    )  # fmt: skip
    iocs = tuple(
        sorted(
            {InputIoc(value=q.value, type=str(q.type), observed=_iso(q.observed), origin=_origin(q.origin))
             for q in queries},
            key=lambda i: (i.origin, i.type, i.value, i.observed or ""),
        )
    )  # fmt: skip
    by_sha = {r.sha256: r for r in corpus}
    referenced = sorted({*used, *(sha for s in _shared_samples(results) for sha in s)})
    return AttributionDocument(
        tool=ToolInfo(version=__version__, dependencies=dependency_versions()),
        case=CaseInfo(
            id=request.case_id
            or case_id_for([r.sample.sha256 for _p, r in results], [q.value for q in queries]),
            title=request.title,
            tlp=request.tlp,
        ),
        inputs=inputs,
        iocs=iocs,
        corpus=corpus_info(corpus, store, intel.stats().records if intel is not None else 0),
        corpus_samples=tuple(
            CorpusSample(
                sha256=s,
                family=by_sha[s].family,
                actor=by_sha[s].actor,
                library=by_sha[s].library,
                source=by_sha[s].source,
                function_count=by_sha[s].n_functions,
            )
            for s in referenced
            if s in by_sha
        ),
        parameters=_parameters(request),
        verdict=verdict,
        hypotheses=tuple(hyps),
        evidence=tuple(records),
        infrastructure=tuple(
            sorted((m for _r, m in infra_pairs), key=lambda m: (m.indicator, m.match, m.actor))
        ),
        pairs=tuple(pairs),
        signatures=tuple(signatures),
        ach=ach,
        notes=tuple([*request.notes, *notes]),
    )


def _origin(origin: str) -> str:
    """A sample's SHA-256 when the indicator came from one, else ``ioc-file``."""
    is_sha = len(origin) == 64 and all(c in "0123456789abcdef" for c in origin)
    return origin if is_sha else "ioc-file"


def _shared_samples(results: Sequence[tuple[Path, MatchResult]]) -> list[tuple[str, ...]]:
    return [s.samples for _p, r in results for s in r.evidence if s.families]


def _iso(value: object) -> str | None:
    from attributor.intel.model import iso

    return iso(value) if value is not None else None  # type: ignore[arg-type]


def _parameters(request: CaseRequest) -> dict[str, float | int | str | bool]:
    from attributor.match import rank
    from attributor.scoring.evidence import CODE_SCALE

    opts = request.options
    return {
        **request.weights.as_params(),
        "hypotheses.abstain_below": hy.ABSTAIN_BELOW,
        "hypotheses.specific": hy.SPECIFIC,
        "evidence.code_scale": CODE_SCALE,
        "evidence.extraction": "off"
        if opts is None
        else f"crypto={opts.crypto},indicators={opts.indicators}",
        "evidence.capabilities": bool(opts and opts.capa_rules),
        "match.score_min": rank.SCORE_MIN,
        "match.unique_min": rank.UNIQUE_MIN,
        "blind": request.blind,
    }
