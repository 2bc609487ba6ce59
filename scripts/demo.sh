#!/usr/bin/env bash
# Build the demo corpus from the project's own C sources and attribute a demo incident.
source "$(dirname "$0")/_setup.sh"
attributor demo "$@"
