#!/usr/bin/env bash
# Stop what scripts/airflow_up.sh started: the whole `airflow standalone` process group, then the MLflow stack.
set -uo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BIN="$ROOT/.venv/bin"
export AIRFLOW_HOME="${AIRFLOW_HOME:-$ROOT/.airflow}"
PGID_FILE="$AIRFLOW_HOME/standalone.pgid"

if [[ -f "$PGID_FILE" ]]; then
  PGID="$(cat "$PGID_FILE")"
  if kill -0 -- "-$PGID" 2>/dev/null; then
    echo "stopping Airflow (process group $PGID)"
    kill -TERM -- "-$PGID" 2>/dev/null
    for _ in $(seq 1 30); do kill -0 -- "-$PGID" 2>/dev/null || break; sleep 1; done
    if kill -0 -- "-$PGID" 2>/dev/null; then
      echo "  still running after 30 s: SIGKILL"; kill -KILL -- "-$PGID" 2>/dev/null; sleep 1
    fi
  else
    echo "Airflow is not running (stale $PGID_FILE)"
  fi
  rm -f "$PGID_FILE"
else
  echo "Airflow is not running (no $PGID_FILE)"
fi

export SNB_HOME="${SNB_HOME:-$ROOT}"
if [[ -x "$BIN/sentiment-nb" ]]; then "$BIN/sentiment-nb" stack down; fi
