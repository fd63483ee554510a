#!/usr/bin/env bash
# One-time (idempotent) set-up of a fresh checkout: system libraries, a virtual environment at
# .venv, and the package installed in editable mode with every extra and the test tools (`.[all,test]`).
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
# Reinstall when the dependencies (pyproject.toml, the tested releases in scripts/constraints.txt) or this
# install recipe change.
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ] || [ scripts/constraints.txt -nt "$stamp" ] \
    || [ scripts/setup.sh -nt "$stamp" ]; then
  echo "setup: installing synthcam3d and its dependencies into .venv (first run takes a few minutes)"
  .venv/bin/python -m pip install -q --upgrade pip
  # torch first, pinned: this is the CPU build; an unpinned install could pull a multi-GB CUDA build.
  .venv/bin/python -m pip install -q "torch==${SYNTHCAM_TORCH:-2.13.0}"
  # Every extra and the test tools, at the exact releases the suite is tested with (pyproject.toml has ranges).
  .venv/bin/python -m pip install -q -c scripts/constraints.txt -e '.[all,test]'
  touch "$stamp"
fi
