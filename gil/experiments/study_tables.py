"""The multi-seed study as the pages show it (notebooks 06 and 07): tables of rank-1 with their intervals, per
backbone, the paired verdicts in words, the study's provenance, and GIL's gain beside the published ones.

Input is :func:`gil.experiments.study.summarize`'s table (one row per backbone × variant × condition: ``seeds, mean,
lo, hi, diff_vs_baseline, diff_lo, diff_hi``) or :func:`~gil.experiments.study.overall_verdict`'s; output is a
DataFrame or Markdown text, whose labels are the ones the pages show. Numbers are formatted to one decimal here
because a cell shows a number and its interval together (``"72.0 [70.1, 73.9]"``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from gil.experiments import cells, study

BACKBONE_ORDER = ("gaitset", "gaitpart", "gaitgl", "gaitbase")  # the order the pages show backbones in
CONDITIONS = ["NM", "BG", "CL"]
# the study's variants as page 07 names them beside the paper's methods
METHODS = {
    "triplet": "baseline (triplet)",
    "gil_margin": "+ GIL (L_m)",
    "gil_softmax": "+ GIL (L_s)",
    "authors_pr": "authors' PR recipe (triplet + InfoLoss + CE)",
}
# the variants page 07 sets against the baseline, and their names in the gains table
GAIN_VARIANTS = {"gil_margin": "GIL (L_m)", "gil_softmax": "GIL (L_s)", "authors_pr": "the authors' PR recipe"}


def load_shown(folder: str | Path) -> tuple[pd.DataFrame | None, dict[str, Any] | None, str | None]:
    """The study of ``folder`` to show (:func:`~gil.experiments.study.load_study`): ``(ablation, provenance, None)``,
    or ``(None, provenance or None, why)`` with a Markdown sentence saying why there is nothing to show (no files, or
    files without cells)."""
    try:
        ablation, provenance = study.load_study(folder)
    except FileNotFoundError as err:
        return None, None, f"**No study results yet.** {err}."
    if ablation.empty:
        return None, provenance, f"**No study cells yet** in `{folder}`."
    return ablation, provenance, None


def backbones(frame: pd.DataFrame) -> list[str]:
    """The backbones in ``frame``'s ``backbone`` column, in :data:`BACKBONE_ORDER` (others after, as they come)."""
    present = list(dict.fromkeys(frame["backbone"]))
    return [b for b in BACKBONE_ORDER if b in present] + [b for b in present if b not in BACKBONE_ORDER]


def _rank(column: pd.Series) -> pd.Series:
    """Sort key of a ``backbone`` column: its place in :data:`BACKBONE_ORDER` (others last)."""
    return column.map(lambda b: BACKBONE_ORDER.index(b) if b in BACKBONE_ORDER else len(BACKBONE_ORDER))


def _number(values: pd.Series, fmt: str = "{:.1f}") -> pd.Series:
    return values.map(fmt.format)


def _by_condition(rows: pd.DataFrame, values: pd.Series, name: str, index: str = "variant", order=None) -> pd.DataFrame:
    """``values`` (one per row of ``rows``) pivoted: one row per ``index`` value (``order``, default as they come),
    the columns NM, BG, CL; the index axis named ``name``, the columns' unnamed."""
    frame = rows.assign(_value=values)
    order = list(dict.fromkeys(rows[index])) if order is None else list(order)
    return (
        frame.pivot(index=index, columns="condition", values="_value")
        .reindex(index=order, columns=CONDITIONS)
        .rename_axis(index=name, columns=None)
    )


def _rows_of(summary: pd.DataFrame, backbone: str | None) -> pd.DataFrame:
    return summary if backbone is None else summary[summary["backbone"] == backbone]


def rank1_table(summary: pd.DataFrame, backbone: str | None = None, name: str | None = None) -> pd.DataFrame:
    """Mean rank-1 and its 95% interval, ``"mean [lo, hi]"`` (``nan`` bounds with one seed), variants × NM/BG/CL,
    and a last column ``seeds``: how many seeds each variant's row rests on (variants may have different seeds).

    Rows of one ``backbone`` (``None``: every row, for a study of one backbone); the variants in the summary's
    order; the index axis named ``name`` (default the backbone).
    """
    rows = _rows_of(summary, backbone)
    text = _number(rows["mean"]) + " [" + _number(rows["lo"]) + ", " + _number(rows["hi"]) + "]"
    table = _by_condition(rows, text, name or backbone or "")
    return table.assign(seeds=rows.groupby("variant", sort=False)["seeds"].max().reindex(table.index))


def verdict_table(summary: pd.DataFrame, backbone: str) -> pd.DataFrame:
    """The paired verdict (:func:`~gil.experiments.study.verdict`) of each variant × NM/BG/CL of one backbone."""
    rows = _rows_of(summary, backbone)
    return _by_condition(rows, rows.apply(study.verdict, axis=1), backbone)


def verdict_lines(overall: pd.DataFrame, order: Sequence[str] | None = None) -> str:
    """A Markdown list, one item per backbone (in ``order``, default :func:`backbones`) of
    :func:`~gil.experiments.study.overall_verdict`'s table: ``"- **gaitgl**: gil_margin helps on NM; …"``."""
    order = backbones(overall) if order is None else order
    return "\n".join(
        f"- **{backbone}**: "
        + "; ".join(f"{r['variant']} {r['verdict']}" for _, r in overall[overall["backbone"] == backbone].iterrows())
        for backbone in order
    )


def variant_lines(overall: pd.DataFrame) -> str:
    """A Markdown list, one item per row of an :func:`~gil.experiments.study.overall_verdict` table:
    ``"- **variant** verdict"``."""
    return "\n".join(f"- **{r['variant']}** {r['verdict']}" for _, r in overall.iterrows())


def provenance_table(ablation: pd.DataFrame, provenance: Mapping[str, Any]) -> pd.DataFrame:
    """How the study's cells were produced, one row per fact (column ``provenance``): commands, base config,
    overrides, commits, torch and its threads, machine, number of cells, cells reusing a selection run, seeds per
    backbone and variant. A cell's own ``command`` / ``commit`` wins over the file's header."""
    machine, entries = provenance["machine"], provenance["cells"]
    reused = sum(1 for c in entries if c.get("reused"))
    seeds = ablation.groupby(["backbone", "variant"], sort=False)["seed"].nunique()
    facts = {
        "commands": "; ".join(dict.fromkeys(c.get("command", provenance["command"]) for c in entries)),
        "base config": provenance["base_config"],
        "overrides": provenance["overrides"] or "none",
        "commits": ", ".join(dict.fromkeys(c.get("commit", machine["commit"])[:10] for c in entries)),
        "torch": machine["torch"],
        "torch threads": machine["torch_threads"],
        "machine": f"{machine['cpu']}, {machine['cores']} cores",
        "cells (backbone × variant × seed)": len(entries),
        "cells reusing a selection run": reused,
        "seeds per backbone and variant": {f"{b} · {v}": n for (b, v), n in seeds.items()},
    }
    return pd.Series(facts, name="provenance").to_frame()


def stage_table(folder: str | Path) -> pd.DataFrame:
    """Cells and recorded hours per stage of ``make study`` (:func:`gil.experiments.cells.recorded_hours`) and their
    ``total``; index ``stage``, its axis named ``make study, recorded``."""
    stages = cells.recorded_hours(Path(folder))
    total = pd.DataFrame([{"stage": "total", "cells": stages["cells"].sum(), "hours": stages["hours"].sum()}])
    return pd.concat([stages, total]).set_index("stage").rename_axis("make study, recorded")


def paper_rank1_table(summary: pd.DataFrame, backbone: str, methods: Mapping[str, str] = METHODS) -> pd.DataFrame:
    """Page 07's table of one backbone: ``"mean ± half-width"`` of the 95% interval (``nan`` with one seed), one row
    per variant of ``methods`` that the study has, named as there and in its order, columns NM/BG/CL."""
    rows = _rows_of(summary, backbone)
    rows = rows[rows["variant"].isin(list(methods))]
    half = (rows["hi"] - rows["lo"]) / 2
    shown = rows.assign(method=rows["variant"].map(methods))
    order = [m for m in methods.values() if m in set(shown["method"])]
    return _by_condition(shown, _number(shown["mean"]) + " ± " + _number(half), backbone, "method", order)


def gains_table(gains: pd.DataFrame, summary: pd.DataFrame | None = None) -> pd.DataFrame:
    """GIL minus its baseline in every source, one row per source · setting · method, columns NM/BG/CL/all.

    ``gains``: :func:`gil.experiments.paper.published_gains` (shown ``"+6.2"``). ``summary`` (optional): the study's
    rows ``this package · twin · <backbone> + <variant>`` for the variants of :data:`GAIN_VARIANTS`, backbones in
    :data:`BACKBONE_ORDER`, the paired difference and its 95% interval ``"+1.0 [-0.5, +2.5]"``. Blank where a source
    has no number.
    """
    shown = gains.assign(
        gain=_number(gains["gain"], "{:+.1f}"),
        row=gains["source"] + " · " + gains["setting"] + " · " + gains["method"],
    )
    table = shown.pivot_table(index="row", columns="condition", values="gain", aggfunc="first", sort=False)
    if summary is not None:
        paired = summary[summary["variant"].isin(list(GAIN_VARIANTS))].sort_values("backbone", key=_rank, kind="stable")
        ours = paired.assign(
            row="this package · twin · " + paired["backbone"] + " + " + paired["variant"].map(GAIN_VARIANTS),
            gain=_number(paired["diff_vs_baseline"], "{:+.1f}")
            + " ["
            + _number(paired["diff_lo"], "{:+.1f}")
            + ", "
            + _number(paired["diff_hi"], "{:+.1f}")
            + "]",
        )
        table = pd.concat(
            [table, ours.pivot_table(index="row", columns="condition", values="gain", aggfunc="first", sort=False)]
        )
    return table.reindex(columns=[*CONDITIONS, "all"]).fillna("").rename_axis(index="GIL minus baseline", columns=None)


def detection_lines(
    summary: pd.DataFrame, gains: pd.DataFrame, setting: str = "LT (74)", backbone: str = "gaitgl"
) -> str:
    """Whether the study could see the paper's gains: per GIL form and condition of ``backbone``, the paper's gain
    (Table 1, ``setting``) against the study's minimum detectable effect at 80% power (a true gain at least that large
    is detected at least 80% of the time), then what the study sees: ``"- **GIL (L_m), CL**: the paper's +6.2 would
    have been detected here (detectable from ±3.1); we see +0.6 [-1.4, +2.6]: equivalent within ±2"``."""
    paper = gains[(gains["source"] == "paper") & (gains["setting"] == setting)]
    rows = _rows_of(summary, backbone)
    lines = []
    for variant, name in GAIN_VARIANTS.items():
        method = f"GaitGL + {name}"
        for condition in CONDITIONS:
            ours = rows[(rows["variant"] == variant) & (rows["condition"] == condition)]
            published = paper[(paper["method"] == method) & (paper["condition"] == condition)]
            if ours.empty or published.empty:
                continue
            row, gain = ours.iloc[0], float(published["gain"].iloc[0])
            mde = row.get("mde", float("nan"))
            if pd.isna(mde):
                seen = "too few seeds to say what this study could detect"
            elif abs(gain) >= mde:
                seen = f"would have been detected here (detectable from ±{mde:.1f})"
            else:
                seen = f"is smaller than what this study detects reliably (±{mde:.1f})"
            interval = f"{row['diff_vs_baseline']:+.1f} [{row['diff_lo']:+.1f}, {row['diff_hi']:+.1f}]"
            word = study.paired_verdict(row["diff_lo"], row["diff_hi"])
            lines.append(f"- **{name}, {condition}**: the paper's {gain:+.1f} {seen}; we see {interval}: {word}")
    return "\n".join(lines)


def gain_verdicts(summary: pd.DataFrame, methods: Mapping[str, str] = METHODS) -> str:
    """Page 07's verdicts in words: a Markdown list, one item per backbone (in :data:`BACKBONE_ORDER`) and variant of
    :data:`GAIN_VARIANTS`, ``"- **gaitgl, + GIL (L_m)**: helps on NM; …"``, then the seeds of every backbone ·
    variant of ``methods``."""
    overall = study.overall_verdict(summary)
    overall = overall[overall["variant"].isin(list(GAIN_VARIANTS))].sort_values("backbone", key=_rank, kind="stable")
    lines = [f"- **{r['backbone']}, {methods[r['variant']]}**: {r['verdict']}" for _, r in overall.iterrows()]
    named = summary[summary["variant"].isin(list(methods))]
    seeds = named.groupby(["backbone", "variant"], sort=False)["seeds"].max()
    listed = ", ".join(f"{b} · {v} {n}" for (b, v), n in seeds.items())
    return "\n".join(lines) + f"\n\nSeeds: {listed}."
