#!/usr/bin/env bash
# Install everything the tests need, then lint, type-check and run the test suite.
ATTRIBUTOR_NEED_BROWSER=1 source "$(dirname "$0")/_setup.sh"
ruff check attributor tests bench
mypy
python -m pytest "$@"
