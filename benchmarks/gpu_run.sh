#!/usr/bin/env bash
# On the lent GPU machine, after benchmarks/gpu_prepare.sh here: run with carry [".gpu", ".gl"], e.g.
#   bash benchmarks/gpu_run.sh [--workers 1,2,4,8,16]     (arguments go to gpu_render_fps.py run)
# Installs the GL loaders, puts the carried packages and the repository on the path, prints the device,
# and writes the figures to $OUT/gpu_render_fps.txt (and stdout).
set -uo pipefail
cd "$(dirname "$0")/.."
for f in .gl/*.deb; do dpkg -x "$f" /; done
ldconfig
if [ -f /usr/local/nvidia/share/glvnd/egl_vendor.d/10_nvidia.json ]; then
    export __EGL_VENDOR_LIBRARY_FILENAMES=/usr/local/nvidia/share/glvnd/egl_vendor.d/10_nvidia.json
fi
export PYTHONPATH="$PWD:$PWD/.gpu/site${PYTHONPATH:+:$PYTHONPATH}" PYOPENGL_PLATFORM=egl PYTHONUNBUFFERED=1
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader || true
python3 benchmarks/gpu_render_fps.py run .gpu/plans.pkl "$@" 2>&1 | tee "${OUT:-.}/gpu_render_fps.txt"
