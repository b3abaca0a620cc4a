"""Forward + backward time of each backbone, relative to GaitSet, measured side by side.

Two shapes: the CPU preset (width 0.25, 32x22, 32 clips x 30 frames) and the paper's (width 1.0,
64x44, P x K = 8 x 16 clips x 30 frames). On a CPU the paper shape runs with a reduced batch
(8 x 2 clips; ``--quick``: 2 x 2) and the table says so. Models are timed round-robin, one repeat
of each in turn, so machine load drifts alike for all; the table reports medians.

    python benchmarks/bench_models.py [--quick] [--device cpu|cuda] [--repeats 5]
"""

from __future__ import annotations

import argparse
import platform
import statistics
import time
from collections.abc import Callable

import torch
import torch.nn.functional as F

from gil.models import build_model

MODELS = ("gaitset", "gaitpart", "gaitgl", "gaitbase")
CLASSES = 74


def _step_fn(
    name: str, width: float, clips: int, frames: int, h: int, w: int, device: torch.device
) -> Callable[[], None]:
    torch.manual_seed(0)
    model = build_model(name, CLASSES, width=width).to(device).train()
    sils = (torch.rand(clips, frames, h, w, device=device) > 0.5).float()
    labels = torch.arange(clips, device=device) % CLASSES

    def step() -> None:
        model.zero_grad(set_to_none=True)
        out = model(sils)
        loss = out["embeddings"].square().mean()  # a stand-in for the metric loss
        if out["logits"] is not None:
            logits = out["logits"]  # [n, p, k]
            loss = loss + F.cross_entropy(logits.transpose(1, 2), labels[:, None].expand(-1, logits.shape[1]))
        loss.backward()
        if device.type == "cuda":
            torch.cuda.synchronize(device)

    return step


def measure(shape: dict, device: torch.device, repeats: int) -> dict[str, float]:
    """Median seconds of one forward + backward per model, models interleaved per repeat."""
    steps = {name: _step_fn(name, device=device, **shape) for name in MODELS}
    for step in steps.values():
        step()  # warm-up (allocator, cuDNN autotuning)
    times: dict[str, list[float]] = {name: [] for name in MODELS}
    for _ in range(repeats):
        for name, step in steps.items():
            start = time.perf_counter()
            step()
            times[name].append(time.perf_counter() - start)
    return {name: statistics.median(t) for name, t in times.items()}


def machine(device: torch.device) -> str:
    if device.type == "cuda":
        what = torch.cuda.get_device_name(device)
    else:
        what = platform.processor() or platform.machine()
        try:
            with open("/proc/cpuinfo") as f:
                what = next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
        except (OSError, StopIteration):
            pass
    return f"{what}; torch {torch.__version__}; {torch.get_num_threads()} threads"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller batches (a smoke run)")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--repeats", type=int, default=5, help="timed repeats per model (>= 5 for a table)")
    args = parser.parse_args(argv)
    device = torch.device(args.device)
    gpu = device.type == "cuda"
    preset_clips = 8 if args.quick else 32
    paper_clips = 8 * 16 if gpu and not args.quick else (2 * 2 if args.quick else 8 * 2)
    shapes = {
        f"CPU preset: width 0.25, {preset_clips} clips x 30 x 32x22": dict(
            width=0.25, clips=preset_clips, frames=30, h=32, w=22
        ),
        f"paper: width 1.0, {paper_clips} clips x 30 x 64x44"
        + ("" if paper_clips == 128 else " (reduced from 8x16 clips)"): dict(
            width=1.0, clips=paper_clips, frames=30, h=64, w=44
        ),
    }
    print(f"# bench_models on {device.type}: {machine(device)}; medians of {args.repeats} repeats")
    print("| shape | " + " | ".join(MODELS) + " |")
    print("|---|" + "---|" * len(MODELS))
    for label, shape in shapes.items():
        med = measure(shape, device, args.repeats)
        ratios = " | ".join(f"{med[m] / med['gaitset']:.2f}x ({med[m]:.3f} s)" for m in MODELS)
        print(f"| {label} | {ratios} |", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
