"""Data benchmarks: SynGait render speed, generation with 1 vs 2 worker processes, loader throughput.

``python benchmarks/bench_data.py [--quick]`` prints medians of ``--repeats`` runs, measured side by
side in one process, and the ratios between them.
"""

from __future__ import annotations

import argparse
import itertools
import statistics
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import torch

from gil.data.loader import build_train_loader
from gil.data.opengait import GaitDataset
from gil.data.syngait import PRESETS, _sequence, generate, render_sequence


def _median(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller workloads")
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args(argv)
    subjects = 2 if args.quick else 4
    preset = replace(PRESETS["tiny"], subjects=subjects, train_subjects=1, frames=(40, 40))
    frames_total = subjects * len(preset.conditions) * len(preset.views) * 40
    rows = []

    seq = _sequence(preset, 0, 0, 0, 5)
    t = _median(lambda: render_sequence(seq, preset), args.repeats * 4)
    rows.append(("render one 40-frame sequence (1 core)", t, 40 / t, "frames/s"))

    with tempfile.TemporaryDirectory() as tmp:
        counter = itertools.count()
        gen = {}
        for workers in (1, 2):
            gen[workers] = _median(
                lambda w=workers: generate(preset, Path(tmp) / f"g{next(counter)}", workers=w, progress=False),
                args.repeats,
            )
            rows.append(
                (
                    f"generate {frames_total} frames, {workers} worker(s)",
                    gen[workers],
                    frames_total / gen[workers],
                    "frames/s",
                )
            )
        ds = GaitDataset(Path(tmp) / "g0")
        for res in ((64, 44), (32, 22)):
            loader = iter(build_train_loader(ds, identities=subjects, per_identity=8, frames=30, resolution=res))
            t = _median(lambda it=loader: next(it), args.repeats * 2)
            rows.append(
                (
                    f"train batch {subjects}x8 clips x 30 frames at {res[0]}x{res[1]}",
                    t,
                    subjects * 8 / t,
                    "sequences/s",
                )
            )

    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads")
    print("| benchmark | median s | throughput | unit |\n|---|---|---|---|")
    for name, t, rate, unit in rows:
        print(f"| {name} | {t:.3f} | {rate:,.0f} | {unit} |")
    print(f"\nratio generate 2 workers / 1 worker (speed-up): {gen[1] / gen[2]:.2f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
