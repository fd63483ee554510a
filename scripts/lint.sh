#!/usr/bin/env bash
# Lint, format check and type check of the whole tree, with the versions pinned in pyproject.toml's `test`
# extra (installed by scripts/setup.sh). Configuration: [tool.ruff] and [tool.mypy] in pyproject.toml.
set -euo pipefail
cd "$(dirname "$0")/.."
status=0
echo "lint: ruff check"
.venv/bin/ruff check . || status=1
echo "lint: ruff format --check"
.venv/bin/ruff format --check . || status=1
echo "lint: mypy"
.venv/bin/mypy || status=1
exit $status
