"""Training: the Papermill notebook and the CLI against a real MLflow server with S3 (moto), the feature cache, errors."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import pytest

from sentiment_nb.cli import main
from sentiment_nb.config import DataPaths, get_settings, project_home
from sentiment_nb.stack import free_port

ROOT = project_home()


def _bucket_keys(moto_server) -> list[str]:
    c = moto_server.client()
    keys, token = [], None
    while True:
        kw = {"Bucket": "sentiment-nb", **({"ContinuationToken": token} if token else {})}
        r = c.list_objects_v2(**kw)
        keys += [o["Key"] for o in r.get("Contents", [])]
        if not r.get("IsTruncated"): return keys
        token = r["NextContinuationToken"]


def test_cli_papermill_run_logs_model_notebook_and_metrics(model_env, moto_server, small_data_root, tmp_path):
    out = tmp_path / "executed.ipynb"
    # a copy of the shared data root without its feature cache (other tests fill it), so this run featurises
    data_root = tmp_path / "data"
    shutil.copytree(small_data_root, data_root, ignore=shutil.ignore_patterns("features"))
    env = {**os.environ, "SNB_DATA_ROOT": str(data_root)}
    p = subprocess.run([str(Path(sys.executable).parent / "sentiment-nb"), "train", "--batches", "0..2", "--output", str(out), "--json"],
                       cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert p.returncode == 0, p.stderr[-3000:]
    r = json.loads(p.stdout.strip().splitlines()[-1])
    assert r["batches"] == "0..2" and r["model_name"] == model_env and r["notebook"] == str(out)
    assert r["n_train"] + r["n_val"] == 900 and r["featurised"] == [0, 1, 2]
    assert out.exists() and "papermill" in json.loads(out.read_text())["metadata"]

    client = mlflow.MlflowClient(model_env and os.environ["MLFLOW_TRACKING_URI"])
    run = client.get_run(r["run_id"])
    for k in ("val_accuracy", "val_precision", "val_recall", "val_f1_macro", "val_roc_auc"):
        assert 0.5 < run.data.metrics[k] <= 1.0, (k, run.data.metrics)
    assert run.data.tags["batches"] == "0..2" and run.data.tags["git_commit"]
    assert len(run.data.tags["data_manifest_sha256"]) == 64
    assert run.data.params["model"] == "sgd"
    assert sorted(d.dataset.name for d in run.inputs.dataset_inputs) == ["batch_0", "batch_1", "batch_2"]
    arts = {a.path for a in client.list_artifacts(r["run_id"])} | {a.path for a in client.list_artifacts(r["run_id"], "notebook")}
    assert {"confusion_matrix.png", "lineage.json", "notebook/03_train.ipynb"} <= arts, arts
    mv = client.get_model_version(model_env, r["version"])
    assert mv.tags["batches"] == "0..2" and mv.run_id == r["run_id"]

    keys = _bucket_keys(moto_server)          # the artifacts really are in S3, behind the server's proxy
    assert any(k.endswith(f"{r['run_id']}/artifacts/notebook/03_train.ipynb") for k in keys)
    assert any(k.endswith(f"{r['run_id']}/artifacts/confusion_matrix.png") for k in keys)
    assert any(k.endswith("/artifacts/MLmodel") and "/models/" in k for k in keys)
    # the run never touches the alias: that is evaluate's job
    with pytest.raises(mlflow.exceptions.MlflowException):
        client.get_model_version_by_alias(model_env, "champion")


def test_bare_papermill_trains_and_model_predicts_per_row_in_a_new_process(model_env, small_data_root, tmp_path):
    out = tmp_path / "out.ipynb"
    p = subprocess.run([str(Path(sys.executable).parent / "papermill"), "nbs/03_train.ipynb", str(out), "-p", "batches", "0..1",
                        "-p", "data_root", small_data_root, "-k", "python3", "--no-progress-bar"],
                       cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert p.returncode == 0, p.stderr[-3000:]
    nb = json.loads(out.read_text())
    assert any("registered" in "".join(o.get("text", "")) or "run " in "".join(o.get("text", ""))
               for c in nb["cells"] for o in c.get("outputs", []))
    from sentiment_nb.evaluate import evaluate
    ev = evaluate(data_root=small_data_root)
    assert ev["promoted"] and ev["champion"] is None          # the first model becomes champion
    code = """
import json, sys, pandas as pd, mlflow
m = mlflow.pyfunc.load_model(f"models:/{sys.argv[1]}@champion")
df = pd.DataFrame({"title": ["Great CD", None, "Awful"], "text": ["I love it, wonderful songs", "Broke after a week, waste of money", "not good at all"]})
p1 = m.predict(df); p2 = m.predict(df[["text"]])
from sentiment_nb.train import oov_share
print(json.dumps({"pred": [int(x) for x in p1], "pred_text_only": [int(x) for x in p2], "oov": oov_share(m, df).tolist()}))
"""
    q = subprocess.run([sys.executable, "-c", code, model_env], capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert q.returncode == 0, q.stderr[-3000:]
    res = json.loads(q.stdout.strip().splitlines()[-1])
    assert len(res["pred"]) == 3 and len(res["pred_text_only"]) == 3 and len(res["oov"]) == 3
    assert res["pred"][0] == 1 and res["pred"][1] == 0
    assert all(0 <= x <= 1 for x in res["oov"])


def test_week_k_only_featurises_batch_k_and_equals_training_from_scratch(small_data_root, tmp_path):
    from sentiment_nb.train import fit_batches
    root = tmp_path / "data"
    shutil.copytree(Path(small_data_root) / "batches", root / "batches", ignore=shutil.ignore_patterns("features"))
    s = get_settings(data_root=str(root))
    assert fit_batches("0..1", settings=s)["featurised"] == [0, 1]
    cached = fit_batches("0..2", settings=s)
    assert cached["featurised"] == [2]                       # week 2 featurises batch 2 only
    scratch = fit_batches("0..2", settings=s, use_cache=False)
    a, b = cached["pipeline"], scratch["pipeline"]
    np.testing.assert_array_equal(a.named_steps["weights"].idf_, b.named_steps["weights"].idf_)
    np.testing.assert_array_equal(a.named_steps["weights"].nb_ratio_, b.named_steps["weights"].nb_ratio_)
    np.testing.assert_array_equal(a.named_steps["clf"].coef_, b.named_steps["clf"].coef_)
    np.testing.assert_array_equal(cached["y_val_score"], scratch["y_val_score"])
    test = pd.read_parquet(Path(small_data_root) / "processed" / "test.parquet").head(500)
    np.testing.assert_array_equal(a.predict_proba(test), b.predict_proba(test))

    # a changed batch makes its cache stale: it is featurised again, never reused
    f = DataPaths(str(root)).batch(1)
    pd.read_parquet(f).iloc[:-5].to_parquet(f)
    again = fit_batches("0..2", settings=s)
    assert again["featurised"] == [1] and again["n_train"] + again["n_val"] == 895
    # and a changed featuriser config too
    assert fit_batches("0..1", {"ngram_max": 1}, settings=s)["featurised"] == [0, 1]


def test_bad_batches_and_missing_files_give_clear_errors(small_data_root, capsys, monkeypatch, tmp_path):
    monkeypatch.setenv("SNB_MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path}/never.db")
    for bad in ["3..1", "a", "0...2", "1,1"]:
        assert main(["train", "--batches", bad, "--data-root", small_data_root, "--no-notebook"]) == 2
        assert "bad batches value" in capsys.readouterr().err
    assert main(["train", "--batches", "8..12", "--data-root", small_data_root]) == 2
    err = capsys.readouterr().err
    assert "missing batch file(s)" in err and "batch_10.parquet" in err and "batch_9" not in err
    assert main(["train", "--batches", "0", "--data-root", str(tmp_path / "nowhere"), "--no-notebook"]) == 2
    assert "batch_0.parquet" in capsys.readouterr().err
    with pytest.raises(SystemExit) as e:                   # argparse: usage and the choices on stderr
        main(["train", "--batches", "0", "--model", "forest", "--data-root", small_data_root])
    assert e.value.code == 2 and "invalid choice: 'forest'" in capsys.readouterr().err
    assert not (tmp_path / "never.db").exists()            # nothing reached MLflow


def test_mlflow_server_down_fails_fast_with_a_clear_error(small_data_root, monkeypatch, capsys):
    port = free_port()
    monkeypatch.setenv("SNB_MLFLOW_TRACKING_URI", f"http://127.0.0.1:{port}")
    monkeypatch.setenv("SNB_MLFLOW_TIMEOUT_S", "3")
    t = time.monotonic()
    assert main(["train", "--batches", "0", "--data-root", small_data_root]) == 2
    assert time.monotonic() - t < 30
    assert f"MLflow server at http://127.0.0.1:{port} is not reachable" in capsys.readouterr().err


def test_small_input_tokeniser_agrees_with_the_batch_tokeniser_on_real_reviews(sample_path):
    "Python's `re` path (a few texts) and Arrow's RE2 path (a batch) must give the same tokens, or serving skews."
    from sentiment_nb.train import SMALL_INPUT, split_tokens
    texts = pd.read_csv(sample_path, nrows=2000)["content"].str.lower().tolist()
    bulk = split_tokens(texts + [""] * SMALL_INPUT).to_pylist()[:len(texts)]
    assert len(bulk) == 2000 and sum(map(len, bulk)) > 100_000
    assert [split_tokens([t]).to_pylist()[0] for t in texts] == [[w for w in toks if w] for toks in bulk]
