"""Data pipeline at full dataset scale: ingest -> preprocess -> split on 3.6M training and 400k test rows.

The corpus is built from the real sample (../shared/data/amazon_polarity/sample.csv.gz): each synthetic row resamples
a real review of the same split (its title and label kept) and perturbs its text, so that duplicates stay rare:
10% word dropout plus at least one word replaced by a random word of the sample's vocabulary. It is written in the
Kaggle layout of kritanjalijain/amazon-reviews (train.csv / test.csv: no header, every field quoted, polarity 1/2),
the largest plain-text form of the dataset, or with `--format fasttext` as train.ft.txt.bz2 / test.ft.txt.bz2.

Each step runs in its own child process (as `sentiment-nb` would), so the figures are that step's own: wall time,
rows/s, CPU time and peak RSS (from `os.wait4`). The machine may be shared: the CPU seconds and the load average
printed with the result tell how much of the wall time was waiting for a core. The baseline, measured in the same run on the same files, is the parse floor:
Arrow's streaming CSV reader reading the corpus with no validation and no output (`--format csv` only).

    .venv/bin/python bench/data_scale.py                 # full scale (3.6M + 400k rows), a few minutes
    .venv/bin/python bench/data_scale.py --rows 200000   # quick check (test rows = rows / 9)
    .venv/bin/python bench/data_scale.py --workdir /tmp/c --keep [--reuse]   # keep / reuse the corpus (about 160 s to build)

Targets on a 2-core, 24 GiB machine: the whole pass (ingest + preprocess + split) in at most 180 s, peak RSS at
most 4 GB. The last line is `RESULT {json}`.
"""
from __future__ import annotations

import argparse
import bz2
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
TARGET_SECONDS, TARGET_RSS_BYTES = 180.0, 4e9
BLOCK = 200_000


def perturbed_rows(base, n: int, rng, vocab):
    "Yield tables (polarity, title, text) of resampled, perturbed reviews, BLOCK rows at a time."
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc
    words = pc.split_pattern(pa.array(base["content"].to_numpy(), pa.string()), " ")
    titles = pa.array(base["title"].to_numpy(), pa.string())
    polarity = pa.array((base["label"].to_numpy() + 1).astype(str), pa.string())
    done = 0
    while done < n:
        m = min(BLOCK, n - done)
        idx = pa.array(rng.integers(0, len(base), m))
        lists = words.take(idx)
        flat = pc.list_flatten(lists)
        parent = pc.list_parent_indices(lists).to_numpy()
        counts = np.bincount(parent, minlength=m)
        starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
        sub = rng.random(len(flat)) < 0.02
        sub[starts + (rng.random(m) * counts).astype(np.int64)] = True          # at least one substitution per row
        flat = pc.if_else(pa.array(sub), vocab.take(pa.array(rng.integers(0, len(vocab), len(flat)))), flat)
        keep = rng.random(len(flat)) >= 0.10                                     # word dropout
        keep[starts] |= ~keep[starts] & (counts == 1)                            # never empty a one-word text
        offsets = np.concatenate([[0], np.cumsum(np.bincount(parent[keep], minlength=m))]).astype(np.int32)
        text = pc.binary_join(pa.ListArray.from_arrays(pa.array(offsets), flat.filter(pa.array(keep))), " ")
        yield pa.table({"polarity": polarity.take(idx), "title": titles.take(idx), "text": text})
        done += m


def build_corpus(out: Path, rows: int, test_rows: int, fmt: str, seed: int = 0) -> list[Path]:
    "Write the corpus (runs in a child process, so that its memory does not count in the steps' peak RSS)."
    import numpy as np
    import pandas as pd
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.csv as pcsv
    sample = pd.read_csv(SAMPLE, keep_default_na=False)
    vocab = pc.unique(pc.list_flatten(pc.split_pattern(pa.array(sample["content"].to_numpy(), pa.string()), " ")))
    rng = np.random.default_rng(seed)
    files = []
    for split, n in (("train", rows), ("test", test_rows)):
        base = sample[sample["split"] == split]
        if fmt == "csv":
            path = out / f"{split}.csv"
            with pcsv.CSVWriter(path, pa.schema([("polarity", pa.string()), ("title", pa.string()), ("text", pa.string())]),
                                write_options=pcsv.WriteOptions(include_header=False, quoting_style="all_valid")) as w:
                for t in perturbed_rows(base, n, rng, vocab): w.write_table(t)
        else:
            path = out / f"{split}.ft.txt.bz2"
            with bz2.open(path, "wb", compresslevel=1) as f:
                for t in perturbed_rows(base, n, rng, vocab):
                    lines = pc.binary_join_element_wise(pc.binary_join_element_wise("__label__", t["polarity"], ""),
                                                        pc.binary_join_element_wise(t["title"], t["text"], ": "), " ")
                    f.write(("\n".join(lines.to_pylist()) + "\n").encode())
        files.append(path)
    return files


def run_child(code: str, env: dict) -> dict:
    "Run `code` in a child Python; return its JSON answer with wall seconds and peak RSS (bytes) of that process."
    t0 = time.monotonic()
    p = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, env=env, cwd=ROOT)
    out = p.stdout.read()
    _, status, usage = os.wait4(p.pid, 0)
    p.returncode = os.waitstatus_to_exitcode(status)
    if p.returncode != 0: raise SystemExit(f"child failed with status {p.returncode}:\n{code}")
    res = json.loads(out.decode().strip().splitlines()[-1])
    return {**res, "wall_s": round(time.monotonic() - t0, 2), "cpu_s": round(usage.ru_utime + usage.ru_stime, 2),
            "peak_rss_bytes": usage.ru_maxrss * 1024}


FLOOR = """
import json, time, pyarrow as pa, pyarrow.csv as pcsv
t = time.monotonic(); n = 0
for f in {files!r}:
    r = pcsv.open_csv(f, read_options=pcsv.ReadOptions(column_names=["a", "b", "c"], block_size=32 << 20),
                      parse_options=pcsv.ParseOptions(newlines_in_values=True),
                      convert_options=pcsv.ConvertOptions(column_types={{k: pa.binary() for k in "abc"}}))
    for b in r: n += b.num_rows
print(json.dumps({{"rows": n, "s": time.monotonic() - t}}))
"""
STEP = """
import json, time
from sentiment_nb.data import ingest, preprocess, split
t = time.monotonic()
m = {call}
rows = {rows}
print(json.dumps({{"rows": rows, "s": time.monotonic() - t, "detail": {detail}}}))
"""


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rows", type=int, default=3_600_000, help="training rows (default 3,600,000)")
    ap.add_argument("--test-rows", type=int, default=None, help="test rows (default rows / 9: 400,000 at full scale)")
    ap.add_argument("--format", choices=["csv", "fasttext"], default="csv")
    ap.add_argument("--workdir", default=None, help="where to build the corpus and data root (default: a temp dir, removed)")
    ap.add_argument("--keep", action="store_true", help="keep the work dir")
    ap.add_argument("--reuse", action="store_true", help="reuse a corpus already built in --workdir (same --rows)")
    ap.add_argument("--build-only", action="store_true", help=argparse.SUPPRESS)
    a = ap.parse_args(argv)
    if a.build_only:                                   # the child that writes the corpus
        files = build_corpus(Path(a.workdir), a.rows, a.test_rows, a.format)
        print(json.dumps([str(f) for f in files])); return 0
    test_rows = a.test_rows if a.test_rows is not None else a.rows // 9
    work = Path(a.workdir or tempfile.mkdtemp(prefix="snb-bench-data-"))
    work.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "SNB_DATA_ROOT": str(work / "data"), "PYTHONUNBUFFERED": "1"}
    try:
        t = time.monotonic()
        names = ["train.csv", "test.csv"] if a.format == "csv" else ["train.ft.txt.bz2", "test.ft.txt.bz2"]
        if a.reuse and all((work / n).exists() for n in names):
            files = [work / n for n in names]
        else:
            built = subprocess.run([sys.executable, __file__, "--build-only", "--workdir", str(work), "--rows", str(a.rows),
                                    "--test-rows", str(test_rows), "--format", a.format],
                                   capture_output=True, text=True, check=True)
            files = [Path(f) for f in json.loads(built.stdout.strip().splitlines()[-1])]
        size = sum(f.stat().st_size for f in files)
        print(f"corpus: {a.rows:,} train + {test_rows:,} test rows, {a.format}, {size / 1e9:.2f} GB "
              f"in {time.monotonic() - t:.0f}s ({work})", flush=True)
        results = {}
        if a.format == "csv":
            results["baseline: arrow csv parse floor"] = run_child(FLOOR.format(files=[str(f) for f in files]), env)
        src = [str(f) for f in files]
        steps = {
            "ingest": (f"ingest({src!r})", "sum(m['rows_out'].values()) + m['quarantined']['total']",
                       "{'rows_out': m['rows_out'], 'quarantined': m['quarantined']['by_reason'], 'seconds': m['seconds']}"),
            "preprocess": ("preprocess()", "sum(o['rows'] for o in m['outputs'].values())",
                           "{'repeated_ids': {k: o['repeated_ids'] for k, o in m['outputs'].items()}}"),
            "split": ("split()", "m['input']['rows']", "{'sizes': sorted({b['rows'] for b in m['batches']})}"),
        }
        for name, (call, rows, detail) in steps.items():
            results[name] = run_child(STEP.format(call=call, rows=rows, detail=detail), env)
            r = results[name]
            print(f"{name:>12}: {r['wall_s']:7.1f}s wall ({r['s']:.1f}s in the step, {r['cpu_s']:.1f}s CPU), "
                  f"{r['rows'] / r['s']:>10,.0f} rows/s, peak RSS {r['peak_rss_bytes'] / 2**30:.2f} GiB  {r.get('detail', '')}",
                  flush=True)
        pipeline = [results[k] for k in steps]
        total = sum(r["wall_s"] for r in pipeline)
        cpu = sum(r["cpu_s"] for r in pipeline)
        peak = max(r["peak_rss_bytes"] for r in pipeline)
        floor = results.get("baseline: arrow csv parse floor")
        if floor:
            print(f"    baseline: {floor['wall_s']:7.1f}s wall ({floor['s']:.1f}s reading, {floor['cpu_s']:.1f}s CPU), "
                  f"{floor['rows'] / floor['s']:>10,.0f} rows/s, "
                  f"peak RSS {floor['peak_rss_bytes'] / 2**30:.2f} GiB  (Arrow CSV parse, no validation, no output)")
            print(f"ingest / parse floor: {results['ingest']['s'] / floor['s']:.2f}x the time")
        ok = total <= TARGET_SECONDS and peak <= TARGET_RSS_BYTES
        print(f"whole pass: {total:.1f}s (target <= {TARGET_SECONDS:.0f}s), peak RSS {peak / 1e9:.2f} GB (target <= 4 GB): "
              f"{'PASS' if ok else 'FAIL'}; {cpu:.0f}s CPU in all; load average {os.getloadavg()[0]:.1f} on "
              f"{os.cpu_count()} cores (other work shares them)")
        out = {"bench": "data_scale", "format": a.format, "rows_train": a.rows, "rows_test": test_rows, "corpus_bytes": size,
               "steps": {k: {"wall_s": r["wall_s"], "step_s": round(r["s"], 2), "cpu_s": r["cpu_s"], "rows": r["rows"],
                             "rows_per_s": round(r["rows"] / r["s"]), "peak_rss_gb": round(r["peak_rss_bytes"] / 1e9, 3)}
                         for k, r in results.items()},
               "total_s": round(total, 1), "total_cpu_s": round(cpu, 1), "peak_rss_gb": round(peak / 1e9, 3),
               "ingest_vs_parse_floor": round(results["ingest"]["s"] / floor["s"], 2) if floor else None,
               "targets": {"total_s": TARGET_SECONDS, "peak_rss_gb": TARGET_RSS_BYTES / 1e9}, "pass": ok,
               "loadavg_1m": round(os.getloadavg()[0], 2), "cpus": os.cpu_count()}
        print("RESULT " + json.dumps(out))
        return 0 if ok else 1
    finally:
        if not a.keep and not a.workdir: shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
