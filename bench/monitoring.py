"""Drift job on a window of 1M logged predictions: `sentiment-nb drift` against loading the whole window with pandas.

Setup (not timed), in a temporary folder: the real sample (../shared/data/amazon_polarity/sample.csv.gz) through
the data pipeline, a model trained on batches 0..9 and promoted by evaluate, on a real `mlflow server` (SQLite,
local artifacts), and its drift reference (`monitoring.save_reference`: the champion's predictions on the 12,358
reviews of the test set). Then a window of `--rows` predictions (default 1,000,000) in the service's log format, written
with the service's own writer (`serving.write_log_table`) in files of 10,000 rows (one flush of `log_buffer_max`),
partitioned by date over 7 days: each row is a real reference prediction (label, probability, descriptors)
resampled with replacement, with its own time and request id. The request log gets one `/predict` request per
prediction (1% refused with a 422), latencies drawn from a log-normal around 1 ms.

Measured in the same run, each in its own child process (wall time, and peak RSS from `os.wait4`):
- candidate: `sentiment-nb drift --since ... --until ...`, the job as a scheduler runs it (registry lookup,
  one streaming pass over the window with a 20,000-row uniform sample, the Evidently report with its tests,
  the operations summary, the outputs and their MLflow logging);
- baseline "pandas, no sampling": `serving.read_log` loads the whole window (every column of every file) into
  pandas, the same Evidently report runs on every row, the operations summary on every request, the HTML is saved.

Both import Evidently (about 15-20 s of the wall time on this machine). Targets for the candidate: <= 60 s and
<= 2 GB peak RSS. The last line is `RESULT {json}`.

    .venv/bin/python bench/monitoring.py                # 1M rows, a few minutes with the setup
    .venv/bin/python bench/monitoring.py --rows 100000  # quick check
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT.parent / "shared" / "data" / "amazon_polarity" / "sample.csv.gz"
BIN = Path(sys.executable).parent
TARGET_SECONDS, TARGET_RSS_BYTES = 60.0, 2e9
FILE_ROWS = 10_000

BASELINE = r"""
import sys, time, json
import pandas as pd
from sentiment_nb.config import get_settings
from sentiment_nb.serving import read_log, request_log_uri
from sentiment_nb.monitoring import (parse_time, read_reference, reference_uri, drift_report, drift_verdict, drift_columns,
                                     ops_summary, TIME_COL)
since, until, version, out = parse_time(sys.argv[1]), parse_time(sys.argv[2]), sys.argv[3], sys.argv[4]
s = get_settings()
cur = read_log(s.predictions_uri)
cur = cur[(cur[TIME_COL] >= since) & (cur[TIME_COL] < until)]
ref, _ = read_reference(reference_uri(version, s))
snap = drift_report(ref, cur, drift_columns(ref, cur))
v = drift_verdict(snap)
snap.save_html(out + "/report.html")
req = read_log(request_log_uri(s), kind="requests")
req = req[(req.route == "/predict") & (req[TIME_COL] >= since) & (req[TIME_COL] < until)]
ops = ops_summary(req, "D")
print(json.dumps({"rows": len(cur), "requests": int(ops.requests.sum()), **v}, default=str))
"""


def run_child(cmd: list[str], env: dict, cwd: str) -> tuple[float, int, str, int]:
    "Run `cmd`; returns wall seconds, peak RSS bytes (os.wait4), stdout, exit status."
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        t0 = time.perf_counter()
        p = subprocess.Popen(cmd, env=env, cwd=cwd, stdout=out, stderr=err)
        _, status, ru = os.wait4(p.pid, 0)
        wall = time.perf_counter() - t0
        p.returncode = rc = os.waitstatus_to_exitcode(status)
        out.seek(0); err.seek(0)
        stdout, stderr = out.read().decode(errors="replace"), err.read().decode(errors="replace")
    if rc not in (0, 3): sys.stderr.write(stderr[-3000:])
    return wall, ru.ru_maxrss * 1024, stdout, rc


SETUP = r"""
import sys
from sentiment_nb.config import get_settings
from sentiment_nb.data import prepare_data
from sentiment_nb.evaluate import evaluate
from sentiment_nb.monitoring import save_reference
from sentiment_nb.train import train
s = get_settings()
prepare_data(sys.argv[1], settings=s)
r = train("0..9", settings=s)
assert evaluate(r["version"], settings=s)["promoted"]
save_reference(r["version"], s)
print(r["version"])
"""


def setup(work: Path, env: dict) -> int:
    "Data pipeline, training on batches 0..9, promotion and the reference, in `work`; returns the champion's version."
    r = subprocess.run([sys.executable, "-c", SETUP, str(SAMPLE)], env=env, cwd=work, capture_output=True, text=True)
    if r.returncode != 0: sys.exit(f"setup failed ({r.returncode}):\n{r.stdout[-2000:]}\n{r.stderr[-3000:]}")
    return int(r.stdout.strip().splitlines()[-1])


def write_window(version: int, rows: int, since_s: float, days: int, env: dict, seed: int = 0) -> dict:
    "Write `rows` predictions and as many requests, resampled from the reference, with the service's writer."
    import numpy as np, pyarrow as pa
    os.environ.update(env)
    from sentiment_nb.config import get_settings
    from sentiment_nb.serving import PREDICTION_SCHEMA, REQUEST_SCHEMA, request_log_uri, write_log_table
    from sentiment_nb.monitoring import read_reference, reference_uri
    s = get_settings()
    ref, _ = read_reference(reference_uri(version, s))
    rng = np.random.default_rng(seed)
    ts = np.sort(rng.uniform(since_s, since_s + days * 86400, rows))
    pick = rng.integers(0, len(ref), rows)
    lat = rng.lognormal(np.log(1.0), 0.5, rows)
    refused = rng.random(rows) < 0.01
    files = {"predictions": 0, "requests": 0}
    for i in range(0, rows, FILE_ROWS):
        sl = slice(i, min(rows, i + FILE_ROWS)); n = sl.stop - sl.start
        t_us = pa.array((ts[sl] * 1e6).astype(np.int64), pa.timestamp("us", tz="UTC"))
        r = ref.iloc[pick[sl]]
        ok = ~refused[sl]
        ids = pa.array([f"bench-{j}" for j in range(sl.start, sl.stop)], pa.string())
        preds = pa.table({"ts": t_us, "request_id": ids, "model_name": pa.array([s.model_name] * n),
                          "model_version": pa.array(np.full(n, version), pa.int64()),
                          **{c: pa.array(r[c].to_numpy(), PREDICTION_SCHEMA.field(c).type, from_pandas=True)
                             for c in ["label", "probability", "text_chars", "word_count", "non_ascii_share", "oov_share"]},
                          "batch_size": pa.array(np.ones(n, np.int32)), "latency_ms": pa.array(lat[sl])},
                         schema=PREDICTION_SCHEMA).filter(pa.array(ok))
        reqs = pa.table({"ts": t_us, "request_id": ids, "route": pa.array(["/predict"] * n), "method": pa.array(["POST"] * n),
                         "status": pa.array(np.where(ok, 200, 422).astype(np.int16)), "latency_ms": pa.array(np.where(ok, lat[sl], 0.2)),
                         "n_reviews": pa.array(ok.astype(np.int32)), "model_version": pa.array(np.where(ok, version, None), pa.int64()),
                         "error": pa.array(np.where(ok, None, "field `text` is empty or white space only"), pa.string())},
                        schema=REQUEST_SCHEMA)
        files["predictions"] += len(write_log_table(preds, s.predictions_uri))
        files["requests"] += len(write_log_table(reqs, request_log_uri(s)))
    return {"prediction_rows": int((~refused).sum()), "request_rows": rows, "files": files}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--days", type=int, default=7)
    ap.add_argument("--keep", action="store_true", help="keep the temporary folder")
    a = ap.parse_args()
    sys.path.insert(0, str(ROOT))
    from sentiment_nb.stack import MlflowServer
    work = Path(tempfile.mkdtemp(prefix="snb-bench-monitoring-"))
    srv = MlflowServer(workdir=str(work / "mlflow"))
    try:
        srv.start()
        env = {k: v for k, v in os.environ.items() if not k.startswith(("SNB_", "MLFLOW_"))}
        env.update({"SNB_HOME": str(work), "SNB_DATA_ROOT": str(work / "data"), "SNB_MLFLOW_TRACKING_URI": srv.tracking_uri,
                    "MLFLOW_TRACKING_URI": srv.tracking_uri, "PYTHONWARNINGS": "ignore"})
        t0 = time.perf_counter()
        version = setup(work, env)
        t_setup = time.perf_counter() - t0
        since_s = float(int(time.time() // 86400 - a.days - 1) * 86400)     # whole days, ending yesterday
        t0 = time.perf_counter()
        w = write_window(version, a.rows, since_s, a.days, env)
        t_write = time.perf_counter() - t0
        from datetime import datetime, timezone
        since = datetime.fromtimestamp(since_s, timezone.utc).isoformat()
        until = datetime.fromtimestamp(since_s + a.days * 86400, timezone.utc).isoformat()
        size = sum(f.stat().st_size for f in (work / "data").rglob("part-*"))
        print(f"setup {t_setup:.0f}s (champion v{version}); window {since} .. {until}: {w['prediction_rows']:,} predictions, "
              f"{w['request_rows']:,} requests in {sum(w['files'].values())} files ({size / 1e6:.0f} MB), written in {t_write:.0f}s",
              flush=True)

        cand_wall, cand_rss, cand_out, cand_rc = run_child(
            [str(BIN / "sentiment-nb"), "drift", "--since", since, "--until", until, "--json", "--no-alert"], env, str(work))
        if cand_rc not in (0, 3): sys.exit(f"the drift job failed with status {cand_rc}")
        cand = json.loads(cand_out)
        out = work / "baseline"; out.mkdir()
        base_wall, base_rss, base_out, base_rc = run_child(
            [sys.executable, "-c", BASELINE, since, until, str(version), str(out)], env, str(work))
        if base_rc != 0: sys.exit(f"the baseline failed with status {base_rc}")
        base = json.loads(base_out.strip().splitlines()[-1])

        print(f"\n{'':<34}{'wall s':>8}{'peak RSS MB':>13}  verdict")
        print(f"{'sentiment-nb drift (stream+sample)':<34}{cand_wall:>8.1f}{cand_rss / 1e6:>13.0f}  "
              f"{'drift' if cand['drift'] else 'no drift'} on a sample of {cand['predictions']['sampled']:,} of {cand['predictions']['rows']:,}")
        print(f"{'baseline (pandas, no sampling)':<34}{base_wall:>8.1f}{base_rss / 1e6:>13.0f}  "
              f"{'drift' if base['drift'] else 'no drift'} on all {base['rows']:,}")
        print(f"drift job phases (s, in process, after {cand_wall - cand['seconds']:.1f}s of start-up and imports): "
              + ", ".join(f"{k} {v}" for k, v in cand["timings_s"].items()))
        print(f"\n{'column':<18}{'sampled score':>14}{'exact score':>13}")
        for c, v in cand["columns"].items():
            print(f"{c:<18}{v['score']:>14.4f}{base['columns'][c]['score']:>13.4f}")
        res = {"rows": cand["predictions"]["rows"], "requests": cand["ops"]["requests"], "files": sum(w["files"].values()),
               "drift_seconds": round(cand_wall, 1), "drift_peak_rss_mb": round(cand_rss / 1e6),
               "drift_phases_s": cand["timings_s"],
               "baseline": "pandas read_log of the whole window + Evidently on every row",
               "baseline_seconds": round(base_wall, 1), "baseline_peak_rss_mb": round(base_rss / 1e6),
               "speedup": round(base_wall / cand_wall, 2), "rss_ratio": round(base_rss / cand_rss, 2),
               "same_verdict": cand["drift"] == base["drift"],
               "max_score_gap": round(max(abs(v["score"] - base["columns"][c]["score"]) for c, v in cand["columns"].items()), 4),
               "target_seconds": TARGET_SECONDS, "target_rss_mb": TARGET_RSS_BYTES / 1e6,
               "meets_targets": cand_wall <= TARGET_SECONDS and cand_rss <= TARGET_RSS_BYTES}
        print(f"\nspeed-up {res['speedup']}x, RSS {res['rss_ratio']}x lower; targets (<= {TARGET_SECONDS:.0f} s, "
              f"<= {TARGET_RSS_BYTES / 1e9:.0f} GB): {'met' if res['meets_targets'] else 'NOT met'}")
        print("RESULT " + json.dumps(res))
    finally:
        srv.stop()
        if a.keep: print(f"kept {work}", file=sys.stderr)
        else: shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
