"""Infrastructure intelligence: import STIX / MISP / CSV intel, match incident indicators against it.

Pipeline: :func:`load.load_intel` (a file -> :class:`model.IntelRecord` list, all or nothing) ->
an :class:`store.IntelStore` (``memory`` or ``sqlite``, the latter in the corpus database) ->
:func:`match.match_indicators` (:class:`model.IocQuery` list -> :class:`match.IntelMatch` list),
with actor aliases resolved by :mod:`actors` and non-attributable infrastructure flagged by
:mod:`warninglists`. See docs/intel.md.
"""

from attributor.intel.load import load_intel, load_intel_file
from attributor.intel.match import IntelMatch, MatchKind, Strength, actors_of, match_indicators
from attributor.intel.model import IndicatorType, IntelRecord, IocQuery
from attributor.intel.store import IntelStore

__all__ = [
    "IndicatorType",
    "IntelMatch",
    "IntelRecord",
    "IntelStore",
    "IocQuery",
    "MatchKind",
    "Strength",
    "actors_of",
    "load_intel",
    "load_intel_file",
    "match_indicators",
]
