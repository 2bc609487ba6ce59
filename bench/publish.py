"""Keep the published benchmark page whole when only the separate tasks were run.

``bench/run.py --only crypto`` (or ``capabilities``, ``calibration``, or a mix of them) measures one
section; the other sections of ``docs/benchmarks.md`` keep the numbers of the run that made them.
"""

from __future__ import annotations

import json
import logging

log = logging.getLogger("bench")
SEPARATE_TASKS = frozenset({"calibration", "crypto", "capabilities"})


def keep_published(settings, summary: dict) -> dict:
    """A run of separate tasks only (calibration, crypto, capabilities) keeps the published sections.

    ``report.render`` draws only the tasks of the summary it gets,
    so such a run takes the summary ``<cache>/bench/latest.json`` holds (the page's), replaces the
    tasks it ran and their run lines, and leaves everything else attributed to the run that made it.
    Each separate section states its own command and date.
    """
    previous = settings.work / "latest.json"
    if settings.quick or set(settings.only) - SEPARATE_TASKS or not previous.is_file():
        return summary
    old = json.loads(previous.read_text(encoding="utf-8"))
    if old.get("mode") != summary.get("mode"):
        return summary
    if (summary.get("date"), summary.get("command")) == (old.get("date"), old.get("command")):
        return summary  # already the published page
    ran = [t for t in settings.only if t in summary["tasks"]]
    for t in ran:
        task = summary["tasks"][t]
        if isinstance(task, dict):
            task.setdefault("run", {})["environment"] = summary.get("environment", {})
        old.setdefault("tasks", {})[t] = task
    prefixes = tuple(f"{t} /" for t in ran)
    old["runs"] = [r for r in old.get("runs", []) if not r["name"].startswith(prefixes)] + [
        r for r in summary["runs"] if r["name"].startswith(prefixes)
    ]
    log.info("kept the other sections of the run of %s (%s)", old.get("date"), old.get("command"))
    return old
