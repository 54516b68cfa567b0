"""The local stack itself: real servers come up, answer, and go away by PID."""
import os
import subprocess
import sys

import mlflow
import pytest

from sentiment_nb.stack import MlflowServer, PostgresServer, stop_process


def test_mlflow_server_proxies_artifacts_to_s3(mlflow_server, moto_server, tmp_path, monkeypatch):
    # The client has no S3 credentials or endpoint: artifacts go through the server's proxy.
    for k in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "MLFLOW_S3_ENDPOINT_URL", "SNB_S3_ENDPOINT_URL"):
        monkeypatch.delenv(k, raising=False)
    mlflow.set_tracking_uri(mlflow_server.tracking_uri)
    exp = mlflow.set_experiment("stack-test")
    f = tmp_path / "hello.txt"; f.write_text("hello")
    with mlflow.start_run(experiment_id=exp.experiment_id) as run:
        mlflow.log_artifact(str(f))
    keys = [o["Key"] for o in moto_server.client().list_objects_v2(Bucket="sentiment-nb").get("Contents", [])]
    assert any(k.endswith(f"{run.info.run_id}/artifacts/hello.txt") for k in keys), keys


def test_mlflow_on_postgres(postgres_server, tmp_path):
    with MlflowServer(backend_store_uri=postgres_server.uri) as srv:
        client = mlflow.MlflowClient(srv.tracking_uri)
        eid = client.create_experiment("pg-test")
        assert client.get_experiment(eid).name == "pg-test"
        pid = srv.proc.pid
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
