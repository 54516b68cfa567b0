"""The drift job on logs written by a real `sentiment-nb serve` (uvicorn) process serving a champion from a real
`mlflow server` (artifacts in S3 on moto_server): stable windows are judged stable, shifted ones drifted, and bad
windows, damaged logs and a missing reference fail clearly (exit status 2, never 3) without deleting anything."""
from __future__ import annotations

import http.server
import inspect
import json
import os
import re
import subprocess
import sys
import threading
import time
from datetime import datetime, timezone
from pathlib import Path

import pandas as pd
import pytest

from sentiment_nb.cli import main as cli
from sentiment_nb.config import get_settings
from sentiment_nb.stack import free_port, stop_process, wait_http

BIN = Path(sys.executable).parent
N_WINDOW = 1100          # reviews per window (the job refuses fewer than 1,000)
N_SEEDS = 5              # same-distribution windows, each a different draw of reviews the champion never saw
TRAINED = "0..4"         # the champion's batches; batches 5..9 (7,490 reviews) stand in for next weeks' traffic


def other_texts(n: int) -> list[str]:
    "Paragraphs of Python's own documentation: English text, but not product reviews."
    import importlib
    seen, out = set(), []
    for m in ["os", "json", "pathlib", "collections", "itertools", "functools", "re", "datetime", "subprocess", "shutil",
              "argparse", "logging", "asyncio", "typing", "inspect", "unittest", "tarfile", "zipfile", "csv", "decimal",
              "statistics", "random", "textwrap", "threading", "socket", "tempfile", "pickle", "email.message",
              "http.client", "urllib.request", "configparser", "contextlib", "enum", "dataclasses", "string", "heapq",
              "difflib", "pprint", "traceback", "warnings", "ast", "tokenize", "ipaddress", "uuid", "queue", "sched"]:
        mod = importlib.import_module(m)
        objs = [o for o in vars(mod).values() if inspect.isclass(o) or inspect.isfunction(o) or inspect.isbuiltin(o)]
        objs += [o2 for o in objs if inspect.isclass(o) for o2 in vars(o).values() if callable(o2)]
        for o in objs:
            for para in re.split(r"\n\s*\n", inspect.getdoc(o) or ""):
                t = " ".join(para.split())
                if 100 <= len(t) <= 1000 and ">>>" not in t and t not in seen:
                    seen.add(t); out.append(t)
    if len(out) < n: pytest.fail(f"only {len(out)} documentation paragraphs found, need {n}")
    return out[:n]


def tree(root: Path) -> dict[str, int]:
    "Every file under `root` with its size: to check that a failed job deleted (or changed) nothing."
    return {str(p.relative_to(root)): p.stat().st_size for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def served(mlflow_server, moto_server, sample_path, tmp_path_factory):
    """A champion trained on the real sample, served by `sentiment-nb serve`, sent held-out reviews and shifted streams.

    Yields a dict with the settings environment, the data root and the time window of each stream."""
    work = tmp_path_factory.mktemp("monitoring")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SNB_", "MLFLOW_"))}
    env.update({"SNB_DATA_ROOT": str(work / "data"), "SNB_MLFLOW_TRACKING_URI": mlflow_server.tracking_uri,
                "MLFLOW_TRACKING_URI": mlflow_server.tracking_uri, "PYTHONWARNINGS": "ignore"})
    old = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        _train_champion(work, env, sample_path)
        port = free_port()
        log = open(work / "serve.log", "wb")
        proc = subprocess.Popen([str(BIN / "sentiment-nb"), "serve", "--port", str(port), "--log-flush-interval", "0.5"],
                                env=env, cwd=work, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        try:
            wait_http(f"http://127.0.0.1:{port}/ready", 120, proc)
            windows = _send_streams(f"http://127.0.0.1:{port}", sample_path)
        finally:
            stop_process(proc)          # SIGTERM: uvicorn's graceful shutdown writes what the log still buffers
            log.close()
        yield {"env": env, "work": work, "data": work / "data", "windows": windows}
    finally:
        for k, v in old.items():
            if v is None: os.environ.pop(k, None)
            else: os.environ[k] = v


def _train_champion(work: Path, env: dict, sample_path: Path) -> None:
    "The real pipeline on the real sample: data, one training on batches 0..4, evaluation (which promotes it)."
    from sentiment_nb.data import prepare_data
    from sentiment_nb.evaluate import evaluate
    from sentiment_nb.train import train
    s = get_settings()
    prepare_data(str(sample_path), settings=s)
    r = train(TRAINED, settings=s)
    assert evaluate(r["version"], settings=s)["promoted"]


def _send_streams(url: str, sample_path: Path) -> dict:
    import httpx
    from sentiment_nb.train import read_batch
    s = get_settings()
    unseen = pd.concat([read_batch(s.paths.batch(k)) for k in range(5, 10)]).sample(frac=1.0, random_state=0)
    unseen = unseen.assign(title=None, text=unseen["full_text"])
    streams = {f"same{i}": unseen.iloc[i * N_WINDOW:(i + 1) * N_WINDOW] for i in range(N_SEEDS)}
    raw = pd.read_csv(sample_path, keep_default_na=False).rename(columns={"content": "text"})
    test = raw[raw["split"] == "test"].sample(frac=1.0, random_state=0)
    streams["negative"] = test[test.label == 0].iloc[:N_WINDOW]       # a shift in what customers write about
    streams["other"] = pd.DataFrame({"title": None, "text": other_texts(N_WINDOW)})
    streams["one"] = test[test.label == 1].iloc[:1]
    windows = {}
    with httpx.Client(timeout=60) as c:
        for name, df in streams.items():
            t0 = datetime.now(timezone.utc)
            recs = [{"title": t or None, "text": x} for t, x in zip(df.title, df.text)]
            for i in range(0, len(recs), 100):
                r = c.post(f"{url}/predict", json={"reviews": recs[i:i + 100]})
                assert r.status_code == 200, r.text
            # a few bad requests, for the error rate
            assert c.post(f"{url}/predict", json={"text": "   "}).status_code == 422
            time.sleep(0.3)      # the service stamps a request once it has sent the response, after the client got it
            windows[name] = (t0, datetime.now(timezone.utc))
            time.sleep(0.1)
    return windows


def iso(t: datetime) -> str: return t.isoformat()


def drift(served, name: str, *extra: str, capsys=None) -> int:
    "`sentiment-nb drift` over one stream's window, in process (the console script is exercised in test_cli_exit_status)."
    since, until = served["windows"][name]
    return cli(["drift", "--since", iso(since), "--until", iso(until), "--no-alert", *extra])


# ----------------------------------------------------------------------------------------------- verdicts

def test_same_distribution_is_stable_over_seeds(served):
    from sentiment_nb.monitoring import run_drift, Window
    alarms = []
    for i in range(N_SEEDS):
        since, until = served["windows"][f"same{i}"]
        res = run_drift(Window(since, until), get_settings(), alert=False)
        assert res.summary["predictions"]["rows"] == N_WINDOW
        if res.summary["drift"]: alarms.append((i, res.summary["drifted_columns"]))
    assert not alarms, f"false alarms in {len(alarms)} of {N_SEEDS} same-distribution windows: {alarms}"


def test_negative_reviews_only_is_drift(served):
    from sentiment_nb.monitoring import run_drift, Window
    res = run_drift(Window(*served["windows"]["negative"]), get_settings(), alert=False)
    assert res.exit_code == 3 and res.summary["drift"]
    assert {"label", "probability"} <= set(res.summary["drifted_columns"])
    assert res.summary["predictions"]["positive_share"] < 0.25


def test_other_kind_of_text_is_drift(served):
    from sentiment_nb.monitoring import run_drift, Window
    res = run_drift(Window(*served["windows"]["other"]), get_settings(), alert=False)
    assert res.exit_code == 3
    cols = res.summary["columns"]
    assert "oov_share" in cols and cols["oov_share"]["drifted"], cols


def test_cli_exit_status_and_outputs(served):
    "The console script: 0 on a stable window, 3 on drift; the report is written and logged to the champion's run."
    env, work = served["env"], served["work"]
    out = {}
    for name in ("same0", "negative"):
        since, until = served["windows"][name]
        r = subprocess.run([str(BIN / "sentiment-nb"), "drift", "--since", iso(since), "--until", iso(until), "--json"],
                           env=env, cwd=work, capture_output=True, text=True)
        out[name] = (r.returncode, r)
    assert out["same0"][0] == 0, out["same0"][1].stderr[-2000:]
    assert out["negative"][0] == 3, out["negative"][1].stderr[-2000:]
    summary = json.loads(out["negative"][1].stdout)
    d = Path(summary["outputs"]["dir"])
    assert {"index.html", "report.html", "report.json", "summary.json", "ops.csv", "ops.json", "ops.png"} <= set(os.listdir(d))
    assert json.loads((d / "summary.json").read_text())["drift"] is True
    ops = pd.read_csv(d / "ops.csv")
    assert ops["requests"].sum() == N_WINDOW // 100 + 1 and ops["errors_4xx"].sum() == 1
    # logged against the champion's run
    from mlflow import MlflowClient
    c = MlflowClient(env["SNB_MLFLOW_TRACKING_URI"])
    run = c.get_run(summary["model"]["run_id"])
    assert run.data.metrics["drift.detected"] == 1.0 and run.data.tags["drift.last_verdict"] == "drift"
    names = {f.path for f in c.list_artifacts(run.info.run_id, f"drift/{summary['window']['name']}")}
    assert f"drift/{summary['window']['name']}/report.html" in names
    assert {f.path for f in c.list_artifacts(run.info.run_id, "reference")}, "the reference is logged to the run"


def test_last_rows_window(served, capsys):
    "--last-rows N: the N newest predictions (here the documentation stream and the single review after it)."
    rc = cli(["drift", "--last-rows", str(N_WINDOW + 1), "--no-alert", "--no-mlflow", "--json"])
    out = json.loads(capsys.readouterr().out)
    assert rc == 3 and out["predictions"]["rows"] == N_WINDOW + 1 and out["window"]["last_rows"] == N_WINDOW + 1
    assert out["window"]["since"] >= iso(served["windows"]["other"][0])


# ----------------------------------------------------------------------------------------------- failures

def test_empty_window(served, capsys):
    before = tree(served["data"])
    rc = cli(["drift", "--since", "2001-01-01", "--until", "2001-01-08", "--no-alert"])
    err = capsys.readouterr().err
    assert rc == 2 and "no predictions logged in 2001-01-01" in err
    assert tree(served["data"]) == before


def test_one_row_window(served, capsys):
    before = tree(served["data"])
    rc = drift(served, "one")
    err = capsys.readouterr().err
    assert rc == 2 and "only 1 prediction(s) logged" in err and "at least 1,000" in err
    assert tree(served["data"]) == before


def test_corrupt_log_file(served, capsys, tmp_path):
    s = get_settings()
    since, until = served["windows"]["same1"]
    day = f"date={since:%Y-%m-%d}"
    bad = Path(s.predictions_uri) / day / "part-corrupt.parquet"
    bad.write_bytes(b"PAR1 not really parquet")
    try:
        before = tree(served["data"])
        rc = drift(served, "same1")
        err = capsys.readouterr().err
        assert rc == 2 and str(bad) in err and "damaged or unreadable" in err
        assert tree(served["data"]) == before
        rc = drift(served, "same1", "--skip-corrupt", "--json")
        out = json.loads(capsys.readouterr().out)
        assert rc == 0 and out["predictions"]["corrupt_files"] == [str(bad)] and bad.exists()
    finally:
        bad.unlink()


def test_missing_reference_and_no_champion(served, capsys, monkeypatch):
    monkeypatch.setenv("SNB_MODEL_NAME", "no-such-model")
    before = tree(served["data"])
    rc = drift(served, "same2")
    err = capsys.readouterr().err
    assert rc == 2 and "no reference to compare with" in err and "no-such-model" in err
    assert tree(served["data"]) == before


def test_reference_is_rebuilt_when_missing(served):
    from sentiment_nb.monitoring import reference_uri, run_drift, Window, read_reference
    from sentiment_nb.serving import mlflow_client
    s = get_settings()
    mv = mlflow_client(s).get_model_version_by_alias(s.model_name, s.champion_alias)
    uri = Path(reference_uri(mv.version, s))
    if uri.exists(): uri.unlink()
    res = run_drift(Window(*served["windows"]["same3"]), s, alert=False, log_mlflow=False)
    assert uri.exists() and res.exit_code == 0
    ref, meta = read_reference(str(uri))
    assert meta["version"] == int(mv.version) and meta["accuracy"] > 0.85 and set(ref["target"].unique()) == {0, 1}


# ----------------------------------------------------------------------------------------------- alerts, S3

class _Hook(http.server.BaseHTTPRequestHandler):
    got: list = []
    def do_POST(self):
        _Hook.got.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
        self.send_response(204); self.end_headers()
    def log_message(self, *a): pass


def test_alert_hooks_called_on_drift_only(served, monkeypatch, tmp_path):
    srv = http.server.HTTPServer(("127.0.0.1", 0), _Hook)
    th = threading.Thread(target=srv.serve_forever, daemon=True); th.start()
    try:
        got_cmd = tmp_path / "alert.json"
        monkeypatch.setenv("SNB_DRIFT_ALERT_WEBHOOK", f"http://127.0.0.1:{srv.server_port}/hook")
        monkeypatch.setenv("SNB_DRIFT_ALERT_COMMAND", f"sh -c 'cat > {got_cmd}'")
        _Hook.got.clear()
        since, until = served["windows"]["same4"]
        assert cli(["drift", "--since", iso(since), "--until", iso(until), "--no-mlflow"]) == 0
        assert _Hook.got == [] and not got_cmd.exists()
        since, until = served["windows"]["negative"]
        assert cli(["drift", "--since", iso(since), "--until", iso(until), "--no-mlflow"]) == 3
        assert len(_Hook.got) == 1 and _Hook.got[0]["drift"] is True and "label" in _Hook.got[0]["drifted_columns"]
        assert json.loads(got_cmd.read_text())["window"] == _Hook.got[0]["window"]
    finally:
        srv.shutdown(); srv.server_close()


def test_logs_and_reports_on_s3(served, moto_s3):
    "The same job reading the service's logs from S3 and writing its reports there."
    from sentiment_nb.monitoring import run_drift, Window
    s3 = moto_s3.client()
    data = served["data"]
    for p in (data / "predictions").rglob("part-*"):
        s3.upload_file(str(p), "sentiment-nb", f"mon/{p.relative_to(data)}")
    for p in (data / "requests").rglob("part-*"):
        s3.upload_file(str(p), "sentiment-nb", f"mon/{p.relative_to(data)}")
    s = get_settings(reports_uri="s3://sentiment-nb/mon/reports")
    res = run_drift(Window(*served["windows"]["negative"]), s, alert=False, log_mlflow=False,
                    predictions_uri="s3://sentiment-nb/mon/predictions", requests_uri="s3://sentiment-nb/mon/requests")
    assert res.exit_code == 3 and res.summary["predictions"]["rows"] == N_WINDOW
    assert res.summary["ops"]["requests"] == N_WINDOW // 100 + 1
    keys = {o["Key"] for o in s3.list_objects_v2(Bucket="sentiment-nb", Prefix="mon/reports/")["Contents"]}
    assert f"mon/reports/drift/{res.summary['window']['name']}/summary.json" in keys
