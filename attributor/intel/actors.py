"""Actor names resolved through aliases, so that two names for one actor count once.

The alias table is the MISP ``threat-actor`` galaxy shipped inside ``pymispgalaxies``
(``data/misp-galaxy/clusters/threat-actor.json``; no network). Every cluster's ``value`` is a
canonical name, and it and each of its ``meta.synonyms`` map to that value. Names are compared
case-insensitively with whitespace collapsed (``fancy  BEAR`` is ``Fancy Bear``).

Rules:
  * a name that is a cluster value resolves to itself, even if another cluster also lists it as
    a synonym (``ALLANITE`` is a cluster and a synonym of ``ENERGETIC BEAR``);
  * a synonym shared by several clusters (``Grizzly Steppe``: APT28 and APT29) is ambiguous and
    is *not* resolved: merging two actors would be worse than counting one twice;
  * an unknown name is kept, whitespace collapsed and case-folded (``ACTOR-Northwind`` ->
    ``actor-northwind``), so spellings that differ only in case still count once.

The table is read once per process (about 10 ms) and cached.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path

GALAXY = "threat-actor"
MAX_NAME_CHARS = 200


def normalise_name(name: str) -> str:
    """Whitespace collapsed, case-folded: the comparison key of an actor name."""
    return " ".join(name.split()).casefold()


def _galaxy_file() -> Path:
    import pymispgalaxies

    return Path(pymispgalaxies.__file__).parent / "data" / "misp-galaxy" / "clusters" / f"{GALAXY}.json"


@cache
def alias_table() -> tuple[dict[str, str], dict[str, tuple[str, ...]]]:
    """(name key -> canonical value, ambiguous key -> candidate values), from the galaxy.

    An unreadable galaxy file yields empty tables (every name is then "unknown") rather than an
    error: alias resolution improves counting but is not needed for a correct match.
    """
    try:
        values = json.loads(_galaxy_file().read_text(encoding="utf-8"))["values"]
    except (OSError, ValueError, KeyError, TypeError, ImportError):
        return {}, {}
    own: dict[str, str] = {}
    synonyms: dict[str, set[str]] = {}
    for cluster in values:
        value = cluster.get("value")
        if not isinstance(value, str) or not value.strip():
            continue
        own.setdefault(normalise_name(value), value)
        for syn in (cluster.get("meta") or {}).get("synonyms") or ():
            if isinstance(syn, str) and syn.strip():
                synonyms.setdefault(normalise_name(syn), set()).add(value)
    table = dict(own)
    ambiguous: dict[str, tuple[str, ...]] = {}
    for key, targets in synonyms.items():
        if key in own:
            continue
        if len(targets) == 1:
            table[key] = next(iter(targets))
        else:
            ambiguous[key] = tuple(sorted(targets))
    return table, ambiguous


def resolve_actor(name: str | None) -> str | None:
    """The canonical name of actor ``name`` (None or blank -> None).

    >>> resolve_actor("  fancy   bear "), resolve_actor("Sofacy"), resolve_actor("ACTOR-Northwind")
    ('APT28', 'APT28', 'actor-northwind')
    """
    if name is None:
        return None
    key = normalise_name(name[:MAX_NAME_CHARS])
    if not key:
        return None
    table, _ambiguous = alias_table()
    return table.get(key, key)


def candidates(name: str) -> tuple[str, ...]:
    """The galaxy clusters an ambiguous synonym could mean (empty when it is not ambiguous)."""
    return alias_table()[1].get(normalise_name(name), ())
