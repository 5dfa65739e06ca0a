#!/usr/bin/env bash
# The Quickstart's first command: install (if needed) and replay the incident on example_repo/.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
source "$ROOT/scripts/bootstrap.sh"
exec python "$ROOT/scripts/demo.py" "$@"
