# sentiment-nb: every entry point a user or CI needs. Each target does its own set-up.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
# Data source for `make demo`: hf (Hugging Face), kaggle, fasttext, or a local file/URI.
SOURCE ?= hf
LIMIT  ?=
EXTRAS ?= dev,airflow
PYTEST_ARGS ?=

.PHONY: help venv demo test check-sync nbtest pytest gates lab mlflow mlflow-stop airflow airflow-stop docs bench clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-14s %s\n", $$1, $$2}'

$(BIN)/.installed: pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@test -x $(BIN)/uv || $(BIN)/python -m pip install -q --disable-pip-version-check uv
	$(BIN)/uv pip install -q --compile-bytecode -p $(BIN)/python -e ".[$(EXTRAS)]"
	$(BIN)/python -m ipykernel install --sys-prefix --name python3 --display-name "Python 3 (sentiment-nb)" >/dev/null
	@touch $@

venv: $(BIN)/.installed ## create .venv with the package and every extra (uv)

demo: venv ## the whole pipeline on the embedded default (SOURCE=hf|kaggle|fasttext|PATH, LIMIT=N)
	$(BIN)/sentiment-nb pipeline --source "$(SOURCE)" $(if $(LIMIT),--limit $(LIMIT))

check-sync: venv ## notebooks and package in sync: export + clean leave no diff
	$(BIN)/nbdev-export
	$(BIN)/nbdev-clean
	@if ! git diff --quiet -- nbs sentiment_nb || [ -n "$$(git status --porcelain -- nbs sentiment_nb)" ]; then \
	  echo "notebooks and package are out of sync (run nbdev-export and nbdev-clean, then commit):"; \
	  git status --short -- nbs sentiment_nb; git diff --stat -- nbs sentiment_nb; exit 1; fi
	@echo "check-sync: notebooks, package and cleaned notebooks match the commit"

nbtest: venv ## run every notebook's tests (nbdev-test)
	$(BIN)/nbdev-test --n-workers 2

pytest: venv ## integration tests against real servers (tests/)
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/pytest -q $(PYTEST_ARGS)

gates: ## offline delivery gates: terraform fmt, checkov, hadolint, actionlint, Terraform policy tests
	bash scripts/offline_gates.sh

test: venv check-sync nbtest pytest gates ## everything CI runs

lab: venv ## JupyterLab on nbs/ with the project's environment as kernel
	$(BIN)/jupyter lab --notebook-dir nbs

mlflow: venv ## start the local MLflow server + S3 (moto) in the background
	$(BIN)/sentiment-nb stack up

mlflow-stop: ## stop it
	$(BIN)/sentiment-nb stack down

airflow: venv ## airflow standalone with the sentiment_pipeline DAG and the MLflow stack
	bash scripts/airflow_up.sh

airflow-stop: ## stop airflow and the stack (whole process groups)
	bash scripts/airflow_down.sh

docs: venv ## the docs site (nbdev-docs needs Quarto; without it, notebooks rendered to _docs/ as HTML)
	@if command -v quarto >/dev/null; then $(BIN)/nbdev-docs; else \
	  echo "Quarto not installed: rendering notebooks with nbconvert into _docs/"; \
	  $(BIN)/jupyter nbconvert --to html --output-dir _docs nbs/*.ipynb; fi

bench: venv ## all benchmarks (minutes each); each ends with a RESULT {json} line and exits 1 on a missed target
	@failed=""; for b in bench/*.py; do echo "== $$b"; $(BIN)/python $$b || failed="$$failed $$b"; done; \
	if [ -n "$$failed" ]; then echo "targets missed in:$$failed"; exit 1; fi

bench-%: venv ## one benchmark, e.g. make bench-serving (BENCH_ARGS="--rows 200000")
	$(BIN)/python bench/$*.py $(BENCH_ARGS)

clean: ## remove generated data, stores and caches (keeps .venv)
	rm -rf data mlruns mlflow.db _docs _proc .pytest_cache
