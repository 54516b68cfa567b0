"""The Airflow DAG `sentiment_pipeline`: structure, ecs-mode operators, and a full local simulation with dag.test().

Airflow runs against a fresh AIRFLOW_HOME (its own SQLite metadata DB, `airflow db migrate`), the DAG against the
real MLflow server fixture (artifacts in S3 on moto_server) and the real data sample. Nothing calls AWS: the ecs
mode is checked by inspecting the operators the DAG builds.
"""
from __future__ import annotations

import atexit
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from sentiment_nb.config import project_home

ROOT = project_home()
DAGS = ROOT / "airflow" / "dags"
DAG_FILE = DAGS / "sentiment_pipeline.py"
DAG_ID = "sentiment_pipeline"
N_WEEKS = 10
GROUPS = ["data_engineering", "training", "retraining", "monitoring"]

# Airflow reads its configuration once, at its first import: set it before anything imports airflow.
_HOME = tempfile.mkdtemp(prefix="snb-airflow-home-")
atexit.register(shutil.rmtree, _HOME, True)
os.environ.update({
    "AIRFLOW_HOME": _HOME,
    "AIRFLOW__CORE__DAGS_FOLDER": str(DAGS),
    "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
    "AIRFLOW__CORE__UNIT_TEST_MODE": "False",
})


@pytest.fixture(scope="module")
def airflow_db():
    """A fresh Airflow metadata DB in AIRFLOW_HOME (`airflow db migrate`), removed afterwards."""
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ.get('PATH', '')}"}
    r = subprocess.run([str(Path(sys.executable).parent / "airflow"), "db", "migrate"], env=env, check=False,
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:]
    yield Path(_HOME)


def load_dag(monkeypatch, mode: str = "local", **env):
    """Parse the DAG file as the DAG processor does (DagBag), with SNB_RUN_MODE=`mode` and `env` set."""
    from airflow.dag_processing.dagbag import DagBag
    monkeypatch.setenv("SNB_RUN_MODE", mode)
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    bag = DagBag(dag_folder=str(DAG_FILE))
    assert bag.import_errors == {}, bag.import_errors
    assert DAG_ID in bag.dags
    return bag.dags[DAG_ID]


def week_tasks(k: int) -> list[str]:
    g = "training" if k == 0 else "retraining"
    return [f"{g}.gate_week_{k}", f"{g}.train_week_{k}", f"{g}.evaluate_week_{k}"]


def test_dag_structure(airflow_db, monkeypatch):
    dag = load_dag(monkeypatch, "local")
    ids = set(dag.task_ids)
    expected = {"data_engineering.check_raw", "data_engineering.ingest", "data_engineering.preprocess",
                "data_engineering.split", "plan_weeks", "monitoring.check_prediction_logs", "monitoring.drift_report"}
    expected |= {t for k in range(N_WEEKS) for t in week_tasks(k)}
    assert ids == expected
    assert [g for g in dag.task_group_dict if "." not in g] == GROUPS
    up = lambda t: set(dag.get_task(t).upstream_task_ids)
    # data engineering in order, then the plan, then week 0, then weeks 1..9 each after the previous one
    assert up("data_engineering.ingest") == {"data_engineering.check_raw"}
    assert up("data_engineering.preprocess") == {"data_engineering.ingest"}
    assert up("data_engineering.split") == {"data_engineering.preprocess"}
    assert up("plan_weeks") == {"data_engineering.split"}
    assert up("training.gate_week_0") == {"plan_weeks"}
    for k in range(N_WEEKS):
        gate, train, evaluate = week_tasks(k)
        assert up(train) == {gate} and up(evaluate) == {gate, train}
        if k:
            assert up(gate) == {"plan_weeks", week_tasks(k - 1)[2]}
    assert up("monitoring.check_prediction_logs") == {week_tasks(N_WEEKS - 1)[2]}
    assert up("monitoring.drift_report") == {"monitoring.check_prediction_logs"}
    # a skipped ingest or week does not stop what follows; a failure does
    assert dag.get_task("data_engineering.preprocess").trigger_rule == "none_failed"
    assert all(dag.get_task(week_tasks(k)[0]).trigger_rule == "none_failed" for k in range(N_WEEKS))
    assert all(dag.get_task(week_tasks(k)[2]).trigger_rule == "none_failed" for k in range(N_WEEKS))
    assert all(dag.get_task(week_tasks(k)[1])._pre_execute_hook is not None for k in range(N_WEEKS))
    # ML steps retry with exponential backoff
    for k in range(N_WEEKS):
        for t in week_tasks(k)[1:]:
            op = dag.get_task(t)
            assert op.retries >= 2 and op.retry_exponential_backoff >= 2 and op.max_retry_delay is not None
    # weekly, one run at a time, the params of the issue
    assert dag.max_active_runs == 1 and not dag.catchup
    assert {"source", "limit", "skip_ingest", "simulate_weeks"} <= set(dag.params)
    assert dag.params["simulate_weeks"] is False and dag.params["skip_ingest"] is True


ECS_ENV = {
    "SNB_ECS_CLUSTER": "snb-prod", "SNB_ECS_TASK_DEFINITION": "snb-prod-train", "SNB_ECS_CONTAINER_NAME": "train",
    "SNB_ECS_SUBNETS": '["subnet-0a", "subnet-0b"]', "SNB_ECS_SECURITY_GROUPS": '["sg-0train"]',
    "SNB_AWS_REGION": "eu-west-1", "SNB_DATA_ROOT": "s3://snb-data", "SNB_NOTEBOOKS_URI": "s3://snb-reports/notebooks",
    "SNB_MLFLOW_TRACKING_URI": "http://mlflow.internal:5000", "SNB_ECS_LOG_GROUP": "/snb/prod/training",
}


def test_ecs_mode_builds_ecs_tasks(airflow_db, monkeypatch):
    from airflow.providers.amazon.aws.operators.ecs import EcsRunTaskOperator
    dag = load_dag(monkeypatch, "ecs", **ECS_ENV)
    ecs = {t.task_id: t for t in dag.tasks if isinstance(t, EcsRunTaskOperator)}
    assert set(ecs) == ({"data_engineering.ingest", "data_engineering.preprocess", "data_engineering.split"}
                        | {t for k in range(N_WEEKS) for t in week_tasks(k)[1:]})
    # the gates, the plan and monitoring stay on the worker: they only read the registry and the logs
    assert not isinstance(dag.get_task("plan_weeks"), EcsRunTaskOperator)
    env = dag.get_template_env()
    run_id = "scheduled__2026-12-07T00:00:00+00:00"
    for op in ecs.values():
        assert (op.cluster, op.task_definition, op.launch_type) == ("snb-prod", "snb-prod-train", "FARGATE")
        assert op.network_configuration == {"awsvpcConfiguration": {
            "subnets": ["subnet-0a", "subnet-0b"], "securityGroups": ["sg-0train"], "assignPublicIp": "DISABLED"}}
        assert op.region_name == "eu-west-1" and op.reattach and op.wait_for_completion
        assert op.awslogs_group == "/snb/prod/training" and op.awslogs_stream_prefix == "train/train"
        (co,) = op.overrides["containerOverrides"]
        assert co["name"] == "train"
        environ = {e["name"]: e["value"] for e in co["environment"]}
        assert environ["SNB_DATA_ROOT"] == "s3://snb-data"
        assert environ["SNB_MLFLOW_TRACKING_URI"] == "http://mlflow.internal:5000"
        assert environ["SNB_RUN_MODE"] == "local"
    # training week k: the Papermill command of the training notebook, its output under the run id
    for k in range(N_WEEKS):
        cmd = ecs[week_tasks(k)[1]].overrides["containerOverrides"][0]["command"]
        rendered = [env.from_string(c).render(run_id=run_id) for c in cmd]
        out = f"s3://snb-reports/notebooks/scheduled__2026-12-07T00-00-00-00-00/week_{k:02d}_train.ipynb"
        assert rendered[:3] == ["papermill", "nbs/03_train.ipynb", out]
        assert rendered[rendered.index("batches") + 1] == f"0..{k}"
        ev = [env.from_string(c).render(run_id=run_id) for c in
              ecs[week_tasks(k)[2]].overrides["containerOverrides"][0]["command"]]
        assert ev == ["sentiment-nb", "pipeline", "--evaluate-week", str(k), "--notebook", out]
    ingest = ecs["data_engineering.ingest"].overrides["containerOverrides"][0]["command"]
    params = {"source": "s3://raw/amazon_polarity/", "limit": None}
    assert [env.from_string(c).render(params=params) for c in ingest][-2:] == ["s3://raw/amazon_polarity/", ""]
    assert ecs["data_engineering.split"].overrides["containerOverrides"][0]["command"] == ["sentiment-nb", "split"]


def test_ecs_mode_without_settings_fails_at_parse(airflow_db, monkeypatch):
    from airflow.dag_processing.dagbag import DagBag
    monkeypatch.setenv("SNB_RUN_MODE", "ecs")
    for k in ("SNB_ECS_CLUSTER", "SNB_ECS_SUBNETS"):
        monkeypatch.delenv(k, raising=False)
    bag = DagBag(dag_folder=str(DAG_FILE))
    (err,) = bag.import_errors.values()
    assert "SNB_ECS_CLUSTER" in err and "SNB_ECS_SUBNETS" in err


# ------------------------------------------------------------------------------------------------ full simulation
def _versions(settings):
    from mlflow import MlflowClient
    c = MlflowClient(settings.tracking_uri, settings.tracking_uri)
    return sorted(c.search_model_versions(f"name='{settings.model_name}'"), key=lambda v: int(v.version))


def _states(dr) -> dict[str, str]:
    return {ti.task_id: str(getattr(ti.state, "value", ti.state)) for ti in dr.get_task_instances()}


@pytest.mark.slow
def test_dag_test_simulates_all_weeks(airflow_db, mlflow_env, moto_s3, sample_path, tmp_path, monkeypatch):
    import mlflow
    from mlflow import MlflowClient

    from sentiment_nb import pipeline as P
    from sentiment_nb.config import get_settings, list_files

    monkeypatch.setenv("SNB_DATA_ROOT", str(tmp_path / "data"))
    monkeypatch.setenv("SNB_MODEL_NAME", "snb-airflow-test")
    monkeypatch.setenv("SNB_EXPERIMENT_NAME", "snb-airflow-test")
    dag = load_dag(monkeypatch, "local")
    s = get_settings()
    conf = {"source": str(sample_path), "limit": 3000,
            "simulate_weeks": True}

    t0 = time.monotonic()
    dr = dag.test(run_conf=conf)
    wall = time.monotonic() - t0
    print(f"\nFULL LOCAL SIMULATION: dag.test() of {DAG_ID}, 10 weeks, limit {conf['limit']} rows/split: {wall:.1f} s")
    states = _states(dr)
    assert str(getattr(dr.state, "value", dr.state)) == "success", states
    for k in range(N_WEEKS):
        assert [states[t] for t in week_tasks(k)] == ["success"] * 3, (k, states)
    assert states["monitoring.drift_report"] == "skipped"          # no prediction logs yet

    versions = _versions(s)
    from sentiment_nb.train import batches_label
    assert [v.tags.get("batches") for v in versions] == [batches_label(range(k + 1)) for k in range(N_WEEKS)]
    assert all(v.tags.get("evaluation") in ("promoted", "refused") for v in versions)
    assert sorted(P.registered_weeks(s)) == list(range(N_WEEKS))
    client = MlflowClient(s.tracking_uri, s.tracking_uri)
    champion = client.get_model_version_by_alias(s.model_name, s.champion_alias)
    assert champion.version in {v.version for v in versions}
    # the executed notebooks: kept under the run id, and logged to each version's run
    run_dir = P.safe_run_id(dr.run_id)
    kept = list_files(f"{s.notebooks_root}/{run_dir}", "*.ipynb")
    assert [Path(u).name for u in kept] == [f"week_{k:02d}_train.ipynb" for k in range(N_WEEKS)]
    for k, v in enumerate(versions):
        nb = json.loads(Path(kept[k]).read_text())
        params = next(c for c in nb["cells"] if "injected-parameters" in c.get("metadata", {}).get("tags", []))
        assert f'batches = "{batches_label(range(k + 1))}"' in "".join(params["source"])
        (art,) = [a.path for a in client.list_artifacts(v.run_id, "notebook") if a.path.endswith(".ipynb")]
        logged = json.loads(Path(mlflow.artifacts.download_artifacts(run_id=v.run_id, artifact_path=art,
                                                                     dst_path=str(tmp_path / f"art{k}"))).read_text())
        assert logged["cells"][-1]["source"] == nb["cells"][-1]["source"]
        assert any(f'batches = "{batches_label(range(k + 1))}"' in "".join(c["source"]) for c in logged["cells"])

    # a second run of the whole simulation registers nothing and moves no alias
    dr2 = dag.test(run_conf=conf)
    states2 = _states(dr2)
    assert str(getattr(dr2.state, "value", dr2.state)) == "success", states2
    assert states2["data_engineering.ingest"] == "skipped"        # skip_ingest: raw data exists
    assert all(states2[week_tasks(k)[1]] == "skipped" for k in range(N_WEEKS))
    assert [v.version for v in _versions(s)] == [v.version for v in versions]
    assert client.get_model_version_by_alias(s.model_name, s.champion_alias).version == champion.version
    # and so does a scheduled-style run (next week only): after week 9 there is nothing left
    assert P.plan_step(simulate=False, settings=s)["weeks"] == []
