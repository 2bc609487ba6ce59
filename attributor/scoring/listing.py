"""Matched pairs with their disassembly, and verified YARA signatures, for the report.

The corpus stores fingerprints, not code, so the reference side of a pair is disassembled from
the sample's recorded source file when it is still there and still hashes to the stored
SHA-256 (else the pair shows the query side only, and a note says why). Every file is read in a
limited worker process (:func:`attributor.isolation.fingerprint_isolated`): query and corpus
files are hostile input.
"""

from __future__ import annotations

import functools
import importlib.metadata
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from attributor.report.attribution import CodeSignature, Dependency, MatchedPair
from attributor.report.document import hex_address
from attributor.signature.yara_build import candidates_from_result
from attributor.store.base import SampleRecord, Store

if TYPE_CHECKING:
    from attributor.match.result import MatchResult
    from attributor.scoring.attribute import CaseRequest

PAIRS_PER_FAMILY = 5
LISTED_FAMILY_MIN = 0.2  # families at least this probable get their pairs listed
MAX_LISTING = 200  # instructions shown per function
DEPENDENCIES = (
    "capstone", "lief", "numpy", "pydantic", "flare-capa", "yara-python", "stix2", "pymisp",
    "pymispwarninglists", "pymispgalaxies", "cryptography",
)  # fmt: skip


def dependency_versions() -> tuple[Dependency, ...]:
    """Installed versions of the libraries whose behaviour shapes a report."""
    out = []
    for name in DEPENDENCIES:
        try:
            out.append(Dependency(name=name, version=importlib.metadata.version(name)))
        except importlib.metadata.PackageNotFoundError:
            out.append(Dependency(name=name, version="not installed"))
    return tuple(out)


def listing_job(
    path: str,
    *,
    addresses: tuple[int, ...] = (),
    expect_sha: str | None = None,
    candidates: tuple[Any, ...] = (),
    corpus_files: Mapping[str, str] | None = None,
    families: Mapping[str, str] | None = None,
    **kwargs: Any,
) -> dict[str, Any]:
    """Worker side: disassembly of ``addresses`` in ``path`` and, given candidates, signatures."""
    from attributor.disasm.recover import recover
    from attributor.loading.loader import DEFAULT_LIMITS, load_path

    limits = kwargs.get("limits", DEFAULT_LIMITS)
    binary = load_path(path, blind=bool(kwargs.get("blind", False)), limits=limits)
    if expect_sha is not None and binary.sha256 != expect_sha:
        return {"asm": {}, "signatures": [], "changed": True}
    program = recover(binary, limits.max_functions, limits.max_insns_per_function)
    asm: dict[int, tuple[str, ...]] = {}
    for a in addresses:
        f = program.functions.get(a)
        if f is not None:
            asm[a] = tuple(f"{va:#x}  {m} {ops}".rstrip() for va, _n, m, ops in f.insns[:MAX_LISTING])
    signatures: list[CodeSignature] = []
    if candidates:
        from attributor.signature.yara_build import build_signatures

        signatures = build_signatures(list(candidates), binary, path, corpus_files or {}, families or {})
    return {"asm": asm, "signatures": signatures, "changed": False}


def _run(path: Path | str, **job: Any) -> dict[str, Any] | None:
    """``listing_job`` in a fresh limited worker; None when it fails or hits a limit."""
    from attributor.errors import AttributorError
    from attributor.isolation import fingerprint_isolated

    try:
        out: Any = fingerprint_isolated(path, functools.partial(listing_job, **job))  # type: ignore[arg-type]
    except AttributorError:
        return None
    return out if isinstance(out, dict) else None


def attach_pairs(
    store: Store,
    request: CaseRequest,
    results: Sequence[tuple[Path, MatchResult]],
    fam_p: Mapping[str, float],
    corpus: Sequence[SampleRecord],
) -> tuple[list[MatchedPair], list[CodeSignature], set[str], list[str]]:
    """The strongest pairs of each probable family (with listings) and verified signatures."""
    pairs: list[MatchedPair] = []
    signatures: list[CodeSignature] = []
    notes: list[str] = []
    by_sha = {r.sha256: r for r in corpus}
    for path, res in results:
        chosen = []
        for fam in res.families:
            if fam.library or fam_p.get(fam.family, 0.0) < LISTED_FAMILY_MIN:
                continue
            ranked = sorted(fam.pairs, key=lambda p: (-p.weight * p.similarity, p.query_address))
            chosen += [(fam.family, p) for p in ranked[:PAIRS_PER_FAMILY]]
        q_asm: dict[int, tuple[str, ...]] = {}
        cands = tuple(candidates_from_result(res)) if request.listings else ()
        if request.listings and (chosen or cands):  # a worker only when there is something to show
            files = {r.sha256: r.source for r in corpus if r.source}
            fams = {r.sha256: r.family for r in corpus}
            out = _run(path, addresses=tuple(sorted({p.query_address for _f, p in chosen})),
                       candidates=cands, corpus_files=files, families=fams)  # fmt: skip
            if out is None:
                notes.append(f"{path.name}: disassembly listing and signatures unavailable (worker failed)")
            else:
                q_asm, signatures = out["asm"], [*signatures, *out["signatures"]]
        r_asm = _ref_listings(chosen, by_sha, notes) if request.listings else {}
        for family, p in chosen:
            pairs.append(MatchedPair(
                sample=res.sample.sha256, family=family, query_address=hex_address(p.query_address),
                query_size=p.query_size, ref_sha256=p.ref_sha256, ref_address=hex_address(p.ref_address),
                similarity=p.similarity, weight=p.weight, n_families=p.n_families, unique=p.n_families == 1,
                query_asm=q_asm.get(p.query_address, ()),
                ref_asm=r_asm.get((p.ref_sha256, p.ref_address), ()),
            ))  # fmt: skip
    used = {p.ref_sha256 for p in pairs} | {m for s in signatures for m in s.matched if m in by_sha}
    return pairs, signatures, used, notes


def _ref_listings(
    chosen: list[tuple[str, Any]], by_sha: Mapping[str, SampleRecord], notes: list[str]
) -> dict[tuple[str, int], tuple[str, ...]]:
    wanted: dict[str, set[int]] = {}
    for _f, p in chosen:
        wanted.setdefault(p.ref_sha256, set()).add(p.ref_address)
    out: dict[tuple[str, int], tuple[str, ...]] = {}
    for sha, addrs in sorted(wanted.items()):
        rec = by_sha.get(sha)
        source = rec.source if rec else None
        if not source or "!" in source or not Path(source).is_file():
            notes.append(f"reference {sha[:16]}: source file not available, pairs show the query side only")
            continue
        got = _run(source, addresses=tuple(sorted(addrs)), expect_sha=sha)
        if got is None or got.get("changed"):
            notes.append(f"reference {sha[:16]}: file changed or unreadable, pairs show the query side only")
            continue
        out.update({(sha, a): lines for a, lines in got["asm"].items()})
    return out
