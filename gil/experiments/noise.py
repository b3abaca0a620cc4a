"""Where the study's noise comes from: training (the seed) or evaluation (the finite set of test identities).

Each study cell's checkpoint is scored twice: on the study's test identities (twin A: the cell's own ``eval.json``)
and on the test identities of a second twin of the same preset generated with another seed (twin B: other people,
as many of them). For the paired difference of a GIL form and triplet (same backbone and seed), ``d = GIL − triplet``:

- ``d_A(s) − d_B(s)`` has mean 0 (both test sets are draws of the same population) and variance ``2 σ²_e``, where
  ``σ²_e`` is what a test set of that size adds; so ``σ²_e = mean_s (d_A − d_B)² / 2``;
- over seeds, ``Var_s(d_A) = σ²_t + σ²_e``, so the training (seed) share is ``σ²_t = Var_s(d_A) − σ²_e`` (a negative
  estimate is reported as it is and counts as 0 in the plan).

With ``n`` seeds and ``k`` times the test identities the paired 95% interval's half-width is expected near
``t_{0.975, n−1} · √((σ²_t + σ²_e / k) / n)`` (:func:`planned_half_width`). With three seeds both shares are rough;
the files say how many seeds each estimate rests on.

``noise.csv``: ``backbone, variant, seed, condition, rank1_a, rank1_b``; ``noise.json``: provenance per cell.
"""

from __future__ import annotations

import json
import math
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from gil import config as config_lib
from gil.config import resolve_path
from gil.experiments import study
from gil.experiments.catalog import SECOND_TWIN_ROOT, SECOND_TWIN_SEED
from gil.experiments.cells import merge_entry, merge_rows, read_header, shown_overrides
from gil.experiments.provenance import machine
from gil.extras import require

NOISE_COLUMNS = ["backbone", "variant", "seed", "condition", "rank1_a", "rank1_b"]
NOISE_VARIANTS = ("triplet", "gil_margin", "gil_softmax")


def score_on_twin(run_dir: Path, twin_root: str | Path, progress: bool = True) -> dict[str, float]:
    """Rank-1 per probe condition of ``run_dir``'s last checkpoint on ``twin_root``'s test identities (its own
    partition), everything else as the run's config says."""
    from gil.checkpoints import model_from_checkpoint
    from gil.device import pick_device
    from gil.evaluate.run import evaluate_model
    from gil.run_folder import RunFolder

    config = config_lib.load(run_dir / "config.yaml", {"data.root": str(resolve_path(twin_root))})
    device = pick_device(config.trainer.device)
    model = model_from_checkpoint(config, RunFolder(run_dir).checkpoint).to(device).eval()
    result, _ = evaluate_model(model, config, device, progress=progress)
    return {condition: float(value) for condition, value in result.summary.items()}


def check_second_twin(study_root: str | Path, twin_root: str | Path) -> dict[str, Any]:
    """The second twin's ``syngait.json``: the study data's preset with another seed (other people), else an error."""
    study_meta = json.loads((resolve_path(study_root) / "syngait.json").read_text())
    path = resolve_path(twin_root) / "syngait.json"
    if not path.is_file():
        raise FileNotFoundError(
            f"{path.parent}: no second twin (no syngait.json); generate it with `gil data generate --preset "
            f"{study_meta.get('preset', 'small')} --seed {SECOND_TWIN_SEED} --out {twin_root}`"
        )
    twin = json.loads(path.read_text())
    differ = {k for k in study_meta if k != "seed" and study_meta.get(k) != twin.get(k)}
    if differ or twin.get("seed") == study_meta.get("seed"):
        raise ValueError(
            f"{path.parent}: a second twin must be the study data's preset with another seed; it differs in "
            f"{sorted(differ) or ['seed (the same seed: the same people)']}"
        )
    return twin


def run_noise(
    out: str | Path,
    twin_root: str | Path = SECOND_TWIN_ROOT,
    backbones: Sequence[str] = ("gaitgl",),
    variants: Sequence[str] = NOISE_VARIANTS,
    seeds: Sequence[int] = study.DEFAULT_SEEDS,
    runs_root: str | Path = "runs/study",
    base: str = study.BASE_CONFIG,
    overrides: dict[str, Any] | None = None,
    command: str | None = None,
    progress: bool = True,
) -> pd.DataFrame:
    """Every (backbone, variant, seed) cell: the study's run (reused when finished, trained otherwise) scored on the
    second twin too, merged into ``out/noise.csv`` and ``out/noise.json`` as it finishes. Returns the whole table."""
    out = resolve_path(out)
    probe = study.variant_config(variants[0], seeds[0], base, overrides, backbones[0])
    twin = check_second_twin(probe.data_root(), twin_root)
    header = {"base_config": base, "overrides": shown_overrides(overrides), "second_twin": twin}
    read_header(out / "noise.json", **header)  # before any training: a mismatch is refused at once
    out.mkdir(parents=True, exist_ok=True)
    command = command or " ".join(sys.argv)
    started = machine()
    for seed in seeds:
        for backbone in backbones:
            for variant in variants:
                config = study.variant_config(variant, seed, base, overrides, backbone)
                run_dir, timing = study.timed_run(config, runs_root, progress)
                own = json.loads((run_dir / "eval.json").read_text())["summary"]
                tic = time.perf_counter()
                other = score_on_twin(run_dir, twin_root, progress)
                rows = [
                    {"backbone": config.model.name, "variant": variant, "seed": seed, "condition": c,
                     "rank1_a": own[c], "rank1_b": other[c]}
                    for c in own
                ]  # fmt: skip
                entry = {"backbone": config.model.name, "variant": variant, "seed": seed, **timing}
                entry.update(eval_b_s=round(time.perf_counter() - tic, 1), command=command)
                key = {name: entry[name] for name in ("backbone", "variant", "seed")}
                dtypes = {"seed": int, "rank1_a": float, "rank1_b": float}
                ranks = {"variant": list(study.VARIANTS)}
                read_header(out / "noise.json", **header)
                merge_rows(out / "noise.csv", rows, NOISE_COLUMNS, key, dtypes, ["backbone", "seed", "variant"], ranks)
                merge_entry(out / "noise.json", entry, list(key), started, **header)
    return load_noise(out)


def load_noise(folder: str | Path = "results/study") -> pd.DataFrame:
    path = resolve_path(folder) / "noise.csv"
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no noise split yet; run `gil noise --out {folder}`")
    return pd.read_csv(path)


def variance_split(noise: pd.DataFrame, baseline: str = study.BASELINE) -> pd.DataFrame:
    """Per backbone × GIL form × condition, the paired difference's variance split (rank-1 points²): ``seeds``,
    ``var_total`` (over seeds, twin A), ``var_eval`` (σ²_e, from the two twins), ``var_train`` (σ²_t = total −
    eval; a negative estimate stays as it is), and the half-width of today's interval on twin A (from ``var_total``)."""
    keys = ["backbone", "seed", "condition"]
    base = noise[noise["variant"] == baseline].set_index(keys)
    records = []
    for (backbone, variant, condition), group in noise[noise["variant"] != baseline].groupby(
        ["backbone", "variant", "condition"], sort=False
    ):
        own = group.set_index(keys)
        d_a = (own["rank1_a"] - base["rank1_a"].reindex(own.index)).dropna()
        d_b = (own["rank1_b"] - base["rank1_b"].reindex(own.index)).dropna()
        both = d_a.index.intersection(d_b.index)
        n = len(both)
        var_total = float(d_a.loc[both].var(ddof=1)) if n > 1 else math.nan
        var_eval = float(((d_a.loc[both] - d_b.loc[both]) ** 2).mean() / 2) if n else math.nan
        records.append(
            {
                "backbone": backbone,
                "variant": variant,
                "condition": condition,
                "seeds": n,
                "var_total": var_total,
                "var_eval": var_eval,
                "var_train": var_total - var_eval,
                "half_width": planned_half_width(var_total, 0.0, n, 1.0),  # today's t-interval on twin A
            }
        )
    return pd.DataFrame.from_records(records)


def planned_half_width(var_train: float, var_eval: float, seeds: int, identities_factor: float) -> float:
    """The expected half-width of the paired 95% t-interval with ``seeds`` seeds and ``identities_factor`` times the
    test identities: ``t_{0.975, seeds−1} · √((σ²_t + σ²_e / k) / seeds)``."""
    stats = require("scipy.stats", "study", "the study's noise plan")
    if seeds < 2:
        return math.nan
    return float(stats.t.ppf(0.975, seeds - 1) * math.sqrt((var_train + var_eval / identities_factor) / seeds))


def plan(
    split: pd.DataFrame, seeds: Sequence[int] = (3, 5, 8, 12), factors: Sequence[float] = (1, 2, 4)
) -> pd.DataFrame:
    """The planned half-width per backbone × form × condition for each (seeds, identities factor), the variance
    split's training share counted as at least 0: what more seeds and more test identities each buy."""
    rows = []
    for _, row in split.iterrows():
        for n in seeds:
            for k in factors:
                width = planned_half_width(max(row["var_train"], 0.0), row["var_eval"], n, k)
                rows.append({"backbone": row["backbone"], "variant": row["variant"], "condition": row["condition"],
                             "seeds": n, "identities": f"{k:g}×", "half_width": width})  # fmt: skip
    return pd.DataFrame(rows)


def plan_table(split: pd.DataFrame, **grid: Sequence[float]) -> pd.DataFrame:
    """:func:`plan` as one table: a row per backbone × form × condition, a column per (seeds, identities)."""
    widths = plan(split, **grid)
    return widths.pivot_table(
        index=["backbone", "variant", "condition"], columns=["seeds", "identities"], values="half_width", sort=False
    )


__all__ = [
    "NOISE_COLUMNS",
    "load_noise",
    "plan",
    "plan_table",
    "planned_half_width",
    "run_noise",
    "score_on_twin",
    "variance_split",
]
