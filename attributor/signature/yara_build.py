"""YARA hex strings from code unique to one family, verified against the corpus before use.

Pipeline (``docs/yara.md``):

1. :func:`candidates_from_result` keeps the matcher's pairs that only one *attributed* family
   shares (``n_families == 1``), best evidence weight first.
2. Each candidate's query function and the reference function it matched are decoded and
   wildcarded (:mod:`attributor.signature.pattern`); the runs of instructions the two have in
   common become candidate patterns, longest first. When the reference file is not available the
   query function's first bytes are the only candidate.
3. :func:`build_signature_set` compiles every candidate with yara-python, scans the query file and
   every corpus file still on disk (SHA-256 checked), and keeps a pattern only when it matches the
   query, at least one corpus sample of its family and no other corpus sample (another family or
   a library). At most one pattern per query function and ``max_rules_per_family`` per family.

The result is deterministic for the same inputs: candidates, files and families are visited in a
defined order and ties are broken by address.
"""

from __future__ import annotations

import hashlib
import logging
import os
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from attributor.errors import AttributorError, FileAccessError
from attributor.loading.binary import Binary
from attributor.loading.loader import load_path
from attributor.match.result import MatchResult
from attributor.report.attribution import CodeSignature
from attributor.signature.pattern import MAX_PATTERN_BYTES, Pattern, decode, make_pattern, shared_patterns

log = logging.getLogger(__name__)

MAX_RULES_PER_FAMILY = 4
MAX_CANDIDATES_PER_FAMILY = 32  # query functions tried per family: bounds decode, compile and scan work
MAX_WINDOWS_PER_CANDIDATE = 4  # shared runs tried per query function
MAX_SCAN_BYTES = 64 << 20  # corpus files above this are skipped (counted), never read whole
SCAN_TIMEOUT_S = 60
REF_SLACK_BYTES = 256  # the reference's extent is not stored: decode this much beyond the query's size


@dataclass(frozen=True)
class SignatureCandidate:
    """One query function proposed as a family's signature (plain data, no engine objects).

    ``query_size`` bounds how many bytes from ``query_address`` belong to the function (0:
    unknown, decode up to the pattern cap); ``refs`` are the family's corpus functions it was
    matched with, best first, as (sample SHA-256, function address).
    """

    family: str
    query_address: int
    query_size: int
    weight: float
    similarity: float
    refs: tuple[tuple[str, int], ...] = ()


@dataclass
class SignatureBuild:
    """What :func:`build_signature_set` did: kept signatures plus the counts behind them."""

    signatures: list[CodeSignature] = field(default_factory=list)
    candidates: int = 0  # query functions considered
    tried: int = 0  # patterns compiled and scanned
    no_pattern: int = 0  # query functions without a usable pattern (too short, generic, nothing shared)
    checked: int = 0  # corpus files scanned
    skipped_files: int = 0  # corpus files missing, unreadable, too large or changed on disk

    def summary(self) -> str:
        """One line for the report's notes."""
        fams = len({s.family for s in self.signatures})
        return (
            f"YARA: {len(self.signatures)} of {self.tried} patterns verified for {fams} families "
            f"({self.checked} corpus files scanned, {self.skipped_files} unavailable)"
        )


# -- candidates --------------------------------------------------------------------------------


def candidates_from_result(result: MatchResult, attributed_only: bool = True) -> list[SignatureCandidate]:
    """Pairs of ``result`` shared with exactly one family, best first (weight, similarity, address).

    Library families never yield candidates; with ``attributed_only`` only families that passed
    the decision rule do. Each query function is proposed once per family: its best pair's
    reference first, then the function's other top matches in the same family.
    """
    matches = {f.address: f.matches for f in result.functions}
    out: dict[tuple[str, int], SignatureCandidate] = {}
    for fam in result.families:
        if fam.library or (attributed_only and not fam.attributed):
            continue
        for p in fam.pairs:
            if p.n_families != 1:
                continue
            refs = [(p.ref_sha256, p.ref_address)]
            refs += [
                (m.ref_sha256, m.ref_address)
                for m in matches.get(p.query_address, ())
                if m.family == fam.family
            ]
            cand = SignatureCandidate(
                fam.family, p.query_address, p.query_size, p.weight, p.similarity, tuple(dict.fromkeys(refs))
            )
            key = (fam.family, p.query_address)
            if key not in out or _rank(cand) < _rank(out[key]):
                out[key] = cand
    return sorted(out.values(), key=_rank)


def _rank(c: SignatureCandidate) -> tuple[float, float, int, str, tuple[tuple[str, int], ...]]:
    return (-c.weight, -c.similarity, c.query_address, c.family, c.refs)


# -- building and verification -----------------------------------------------------------------


@dataclass(frozen=True)
class _Trial:
    """A candidate pattern awaiting the corpus scan; ``index`` names its rule."""

    index: int
    candidate: SignatureCandidate
    pattern: Pattern

    @property
    def rule(self) -> str:
        return f"c{self.index}"


def build_signatures(
    candidates: Iterable[SignatureCandidate],
    query_binary: Binary,
    query_file: str | os.PathLike[str],
    corpus_files: Mapping[str, str | os.PathLike[str]],
    families: Mapping[str, str],
    max_rules_per_family: int = MAX_RULES_PER_FAMILY,
) -> list[CodeSignature]:
    """Verified code signatures per family; see :func:`build_signature_set` for the contract.

    Example::

        result = match_sample(store, fingerprint)
        sigs = build_signatures(candidates_from_result(result), load_path(query), query,
                                {r.sha256: r.source for r in store.samples()},
                                {r.sha256: r.family for r in store.samples()})
    """
    return build_signature_set(
        candidates, query_binary, query_file, corpus_files, families, max_rules_per_family
    ).signatures


def build_signature_set(
    candidates: Iterable[SignatureCandidate],
    query_binary: Binary,
    query_file: str | os.PathLike[str],
    corpus_files: Mapping[str, str | os.PathLike[str]],
    families: Mapping[str, str],
    max_rules_per_family: int = MAX_RULES_PER_FAMILY,
) -> SignatureBuild:
    """Build patterns per candidate, scan query and corpus, keep those unique to their family.

    Args:
        candidates: proposals, best first (:func:`candidates_from_result`); at most
            ``MAX_CANDIDATES_PER_FAMILY`` per family are tried, in the given order.
        query_binary: the loaded query (its bytes make the patterns).
        query_file: the query file; it must hash to ``query_binary.sha256``.
        corpus_files: corpus sample SHA-256 -> file. Files that are missing, unreadable, larger
            than ``MAX_SCAN_BYTES`` or whose content no longer hashes to their key are skipped
            and counted in ``skipped_files``; the query's own hash is never a corpus sample.
            Reference files also give the reference functions patterns are aligned with.
        families: corpus sample SHA-256 -> family label (libraries carry their own label, so they
            count as "another family"); a sample without a label counts as another family.
        max_rules_per_family: patterns kept per family.

    Returns:
        Kept :class:`CodeSignature` s ordered by family, then by candidate rank; ``matched`` is
        the query's hash followed by the matched corpus samples (sorted), ``checked`` the number of
        corpus files scanned. A family gets no signature when none of its patterns passes.

    Raises:
        FileAccessError: the query file cannot be read or is not the loaded query.
    """
    build = SignatureBuild()
    query_data = _read_query(query_file, query_binary.sha256)
    trials = _trials(candidates, query_binary, corpus_files, build)
    build.tried = len(trials)
    if not trials:
        return build
    rules = _compile(trials)
    query_hits = _scan(rules, query_data)
    hits: dict[str, set[str]] = {t.rule: set() for t in trials}  # rule -> corpus samples matched
    for sha, data in _corpus(corpus_files, query_binary.sha256, build):
        build.checked += 1
        for name in _scan(rules, data):
            hits[name].add(sha)
    kept: dict[str, int] = {}
    done: set[tuple[str, int]] = set()
    for t in trials:  # family order, then candidate rank, then longest run first
        c = t.candidate
        own = {s for s in hits[t.rule] if families.get(s) == c.family}
        if t.rule not in query_hits or not own or own != hits[t.rule]:
            continue
        if kept.get(c.family, 0) >= max_rules_per_family or (c.family, c.query_address) in done:
            continue
        kept[c.family] = kept.get(c.family, 0) + 1
        done.add((c.family, c.query_address))
        build.signatures.append(_signature(t, query_binary.sha256, sorted(own), build.checked))
    log.info(build.summary())
    return build


def _trials(
    candidates: Iterable[SignatureCandidate],
    query: Binary,
    corpus_files: Mapping[str, str | os.PathLike[str]],
    build: SignatureBuild,
) -> list[_Trial]:
    """Patterns for up to ``MAX_CANDIDATES_PER_FAMILY`` candidates per family, deduplicated."""
    per_family: dict[str, int] = {}
    seen: set[tuple[str, str]] = set()
    refs = _RefCache(corpus_files)
    found: list[tuple[SignatureCandidate, Pattern]] = []
    for c in candidates:
        if per_family.get(c.family, 0) >= MAX_CANDIDATES_PER_FAMILY:
            continue
        per_family[c.family] = per_family.get(c.family, 0) + 1
        build.candidates += 1
        fresh = [p for p in _patterns(c, query, refs) if (c.family, p.hex) not in seen]
        seen.update((c.family, p.hex) for p in fresh)  # the same bytes twice prove nothing more
        build.no_pattern += not fresh
        found += [(c, p) for p in fresh]
    # family order first, then the order found (candidate rank, longest run first)
    order = sorted(range(len(found)), key=lambda i: (found[i][0].family, i))
    return [_Trial(n, *found[i]) for n, i in enumerate(order)]


def _patterns(c: SignatureCandidate, query: Binary, refs: _RefCache) -> list[Pattern]:
    """Runs the query function shares with its references, longest first; else its first bytes."""
    q = decode(query, c.query_address, c.query_size or MAX_PATTERN_BYTES)
    found: dict[str, Pattern] = {}
    for sha, address in c.refs:
        ref = refs.get(sha)
        if ref is not None and address:
            r = decode(ref, address, (c.query_size or MAX_PATTERN_BYTES) + REF_SLACK_BYTES)
            found.update((p.hex, p) for p in shared_patterns(q, r) if p.hex not in found)
    if not any(refs.get(sha) for sha, _ in c.refs):
        prefix = make_pattern(q)
        return [] if prefix is None else [prefix]
    return sorted(found.values(), key=lambda p: (-p.fixed, p.address))[:MAX_WINDOWS_PER_CANDIDATE]


class _RefCache:
    """Reference binaries loaded on first use (load errors mean "not available")."""

    def __init__(self, files: Mapping[str, str | os.PathLike[str]]) -> None:
        self._files = files
        self._loaded: dict[str, Binary | None] = {}

    def get(self, sha256: str) -> Binary | None:
        if sha256 not in self._loaded:
            self._loaded[sha256] = self._load(sha256)
        return self._loaded[sha256]

    def _load(self, sha256: str) -> Binary | None:
        path = self._files.get(sha256)
        if path is None:
            return None
        try:
            binary = load_path(path, blind=True)
        except AttributorError as e:
            log.debug("reference %s not available for signatures: %s", sha256, e)
            return None
        return binary if binary.sha256 == sha256 else None


def _compile(trials: Sequence[_Trial]) -> Any:
    """One compiled rule set, one rule per trial, so every file is scanned once for all of them."""
    import yara

    rules = (f"rule {t.rule} {{ strings: $p = {{ {t.pattern.hex} }} condition: $p }}" for t in trials)
    return yara.compile(source="\n".join(rules))


def _scan(rules: Any, data: bytes) -> set[str]:
    return {m.rule for m in rules.match(data=data, timeout=SCAN_TIMEOUT_S)}


def _read_query(path: str | os.PathLike[str], sha256: str) -> bytes:
    try:
        data = Path(path).read_bytes()
    except OSError as e:
        raise FileAccessError(
            f"{path}: cannot read the query to check signatures: {e.strerror or e}"
        ) from None
    if hashlib.sha256(data).hexdigest() != sha256:
        raise FileAccessError(f"{path}: is not the analysed query (SHA-256 differs)")
    return data


def _corpus(
    files: Mapping[str, str | os.PathLike[str]], query_sha256: str, build: SignatureBuild
) -> Iterator[tuple[str, bytes]]:
    """(sha256, bytes) of each corpus file still on disk and unchanged, in hash order."""
    for sha in sorted(files):
        if sha == query_sha256:
            continue
        path = Path(files[sha])
        try:
            if path.stat().st_size > MAX_SCAN_BYTES:
                raise OSError("too large to scan")
            data = path.read_bytes()
        except OSError as e:
            build.skipped_files += 1
            log.debug("signature check skips %s: %s", sha, e)
            continue
        if hashlib.sha256(data).hexdigest() != sha:
            build.skipped_files += 1
            log.debug("signature check skips %s: file changed on disk", sha)
            continue
        yield sha, data


def _signature(t: _Trial, query_sha256: str, own: list[str], checked: int) -> CodeSignature:
    return CodeSignature(
        family=t.candidate.family,
        sample=query_sha256,
        function=f"0x{t.candidate.query_address:x}",
        size=t.pattern.size,
        pattern=t.pattern.hex,
        asm=t.pattern.asm,
        matched=(query_sha256, *own),
        checked=checked,
    )
