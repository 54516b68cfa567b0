"""The data pipeline at process level: the `sentiment-nb` CLI on the real samples, bad inputs, S3 on a real
moto_server, and the download code against a local HTTP stand-in for the Hugging Face Hub and Kaggle APIs."""
from __future__ import annotations

import base64
import bz2
import hashlib
import io
import json
import os
import subprocess
import sys
import threading
import time
import zipfile
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from sentiment_nb import config
from sentiment_nb.cli import main
from sentiment_nb.config import DataPaths, project_home, sha256_file
from sentiment_nb.data import ingest, prepare_data

ROOT = project_home()
SHARED = ROOT.parent / "shared" / "data" / "amazon_polarity"
SAMPLE, FORMATS = SHARED / "sample.csv.gz", SHARED / "formats"
CLI = next(p for p in (ROOT / ".venv" / "bin" / "sentiment-nb", Path(sys.executable).parent / "sentiment-nb") if p.exists())


def cli(*args, env: dict | None = None, timeout: float = 120) -> subprocess.CompletedProcess:
    "Run `sentiment-nb ARGS` as a separate process."
    e = {**os.environ, **(env or {})}
    e.pop("SNB_DATA_ROOT", None)
    return subprocess.run([str(CLI), *map(str, args)], capture_output=True, text=True, env=e, timeout=timeout, cwd=ROOT, check=False)


def run_main(capsys, *args) -> tuple[int, str, str]:
    "Run `sentiment-nb ARGS` in this process (the console script's own entry point): exit status, stdout, stderr."
    capsys.readouterr()
    rc = main([str(a) for a in args])
    out = capsys.readouterr()
    return rc, out.out, out.err


def files_digest(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): sha256_file(str(p)) for p in sorted(root.rglob("*")) if p.is_file()}


def batch_ids(root: str, n: int = 10) -> list[np.ndarray]:
    return [pq.read_table(DataPaths(root).batch(k), columns=["id"])["id"].to_numpy() for k in range(n)]


# --- the real sample through the CLI -------------------------------------------------------------------------------

def test_cli_ingest_preprocess_split_on_the_sample(tmp_path, sample_path):
    root = tmp_path / "data"
    r = cli("ingest", "--source", sample_path, "--data-root", root)
    assert r.returncode == 0, r.stderr
    assert "raw/train.parquet: 14,980 rows (7,707 negative, 7,273 positive)" in r.stdout
    assert "raw/test.parquet: 12,358 rows (6,065 negative, 6,293 positive)" in r.stdout
    assert "quarantined 0 rows" in r.stdout
    assert cli("preprocess", "--data-root", root).returncode == 0
    r = cli("split", "--data-root", root)
    assert r.returncode == 0 and "10 batches of 1,498-1,498 rows" in r.stdout, r.stdout + r.stderr
    ids = batch_ids(str(root))
    train = pq.read_table(DataPaths(str(root)).processed("train"))
    every = np.concatenate(ids)
    assert len(every) == len(np.unique(every)) == train.num_rows == 14980      # disjoint, every row exactly once
    assert set(every) == set(train["id"].to_numpy())
    test = pq.read_table(DataPaths(str(root)).test_set)
    assert test.num_rows == 12358 and test["full_text"][0].as_py().startswith("great cd my lovely pat")
    m = json.loads((root / "raw" / "manifest.json").read_text())
    assert m["inputs"][0]["sha256"] == sha256_file(str(sample_path))
    assert m["outputs"]["train"]["sha256"] == sha256_file(str(root / "raw" / "train.parquet"))
    labels = [json.loads((root / "batches" / "manifest.json").read_text())["batches"][k]["labels"] for k in range(10)]
    assert all(abs(lab["positive"] - 7273 / 10) <= 1 for lab in labels)          # stratified to one row


def test_cli_help_names_data_root(capsys):
    for cmd, opt in (("ingest", "--limit"), ("preprocess", "--data-root"), ("split", "--n-batches")):
        with pytest.raises(SystemExit) as e: main([cmd, "--help"])
        out = capsys.readouterr().out
        assert e.value.code == 0 and "--data-root" in out and opt in out


# --- every layout in formats/ -----------------------------------------------------------------------------------

def _texts(path: Path) -> pd.Series:
    "The review texts of a formats/ file, read independently of sentiment_nb."
    if path.suffix == ".csv":
        hdr = path.name.startswith("hf_")
        d = pd.read_csv(path, header=0 if hdr else None, keep_default_na=False, dtype=str)
        return d["content"] if hdr else d[2]
    lines = [l.rstrip("\r") for l in path.read_text(encoding="utf-8").split("\n") if l.strip()]
    return pd.Series([l.split(" ", 1)[1].split(": ", 1)[-1] for l in lines])


def _expected(path: Path) -> tuple[int, int]:
    "(rows, distinct texts) of a formats/ file."
    texts = _texts(path)
    return len(texts), texts.nunique()


@pytest.mark.parametrize("name", sorted(p.name for p in FORMATS.iterdir()) if FORMATS.exists() else [])
def test_each_format_file_goes_through_the_pipeline(tmp_path, name):
    path = FORMATS / name
    rows, distinct = _expected(path)
    m = prepare_data(path, data_root=str(tmp_path))
    ing = m["ingest"]
    assert ing["rows_in"] == rows
    assert sum(ing["rows_out"].values()) == distinct
    assert ing["quarantined"]["by_reason"] == ({"duplicate": rows - distinct} if rows > distinct else {})
    assert 0.05 < ing["rows_out"]["test"] / distinct < 0.15                    # single file: text-hash holdout
    assert sum(b["rows"] for b in m["split"]["batches"]) == ing["rows_out"]["train"]
    assert len(np.unique(np.concatenate(batch_ids(str(tmp_path))))) == ing["rows_out"]["train"]


def test_formats_folder_and_pairs(tmp_path, capsys):
    # The folder: files are assigned by `train`/`test` in their names; reposts across files are duplicates.
    m = ingest(FORMATS, data_root=str(tmp_path))
    for sp in ("train", "test"):
        parts = [_texts(p) for p in sorted(FORMATS.iterdir()) if sp in p.name]
        assert m["rows_out"][sp] == pd.concat(parts).nunique()
    assert m["rows_in"] == sum(_expected(p)[0] for p in FORMATS.iterdir())
    assert m["rows_in"] == sum(m["rows_out"].values()) + m["quarantined"]["total"]
    # A pair: the known first rows of each split.
    rc, out, err = run_main(capsys, "ingest", "--source", FORMATS / "hf_train_head.csv", FORMATS / "hf_test_head.csv",
                            "--data-root", tmp_path)
    assert rc == 0, err
    assert pq.read_table(tmp_path / "raw" / "train.parquet")["title"][0].as_py() == "Stuning even for the non-gamer"
    assert pq.read_table(tmp_path / "raw" / "test.parquet")["title"][0].as_py() == "Great CD"
    assert "quarantined 1 rows (duplicate 1)" in out


# --- bad input ------------------------------------------------------------------------------------------------

def _bad_files(d: Path) -> dict[str, tuple[Path, str]]:
    d.mkdir(parents=True, exist_ok=True)
    hf = (FORMATS / "hf_test_head.csv").read_bytes()
    pq.write_table(pa.Table.from_pandas(pd.read_csv(FORMATS / "hf_test_head.csv", keep_default_na=False)), d / "ok.parquet")
    ft_bz2 = bz2.compress((FORMATS / "train_small.ft.txt").read_bytes())
    files = {
        "empty.csv": (b"", "is empty"),
        "header_only.csv": (b"label,title,content\n", "has a header but no rows"),
        "wrong_columns.csv": (b"user,rating,comment\nann,5,nice\n", "is not a review dataset"),
        "junk.csv": (os.urandom(200_000), "binary data"),
        "truncated.parquet": ((d / "ok.parquet").read_bytes()[: 2 * len(hf) // 5], "truncated or corrupt"),
        "truncated.ft.txt.bz2": (ft_bz2[: len(ft_bz2) // 2], "Truncated compressed stream"),
        "labels_5_7_9.csv": (b'"5","a","b"\n"7","c","d"\n"9","e","f"\n', "labels outside 1/2"),
    }
    out = {}
    for name, (data, msg) in files.items():
        (d / name).write_bytes(data); out[name] = (d / name, msg)
    out["missing.csv"] = (d / "missing.csv", "no such file")
    return out


def test_bad_files_fail_cleanly_and_leave_previous_outputs(tmp_path, capsys):
    root = tmp_path / "data"
    assert run_main(capsys, "ingest", "--source", FORMATS / "hf_test_head.csv", "--data-root", root)[0] == 0
    before = files_digest(root)
    bad = _bad_files(tmp_path / "bad")
    for name, (path, msg) in bad.items():                                       # through the console script's entry point
        rc, out, err = run_main(capsys, "ingest", "--source", path, "--data-root", root)
        assert rc == 2 and err.startswith("error: ") and name in err and msg in err, (name, out, err)
        assert files_digest(root) == before, name                              # nothing half-written, nothing replaced
    for name in ("junk.csv", "truncated.ft.txt.bz2"):                           # and as separate processes
        r = cli("ingest", "--source", bad[name][0], "--data-root", root)
        assert r.returncode == 2 and r.stderr.startswith("error: ") and name in r.stderr, r.stderr
        assert "Traceback" not in r.stderr
    assert files_digest(root) == before


def test_bad_rows_are_quarantined_with_their_reason(tmp_path):
    good = (FORMATS / "kaggle_test_head.csv").read_bytes().split(b"\n")[:300]
    bad = [b'"0","zero","Polarity 0 is outside the Kaggle domain 1/2."',
           b'"2","nul","A NUL \x00 byte."',
           b'"1","latin-1","Invalid UTF-8: \xe9t\xe9."',
           b'"2","huge","' + b"x" * 10_000_000 + b'"',
           b'"1","",""',
           b'"1","too","many","fields"']
    src = tmp_path / "bad_rows.csv"
    src.write_bytes(b"\n".join(good[:150] + bad + good[150:]) + b"\n")
    r = cli("ingest", "--source", src, "--data-root", tmp_path / "data")
    assert r.returncode == 0, r.stderr
    assert ("quarantined 6 rows (malformed_row 1, invalid_utf8 1, nul_byte 1, label_domain 1, empty_text 1, too_long 1)"
            in r.stdout), r.stdout
    q = pq.read_table(tmp_path / "data" / "raw" / "quarantine.parquet").to_pandas().set_index("reason")
    assert q.loc["label_domain", "row"] == 151 and q.loc["label_domain", "label"] == "0"
    assert q.loc["nul_byte", "text"] == "A NUL \x00 byte." and q.loc["invalid_utf8", "text"] == "Invalid UTF-8: \\xe9t\\xe9."
    assert len(q.loc["too_long", "text"]) == 10_000_000 and q.loc["too_long", "file"] == str(src)
    m = json.loads((tmp_path / "data" / "raw" / "manifest.json").read_text())
    assert sum(m["rows_out"].values()) == 300 and m["rows_in"] == 306


# --- sources that need the network ----------------------------------------------------------------------------

def test_public_sources_fail_fast_offline(tmp_path):
    env = {"SNB_HF_ENDPOINT": "http://127.0.0.1:9", "SNB_KAGGLE_ENDPOINT": "http://127.0.0.1:9", "SNB_CACHE_DIR": str(tmp_path)}
    t = time.monotonic()
    r = cli("ingest", "--source", "hf", "--data-root", tmp_path / "data", env=env)
    assert r.returncode == 2 and "not reachable" in r.stderr and "--source PATH" in r.stderr, r.stderr
    assert time.monotonic() - t < 20 and not (tmp_path / "data").exists()


class _Hub(BaseHTTPRequestHandler):
    "Answers like the Hugging Face Hub (tree API, resolve/) and the Kaggle v1 download API, from local files."
    files: dict[str, bytes] = {}  # noqa: RUF012 (filled by the fixture)
    auth = "Basic " + base64.b64encode(b"ann:secret").decode()

    def do_GET(self):
        p = self.path
        if p.startswith("/api/v1/datasets/download/") and self.headers.get("Authorization") != self.auth:
            return self._send(401, b"unauthorized")
        if p.startswith("/api/datasets/fancyzhx/amazon_polarity/tree/refs%2Fconvert%2Fparquet/amazon_polarity/"):
            split = p.rsplit("/", 1)[1]
            path = f"amazon_polarity/{split}/0000.parquet"
            data = self.files[path]
            return self._send(200, json.dumps([{"type": "file", "path": path, "size": len(data),
                                                "lfs": {"oid": hashlib.sha256(data).hexdigest(), "size": len(data)}}]).encode())
        key = p.split("/resolve/refs%2Fconvert%2Fparquet/", 1)[-1] if "/resolve/" in p else p.rsplit("/", 1)[1]
        if key in self.files: return self._send(200, self.files[key])
        self._send(404, b"not found")

    def _send(self, code, body):
        self.send_response(code); self.send_header("Content-Length", str(len(body))); self.end_headers(); self.wfile.write(body)

    def log_message(self, *a): pass


@pytest.fixture
def hub():
    def parquet(csv):
        b = io.BytesIO(); pq.write_table(pa.Table.from_pandas(pd.read_csv(csv, keep_default_na=False), preserve_index=False), b)
        return b.getvalue()
    z = io.BytesIO()
    with zipfile.ZipFile(z, "w", zipfile.ZIP_DEFLATED) as f: f.write(FORMATS / "kaggle_train_head.csv", "train.csv")
    _Hub.files = {"amazon_polarity/train/0000.parquet": parquet(FORMATS / "hf_train_head.csv"),
                  "amazon_polarity/test/0000.parquet": parquet(FORMATS / "hf_test_head.csv"),
                  "train.csv": z.getvalue(), "test.csv": (FORMATS / "kaggle_test_head.csv").read_bytes(),
                  "train.ft.txt.bz2": bz2.compress((FORMATS / "train_small.ft.txt").read_bytes()),
                  "test.ft.txt.bz2": bz2.compress((FORMATS / "test_head.ft.txt").read_bytes())}
    srv = ThreadingHTTPServer(("127.0.0.1", 0), _Hub)
    th = threading.Thread(target=srv.serve_forever, daemon=True); th.start()
    yield f"http://127.0.0.1:{srv.server_address[1]}"
    srv.shutdown(); srv.server_close(); th.join(5)


def test_download_sources_then_reuse_the_cache(tmp_path, hub, capsys, monkeypatch):
    env = {"SNB_HF_ENDPOINT": hub, "SNB_KAGGLE_ENDPOINT": hub, "SNB_CACHE_DIR": str(tmp_path / "cache")}
    r = cli("ingest", "--source", "hf", "--data-root", tmp_path / "hf", env=env)
    assert r.returncode == 0, r.stderr
    assert "raw/train.parquet: 4,999 rows" in r.stdout and "raw/test.parquet: 556 rows" in r.stdout
    assert (tmp_path / "cache" / "hf" / "amazon_polarity" / "train" / "0000.parquet").exists()
    for k, v in env.items(): monkeypatch.setenv(k, v)
    for k in ("KAGGLE_USERNAME", "KAGGLE_KEY"): monkeypatch.delenv(k, raising=False)
    rc, out, err = run_main(capsys, "ingest", "--source", "kaggle", "--data-root", tmp_path / "kg")
    assert rc == 2 and "KAGGLE_USERNAME" in err                                 # credentials come from the environment
    monkeypatch.setenv("KAGGLE_USERNAME", "ann"); monkeypatch.setenv("KAGGLE_KEY", "secret")
    for source, train, test in (("kaggle", 3000, 3000), ("fasttext", 5000, 6457)):
        rc, out, err = run_main(capsys, "ingest", "--source", source, "--data-root", tmp_path / source)
        assert rc == 0, err
        assert f"raw/train.parquet: {train:,} rows" in out and f"raw/test.parquet: {test:,} rows" in out
    assert not list((tmp_path / "cache" / "kaggle").glob("*.download"))         # the zip was unpacked
    # Offline now: the completed downloads are read from the cache.
    for k in ("SNB_HF_ENDPOINT", "SNB_KAGGLE_ENDPOINT"): monkeypatch.setenv(k, "http://127.0.0.1:9")
    rc, out, err = run_main(capsys, "ingest", "--source", "hf", "--data-root", tmp_path / "again")
    assert rc == 0 and "raw/train.parquet: 4,999 rows" in out, err


# --- S3 -------------------------------------------------------------------------------------------------------

def test_unreachable_s3_endpoint_fails_within_seconds(tmp_path, capsys, monkeypatch):
    env = {"SNB_S3_ENDPOINT_URL": "http://127.0.0.1:9", "AWS_ACCESS_KEY_ID": "x", "AWS_SECRET_ACCESS_KEY": "x"}
    t = time.monotonic()
    r = cli("ingest", "--source", SAMPLE, "--data-root", "s3://sentiment-nb/run", env=env)
    assert r.returncode == 2 and "127.0.0.1:9" in r.stderr and "not reachable" in r.stderr, r.stderr
    assert "Traceback" not in r.stderr and time.monotonic() - t < 20
    for k, v in env.items(): monkeypatch.setenv(k, v)
    config._s3fs.cache_clear()
    for args in (["ingest", "--source", "s3://sentiment-nb/in/sample.csv.gz", "--data-root", tmp_path],
                 ["preprocess", "--data-root", "s3://sentiment-nb/run"], ["split", "--data-root", "s3://sentiment-nb/run"]):
        t = time.monotonic()
        rc, _, err = run_main(capsys, *args)
        assert rc == 2 and "not reachable" in err and time.monotonic() - t < 10, err
    config._s3fs.cache_clear()


def test_pipeline_on_an_s3_data_root(moto_s3, tmp_path, capsys):
    s3 = moto_s3.client()
    s3.upload_file(str(SAMPLE), "sentiment-nb", "input/sample.csv.gz")
    env, root = moto_s3.env, "s3://sentiment-nb/runs/one"
    r = cli("ingest", "--source", "s3://sentiment-nb/input/sample.csv.gz", "--data-root", root, "--limit", "2000", env=env)
    assert r.returncode == 0, r.stderr
    assert "raw/train.parquet: 2,000 rows" in r.stdout and "raw/test.parquet: 2,000 rows" in r.stdout
    for step in ("preprocess", "split"):                                       # moto_s3 set this process's environment
        rc, _, err = run_main(capsys, step, "--data-root", root)
        assert rc == 0, err
    keys = {o["Key"]: o["ETag"] for o in s3.list_objects_v2(Bucket="sentiment-nb", Prefix="runs/one/")["Contents"]}
    assert {f"runs/one/batches/batch_{k}.parquet" for k in range(10)} <= set(keys)
    assert {"runs/one/raw/manifest.json", "runs/one/processed/test.parquet", "runs/one/batches/manifest.json"} <= set(keys)
    ids = []
    for k in range(10):
        s3.download_file("sentiment-nb", f"runs/one/batches/batch_{k}.parquet", str(tmp_path / f"b{k}.parquet"))
        ids.append(pq.read_table(tmp_path / f"b{k}.parquet")["id"].to_numpy())
    assert sorted(map(len, ids)) == [200] * 10 and len(np.unique(np.concatenate(ids))) == 2000
    # A failing ingest against the same root leaves every object as it was.
    (tmp_path / "empty.csv").write_bytes(b"")
    rc, _, err = run_main(capsys, "ingest", "--source", tmp_path / "empty.csv", "--data-root", root)
    assert rc == 2 and "is empty" in err
    after = {o["Key"]: o["ETag"] for o in s3.list_objects_v2(Bucket="sentiment-nb", Prefix="runs/one/")["Contents"]}
    assert after == keys
