"""GaitSet with the study's loss variants, and GIL margin against the uniformity weight λ_u (GPU check).

``python results/gpu/gaitset_uniformity.py variants|uniformity DATA_ROOT [--budget SECONDS]`` appends one JSON line
per run to ``$OUT`` (or ``results/gpu``)/``gaitset_{variants|uniformity}.jsonl``. The committed files came from
this procedure on one H200 (torch 2.11.0+cu130, bf16 autocast via ``amp: auto``), data from
``gil data generate --preset small --out DATA_ROOT``; each run is the study's cell config (``embedded/small_triplet``
with the variant's loss, 300 steps) with ``model.name=gaitset`` (or ``gaitgl``), ``data.workers=6``,
``trainer.device=cuda``. A run stops being started once ``--budget`` seconds have passed.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import numpy as np
import pandas as pd

from gil import config as config_lib
from gil.evaluate.run import evaluate_run
from gil.experiments import study
from gil.metrics import batch_geometry
from gil.train import train


def jobs(what: str) -> list[tuple[str, str, float | None, int]]:
    """(backbone, variant, uniformity weight or None for the variant's own, seed) in the order they ran."""
    if what == "variants":
        return [
            job
            for seed in (0, 1)
            for job in [("gaitset", v, None, seed) for v in study.VARIANTS]
            + [("gaitgl", v, None, seed) for v in ("triplet", "gil_margin")]
        ]
    return [("gaitset", "gil_margin", w, s) for s in (0, 1, 2) for w in (0.1, 0.03, 0.01, 0.0)] + [
        ("gaitgl", "gil_margin", w, 0) for w in (0.1, 0.0)
    ]


def run_one(backbone: str, variant: str, weight: float | None, seed: int, root: str, work: Path) -> dict:
    overrides = {"data.root": root, "model.name": backbone, "data.workers": 6, "trainer.device": "cuda"}
    values = study.variant_config(variant, seed, overrides=overrides).to_dict()
    if weight is not None:
        values["loss"]["terms"]["gil"]["uniformity_weight"] = weight
    config = config_lib.from_dict(values)
    run_dir = work / f"{backbone}-{variant}-{weight}-{seed}"
    tic = time.time()
    train(config, run_dir, resume=False, progress=False, batch_metrics=batch_geometry)
    report = evaluate_run(run_dir, device="cuda", progress=False)
    embeddings = np.load(run_dir / "embeddings.npz")["embeddings"]  # [n, p, c]
    last = pd.read_csv(run_dir / "metrics.csv").iloc[-1]
    return {
        "backbone": backbone,
        "variant": variant,
        "uniformity_weight": values["loss"]["terms"].get("gil", {}).get("uniformity_weight"),
        "seed": seed,
        **{cond: round(value, 2) for cond, value in report["summary"].items()},
        "mean_part_norm": round(float(np.linalg.norm(embeddings, axis=-1).mean()), 3),
        "last_margin": round(float(last.get("gil/margin", float("nan"))), 4),
        "last_uniformity": round(float(last.get("gil/uniformity", float("nan"))), 3),
        "last_active": round(float(last.get("gil/active_fraction", float("nan"))), 3),
        "seconds": round(time.time() - tic, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("what", choices=["variants", "uniformity"])
    parser.add_argument("data_root")
    parser.add_argument("--budget", type=float, default=float("inf"), help="start no run after this many seconds")
    args = parser.parse_args()
    out = Path(os.environ.get("OUT", Path(__file__).parent)) / f"gaitset_{args.what}.jsonl"
    start = time.time()
    for job in jobs(args.what):
        if time.time() - start > args.budget:
            print("budget reached, stopping")
            break
        row = run_one(*job, root=args.data_root, work=Path("/tmp/gaitset_uniformity"))
        print(json.dumps(row), flush=True)
        with open(out, "a") as handle:
            handle.write(json.dumps(row) + "\n")


if __name__ == "__main__":
    main()
