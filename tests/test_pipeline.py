"""`sentiment-nb pipeline` (run_pipeline in one process) and the ecs-mode evaluation command, on real stores.

The demo path runs on the embedded default (an MLflow SQLite store and local files, under a temporary project
home); the ecs evaluation step runs its container command in-process against the real MLflow server fixture.
"""
from __future__ import annotations

import json
import re

import pytest

from sentiment_nb.cli import main


def _rows(out: str) -> list[list[str]]:
    return [l.split() for l in out.splitlines() if re.match(r"^\s+\d+\s+0(\.\.\d+)?\s", l)]


@pytest.mark.slow
def test_pipeline_cli_embedded(sample_path, tmp_path, monkeypatch, capsys):
    for k in ("SNB_MLFLOW_TRACKING_URI", "MLFLOW_TRACKING_URI", "SNB_DATA_ROOT"):
        monkeypatch.delenv(k, raising=False)
    monkeypatch.setenv("SNB_HOME", str(tmp_path))             # the embedded store: tmp/mlflow.db, tmp/mlruns, tmp/data
    monkeypatch.setenv("SNB_N_BATCHES", "4")
    assert main(["pipeline", "--source", str(sample_path), "--limit", "1200"]) == 0
    out = capsys.readouterr().out
    rows = _rows(out)
    assert [r[:3] for r in rows] == [["0", "0..0", "1"], ["1", "0..1", "2"], ["2", "0..2", "3"], ["3", "0..3", "4"]]
    assert all(0.5 < float(r[3]) <= 1 and 0.5 < float(r[4]) <= 1 for r in rows)   # val and test F1 of real models
    assert rows[0][5] == "yes"                                   # the first model becomes champion
    assert (tmp_path / "mlflow.db").exists() and (tmp_path / "data" / "batches" / "batch_3.parquet").exists()

    from mlflow import MlflowClient

    from sentiment_nb.config import get_settings
    s = get_settings()
    c = MlflowClient(s.tracking_uri)
    champion = str(c.get_model_version_by_alias(s.model_name, s.champion_alias).version)
    assert champion in {r[2] for r in rows if r[5] == "yes"}

    # again: nothing is trained or registered twice; the summary shows the weeks as done
    assert main(["pipeline", "--source", str(sample_path), "--limit", "1200", "--json"]) == 0
    again = json.loads(capsys.readouterr().out)
    assert [(r["week"], r["version"], r["trained"]) for r in again] == [(k, k + 1, False) for k in range(4)]
    assert len(c.search_model_versions(f"name='{s.model_name}'")) == 4
    assert str(c.get_model_version_by_alias(s.model_name, s.champion_alias).version) == champion


def test_pipeline_cli_bad_input(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("SNB_HOME", str(tmp_path))
    assert main(["pipeline", "--source", str(tmp_path / "missing.csv"), "--limit", "10"]) == 2
    assert "missing.csv" in capsys.readouterr().err
    assert main(["pipeline", "--source", "x", "--weeks", "0..12"]) == 2
    assert "outside 0..9" in capsys.readouterr().err


@pytest.mark.slow
def test_ecs_evaluation_step_attaches_notebook(mlflow_env, moto_s3, sample_path, tmp_path, monkeypatch, capsys):
    """What an ECS evaluation task runs: `sentiment-nb pipeline --evaluate-week K --notebook s3://...`, after a
    Papermill training task wrote the executed notebook to S3 and registered the version."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    from mlflow import MlflowClient

    from sentiment_nb import pipeline as P
    from sentiment_nb.config import exists, get_settings
    from sentiment_nb.data import prepare_data

    monkeypatch.setenv("SNB_DATA_ROOT", "s3://sentiment-nb/ecs-eval/data")
    monkeypatch.setenv("SNB_MODEL_NAME", "snb-ecs-eval")
    monkeypatch.setenv("SNB_EXPERIMENT_NAME", "snb-ecs-eval")
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", moto_s3.url)      # Papermill writes s3:// with boto3
    s = get_settings()
    prepare_data(str(sample_path), limit=600, settings=s)
    out = P.notebook_uri(s, P.safe_run_id("manual__2026-12-01T10:00:00+00:00"), 0)
    cmd = P.papermill_command(0, out, s, notebook=str(P.project_home() / P.TRAINING_NOTEBOOK))
    bindir = str(Path(sys.executable).parent)
    r = subprocess.run(cmd, env={**os.environ, "PATH": f"{bindir}:{os.environ['PATH']}"}, check=False,
                       capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-3000:]
    assert exists(out)
    assert P.registered_weeks(s).keys() == {0}
    assert main(["pipeline", "--evaluate-week", "0", "--notebook", out, "--json"]) == 0
    row = json.loads(capsys.readouterr().out)
    assert row["week"] == 0 and row["promoted"] and row["test_f1"] > 0.5
    c = MlflowClient(s.tracking_uri)
    mv = c.get_model_version(s.model_name, str(row["version"]))
    assert [a.path for a in c.list_artifacts(mv.run_id, "notebook")] == ["notebook/week_00_train.ipynb"]
    assert c.get_run(mv.run_id).data.tags["executed_notebook"] == out
    assert P.plan_step(simulate=False, settings=s)["weeks"] == [1]
