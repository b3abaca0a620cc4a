"""The multi-seed ablation study: variants × seeds on the embedded twin, with confidence intervals.

Each cell (variant, seed) is one run of a base config whose loss is the variant's (the loss of a bundled config,
:class:`LossOf`); the
rank-1 / mAP rows of every cell go to ``results/study/ablation.csv``, and ``provenance.json`` records how
each cell was produced (commit, command, machine, torch version and threads, wall time). CPU runs are
deterministic, so ``gil study --variant V --seed S`` reproduces a committed row on the same torch version
and thread count.
"""

from __future__ import annotations

import dataclasses
import json
import math
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from gil import config as config_lib
from gil.config import RunConfig, resolve_path
from gil.experiments import provenance as provenance_lib
from gil.experiments.catalog import BASE_CONFIG, VARIANTS, LossOf  # the names the CLI offers, defined there
from gil.experiments.cells import read_header, shown_overrides
from gil.extras import require
from gil.files import write_atomic

BASELINE = "triplet"
# variant names before the margin form's default λ_u changed from 0.1 to 0.01, as older files (results/gpu) spell them
RENAMED = {
    "gil_margin": "gil_margin_first",
    "gil_margin-no_pair_weights": "gil_margin_first-no_pair_weights",
    "gil_margin-fixed_margin": "gil_margin_first-fixed_margin",
}
DEFAULT_SEEDS = (0, 1, 2)
ABLATION_COLUMNS = ["backbone", "variant", "seed", "condition", "rank1", "map"]


def base_backbone(base: str = BASE_CONFIG) -> str:
    """The backbone of the base config: the one of study files written before the backbone column existed."""
    return config_lib.load(base).model.name


def cell_config(base: str, overrides: dict[str, Any] | None, loss: LossOf, seed: int, name: str) -> RunConfig:
    """``base`` with ``overrides`` (data, budget, backbone, device …), named ``name``, whose loss is ``loss``'s and
    seed is ``seed``. An override of the loss is refused: ``loss`` sets it."""
    loss_keys = [key for key in overrides or {} if key == "loss" or key.startswith("loss.")]
    if loss_keys:
        raise ValueError(f"study overrides: {loss_keys[0]!r} would be replaced by the cell's loss; drop it")
    config = config_lib.load(base, overrides)
    trainer = dataclasses.replace(config.trainer, seed=int(seed))
    return dataclasses.replace(config, name=name, loss=loss.loss(), trainer=trainer)


def variant_config(
    variant: str,
    seed: int,
    base: str = BASE_CONFIG,
    overrides: dict[str, Any] | None = None,
    backbone: str | None = None,
) -> RunConfig:
    """The config of one study cell (:func:`cell_config`): ``base`` with the variant's loss (:data:`VARIANTS`), the
    seed and (if given) the backbone."""
    if variant not in VARIANTS:
        raise ValueError(f"unknown study variant '{variant}'; known: {', '.join(VARIANTS)}")
    overrides = dict(overrides or {})
    if backbone is not None:
        overrides["model.name"] = backbone
    other = backbone is not None and backbone != base_backbone(base)  # the base's cells keep their folder names
    name = f"study-{backbone}-{variant}" if other else f"study-{variant}"
    return cell_config(base, overrides, VARIANTS[variant], seed, name)


def cell_rows(variant: str, seed: int, report: dict[str, Any], backbone: str) -> list[dict[str, Any]]:
    """``eval.json`` content -> ablation rows (one per probe condition)."""
    maps = report.get("map_summary", {})
    return [
        {"backbone": backbone, "variant": variant, "seed": seed, "condition": c, "rank1": rank1, "map": maps.get(c)}
        for c, rank1 in report["summary"].items()
    ]


def run_cell(
    variant: str,
    seed: int,
    runs_root: str | Path = "runs/study",
    base: str = BASE_CONFIG,
    overrides: dict[str, Any] | None = None,
    progress: bool = True,
    backbone: str | None = None,
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Train and evaluate one cell (reusing a finished run); returns its rows and provenance entry."""
    config = variant_config(variant, seed, base, overrides, backbone)
    run_dir, timing = timed_run(config, runs_root, progress)
    report = json.loads((run_dir / "eval.json").read_text())
    name = config.model.name
    return cell_rows(variant, seed, report, name), {"backbone": name, "variant": variant, "seed": seed, **timing}


def timed_run(config: RunConfig, runs_root: str | Path, progress: bool) -> tuple[Path, dict[str, Any]]:
    """``get_or_train`` with what provenance records of it: ``{"run", "wall_s", "fingerprint", "reused"}``;
    ``reused``: a finished run of the same fingerprint was there already (e.g. a selection cell's), so ``wall_s`` is
    not its training time (that is in the provenance of the command that trained it)."""
    from gil.experiments.runs import finished_runs, get_or_train

    fingerprint = config.fingerprint()
    reused = bool(finished_runs(config, runs_root))
    tic = time.perf_counter()
    run_dir = get_or_train(config, runs_root=runs_root, progress=progress)
    return run_dir, {
        "run": run_dir.name,
        "wall_s": round(time.perf_counter() - tic, 1),
        "fingerprint": fingerprint,
        "reused": reused,
    }


def read_provenance(out: Path, command: str, base: str, overrides: dict[str, Any] | None) -> dict[str, Any]:
    """``out/provenance.json`` with its header refreshed (last command, machine). Its cells share one base config and
    one set of overrides (the header's): a call with another base, data or budget is refused, naming both, so a
    study folder never mixes cells of different experiments under one description."""
    header = {"base_config": base, "overrides": shown_overrides(overrides)}
    provenance = read_header(out / "provenance.json", **header)
    provenance.update(command=command, **header, machine=provenance_lib.machine())
    provenance.setdefault("cells", [])
    return provenance


def _with_backbone(frame: pd.DataFrame, base: str) -> pd.DataFrame:
    """Study rows with their ``backbone`` (rows written before the column existed are the base config's)."""
    if "backbone" not in frame.columns:
        frame = frame.assign(backbone=base_backbone(base))
    return frame[ABLATION_COLUMNS]


def merge_cell(out: Path, rows: list[dict[str, Any]], entry: dict[str, Any], provenance: dict[str, Any]) -> None:
    """Put one cell's rows into ``out/ablation.csv`` and its entry (``backbone``, ``variant``, ``seed`` …) into
    ``out/provenance.json``, replacing an older copy of the same cell and keeping every other one (so one cell can be
    rerun in place)."""
    base = provenance.get("base_config", BASE_CONFIG)
    backbone, variant, seed = entry["backbone"], entry["variant"], entry["seed"]
    path = out / "ablation.csv"
    old = _with_backbone(pd.read_csv(path), base) if path.is_file() else pd.DataFrame(columns=ABLATION_COLUMNS)
    same = (old["backbone"] == backbone) & (old["variant"] == variant) & (old["seed"] == seed)
    frame = pd.concat([old[~same], pd.DataFrame(rows, columns=ABLATION_COLUMNS)], ignore_index=True)
    frame = frame.astype({"seed": int, "rank1": float, "map": float})
    order = {v: i for i, v in enumerate(VARIANTS)}
    frame = frame.sort_values(
        ["backbone", "seed", "variant"], key=lambda c: c.map(order) if c.name == "variant" else c, kind="stable"
    )
    write_atomic(path, frame.to_csv(index=False, float_format="%.4f"))
    own = base_backbone(base)
    kept = [
        c for c in provenance["cells"] if (c.get("backbone", own), c["variant"], c["seed"]) != (backbone, variant, seed)
    ]
    provenance["cells"] = kept + [
        {**entry, "command": provenance["command"], "commit": provenance["machine"]["commit"]}
    ]
    write_atomic(out / "provenance.json", json.dumps(provenance, indent=2))


def run_study(
    out: str | Path = "results/study",
    variants: Sequence[str] = tuple(VARIANTS),
    seeds: Sequence[int] = DEFAULT_SEEDS,
    base: str = BASE_CONFIG,
    overrides: dict[str, Any] | None = None,
    runs_root: str | Path = "runs/study",
    command: str | None = None,
    progress: bool = True,
    backbones: Sequence[str] | None = None,
) -> pd.DataFrame:
    """Run every (backbone, variant, seed) cell, merging each into ``ablation.csv`` and ``provenance.json`` as it
    finishes (other cells already in ``out`` are kept); returns this call's rows. ``backbones``: default the base
    config's."""
    out = resolve_path(out)
    out.mkdir(parents=True, exist_ok=True)
    rows: list[dict[str, Any]] = []
    provenance = read_provenance(out, command or " ".join(sys.argv), base, overrides)
    for seed in seeds:  # seed-major: a partial study still has every variant for the first seeds
        for backbone in backbones or [base_backbone(base)]:
            for variant in variants:
                cell, entry = run_cell(variant, seed, runs_root, base, overrides, progress, backbone)
                rows += cell
                merge_cell(out, cell, entry, provenance)
    return pd.DataFrame(rows, columns=ABLATION_COLUMNS)


# The verdict rule, fixed before the study's larger cells run: a paired difference (GIL form minus triplet, same
# backbone and seed) "helps" / "hurts" when its 95% interval lies above / below 0, is "equivalent within ±2" when the
# whole interval lies inside ±EQUIVALENCE_POINTS rank-1 points, and "cannot be told apart" otherwise.
EQUIVALENCE_POINTS = 2.0
POWER = 0.8  # the power at which minimum_detectable_effect is quoted


def paired_verdict(lo: float, hi: float) -> str:
    """The verdict word of a paired difference's 95% interval ``[lo, hi]`` (rank-1 points; NaN: fewer than two
    seeds): ``helps``, ``hurts``, ``equivalent within ±2``, ``cannot be told apart`` or ``too few seeds``."""
    if math.isnan(lo) or math.isnan(hi):
        return "too few seeds"
    if lo > 0:
        return "helps"
    if hi < 0:
        return "hurts"
    if -EQUIVALENCE_POINTS <= lo and hi <= EQUIVALENCE_POINTS:
        return f"equivalent within ±{EQUIVALENCE_POINTS:g}"
    return "cannot be told apart"


def minimum_detectable_effect(values: np.ndarray, level: float = 0.95, power: float = POWER) -> float:
    """The smallest true mean of ``values`` (paired differences) that a two-sided t-test at ``level`` detects with
    probability ``power``, at their observed spread: ``(t_{1-α/2} + t_{power}) · s / √n`` (n - 1 degrees of freedom;
    NaN for fewer than two values)."""
    stats = require("scipy.stats", "study", "the study's intervals")

    values = np.asarray(values, dtype=float)
    if len(values) < 2:
        return math.nan
    df = len(values) - 1
    factor = stats.t.ppf(0.5 + level / 2, df) + stats.t.ppf(power, df)
    return float(factor * values.std(ddof=1) / math.sqrt(len(values)))


def t_interval(values: np.ndarray, level: float = 0.95) -> tuple[float, float, float]:
    """Mean and two-sided Student-t interval of ``values`` (NaN bounds for fewer than 2 values)."""
    stats = require("scipy.stats", "study", "the study's intervals")

    values = np.asarray(values, dtype=float)
    mean = float(values.mean())
    if len(values) < 2:
        return mean, math.nan, math.nan
    half = float(stats.t.ppf(0.5 + level / 2, len(values) - 1) * values.std(ddof=1) / math.sqrt(len(values)))
    return mean, mean - half, mean + half


def summarize(ablation: pd.DataFrame, metric: str = "rank1") -> pd.DataFrame:
    """Per backbone × variant × condition: seeds, mean, 95% t-interval; and the paired difference to the baseline
    of the same backbone and seeds (``paired_seeds``: the seeds both have), its interval's half-width and its minimum
    detectable effect (``mde``, at :data:`POWER`). Rows without ``backbone`` (older files) are one backbone."""
    if "backbone" not in ablation.columns:
        ablation = ablation.assign(backbone="")
    keys = ["backbone", "seed", "condition"]
    base = ablation[ablation["variant"] == BASELINE].set_index(keys)[metric]
    records = []
    for (backbone, variant, condition), group in ablation.groupby(["backbone", "variant", "condition"], sort=False):
        mean, lo, hi = t_interval(group[metric].to_numpy())
        paired = group.set_index(keys)[metric] - base.reindex(group.set_index(keys).index)
        diffs = paired.dropna().to_numpy()
        d_mean, d_lo, d_hi = t_interval(diffs) if len(diffs) else (math.nan, math.nan, math.nan)
        records.append(
            {
                "backbone": backbone,
                "variant": variant,
                "condition": condition,
                "seeds": len(group),
                "mean": mean,
                "lo": lo,
                "hi": hi,
                "paired_seeds": len(diffs),
                "diff_vs_baseline": d_mean,
                "diff_lo": d_lo,
                "diff_hi": d_hi,
                "half_width": (d_hi - d_lo) / 2,
                "mde": minimum_detectable_effect(diffs),
            }
        )
    return pd.DataFrame.from_records(records)


def compare_rows(rows: pd.DataFrame, committed: pd.DataFrame, tolerance: float = 0.1) -> pd.DataFrame:
    """This run's rank-1 beside the committed rows of the same variant × seed × condition.

    A cell missing from ``committed`` is an error naming it; ``within`` is ``|now − committed| <= tolerance``.
    """
    keys = ["backbone", "variant", "seed", "condition"]
    merged = rows[keys + ["rank1"]].merge(committed[keys + ["rank1"]], on=keys, how="left", suffixes=("_now", ""))
    missing = merged[merged["rank1"].isna()]
    if len(missing):
        cells = sorted(
            {
                f"{b} {v} seed {s}"
                for b, v, s in zip(missing["backbone"], missing["variant"], missing["seed"], strict=True)
            }
        )
        raise ValueError(f"no committed rows to compare with for {', '.join(cells)}")
    merged = merged.rename(columns={"rank1": "committed", "rank1_now": "now"})
    merged["diff"] = merged["now"].round(4) - merged["committed"]  # at the committed files' precision
    merged["within"] = merged["diff"].abs() <= tolerance
    return merged[keys + ["committed", "now", "diff", "within"]]


def load_study(folder: str | Path = "results/study") -> tuple[pd.DataFrame, dict[str, Any]]:
    """``ablation.csv`` and ``provenance.json`` of a study folder (FileNotFoundError naming what is missing)."""
    folder = resolve_path(folder)
    missing = [name for name in ("ablation.csv", "provenance.json") if not (folder / name).is_file()]
    if missing:
        raise FileNotFoundError(f"{folder}: no study results ({', '.join(missing)} missing); run `make study`")
    provenance = json.loads((folder / "provenance.json").read_text())
    ablation = _with_backbone(pd.read_csv(folder / "ablation.csv"), provenance.get("base_config", BASE_CONFIG))
    return ablation, provenance


def verdict(row: pd.Series) -> str:
    """Plain words for one ``summarize`` row: better / worse / no detectable difference vs the baseline, with the
    paired difference, the seeds it rests on (``paired_seeds``, where the row has it), its 95% interval and its
    minimum detectable effect."""
    if row["variant"] == BASELINE:
        return "baseline"
    if math.isnan(row["diff_lo"]):
        return f"{row['diff_vs_baseline']:+.1f} points (too few seeds for an interval)"
    over = f" over {row['paired_seeds']} paired seeds" if "paired_seeds" in row else ""
    span = f"{row['diff_vs_baseline']:+.1f} points{over}, 95% CI [{row['diff_lo']:+.1f}, {row['diff_hi']:+.1f}]"
    if not math.isnan(row.get("mde", math.nan)):
        span += f", detectable from ±{row['mde']:.1f}"
    word = paired_verdict(row["diff_lo"], row["diff_hi"])
    if word == "helps":
        return f"better than the baseline: {span}"
    if word == "hurts":
        return f"worse than the baseline: {span}"
    if word.startswith("equivalent"):
        return f"{word} points: {span}"
    return f"no detectable difference: {span}"


def overall_verdict(summary: pd.DataFrame) -> pd.DataFrame:
    """Per backbone × variant (baseline left out), the paired verdicts of its probe conditions in one phrase
    (:func:`paired_verdict`): ``helps`` (interval above 0), ``hurts`` (below 0), ``equivalent within ±2`` (the whole
    interval inside ±2 points), ``cannot be told apart`` or ``too few seeds``, each followed by its conditions,
    e.g. "hurts on NM, BG; cannot be told apart on CL"."""

    def word(row: pd.Series) -> str:
        return paired_verdict(row["diff_lo"], row["diff_hi"])

    records = []
    rows = summary[summary["variant"] != BASELINE]
    for (backbone, variant), group in rows.groupby(["backbone", "variant"], sort=False):
        words = dict.fromkeys(word(r) for _, r in group.iterrows())
        parts = [f"{w} on {', '.join(group.loc[group.apply(word, axis=1) == w, 'condition'])}" for w in words]
        records.append({"backbone": backbone, "variant": variant, "verdict": "; ".join(parts)})
    return pd.DataFrame.from_records(records, columns=["backbone", "variant", "verdict"])
