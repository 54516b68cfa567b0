"""The prediction service over real HTTP: `sentiment-nb serve` (uvicorn) loading models registered by
`sentiment_nb.train` on a real `mlflow server` whose artifacts live in S3 (moto_server)."""
from __future__ import annotations

import http.client
import json
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import httpx
import numpy as np
import pandas as pd
import pytest

from sentiment_nb.config import get_settings
from sentiment_nb.stack import free_port, stop_process

pytestmark = pytest.mark.timeout(600)

MODEL = f"serving-test-{uuid.uuid4().hex[:6]}"     # the session's MLflow server is shared with other test files
KEY = "test-key-123"
BIN = str(Path(sys.executable).parent / "sentiment-nb")
RUN = uuid.uuid4().hex[:8]


@pytest.fixture(scope="module")
def env(mlflow_server, moto_server):
    """Environment of this module: the MLflow server, S3 on moto, our own model and experiment names."""
    e = {**moto_server.env, "SNB_MLFLOW_TRACKING_URI": mlflow_server.tracking_uri,
         "MLFLOW_TRACKING_URI": mlflow_server.tracking_uri, "SNB_MODEL_NAME": MODEL,
         "SNB_EXPERIMENT_NAME": MODEL, "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR": "false"}
    with pytest.MonkeyPatch.context() as mp:
        for k, v in e.items(): mp.setenv(k, v)
        from sentiment_nb import config
        config._s3fs.cache_clear()
        yield e
        config._s3fs.cache_clear()


@pytest.fixture(scope="module")
def models(env, sample_path, tmp_path_factory):
    """Prepared batches of the real sample, and a `register(batches)` that trains and registers through sentiment_nb.train."""
    from sentiment_nb.data import prepare_data
    from sentiment_nb.train import train
    from mlflow import MlflowClient
    root = str(tmp_path_factory.mktemp("serving-data"))
    s = get_settings(data_root=root)
    prepare_data(source=str(sample_path), limit=3000, settings=s)
    client = MlflowClient(env["SNB_MLFLOW_TRACKING_URI"])

    def register(batches) -> int:
        out = train(batches, settings=s)
        return int(out["version"] if isinstance(out, dict) else out.version)

    def promote(version: int) -> None:
        client.set_registered_model_alias(MODEL, "champion", str(version))

    v1 = register("0..2")
    promote(v1)
    test = pd.read_parquet(f"{root}/raw/test.parquet").sample(60, random_state=1)
    return {"root": root, "settings": s, "client": client, "register": register, "promote": promote, "v1": v1,
            "test": test}


class Service:
    def __init__(self, url: str, proc: subprocess.Popen, log_path: Path, predictions_uri: str):
        self.url, self.proc, self.log_path, self.predictions_uri = url, proc, log_path, predictions_uri
        self.http = httpx.Client(base_url=url, timeout=30, headers={"X-API-Key": KEY})
        self.answered: list[dict] = []     # every 200 /predict response, to check against the prediction log
        self._lock = threading.Lock()

    def predict(self, body, headers=None, track=True) -> httpx.Response:
        kw = {"json": body} if not isinstance(body, (bytes, str)) else {"content": body}
        r = self.http.post("/predict", headers=headers, **kw)
        if track and r.status_code == 200:
            with self._lock: self.answered.append(r.json())
        return r

    def metric(self, name: str, **labels) -> float | None:
        text = self.http.get("/metrics").text
        want = name + ("{" + ",".join(f'{k}="{v}"' for k, v in labels.items()) + "}" if labels else "")
        for line in text.splitlines():
            if line.startswith(want + " "): return float(line.rsplit(" ", 1)[1])
        return None

    def log_tail(self) -> str: return self.log_path.read_text(errors="replace")[-3000:]


def start_service(env: dict, extra: dict, log_path: Path, ready: bool = True, timeout: float = 180) -> Service:
    port = free_port()
    e = {k: v for k, v in os.environ.items() if not k.startswith(("SNB_", "MLFLOW_"))}
    e.update(env); e.update({"SNB_PORT": str(port), **extra})
    with open(log_path, "ab") as log:
        proc = subprocess.Popen([BIN, "serve"], env=e, stdout=log, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, start_new_session=True)
    svc = Service(f"http://127.0.0.1:{port}", proc, log_path, extra.get("SNB_PREDICTION_LOG_URI", ""))
    deadline, path = time.monotonic() + timeout, "/ready" if ready else "/health"
    while time.monotonic() < deadline:
        if proc.poll() is not None: raise AssertionError(f"serve exited with {proc.returncode}:\n{svc.log_tail()}")
        try:
            if svc.http.get(path, timeout=2).status_code == 200: return svc
        except httpx.TransportError: pass
        time.sleep(0.3)
    stop_process(proc)
    raise AssertionError(f"service not {path} after {timeout}s:\n{svc.log_tail()}")


@pytest.fixture(scope="module")
def service(env, models, tmp_path_factory):
    log = tmp_path_factory.mktemp("serve") / "serve.log"
    svc = start_service(env, {"SNB_POLL_INTERVAL_S": "1", "SNB_API_KEY": KEY, "SNB_MAX_BODY_BYTES": "200000",
                              "SNB_DATA_ROOT": models["root"], "SNB_LOG_FLUSH_INTERVAL_S": "2",
                              "SNB_PREDICTION_LOG_URI": f"s3://sentiment-nb/serving-{RUN}/predictions"}, log)
    yield svc
    svc.http.close()
    stop_process(svc.proc)


def reference(models, version: int, frame: pd.DataFrame):
    "The registered model's own predictions (native flavour, loaded by the test itself)."
    import mlflow.sklearn
    pipe = mlflow.sklearn.load_model(f"models:/{MODEL}/{version}")
    X = frame[["title", "text"]]
    return pipe.predict(X), pipe.predict_proba(X)[:, list(pipe.classes_).index(1)]


def clean_exit(svc: Service) -> bool:
    "uvicorn shuts down gracefully on SIGTERM, then re-raises the signal: exit status 0 or -SIGTERM."
    return svc.proc.returncode in (0, -signal.SIGTERM) and "Application shutdown complete" in svc.log_tail()


def wait_for(cond, timeout: float, step: float = 0.2):
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        v = cond()
        if v: return time.monotonic() - t0
        time.sleep(step)
    return None


# ----------------------------------------------------------------------------------------------- the tests
def test_health_ready_model(service, models):
    assert service.http.get("/health").json() == {"status": "ok"}
    r = service.http.get("/ready").json()
    assert r == {"ready": True, "model_name": MODEL, "model_version": models["v1"]}
    m = service.http.get("/model").json()
    assert m["version"] == models["v1"] and m["alias"] == "champion" and m["run_id"] and m["loaded_at"]
    assert m["batches"] is not None and m["stale"] is False
    assert service.metric("snb_model_version") == models["v1"]
    assert service.http.get("/docs").status_code == 200
    assert "/predict" in service.http.get("/openapi.json").json()["paths"]


def test_predictions_equal_the_models_own(service, models):
    test = models["test"]
    labels, probs = reference(models, models["v1"], test)
    rows = list(test[["title", "text"]].itertuples(index=False))
    # one by one
    for i, (title, text) in enumerate(rows[:15]):
        r = service.predict({"title": title, "text": text})
        assert r.status_code == 200, r.text
        b = r.json()
        assert (b["label"], b["model_version"], b["model_name"]) == (labels[i], models["v1"], MODEL)
        assert b["sentiment"] == ("positive" if labels[i] == 1 else "negative")
        assert abs(b["probability"] - probs[i]) < 1e-12
    # as one batch
    r = service.predict({"reviews": [{"title": t, "text": x} for t, x in rows]})
    got = r.json()["predictions"]
    assert [p["label"] for p in got] == labels.tolist()
    np.testing.assert_allclose([p["probability"] for p in got], probs, rtol=0, atol=1e-12)
    # 48 concurrent single requests (scored together by the coalescer): same answers
    out = [None] * len(rows)
    def one(i):
        out[i] = service.predict({"title": rows[i][0], "text": rows[i][1]}).json()
    ts = [threading.Thread(target=one, args=(i,)) for i in range(48)]
    for t in ts: t.start()
    for t in ts: t.join()
    assert [o["label"] for o in out[:48]] == labels[:48].tolist()
    np.testing.assert_allclose([o["probability"] for o in out[:48]], probs[:48], rtol=0, atol=1e-12)
    assert len({o["request_id"] for o in out[:48]}) == 48


BAD = [  # (body or raw bytes, extra headers, status, fragment of the message)
    (b"", {}, 400, "empty"),
    (b'{"text": "good', {}, 400, "malformed JSON"),
    (b'{"text": "caf\xe9 ok"}', {}, 400, "not valid UTF-8"),
    (b'"just a string"', {}, 422, "JSON object"),
    ({"title": "no text"}, {}, 422, "`text` is missing"),
    ({"text": None}, {}, 422, "must be a string"),
    ({"text": 42}, {}, 422, "must be a string, got a number"),
    ({"text": ["a"]}, {}, 422, "must be a string, got an array"),
    ({"text": "ok", "title": 5}, {}, 422, "`title` must be a string"),
    ({"text": ""}, {}, 422, "empty or white space"),
    ({"text": "   \n\t  "}, {}, 422, "empty or white space"),
    ({"text": "ok", "rating": 5}, {}, 422, "unknown field"),
    ({"text": "x" * 20_001}, {}, 422, "over the limit of 20000"),
    ({"title": "t" * 10, "text": "x" * 19_995}, {}, 422, "over the limit of 20000"),
    ({"reviews": []}, {}, 422, "empty"),
    ({"reviews": "nope"}, {}, 422, "must be an array"),
    ({"reviews": [{"text": "fine"}, {"text": " "}]}, {}, 422, "reviews[1]: field `text` is empty"),
    ({"reviews": [{"text": "a"}] * 1001}, {}, 422, "at most 1000 reviews"),
    ({"text": "y" * 150_000, "title": None}, {}, 422, "over the limit"),
    (b'{"text": "' + b"z" * 250_000 + b'"}', {}, 413, "over the limit of 200000 bytes"),
    ({"text": "great"}, {"X-API-Key": "wrong"}, 401, "X-API-Key"),
]


@pytest.mark.parametrize("body,headers,status,fragment", BAD, ids=[f"{i}-{b[2]}" for i, b in enumerate(BAD)])
def test_bad_input_is_a_clear_4xx(service, body, headers, status, fragment):
    r = service.predict(body, headers=headers)
    assert r.status_code == status, r.text
    assert fragment in r.json()["detail"], r.json()
    assert r.json()["request_id"] == r.headers["x-request-id"]


def test_bad_input_raw_http(service):
    host, port = service.url.split("//")[1].split(":")
    def raw(method, headers, body=None, chunks=None):
        c = http.client.HTTPConnection(host, int(port), timeout=30)
        if chunks is not None:
            c.putrequest(method, "/predict")
            for k, v in headers.items(): c.putheader(k, v)
            c.putheader("Transfer-Encoding", "chunked"); c.endheaders()
            try:
                for ch in chunks: c.send(b"%x\r\n%s\r\n" % (len(ch), ch))
                c.send(b"0\r\n\r\n")
            except (BrokenPipeError, ConnectionResetError): pass     # the server may answer and close early
        else: c.request(method, "/predict", body=body, headers=headers)
        r = c.getresponse(); out = (r.status, r.read()); c.close()
        return out
    h = {"X-API-Key": KEY, "Content-Type": "application/json"}
    # no API key at all
    st, body = raw("POST", {"Content-Type": "application/json"}, b'{"text": "good"}')
    assert st == 401 and b"X-API-Key" in body
    # a chunked body (no Content-Length) that grows past the limit is cut off by the bytes received
    st, body = raw("POST", h, chunks=[b'{"text": "'] + [b"a" * 50_000] * 6 + [b'"}'])
    assert st == 413 and b"200000 bytes" in body
    # a chunked body within the limit is fine
    st, body = raw("POST", h, chunks=[b'{"title": "Great", ', b'"text": "loved it"}'])
    assert st == 200 and json.loads(body)["label"] in (0, 1)
    # a declared Content-Length over the limit is refused before reading
    c = http.client.HTTPConnection(host, int(port), timeout=30)
    c.putrequest("POST", "/predict")
    for k, v in {**h, "Content-Length": "999999999"}.items(): c.putheader(k, v)
    c.endheaders(); c.send(b'{"text": "x"}')
    r = c.getresponse(); assert r.status == 413 and b"over the limit" in r.read(); c.close()
    # wrong method, unknown route
    assert service.http.get("/predict").status_code == 405
    assert service.http.get("/nope").status_code == 404


def test_fuzz_openapi_finds_no_5xx(service):
    import schemathesis
    from hypothesis import HealthCheck, given, settings
    from schemathesis.checks import not_a_server_error
    schema = schemathesis.openapi.from_url(service.url + "/openapi.json")
    seen = {"n": 0, "statuses": set()}
    for op in schema.get_all_operations():
        op = op.ok()
        modes = [schemathesis.GenerationMode.POSITIVE]
        if op.method.upper() == "POST": modes.append(schemathesis.GenerationMode.NEGATIVE)   # GETs take no input
        for mode in modes:
            @given(case=op.as_strategy(generation_mode=mode))
            @settings(max_examples=30 if op.path == "/predict" else 5, deadline=None, database=None,
                      suppress_health_check=list(HealthCheck))
            def run(case):
                r = case.call(base_url=service.url, headers={"X-API-Key": KEY}, timeout=30)
                seen["n"] += 1; seen["statuses"].add((op.path, r.status_code))
                case.validate_response(r, checks=[not_a_server_error])
            run()
    assert seen["n"] > 40, seen
    assert ("/predict", 200) in seen["statuses"] and any(p == "/predict" and 400 <= s < 500 for p, s in seen["statuses"])


def test_metrics(service):
    assert service.metric("snb_http_requests_total", route="/predict", status="200") > 0
    assert service.metric("snb_http_requests_total", route="/predict", status="422") > 0
    assert service.metric("snb_http_requests_total", route="/predict", status="413") > 0
    assert service.metric("snb_predictions_total", sentiment="positive") > 0
    assert service.metric("snb_predictions_total", sentiment="negative") > 0
    assert service.metric("snb_http_request_duration_seconds_count", route="/predict") > 0
    assert service.metric("snb_model_ready") == 1 and service.metric("snb_model_stale") == 0


def test_prediction_log_flushes_in_the_background(service):
    from sentiment_nb.serving import read_log
    # the flush interval is 2 s: rows answered so far appear without a shutdown
    assert wait_for(lambda: len(read_log(service.predictions_uri)) > 0, 15), service.log_tail()


def _hammer(service, stop: threading.Event, seen: list):
    while not stop.is_set():
        try:
            r = service.predict({"title": "Great", "text": "I loved every minute of it"})
            seen.append((r.status_code, r.json().get("model_version")))
        except httpx.TransportError as e: seen.append((599, str(e)))


def test_alias_move_swaps_without_failing_requests(service, models):
    v2 = models["register"]("0..5")
    stop, seen = threading.Event(), []
    threads = [threading.Thread(target=_hammer, args=(service, stop, seen)) for _ in range(4)]
    for t in threads: t.start()
    time.sleep(1)
    t0 = time.monotonic()
    models["promote"](v2)
    took = wait_for(lambda: service.predict({"text": "fine"}).json()["model_version"] == v2, 60)
    time.sleep(1); stop.set()
    for t in threads: t.join()
    assert took is not None, service.log_tail()
    print(f"new champion v{v2} served {time.monotonic() - t0:.1f}s after the alias moved (poll 1 s + load)")
    statuses = {s for s, _ in seen}
    assert statuses == {200}, [x for x in seen if x[0] != 200][:5]
    versions = [v for _, v in seen]
    assert set(versions) == {models["v1"], v2} and versions[-1] == v2
    assert service.http.get("/model").json()["version"] == v2
    assert service.metric("snb_model_version") == v2
    models["v2"] = v2


def test_broken_version_keeps_the_old_one(service, models, moto_server):
    v2 = models["v2"]
    v3 = models["register"]("0..1")
    # delete v3's artifacts from the bucket
    mv = models["client"].get_model_version(MODEL, str(v3))
    model_id = mv.model_id or mv.source.rsplit("/", 1)[-1]
    s3 = moto_server.client()
    keys = [o["Key"] for page in s3.get_paginator("list_objects_v2").paginate(Bucket="sentiment-nb")
            for o in page.get("Contents", []) if model_id in o["Key"]]
    assert keys, f"no artifacts found for {model_id}"
    for k in keys: s3.delete_object(Bucket="sentiment-nb", Key=k)
    models["promote"](v3)
    assert wait_for(lambda: service.metric("snb_model_load_failures_total", version=str(v3)), 30), service.log_tail()
    for _ in range(10):
        r = service.predict({"text": "still works?"})
        assert r.status_code == 200 and r.json()["model_version"] == v2
    m = service.http.get("/model").json()
    assert m["version"] == v2 and m["stale"] is True and m["wanted_version"] == v3
    assert m["pending"]["version"] == v3 and m["pending"]["attempts"] >= 1 and m["pending"]["error"]
    assert service.metric("snb_model_stale") == 1 and service.metric("snb_model_version") == v2
    assert service.http.get("/ready").status_code == 200
    # back to v2: no longer stale
    models["promote"](v2)
    assert wait_for(lambda: service.metric("snb_model_stale") == 0, 15)
    assert service.http.get("/model").json()["stale"] is False


def test_unreachable_mlflow_means_alive_but_not_ready(env, tmp_path):
    dead = f"http://127.0.0.1:{free_port()}"
    svc = start_service({**env, "SNB_MLFLOW_TRACKING_URI": dead, "MLFLOW_TRACKING_URI": dead},
                        {"SNB_DATA_ROOT": str(tmp_path), "SNB_MLFLOW_TIMEOUT_S": "1"}, tmp_path / "serve.log", ready=False)
    try:
        # the first attempt fails within SNB_MLFLOW_TIMEOUT_S (plus the MLflow import), then it retries with backoff
        assert wait_for(lambda: "not reachable" in svc.http.get("/ready").json()["reason"], 60), svc.log_tail()
        time.sleep(3)
        assert svc.proc.poll() is None, svc.log_tail()
        assert svc.http.get("/health").status_code == 200
        r = svc.http.get("/ready")
        assert r.status_code == 503 and "not reachable" in r.json()["reason"], r.text
        assert svc.predict({"text": "hello"}, track=False).status_code == 503
        assert svc.http.get("/model").status_code == 503
    finally:
        svc.http.close()
        stop_process(svc.proc)
    assert clean_exit(svc), svc.log_tail()


def test_logged_predictions_match_and_none_lost_on_sigterm(service, models):
    """Last test of the module: stops the service."""
    from sentiment_nb.serving import read_log
    # requests answered just before the signal are still in the buffer when it arrives
    for i in range(20): service.predict({"title": f"t{i}", "text": "The best purchase I made this year"},
                                        headers={"X-Request-ID": f"last-{i}"})
    service.predict({"reviews": [{"text": "bad"}, {"text": "good"}, {"text": "meh"}]}, headers={"X-Request-ID": "last-batch"})
    service.proc.send_signal(signal.SIGTERM)
    service.proc.wait(60)
    assert clean_exit(service), service.log_tail()
    logged = read_log(service.predictions_uri)
    want = []
    for r in service.answered:
        preds = r["predictions"] if "predictions" in r else [r]
        want += [(r["request_id"], r["model_version"], p["label"], p["probability"]) for p in preds]
    got = logged[["request_id", "model_version", "label", "probability"]].itertuples(index=False)
    got = sorted((a, int(b), int(c), float(d)) for a, b, c, d in got)
    missing = set(want) - set(got)
    assert not missing, f"{len(missing)} of {len(want)} answered predictions are not in the log, e.g. {list(missing)[:3]}\n{service.log_path.read_text()[-6000:]}"
    assert {"last-0", "last-19", "last-batch"} <= set(logged.request_id)
    assert (logged.request_id == "last-batch").sum() == 3
    assert (logged.text_chars > 0).all() and (logged.word_count > 0).all() and logged.latency_ms.gt(0).all()
    assert logged.non_ascii_share.between(0, 1).all()
    assert logged.oov_share.between(0, 1).all()        # sentiment_nb.train.oov_share, logged per prediction
    reqs = read_log(service.predictions_uri.rsplit("/", 1)[0] + "/requests", kind="requests")
    pred = reqs[reqs.route == "/predict"]
    assert {200, 400, 401, 413, 422} <= set(pred.status)
    assert pred[pred.status >= 400].error.notna().all()
    assert pred[pred.status == 200].n_reviews.sum() >= len(want)
