"""JSON renderer: one ``model_dump_json`` call, so the JSON *is* the document (see docs/cli.md)."""

from __future__ import annotations

from attributor.report.document import CorpusStats, MatchDocument, MatchReport


def render_json(doc: MatchReport | MatchDocument | CorpusStats) -> str:
    """Serialise a document with its field names as aliases (``schema``), in declaration order.

    The key order follows the model's field order and every float is already rounded, so the same
    document always yields the same bytes. The result ends with a newline.
    """
    return doc.model_dump_json(by_alias=True, indent=2) + "\n"
