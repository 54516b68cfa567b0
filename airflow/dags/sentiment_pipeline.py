"""sentiment_pipeline: data engineering, training on batch 0, weekly cumulative retraining, drift monitoring.

The DAG only wires tasks; every decision lives in `sentiment_nb.pipeline` (nbs/07_pipeline.ipynb).

Mode (`SNB_RUN_MODE`, else the Airflow Variable `snb_run_mode`, else `local`):
- local: each step runs on this worker; a training week is a Papermill execution of nbs/03_train.ipynb whose
  executed notebook is kept under <notebooks_root>/<run id>/ and logged to the MLflow run.
- ecs: each step is an ECS task of the training image (`EcsRunTaskOperator`) running the same command; cluster,
  task definition, subnets and security groups come from the SNB_ECS_* settings (Terraform output
  `airflow_ecs_settings`).

Each scheduled (weekly) run trains the next week not registered yet; `simulate_weeks=true` trains all remaining
weeks. A registered week is never trained again.
"""
from __future__ import annotations

import os
from datetime import timedelta

import pendulum
from airflow.sdk import Param, TaskGroup, Variable, dag, get_current_context, task
from airflow.sdk.exceptions import AirflowSkipException

from sentiment_nb import pipeline as P
from sentiment_nb.config import get_settings


def _variable(key: str) -> str | None:
    "An Airflow Variable, or None when it is unset or Variables cannot be read while parsing (dag.test, DagBag)."
    try:
        return Variable.get(key, default=None)
    except Exception:
        return None


MODE = P.resolve_run_mode(os.environ.get("SNB_RUN_MODE"), _variable("snb_run_mode"))
SETTINGS = get_settings(run_mode=MODE)
N_WEEKS = SETTINGS.n_batches
# ML steps: retried with exponential backoff (1 min, 2 min, 4 min, at most 15 min).
ML_RETRIES = dict(retries=3, retry_delay=timedelta(minutes=1), retry_exponential_backoff=2.0,
                  max_retry_delay=timedelta(minutes=15))
DATA_RETRIES = dict(retries=1, retry_delay=timedelta(minutes=1))

if MODE == "ecs":
    from airflow.providers.amazon.aws.operators.ecs import EcsRunTaskOperator

    def _ecs(task_id: str, command: list[str], **kw):
        return EcsRunTaskOperator(task_id=task_id, **P.ecs_task_kwargs(SETTINGS, command, step=task_id), **kw)


def _skip_if_registered(k: int):
    "pre_execute hook of a training task: skip it when week k is registered (a retry, or a re-run DAG run)."
    def hook(context):
        if P.week_registered(k):
            raise AirflowSkipException(f"week {k}: batches {P.batches_spec(k)} are registered already")
    return hook


def _run_key() -> str:
    return P.safe_run_id(get_current_context()["run_id"])


@dag(
    dag_id="sentiment_pipeline",
    description="ingest -> preprocess -> split -> train week 0 -> weekly cumulative retraining -> drift report",
    schedule="@weekly",
    start_date=pendulum.datetime(2026, 1, 5, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    tags=["sentiment-nb", MODE],
    user_defined_filters={"safe_id": P.safe_run_id},
    params={
        "source": Param(SETTINGS.source, type="string", description="hf, kaggle, fasttext, or a file/folder/URI"),
        "limit": Param(None, type=["null", "integer"], minimum=1, description="keep the first N valid rows per split"),
        "skip_ingest": Param(True, type="boolean", description="skip ingest when raw data already exists"),
        "simulate_weeks": Param(False, type="boolean", description="train every remaining week in this run"),
        "weeks": Param(None, type=["null", "string"], description="train only these weeks, e.g. 3..5 (if not registered)"),
    },
    doc_md=__doc__,
)
def sentiment_pipeline():
    # ------------------------------------------------------------------ data engineering
    with TaskGroup("data_engineering"):
        @task.short_circuit(ignore_downstream_trigger_rules=False)
        def check_raw(params=None):
            "Go on to ingest unless `skip_ingest` is set and raw data exists."
            return P.ingest_needed(bool(params["skip_ingest"]))

        if MODE == "ecs":
            ingest = _ecs("ingest", P.ingest_command("{{ params.source }}", "{{ params.limit or '' }}"), **DATA_RETRIES)
            preprocess = _ecs("preprocess", P.STEP_COMMANDS["preprocess"], trigger_rule="none_failed", **DATA_RETRIES)
            split = _ecs("split", P.STEP_COMMANDS["split"], **DATA_RETRIES)
        else:
            @task(**DATA_RETRIES)
            def ingest(params=None):
                return P.ingest_step(params["source"], params["limit"])

            @task(trigger_rule="none_failed", **DATA_RETRIES)
            def preprocess():
                return P.preprocess_step()

            @task(**DATA_RETRIES)
            def split():
                return P.split_step()

            ingest, preprocess, split = ingest(), preprocess(), split()
        check_raw() >> ingest >> preprocess >> split

    @task
    def plan_weeks(params=None):
        "The weeks this run trains (XCom): the next one, or all remaining with simulate_weeks."
        return P.plan_step(simulate=bool(params["simulate_weeks"]), weeks=params["weeks"])

    plan = plan_weeks()
    split >> plan

    # ------------------------------------------------------------------ training and weekly retraining
    def week(k: int):
        @task.short_circuit(task_id=f"gate_week_{k}", ignore_downstream_trigger_rules=False, trigger_rule="none_failed")
        def gate(plan: dict):
            "Go on when this run handles week k (see plan_weeks)."
            return k in plan["weeks"]

        skip_registered = _skip_if_registered(k)
        if MODE == "ecs":
            out = P.notebook_uri(SETTINGS, "{{ run_id | safe_id }}", k)
            train = _ecs(f"train_week_{k}", P.papermill_command(k, out, SETTINGS), pre_execute=skip_registered, **ML_RETRIES)
            evaluate = _ecs(f"evaluate_week_{k}", P.evaluate_command(k, out), trigger_rule="none_failed", **ML_RETRIES)
        else:
            @task(task_id=f"train_week_{k}", pre_execute=skip_registered, **ML_RETRIES)
            def train():
                return P.train_week(k, _run_key())

            @task(task_id=f"evaluate_week_{k}", trigger_rule="none_failed", **ML_RETRIES)
            def evaluate():
                return P.evaluate_week(k)

            train, evaluate = train(), evaluate()
        g = gate(plan)
        g >> [train, evaluate]       # a closed gate skips both
        train >> evaluate            # a registered week (train skipped) is still evaluated
        return g, evaluate

    with TaskGroup("training"):
        _, last = week(0)
    with TaskGroup("retraining"):
        for k in range(1, N_WEEKS):
            g, e = week(k)
            last >> g
            last = e

    # ------------------------------------------------------------------ monitoring
    with TaskGroup("monitoring"):
        @task.short_circuit(ignore_downstream_trigger_rules=False, trigger_rule="none_failed")
        def check_prediction_logs():
            "Skip the drift report when the service has not logged predictions yet."
            return P.prediction_logs_exist()

        @task
        def drift_report():
            "Evidently drift report; drift (exit 3) is an XCom `drift: true` and a warning, not a failure."
            return P.drift_step()

        last >> check_prediction_logs() >> drift_report()


sentiment_pipeline()
