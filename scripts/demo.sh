#!/usr/bin/env bash
# Set up (if needed), generate a small dataset under ./out/ and write preview PNGs.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
.venv/bin/synthcam generate --rooms 2 --frames-per-room 20 --resolution 640x480 --seed 0 --out out/ "$@"
.venv/bin/synthcam inspect out/
.venv/bin/synthcam preview out/ --out out/previews --frames 3
