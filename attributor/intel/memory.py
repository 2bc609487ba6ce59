"""An :class:`IntelStore` in memory, for tests and one-off lookups (nothing is persisted)."""

from __future__ import annotations

from collections.abc import Callable, Iterable

from attributor.intel.model import IndicatorType, IntelRecord, sort_key
from attributor.intel.store import IntelStore, index_values, subtree_prefix


class MemoryIntelStore(IntelStore):
    """Records keyed by :attr:`IntelRecord.key`; lookups scan (fine for thousands of records).

    Example:
        >>> store = MemoryIntelStore()
        >>> store.add([]), store.records()
        (0, [])
    """

    def __init__(self, records: Iterable[IntelRecord] = ()) -> None:
        self._records: dict[str, IntelRecord] = {}
        self.add(records)

    def add(self, records: Iterable[IntelRecord]) -> int:
        batch = list(records)  # materialise first: a failing iterator must change nothing
        new = 0
        for r in batch:
            if r.key not in self._records:
                self._records[r.key] = r
                new += 1
        return new

    def records(self) -> list[IntelRecord]:
        return sorted(self._records.values(), key=sort_key)

    def _where(self, test: Callable[[IntelRecord], bool]) -> list[IntelRecord]:
        return sorted((r for r in self._records.values() if test(r)), key=sort_key)

    def find_value(self, kind: IndicatorType, value: str) -> list[IntelRecord]:
        return self._where(lambda r: r.type == kind and r.value == value)

    def find_host(self, host: str) -> list[IntelRecord]:
        return self._where(lambda r: r.host == host)

    def find_under(self, domain: str) -> list[IntelRecord]:
        prefix = subtree_prefix(domain)
        return self._where(lambda r: (index_values(r)[1] or "").startswith(prefix))

    def find_net24(self, net: str) -> list[IntelRecord]:
        return self._where(lambda r: index_values(r)[2] == net)

    def find_asn(self, asn: int) -> list[IntelRecord]:
        return self._where(lambda r: r.asn == asn)
