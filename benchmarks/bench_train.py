"""Training-step benchmark: GaitGL + GIL vs GaitGL + triplet, fp32 vs AMP, eager vs torch.compile.

``python benchmarks/bench_train.py [--quick] [--repeats N] [--compile]`` builds the trainer of the embedded
``small`` configs on a generated ``tiny`` data set (only its identities are used) and times ``train_step`` on
fixed random batches of the preset's shape (P×K clips × frames × 32×22), every variant interleaved in the same
loop so machine noise hits all of them alike; it prints medians and ratios to the first row.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import torch

from gil.data.syngait import generate
from gil.runs import embedded_config
from gil.train import Trainer


def build(root: Path, loss: str, amp: str, compile_: bool, device: str) -> Trainer:
    config = embedded_config(
        loss, data_root=root, device=device, overrides={"trainer.amp": amp, "trainer.compile": compile_}
    )
    return Trainer(config, root.parent / f"run-{loss}-{amp}-{compile_}", progress=False)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer repeats, smaller batch")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--compile", action="store_true", help="also time torch.compile (minutes of compiling)")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    args = parser.parse_args(argv)
    repeats = 3 if args.quick else max(5, args.repeats)
    variants = {
        "GaitGL + triplet, fp32, eager": ("triplet", "off", False),
        "GaitGL + GIL margin, fp32, eager": ("gil_margin", "off", False),
        "GaitGL + GIL softmax, fp32, eager": ("gil_softmax", "off", False),
        "GaitGL + GIL margin, bf16 autocast, eager": ("gil_margin", "bf16", False),
    }
    if args.compile:
        variants["GaitGL + GIL margin, fp32, torch.compile"] = ("gil_margin", "off", True)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "tiny"
        generate("tiny", root, workers=1, progress=False)
        trainers = {name: build(root, *spec, args.device) for name, spec in variants.items()}
        first = next(iter(trainers.values())).config.data
        clips = 16 if args.quick else first.p * first.k
        gen = torch.Generator().manual_seed(0)
        sils = (torch.rand(clips, first.frames, *first.resolution, generator=gen) > 0.5).float().to(args.device)
        labels = torch.arange(clips // first.k).repeat_interleave(first.k)[:clips].to(args.device)
        times: dict[str, list[float]] = {name: [] for name in trainers}
        for trainer in trainers.values():  # warm-up (and compilation)
            trainer.train_step(sils, labels)
        for _ in range(repeats):
            for name, trainer in trainers.items():
                if args.device.startswith("cuda"):
                    torch.cuda.synchronize()
                tic = time.perf_counter()
                trainer.train_step(sils, labels)
                if args.device.startswith("cuda"):
                    torch.cuda.synchronize()
                times[name].append(time.perf_counter() - tic)
    medians = {name: statistics.median(values) for name, values in times.items()}
    reference = next(iter(medians.values()))
    print(
        f"# bench_train on {args.device}, torch {torch.__version__}, {torch.get_num_threads()} threads; "
        f"batch {clips} clips x {first.frames} frames x {first.resolution[0]}x{first.resolution[1]}; "
        f"medians of {repeats} interleaved repeats"
    )
    print("| variant | s / step | x first row |\n|---|---|---|")
    for name, value in medians.items():
        print(f"| {name} | {value:.3f} | {value / reference:.2f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
