#!/usr/bin/env bash
# One entry point for a fresh machine: sets up .venv (only when pyproject.toml or the lock file
# changed since the last setup), then runs what you ask for.
#   ./go run     the main job: `hessian run` (the default mnist_mini study); args pass through
#   ./go test    the whole test suite (what CI runs)
#   ./go lint    ruff check + format check
#   ./go setup   only set up
set -euo pipefail
cd "$(dirname "$0")"
VENV=.venv
PY=${PYTHON:-python3.11}
command -v "$PY" >/dev/null 2>&1 || PY=python3

setup() {
  local want
  want=$(cat pyproject.toml constraints.txt | sha256sum | cut -c1-16)
  if [ -x "$VENV/bin/python" ] && [ "$(cat "$VENV/.setup-stamp" 2>/dev/null)" = "$want" ]; then
    return 0
  fi
  echo "setting up $VENV (about 2 minutes on a fresh machine)..." >&2
  "$PY" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))' \
    || { echo "Python 3.11 is required (found $("$PY" --version))" >&2; exit 1; }
  [ -x "$VENV/bin/python" ] || "$PY" -m venv "$VENV"
  # torch==2.13.0 resolves to the local CPU wheel through pip's find-links (docs/stack.md)
  "$VENV/bin/pip" install --quiet --disable-pip-version-check -c constraints.txt -e '.[dev]' \
    2> >(grep -v "is ignored" >&2)
  "$VENV/bin/python" -c 'import torch, hessian, hessian_sketch.flows; assert torch.__version__.startswith("2.13.0")'
  echo "$want" > "$VENV/.setup-stamp"
}

export PYTHONWARNINGS=${PYTHONWARNINGS:-ignore::DeprecationWarning}
cmd=${1:-run}
shift || true
case "$cmd" in
  setup) setup ;;
  run) setup; exec "$VENV/bin/hessian" run "$@" ;;
  hessian) setup; exec "$VENV/bin/hessian" "$@" ;;
  test) setup; exec "$VENV/bin/python" -m pytest -q "$@" ;;
  lint) setup; "$VENV/bin/ruff" check . && exec "$VENV/bin/ruff" format --check . ;;
  *) echo "usage: ./go [setup|run|test|lint|hessian ARGS...]" >&2; exit 2 ;;
esac
