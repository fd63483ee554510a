#!/usr/bin/env bash
# Build what a GPU benchmark run on the lent machine needs, here, into two ignored folders:
#   .gpu/  the Python packages that machine lacks (pure-Python ones installed for any Python 3, isal as
#          its cp312 wheel's files, hdf5plugin cut to its zstd filter: the whole wheel is 46 MB) and
#          the planned rooms (benchmarks/gpu_render_fps.py prepare: Open3D plans them here);
#   .gl/   the EGL/GL loader packages the device README asks for, plus libglu1-mesa for pyrender's import.
# Then, on the device (carry .gpu and .gl):  bash benchmarks/gpu_run.sh
# Usage: bash benchmarks/gpu_prepare.sh [--rooms 16] [--frames-per-room 300]   (arguments go to `prepare`)
set -euo pipefail
cd "$(dirname "$0")/.."
PY="$PWD/.venv/bin/python"
version() { "$PY" -m pip show "$1" | awk '/^Version:/ {print $2}'; }

rm -rf .gpu && mkdir -p .gpu/site .gpu/wheels
"$PY" -m pip install -q --no-deps --no-compile --target .gpu/site \
    "trimesh==$(version trimesh)" "pyrender==$(version pyrender)" "PyOpenGL==$(version PyOpenGL)" \
    "pyglet==$(version pyglet)" "freetype-py==$(version freetype-py)"
"$PY" -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
    --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
    -d .gpu/wheels "isal==$(version isal)"
(cd .gpu/site && "$PY" -m zipfile -e ../wheels/isal-*.whl .)
rm -rf .gpu/wheels
plugin=$("$PY" -c 'import hdf5plugin, os; print(os.path.dirname(hdf5plugin.__file__))')
mkdir -p .gpu/site/hdf5plugin/plugins
cp "$plugin"/*.py .gpu/site/hdf5plugin/
cp "$plugin"/plugins/libh5zstd.so .gpu/site/hdf5plugin/plugins/

rm -rf .gl && mkdir -p .gl /tmp/amd64/partial
o='-oAPT::Architecture=amd64 -oAPT::Architectures=amd64 -oDir::State::Lists=/tmp/amd64'
apt-get $o update -qq
(cd .gl && apt-get $o download -qq libegl1 libglvnd0 libopengl0 libgl1 libglx0 libgles2 libglu1-mesa)

"$PY" benchmarks/gpu_render_fps.py prepare .gpu/plans.pkl "$@"
du -sh .gpu .gl
