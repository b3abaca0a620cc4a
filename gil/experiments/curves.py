"""Learning curves: does the training budget change the verdict between triplet and GIL?

One cell is one run of the study's base config with a variant's loss terms, trained for :data:`CURVE_STEPS` steps
(3× the study's 300) with the schedule's milestones scaled by the same factor, its weights kept every
:data:`SNAPSHOT_EVERY` steps (``trainer.snapshot_every``), and every snapshot scored with the CASIA-B protocol on the
test identities. Nothing is chosen from these numbers: they are results, read beside the study's.

``curves.csv``: ``backbone, variant, seed, step, condition, rank1, map``; ``curves.json``: provenance per cell.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from gil import config as config_lib
from gil.checkpoints import model_from_checkpoint
from gil.config import RunConfig, resolve_path
from gil.device import pick_device
from gil.evaluate.run import evaluate_model
from gil.experiments import study
from gil.experiments.catalog import CURVE_STEPS, SNAPSHOT_EVERY  # the names the CLI offers, defined there
from gil.experiments.cells import merge_entry, merge_rows, read_header, shown_overrides
from gil.experiments.provenance import machine
from gil.run_folder import SNAPSHOT_PATTERN, RunFolder

CURVE_VARIANTS = ("triplet", "gil_margin", "gil_softmax")
CURVE_SEEDS = (0, 1, 2)
CURVE_COLUMNS = ["backbone", "variant", "seed", "step", "condition", "rank1", "map"]


def curve_config(
    variant: str,
    seed: int,
    base: str = study.BASE_CONFIG,
    overrides: dict[str, Any] | None = None,
    backbone: str | None = None,
    steps: int = CURVE_STEPS,
    snapshot_every: int = SNAPSHOT_EVERY,
) -> RunConfig:
    """A study cell trained ``steps`` steps, milestones scaled from the base's budget, snapshots every
    ``snapshot_every``. A base whose schedule is written in absolute steps is scaled from its own ``trainer.steps``."""
    config = study.variant_config(variant, seed, base, overrides, backbone)
    values = config.to_dict()
    values["name"] = values["name"].replace("study-", "curve-", 1)
    if values["schedule"]["written_for_steps"] is None:
        values["schedule"]["written_for_steps"] = config.trainer.steps
    values["trainer"].update(steps=int(steps), snapshot_every=int(snapshot_every))
    return config_lib.from_dict(values)


def snapshot_rows(config: RunConfig, variant: str, run_dir: Path, progress: bool = True) -> list[dict[str, Any]]:
    """Every snapshot of ``run_dir`` scored on the test identities -> curve rows."""
    device = pick_device(config.trainer.device)
    rows: list[dict[str, Any]] = []
    folder = RunFolder(run_dir)
    snapshots = folder.snapshots()
    if not snapshots:
        raise FileNotFoundError(f"{folder.checkpoint_dir}: no {SNAPSHOT_PATTERN} snapshots (snapshot_every was 0)")
    for path in snapshots:
        model = model_from_checkpoint(config, path)
        result, _ = evaluate_model(model.to(device).eval(), config, device, progress=progress)
        step = int(path.stem.removeprefix("step-"))
        rows += [
            {
                "backbone": config.model.name,
                "variant": variant,
                "seed": config.trainer.seed,
                "step": step,
                "condition": condition,
                "rank1": rank1,
                "map": result.map_summary.get(condition),
            }
            for condition, rank1 in result.summary.items()
        ]
    return rows


def run_curves(
    out: str | Path = "results/study",
    variants: Sequence[str] = CURVE_VARIANTS,
    seeds: Sequence[int] = CURVE_SEEDS,
    base: str = study.BASE_CONFIG,
    overrides: dict[str, Any] | None = None,
    runs_root: str | Path = "runs/study",
    backbones: Sequence[str] | None = None,
    steps: int = CURVE_STEPS,
    snapshot_every: int = SNAPSHOT_EVERY,
    command: str | None = None,
    progress: bool = True,
) -> pd.DataFrame:
    """Every (backbone, variant, seed) cell, seed-major, merged into ``out/curves.csv`` / ``curves.json`` as it
    finishes (the same cell replaced, others kept). Returns the whole table."""
    out = resolve_path(out)
    header = {"base_config": base, "overrides": shown_overrides(overrides), "steps": steps}
    header["snapshot_every"] = snapshot_every
    read_header(out / "curves.json", **header)  # before any training: a mismatch is refused at once
    out.mkdir(parents=True, exist_ok=True)
    command = command or " ".join(sys.argv)
    started = machine()  # the code that runs is the checkout's at the start, whatever is committed meanwhile
    for seed in seeds:
        for backbone in backbones or [study.base_backbone(base)]:
            for variant in variants:
                config = curve_config(variant, seed, base, overrides, backbone, steps, snapshot_every)
                run_dir, timing = study.timed_run(config, runs_root, progress)
                tic = time.perf_counter()
                rows = snapshot_rows(config, variant, run_dir, progress)
                entry = {"backbone": config.model.name, "variant": variant, "seed": seed, **timing}
                entry["eval_s"] = round(time.perf_counter() - tic, 1)
                _merge(out, rows, {**entry, "command": command}, started, header)
    return load_curves(out)


def _merge(
    out: Path, rows: list[dict[str, Any]], entry: dict[str, Any], started: dict[str, Any], header: dict[str, Any]
) -> None:
    read_header(out / "curves.json", **header)  # before the CSV is touched
    key = {name: entry[name] for name in ("backbone", "variant", "seed")}
    dtypes = {"seed": int, "step": int, "rank1": float, "map": float}
    sort = ["backbone", "seed", "variant", "step"]
    merge_rows(out / "curves.csv", rows, CURVE_COLUMNS, key, dtypes, sort, ranks={"variant": list(study.VARIANTS)})
    merge_entry(out / "curves.json", entry, list(key), started, **header)


def load_curves(folder: str | Path = "results/study") -> pd.DataFrame:
    path = resolve_path(folder) / "curves.csv"
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no learning curves; run `gil curves`")
    return pd.read_csv(path)


def gap_by_step(curves: pd.DataFrame, variant: str, metric: str = "rank1") -> pd.DataFrame:
    """Per backbone × condition × step: the paired difference ``variant − triplet`` over seeds (mean, 95%
    t-interval, seeds) — the figure of 06."""
    keys = ["backbone", "seed", "step", "condition"]
    base = curves[curves["variant"] == study.BASELINE].set_index(keys)[metric]
    other = curves[curves["variant"] == variant].set_index(keys)[metric]
    diff = (other - base.reindex(other.index)).dropna().reset_index()
    records = []
    for (backbone, condition, step), group in diff.groupby(["backbone", "condition", "step"], sort=True):
        mean, lo, hi = study.t_interval(group[metric].to_numpy())
        records.append(
            {"backbone": backbone, "condition": condition, "step": step, "seeds": len(group),
             "gap": mean, "lo": lo, "hi": hi}
        )  # fmt: skip
    return pd.DataFrame.from_records(records, columns=["backbone", "condition", "step", "seeds", "gap", "lo", "hi"])


def verdict_by_step(curves: pd.DataFrame, steps: Sequence[int] | None = None) -> pd.DataFrame:
    """Per backbone × variant × step (every scored step, or only ``steps``): the paired verdict against triplet in
    words, as :func:`gil.experiments.study.overall_verdict` gives it for the study ("helps on NM; cannot be told
    apart on BG, CL"), conditions in the order NM, BG, CL."""
    order = {condition: i for i, condition in enumerate(("NM", "BG", "CL"))}
    variants = [v for v in study.VARIANTS if v != study.BASELINE and v in set(curves["variant"])]
    records: list[dict[str, Any]] = []
    for variant in variants:
        gaps = gap_by_step(curves, variant)
        if steps is not None:
            gaps = gaps[gaps["step"].isin(list(steps))]
        gaps = gaps.sort_values("condition", key=lambda c: c.map(order).fillna(len(order)), kind="stable")
        for step, group in gaps.groupby("step", sort=True):
            summary = group.rename(columns={"gap": "diff_vs_baseline", "lo": "diff_lo", "hi": "diff_hi"})
            words = study.overall_verdict(summary.assign(variant=variant))
            records += words.assign(step=int(step)).to_dict("records")
    return pd.DataFrame.from_records(records, columns=["backbone", "variant", "step", "verdict"])


__all__ = [
    "CURVE_COLUMNS",
    "CURVE_STEPS",
    "CURVE_VARIANTS",
    "SNAPSHOT_EVERY",
    "curve_config",
    "gap_by_step",
    "load_curves",
    "run_curves",
    "verdict_by_step",
]
