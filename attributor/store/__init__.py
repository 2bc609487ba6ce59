"""Corpus stores: one small contract (:mod:`attributor.store.base`) and its implementations."""

from attributor.store.base import CorpusIndex, Label, SampleRecord, Store

__all__ = ["CorpusIndex", "Label", "SampleRecord", "Store"]
