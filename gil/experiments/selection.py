"""Choosing GIL's default margin form on validation identities, never on test identities.

**Validation identities.** A second ``small`` twin generated with seed 1 (``gil data generate --preset small --seed 1
--out data/syngait-small-val``): the same preset (sizes, views, conditions, difficulty), other people. Every model
trains on the study's data (the seed-0 twin's 30 training identities, the study's base config) and is scored with the
CASIA-B protocol on *all 60* identities of the validation twin, twice the test set's 30, so that candidates separate
with fewer seeds. No model ever trains on them, and no choice reads the test identities.

**Cells.** backbone × candidate × seed, each the study's base config with ``model.name`` and the candidate's loss
terms. The run folder (and its test ``eval.json``) is the study's own run cache, so a chosen candidate's study cells
are the same runs; this module reads only the validation score. Rows of ``selection.csv``:
``backbone, candidate, seed, condition, rank1, map, mean_norm`` (``mean_norm``: the mean part norm of the validation
embeddings, the collapse indicator).

**Candidates** (:data:`CANDIDATES`; every one is reported, losers included):

- ``triplet`` — the baseline, the reference of the collapse criterion;
- ``first`` — the first reconstruction: GIL margin, L_u on normalised centres, λ_u = 0.1 (collapses GaitSet and
  GaitPart on the test identities, ``results/gpu/README.md``);
- ``lambda_0.01`` — the same with a ten times smaller λ_u;
- ``norm_scaled`` — λ_u · sg(mean |e|) · L_u: L_u on the margin term's scale (``uniformity_scale="norm"``);
- ``sphere`` — the margin term on normalised embeddings, the space of the centres, margins and L_u
  (``metric_space="sphere"``).

**Decision rule, fixed before any cell ran.** A candidate *collapses* on a backbone when, for some seed, its mean part
norm is below a third of the triplet run's of that backbone and seed. Among the GIL candidates that collapse on no
backbone, the default is the one with the highest validation rank-1 averaged over NM, BG, CL, backbones and seeds; a
candidate within one seed standard deviation of the best (the spread of the paired per-seed differences) counts as
tied, and among tied candidates the first in :data:`CANDIDATES` order (the smallest change to the first
reconstruction) wins.

**A backbone that joined later** (:data:`CHECKED_BACKBONES`: GaitBase, issue #27) does not reopen the decision: its
cells are the same (triplet and the chosen default, on the validation identities) and :func:`default_check` applies
the collapse criterion to them. Only if the default collapses there would that backbone need another λ_u, chosen on
its validation cells by the same rule.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from gil import config as config_lib
from gil.config import RunConfig, resolve_path
from gil.device import pick_device
from gil.evaluate.run import evaluate_model
from gil.experiments import study
from gil.experiments.catalog import (  # the names the CLI offers, defined there
    CANDIDATES,
    CHECKED_BACKBONES,
    VALIDATION_ROOT,
)
from gil.experiments.catalog import SELECTION_BACKBONES as BACKBONES
from gil.experiments.cells import merge_entry, merge_rows, read_header, shown_overrides
from gil.experiments.provenance import machine
from gil.run_folder import load_trained_model

ALL_BACKBONES = BACKBONES + CHECKED_BACKBONES
VALIDATION_SEED = 1
SEEDS = (0, 1, 2)
COLLAPSE_RATIO = 3.0
SELECTION_COLUMNS = ["backbone", "candidate", "seed", "condition", "rank1", "map", "mean_norm"]


def cell_config(
    backbone: str, candidate: str, seed: int, base: str = study.BASE_CONFIG, overrides: dict[str, Any] | None = None
) -> RunConfig:
    """The training config of one selection cell: the study's base config, the backbone, the candidate's terms."""
    if backbone not in ALL_BACKBONES:
        raise ValueError(f"unknown backbone '{backbone}'; the selection runs {', '.join(ALL_BACKBONES)}")
    if candidate not in CANDIDATES:
        raise ValueError(f"unknown candidate '{candidate}'; known: {', '.join(CANDIDATES)}")
    overrides = {**(overrides or {}), "model.name": backbone}
    return study.cell_config(base, overrides, CANDIDATES[candidate], seed, f"select-{backbone}-{candidate}")


def validation_subjects(root: str | Path) -> list[str]:
    """Every identity of the validation twin at ``root``, or an error saying how to generate it."""
    root = resolve_path(root)
    meta = root / "syngait.json"
    if not meta.is_file():
        raise FileNotFoundError(
            f"{root}: no validation twin (no syngait.json); generate it with "
            f"`gil data generate --preset small --seed {VALIDATION_SEED} --out {root}`"
        )
    subjects = sorted(p.name for p in root.iterdir() if p.is_dir())
    if not subjects:
        raise ValueError(f"{root}: no subject folders")
    return subjects


def check_same_preset(training_root: str | Path, validation_root: str | Path) -> None:
    """Refuse a validation twin of another preset than the training data's (sizes and difficulty must match)."""
    train_meta = resolve_path(training_root) / "syngait.json"
    if not train_meta.is_file():
        return  # real data: any held-out identities in the same layout will do
    trained = json.loads(train_meta.read_text())
    held_out = json.loads((resolve_path(validation_root) / "syngait.json").read_text())
    if trained["preset"] != held_out["preset"] or trained.get("version") != held_out.get("version"):
        raise ValueError(
            f"{validation_root}: preset {held_out['preset']['name']} (v{held_out.get('version')}) differs from the "
            f"training data's {trained['preset']['name']} (v{trained.get('version')}); generate the validation twin "
            "with the same preset"
        )
    if trained.get("seed") == held_out.get("seed"):
        raise ValueError(f"{validation_root}: the same seed as the training data, hence the same identities")


def run_cell(
    backbone: str,
    candidate: str,
    seed: int,
    validation_root: str | Path = VALIDATION_ROOT,
    runs_root: str | Path = "runs/study",
    base: str = study.BASE_CONFIG,
    overrides: dict[str, Any] | None = None,
    progress: bool = True,
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Train (or reuse) one cell and score it on the validation identities; returns its rows and provenance entry."""
    subjects = validation_subjects(validation_root)
    config = cell_config(backbone, candidate, seed, base, overrides)
    check_same_preset(config.data_root(), validation_root)
    run_dir, timing = study.timed_run(config, runs_root, progress)
    tic = time.perf_counter()
    device = pick_device(config.trainer.device)
    model = load_trained_model(config, run_dir, device)
    on_validation = config_lib.from_dict(config.to_dict(), {"data.root": str(resolve_path(validation_root))})
    result, arrays = evaluate_model(model, on_validation, device, progress=progress, subjects=subjects)
    mean_norm = float(np.linalg.norm(np.asarray(arrays["embeddings"], dtype=np.float64), axis=-1).mean())
    rows = [
        {
            "backbone": backbone,
            "candidate": candidate,
            "seed": seed,
            "condition": condition,
            "rank1": rank1,
            "map": result.map_summary.get(condition),
            "mean_norm": mean_norm,
        }
        for condition, rank1 in result.summary.items()
    ]
    entry = {"backbone": backbone, "candidate": candidate, "seed": seed, "validation_identities": len(subjects)}
    return rows, {**entry, **timing, "eval_s": round(time.perf_counter() - tic, 1)}


def run_selection(
    out: str | Path = "results/study",
    backbones: Sequence[str] = BACKBONES,
    candidates: Sequence[str] = tuple(CANDIDATES),
    seeds: Sequence[int] = SEEDS,
    validation_root: str | Path = VALIDATION_ROOT,
    runs_root: str | Path = "runs/study",
    base: str = study.BASE_CONFIG,
    overrides: dict[str, Any] | None = None,
    command: str | None = None,
    progress: bool = True,
    skip_collapsed: bool = True,
) -> pd.DataFrame:
    """Every cell, seed-major then backbone; each merged into ``out/selection.csv`` and ``out/selection.json`` as
    it finishes (cells already there are kept, the same cell replaced). Returns the whole table.

    ``skip_collapsed``: a candidate that has collapsed already (on any backbone, in a cell of ``out``) is not
    trained for further seeds — under the rule it is out, whatever they show; its finished cells stay reported.
    """
    out = resolve_path(out)
    header = selection_header(base, overrides, validation_root)
    read_header(out / "selection.json", **header)  # before any training: a mismatch is refused at once
    out.mkdir(parents=True, exist_ok=True)
    command = command or " ".join(sys.argv)
    started = machine()  # the code that runs is the checkout's at the start, whatever is committed meanwhile
    for seed in seeds:
        for backbone in backbones:
            for candidate in candidates:
                if skip_collapsed and candidate in collapsed_candidates(out, before_seed=seed):
                    print(f"gil select: skipping {backbone} {candidate} seed {seed}: collapsed on an earlier seed")
                    continue
                rows, entry = run_cell(backbone, candidate, seed, validation_root, runs_root, base, overrides, progress)
                merge_cell(out, rows, {**entry, "command": command}, header, started)
    return load_selection(out)


def selection_header(base: str, overrides: dict[str, Any] | None, validation_root: str | Path) -> dict[str, Any]:
    """What every cell of one ``selection.json`` shares: the base config, the overrides that change numbers and the
    validation twin's generator settings."""
    held_out = json.loads((resolve_path(validation_root) / "syngait.json").read_text())
    return {"base_config": base, "overrides": shown_overrides(overrides), "validation_data": held_out}


def collapsed_candidates(out: str | Path, before_seed: int) -> set[str]:
    """The candidates the rule rules out on the finished cells of ``out`` with a seed below ``before_seed``."""
    path = resolve_path(out) / "selection.csv"
    if not path.is_file():
        return set()
    earlier = pd.read_csv(path)
    earlier = earlier[earlier["seed"] < before_seed]
    if not (earlier["candidate"] == "triplet").any():
        return set()
    table = verdict(earlier)
    return set(table.index[table["collapses"]])


def merge_cell(
    out: Path,
    rows: list[dict[str, Any]],
    entry: dict[str, Any],
    header: dict[str, Any],
    started: dict[str, Any] | None = None,
) -> None:
    """Merge one cell made with ``header`` (:func:`selection_header`, refused if the file's other cells differ);
    ``started``: :func:`machine` when the command started (the commit whose code ran)."""
    key = {name: entry[name] for name in ("backbone", "candidate", "seed")}
    dtypes = {"seed": int, "rank1": float, "map": float, "mean_norm": float}
    ranks = {"backbone": ALL_BACKBONES, "candidate": list(CANDIDATES)}
    read_header(out / "selection.json", **header)  # before the CSV is touched
    merge_rows(out / "selection.csv", rows, SELECTION_COLUMNS, key, dtypes, ["seed", "backbone", "candidate"], ranks)
    merge_entry(out / "selection.json", entry, list(key), started or machine(), **header)


def load_selection(folder: str | Path = "results/study") -> pd.DataFrame:
    path = resolve_path(folder) / "selection.csv"
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no selection results; run `gil select`")
    return pd.read_csv(path)


def _per_seed(selection: pd.DataFrame) -> pd.DataFrame:
    """One row per backbone × candidate × seed: validation ``rank1`` (mean over conditions) and ``mean_norm``."""
    return selection.groupby(["backbone", "candidate", "seed"], sort=False).agg(
        rank1=("rank1", "mean"), mean_norm=("mean_norm", "first")
    )


def verdict(selection: pd.DataFrame) -> pd.DataFrame:
    """Per GIL candidate: validation rank-1 (mean over conditions, backbones, seeds), its paired difference to the
    best candidate with the seed spread, the worst norm ratio to triplet, whether it collapses — the decision rule's
    inputs; ``chosen`` marks the rule's pick (see the module docstring). Only the backbones the rule decided on
    (:data:`BACKBONES`) count; cells of a :data:`CHECKED_BACKBONES` backbone are :func:`default_check`'s."""
    per_seed = _per_seed(selection[selection["backbone"].isin(BACKBONES)]).reset_index()
    triplet = per_seed[per_seed["candidate"] == "triplet"].set_index(["backbone", "seed"])["mean_norm"]
    records = []
    for candidate, group in per_seed[per_seed["candidate"] != "triplet"].groupby("candidate", sort=False):
        g = group.set_index(["backbone", "seed"])
        ratio = (triplet.reindex(g.index) / g["mean_norm"]).max()
        records.append(
            {
                "candidate": candidate,
                "cells": len(g),
                "rank1": float(g["rank1"].mean()),
                "worst_norm_ratio": float(ratio),
                "collapses": bool(ratio > COLLAPSE_RATIO),
            }
        )
    columns = ["candidate", "cells", "rank1", "worst_norm_ratio", "collapses"]
    table = pd.DataFrame.from_records(records, columns=columns).set_index("candidate")
    stable = table[~table["collapses"]]
    table["chosen"] = False
    if len(stable):
        wide = per_seed.pivot_table(index=["backbone", "seed"], columns="candidate", values="rank1")
        best = stable["rank1"].idxmax()
        spread = {c: float((wide[best] - wide[c]).std(ddof=1)) if c != best else 0.0 for c in stable.index}
        tied = [
            c
            for c in CANDIDATES
            if c in stable.index and stable.loc[c, "rank1"] >= stable.loc[best, "rank1"] - spread[c]
        ]
        table.loc[tied[0], "chosen"] = True
        table["gap_to_best"] = table["rank1"] - stable.loc[best, "rank1"]
    return table


def default_check(selection: pd.DataFrame, backbone: str, candidate: str | None = None) -> pd.DataFrame:
    """The rule's pick (or ``candidate``) on a backbone that joined after the decision, per seed, against that
    backbone's triplet run of the same seed, on the validation identities: ``rank1`` of both (mean over conditions),
    ``mean_norm`` of both, ``norm_ratio`` (triplet's over the candidate's) and ``collapses`` (the rule's criterion:
    ratio above :data:`COLLAPSE_RATIO`). One row per seed that has both cells; empty before any."""
    if candidate is None:
        rule = verdict(selection)
        if not rule["chosen"].any():
            raise ValueError("the selection has chosen no default yet; name the candidate to check")
        candidate = str(rule["chosen"].idxmax())
    rows = selection[(selection["backbone"] == backbone) & selection["candidate"].isin(["triplet", candidate])]
    wide = _per_seed(rows).droplevel("backbone").unstack("candidate").dropna()
    columns = ["rank1_triplet", f"rank1_{candidate}", "norm_triplet", f"norm_{candidate}", "norm_ratio", "collapses"]
    if wide.empty or candidate not in wide["rank1"].columns or "triplet" not in wide["rank1"].columns:
        return pd.DataFrame(columns=columns).rename_axis(index="seed")
    table = pd.DataFrame(
        {
            "rank1_triplet": wide[("rank1", "triplet")],
            f"rank1_{candidate}": wide[("rank1", candidate)],
            "norm_triplet": wide[("mean_norm", "triplet")],
            f"norm_{candidate}": wide[("mean_norm", candidate)],
        }
    )
    table["norm_ratio"] = table["norm_triplet"] / table[f"norm_{candidate}"]
    table["collapses"] = table["norm_ratio"] > COLLAPSE_RATIO
    return table
