"""Registrable ("parent") domains, for the ``parent-domain`` match.

``c2.evil.co.uk`` and ``www.evil.co.uk`` share the parent ``evil.co.uk``; ``a.github.io`` and
``b.github.io`` share nothing, because ``github.io`` is a public suffix where every sub-domain
belongs to someone else. The suffixes come from data already shipped offline by
``pymispwarninglists``:

* ``tlds`` (IANA top-level domains) and ``second-level-tlds`` (the Mozilla Public Suffix List,
  ICANN and private sections, e.g. ``co.uk``, ``github.io``, ``azurewebsites.net``);
* ``dynamic-dns`` (``duckdns.org``, ``no-ip.org`` ...): their customers' names are separate
  registrations too, so they count as suffixes here.

The parent is the longest known suffix plus one label. Limits, on purpose kept simple: the PSL's
wildcard (``*.ck``) and exception (``!www.ck``) rules are not in the shipped list, so those few
suffixes are handled as plain names; a name under an unknown TLD (``.example``, ``.test``) takes
its last two labels; a name that is itself a suffix has no parent.
"""

from __future__ import annotations

from functools import cache

from attributor.intel.warninglists import read_list

_LISTS = ("tlds", "second-level-tlds", "dynamic-dns")


@cache
def public_suffixes() -> frozenset[str]:
    """Every known public suffix, lower case, without leading dots (loaded once, cached)."""
    found: set[str] = set()
    for name in _LISTS:
        try:
            _kind, entries = read_list(name)
        except (OSError, ValueError, KeyError, TypeError):
            continue  # a missing list makes parents coarser, not wrong enough to fail a lookup
        found.update(e.strip().strip(".").lower() for e in entries if e.strip("."))
    return frozenset(found)


def registrable_domain(host: str, suffixes: frozenset[str] | None = None) -> str | None:
    """The registrable domain of ``host`` (a canonical domain), or None if it is a suffix itself.

    >>> registrable_domain("c2.evil.co.uk"), registrable_domain("a.b.example"), registrable_domain("co.uk")
    ('evil.co.uk', 'b.example', None)
    """
    known = public_suffixes() if suffixes is None else suffixes
    labels = host.lower().strip(".").split(".")
    if ".".join(labels) in known:
        return None
    for i in range(1, len(labels)):  # longest suffix first: labels[i:]
        if ".".join(labels[i:]) in known:
            return ".".join(labels[i - 1 :])
    if len(labels) < 2:
        return None
    return ".".join(labels[-2:])
