"""All evidence of one sample: crypto, key material, capabilities, indicators.

:func:`collect_evidence` runs every extractor over one loaded binary and its recovered program
and returns plain :class:`~attributor.evidence.record.Evidence` records, sorted, plus notes for
extractors that were skipped or failed. One extractor failing never loses the others' findings:
its failure becomes a note (the sample is hostile input; a bug in one detector must not hide the
rest of the evidence).
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, TypeVar

from attributor.disasm.recover import Program
from attributor.evidence.crypto import CryptoHit, HitKind, KeyMaterial, detect_crypto, extract_key_material
from attributor.evidence.record import Evidence, EvidenceKind, normalise
from attributor.loading.binary import Binary

log = logging.getLogger(__name__)
T = TypeVar("T")

# Bumped whenever an extractor changes what it reports; stored with corpus evidence so that a
# comparison between a query and an older corpus can say so.
EVIDENCE_VERSION = 1


@dataclass(frozen=True)
class EvidenceOptions:
    """Which extractors run. ``capa_rules`` is a rules directory; capabilities run only with one."""

    crypto: bool = True
    indicators: bool = True
    capa_rules: str | None = None


DEFAULT_OPTIONS = EvidenceOptions()


def crypto_evidence(hits: list[CryptoHit]) -> list[Evidence]:
    """One record per crypto hit; the algorithm name is the comparable value."""
    return [
        Evidence(
            kind=EvidenceKind.CRYPTO,
            subtype=str(h.kind),
            value=h.algorithm,
            detail=h.detail,
            address=h.address,
            function=h.function,
            source="crypto",
        )
        for h in hits
    ]


def key_evidence(keys: list[KeyMaterial], hits: list[CryptoHit]) -> list[Evidence]:
    """One record per key; identical bytes in two samples give the same value (their SHA-256)."""
    blobs = {h.address: h.detail for h in hits if h.kind == HitKind.KEY_BLOB}
    return [
        Evidence(
            kind=EvidenceKind.KEY,
            subtype="key blob" if k.address in blobs else "high-entropy",
            value=k.sha256,
            detail=blobs.get(k.address) or f"{k.length} high-entropy bytes referenced by cipher code",
            address=k.address,
            function=k.function,
            source="key",
        )
        for k in keys
    ]


@functools.lru_cache(maxsize=4)
def _rules(rules_dir: str) -> Any:
    """The compiled rule set, once per process: a worker analyses many samples with the same rules."""
    from attributor.evidence.capabilities import load_rules

    return load_rules(rules_dir)


def _capabilities(binary: Binary, program: Program, rules_dir: str) -> list[Evidence]:
    from attributor.evidence.capabilities import detect_capabilities

    return detect_capabilities(binary, program, _rules(rules_dir))


def _indicators(binary: Binary, program: Program) -> list[Evidence]:
    from attributor.evidence.indicators import extract_indicators

    return extract_indicators(binary, program)


def _keys(binary: Binary, hits: list[CryptoHit], program: Program) -> list[Evidence]:
    return key_evidence(extract_key_material(binary, hits, program), hits)


def _guarded(name: str, notes: list[str], fn: Callable[..., Iterable[T]], *args: Any) -> list[T]:
    from attributor.errors import AttributorError, LimitExceeded

    try:
        return list(fn(*args))
    except LimitExceeded as e:
        notes.append(f"evidence: {name} stopped at a limit: {e}")
    except AttributorError:
        raise  # a bad rules directory is the user's error, not the sample's
    except (MemoryError, RecursionError, ValueError, KeyError, IndexError, TypeError, AttributeError) as e:
        log.debug("%s extractor failed", name, exc_info=True)
        notes.append(f"evidence: {name} failed on this sample ({type(e).__name__}); its findings are missing")
    return []


def collect_evidence(
    binary: Binary, program: Program, options: EvidenceOptions = DEFAULT_OPTIONS
) -> tuple[list[Evidence], list[str]]:
    """Run the enabled extractors; returns (sorted de-duplicated evidence, notes).

    Raises only ``AttributorError`` subclasses, and only for the caller's own mistakes (an
    unreadable or invalid capa rules directory); failures on the sample become notes.
    """
    notes: list[str] = []
    found: list[Evidence] = []
    if options.crypto:
        hits = _guarded("crypto", notes, detect_crypto, binary, program)
        found += crypto_evidence(hits)
        found += _guarded("key material", notes, _keys, binary, hits, program)
    if options.indicators:
        found += _guarded("indicators", notes, _indicators, binary, program)
    if options.capa_rules:
        found += _guarded("capabilities", notes, _capabilities, binary, program, options.capa_rules)
    return normalise(found), notes

