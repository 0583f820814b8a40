#!/usr/bin/env bash
# One-step set-up on a fresh machine: a virtual environment in .venv with the CPU build of torch,
# the project and (with --dev) everything the tests need, Chromium for the browser tests included.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
# The CPU wheel: a bare "torch" requirement would pull a multi-gigabyte CUDA build.
TORCH_SPEC=${TORCH_SPEC:-torch==2.13.0}

if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
PIP=(.venv/bin/python -m pip install --quiet --disable-pip-version-check)
"${PIP[@]}" "$TORCH_SPEC"
if [ "${1:-}" = "--dev" ]; then
  "${PIP[@]}" -e ".[dev,milvus]"  # milvus: the Milvus backend's client and a real server for its tests
  if ! command -v chromium >/dev/null 2>&1; then
    if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
      echo "installing Debian's chromium for the browser tests" >&2
      apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
    else
      echo "note: chromium is not installed; the browser tests will be skipped" >&2
    fi
  fi
else
  "${PIP[@]}" -e .
fi
echo "set-up done: .venv is ready" >&2
