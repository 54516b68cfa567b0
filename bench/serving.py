"""Benchmark: the sentiment-nb prediction service against `mlflow models serve`, same model, same machine.

Trains and registers a v1 model with `sentiment_nb.train` on the real sample (prepared with
`sentiment_nb.data.prepare_data`) in a throw-away MLflow server (artifacts in S3 on moto_server), then serves
`models:/NAME@champion` with

  * this project's service: `sentiment-nb serve` (uvicorn + uvloop/httptools), with every feature on: API key,
    input validation, Prometheus metrics, prediction + request logging (Parquet, flushed every 5 s);
  * the baseline: `mlflow models serve --env-manager local` (uvicorn, pyfunc, `/invocations`),

each with the same number of uvicorn workers (`--workers`, default 1), and drives both with `wrk` (one load
generator thread, on the same 2 cores): single reviews at 1, 8, 32 and 64 connections, then batches of 100 and
1000 reviews on one connection, for `--duration` seconds each, alternating the two servers. Requests cycle through
200 real test reviews. It prints req/s and p50/p95/p99 latency for both, their ratio, the in-process floor of the
native pipeline for 1 and 1000 reviews, and ends with one line `RESULT {json}`.

Targets (issue 4): at 32 connections >= 3x the req/s of `mlflow models serve`; one connection p50 <= 2 ms and
p99 <= 5 ms; a 1000-review batch <= 150 ms (p50).

    .venv/bin/python bench/serving.py [--workers 1] [--duration 10]

Needs `wrk` (Debian/Ubuntu: `sudo apt-get install -y wrk`).
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import pandas as pd

from sentiment_nb.config import get_settings, project_home
from sentiment_nb.stack import MlflowServer, MotoServer, free_port, stop_process, wait_http

SAMPLE = project_home().parent / "shared" / "data" / "amazon_polarity" / "sample.csv.gz"
MODEL = "sentiment-nb-bench"
KEY = "bench-key"

LUA = r"""
local bodies = { %s }
local reqs, i = {}, 0
function init(args)
  for k, b in ipairs(bodies) do reqs[k] = wrk.format("POST", "%s", {["Content-Type"] = "application/json"%s}, b) end
end
function request()
  i = i %% #reqs + 1
  return reqs[i]
end
function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format('WRK {"requests": %%d, "duration_us": %%d, "non2xx": %%d, "errors": %%d, "p50": %%d, "p95": %%d, "p99": %%d, "max": %%d}\n',
    summary.requests, summary.duration, e.status, e.connect + e.read + e.write + e.timeout,
    latency:percentile(50), latency:percentile(95), latency:percentile(99), latency.max))
end
"""


def lua_script(path: Path, bodies: list[str], route: str, headers: dict[str, str]) -> Path:
    for b in bodies: assert "]==]" not in b
    hdr = "".join(f', ["{k}"] = "{v}"' for k, v in headers.items())
    path.write_text(LUA % (",\n".join(f"[==[{b}]==]" for b in bodies), route, hdr))
    return path


def ours_body(rows: list[tuple]) -> str:
    if len(rows) == 1: return json.dumps({"title": rows[0][0], "text": rows[0][1]})
    return json.dumps({"reviews": [{"title": t, "text": x} for t, x in rows]})


def mlflow_body(rows: list[tuple]) -> str:
    return json.dumps({"dataframe_split": {"columns": ["title", "text"], "data": [[t or "", x] for t, x in rows]}})


def run_wrk(url: str, script: Path, conns: int, duration: int) -> dict:
    out = subprocess.run(["wrk", "-t1", f"-c{conns}", f"-d{duration}s", "--timeout", "10s", "-s", str(script), url],
                         capture_output=True, text=True, check=True).stdout
    line = next(l for l in out.splitlines() if l.startswith("WRK "))
    r = json.loads(line[4:])
    return {"rps": r["requests"] / (r["duration_us"] / 1e6), "p50_ms": r["p50"] / 1e3, "p95_ms": r["p95"] / 1e3,
            "p99_ms": r["p99"] / 1e3, "requests": r["requests"], "non2xx": r["non2xx"], "errors": r["errors"]}


def post(url: str, body: str, headers: dict | None = None) -> dict:
    req = urllib.request.Request(url, data=body.encode(), headers={"Content-Type": "application/json", **(headers or {})})
    with urllib.request.urlopen(req, timeout=120) as r: return json.loads(r.read())


def floor_ms(fn, reps: int) -> float:
    fn()
    ts = []
    for _ in range(reps):
        t0 = time.perf_counter(); fn(); ts.append(time.perf_counter() - t0)
    return statistics.median(ts) * 1e3


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--workers", type=int, default=1, help="uvicorn workers for both servers (default 1)")
    ap.add_argument("--duration", type=int, default=10, help="seconds per wrk run (default 10)")
    ap.add_argument("--limit", type=int, default=None, help="rows per split to train on (default: the whole sample)")
    ap.add_argument("--keep", action="store_true", help="keep the work folder")
    a = ap.parse_args(argv)
    if not shutil.which("wrk"):
        print("bench/serving.py needs wrk: sudo apt-get install -y wrk (Debian/Ubuntu) or brew install wrk", file=sys.stderr)
        return 2
    if not SAMPLE.exists():
        print(f"the real data sample is missing: {SAMPLE}", file=sys.stderr); return 2
    work = Path(tempfile.mkdtemp(prefix="snb-bench-serving-"))
    procs, servers = [], []
    try:
        s3 = MotoServer(buckets=["sentiment-nb"]).start(); servers.append(s3)
        ml = MlflowServer(s3=s3, bucket="sentiment-nb").start(); servers.append(ml)
        env = {**s3.env, "SNB_MLFLOW_TRACKING_URI": ml.tracking_uri, "MLFLOW_TRACKING_URI": ml.tracking_uri,
               "SNB_MODEL_NAME": MODEL, "SNB_EXPERIMENT_NAME": MODEL, "SNB_DATA_ROOT": str(work / "data"),
               "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR": "false"}
        os.environ.update(env)
        from sentiment_nb import config
        config._s3fs.cache_clear()

        # ---- v1: the real sample, prepared and trained by the project's own functions
        from sentiment_nb.data import prepare_data
        from sentiment_nb.train import train
        from mlflow import MlflowClient
        s = get_settings()
        t0 = time.monotonic()
        prepare_data(source=str(SAMPLE), limit=a.limit, settings=s)
        out = train(f"0..{s.n_batches - 1}", settings=s)
        version = int(out["version"] if isinstance(out, dict) else out.version)
        MlflowClient(ml.tracking_uri).set_registered_model_alias(MODEL, "champion", str(version))
        print(f"trained and registered {MODEL} v{version} in {time.monotonic() - t0:.0f}s", flush=True)

        test = pd.read_parquet(work / "data" / "raw" / "test.parquet")
        rows = list(test[["title", "text"]].sample(1200, random_state=0).itertuples(index=False, name=None))
        rows = [(t if isinstance(t, str) else None, x) for t, x in rows]

        # ---- the two servers
        base = {k: v for k, v in os.environ.items() if not k.startswith(("SNB_", "MLFLOW_TRACKING"))}
        ours_port, mlf_port = free_port(), free_port()
        ours_env = {**base, **env, "SNB_PORT": str(ours_port), "SNB_WORKERS": str(a.workers), "SNB_API_KEY": KEY,
                    "SNB_PREDICTION_LOG_URI": str(work / "predictions"), "SNB_PREDICTION_LOG_FORMAT": "parquet"}
        bin_dir = Path(sys.executable).parent
        for name, cmd, e, port in [
            ("ours", [str(bin_dir / "sentiment-nb"), "serve"], ours_env, ours_port),
            ("mlflow", [str(bin_dir / "mlflow"), "models", "serve", "-m", f"models:/{MODEL}@champion", "--env-manager",
                        "local", "-h", "127.0.0.1", "-p", str(mlf_port), "-w", str(a.workers)],
             {**base, **env, "PATH": f"{bin_dir}{os.pathsep}{base.get('PATH', '')}"}, mlf_port)]:   # it execs `uvicorn`
            log = open(work / f"{name}.log", "wb")
            procs.append(subprocess.Popen(cmd, env=e, stdout=log, stderr=subprocess.STDOUT, start_new_session=True))
        ours, mlf = f"http://127.0.0.1:{ours_port}", f"http://127.0.0.1:{mlf_port}"
        wait_http(ours + "/health", 120, procs[0])
        deadline = time.monotonic() + 300
        while True:
            try:
                with urllib.request.urlopen(ours + "/ready", timeout=5): break
            except Exception:
                if time.monotonic() > deadline or procs[0].poll() is not None: raise RuntimeError((work / "ours.log").read_text()[-2000:])
                time.sleep(0.5)
        wait_http(mlf + "/health", 300, procs[1])

        # same model, same answers
        a_ = post(ours + "/predict", ours_body(rows[:50]), {"X-API-Key": KEY})["predictions"]
        b_ = post(mlf + "/invocations", mlflow_body(rows[:50]))["predictions"]
        assert [p["label"] for p in a_] == [int(x) for x in b_], "the two servers disagree"

        # ---- wrk scripts
        single = rows[:200]
        scripts = {
            ("ours", 1): lua_script(work / "ours1.lua", [ours_body([r]) for r in single], "/predict", {"X-API-Key": KEY}),
            ("mlflow", 1): lua_script(work / "mlf1.lua", [mlflow_body([r]) for r in single], "/invocations", {}),
        }
        for n in (100, 1000):
            scripts[("ours", n)] = lua_script(work / f"ours{n}.lua", [ours_body(rows[i:i + n]) for i in (0, 100, 200)], "/predict", {"X-API-Key": KEY})
            scripts[("mlflow", n)] = lua_script(work / f"mlf{n}.lua", [mlflow_body(rows[i:i + n]) for i in (0, 100, 200)], "/invocations", {})
        urls = {"ours": ours + "/predict", "mlflow": mlf + "/invocations"}

        # warm up both
        for who in ("ours", "mlflow"): run_wrk(urls[who], scripts[(who, 1)], 8, 2)

        results: dict = {"ours": {}, "mlflow": {}}
        cases = [("single", c, 1) for c in (1, 8, 32, 64)] + [("batch100", 1, 100), ("batch1000", 1, 1000)]
        for label, conns, n in cases:
            for who in ("ours", "mlflow"):
                r = run_wrk(urls[who], scripts[(who, n)], conns, a.duration)
                results[who][f"{label}@{conns}"] = r
                if r["non2xx"] or r["errors"]: print(f"  WARNING: {who} answered {r['non2xx']} non-2xx, {r['errors']} socket errors")
                print(f"  {who:6s} {label:9s} c={conns:<3d} {r['rps']:8.1f} req/s  p50 {r['p50_ms']:7.2f}  p95 {r['p95_ms']:7.2f}  "
                      f"p99 {r['p99_ms']:7.2f} ms  non-2xx {r['non2xx']}  errors {r['errors']}", flush=True)

        # ---- in-process floor of the native pipeline (what both servers call)
        import mlflow.sklearn
        import sklearn
        pipe = mlflow.sklearn.load_model(f"models:/{MODEL}/{version}")
        one = pd.DataFrame({"title": [rows[0][0]], "text": [rows[0][1]]})
        thousand = pd.DataFrame({"title": [t for t, _ in rows[:1000]], "text": [x for _, x in rows[:1000]]})
        floors = {"predict_proba_1_ms": floor_ms(lambda: pipe.predict_proba(one), 300),
                  "predict_proba_1000_ms": floor_ms(lambda: pipe.predict_proba(thousand), 7)}
        with sklearn.config_context(assume_finite=True, skip_parameter_validation=True):
            floors["predict_proba_1_list_ms"] = floor_ms(lambda: pipe.predict_proba([f"{rows[0][0] or ''} {rows[0][1]}"]), 300)
        # what the prediction log's background thread spends per 1000 logged reviews (text_stats, oov_share, table)
        from sentiment_nb.serving import prediction_table, prepare_model, _oov_fn
        lm = prepare_model(pipe, MODEL, version)
        T, X = [t for t, _ in rows[:1000]], [x for _, x in rows[:1000]]
        lab, pr = lm.predict(T, X)
        entries = [(time.time(), "r", T, X, lab, pr, lm, 1.0)]
        floors["log_descriptors_1000_ms"] = floor_ms(lambda: prediction_table(entries, None), 5)
        floors["log_descriptors_oov_1000_ms"] = floor_ms(lambda: prediction_table(entries, _oov_fn()), 5)

        # ---- the prediction log was on: stop our server (SIGTERM flushes) and count the rows
        stop_process(procs[0])
        from sentiment_nb.serving import read_log
        logged = len(read_log(str(work / "predictions")))
        served = sum(r["requests"] for k, r in results["ours"].items() if k.startswith("single")) + \
                 sum(r["requests"] * int(k[5:].split("@")[0]) for k, r in results["ours"].items() if k.startswith("batch"))

        # ---- report
        print(f"\nsentiment-nb serve vs mlflow models serve --env-manager local; {a.workers} uvicorn worker(s) each; "
              f"wrk -t1, {a.duration}s per run, same 2 cores (load average before: {os.getloadavg()[0]:.1f})")
        print(f"{'case':16s} | {'ours req/s':>10s} {'p50':>7s} {'p95':>7s} {'p99':>7s} | {'mlflow req/s':>12s} {'p50':>7s} {'p95':>7s} {'p99':>7s} | {'ratio':>5s}")
        for k in results["ours"]:
            o, m = results["ours"][k], results["mlflow"][k]
            print(f"{k:16s} | {o['rps']:10.1f} {o['p50_ms']:7.2f} {o['p95_ms']:7.2f} {o['p99_ms']:7.2f} | "
                  f"{m['rps']:12.1f} {m['p50_ms']:7.2f} {m['p95_ms']:7.2f} {m['p99_ms']:7.2f} | {o['rps'] / m['rps']:5.2f}")
        print("latencies in ms. in-process floors (ms): " + ", ".join(f"{k} {v:.2f}" for k, v in floors.items()))
        print(f"prediction log: {logged} rows written for {served} reviews answered by our service during the runs")
        o, m = results["ours"], results["mlflow"]
        targets = {"ratio_32_ge_3": o["single@32"]["rps"] / m["single@32"]["rps"] >= 3,
                   "p50_1conn_le_2ms": o["single@1"]["p50_ms"] <= 2, "p99_1conn_le_5ms": o["single@1"]["p99_ms"] <= 5,
                   "batch1000_p50_le_150ms": o["batch1000@1"]["p50_ms"] <= 150}
        res = {"workers": a.workers, "duration_s": a.duration, "model_version": version,
               "ours": o, "mlflow": m, "ratio": {k: o[k]["rps"] / m[k]["rps"] for k in o},
               "floor_ms": floors, "logged_rows": logged, "answered_reviews": served, "targets": targets,
               "loadavg": os.getloadavg()}
        print("RESULT " + json.dumps(res, default=float))
        return 0
    finally:
        for p in procs: stop_process(p)
        for srv in reversed(servers): srv.stop()
        if not a.keep: shutil.rmtree(work, ignore_errors=True)
        else: print(f"work folder kept: {work}", file=sys.stderr)


if __name__ == "__main__":
    sys.exit(main())
