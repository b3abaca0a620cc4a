"""The other records on the study page (notebook 06), as tables and words: the first study, the diagnosis of the
authors' PR recipe, the GPU checks of GaitSet, the selection of the default on validation identities and the learning
curves.

Each function takes the frames the committed files load into (:func:`gil.experiments.study.load_study`,
:func:`~gil.experiments.selection.load_selection`, :func:`~gil.experiments.curves.load_curves`) or a results folder,
and returns a DataFrame or Markdown text with the labels the page shows; rounding is the page's.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from gil.experiments import study

CONDITIONS = ["NM", "BG", "CL"]
DIAGNOSIS = "authors_pr_diagnosis.json"  # in the study folder: the authors' PR recipe's terms, one run each
DIAGNOSIS_ROWS = [
    "triplet_active_fraction_step100",
    "triplet_mean_dist_step100",
    "mean_norm_step100",
    "ce_accuracy_step250",
]


def first_study_note(summary: pd.DataFrame, provenance: Mapping[str, Any]) -> str:
    """The first study's seeds (the most any variant has) and the commits its cells were computed at (first 10
    characters, in order), in a sentence."""
    commits = ", ".join(dict.fromkeys(c["commit"][:10] for c in provenance["cells"]))
    return f"Seeds per variant: {summary.groupby('variant')['seeds'].max().max()}; commits {commits}."


def authors_pr_diagnosis(folder: str | Path, ablation: pd.DataFrame) -> pd.DataFrame | None:
    """The authors' PR recipe's terms added to triplet one at a time (``folder``/:data:`DIAGNOSIS`), one column per
    run (``terms``); ``None`` without that file.

    Rows: ``rank1_<condition>`` (and the cosine ones) the file has, then :data:`DIAGNOSIS_ROWS` (blank where a run
    did not log it). Triplet's rank-1 is the study's own seed-0 GaitGL cell (``ablation``), not the file's. The
    index axis is named ``GaitGL, seed 0``.
    """
    path = Path(folder) / DIAGNOSIS
    if not path.is_file():
        return None
    diagnosis = pd.DataFrame(json.loads(path.read_text())["runs"]).set_index("terms")
    cell = ablation.query("backbone == 'gaitgl' and variant == 'triplet' and seed == 0").set_index("condition")
    for condition in CONDITIONS:
        diagnosis.loc["triplet", f"rank1_{condition}"] = cell.loc[condition, "rank1"]
    shown = [c for c in diagnosis.columns if c.startswith("rank1_")] + DIAGNOSIS_ROWS
    return diagnosis.reindex(columns=shown).T.rename_axis("GaitGL, seed 0")


def gpu_variant_table(folder: str | Path) -> pd.DataFrame:
    """The GPU check of the study's variants (``folder``/``gaitset_variants.jsonl``): per backbone × variant (the
    names of today, :data:`gil.experiments.study.RENAMED`), mean rank-1 NM/BG/CL over its ``seeds`` (listed)."""
    runs = pd.read_json(Path(folder) / "gaitset_variants.jsonl", lines=True)
    runs["variant"] = runs["variant"].replace(study.RENAMED)
    by_variant = runs.groupby(["backbone", "variant"], sort=False)
    return by_variant[CONDITIONS].mean().assign(seeds=by_variant["seed"].apply(list))


def gpu_uniformity_table(folder: str | Path) -> pd.DataFrame:
    """The GPU sweep of λ_u with GaitSet's margin form (``folder``/``gaitset_uniformity.jsonl``): per weight, mean
    rank-1 NM/BG/CL, ``mean_part_norm`` and ``last_active`` over its ``seeds`` (listed); index axis
    ``GaitSet + GIL margin, λ_u``."""
    sweep = pd.read_json(Path(folder) / "gaitset_uniformity.jsonl", lines=True)
    by_weight = sweep[sweep["backbone"] == "gaitset"].groupby("uniformity_weight", sort=False)
    means = by_weight[[*CONDITIONS, "mean_part_norm", "last_active"]].mean()
    return means.assign(seeds=by_weight["seed"].apply(list)).rename_axis("GaitSet + GIL margin, λ_u")


def selection_table(selection: pd.DataFrame) -> pd.DataFrame:
    """Every candidate of the selection (``selection.csv`` rows) per backbone: ``seeds``, validation ``rank1`` (mean
    over conditions, then seeds) and ``mean_norm`` (mean over seeds); rows the candidates, columns
    ``(measure, backbone)``."""
    per_seed = selection.groupby(["backbone", "candidate", "seed"], sort=False).agg(
        rank1=("rank1", "mean"), mean_norm=("mean_norm", "first")
    )
    by_candidate = per_seed.groupby(["backbone", "candidate"], sort=False).agg(
        seeds=("rank1", "size"), rank1=("rank1", "mean"), mean_norm=("mean_norm", "mean")
    )
    return by_candidate.unstack("backbone")


def selection_status(selection: pd.DataFrame, rule: pd.DataFrame, seeds_needed: int = 3) -> str:
    """Which seeds the selection has finished, and the rule's pick (:func:`gil.experiments.selection.verdict`'s
    ``chosen``) once ``seeds_needed`` seeds have."""
    done = sorted(set(selection["seed"]))
    if len(done) < seeds_needed:
        status = "the rule's inputs so far; no default is chosen before three seeds"
    else:
        status = f"chosen by the rule: {rule['chosen'].idxmax()}"
    return f"Seeds finished: {done} — {status}."


def default_check_words(check: pd.DataFrame, backbone: str, candidate: str) -> str:
    """:func:`gil.experiments.selection.default_check`'s table in a sentence: whether ``candidate`` collapses on
    ``backbone`` under the selection's criterion, on which seeds, and the worst norm ratio."""
    if check.empty:
        return f"No {backbone} cells of the default ({candidate}) and triplet on the same seed yet."
    seeds = check.index.tolist()
    worst = float(check["norm_ratio"].max())
    gap = float((check[f"rank1_{candidate}"] - check["rank1_triplet"]).mean())
    collapsed = check.index[check["collapses"]].tolist()
    if collapsed:
        outcome = (
            f"**collapses** on seed(s) {collapsed} (worst norm ratio {worst:.2f} > 3): {backbone} needs another λ_u, "
            "to be chosen on these validation identities by the same rule"
        )
    else:
        outcome = f"collapses on no seed (worst norm ratio to triplet {worst:.2f}; the criterion is 3), so it stays"
    return (
        f"**{backbone}**, seeds {seeds}: the default ({candidate}) {outcome}. Its validation rank-1 is {gap:+.1f} "
        "points from triplet's (mean over seeds and conditions); nothing is chosen from that number."
    )


def curve_levels(learning: pd.DataFrame) -> pd.DataFrame:
    """Mean rank-1 over seeds at every scored step (``curves.csv`` rows): rows backbone × variant × condition,
    columns the steps (axis ``mean rank-1 at step``)."""
    levels = learning.groupby(["backbone", "variant", "condition", "step"], sort=False)["rank1"].mean()
    return levels.unstack("step").rename_axis(columns="mean rank-1 at step")


def curve_verdicts(by_step: pd.DataFrame) -> pd.DataFrame:
    """:func:`gil.experiments.curves.verdict_by_step` as a table: rows the steps, columns ``(backbone, variant)``."""
    return by_step.pivot_table(
        index="step", columns=["backbone", "variant"], values="verdict", aggfunc="first", sort=False
    )


def last_step_words(by_step: pd.DataFrame, seeds: list[int]) -> str:
    """The verdicts of :func:`gil.experiments.curves.verdict_by_step` at the last scored step, in a paragraph."""
    last = by_step[by_step["step"] == by_step["step"].max()]
    step = last["step"].max() if len(last) else "–"
    verdicts = "; ".join(f"**{r['backbone']} · {r['variant']}** {r['verdict']}" for _, r in last.iterrows())
    return (
        f"At the last scored step ({step}), seeds {seeds}: {verdicts}"
        " (against triplet, paired; helps / hurts only when the 95% interval excludes zero)."
    )
