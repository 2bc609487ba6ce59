"""Code signatures: YARA hex strings from code unique to an attributed family, verified on the corpus.

Use :func:`candidates_from_result` on a :class:`~attributor.match.result.MatchResult`, then
:func:`build_signatures`; :func:`attributor.render.yara.render_yara` writes the rules. See
``docs/yara.md``.
"""

from __future__ import annotations

from attributor.signature.pattern import function_pattern
from attributor.signature.yara_build import (
    SignatureBuild,
    SignatureCandidate,
    build_signature_set,
    build_signatures,
    candidates_from_result,
)

__all__ = [
    "SignatureBuild",
    "SignatureCandidate",
    "build_signature_set",
    "build_signatures",
    "candidates_from_result",
    "function_pattern",
]
