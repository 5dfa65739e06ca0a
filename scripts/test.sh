#!/usr/bin/env bash
# The Quickstart's second command: install (if needed) and run the whole test suite.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
source "$ROOT/scripts/bootstrap.sh"
source "$ROOT/scripts/services.sh"
cd "$ROOT"
exec python -m pytest -n 2 "$@"
