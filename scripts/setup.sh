#!/usr/bin/env bash
# One-time (idempotent) set-up of a fresh checkout: system libraries, a virtual environment at
# .venv, and the package installed in editable mode with its test extras.
set -euo pipefail
cd "$(dirname "$0")/.."

# open3d links libusb-1.0 and libGL/libEGL; install whatever of them the machine lacks.
need=()
ldconfig -p | grep -q 'libusb-1.0.so.0' || need+=(libusb-1.0-0)
ldconfig -p | grep -q 'libGL.so.1' || need+=(libgl1)
ldconfig -p | grep -q 'libEGL.so.1' || need+=(libegl1)
ldconfig -p | grep -q 'libgomp.so.1' || need+=(libgomp1)
# Headless OpenGL for the pyrender backend: Mesa's EGL driver, its DRI (llvmpipe) and GLU.
ls /usr/lib/*/libEGL_mesa.so.0 >/dev/null 2>&1 || need+=(libegl-mesa0)
ls /usr/lib/*/dri/swrast_dri.so >/dev/null 2>&1 || need+=(libgl1-mesa-dri)
ldconfig -p | grep -q 'libGLU.so.1' || need+=(libglu1-mesa)
if [ ${#need[@]} -gt 0 ]; then
  echo "setup: installing system packages: ${need[*]}"
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need[@]}" >/dev/null
fi

PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  echo "setup: creating .venv"
  "$PY" -m venv .venv
fi
stamp=.venv/.synthcam-installed
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
  echo "setup: installing synthcam3d and its dependencies into .venv (first run takes a few minutes)"
  .venv/bin/python -m pip install -q --upgrade pip
  # torch first, pinned: this is the CPU build; an unpinned install could pull a multi-GB CUDA build.
  .venv/bin/python -m pip install -q "torch==${SYNTHCAM_TORCH:-2.13.0}"
  .venv/bin/python -m pip install -q -e '.[test]'
  touch "$stamp"
fi
