"""A structural diff of two JSON documents, with paths a reader can follow.

Used to say *precisely* what a re-run changed in a report::

    hypotheses[id=actor:Example Group].probability: 0.87 → 0.85
    evidence[id=ev-1a2b3c4d5e6f]: added {"id": "ev-1a2b3c4d5e6f", "kind": "code", ...}
    verdict.hypothesis: "actor:Example Group" → "unknown"

Lists whose items are all objects with a unique ``id`` (else ``evidence_id``, ``sha256``, ``name``)
are matched by that key, so a re-ranking or one inserted item does not cascade into a difference
for every later index; a changed order is one ``order`` difference. Other lists are compared item
by item when their lengths agree, else as multisets (indices of removed items refer to the
original, of added items to the re-run). Scalars differ when their JSON differs (``1`` vs ``1.0``
and ``true`` vs ``1`` differ).
"""

from __future__ import annotations

import json
import re
from collections import Counter
from dataclasses import dataclass
from typing import Any, Literal

KEYS = ("id", "evidence_id", "sha256", "name")
_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_SHOW = 120


@dataclass(frozen=True)
class Difference:
    """One difference: where (``path``), what kind, and the old / new values (JSON-compatible)."""

    path: str
    kind: Literal["changed", "added", "removed", "order"]
    old: Any = None
    new: Any = None

    def __str__(self) -> str:
        if self.kind == "added":
            return f"{self.path}: added {_show(self.new)}"
        if self.kind == "removed":
            return f"{self.path}: removed (was {_show(self.old)})"
        if self.kind == "order":
            return f"{self.path}: order changed {_show(self.old)} → {_show(self.new)}"
        return f"{self.path}: {_show(self.old)} → {_show(self.new)}"

    def to_dict(self) -> dict[str, Any]:
        return {"path": self.path, "kind": self.kind, "old": self.old, "new": self.new}


def compare_documents(original: Any, rerun: Any) -> list[Difference]:
    """Every difference between two parsed JSON values, in document order; ``[]`` when equal.

    Example:
        >>> [str(d) for d in compare_documents({"a": [1, 2]}, {"a": [1, 3]})]
        ['a[1]: 2 → 3']
    """
    out: list[Difference] = []
    _diff(original, rerun, "", out)
    return out


def _diff(a: Any, b: Any, path: str, out: list[Difference]) -> None:
    if isinstance(a, dict) and isinstance(b, dict):
        for key in list(a) + [k for k in b if k not in a]:
            sub = _key_path(path, str(key))
            if key not in b:
                out.append(Difference(sub, "removed", old=a[key]))
            elif key not in a:
                out.append(Difference(sub, "added", new=b[key]))
            else:
                _diff(a[key], b[key], sub, out)
    elif isinstance(a, list) and isinstance(b, list):
        key = _list_key(a, b)
        if key is not None:
            _diff_keyed(a, b, key, path, out)
        elif len(a) == len(b):
            for i, (x, y) in enumerate(zip(a, b, strict=True)):
                _diff(x, y, f"{path}[{i}]", out)
        else:
            _diff_multiset(a, b, path, out)
    elif _canon(a) != _canon(b):
        out.append(Difference(path or "(document)", "changed", old=a, new=b))


def _diff_keyed(a: list[Any], b: list[Any], key: str, path: str, out: list[Difference]) -> None:
    old = {item[key]: item for item in a}
    new = {item[key]: item for item in b}
    for k, item in old.items():
        sub = f"{path}[{key}={k}]"
        if k in new:
            _diff(item, new[k], sub, out)
        else:
            out.append(Difference(sub, "removed", old=item))
    out.extend(Difference(f"{path}[{key}={k}]", "added", new=item) for k, item in new.items() if k not in old)
    common_old = [k for k in old if k in new]
    common_new = [k for k in new if k in old]
    if common_old != common_new:
        out.append(Difference(path, "order", old=common_old, new=common_new))


def _diff_multiset(a: list[Any], b: list[Any], path: str, out: list[Difference]) -> None:
    left, right = Counter(_canon(x) for x in a), Counter(_canon(y) for y in b)
    removed, added = left - right, right - left
    for i, x in enumerate(a):
        c = _canon(x)
        if removed[c]:
            removed[c] -= 1
            out.append(Difference(f"{path}[{i}]", "removed", old=x))
    for i, y in enumerate(b):
        c = _canon(y)
        if added[c]:
            added[c] -= 1
            out.append(Difference(f"{path}[{i}]", "added", new=y))


def _list_key(a: list[Any], b: list[Any]) -> str | None:
    """The first of :data:`KEYS` that every item of both lists has, as a unique string."""
    items = a + b
    if not items or not all(isinstance(x, dict) for x in items):
        return None
    for key in KEYS:
        for side in (a, b):
            values = [x.get(key) for x in side]
            if not all(isinstance(v, str) for v in values) or len(set(values)) != len(values):
                break
        else:
            return key
    return None


def _key_path(path: str, key: str) -> str:
    part = f".{key}" if _IDENT.fullmatch(key) else f"[{json.dumps(key)}]"
    return part[1:] if not path and part.startswith(".") else path + part


def _canon(value: Any) -> str:
    return json.dumps(value, sort_keys=True, ensure_ascii=False)


def _show(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False)
    return text if len(text) <= _SHOW else text[: _SHOW - 3] + "..."
