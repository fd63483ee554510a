#!/usr/bin/env bash
# Install this checkout WITHOUT extras into a fresh virtual environment under /tmp and smoke-test it the way a
# user would: generate a tiny dataset with the raycast renderer, inspect it, and check that asking for a
# renderer whose extra is missing is one error line naming that extra (exit 2).
#
#   bash scripts/check_install.sh                 # newest releases pyproject.toml allows
#   bash scripts/check_install.sh --lower-bounds  # the oldest ones (scripts/lower-bounds.txt as constraints)
#   bash scripts/check_install.sh --rev HEAD      # a commit's files instead of the working tree's
#
# SYNTHCAM_CHECK_TESTS="tests/test_bytes_pinned.py ..." also runs those tests in that environment (pytest is
# installed into it for that). SYNTHCAM_KEEP=1 keeps the environment. Needs network access to the package index.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)

constraints=()
label="newest allowed"
rev=""
while [ $# -gt 0 ]; do
  case "$1" in
    --lower-bounds) constraints=(-c "$repo/scripts/lower-bounds.txt"); label="lower bounds" ;;
    --rev) rev=${2:?--rev needs a commit}; shift ;;
    *) echo "usage: $0 [--lower-bounds] [--rev COMMIT]" >&2; exit 2 ;;
  esac
  shift
done

work=$(mktemp -d /tmp/synthcam-check.XXXXXX)
cleanup() { [ "${SYNTHCAM_KEEP:-0}" = 1 ] && echo "check: kept $work" || rm -rf "$work"; }
trap cleanup EXIT
src=$repo
if [ -n "$rev" ]; then
  src=$work/src
  mkdir "$src"
  git -C "$repo" archive "$rev" | tar -x -C "$src"
  label="$label, $(git -C "$repo" rev-parse --short "$rev")"
fi
PY=${PYTHON:-python3}
fail=0
t0=$SECONDS
step() { echo "check: $*"; }
bad() { echo "check: FAIL: $*"; fail=1; }

step "fresh environment in $work ($label)"
"$PY" -m venv "$work/venv"
pip=("$work/venv/bin/python" -m pip install -q)
# torch first, pinned: the CPU build; an unpinned install could pull a multi-GB CUDA build.
"${pip[@]}" "torch==${SYNTHCAM_TORCH:-2.13.0}"
t1=$SECONDS
"${pip[@]}" "${constraints[@]}" "$src"
t2=$SECONDS
step "installed in $((t2 - t0)) s (torch $((t1 - t0)) s, the rest $((t2 - t1)) s)"
"$work/venv/bin/python" -m pip check || bad "pip check"
"$work/venv/bin/python" -m pip list 2>/dev/null \
  | grep -iE '^(numpy|open3d|trimesh|h5py|hdf5plugin|opencv-python-headless|click|tqdm|matplotlib|pillow|pyyaml|scipy|torch|isal|regex|pyrender|pyopengl|ray|tensorboard) ' \
  | sed 's/^/check:   /'

# Run from an empty folder so that the installed package is imported, not the checkout.
cd "$work"
sc="$work/venv/bin/synthcam"
t3=$SECONDS
if "$sc" generate --renderer raycast --rooms 1 --frames-per-room 2 --resolution 64x48 --seed 0 --out "$work/x" \
    > "$work/generate.log" 2>&1; then
  step "generate (raycast) ok in $((SECONDS - t3)) s"
else
  bad "generate (raycast):"; tail -20 "$work/generate.log"
fi
t4=$SECONDS
if "$sc" inspect "$work/x" > "$work/inspect.log" 2>&1; then
  step "inspect ok in $((SECONDS - t4)) s"; tail -5 "$work/inspect.log" | sed 's/^/check:   /'
else
  bad "inspect:"; tail -20 "$work/inspect.log"
fi

# A renderer whose extra is not installed: one line naming the extra, exit 2.
for pair in pyrender:pyrender gl:gl; do
  renderer=${pair%%:*}; extra=${pair##*:}
  set +e
  "$sc" generate --renderer "$renderer" --rooms 1 --frames-per-room 1 --resolution 64x48 --out "$work/y-$renderer" \
    > "$work/$renderer.log" 2>&1
  rc=$?
  set -e
  lines=$(grep -c . "$work/$renderer.log" || true)
  if [ "$rc" = 2 ] && [ "$lines" = 1 ] && grep -qF "[$extra]" "$work/$renderer.log"; then
    step "--renderer $renderer without [$extra]: exit 2, one line: $(cat "$work/$renderer.log")"
  else
    bad "--renderer $renderer without [$extra]: exit $rc, $lines line(s), want exit 2 and one line naming [$extra]:"
    tail -5 "$work/$renderer.log"
  fi
done

if [ -n "${SYNTHCAM_CHECK_TESTS:-}" ]; then
  "${pip[@]}" "${constraints[@]}" "pytest>=8" "pytest-xdist>=3.5" "hypothesis>=6.100"
  cd "$src"
  # shellcheck disable=SC2086
  SYNTHCAM_REAL_DATA=${SYNTHCAM_REAL_DATA:-$repo/../shared/data/real} PYTHONPATH="$src" \
    "$work/venv/bin/python" -m pytest -n 2 -p no:cacheprovider $SYNTHCAM_CHECK_TESTS || bad "tests: $SYNTHCAM_CHECK_TESTS"
fi

step "total $((SECONDS - t0)) s"
if [ "$fail" = 0 ]; then step "all ok ($label)"; else step "FAILED ($label)"; exit 1; fi
