"""Fuzz the loading stage end to end: ``load_bytes`` -> function recovery -> fingerprint.

    python fuzz/fuzz_loader.py -max_total_time=600 fuzz/corpus/loader

Inputs over 64 KiB are ignored (small inputs keep executions fast); limits are lowered so that a
pathological input costs milliseconds, not seconds.
"""

from __future__ import annotations

import sys

from fuzz_common import expect_typed, main, seeds_loader

from attributor.errors import AttributorError
from attributor.fingerprint.model import DEFAULT_PARAMS
from attributor.fingerprint.sample import fingerprint_binary
from attributor.loading.loader import Limits, load_bytes

MAX_INPUT = 1 << 16
LIMITS = Limits(
    max_file_bytes=MAX_INPUT, max_code_bytes=MAX_INPUT, max_functions=2_000, max_insns_per_function=5_000
)
MAX_MESSAGE = 1_000  # characters in one error line


def test_one_input(data: bytes) -> None:
    if len(data) > MAX_INPUT:
        return
    for blind in (False, True):
        try:
            binary = load_bytes(data, blind=blind, limits=LIMITS)
            fp = fingerprint_binary(binary, DEFAULT_PARAMS, LIMITS)
        except AttributorError as e:
            expect_typed(e, max_len=MAX_MESSAGE)
            return
        if fp.n_functions != len(fp.addresses) or fp.minhash.shape != (
            fp.n_functions,
            DEFAULT_PARAMS.num_perm,
        ):
            raise AssertionError("inconsistent fingerprint columns")
        if not fp.covered_bytes >= 0 or fp.status not in ("complete", "incomplete"):
            raise AssertionError(f"bad coverage/status: {fp.covered_bytes} {fp.status}")


if __name__ == "__main__":
    main(test_one_input, seeds_loader, "loader")
    sys.exit(0)
