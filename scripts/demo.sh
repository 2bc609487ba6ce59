#!/usr/bin/env bash
# Build the demo corpus from the project's own C sources and attribute a demo incident.
# With a capa rule set beside the checkout (../shared/capa-rules) or in $ATTRIBUTOR_CAPA_RULES,
# capabilities (ATT&CK) are part of the evidence too.
source "$(dirname "$0")/_setup.sh"
rules=()
if [ -z "${ATTRIBUTOR_CAPA_RULES:-}" ] && [ -d ../shared/capa-rules ]; then
    rules=(--capa-rules ../shared/capa-rules)
fi
attributor demo "${rules[@]}" "$@"
