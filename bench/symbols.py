"""Function-level scoring of embedded-reuse on the queries that still carry a ``.symtab``.

Symbols are read here, by the scorer only, from the *original* query file (the tools got a
stripped copy). A query function is classified by its name (clone suffixes such as
``.part.0`` removed):

* ``library``: a verified positive family of the query exports the name (reference ``.dynsym``);
  the right answers are those families. Only a library's public API can be recognised this way.
* ``binding``: exported by no reference (family or runtime) and named like Python binding code
  (``BINDING_NAME``: ``PyInit_*``, Cython ``__pyx_*``/``__Pyx*``, CFFI ``_cffi_*``, ``Py*``).
* ``other``: everything else (library internals, package code with other names): not scored.
"""

from __future__ import annotations

import re
from collections import defaultdict
from pathlib import Path

import lief

from bench.datasets import Query, Reference
from bench.embedded_reuse import Verdict

BINDING_NAME = re.compile(r"^(PyInit_|__pyx_|__Pyx|_cffi_|Py[A-Z_]|_Py[A-Z])")
lief.logging.disable()


def base_name(name: str) -> str:
    return name.split(".", 1)[0] if not name.startswith(".") else ""


def reference_exports(references: list[Reference]) -> tuple[dict[str, set[str]], set[str]]:
    """(exported function name -> families, names exported by runtime entries)."""
    by_name: dict[str, set[str]] = defaultdict(set)
    runtime: set[str] = set()
    for r in references:
        binary = lief.ELF.parse(str(r.path))
        if binary is None:
            continue
        for s in binary.dynamic_symbols:
            if s.type != lief.ELF.Symbol.TYPE.FUNC or not s.value or not s.shndx:
                continue
            if r.runtime:
                runtime.add(s.name)
            else:
                by_name[s.name].add(r.family)
    return by_name, runtime


def query_functions(path: Path) -> dict[int, set[str]] | None:
    """Defined function symbols of ``.symtab`` by address; None when the file has no ``.symtab``."""
    binary = lief.ELF.parse(str(path))
    if binary is None or binary.get_section(".symtab") is None:
        return None
    out: dict[int, set[str]] = defaultdict(set)
    for s in binary.symtab_symbols:
        name = base_name(s.name)
        if s.type == lief.ELF.Symbol.TYPE.FUNC and s.value and s.shndx and name:
            out[int(s.value)].add(name)
    return out


def classify(
    names: set[str], positives: set[str], exports: dict[str, set[str]], runtime: set[str]
) -> tuple[str, set[str]]:
    right = {f for n in names for f in exports.get(n, ()) if f in positives}
    if right:
        return "library", right
    if not any(n in exports or n in runtime for n in names) and any(BINDING_NAME.match(n) for n in names):
        return "binding", set()
    return "other", set()


def score_functions(
    queries: list[Query],
    references: list[Reference],
    results: dict[str, dict],
    verdicts: dict[str, dict[str, Verdict]],
) -> dict:
    """Per tool with function-level output: share of library functions given to the right family
    (by any reported family / by an attributed one), binding functions given to any family.
    Runtime entries (libc, libstdc++) are background, not a family: pairs with them are ignored."""
    exports, runtime = reference_exports(references)
    runtime_families = {r.family for r in references if r.runtime}
    symbolled = {q.id: query_functions(q.path) for q in queries}
    out = {}
    for tool, result in results.items():
        counts: dict[str, int] = defaultdict(int)
        per_query = []
        for q in queries:
            funcs = symbolled[q.id]
            if funcs is None:
                continue
            fam_of = {
                a: set(fams) - runtime_families
                for a, fams in result["queries"][q.id]["function_families"].items()
            }
            attributed = verdicts[tool][q.id].attributed or set()
            c = _query_counts(funcs, fam_of, attributed, set(q.positives), exports, runtime)
            per_query.append({"query": q.id, **c})
            for k, v in c.items():
                counts[k] += v
        out[tool] = {"total": dict(counts), "queries": per_query}
    return out


def _query_counts(
    funcs: dict[int, set[str]],
    fam_of: dict[str, set[str]],
    attributed: set[str],
    positives: set[str],
    exports: dict[str, set[str]],
    runtime: set[str],
) -> dict[str, int]:
    c: dict[str, int] = defaultdict(int)
    for addr, names in funcs.items():
        kind, right = classify(names, positives, exports, runtime)
        got = fam_of.get(str(addr), set())
        c[f"{kind}_functions"] += 1
        if kind == "library":
            c["library_right_family"] += bool(got & right)
            c["library_right_family_attributed"] += bool(got & right & attributed)
        elif kind == "binding":
            c["binding_with_family"] += bool(got)
            c["binding_with_attributed_family"] += bool(got & attributed)
    return dict(c)
