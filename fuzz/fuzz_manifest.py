"""Fuzz the corpus manifest parser (CSV and JSON lines) through a real file.

python fuzz/fuzz_manifest.py -max_total_time=600 fuzz/corpus/manifest
"""

from __future__ import annotations

import sys
from pathlib import Path

from fuzz_common import expect_typed, main, scratch_dir, seeds_manifest

from attributor.errors import AttributorError
from attributor.manifest import parse_manifest
from attributor.store.base import Label

_DIR = scratch_dir("manifest")
_FILE = _DIR / "manifest.csv"


def test_one_input(data: bytes) -> None:
    _FILE.write_bytes(data)
    try:
        items = parse_manifest(_FILE)
    except AttributorError as e:
        expect_typed(e)
        return
    for path, label in items:
        if not isinstance(path, Path) or not isinstance(label, Label):
            raise AssertionError(f"bad item {path!r} {label!r}")
        if not label.family or "\0" in label.family or "\0" in str(path):
            raise AssertionError(f"unvalidated label {label!r}")
        if label.source is None or not label.source.startswith(str(_FILE) + ":"):
            raise AssertionError(f"source not set: {label.source!r}")


if __name__ == "__main__":
    main(test_one_input, seeds_manifest, "manifest")
    sys.exit(0)
