"""The intel store contract: :class:`IntelStore`, with ``memory`` and ``sqlite`` implementations.

Invariants every implementation keeps:
  * :meth:`IntelStore.add` is atomic (all records of a call are stored, or none) and idempotent
    (a record whose :attr:`IntelRecord.key` is stored already is not stored again);
  * every list comes back sorted by :func:`attributor.intel.model.sort_key`;
  * every method raises only ``AttributorError`` subclasses.

The lookups are the ones the matcher needs (:mod:`attributor.intel.match`): by exact value, by
host (a domain or IP record, or a URL or e-mail address on that host), by domain subtree, by IPv4
/24 and by AS number.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field

from attributor.intel.model import IndicatorType, IntelRecord, is_ip, net24_of


@dataclass(frozen=True)
class IntelStats:
    """Counts over the stored intel (dicts sorted by key)."""

    records: int
    by_type: dict[str, int] = field(default_factory=dict)
    by_actor: dict[str, int] = field(default_factory=dict)  # "(none)" for records without an actor
    by_source: dict[str, int] = field(default_factory=dict)
    files: int = 0


NO_ACTOR = "(none)"


def compute_stats(records: Iterable[IntelRecord]) -> IntelStats:
    """:class:`IntelStats` of ``records``."""
    rows = list(records)

    def counts(values: Iterable[str]) -> dict[str, int]:
        return dict(sorted(Counter(values).items()))

    return IntelStats(
        records=len(rows),
        by_type=counts(str(r.type) for r in rows),
        by_actor=counts(r.actor or NO_ACTOR for r in rows),
        by_source=counts(r.source or NO_ACTOR for r in rows),
        files=len({r.provenance.file for r in rows}),
    )


def reversed_host(host: str | None) -> str | None:
    """``c2.evil.example`` -> ``example.evil.c2.`` (domains only): a subtree is a prefix range."""
    if not host or is_ip(host):
        return None
    return ".".join(reversed(host.split("."))) + "."


def subtree_prefix(domain: str) -> str:
    """The reversed-host prefix shared by ``domain`` and every name under it."""
    return ".".join(reversed(domain.split("."))) + "."


def index_values(r: IntelRecord) -> tuple[str | None, str | None, str | None]:
    """(host, reversed host, /24) of a record, as the stores index them."""
    host = r.host
    return host, reversed_host(host), net24_of(host)


class IntelStore(ABC):
    """Contract of an intel store."""

    @abstractmethod
    def add(self, records: Iterable[IntelRecord]) -> int:
        """Store ``records`` in one transaction; returns how many were new."""

    @abstractmethod
    def records(self) -> list[IntelRecord]:
        """Every stored record, sorted."""

    @abstractmethod
    def find_value(self, kind: IndicatorType, value: str) -> list[IntelRecord]:
        """Records of exactly this type and canonical value."""

    @abstractmethod
    def find_host(self, host: str) -> list[IntelRecord]:
        """Records whose host (:attr:`IntelRecord.host`) is ``host``."""

    @abstractmethod
    def find_under(self, domain: str) -> list[IntelRecord]:
        """Records whose host is the domain ``domain`` or a sub-domain of it."""

    @abstractmethod
    def find_net24(self, net: str) -> list[IntelRecord]:
        """Records whose host is an IPv4 address in ``net`` (``a.b.c.0/24``)."""

    @abstractmethod
    def find_asn(self, asn: int) -> list[IntelRecord]:
        """Records that carry AS number ``asn``."""

    def stats(self) -> IntelStats:
        return compute_stats(self.records())

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release resources; the default does nothing."""

    def __enter__(self) -> IntelStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
