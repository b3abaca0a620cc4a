"""The run cache the notebooks share: a config's run folder is named by its fingerprint and reused.

:func:`get_or_train` trains (or resumes) and evaluates a config once; every notebook that asks for the same
experiment gets that folder. :func:`load_run` reads a finished one back for plotting.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from gil import config as config_lib
from gil.config import RunConfig, resolve_path
from gil.evaluate import ProtocolResult
from gil.evaluate.run import evaluate_run
from gil.experiments.provenance import machine
from gil.metrics import batch_geometry
from gil.run_folder import finished_result, load_run_config, open_run, writing
from gil.train import train

log = logging.getLogger(__name__)

DEFAULT_RUNS_ROOT = "runs"


def run_dir_for(config: RunConfig, runs_root: str | Path = DEFAULT_RUNS_ROOT) -> Path:
    return resolve_path(runs_root) / f"{config.name}-{config.fingerprint()}"


def finished_runs(config: RunConfig, runs_root: str | Path = DEFAULT_RUNS_ROOT) -> list[Path]:
    """Folders under ``runs_root`` (at any depth, any name) holding a finished, evaluated run of ``config``
    (:func:`gil.run_folder.finished_result`), its own folder first."""
    own = run_dir_for(config, runs_root)
    found = sorted(path.parent for path in resolve_path(runs_root).glob(f"**/*-{config.fingerprint()}/eval.json"))
    return [path for path in sorted(found, key=lambda path: path != own) if finished_result(path, config)]


def get_or_train(config: RunConfig, runs_root: str | Path = DEFAULT_RUNS_ROOT, progress: bool = True) -> Path:
    """The folder of a finished, evaluated run of ``config``: reused when it exists, else trained here.

    A finished run with the same fingerprint anywhere under ``runs_root`` (another name, a sub-folder such as
    ``runs/study``) is reused too; "finished" means its ``eval.json`` scored the last step of this config
    (:func:`gil.run_folder.finished_result`), so a run stopped early, or evaluated by hand before it finished, is
    resumed and evaluated again. The folder is held (:func:`gil.run_folder.writing`) from training to evaluation.
    """
    done = finished_runs(config, runs_root)
    if done:
        log.info("reusing %s%s", done[0], "" if done[0].name.startswith(config.name) else " (same fingerprint)")
        return done[0]
    run_dir = run_dir_for(config, runs_root)
    with writing(run_dir, config.data_root()):
        train(config, run_dir, resume=True, progress=progress, batch_metrics=batch_geometry, provenance=machine)
        evaluate_run(run_dir, device=config.trainer.device, progress=progress)
    return run_dir


def embedded_config(
    loss: str,
    preset: str = "small",
    backbone: str | None = None,
    steps: int | None = None,
    data_root: str | Path | None = None,
    device: str = "auto",
    seed: int | None = None,
    overrides: dict[str, Any] | None = None,
) -> RunConfig:
    """A bundled embedded config (``embedded/{preset}_{loss}``) with the notebooks' usual parameters applied.

    ``None`` keeps the config's value; ``overrides`` takes any other dotted keys (``{"optim.lr": 1e-3}``).
    Relative paths are taken from the working directory (the notebooks resolve theirs first).
    """
    values: dict[str, Any] = {"trainer.device": device}
    if backbone is not None:
        values["model.name"] = backbone
        values["name"] = f"{preset}-{backbone}-{loss}"
    if steps is not None:
        values["trainer.steps"] = int(steps)
    if data_root is not None:
        values["data.root"] = str(resolve_path(data_root))
    if seed is not None:
        values["trainer.seed"] = int(seed)
    values.update(overrides or {})
    return config_lib.load(f"embedded/{preset}_{loss}", values)


@dataclass(frozen=True)
class Run:
    """A finished run read back from its folder (what the notebooks plot)."""

    path: Path
    config: RunConfig
    metrics: pd.DataFrame  # one row per logged step
    result: ProtocolResult
    embeddings: np.ndarray  # [n, p, c] test embeddings
    subjects: np.ndarray  # [n] per-sequence labels, as folder names
    conditions: np.ndarray
    views: np.ndarray


def load_run(run_dir: str | Path) -> Run:
    """Read ``config.yaml``, ``metrics.csv``, ``eval.json`` and ``embeddings.npz`` of a finished run."""
    folder = open_run(run_dir)
    files = (folder.config_file, folder.metrics_file, folder.eval_file, folder.embeddings_file)
    missing = [path.name for path in files if not path.is_file()]
    if missing:
        raise FileNotFoundError(f"{folder.path}: not a finished run (missing {', '.join(missing)})")
    config = load_run_config(folder.path)
    if not finished_result(folder.path, config):
        raise ValueError(
            f"{folder.path}: its eval.json does not score the finished run (stopped early, evaluated before it "
            "finished, or by an older gil); resume it with `gil train --run-dir` on the same config"
        )
    arrays = np.load(folder.embeddings_file)
    return Run(
        path=folder.path,
        config=config,
        metrics=pd.read_csv(folder.metrics_file),
        result=ProtocolResult.from_dict(json.loads(folder.eval_file.read_text())),
        embeddings=arrays["embeddings"],
        subjects=arrays["subjects"],
        conditions=arrays["conditions"],
        views=arrays["views"],
    )
