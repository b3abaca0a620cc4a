"""Calibration of the embedded twin: is it hard enough, and is identity carried by shape and motion?

Every model is scored with the CASIA-B protocol (identical view excluded) on the same test identities:

- ``sequence``: the study's triplet baseline (CPU-width GaitGL on 30-frame clips), one per seed;
- ``single_frame``: the same network, budget and seeds, trained on one random frame repeated 30 times and
  tested on each sequence's middle frame repeated likewise — shape without motion;
- trivial cues, nothing learned (no seed): ``cue_area`` (mean silhouette area), ``cue_width`` (mean silhouette
  width; the height itself is normalised away by the pretreatment, as on real CASIA-B) and ``cue_gei`` (the
  gait-energy image — the mean silhouette — as an untrained template).

``calibration.csv`` holds one row per model × seed × probe condition × probe view
(``model, seed, condition, view, rank1``; ``view`` is the probe view, or ``mean`` for the protocol's summary).
"""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from gil.config import RunConfig, resolve_path
from gil.data.opengait import GaitDataset
from gil.data.transforms import prepare
from gil.evaluate import casia_b
from gil.evaluate.result import ProtocolResult
from gil.experiments import study
from gil.experiments.catalog import CALIBRATION_MODELS as MODELS
from gil.experiments.catalog import CUES, TRAINED_MODELS  # the names the CLI offers, defined there
from gil.experiments.provenance import machine
from gil.files import write_atomic

CALIBRATION_COLUMNS = ["model", "seed", "condition", "view", "rank1"]
DEFAULT_SEEDS = (0, 1, 2)


def cue_embeddings(dataset: GaitDataset, cue: str, resolution: tuple[int, int] = (64, 44)) -> np.ndarray:
    """One untrained descriptor per sequence: ``[n, 1, c]`` (``c`` = 1 for area and width, ``h·w`` for the GEI).

    ``cue_area``: mean fraction of foreground pixels; ``cue_width``: mean fraction of columns that hold
    foreground; ``cue_gei``: the mean silhouette (gait-energy image) at ``resolution``.
    """
    if cue not in CUES:
        raise ValueError(f"unknown cue '{cue}'; known: {', '.join(CUES)}")
    rows = []
    for i in range(len(dataset)):
        frames = prepare(dataset[i], resolution)  # [s, h, w] in [0, 1]
        if cue == "cue_area":
            rows.append([frames.mean()])
        elif cue == "cue_width":
            rows.append([(frames.max(axis=1) > 0.5).mean()])
        else:
            rows.append(frames.mean(axis=0).ravel())
    return np.asarray(rows, dtype=np.float32)[:, None, :]  # [n, 1, c]


def result_rows(model: str, seed: int | None, result: ProtocolResult) -> list[dict[str, Any]]:
    """A protocol result -> calibration rows: every probe view of every condition, and the condition mean."""
    rows = []
    for condition in result.rank1_per_view.columns:
        for view, rank1 in result.rank1_per_view[condition].items():
            rows.append({"model": model, "seed": seed, "condition": condition, "view": str(view), "rank1": rank1})
        rows.append(
            {"model": model, "seed": seed, "condition": condition, "view": "mean", "rank1": result.summary[condition]}
        )
    return rows


def cue_result(data_root: str | Path, cue: str, base: str = study.BASE_CONFIG) -> ProtocolResult:
    """The CASIA-B protocol on one trivial cue of the base config's test identities."""
    from gil.checkpoints import partition_of

    config = study.variant_config(study.BASELINE, 0, base, {"data.root": str(resolve_path(data_root))})
    dataset = GaitDataset(config.data_root(), subjects=list(partition_of(config).test))
    embeddings = cue_embeddings(dataset, cue, config.data.resolution)
    records = dataset.records
    return casia_b(embeddings, [r.subject for r in records], [r.condition for r in records], [r.view for r in records])


def model_config(
    model: str, seed: int, base: str = study.BASE_CONFIG, overrides: dict[str, Any] | None = None
) -> RunConfig:
    """The training config of one trained calibration model: ``sequence`` is exactly the study's triplet cell of that
    seed (the same cached run); ``single_frame`` is the same with ``data.single_frame``."""
    if model not in TRAINED_MODELS:
        raise ValueError(f"unknown trained calibration model '{model}'; known: {', '.join(TRAINED_MODELS)}")
    if model == "sequence":
        return study.variant_config(study.BASELINE, seed, base, overrides)
    config = study.variant_config(study.BASELINE, seed, base, {**(overrides or {}), "data.single_frame": True})
    return dataclasses.replace(config, name="calibration-single_frame")


def run_model(
    model: str,
    seed: int,
    runs_root: str | Path = "runs/study",
    base: str = study.BASE_CONFIG,
    overrides: dict[str, Any] | None = None,
    progress: bool = True,
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Train (or reuse) and evaluate one trained calibration model (:func:`model_config`); returns its rows and
    provenance entry."""
    config = model_config(model, seed, base, overrides)
    run_dir, timing = study.timed_run(config, runs_root, progress)
    result = ProtocolResult.from_dict(json.loads((run_dir / "eval.json").read_text()))
    return result_rows(model, seed, result), {"model": model, "seed": seed, **timing}


def run_calibration(
    out: str | Path = "results/study",
    models: Sequence[str] = MODELS,
    seeds: Sequence[int] = DEFAULT_SEEDS,
    base: str = study.BASE_CONFIG,
    overrides: dict[str, Any] | None = None,
    runs_root: str | Path = "runs/study",
    command: str = "gil calibrate",
    progress: bool = True,
) -> pd.DataFrame:
    """Run the calibration models; merges its rows into ``out/calibration.csv`` (replacing the same
    model × seed) and its entries into ``out/provenance.json`` under ``calibration``, after each model."""
    unknown = sorted(set(models) - set(MODELS))
    if unknown:
        raise ValueError(f"unknown calibration model(s) {unknown}; known: {', '.join(MODELS)}")
    overrides = dict(overrides or {})
    out = resolve_path(out)
    out.mkdir(parents=True, exist_ok=True)
    data_root = overrides.get("data.root") or study.variant_config(study.BASELINE, 0, base).data.root
    cells: list[tuple[str, int | None]] = [(m, s) for s in seeds for m in models if m in TRAINED_MODELS]
    cells += [(m, None) for m in models if m in CUES]
    started = machine()  # the code that runs is the checkout's at the start, whatever is committed meanwhile
    for model, seed in tqdm(cells, desc="calibration", disable=not progress):
        if seed is None:
            tic = time.perf_counter()
            rows = result_rows(model, None, cue_result(data_root, model, base))
            entry = {"model": model, "seed": None, "wall_s": round(time.perf_counter() - tic, 1)}
        else:
            rows, entry = run_model(model, seed, runs_root, base, overrides, progress=False)
        _merge(out, model, seed, rows, {**entry, "machine": started}, command, base, overrides)
    return load_calibration(out)


def _merge(out: Path, model: str, seed: int | None, rows, entry, command: str, base: str, overrides) -> None:
    path = out / "calibration.csv"
    old = pd.read_csv(path, dtype={"view": str}) if path.is_file() else pd.DataFrame(columns=CALIBRATION_COLUMNS)
    same = (old["model"] == model) & (old["seed"].isna() if seed is None else old["seed"] == seed)
    frame = pd.concat([old[~same], pd.DataFrame(rows, columns=CALIBRATION_COLUMNS)], ignore_index=True)
    frame = frame.astype({"seed": "Int64", "rank1": float})
    write_atomic(path, frame.to_csv(index=False, float_format="%.4f"))
    provenance = study.read_provenance(out, command, base, overrides)
    kept = [e for e in provenance.get("calibration", []) if (e["model"], e["seed"]) != (model, seed)]
    provenance["calibration"] = kept + [{"machine": machine(), **entry, "command": command}]
    write_atomic(out / "provenance.json", json.dumps(provenance, indent=2))


def load_calibration(folder: str | Path = "results/study") -> pd.DataFrame:
    """``calibration.csv`` of a study folder (FileNotFoundError naming it when missing)."""
    path = resolve_path(folder) / "calibration.csv"
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no calibration results; run `make study` (or `gil calibrate`)")
    frame = pd.read_csv(path, dtype={"view": str})
    frame["seed"] = frame["seed"].astype("Int64")
    return frame


def summarize(calibration: pd.DataFrame) -> pd.DataFrame:
    """Mean rank-1 over seeds per model × condition (``mean`` rows) and the number of trained seeds (0: a cue)."""
    means = calibration[calibration["view"] == "mean"]
    table = means.pivot_table(index="model", columns="condition", values="rank1", aggfunc="mean")
    table = table.reindex(index=[m for m in MODELS if m in table.index], columns=["NM", "BG", "CL"])
    table["trained seeds"] = means.groupby("model")["seed"].nunique().reindex(table.index)
    return table


def per_view(calibration: pd.DataFrame, model: str = "sequence") -> pd.DataFrame:
    """Mean rank-1 over seeds per probe view (rows) × condition (columns) for one model."""
    rows = calibration[(calibration["model"] == model) & (calibration["view"] != "mean")]
    table = rows.pivot_table(index="view", columns="condition", values="rank1", aggfunc="mean")
    table = table.loc[sorted(table.index, key=int)].reindex(columns=["NM", "BG", "CL"])
    table.index.name = "probe view"
    return table


SIDE_VIEWS = ("072", "090", "108")
END_VIEWS = ("000", "180")


def criteria(calibration: pd.DataFrame) -> pd.DataFrame:
    """The calibration's targets, each measured on the seed means: ``criterion, measured, target, met``.

    NM rank-1 of the sequence model in [60, 95]; BG below NM; CL at least 15 points below NM; side views
    (72°–108°) above the front/back views (0°, 180°); the single-frame control and every trivial cue below
    the sequence model (the control by at least 10 points, the cues by at least 30).
    """
    table = summarize(calibration)
    views = per_view(calibration).mean(axis=1)  # mean over conditions
    nm, bg, cl = (table.loc["sequence", c] for c in ("NM", "BG", "CL"))
    side = views.reindex(list(SIDE_VIEWS)).mean()
    ends = views.reindex(list(END_VIEWS)).mean()
    mean = table[["NM", "BG", "CL"]].mean(axis=1)
    rows = [  # "the model" is the sequence model
        ("NM rank-1, neither saturated nor chance", f"{nm:.1f}", "60 – 95", 60 <= nm <= 95),
        ("BG below NM", f"{bg:.1f} vs {nm:.1f}", "BG < NM", bg < nm),
        ("CL below NM by", f"{nm - cl:.1f} points", ">= 15", nm - cl >= 15),
        ("72°–108° vs 0° and 180°", f"{side:.1f} vs {ends:.1f}", "side > ends", side > ends),
    ]
    if "single_frame" in mean:
        gap = mean["sequence"] - mean["single_frame"]
        rows.append(("single frame below the model by", f"{gap:.1f} points", ">= 10", gap >= 10))
    for cue in CUES:
        if cue in mean:
            gap = mean["sequence"] - mean[cue]
            rows.append((f"{cue} below the model by", f"{gap:.1f} points", ">= 30", gap >= 30))
    return pd.DataFrame(rows, columns=["criterion", "measured", "target", "met"])
