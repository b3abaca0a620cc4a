"""A run folder: the one module that names its files and reads them back.

``gil train`` writes a folder (the trainer); ``gil eval``, the notebooks and the study read it. Both sides use this
module, which depends on config, data and models, never on the trainer::

    RUN/config.yaml            the effective config (gil.config.dump)
    RUN/provenance.json        one record per training session
    RUN/metrics.csv, RUN/tb/   the logged steps (CSV, TensorBoard)
    RUN/checkpoints/last.pt    the latest checkpoint (model, optimiser, RNG, step, fingerprint)
    RUN/checkpoints/step-NNNNNN.pt   the model's weights at a step (trainer.snapshot_every)
    RUN/eval.json, RUN/embeddings.npz   the evaluation of the final checkpoint
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from gil import config as config_lib
from gil.config import RunConfig, resolve_path
from gil.data.partitions import Partition, load_partition
from gil.models import build_model

CONFIG = "config.yaml"
PROVENANCE = "provenance.json"
METRICS = "metrics.csv"
TENSORBOARD = "tb"
CHECKPOINTS = "checkpoints"
LAST_CHECKPOINT = "last.pt"
SNAPSHOT_PATTERN = "step-*.pt"  # trainer.snapshot_every: checkpoints/step-000300.pt
EVAL = "eval.json"
EMBEDDINGS = "embeddings.npz"
RESULT_FILES = (EVAL, EMBEDDINGS)  # written by gil.evaluate.run.evaluate_run from the final checkpoint


@dataclass(frozen=True)
class RunFolder:
    """The paths of one run folder (nothing is read or checked when it is made; :func:`open_run` checks)."""

    path: Path

    @property
    def config_file(self) -> Path:
        return self.path / CONFIG

    @property
    def provenance_file(self) -> Path:
        return self.path / PROVENANCE

    @property
    def metrics_file(self) -> Path:
        return self.path / METRICS

    @property
    def tensorboard_dir(self) -> Path:
        return self.path / TENSORBOARD

    @property
    def checkpoint_dir(self) -> Path:
        return self.path / CHECKPOINTS

    @property
    def checkpoint(self) -> Path:
        return self.checkpoint_dir / LAST_CHECKPOINT

    def snapshot(self, step: int) -> Path:
        return self.checkpoint_dir / f"step-{step:06d}.pt"

    def snapshots(self) -> list[Path]:
        return sorted(self.checkpoint_dir.glob(SNAPSHOT_PATTERN))

    @property
    def eval_file(self) -> Path:
        return self.path / EVAL

    @property
    def embeddings_file(self) -> Path:
        return self.path / EMBEDDINGS


def open_run(run_dir: str | Path) -> RunFolder:
    """The run folder at ``run_dir`` (relative: from the working directory), or a clear error."""
    folder = RunFolder(resolve_path(run_dir))
    if not folder.path.is_dir():
        raise FileNotFoundError(f"run folder not found: {folder.path}")
    if not folder.config_file.is_file():
        raise FileNotFoundError(
            f"{folder.path}: not a run folder (no {CONFIG}; run folders are written by `gil train`)"
        )
    return folder


def load_run_config(run_dir: str | Path, overrides: Mapping[str, Any] | None = None) -> RunConfig:
    """The config a run trained with (its ``config.yaml``), with optional dotted ``overrides``."""
    return config_lib.load(open_run(run_dir).config_file, overrides)


def read_checkpoint(path: str | Path, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """A checkpoint written by the trainer (tensors and plain containers only: ``weights_only=True``)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint not found: {path}")
    try:
        return torch.load(path, map_location=map_location, weights_only=True)
    except Exception as err:  # torch raises several types for corrupt/unsafe files
        raise ValueError(f"{path}: not a loadable gil checkpoint ({err})") from err


def checkpoint_weights(path: str | Path) -> tuple[dict[str, torch.Tensor], int | None]:
    """The model's state dict and classifier size from a gil checkpoint, or an error saying what ``path`` holds.

    A gil checkpoint (``checkpoints/last.pt``, ``checkpoints/step-NNNNNN.pt``) is a dict with ``model``, ``step`` and
    ``fingerprint``; an OpenGait one (``model``, ``iteration``) or a bare state dict is named as such, with the flag
    that reads it.
    """
    state = read_checkpoint(path)
    opengait_hint = "it is read by `gil eval --checkpoint FILE --opengait`"
    if not isinstance(state, Mapping):
        raise ValueError(
            f"{path}: holds a {type(state).__name__}, not a checkpoint; expected a gil checkpoint (a dict with "
            "'model', written by gil train as RUN/checkpoints/last.pt)"
        )
    if "model" not in state:
        if state and all(isinstance(v, torch.Tensor) for v in state.values()):
            raise ValueError(f"{path}: a bare state dict, not a gil checkpoint; if it is OpenGait's, {opengait_hint}")
        raise ValueError(f"{path}: a dict without 'model' (keys: {sorted(map(str, state))[:8]}); not a gil checkpoint")
    if "iteration" in state and "fingerprint" not in state:
        raise ValueError(f"{path}: an OpenGait checkpoint (it has 'iteration', not 'fingerprint'); {opengait_hint}")
    if not isinstance(state["model"], Mapping):
        raise ValueError(f"{path}: 'model' holds a {type(state['model']).__name__}, expected a state dict")
    num_classes = state.get("num_classes")
    return dict(state["model"]), int(num_classes) if isinstance(num_classes, int) else None


def partition_of(config: RunConfig) -> Partition:
    """The train/test split named by ``data.partition`` (``dataset`` = ``ROOT/partition.json``)."""
    if config.data.partition == "dataset":
        return load_partition(config.data_root() / "partition.json")
    return load_partition(config.data.partition)


def model_from_config(config: RunConfig, num_classes: int) -> nn.Module:
    """The backbone ``config.model`` names (width, constructor keywords), with a classifier of ``num_classes``."""
    try:
        return build_model(config.model.name, num_classes, width=config.model.width, **config.model.kwargs)
    except TypeError as err:
        raise ValueError(f"config key 'model.kwargs': {err}") from err


def load_weights(model: nn.Module, weights: Mapping[str, torch.Tensor], config: RunConfig, path: Path) -> nn.Module:
    """``model`` with ``weights`` loaded, or an error naming the checkpoint and the config they do not fit."""
    try:
        model.load_state_dict(weights)
    except RuntimeError as err:
        first = " ".join(str(err).splitlines()[:3])[:400]
        raise ValueError(
            f"{path}: its weights do not fit model.name={config.model.name} ({first}); pass the run's config "
            "(--config RUN/config.yaml)"
        ) from err
    return model


def model_from_checkpoint(config: RunConfig, path: str | Path, num_classes: int | None = None) -> nn.Module:
    """``config``'s model with the weights of the gil checkpoint at ``path`` (on the CPU, in train mode). The
    classifier size: ``num_classes``, else the checkpoint's, else the training partition's identities."""
    weights, stored = checkpoint_weights(path)
    model = model_from_config(config, num_classes or stored or len(partition_of(config).train))
    return load_weights(model, weights, config, Path(path))


def load_trained_model(config: RunConfig, run_dir: str | Path, device: torch.device) -> nn.Module:
    """The run's model with the weights of ``checkpoints/last.pt``, in eval mode on ``device``."""
    path = open_run(run_dir).checkpoint
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no checkpoint yet (the run has not reached its first checkpoint)")
    return model_from_checkpoint(config, path).to(device).eval()


__all__ = [
    "CHECKPOINTS",
    "CONFIG",
    "EMBEDDINGS",
    "EVAL",
    "LAST_CHECKPOINT",
    "METRICS",
    "PROVENANCE",
    "RESULT_FILES",
    "SNAPSHOT_PATTERN",
    "TENSORBOARD",
    "RunFolder",
    "checkpoint_weights",
    "load_run_config",
    "load_trained_model",
    "load_weights",
    "model_from_checkpoint",
    "model_from_config",
    "open_run",
    "partition_of",
    "read_checkpoint",
]
