#!/usr/bin/env bash
# Set up (if needed), lint and type-check the whole tree (scripts/lint.sh: ruff check, ruff format --check,
# mypy), then run the whole test suite. A lint failure fails the run, after the tests have run.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
lint=0
bash scripts/lint.sh || lint=1
.venv/bin/python -m pytest -n 2 --dist worksteal "$@"
if [ "$lint" -ne 0 ]; then
  echo "lint failed (see the ruff and mypy output above)" >&2
  exit 1
fi
