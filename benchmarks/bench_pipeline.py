"""The training pipeline in one table of ratios: loader vs step, GIL vs triplet, AMP, compile, generation workers.

``python benchmarks/bench_pipeline.py [--quick] [--repeats N] [--compile] [--write benchmarks/RESULTS.md]``

Everything is measured side by side in one process (training-step variants interleaved, so machine noise hits
them alike); every figure is a median of ``--repeats`` (>= 5) repeats, and each row is a ratio with its target:

- loader: sequences/s the DataLoader delivers for the paper's batch (8×16 clips × 30 frames × 64×44) from pkl
  files of CASIA-B-length sequences with the configured workers, over the sequences/s one training step consumes
  (the CPU preset here; the paper's GaitGL shape too when a GPU is present) — target >= 2;
- with a GPU, the training step at the paper's shape (full-width GaitGL, 8×8 clips, AMP): GIL margin and softmax /
  triplet (target <= 1.1) and the peak GPU memory;
- training step, CPU preset (GaitGL width 0.25, 8×4 clips × 30 × 32×22): GIL margin and softmax / triplet
  (target <= 1.1),
  bf16 autocast / fp32 and, with ``--compile``, torch.compile / eager (reported; no target on a CPU), and the
  trainer's per-step finiteness checks / a GIL step (target <= 0.05);
- SynGait generation, 2 workers / 1 worker speed-up (target: near-linear, >= 1.8 on 2 idle cores).

``--write`` appends the table with a description of the machine to ``benchmarks/RESULTS.md``.
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import statistics
import tempfile
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import torch

from gil import config as config_lib
from gil.data.loader import build_train_loader
from gil.data.opengait import GaitDataset
from gil.data.syngait import PRESETS, generate
from gil.experiments.runs import embedded_config
from gil.train import Trainer, checkpoint


def _median_seconds(fn: Callable[[], object], repeats: int) -> float:
    times = []
    for _ in range(repeats):
        tic = time.perf_counter()
        fn()
        times.append(time.perf_counter() - tic)
    return statistics.median(times)


def _sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def step_seconds(trainers: dict[str, Trainer], device: str, repeats: int) -> dict[str, float]:
    """Median seconds of one ``train_step`` per trainer, on a fixed random batch, interleaved round-robin."""
    data = next(iter(trainers.values())).config.data
    gen = torch.Generator().manual_seed(0)
    clips = data.identities * data.per_identity
    sils = (torch.rand(clips, data.frames, *data.resolution, generator=gen) > 0.5).float().to(device)
    labels = torch.arange(data.identities).repeat_interleave(data.per_identity).to(device)
    times: dict[str, list[float]] = {name: [] for name in trainers}
    for trainer in trainers.values():  # warm-up (and compilation)
        trainer.train_step(sils, labels)
    for _ in range(repeats):
        for name, trainer in trainers.items():
            _sync(device)
            tic = time.perf_counter()
            trainer.train_step(sils, labels)
            _sync(device)
            times[name].append(time.perf_counter() - tic)
    return {name: statistics.median(values) for name, values in times.items()}


def finiteness_seconds(trainer: Trainer, repeats: int) -> float:
    """Median seconds of the trainer's per-step checks (gradients after backward, weights after the update), on the
    gradients and weights its last ``train_step`` left (the same calls ``train_step`` makes)."""

    def both() -> None:
        checkpoint.nonfinite_tensors(dict(trainer.named_tensors(grads=True)))
        checkpoint.nonfinite_tensors(dict(trainer.named_tensors(grads=False)))

    return _median_seconds(both, repeats * 5)


def loader_sequences_per_second(root: Path, identities: int, per_identity: int, workers: int, repeats: int) -> float:
    """Sequences/s of the training loader at the paper's batch (P×K clips × 30 frames × 64×44)."""
    dataset = GaitDataset(root, subjects=None)
    loader = build_train_loader(
        dataset, identities=identities, per_identity=per_identity, frames=30, resolution=(64, 44), workers=workers
    )
    batches = iter(loader)
    next(batches)  # worker start-up
    return identities * per_identity / _median_seconds(lambda: next(batches), repeats)


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    if Path("/proc/cpuinfo").is_file():
        names = [
            ln.split(":", 1)[1].strip() for ln in Path("/proc/cpuinfo").read_text().splitlines() if "model name" in ln
        ]
        cpu = names[0] if names else cpu
    gpu = f", GPU {torch.cuda.get_device_name()}" if torch.cuda.is_available() else ", no GPU"
    return (
        f"{cpu}, {os.cpu_count()} cores{gpu}; torch {torch.__version__}, {torch.get_num_threads()} threads; "
        f"Python {platform.python_version()}; load average {os.getloadavg()[0]:.1f} at the start"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a smaller generation workload")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--compile", action="store_true", help="also time torch.compile (minutes of compiling)")
    parser.add_argument("--workers", type=int, default=2, help="DataLoader workers (the configs' default: 2)")
    parser.add_argument("--write", metavar="MD", help="append the table to this markdown file")
    args = parser.parse_args(argv)
    repeats = max(5, args.repeats)  # medians of >= 5 repeats even with --quick
    device = "cuda" if torch.cuda.is_available() else "cpu"
    header = machine()
    rows: list[tuple[str, float, str, str]] = []  # (what, ratio, target, detail)

    with tempfile.TemporaryDirectory() as tmp:
        # 10 subjects (8 train) of CASIA-B-length sequences: enough for an 8×16 batch
        preset = replace(PRESETS["tiny"], subjects=10, train_subjects=8, frames=(60, 90))
        root = generate(preset, Path(tmp) / "data", workers=2, progress=False)

        small = replace(PRESETS["tiny"], subjects=2 if args.quick else 4, train_subjects=1, frames=(40, 40))
        counter = iter(range(1_000))
        gen = {
            w: _median_seconds(
                lambda w=w: generate(small, Path(tmp) / f"g{next(counter)}", workers=w, progress=False), repeats
            )
            for w in (1, 2)
        }
        rows.append(("SynGait generation, 2 workers / 1 worker (speed-up)", gen[1] / gen[2], ">= 1.8", ""))

        variants = {
            "triplet": ("triplet", "off", False),
            "gil": ("gil_margin", "off", False),
            "gil softmax": ("gil_softmax", "off", False),
            "gil bf16": ("gil_margin", "bf16", False),
        }
        if args.compile:
            variants["gil compile"] = ("gil_margin", "off", True)
        trainers = {}
        for name, (loss, amp, compile_) in variants.items():
            overrides = {"trainer.amp": amp, "trainer.compile": compile_}
            config = embedded_config(loss, data_root=root, device=device, overrides=overrides)
            trainers[name] = Trainer(config, Path(tmp) / f"run-{name}", progress=False)
        steps = step_seconds(trainers, device, repeats)
        data = trainers["triplet"].config.data
        clips = data.identities * data.per_identity
        loader = loader_sequences_per_second(root, 8, 16, args.workers, repeats * 2)
        step_rate = clips / steps["gil"]
        rows.append(
            (
                f"loader / step sequences/s (8×16 × 30 × 64×44 from pkl, {args.workers} workers / CPU-preset GIL step)",
                loader / step_rate,
                ">= 2",
                f"{loader:,.0f} / {step_rate:,.0f} seq/s",
            )
        )
        rows.append(("step GIL margin / triplet (CPU preset, fp32)", steps["gil"] / steps["triplet"], "<= 1.1", ""))
        rows.append(
            ("step GIL softmax / triplet (CPU preset, fp32)", steps["gil softmax"] / steps["triplet"], "<= 1.1", "")
        )
        rows.append(("step bf16 autocast / fp32 (GIL margin)", steps["gil bf16"] / steps["gil"], "reported", ""))
        checks = finiteness_seconds(trainers["gil"], repeats)
        rows.append(
            (
                "finiteness checks (every gradient and weight) / GIL step (CPU preset)",
                checks / steps["gil"],
                "<= 0.05",
                f"{checks * 1e3:.2f} ms of a {steps['gil'] * 1e3:.0f} ms step ({100 * checks / steps['gil']:.2f} %)",
            )
        )
        if args.compile:
            rows.append(
                ("step torch.compile / eager (GIL margin)", steps["gil compile"] / steps["gil"], "reported", "")
            )
        detail = f"{steps['triplet']:.3f} s triplet, {steps['gil']:.3f} s GIL per step of {clips} clips"
        if device == "cuda":  # the paper's shape: full-width GaitGL, 8×8 clips × 30 × 64×44, AMP (bf16)
            overrides = {"data.root": str(root), "data.partition": "dataset", "trainer.device": device}
            paper = {
                loss: Trainer(
                    config_lib.load(f"casia-b/gaitgl_{loss}", overrides), Path(tmp) / f"paper-{loss}", progress=False
                )
                for loss in ("triplet", "gil_margin", "gil_softmax")
            }
            torch.cuda.reset_peak_memory_stats()
            paper_steps = step_seconds(paper, device, repeats)
            cfg = paper["gil_margin"].config.data
            paper_rate = cfg.identities * cfg.per_identity / paper_steps["gil_margin"]
            peak_gib = torch.cuda.max_memory_allocated() / 2**30
            rows.append(
                (
                    "loader / step sequences/s at the paper shape (GaitGL width 1.0, 8×8, AMP on the GPU)",
                    loader / paper_rate,
                    ">= 2",
                    f"{loader:,.0f} / {paper_rate:,.0f} seq/s; peak {peak_gib:.1f} GiB with the 3 models resident",
                )
            )
            for loss, label in (("gil_margin", "GIL margin"), ("gil_softmax", "GIL softmax")):
                rows.append(
                    (
                        f"step {label} / triplet at the paper shape (GPU, AMP)",
                        paper_steps[loss] / paper_steps["triplet"],
                        "<= 1.1",
                        f"{paper_steps[loss] * 1e3:.1f} / {paper_steps['triplet'] * 1e3:.1f} ms",
                    )
                )

    lines = [
        f"### bench_pipeline, {datetime.date.today().isoformat()}" + (" (--quick)" if args.quick else ""),
        "",
        f"Machine: {header}. Medians of {repeats} repeats, one run; step variants interleaved. {detail}.",
        "",
        "| ratio | value | target | met | detail |",
        "|---|---:|---|---|---|",
    ]
    for what, value, target, extra in rows:
        met = "—" if target == "reported" else _met(value, target)
        lines.append(f"| {what} | {value:.2f}× | {target} | {met} | {extra} |")
    text = "\n".join(lines)
    print(text)
    if args.write:
        with open(args.write, "a") as fh:
            fh.write("\n" + text + "\n")
    return 0


def _met(value: float, target: str) -> str:
    op, bound = target.split()
    ok = value >= float(bound) if op == ">=" else value <= float(bound)
    return "yes" if ok else "**no**"


if __name__ == "__main__":
    raise SystemExit(main())
