"""Benchmark: the CASIA-B protocol, vectorised (gil.evaluate.casia_b) vs per-probe Python loops.

Full-size CASIA-B test set of random embeddings: 50 subjects × 10 conditions × 11 views = 5,500
sequences, ``[5500, 64, 128]`` float32: 2,200 gallery (NM 01–04) and 3,300 probe sequences.
Rows, all measured in one run, medians of ``--repeats`` runs:

- ``per-probe loop``: for every probe, for every other gallery view, the distance row to that view's
  gallery (torch, same formula) and its argmin — the reference;
- ``per-probe numpy loop``: the same, written the textbook way in numpy (direct differences);
  always timed on every 20th probe and scaled to all probes (it takes minutes otherwise);
- ``per view pair (OpenGait-style)``: one distance matrix and argmin per (condition, probe view,
  gallery view), as OpenGait's ``single_view_gallery_evaluation``;
- ``casia_b rank-1`` and ``casia_b rank-1 + mAP`` (with rank-5/10 and mINP, from the same sort): this package.

``--quick`` times the per-probe loop on a subsample of probes and scales its time to all probes
(its cost is linear in the probes); the tables are checked equal on that subsample.
Run: ``PYTHONPATH=. python benchmarks/bench_eval.py [--quick]``.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import subprocess
import time
from collections.abc import Callable, Sequence

import numpy as np
import torch

from gil import evaluate as ev

CONDITIONS = [f"nm-0{i}" for i in range(1, 7)] + ["bg-01", "bg-02", "cl-01", "cl-02"]
VIEWS = [f"{18 * i:03d}" for i in range(11)]


def make_data(n_subjects: int = 50, p: int = 64, c: int = 128, seed: int = 0):
    """Random ``[n, p, c]`` float32 embeddings with CASIA-B's label structure (subject-dependent)."""
    rng = np.random.default_rng(seed)
    labels = [(f"{s:03d}", k, v) for s in range(n_subjects) for k in CONDITIONS for v in VIEWS]
    sub, cond, view = (np.array(t) for t in zip(*labels, strict=True))
    centre = rng.standard_normal((n_subjects, p, c), dtype=np.float32)
    s_idx = np.repeat(np.arange(n_subjects), len(CONDITIONS) * len(VIEWS))
    emb = centre[s_idx] + 1.5 * rng.standard_normal((len(sub), p, c), dtype=np.float32)
    return emb, sub, cond, view


def per_probe_loop(emb, sub, cond, view, probe_keep: np.ndarray) -> dict[str, np.ndarray]:
    """Reference: rank-1 tables (% , NaN diagonal) looping over probes one at a time."""
    x = torch.from_numpy(emb)
    gallery = np.isin(cond, ev.CASIA_B_GALLERY)
    gal = {v: (x[np.flatnonzero(gallery & (view == v))], sub[gallery & (view == v)]) for v in VIEWS}
    tables = {}
    for group, probe_conds in ev.CASIA_B_PROBES.items():
        hits, count = np.zeros((len(VIEWS), len(VIEWS))), np.zeros((len(VIEWS), len(VIEWS)))
        for i in np.flatnonzero(np.isin(cond, probe_conds) & probe_keep):
            a = VIEWS.index(view[i])
            for b, v2 in enumerate(VIEWS):
                if a == b:
                    continue
                g_x, g_sub = gal[v2]
                d = ev.pairwise_distance(x[i : i + 1], g_x)[0]  # [m]
                hits[a, b] += g_sub[int(d.argmin())] == sub[i]
                count[a, b] += 1
        with np.errstate(invalid="ignore"):
            tables[group] = 100.0 * hits / count
    return tables


def per_probe_numpy(emb, sub, cond, view, probe_keep: np.ndarray) -> dict[str, np.ndarray]:
    """Textbook reference: per probe, numpy direct differences ``sqrt(sum((x - g)²))``, mean over parts."""
    gallery = np.isin(cond, ev.CASIA_B_GALLERY)
    gal = {v: (emb[gallery & (view == v)], sub[gallery & (view == v)]) for v in VIEWS}
    tables = {}
    for group, probe_conds in ev.CASIA_B_PROBES.items():
        hits, count = np.zeros((len(VIEWS), len(VIEWS))), np.zeros((len(VIEWS), len(VIEWS)))
        for i in np.flatnonzero(np.isin(cond, probe_conds) & probe_keep):
            a = VIEWS.index(view[i])
            for b, v2 in enumerate(VIEWS):
                if a != b:
                    g_x, g_sub = gal[v2]
                    d = np.sqrt(((g_x - emb[i]) ** 2).sum(-1)).mean(-1)  # [m]
                    hits[a, b] += g_sub[int(d.argmin())] == sub[i]
                    count[a, b] += 1
        with np.errstate(invalid="ignore"):
            tables[group] = 100.0 * hits / count
    return tables


def per_view_pair(emb, sub, cond, view) -> dict[str, np.ndarray]:
    """OpenGait's structure: one distance matrix per (group, probe view, gallery view)."""
    x = torch.from_numpy(emb)
    gallery = np.isin(cond, ev.CASIA_B_GALLERY)
    tables = {}
    for group, probe_conds in ev.CASIA_B_PROBES.items():
        table = np.full((len(VIEWS), len(VIEWS)), np.nan)
        for a, v1 in enumerate(VIEWS):
            pm = np.isin(cond, probe_conds) & (view == v1)
            for b, v2 in enumerate(VIEWS):
                if a != b:
                    gm = gallery & (view == v2)
                    d = ev.pairwise_distance(x[np.flatnonzero(pm)], x[np.flatnonzero(gm)])
                    table[a, b] = 100.0 * np.mean(sub[gm][d.argmin(1).numpy()] == sub[pm])
        tables[group] = table
    return tables


def median_time(fn: Callable[[], object], repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def machine() -> str:
    try:
        lscpu = subprocess.run(["lscpu"], capture_output=True, text=True, check=False).stdout
        model = next((ln.split(":", 1)[1].strip() for ln in lscpu.splitlines() if ln.startswith("Model name")), "?")
    except OSError:
        model = platform.processor() or "?"
    cores = len(os.sched_getaffinity(0))
    return (
        f"CPU {model}, {torch.get_num_threads()} torch threads ({cores} cores available), "
        f"torch {torch.__version__}, numpy {np.__version__}, Python {platform.python_version()}"
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="per-probe loop on a 5%% probe subsample")
    parser.add_argument("--repeats", type=int, default=5, help="timed runs per row (median reported)")
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's)")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    emb, sub, cond, view = make_data()
    gallery = np.isin(cond, ev.CASIA_B_GALLERY)
    probes = np.flatnonzero(~gallery)
    keep, sparse = np.zeros(len(sub), dtype=bool), np.zeros(len(sub), dtype=bool)
    keep[probes[:: 20 if args.quick else 1]] = True  # probes the torch loop runs on
    sparse[probes[::20]] = True  # probes the numpy loop runs on
    print(f"# CASIA-B protocol, embeddings {list(emb.shape)} float32, {len(probes)} probes")
    print(f"# {machine()}; medians of {args.repeats} runs")

    # Correctness first (not timed): each reference against casia_b on the same probes.
    def table_diff(ref: dict[str, np.ndarray], probe_mask: np.ndarray) -> float:
        m = probe_mask | gallery
        ours = ev.casia_b(emb[m], sub[m], cond[m], view[m], compute_map=False)
        return max(float(np.nanmax(np.abs(ours.rank1[g].to_numpy() - ref[g]))) for g in ref)

    diffs = {
        "torch loop": table_diff(per_probe_loop(emb, sub, cond, view, keep), keep),
        "numpy loop": table_diff(per_probe_numpy(emb, sub, cond, view, sparse), sparse),
        "per view pair": table_diff(per_view_pair(emb, sub, cond, view), ~gallery),
    }
    print("# max |rank-1 table difference| vs casia_b (points): " + ", ".join(f"{k} {v:.1e}" for k, v in diffs.items()))

    def probes_scaled(fn: Callable[[], object], mask: np.ndarray) -> float:
        return median_time(fn, args.repeats) * len(probes) / int(mask.sum())

    loop_s = probes_scaled(lambda: per_probe_loop(emb, sub, cond, view, keep), keep)
    np_s = probes_scaled(lambda: per_probe_numpy(emb, sub, cond, view, sparse), sparse)
    rows = [
        ("per-probe torch loop" + (f", scaled from {int(keep.sum())} probes" if args.quick else ""), loop_s),
        (f"per-probe numpy loop, scaled from {int(sparse.sum())} probes", np_s),
        (
            "per view pair (OpenGait-style)",
            median_time(lambda: per_view_pair(emb, sub, cond, view), args.repeats),
        ),
        (
            "casia_b rank-1",
            median_time(lambda: ev.casia_b(emb, sub, cond, view, compute_map=False), args.repeats),
        ),
        ("casia_b rank-1 + mAP", median_time(lambda: ev.casia_b(emb, sub, cond, view), args.repeats)),
    ]
    print("\n| method | median s | vs torch per-probe loop | vs numpy per-probe loop |\n|---|---:|---:|---:|")
    for name, seconds in rows:
        print(f"| {name} | {seconds:.3f} | {loop_s / seconds:.1f}× | {np_s / seconds:.1f}× |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
