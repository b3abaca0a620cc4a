"""Benchmark: GIL (every form) against OpenGait's batch-all triplet, and against a naive loop.

Measured side by side in one run, at the paper's batch shapes ``[n, p, c]`` (P×K):
GaitGL CASIA-B ``[64, 64, 128]`` (8×8), GaitGL OUMVLP ``[256, 64, 256]`` (32×8), GaitBase
``[128, 16, 256]`` (8×16).

- time: CPU time of this process (``time.process_time``; on a machine shared with other jobs it
  is steadier than wall time, and with one thread equals wall time on an idle machine) for a
  forward + backward of the loss alone (embeddings are a leaf tensor), median of
  ``--repeats`` (≥ 5) runs after one warm-up; the losses are interleaved within each repeat (in an
  order rotated from repeat to repeat) so a slow moment of the
  shared machine hits them alike. Reported as ms and as ratio to triplet.
- memory: extra resident memory of one forward + backward, inputs excluded: each case runs in a
  fresh subprocess with glibc told to ``mmap`` every allocation ≥ 64 KiB (``MALLOC_MMAP_THRESHOLD_``,
  so freed memory goes back to the OS), the peak-RSS mark reset through ``/proc/self/clear_refs``,
  and ``VmHWM − VmRSS(before)`` read from ``/proc/self/status`` (Linux only; else ``n/a``).
- naive: the margin form written as Python loops over parts and triplets (torch scalar ops, the
  way the tests' reference is written) against the vectorised loss at a small shape.

``python benchmarks/bench_losses.py [--quick] [--repeats N] [--threads T] [--write FILE.md]``
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence

import torch

from gil.losses import GeneralizedInterClassLoss, TripletLoss

SHAPES = {  # name: (P, K, parts, channels)
    "GaitGL CASIA-B [64, 64, 128] 8×8": (8, 8, 64, 128),
    "GaitGL OUMVLP [256, 64, 256] 32×8": (32, 8, 64, 256),
    "GaitBase [128, 16, 256] 8×16": (8, 16, 16, 256),
}


class OpenGaitStyleTriplet(torch.nn.Module):
    """For context only: OpenGait's batch-all triplet as it computes it (plain autograd, ``view``
    pairing that needs P×K batches), on ``[n, p, c]``. Not part of the library."""

    def forward(self, emb: torch.Tensor, labels: torch.Tensor) -> tuple[torch.Tensor, dict]:
        x = emb.transpose(0, 1).float()  # [p, n, c]
        x2 = (x**2).sum(-1)
        dist = torch.relu(x2[:, :, None] + x2[:, None, :] - 2 * x @ x.transpose(1, 2)).sqrt()  # [p, n, n]
        matches = labels[:, None] == labels[None, :]
        p, n, _ = dist.shape
        ap, an = dist[:, matches].view(p, n, -1, 1), dist[:, ~matches].view(p, n, 1, -1)
        loss = torch.relu((ap - an).view(p, -1) + 0.2)
        num = (loss != 0).sum(-1).float()
        avg = loss.sum(-1) / (num + 1e-9)
        return torch.where(num == 0, 0.0, avg).mean(), {}


LOSSES: dict[str, Callable[[], torch.nn.Module]] = {
    "triplet": lambda: TripletLoss(margin=0.2),
    "OpenGait-style triplet (autograd)": OpenGaitStyleTriplet,
    "GIL margin": lambda: GeneralizedInterClassLoss(form="margin"),
    "GIL softmax": lambda: GeneralizedInterClassLoss(form="softmax"),
    "GIL softmax_official": lambda: GeneralizedInterClassLoss(form="softmax_official"),
}


def make_batch(p_ids: int, k: int, parts: int, channels: int, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Embeddings ``[n, p, c]`` (leaf, requires grad) and P×K labels ``[n]``, n = P·K."""
    gen = torch.Generator().manual_seed(seed)
    labels = torch.arange(p_ids).repeat_interleave(k)
    return torch.randn(p_ids * k, parts, channels, generator=gen).requires_grad_(True), labels


def step(loss_fn: torch.nn.Module, emb: torch.Tensor, labels: torch.Tensor) -> float:
    """CPU seconds for one forward + backward."""
    emb.grad = None
    start = time.process_time()
    loss, _ = loss_fn(emb, labels)
    loss.backward()
    return time.process_time() - start


def time_losses(shape: tuple[int, int, int, int], repeats: int) -> dict[str, float]:
    """Median CPU seconds per loss: interleaved repeats, order rotated, after one warm-up each."""
    emb, labels = make_batch(*shape)
    fns = {name: make() for name, make in LOSSES.items()}
    for fn in fns.values():
        step(fn, emb, labels)
    times: dict[str, list[float]] = {name: [] for name in fns}
    names = list(fns)
    for r in range(repeats):
        for name in names[r % len(names) :] + names[: r % len(names)]:  # rotate: no loss always runs first
            times[name].append(step(fns[name], emb, labels))
    return {name: statistics.median(ts) for name, ts in times.items()}


def _status_kib(field: str) -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise KeyError(field)


def memory_probe(shape_name: str, loss_name: str) -> None:
    """Subprocess entry: print the extra resident MiB of one forward + backward."""
    emb, labels = make_batch(*SHAPES[shape_name])
    fn = LOSSES[loss_name]()
    with open("/proc/self/clear_refs", "w") as refs:
        refs.write("5")  # reset VmHWM to the current RSS
    before = _status_kib("VmRSS")
    step(fn, emb, labels)
    print((_status_kib("VmHWM") - before) / 1024)


def measure_memory(shape_name: str, loss_name: str, threads: int) -> float | None:
    if not os.path.exists("/proc/self/clear_refs"):
        return None
    env = dict(os.environ, MALLOC_MMAP_THRESHOLD_="65536", PYTHONPATH=os.pathsep.join(sys.path))
    cmd = [sys.executable, __file__, "--memory-probe", shape_name, loss_name, "--threads", str(threads)]
    try:
        out = subprocess.run(cmd, env=env, capture_output=True, text=True, check=True, timeout=600)
        return float(out.stdout.strip().splitlines()[-1])
    except (subprocess.SubprocessError, ValueError, IndexError, OSError) as err:
        print(f"memory probe {shape_name} / {loss_name} failed: {err}", file=sys.stderr)
        return None


def naive_margin_gil(emb: torch.Tensor, labels: list[int], m0: float = 0.2) -> torch.Tensor:
    """GIL margin form (official pair weights, fixed margin) as explicit loops over parts and triplets."""
    n, parts, _ = emb.shape
    ed = emb.detach()

    def cos(i: int, j: int, k: int) -> float:
        return float(ed[i, k] @ ed[j, k] / (ed[i, k].norm() * ed[j, k].norm()))

    u = [[[(1 - cos(i, j, k)) / 2 + 0.01 for j in range(n)] for i in range(n)] for k in range(parts)]
    umax = max(v for uk in u for row in uk for v in row)
    total = 0.0
    for k in range(parts):
        part_sum, nonzero = 0.0, 0
        for a in range(n):
            for p in range(n):
                if labels[p] != labels[a]:
                    continue
                d_ap = (emb[a, k] - emb[p, k]).norm() * (1 + u[k][a][p] / umax) if p != a else 0.0
                for q in range(n):
                    if labels[q] == labels[a]:
                        continue
                    h = torch.relu(d_ap - (emb[a, k] - emb[q, k]).norm() * (1 + u[k][a][q] / umax) + m0)
                    part_sum = part_sum + h
                    nonzero += int(h.item() > 0)
        total = total + (part_sum / nonzero if nonzero else 0.0)
    return total / parts


def time_naive(repeats: int, shape: tuple[int, int, int, int] = (4, 4, 4, 32)) -> tuple[float, float, float]:
    """(naive s, vectorised s, |difference| of the losses) at a small shape, medians."""
    emb, labels = make_batch(*shape)
    fn = GeneralizedInterClassLoss(form="margin", pair_weight="official", margin="fixed", uniformity_weight=0)
    label_list = labels.tolist()
    naive, fast = [], []
    step(fn, emb, labels)
    for _ in range(repeats):
        emb.grad = None
        start = time.process_time()
        naive_margin_gil(emb, label_list).backward()
        naive.append(time.process_time() - start)
        fast.append(step(fn, emb, labels))
    diff = abs(naive_margin_gil(emb, label_list).item() - fn(emb, labels)[0].item())
    return statistics.median(naive), statistics.median(fast), diff


def machine() -> str:
    model = platform.processor() or "unknown CPU"
    try:
        lscpu = subprocess.run(["lscpu"], capture_output=True, text=True, check=True).stdout
        model = next(line.split(":", 1)[1].strip() for line in lscpu.splitlines() if line.startswith("Model name"))
    except (OSError, subprocess.SubprocessError, StopIteration):
        pass
    return (
        f"{model}, {os.cpu_count()} logical cores, torch {torch.__version__}, "
        f"{torch.get_num_threads()} intra-op threads, Python {platform.python_version()}"
    )


def report(shapes: Sequence[str], repeats: int, threads: int, with_memory: bool) -> str:
    lines = [
        f"Machine: {machine()}; medians of {repeats} repeats (after one warm-up).",
        "",
        "| shape | loss | fwd+bwd CPU ms | × triplet time | extra RSS MiB | × triplet memory |",
        "|---|---|---|---|---|---|",
    ]
    for shape_name in shapes:
        times = time_losses(SHAPES[shape_name], repeats)
        mems = {name: measure_memory(shape_name, name, threads) if with_memory else None for name in LOSSES}
        for name in LOSSES:
            mem, base = mems[name], mems["triplet"]
            mem_txt = f"{mem:.0f}" if mem is not None else "n/a"
            mem_ratio = f"{mem / base:.2f}" if mem is not None and base else "n/a"
            ratio = times[name] / times["triplet"]
            lines.append(f"| {shape_name} | {name} | {1e3 * times[name]:.1f} | {ratio:.2f} | {mem_txt} | {mem_ratio} |")
        print("\n".join(lines[-len(LOSSES) :]), flush=True)
    naive, fast, diff = time_naive(repeats)
    lines += [
        "",
        "| naive loop vs vectorised (GIL margin form, official pair weights, [16, 4, 32], 4×4) | value |",
        "|---|---|",
        f"| naive loop fwd+bwd CPU ms | {1e3 * naive:.1f} |",
        f"| vectorised fwd+bwd CPU ms | {1e3 * fast:.2f} |",
        f"| speed-up | {naive / fast:.0f}× |",
        f"| abs. loss difference (float32) | {diff:.1e} |",
    ]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="CASIA-B shape only, 5 repeats, no memory probes")
    parser.add_argument("--repeats", type=int, default=15, help="timed repeats per case (>= 5)")
    # One thread by default: on a small machine shared with other jobs, OpenMP's thread barrier makes
    # even tiny ops (a [4, 16, 32] bmm) take milliseconds with 2 threads; 1 thread measures the loss.
    parser.add_argument("--threads", type=int, default=1, help="torch intra-op threads (default 1)")
    parser.add_argument("--write", metavar="FILE.md", help="also write the table to this Markdown file")
    parser.add_argument("--memory-probe", nargs=2, metavar=("SHAPE", "LOSS"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    if args.memory_probe:
        memory_probe(*args.memory_probe)
        return 0
    if args.repeats < 5:
        parser.error("--repeats must be >= 5 (medians of at least 5 runs)")
    shapes = list(SHAPES)[:1] if args.quick else list(SHAPES)
    repeats = 5 if args.quick else args.repeats
    table = report(shapes, repeats, args.threads, with_memory=not args.quick)
    print(table)
    if args.write:
        fd, tmp = tempfile.mkstemp(dir=os.path.dirname(os.path.abspath(args.write)) or ".", suffix=".tmp")
        with os.fdopen(fd, "w") as out:
            out.write("# Loss benchmark (bench_losses.py)\n\n" + table + "\n")
        os.replace(tmp, args.write)
    return 0


if __name__ == "__main__":
    sys.exit(main())
