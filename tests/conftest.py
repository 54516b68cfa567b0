"""Shared fixtures: real local servers (moto_server for S3, mlflow server, PostgreSQL), started and stopped by PID."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from sentiment_nb.config import project_home
from sentiment_nb.stack import MlflowServer, MotoServer, PostgresServer

ROOT = project_home()
SHARED_DATA = ROOT.parent / "shared" / "data" / "amazon_polarity"
SAMPLE = SHARED_DATA / "sample.csv.gz"
FORMATS = SHARED_DATA / "formats"


@pytest.fixture(scope="session")
def sample_path() -> Path:
    if not SAMPLE.exists():
        pytest.fail(f"the real data sample is missing: {SAMPLE} (../shared must sit beside the checkout)")
    return SAMPLE


@pytest.fixture(scope="session")
def moto_server():
    """One moto_server (S3 over HTTP) for the session, with bucket `sentiment-nb`."""
    with MotoServer(buckets=["sentiment-nb"]) as s3:
        yield s3


@pytest.fixture
def moto_s3(moto_server, monkeypatch):
    """The session's moto_server, with the client environment (endpoint, dummy credentials) set for this test."""
    for k, v in moto_server.env.items():
        monkeypatch.setenv(k, v)
    from sentiment_nb import config
    config._s3fs.cache_clear()
    yield moto_server
    config._s3fs.cache_clear()


@pytest.fixture(scope="session")
def mlflow_server(moto_server):
    """A real `mlflow server` (SQLite backend) whose artifacts are proxied to S3 on moto_server."""
    with MlflowServer(s3=moto_server, bucket="sentiment-nb") as srv:
        yield srv


@pytest.fixture
def mlflow_env(mlflow_server, monkeypatch, tmp_path):
    """Point sentiment-nb (and the MLflow client) at the session's MLflow server for this test."""
    monkeypatch.setenv("SNB_MLFLOW_TRACKING_URI", mlflow_server.tracking_uri)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", mlflow_server.tracking_uri)
    yield mlflow_server


@pytest.fixture(scope="session")
def postgres_server():
    with PostgresServer() as pg:
        yield pg


# --- training and evaluation (issue 3) -------------------------------------------------------------------------


@pytest.fixture(scope="session")
def small_data_root(sample_path, tmp_path_factory) -> str:
    """A data root prepared from the real sample with `limit=3000`: ten batches of 300 reviews, 3,000 test reviews."""
    from sentiment_nb.data import prepare_data
    root = tmp_path_factory.mktemp("small-data") / "data"
    prepare_data(str(sample_path), data_root=str(root), limit=3000)
    return str(root)


@pytest.fixture
def model_env(mlflow_env, monkeypatch, request) -> str:
    """The session's MLflow server, with a registered model name and experiment of this test's own."""
    import re
    import uuid
    name = re.sub(r"[^A-Za-z0-9-]+", "-", request.node.name)[:40] + "-" + uuid.uuid4().hex[:6]
    monkeypatch.setenv("SNB_MODEL_NAME", name)
    monkeypatch.setenv("SNB_EXPERIMENT_NAME", name)
    return name
