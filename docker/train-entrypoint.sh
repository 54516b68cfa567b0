#!/usr/bin/env bash
# Entrypoint of the training image (docker/train.Dockerfile); also runs outside a container.
#
# Runs the Papermill training notebook nbs/03_train.ipynb with its parameters and writes the executed
# notebook to SNB_NOTEBOOKS_URI (a local folder or s3://bucket/prefix; default <data root>/notebooks, as in
# sentiment_nb.config.Settings). The exit status is Papermill's: non-zero when a cell fails, and the
# executed notebook, with the failing cell, is written all the same.
#
# Any other command runs as given, so the same image runs every step of the pipeline, e.g.
#   train-entrypoint.sh sentiment-nb ingest --source hf
set -euo pipefail

usage() {
  cat <<'USAGE'
usage: train-entrypoint.sh [--batches SPEC] [--model NAME] [--run-name NAME] [--output URI]
                           [--notebook PATH] [-p NAME VALUE]... [-- PAPERMILL_ARGS...]
       train-entrypoint.sh COMMAND [ARGS...]      (runs COMMAND, e.g. sentiment-nb ingest ...)

Runs Papermill on the training notebook and stores the executed notebook.

options (each also read from the environment):
  --batches SPEC      batches to train on: "0..3", "3", "0,2,5"            (SNB_TRAIN_BATCHES, required)
  --model NAME        model choice, passed as the notebook parameter named by
                      SNB_TRAIN_MODEL_PARAM (default "model")              (SNB_TRAIN_MODEL)
  --run-name NAME     name of the executed notebook: train-NAME.ipynb
                      (default: UTC time and batches)                       (SNB_TRAIN_RUN_NAME)
  --output URI        full path/URI of the executed notebook (overrides the folder and name)
  --notebook PATH     notebook to run (default: nbs/03_train.ipynb next to this script's folder)
                                                                             (SNB_TRAIN_NOTEBOOK)
  -p NAME VALUE       any other notebook parameter (repeatable)
  --                  everything after it goes to papermill unchanged
  -h, --help          this help

settings read by the notebook and by this script: SNB_DATA_ROOT (passed as data_root), SNB_EXPERIMENT_NAME
(passed as experiment_name), SNB_NOTEBOOKS_URI, SNB_MLFLOW_TRACKING_URI, SNB_S3_ENDPOINT_URL (exported as
AWS_ENDPOINT_URL_S3 for Papermill's own S3 client), SNB_TRAIN_KERNEL (default python3).
USAGE
}

die() {
  echo "train-entrypoint: error: $*" >&2
  exit 2
}

if [[ $# -gt 0 && "$1" != -* ]]; then
  exec "$@" # another step of the pipeline in the same image
fi

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
NOTEBOOK="${SNB_TRAIN_NOTEBOOK:-$(dirname "$HERE")/nbs/03_train.ipynb}"
BATCHES="${SNB_TRAIN_BATCHES:-}"
MODEL="${SNB_TRAIN_MODEL:-}"
MODEL_PARAM="${SNB_TRAIN_MODEL_PARAM:-model}"
RUN_NAME="${SNB_TRAIN_RUN_NAME:-}"
KERNEL="${SNB_TRAIN_KERNEL:-python3}"
OUTPUT=""
declare -a PARAMS=() PASSTHROUGH=()

need() { [[ $1 -ge $2 ]] || die "$3 needs ${4:-a value}"; }

while [[ $# -gt 0 ]]; do
  case "$1" in
    -h | --help)
      usage
      exit 0
      ;;
    --batches) need $# 2 "$1"; BATCHES="$2"; shift 2 ;;
    --batches=*) BATCHES="${1#*=}"; shift ;;
    --model) need $# 2 "$1"; MODEL="$2"; shift 2 ;;
    --model=*) MODEL="${1#*=}"; shift ;;
    --run-name) need $# 2 "$1"; RUN_NAME="$2"; shift 2 ;;
    --run-name=*) RUN_NAME="${1#*=}"; shift ;;
    --output) need $# 2 "$1"; OUTPUT="$2"; shift 2 ;;
    --output=*) OUTPUT="${1#*=}"; shift ;;
    --notebook) need $# 2 "$1"; NOTEBOOK="$2"; shift 2 ;;
    --notebook=*) NOTEBOOK="${1#*=}"; shift ;;
    -p | --parameter) need $# 3 "$1" "NAME VALUE"; PARAMS+=("$2" "$3"); shift 3 ;;
    --) shift; PASSTHROUGH=("$@"); break ;;
    *) usage >&2; die "unknown option: $1" ;;
  esac
done

[[ -n "$BATCHES" ]] || die "no batches given: pass --batches 0..k or set SNB_TRAIN_BATCHES"
[[ -f "$NOTEBOOK" ]] || die "training notebook not found: $NOTEBOOK (set SNB_TRAIN_NOTEBOOK or --notebook)"
command -v papermill >/dev/null 2>&1 || die "papermill is not installed in this environment"

# Papermill's S3 client is plain boto3: point it at the same endpoint as sentiment-nb (MinIO, moto).
if [[ -n "${SNB_S3_ENDPOINT_URL:-}" && -z "${AWS_ENDPOINT_URL_S3:-}" ]]; then
  export AWS_ENDPOINT_URL_S3="$SNB_S3_ENDPOINT_URL"
fi

if [[ -z "$RUN_NAME" ]]; then
  tag="${BATCHES//../-}"
  tag="${tag//,/_}"
  RUN_NAME="$(date -u +%Y%m%dT%H%M%SZ)-batches-${tag//[^0-9A-Za-z_-]/}"
fi

# Resolve the output and check the parameters against the notebook with the package's own code:
# Settings gives the notebooks folder; the notebook's `parameters` cell the parameter names.
declare -a PM_PARAMS=(batches "$BATCHES")
[[ -n "$MODEL" ]] && PM_PARAMS+=("$MODEL_PARAM" "$MODEL")

# Every parameter name is checked: our own and those of -p.
declare -a CHECK=("${PM_PARAMS[@]}")
[[ ${#PARAMS[@]} -gt 0 ]] && CHECK+=("${PARAMS[@]}")

resolved="$(
  SNB_EP_NOTEBOOK="$NOTEBOOK" SNB_EP_OUTPUT="$OUTPUT" SNB_EP_RUN_NAME="$RUN_NAME" python - "${CHECK[@]}" <<'PY'
import ast, json, os, sys
try:
    from sentiment_nb.config import get_settings, is_remote, uri_join
    settings = get_settings()
except Exception as e:  # bad SNB_* values, missing package
    print(f"cannot read settings: {e}", file=sys.stderr); sys.exit(2)
# The names assigned in the cell tagged `parameters`: what Papermill can set.
try:
    nb = json.load(open(os.environ["SNB_EP_NOTEBOOK"], encoding="utf-8"))
    cells = [c for c in nb["cells"] if "parameters" in c.get("metadata", {}).get("tags", [])]
    tree = ast.parse("".join(cells[0]["source"]) if cells else "")
except (OSError, ValueError, KeyError, SyntaxError) as e:
    print(f"cannot read the parameters of {os.environ['SNB_EP_NOTEBOOK']}: {e}", file=sys.stderr); sys.exit(2)
declared = {t.id for node in tree.body if isinstance(node, (ast.Assign, ast.AnnAssign))
            for t in (node.targets if isinstance(node, ast.Assign) else [node.target]) if isinstance(t, ast.Name)}
given = sys.argv[1:]
unknown = sorted({given[i] for i in range(0, len(given), 2)} - declared)
if unknown:
    print(f"{os.environ['SNB_EP_NOTEBOOK']} has no parameter(s) {', '.join(unknown)} "
          f"(its parameters: {', '.join(sorted(declared)) or 'none'})", file=sys.stderr)
    sys.exit(2)
out = os.environ["SNB_EP_OUTPUT"] or uri_join(settings.notebooks_root, f"train-{os.environ['SNB_EP_RUN_NAME']}.ipynb")
optional = []
if os.environ.get("SNB_DATA_ROOT") and "data_root" in declared and "data_root" not in given[::2]:
    optional += ["data_root", settings.data_root]
if os.environ.get("SNB_EXPERIMENT_NAME") and "experiment_name" in declared and "experiment_name" not in given[::2]:
    optional += ["experiment_name", settings.experiment_name]
print(out)
print("local" if not is_remote(out) else "remote")
for v in optional: print(v)
PY
)" || die "cannot prepare the run (see the message above)"

mapfile -t lines <<<"$resolved"
OUTPUT="${lines[0]}"
if [[ "${lines[1]}" == local ]]; then
  OUTPUT="${OUTPUT#file://}"
  mkdir -p "$(dirname "$OUTPUT")"
fi
PM_PARAMS+=("${lines[@]:2}")

# Cells run in a scratch folder (the image's root filesystem is read-only; /tmp is a volume).
WORKDIR="$(mktemp -d "${TMPDIR:-/tmp}/snb-train-XXXXXX")"

# Our parameters go in raw (-r): Papermill would turn "3" into the integer 3. -p NAME VALUE keeps
# Papermill's type inference for the parameters a caller adds.
declare -a ARGS=("$NOTEBOOK" "$OUTPUT" -k "$KERNEL" --cwd "$WORKDIR" --log-output --no-progress-bar)
for ((i = 0; i < ${#PM_PARAMS[@]}; i += 2)); do
  ARGS+=(-r "${PM_PARAMS[i]}" "${PM_PARAMS[i + 1]}")
done
for ((i = 0; i < ${#PARAMS[@]}; i += 2)); do
  ARGS+=(-p "${PARAMS[i]}" "${PARAMS[i + 1]}")
done
[[ ${#PASSTHROUGH[@]} -gt 0 ]] && ARGS+=("${PASSTHROUGH[@]}")

echo "train-entrypoint: papermill ${ARGS[*]}" >&2
exec papermill "${ARGS[@]}"
