"""YARA rules from the code signatures of an :class:`AttributionDocument`.

One rule per family in ``doc.signatures`` (families in name order, strings in document order).
Each string is one verified hex pattern (:mod:`attributor.signature`) with the disassembly it was
made from as ``//`` comments above it; the condition is ``any of them``, since every string was
verified on its own to match the query and the family's corpus samples and nothing else.

Everything that comes from input (family and actor names, case id, disassembly text) is treated
as hostile: rule names are reduced to YARA identifiers plus a hash of the family name (distinct
families never collide), meta values are escaped, and comment text is reduced to printable ASCII
without newlines or ``/*``/``*/``, so no input can end a comment or a string early.
The output compiles with ``yara.compile(source=...)``; tests check it.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable

from attributor.report.attribution import AttributionDocument, CodeSignature

_IDENT_BAD = re.compile(r"[^A-Za-z0-9_]+")
_HEX_BODY = re.compile(r"^[0-9A-Fa-f?\[\]\- ]+$")
_MAX_NAME = 48  # of the family part; YARA allows 128 characters per identifier


def render_yara(doc: AttributionDocument) -> str:
    """The rules text: a header comment, then one rule per family with signatures.

    Without any verified signature the text is a comment saying so (still a valid rules file).
    """
    by_family: dict[str, list[CodeSignature]] = {}
    for sig in doc.signatures:
        by_family.setdefault(sig.family, []).append(sig)
    if not by_family:
        case = f"case {comment(doc.case.id)}, {comment(doc.case.tlp)}"
        return (
            f"// attributor {comment(doc.tool.version)}: {case}\n"
            "// no verified code signature: no family-unique code passed the corpus check\n"
        )
    header = [
        f"// attributor {comment(doc.tool.version)}: code signatures for case {comment(doc.case.id)}",
        f"// {comment(doc.case.tlp)}. Each string matched the query and its family's corpus samples",
        "// and no other corpus sample when it was built; re-verify before deploying elsewhere.",
        "",
        "",
    ]
    rules = [_rule(doc, family, by_family[family]) for family in sorted(by_family)]
    return "\n".join(header) + "\n\n".join(rules)


def rule_name(family: str) -> str:
    """A YARA identifier for ``family``: ``attributor_<ascii part>_<8 hex of its SHA-256>``."""
    ascii_part = _IDENT_BAD.sub("_", family).strip("_")[:_MAX_NAME] or "family"
    digest = hashlib.sha256(family.encode("utf-8", "surrogatepass")).hexdigest()[:8]
    return f"attributor_{ascii_part}_{digest}"


def comment(text: str) -> str:
    """``text`` made safe inside a ``//`` comment: printable ASCII, one line, no ``/*`` or ``*/``."""
    out = text.encode("ascii", "backslashreplace").decode("ascii")
    out = "".join(c if " " <= c <= "~" else " " for c in out)
    while "*/" in out or "/*" in out:
        out = out.replace("*/", "* /").replace("/*", "/ *")
    return out


def meta_string(text: str) -> str:
    """``text`` as a YARA text string literal (quotes included); non-ASCII as ``\\xHH`` escapes."""
    out = []
    for byte in text.encode("utf-8", "surrogatepass"):
        ch = chr(byte)
        if ch in '"\\':
            out.append("\\" + ch)
        elif 0x20 <= byte < 0x7F:
            out.append(ch)
        else:
            out.append(f"\\x{byte:02x}")
    return '"' + "".join(out) + '"'


def _actors(doc: AttributionDocument, family: str) -> list[str]:
    names = {s.actor for s in doc.corpus_samples if s.family == family and s.actor}
    names.update(a for h in doc.hypotheses if h.level == "family" and h.name == family for a in h.actors)
    return sorted(names)


def _meta(doc: AttributionDocument, family: str, sigs: list[CodeSignature]) -> list[str]:
    pairs = [("family", family)]
    pairs += [("actor", a) for a in _actors(doc, family)]
    pairs += [
        ("case_id", doc.case.id),
        ("tlp", doc.case.tlp),
        ("tool", f"{doc.tool.name} {doc.tool.version}"),
        ("corpus_digest", doc.corpus.digest),
    ]
    pairs += [("sample", s) for s in dict.fromkeys(sig.sample for sig in sigs)]
    return [f"        {key} = {meta_string(value)}" for key, value in pairs]


def _string_ids(sigs: Iterable[CodeSignature]) -> list[str]:
    """``$f_<function address>``, with ``_2``, ``_3`` ... where one function gave several strings."""
    seen: dict[str, int] = {}
    out = []
    for sig in sigs:
        base = "$f_" + _IDENT_BAD.sub("_", sig.function.removeprefix("0x"))
        seen[base] = seen.get(base, 0) + 1
        out.append(base if seen[base] == 1 else f"{base}_{seen[base]}")
    return out


def _strings(sigs: list[CodeSignature]) -> list[str]:
    lines = []
    for ident, sig in zip(_string_ids(sigs), sigs, strict=True):
        if not _HEX_BODY.match(sig.pattern):  # the document is input too: never paste raw text
            raise ValueError(f"signature for {sig.function} is not a YARA hex string body")
        checked = f"matched {len(sig.matched)} samples, {sig.checked} corpus files checked"
        lines.append(f"        // {comment(sig.sample[:12])} function {comment(sig.function)}: {checked}")
        lines += [f"        //   {comment(line)}" for line in sig.asm]
        lines.append(f"        {ident} = {{ {sig.pattern} }}")
    return lines


def _rule(doc: AttributionDocument, family: str, sigs: list[CodeSignature]) -> str:
    body = [
        f"rule {rule_name(family)}",
        "{",
        "    meta:",
        *_meta(doc, family, sigs),
        "    strings:",
        *_strings(sigs),
        "    condition:",
        "        any of them",
        "}",
    ]
    return "\n".join(body) + "\n"
