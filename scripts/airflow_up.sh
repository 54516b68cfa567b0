#!/usr/bin/env bash
# Start `airflow standalone` with the sentiment_pipeline DAG and the local MLflow stack, in the background.
#   AIRFLOW_HOME=.airflow (at the repository root), dags folder airflow/dags, low parallelism.
#   Airflow runs in its own session (setsid); its process-group id goes to $AIRFLOW_HOME/standalone.pgid so that
#   scripts/airflow_down.sh stops the whole group (standalone leaves orphans on a plain SIGTERM).
# Knobs: AIRFLOW_PORT (default 8080), AIRFLOW_PARALLELISM (default 4), SNB_DATA_ROOT (default: the stack's S3),
#        SNB_RUN_MODE (default local), SNB_STACK_MLFLOW_PORT / SNB_STACK_S3_PORT (default 5000 / 9000).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BIN="$ROOT/.venv/bin"
[[ -x "$BIN/airflow" ]] || { echo "error: $BIN/airflow not found: run 'make venv' (extras dev,airflow)" >&2; exit 2; }

export AIRFLOW_HOME="${AIRFLOW_HOME:-$ROOT/.airflow}"
PORT="${AIRFLOW_PORT:-8080}"
PGID_FILE="$AIRFLOW_HOME/standalone.pgid"
LOG="$AIRFLOW_HOME/standalone.log"
mkdir -p "$AIRFLOW_HOME"

if [[ -f "$PGID_FILE" ]] && kill -0 -- "-$(cat "$PGID_FILE")" 2>/dev/null; then
  echo "Airflow is already running (process group $(cat "$PGID_FILE")): http://127.0.0.1:$PORT  (make airflow-stop to stop it)"
  exit 0
fi

export SNB_HOME="${SNB_HOME:-$ROOT}"       # where the stack keeps its state (.stack/) and the embedded defaults live
# The MLflow tracking server (SQLite in .stack/) with artifacts in S3 (moto_server), shared with `make mlflow`.
"$BIN/sentiment-nb" stack up --mlflow-port "${SNB_STACK_MLFLOW_PORT:-5000}" --s3-port "${SNB_STACK_S3_PORT:-9000}"
eval "$("$BIN/sentiment-nb" stack env | sed 's/^export SNB_DATA_ROOT=/export STACK_DATA_ROOT=/')"
export SNB_DATA_ROOT="${SNB_DATA_ROOT:-$STACK_DATA_ROOT}"
# Papermill writes executed notebooks to s3:// with boto3: point boto3 at the same S3 endpoint.
export AWS_ENDPOINT_URL_S3="$SNB_S3_ENDPOINT_URL" MLFLOW_TRACKING_URI="$SNB_MLFLOW_TRACKING_URI"
export SNB_RUN_MODE="${SNB_RUN_MODE:-local}"
export SNB_TRAIN_NOTEBOOK="${SNB_TRAIN_NOTEBOOK:-$ROOT/nbs/03_train.ipynb}"   # the Papermill training notebook

export PATH="$BIN:$PATH"                    # standalone starts its components as `airflow ...` subprocesses
export AIRFLOW__CORE__DAGS_FOLDER="$ROOT/airflow/dags"
export AIRFLOW__CORE__LOAD_EXAMPLES=False
export AIRFLOW__CORE__PARALLELISM="${AIRFLOW_PARALLELISM:-4}"
export AIRFLOW__CORE__MAX_ACTIVE_TASKS_PER_DAG="${AIRFLOW__CORE__MAX_ACTIVE_TASKS_PER_DAG:-2}"
export AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL="${AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL:-30}"
export AIRFLOW__API__HOST=127.0.0.1 AIRFLOW__API__PORT="$PORT" AIRFLOW__API__WORKERS=1
export AIRFLOW__API__BASE_URL="http://127.0.0.1:$PORT"
export AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION=True

: > "$LOG"
setsid "$BIN/airflow" standalone >>"$LOG" 2>&1 < /dev/null &
PID=$!
echo "$PID" > "$PGID_FILE"                  # setsid in a non-interactive shell: the child leads its own group, pgid = pid
sleep 1
PGID="$(ps -o pgid= -p "$PID" 2>/dev/null | tr -d ' ' || true)"
[[ -n "$PGID" ]] && echo "$PGID" > "$PGID_FILE"

echo -n "waiting for Airflow on http://127.0.0.1:$PORT "
for _ in $(seq 1 180); do
  if curl -fsS "http://127.0.0.1:$PORT/api/v2/monitor/health" >/dev/null 2>&1; then break; fi
  if ! kill -0 "$PID" 2>/dev/null; then
    echo; echo "error: airflow standalone exited; last lines of $LOG:" >&2; tail -n 30 "$LOG" >&2
    rm -f "$PGID_FILE"; exit 1
  fi
  echo -n "."; sleep 1
done
echo
curl -fsS "http://127.0.0.1:$PORT/api/v2/monitor/health" >/dev/null 2>&1 \
  || { echo "error: Airflow not healthy after 180 s; see $LOG (make airflow-stop to clean up)" >&2; exit 1; }

PW_FILE="$AIRFLOW_HOME/simple_auth_manager_passwords.json.generated"
for _ in $(seq 1 30); do [[ -s "$PW_FILE" ]] && break; sleep 1; done
echo "Airflow UI:  http://127.0.0.1:$PORT   (DAG sentiment_pipeline, mode $SNB_RUN_MODE; it starts paused)"
if [[ -s "$PW_FILE" ]]; then
  "$BIN/python" - "$PW_FILE" <<'EOF'
import json, sys
for user, pw in json.load(open(sys.argv[1])).items(): print(f"login:       {user} / {pw}   (from {sys.argv[1]})")
EOF
else
  echo "login:       see 'Login with username' in $LOG"
fi
echo "MLflow UI:   $SNB_MLFLOW_TRACKING_URI    data root: $SNB_DATA_ROOT"
echo "logs:        $LOG    process group: $(cat "$PGID_FILE")    stop: make airflow-stop"
SAMPLE="$(cd "$ROOT/.." && pwd)/shared/data/amazon_polarity/sample.csv.gz"
echo "scheduled runs ingest SNB_SOURCE (now: ${SNB_SOURCE:-hf}); set it before 'make airflow' to change the default source."
echo "run all 10 weeks now (UI: Trigger with config), or:"
echo "  PATH=$BIN:\$PATH AIRFLOW_HOME=$AIRFLOW_HOME airflow dags unpause sentiment_pipeline"
echo "  PATH=$BIN:\$PATH AIRFLOW_HOME=$AIRFLOW_HOME airflow dags trigger sentiment_pipeline -c '{\"simulate_weeks\": true, \"source\": \"$SAMPLE\", \"limit\": 3000}'"
