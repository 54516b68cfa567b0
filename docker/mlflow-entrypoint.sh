#!/usr/bin/env bash
# Entrypoint of the MLflow tracking-server image (docker/mlflow.Dockerfile); also runs outside a container.
#
# The backend store URI is MLFLOW_BACKEND_STORE_URI, or is built from DB_HOST, DB_PORT (5432), DB_NAME
# (mlflow), DB_USERNAME and DB_PASSWORD, which ECS injects from Secrets Manager. The URI (with the
# URL-quoted password) is handed to MLflow through the environment, never on a command line.
# Artifacts are proxied to MLFLOW_ARTIFACTS_DESTINATION (e.g. s3://bucket/artifacts).
#
#   mlflow-entrypoint.sh [MLFLOW_SERVER_OPTIONS...]   start the server (host 0.0.0.0, port 5000)
#   mlflow-entrypoint.sh db-upgrade                   migrate the database schema after an MLflow upgrade
set -euo pipefail

die() {
  echo "mlflow-entrypoint: error: $*" >&2
  exit 2
}

case "${1:-}" in
  -h | --help)
    sed -n '2,12p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
    exit 0
    ;;
esac

if [[ -z "${MLFLOW_BACKEND_STORE_URI:-}" ]]; then
  for v in DB_HOST DB_USERNAME DB_PASSWORD; do
    [[ -n "${!v:-}" ]] || die "set MLFLOW_BACKEND_STORE_URI, or $v (with DB_HOST, DB_USERNAME, DB_PASSWORD)"
  done
  MLFLOW_BACKEND_STORE_URI="$(
    python - <<'PY'
import os
from urllib.parse import quote

e = os.environ
user, password = quote(e["DB_USERNAME"], safe=""), quote(e["DB_PASSWORD"], safe="")
name = quote(e.get("DB_NAME") or "mlflow", safe="")
print("postgresql+psycopg://%s:%s@%s:%s/%s" % (user, password, e["DB_HOST"], e.get("DB_PORT") or "5432", name))
PY
  )"
  export MLFLOW_BACKEND_STORE_URI
  unset DB_PASSWORD
fi

if [[ "${1:-}" == db-upgrade ]]; then
  exec python -c 'import os; from mlflow.store.db.utils import _upgrade_db, create_sqlalchemy_engine_with_retry as c; _upgrade_db(c(os.environ["MLFLOW_BACKEND_STORE_URI"]))'
fi

export MLFLOW_HOST="${MLFLOW_HOST:-0.0.0.0}"
export MLFLOW_PORT="${MLFLOW_PORT:-5000}"
exec mlflow server "$@"
