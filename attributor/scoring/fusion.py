"""The fusion model: from per-family evidence to probabilities of families, actors and "unknown".

A sample can hold code of several families at once (a toolkit and the library it bundles, two
modules of one actor), so family hypotheses are not mutually exclusive. Each family gets its own
logistic model over evidence features (:func:`family_features`)::

    P(family f contributed to the sample) = sigmoid(b + sum_k w_k * x_k(f))

An actor's probability combines its families and any infrastructure tied to it by noisy-OR::

    P(actor A) = 1 - prod_{f of A} (1 - P(f)) * prod_{infra m of A} (1 - s_m)

and "unknown / new actor" is the probability that none of the corpus actors and actor-less
families is responsible, under the same independence assumption::

    P(unknown) = prod_A (1 - P(A)) * prod_{f without actor} (1 - P(f))

The weights in :data:`DEFAULT_WEIGHTS` come from ``weights.json`` beside this module, written by
``bench/calibration.py``: ``bias``, ``code``, ``unique``, ``matchable`` and ``attributed`` are fitted by ridge
logistic regression on the embedded-reuse dev set, out-of-sample checked by leaving one package
out; ``crypto`` and ``indicators`` were fitted there too and came out below zero (shared library
strings and constants are not evidence of a family), so they are held at 0; ``keys`` (one
package has any) and ``capabilities`` (no capa rules in that job) are hand-set priors. Without
the file the hand-set :class:`FusionWeights` defaults apply. Details and numbers:
``docs/calibration.md`` and ``docs/benchmarks.md``.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, fields
from importlib import resources

from attributor.match.evidence import SharedEvidence
from attributor.match.result import FamilyScore

# Infrastructure match strengths (probability that the actor is involved given only this match).
INFRA_STRENGTH = {"strong": 0.6, "moderate": 0.3, "weak": 0.1}
OUT_OF_WINDOW = 0.5  # a match outside the intel's time window counts half
EVIDENCE_CAP = 3.0  # sum of specificities of one kind that can count (many weak items != proof)


@dataclass(frozen=True)
class FusionWeights:
    """Logistic weights of :func:`family_probability`; stored in reports as parameters."""

    bias: float = -4.0
    code: float = 1.2  # log1p(code score)
    unique: float = 1.0  # log1p(unique functions)
    matchable: float = 2.0  # fraction of the sample's matchable bytes shared with the family
    attributed: float = 3.0  # the matcher's decision rule (enough functions unique to the family)
    keys: float = 4.0  # sum of specificities of shared key material
    indicators: float = 2.5  # ... of shared indicators (C2 hosts, mutexes, PDB paths)
    capabilities: float = 0.6  # ... of shared capabilities
    crypto: float = 0.4  # ... of shared crypto algorithms
    version: str = "hand-set"

    @classmethod
    def load(cls, text: str) -> FusionWeights:
        data = json.loads(text)
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})

    def as_params(self) -> dict[str, float | str]:
        return {f"fusion.{k}": v for k, v in sorted(asdict(self).items())}


def _packaged_weights() -> FusionWeights:
    try:
        text = resources.files("attributor.scoring").joinpath("weights.json").read_text(encoding="utf-8")
    except (FileNotFoundError, OSError):
        return FusionWeights()
    return FusionWeights.load(text)


DEFAULT_WEIGHTS = _packaged_weights()
FEATURES = ("code", "unique", "matchable", "attributed", "keys", "indicators", "capabilities", "crypto")


def family_features(
    family: FamilyScore | None, shared: Iterable[SharedEvidence], name: str
) -> dict[str, float]:
    """Evidence features of family ``name`` for one sample (the code part may be absent)."""
    x = {k: 0.0 for k in FEATURES}
    if family is not None:
        x["code"] = math.log1p(max(0.0, family.score))
        x["unique"] = math.log1p(family.unique_functions)
        x["matchable"] = float(family.matchable_fraction)
        x["attributed"] = 1.0 if family.attributed and not family.library else 0.0
    per_kind = {"key": "keys", "indicator": "indicators", "capability": "capabilities", "crypto": "crypto"}
    for s in shared:
        if name in s.families:
            k = per_kind.get(str(s.evidence.kind))
            if k:
                x[k] += s.specificity
    for k in per_kind.values():
        x[k] = min(x[k], EVIDENCE_CAP)
    return x


def family_probability(x: Mapping[str, float], w: FusionWeights = DEFAULT_WEIGHTS) -> float:
    """``sigmoid(bias + w . x)``."""
    z = w.bias + sum(getattr(w, k) * x.get(k, 0.0) for k in FEATURES)
    return 1.0 / (1.0 + math.exp(-max(-40.0, min(40.0, z))))


def noisy_or(probabilities: Iterable[float]) -> float:
    """P(at least one) for independent probabilities."""
    none = 1.0
    for p in probabilities:
        none *= 1.0 - min(1.0, max(0.0, p))
    return 1.0 - none


def infra_strength(strength: str, in_window: bool | None, non_attributable: bool) -> float:
    """Probability weight of one infrastructure match for its actor."""
    if non_attributable:
        return 0.0
    s = INFRA_STRENGTH.get(strength, 0.0)
    return s * OUT_OF_WINDOW if in_window is False else s
