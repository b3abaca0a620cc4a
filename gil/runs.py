"""Run folders: evaluate a finished run, and the cache the notebooks share.

A run folder holds ``config.yaml``, ``checkpoints/last.pt``, ``metrics.csv``, ``eval.json`` and
``embeddings.npz``. :func:`get_or_train` names the folder by the config's fingerprint, so notebooks that
ask for the same experiment reuse one run instead of training it twice.
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from gil import checkpoint, distributed
from gil import config as config_lib
from gil.config import RunConfig, resolve_path
from gil.data.loader import build_test_loader
from gil.data.opengait import GaitDataset
from gil.evaluate import ProtocolResult, casia_b, oumvlp
from gil.extract import extract_embeddings
from gil.models import build_model
from gil.train import CHECKPOINT_NAME, partition_of, train

log = logging.getLogger(__name__)

DEFAULT_RUNS_ROOT = "runs"


def run_dir_for(config: RunConfig, runs_root: str | Path = DEFAULT_RUNS_ROOT) -> Path:
    return resolve_path(runs_root) / f"{config.name}-{config.fingerprint()}"


def check_run_dir(run_dir: str | Path) -> Path:
    """``run_dir`` as an absolute path (relative: from the working directory), or a clear error."""
    path = resolve_path(run_dir)
    if not path.is_dir():
        raise FileNotFoundError(f"run folder not found: {path}")
    if not (path / "config.yaml").is_file():
        raise FileNotFoundError(f"{path}: not a run folder (no config.yaml; run folders are written by `gil train`)")
    return path


def load_run_config(run_dir: str | Path) -> RunConfig:
    return config_lib.load(check_run_dir(run_dir) / "config.yaml")


def load_trained_model(config: RunConfig, run_dir: str | Path, device: torch.device) -> torch.nn.Module:
    """The run's model with the weights of ``checkpoints/last.pt``, in eval mode on ``device``."""
    path = check_run_dir(run_dir) / "checkpoints" / CHECKPOINT_NAME
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no checkpoint yet (the run has not reached its first checkpoint)")
    state = checkpoint.load(path)
    num_classes = int(state.get("num_classes", len(partition_of(config).train)))
    model = build_model(config.model.name, num_classes, width=config.model.width, **config.model.kwargs)
    model.load_state_dict(state["model"])
    return model.to(device).eval()


def evaluate_model(
    model: torch.nn.Module, config: RunConfig, device: torch.device, progress: bool = True
) -> tuple[Any, dict[str, Any]]:
    """Embed the test subjects of ``config``'s partition and run its protocol.

    Returns ``(result, arrays)``; ``arrays`` holds ``embeddings`` ``[n, p, c]`` and the per-sequence labels.
    """
    dataset = GaitDataset(config.data_root(), subjects=list(partition_of(config).test))
    loader = build_test_loader(
        dataset,
        resolution=config.data.resolution,
        batch_size=config.eval.batch_size,
        workers=config.data.workers,
        single_frame=config.data.frames if config.data.single_frame else 0,
    )
    embeddings = extract_embeddings(model, loader, device, progress=progress)
    subjects = [r.subject for r in dataset.records]
    conditions = [r.condition for r in dataset.records]
    views = [r.view for r in dataset.records]
    if config.data.protocol == "casia-b":
        result = casia_b(embeddings, subjects, conditions, views, metric=config.eval.metric)
    elif config.data.protocol == "oumvlp":
        result = oumvlp(
            embeddings,
            subjects,
            conditions,
            views,
            metric=config.eval.metric,
            drop_probes_without_gallery=config.eval.drop_probes_without_gallery,
        )
    else:
        raise ValueError(f"data.protocol: expected casia-b or oumvlp, got '{config.data.protocol}'")
    arrays = {
        "embeddings": embeddings,
        "subjects": np.array(subjects),
        "conditions": np.array(conditions),
        "views": np.array(views),
    }
    return result, arrays


def evaluate_run(run_dir: str | Path, device: str = "auto", progress: bool = True) -> dict[str, Any]:
    """Evaluate a trained run; writes ``eval.json`` and ``embeddings.npz`` atomically and returns the dict.

    ``run_dir`` is the folder ``gil train --run-dir`` wrote (relative: from the working directory).
    """
    run_dir = check_run_dir(run_dir)
    config = load_run_config(run_dir)
    torch_device = distributed.pick_device(device)
    model = load_trained_model(config, run_dir, torch_device)
    result, arrays = evaluate_model(model, config, torch_device, progress=progress)
    report = result.to_dict()
    write_json_atomic(report, run_dir / "eval.json")
    tmp = run_dir / ".embeddings.tmp.npz"
    np.savez_compressed(tmp, **arrays)
    os.replace(tmp, run_dir / "embeddings.npz")
    return report


def write_json_atomic(obj: Any, path: Path) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(obj, indent=2, sort_keys=False))
    os.replace(tmp, path)


def get_or_train(config: RunConfig, runs_root: str | Path = DEFAULT_RUNS_ROOT, progress: bool = True) -> Path:
    """The folder of a finished, evaluated run of ``config``: reused when it exists, else trained here.

    A finished run with the same fingerprint anywhere under ``runs_root`` (another name, a sub-folder such
    as ``runs/study``) is reused too. An interrupted run with a checkpoint resumes where it stopped.
    """
    run_dir = run_dir_for(config, runs_root)
    if (run_dir / "eval.json").is_file():
        log.info("reusing %s", run_dir)
        return run_dir
    same = sorted(resolve_path(runs_root).glob(f"**/*-{config.fingerprint()}/eval.json"))
    if same:  # the same experiment under another name (e.g. a study cell the book also shows)
        log.info("reusing %s (same fingerprint)", same[0].parent)
        return same[0].parent
    train(config, run_dir, resume=True, progress=progress)
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
    run_dir = check_run_dir(run_dir)
    missing = [n for n in ("config.yaml", "metrics.csv", "eval.json", "embeddings.npz") if not (run_dir / n).is_file()]
    if missing:
        raise FileNotFoundError(f"{run_dir}: not a finished run (missing {', '.join(missing)})")
    arrays = np.load(run_dir / "embeddings.npz")
    return Run(
        path=run_dir,
        config=load_run_config(run_dir),
        metrics=pd.read_csv(run_dir / "metrics.csv"),
        result=ProtocolResult.from_dict(json.loads((run_dir / "eval.json").read_text())),
        embeddings=arrays["embeddings"],
        subjects=arrays["subjects"],
        conditions=arrays["conditions"],
        views=arrays["views"],
    )
