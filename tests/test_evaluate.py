"""Evaluation and promotion against a real MLflow server (S3 artifacts via moto): improvement promotes, regression and
failures leave @champion where it was."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import mlflow
import pytest

from sentiment_nb.cli import main
from sentiment_nb.config import SentimentNBError, get_settings
from sentiment_nb.evaluate import evaluate, next_week, registered_batches
from sentiment_nb.train import train


def _alias(name: str) -> str:
    return mlflow.MlflowClient().get_model_version_by_alias(name, "champion").version


def test_promotes_on_improvement_refuses_on_regression_and_survives_failures(model_env, small_data_root, tmp_path, capsys):
    name = model_env
    # a deliberately weak model: one batch and a regularisation strength that flattens the weights
    weak = train("0", data_root=small_data_root, alpha=1.0, refit=False)
    first = evaluate(data_root=small_data_root)
    assert first["version"] == weak["version"] and first["promoted"] and first["champion"] is None
    assert _alias(name) == weak["version"]

    good = train("0..3", data_root=small_data_root)
    assert main(["evaluate", "--json", "--data-root", small_data_root]) == 0
    r = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert r["version"] == good["version"] and r["promoted"] is True and r["alias_moved"] is True
    assert r["champion"]["version"] == weak["version"] and r["f1_macro"] > r["champion"]["f1_macro"]
    assert {"accuracy", "f1_macro"} <= set(r) and {"accuracy", "f1_macro"} <= set(r["champion"])
    assert _alias(name) == good["version"]

    worse = train("1", data_root=small_data_root, alpha=1.0, refit=False)
    refused = evaluate(data_root=small_data_root)
    assert refused["version"] == worse["version"] and refused["promoted"] is False
    assert refused["f1_macro"] < refused["champion"]["f1_macro"] and refused["champion"]["version"] == good["version"]
    assert _alias(name) == good["version"]

    # the decision and both scores are recorded either way
    client = mlflow.MlflowClient()
    for res, decision in ((r, "promoted"), (refused, "refused")):
        run = client.get_run(res["run_id"])
        assert run.data.tags["evaluation"] == decision
        assert run.data.metrics["test_f1_macro"] == pytest.approx(res["f1_macro"])
        assert run.data.metrics["champion_test_f1_macro"] == pytest.approx(res["champion"]["f1_macro"])
        assert client.get_model_version(name, res["version"]).tags["evaluation"] == decision
        saved = json.loads(Path(mlflow.artifacts.download_artifacts(run_id=res["run_id"], artifact_path="evaluation.json",
                                                                    dst_path=str(tmp_path / res["version"]))).read_text())
        assert saved["promoted"] == (decision == "promoted") and saved["champion"]["version"] == res["champion"]["version"]

    # failures never move the alias: a failed training ...
    with pytest.raises(SentimentNBError, match="missing batch file"):
        train("0..12", data_root=small_data_root)
    # ... an evaluation without a test set ...
    broken = tmp_path / "no-test-set"
    shutil.copytree(Path(small_data_root) / "batches", broken / "batches", ignore=shutil.ignore_patterns("features"))
    with pytest.raises(SentimentNBError, match="test set .* does not exist"):
        evaluate(worse["version"], data_root=str(broken))
    # ... or of a version that does not exist
    with pytest.raises(SentimentNBError, match="has no version 999"):
        evaluate(999, data_root=small_data_root)
    assert _alias(name) == good["version"]

    # what a scheduler reads: which cumulative weeks are registered
    rb = registered_batches(get_settings())
    assert rb == {"0": weak["version"], "0..3": good["version"], "1": worse["version"]}
    assert next_week(get_settings()) == 1


def test_evaluate_without_models_is_a_clear_error(model_env, small_data_root, capsys):
    assert main(["evaluate", "--data-root", small_data_root]) == 2
    assert "no versions of model" in capsys.readouterr().err
