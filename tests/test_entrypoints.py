"""The container entrypoints (docker/*-entrypoint.sh) run here, outside a container, against real processes:
Papermill with a real kernel (writing to a local folder and to S3 on moto_server), `sentiment-nb serve`
under uvicorn, and the MLflow server on PostgreSQL with artifacts proxied to S3."""
from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import nbformat

from sentiment_nb.config import project_home
from sentiment_nb.stack import free_port, stop_process, wait_http

ROOT = project_home()
DOCKER = ROOT / "docker"
TRAIN_NB = ROOT / "nbs" / "03_train.ipynb"
BIN = Path(sys.executable).parent
# Packages of the dev/airflow extras: absent from the training image (docker/requirements/train.txt).
NOT_IN_TRAINING_IMAGE = ("nbdev", "jupyterlab", "jupytext", "pytest", "airflow", "moto", "schemathesis", "httpx", "ruff")


def env_for(tmp_path: Path, **extra: str) -> dict[str, str]:
    "A clean environment: the project's venv first on PATH, no SNB_/MLFLOW_ settings but the ones given."
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SNB_", "MLFLOW_", "AWS_"))}
    env.update(PATH=f"{BIN}:{env.get('PATH', '')}", TMPDIR=str(tmp_path), SNB_HOME=str(tmp_path),
               MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR="false", MPLBACKEND="Agg")
    env.update(extra)
    return env


def run(script: str, *args: str, env: dict, timeout: float = 60, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(["bash", str(DOCKER / script), *args], env=env, capture_output=True, text=True,
                          timeout=timeout, cwd=cwd or ROOT, stdin=subprocess.DEVNULL)


# ---------------------------------------------------------------- a small parametrised notebook
def write_probe_notebook(path: Path) -> Path:
    "A notebook with a `parameters` cell like the training notebook's, that checks what it was given."
    nb = nbformat.v4.new_notebook()
    params = nbformat.v4.new_code_cell('batches = "0..0"\ndata_root = ""\nexperiment_name = ""\nmodel = "logreg"\nfail = False')
    params.metadata["tags"] = ["parameters"]
    nb.cells = [
        params,
        nbformat.v4.new_code_cell(
            "import os, json\n"
            "from sentiment_nb.config import get_settings\n"
            "s = get_settings()\n"
            "assert not fail, 'asked to fail'\n"
            "print(json.dumps({'batches': batches, 'data_root': data_root, 'settings_root': s.data_root,\n"
            "                  'experiment_name': experiment_name, 'model': model, 'cwd': os.getcwd()}))"),
    ]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, path)
    return path


def probe_output(nb: nbformat.NotebookNode) -> dict:
    out = nb.cells[-1].outputs
    text = "".join(o.get("text", "") for o in out if o.get("output_type") == "stream")
    return json.loads(text.strip().splitlines()[-1])


# ---------------------------------------------------------------- train entrypoint
def test_train_entrypoint_help_and_argument_errors(tmp_path):
    env = env_for(tmp_path)
    r = run("train-entrypoint.sh", "--help", env=env)
    assert r.returncode == 0 and "--batches SPEC" in r.stdout and "SNB_NOTEBOOKS_URI" in r.stdout
    r = run("train-entrypoint.sh", "--bogus", env=env)
    assert r.returncode == 2 and "unknown option: --bogus" in r.stderr
    nb = write_probe_notebook(tmp_path / "probe.ipynb")
    r = run("train-entrypoint.sh", "--notebook", str(nb), env=env)
    assert r.returncode == 2 and "no batches given" in r.stderr
    r = run("train-entrypoint.sh", "--batches", "0..1", "--notebook", str(tmp_path / "missing.ipynb"), env=env)
    assert r.returncode == 2 and "training notebook not found" in r.stderr and "missing.ipynb" in r.stderr
    r = run("train-entrypoint.sh", "--batches", "0..1", "--notebook", str(nb), "-p", "learning_rate", "0.1", env=env)
    assert r.returncode == 2 and "no parameter(s) learning_rate" in r.stderr and "batches" in r.stderr
    r = run("train-entrypoint.sh", "--batches", "0..1", "--notebook", str(nb), env={**env, "SNB_N_BATCHES": "zero"})
    assert r.returncode == 2 and "cannot read settings" in r.stderr and "n_batches" in r.stderr
    assert not list(tmp_path.glob("notebooks/*")), "nothing written on argument errors"


def test_train_entrypoint_runs_other_commands(tmp_path):
    r = run("train-entrypoint.sh", "sentiment-nb", "--version", env=env_for(tmp_path))
    assert r.returncode == 0 and re.match(r"\d+\.\d+", r.stdout.strip())


def test_train_entrypoint_runs_papermill_into_the_notebooks_folder(tmp_path):
    nb = write_probe_notebook(tmp_path / "nbs" / "probe.ipynb")
    data_root = tmp_path / "data"
    env = env_for(tmp_path, SNB_DATA_ROOT=str(data_root), SNB_EXPERIMENT_NAME="exp-a", SNB_TRAIN_BATCHES="0..2")
    r = run("train-entrypoint.sh", "--notebook", str(nb), "--model", "linearsvc", "--run-name", "t1",
            env=env, timeout=180, cwd=tmp_path)
    assert r.returncode == 0, r.stderr[-3000:]
    out = data_root / "notebooks" / "train-t1.ipynb"   # Settings.notebooks_root defaults to <data root>/notebooks
    got = probe_output(nbformat.read(out, as_version=4))
    assert got["batches"] == "0..2" and got["model"] == "linearsvc" and got["experiment_name"] == "exp-a"
    assert got["data_root"] == got["settings_root"] == str(data_root)
    assert got["cwd"].startswith(str(tmp_path)) and "snb-train-" in got["cwd"], "cells run in a scratch folder"


def test_train_entrypoint_failure_exits_non_zero_and_keeps_the_notebook(tmp_path):
    nb = write_probe_notebook(tmp_path / "probe.ipynb")
    env = env_for(tmp_path, SNB_NOTEBOOKS_URI=str(tmp_path / "nbout"))
    r = run("train-entrypoint.sh", "--notebook", str(nb), "--batches", "0..1", "--run-name", "bad", "-p", "fail", "True",
            env=env, timeout=180)
    assert r.returncode != 0
    executed = nbformat.read(tmp_path / "nbout" / "train-bad.ipynb", as_version=4)
    errors = [o for c in executed.cells for o in c.get("outputs", []) if o.get("output_type") == "error"]
    assert errors and "asked to fail" in errors[0]["evalue"]


def test_train_entrypoint_writes_the_executed_notebook_to_s3(tmp_path, moto_server):
    """SNB_S3_ENDPOINT_URL also reaches Papermill's own boto3 client (exported as AWS_ENDPOINT_URL_S3);
    SNB_NOTEBOOKS_URI wins over the data root; --batches over SNB_TRAIN_BATCHES, and stays a string."""
    nb = write_probe_notebook(tmp_path / "probe.ipynb")
    env = env_for(tmp_path, **moto_server.env, SNB_DATA_ROOT="s3://sentiment-nb/entrypoint-test",
                  SNB_NOTEBOOKS_URI="s3://sentiment-nb/entrypoint-notebooks", SNB_TRAIN_BATCHES="0..9")
    r = run("train-entrypoint.sh", "--notebook", str(nb), "--batches", "3", env=env, timeout=180)
    assert r.returncode == 0, r.stderr[-3000:]
    s3 = moto_server.client()
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket="sentiment-nb", Prefix="entrypoint-notebooks/").get("Contents", [])]
    assert len(keys) == 1 and re.fullmatch(r"entrypoint-notebooks/train-\d{8}T\d{6}Z-batches-3\.ipynb", keys[0]), keys
    got = probe_output(nbformat.reads(s3.get_object(Bucket="sentiment-nb", Key=keys[0])["Body"].read().decode(), as_version=4))
    assert got["batches"] == "3", "Papermill must not turn the batch spec into a number"
    assert got["data_root"] == "s3://sentiment-nb/entrypoint-test"


def test_training_notebook_runs_in_the_training_image_environment():
    "Papermill executes every cell, hidden ones too: none may import a package the training image lacks."
    nb = nbformat.read(TRAIN_NB, as_version=4)
    tags = [c.metadata.get("tags", []) for c in nb.cells if c.cell_type == "code"]
    assert ["parameters"] in tags or any("parameters" in t for t in tags), "a cell tagged parameters"
    for cell in nb.cells:
        if cell.cell_type != "code": continue
        for mod in re.findall(r"^\s*(?:from|import)\s+([\w.]+)", cell.source, re.M):
            assert mod.split(".")[0] not in NOT_IN_TRAINING_IMAGE, f"03_train imports {mod}, absent from the training image"


def test_train_entrypoint_trains_batches_0_1_on_the_real_sample(tmp_path, sample_path):
    data_root = tmp_path / "data"
    env = env_for(tmp_path, SNB_DATA_ROOT=str(data_root), SNB_MLFLOW_TRACKING_URI=f"sqlite:///{tmp_path / 'mlflow.db'}",
                  SNB_NOTEBOOKS_URI=str(tmp_path / "notebooks"))
    for step in (["ingest", "--source", str(sample_path), "--limit", "2000"], ["preprocess"], ["split"]):
        r = subprocess.run([str(BIN / "sentiment-nb"), *step], env=env, capture_output=True, text=True, timeout=300)
        assert r.returncode == 0, r.stderr[-3000:]
    r = run("train-entrypoint.sh", "--batches", "0..1", "--run-name", "week1", env=env, timeout=600)
    assert r.returncode == 0, (r.stdout + r.stderr)[-4000:]
    executed = nbformat.read(tmp_path / "notebooks" / "train-week1.ipynb", as_version=4)
    assert not [o for c in executed.cells for o in c.get("outputs", []) if o.get("output_type") == "error"]
    from mlflow import MlflowClient
    # name the registry too: an earlier test in this process may have set a global registry URI
    client = MlflowClient(tracking_uri=env["SNB_MLFLOW_TRACKING_URI"], registry_uri=env["SNB_MLFLOW_TRACKING_URI"])
    versions = client.search_model_versions("name='sentiment-nb'")
    assert versions, "the run registered a model version"
    run_ = client.get_run(versions[0].run_id)
    assert "0..1" in json.dumps(run_.data.tags) + json.dumps(run_.data.params)


# ---------------------------------------------------------------- api entrypoint
def test_api_entrypoint_help_and_port_validation(tmp_path):
    env = env_for(tmp_path)
    r = run("api-entrypoint.sh", "--help", env=env)
    assert r.returncode == 0 and "sentiment-nb serve" in r.stdout and "--port" in r.stdout
    for bad in ("abc", "0", "70000", "80 80"):
        r = run("api-entrypoint.sh", env={**env, "SNB_PORT": bad})
        assert r.returncode == 2 and "SNB_PORT must be a port number" in r.stderr, bad
    r = run("api-entrypoint.sh", "sentiment-nb", "--version", env=env)
    assert r.returncode == 0 and r.stdout.strip()


def _get(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=5) as resp: return resp.status, resp.read()
    except urllib.error.HTTPError as e: return e.code, e.read()


def test_api_entrypoint_execs_the_server_which_stops_on_sigterm(tmp_path, mlflow_server):
    port = free_port()
    env = env_for(tmp_path, SNB_HOST="127.0.0.1", SNB_PORT=str(port), SNB_MLFLOW_TRACKING_URI=mlflow_server.tracking_uri,
                  SNB_MODEL_NAME="entrypoint-test-no-model", SNB_PREDICTION_LOG_URI=str(tmp_path / "predictions"))
    log = open(tmp_path / "api.log", "wb")
    proc = subprocess.Popen(["bash", str(DOCKER / "api-entrypoint.sh")], env=env, stdout=log, stderr=subprocess.STDOUT,
                            stdin=subprocess.DEVNULL, start_new_session=True, cwd=tmp_path)
    try:
        wait_http(f"http://127.0.0.1:{port}/health", timeout=90, proc=proc)
        assert _get(f"http://127.0.0.1:{port}/health")[0] == 200
        assert _get(f"http://127.0.0.1:{port}/ready")[0] == 503, "no champion registered: not ready"
        cmdline = Path(f"/proc/{proc.pid}/cmdline").read_bytes().split(b"\0")
        assert b"serve" in cmdline and not any(c.endswith(b"api-entrypoint.sh") for c in cmdline), \
            f"the shell must exec the server (signals reach it directly): {cmdline}"
        t0 = time.monotonic()
        os.kill(proc.pid, signal.SIGTERM)
        # uvicorn shuts down gracefully, then re-raises the signal: exit by SIGTERM (or 0 on older uvicorn)
        assert proc.wait(timeout=40) in (0, -signal.SIGTERM)
        assert time.monotonic() - t0 < 40
        assert "Application shutdown complete" in (tmp_path / "api.log").read_text()
    finally:
        stop_process(proc)
        log.close()


# ---------------------------------------------------------------- mlflow entrypoint
def test_mlflow_entrypoint_on_postgres_with_s3_artifacts(tmp_path, postgres_server, moto_server):
    "The URI is built from DB_* variables (password URL-quoted), never appears on a command line, and artifacts go to S3."
    password = "p@ss:w/rd%?#&="
    port = free_port()
    env = env_for(tmp_path, **moto_server.env, DB_HOST="127.0.0.1", DB_PORT=str(postgres_server.port), DB_NAME="mlflow",
                  DB_USERNAME="postgres", DB_PASSWORD=password,
                  MLFLOW_ARTIFACTS_DESTINATION="s3://sentiment-nb/mlflow-entrypoint-test",
                  MLFLOW_HOST="127.0.0.1", MLFLOW_PORT=str(port), MLFLOW_WORKERS="1",
                  MLFLOW_SERVER_ENABLE_JOB_EXECUTION="false")
    r = run("mlflow-entrypoint.sh", env={k: v for k, v in env.items() if k != "DB_PASSWORD"})
    assert r.returncode == 2 and "DB_PASSWORD" in r.stderr
    log = open(tmp_path / "mlflow.log", "wb")
    proc = subprocess.Popen(["bash", str(DOCKER / "mlflow-entrypoint.sh")], env=env, stdout=log, stderr=subprocess.STDOUT,
                            stdin=subprocess.DEVNULL, start_new_session=True, cwd=tmp_path)
    try:
        wait_http(f"http://127.0.0.1:{port}/health", timeout=120, proc=proc)
        def cmdline(p: Path) -> bytes:
            try: return p.read_bytes()
            except OSError: return b""   # the process ended meanwhile
        cmdlines = [cmdline(p) for p in Path("/proc").glob("[0-9]*/cmdline")]
        assert any(b"mlflow" in c and b"server" in c for c in cmdlines), "the server runs"
        assert not any(password.encode() in c or b"p%40ss" in c for c in cmdlines), "the password is on a command line"
        # the server's own health check of the task definition: a query through the database
        assert _get(f"http://127.0.0.1:{port}/api/2.0/mlflow/experiments/search?max_results=1")[0] == 200
        import mlflow
        client = mlflow.MlflowClient(tracking_uri=f"http://127.0.0.1:{port}")
        exp = client.create_experiment("entrypoint-test")
        run_ = client.create_run(exp)
        art = tmp_path / "hello.txt"
        art.write_text("hello")
        client.log_artifact(run_.info.run_id, str(art))
        keys = [o["Key"] for o in moto_server.client().list_objects_v2(
            Bucket="sentiment-nb", Prefix="mlflow-entrypoint-test/").get("Contents", [])]
        assert any(k.endswith("/hello.txt") for k in keys), keys
        out = subprocess.run(["psql", "-h", "127.0.0.1", "-p", str(postgres_server.port), "-U", "postgres", "-d", "mlflow",
                              "-tAc", "select count(*) from experiments where name = 'entrypoint-test'"],
                             capture_output=True, text=True, timeout=30)
        assert out.stdout.strip() == "1", out.stderr
    finally:
        stop_process(proc)
        log.close()
