#!/usr/bin/env bash
# Entrypoint of the API image (docker/api.Dockerfile); also runs outside a container.
# Starts the prediction service with `sentiment-nb serve` (uvicorn) in place of this shell (exec), so the
# container's stop signal reaches the server directly. Any other command runs as given.
set -euo pipefail

usage() {
  cat <<'USAGE'
usage: api-entrypoint.sh [SERVE_OPTIONS...]     (runs: sentiment-nb serve SERVE_OPTIONS...)
       api-entrypoint.sh COMMAND [ARGS...]      (runs COMMAND instead)

environment:
  SNB_HOST                 address to listen on (default 0.0.0.0: every interface of the container)
  SNB_PORT                 port (default 8000)
  SNB_MLFLOW_TRACKING_URI  MLflow server holding the registered model
  SNB_MODEL_NAME           registered model (served at its @champion alias)
  SNB_PREDICTION_LOG_URI   where predictions are logged (local folder or s3://...)
  (every other SNB_* setting of sentiment_nb.config.Settings applies)
USAGE
}

die() {
  echo "api-entrypoint: error: $*" >&2
  exit 2
}

case "${1:-}" in
  -h | --help)
    usage
    if command -v sentiment-nb >/dev/null 2>&1; then
      echo
      echo "options of sentiment-nb serve:"
      sentiment-nb serve --help || true
    fi
    exit 0
    ;;
esac

if [[ $# -gt 0 && "$1" != -* ]]; then
  exec "$@"
fi

export SNB_HOST="${SNB_HOST:-0.0.0.0}"
export SNB_PORT="${SNB_PORT:-8000}"
if ! [[ "$SNB_PORT" =~ ^[0-9]{1,5}$ ]] || ((10#$SNB_PORT < 1 || 10#$SNB_PORT > 65535)); then
  die "SNB_PORT must be a port number (1-65535), got '$SNB_PORT'"
fi
command -v sentiment-nb >/dev/null 2>&1 || die "sentiment-nb is not installed in this environment"

exec sentiment-nb serve "$@"
