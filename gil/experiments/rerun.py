"""Rerunning the multi-seed study from a page's parameters (notebook 06's ``recompute=True``).

Every parameter is checked before the first cell trains, and a bad one raises ``ValueError`` naming it and its valid
values: :func:`gil.experiments.study.run_study` would only meet an unknown variant when it reached that cell, hours
in. Relative paths are taken from the project root (:func:`gil.experiments.params.resolve`).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from gil.config import bundled_configs
from gil.experiments import params, study


def _unknown(name: str, values: Sequence[Any], known: Sequence[Any]) -> None:
    if isinstance(values, str) or not len(values):
        raise ValueError(f"parameter {name}={values!r}: expected a non-empty list of {', '.join(map(str, known))}")
    unknown = [v for v in values if v not in known]
    if unknown:
        raise ValueError(f"parameter {name}: unknown {unknown}; known: {', '.join(map(str, known))}")


def check_study_parameters(
    variants: Sequence[str],
    seeds: Sequence[int],
    backbones: Sequence[str],
    preset: str,
    steps: int | None = None,
    device: str = "auto",
) -> None:
    """Raise ``ValueError`` naming the first bad parameter of a study rerun: ``variants`` (of
    :data:`gil.experiments.study.VARIANTS`), ``seeds`` (non-negative integers), ``backbones`` (of
    :data:`gil.experiments.params.BACKBONES`), ``preset`` (a config family with an ``embedded/<preset>_triplet``
    config), ``steps`` (``None`` or a positive integer), ``device`` (one this machine has)."""
    _unknown("variants", variants, list(study.VARIANTS))
    if isinstance(seeds, str) or not len(seeds):
        raise ValueError(f"parameter seeds={seeds!r}: expected a non-empty list of non-negative integers")
    bad = [s for s in seeds if isinstance(s, bool) or not isinstance(s, int) or s < 0]
    if bad:
        raise ValueError(f"parameter seeds: {bad} are not non-negative integers")
    _unknown("backbones", backbones, params.BACKBONES)
    embedded = [n.removeprefix("embedded/") for n in bundled_configs() if n.startswith("embedded/")]
    presets = sorted(n.removesuffix("_triplet") for n in embedded if n.endswith("_triplet"))
    if preset not in presets:
        raise ValueError(f"parameter preset={preset!r}: expected one of {', '.join(presets)}")
    params.check_steps(steps)
    params.check_device(device)


def rerun_study(
    out: str | Path,
    variants: Sequence[str],
    seeds: Sequence[int],
    backbones: Sequence[str],
    data_root: str | Path = "data/syngait-small",
    preset: str = "small",
    steps: int | None = None,
    device: str = "auto",
    progress: bool = False,
) -> Path:
    """Check the parameters (:func:`check_study_parameters`, and the data root), then run every (backbone, variant,
    seed) cell of the study on ``data_root`` with the ``embedded/<preset>_triplet`` base config into ``out``, its runs
    under ``out/runs``; returns ``out`` (absolute), the folder to load the study from."""
    check_study_parameters(variants, seeds, backbones, preset, steps, device)
    root = params.data(data_root)[0]
    overrides: dict[str, Any] = {"data.root": str(root), "trainer.device": device}
    if steps is not None:
        overrides["trainer.steps"] = int(steps)
    out = params.resolve(out)
    study.run_study(
        out,
        variants=list(variants),
        seeds=list(seeds),
        base=f"embedded/{preset}_triplet",
        overrides=overrides,
        runs_root=out / "runs",
        progress=progress,
        backbones=list(backbones),
    )
    return out
