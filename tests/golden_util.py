"""Golden-file comparison for rendered reports.

To accept new output after an intended change, rerun the failing tests with::

    ATTRIBUTOR_UPDATE_GOLDEN=1 python -m pytest tests/ -k golden

and review ``git diff tests/golden``.
"""

from __future__ import annotations

import difflib
import os
from pathlib import Path

GOLDEN_DIR = Path(__file__).parent / "golden"
UPDATE_ENV = "ATTRIBUTOR_UPDATE_GOLDEN"


def assert_golden(name: str, text: str) -> None:
    """Assert ``text`` equals ``tests/golden/<name>``; with ``ATTRIBUTOR_UPDATE_GOLDEN=1`` rewrite it."""
    path = GOLDEN_DIR / name
    if os.environ.get(UPDATE_ENV) == "1":
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8", newline="\n")
        return
    if not path.exists():
        raise AssertionError(f"golden file {path} is missing; create it with {UPDATE_ENV}=1")
    expected = path.read_text(encoding="utf-8")
    if text != expected:
        diff = "".join(
            difflib.unified_diff(
                expected.splitlines(keepends=True),
                text.splitlines(keepends=True),
                fromfile=f"golden/{name}",
                tofile="actual",
            )
        )
        raise AssertionError(f"output differs from golden/{name} (refresh with {UPDATE_ENV}=1):\n{diff}")
