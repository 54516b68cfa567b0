#!/usr/bin/env bash
# Regenerates the hash-pinned requirement locks the images install from (pip --require-hashes), for
# CPython 3.11 on x86_64 Linux (the images' python:3.11-slim-bookworm base). Run after changing the
# dependencies in pyproject.toml or docker/requirements/mlflow.in, and commit the results:
#   bash docker/lock-requirements.sh
# infra/tests/test_docker.py checks (offline) that every dependency of pyproject.toml is in the locks.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
command -v uv >/dev/null 2>&1 || { echo "uv is required (pip install uv)" >&2; exit 2; }

compile() { # compile OUTPUT INPUT [EXTRA_ARGS...]
  local out="$1" in="$2"
  shift 2
  uv pip compile --quiet --generate-hashes --python-version 3.11 --python-platform x86_64-manylinux_2_28 \
    --no-emit-package sentiment-nb --custom-compile-command "bash docker/lock-requirements.sh" \
    "$in" "$@" -o "$out"
}

compile docker/requirements/train.txt pyproject.toml --extra monitoring
compile docker/requirements/api.txt pyproject.toml --extra serve
compile docker/requirements/mlflow.txt docker/requirements/mlflow.in
compile docker/requirements/airflow.txt pyproject.toml --extra airflow --extra monitoring
echo "locks written to docker/requirements/"
