"""Checkpoint files: reading them safely, the weights and classifier size they hold, the model they make, and the
weights a run starts from (``model.init_from``).

A gil checkpoint (``RUN/checkpoints/last.pt``, ``RUN/checkpoints/step-NNNNNN.pt``; :mod:`gil.run_folder` names them)
is a dict of tensors and plain containers — ``model`` (the state dict), ``step``, ``fingerprint``, ``num_classes``
and, in ``last.pt``, the optimiser's and the random generators' states — read with ``weights_only=True`` only.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from torch import nn

from gil.config import RunConfig, resolve_path
from gil.data.partitions import Partition, load_partition
from gil.models import build_model


def read_checkpoint(path: str | Path, map_location: str | torch.device = "cpu", mmap: bool = False) -> dict[str, Any]:
    """A checkpoint written by the trainer (tensors and plain containers only: ``weights_only=True``); ``mmap``
    maps its tensors instead of reading them (to look at ``step`` or ``fingerprint`` only)."""
    path = Path(path)
    if path.is_dir():
        raise IsADirectoryError(f"{path}: a folder; expected a checkpoint file (a run's checkpoints/last.pt)")
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint not found: {path}")
    try:
        return torch.load(path, map_location=map_location, weights_only=True, mmap=mmap)
    except Exception as err:  # torch raises several types for corrupt/unsafe files
        raise ValueError(f"{path}: not a loadable gil checkpoint ({err})") from err


def checkpoint_weights(path: str | Path) -> tuple[dict[str, torch.Tensor], int | None]:
    """The model's state dict and classifier size from a gil checkpoint, or an error saying what ``path`` holds.

    A gil checkpoint (``checkpoints/last.pt``, ``checkpoints/step-NNNNNN.pt``) is a dict with ``model``, ``step`` and
    ``fingerprint``; an OpenGait one (``model``, ``iteration``) or a bare state dict is named as such, with the flag
    that reads it.
    """
    return _weights_of(read_checkpoint(path), path)


def _weights_of(state: Any, path: str | Path) -> tuple[dict[str, torch.Tensor], int | None]:
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
    """The backbone ``config.model`` names (width, constructor keywords), with a classifier of ``num_classes``; a
    constructor that refuses its keywords is an error naming ``model.kwargs``."""
    if isinstance(num_classes, bool) or not isinstance(num_classes, int) or num_classes < 1:
        raise ValueError(f"the classifier size must be an integer >= 1, got {num_classes!r}")
    try:
        return build_model(config.model.name, num_classes, width=config.model.width, **config.model.kwargs)
    except (TypeError, ValueError, IndexError, RuntimeError) as err:
        raise ValueError(
            f"config key 'model.kwargs': {config.model.name} refuses {config.model.kwargs} "
            f"({type(err).__name__}: {err})"
        ) from err


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


def initial_weights_file(path: str | Path) -> Path:
    """The file ``model.init_from`` names: a run folder's ``checkpoints/last.pt``, or the file itself (a gil or
    OpenGait checkpoint); an error naming ``model.init_from`` when there is none."""
    from gil.run_folder import RunFolder  # here: the run folder reads checkpoints with this module

    path = resolve_path(path)
    if path.is_dir():
        path = RunFolder(path).checkpoint
    if not path.is_file():
        raise FileNotFoundError(
            f"model.init_from: {path} does not exist; expected a gil run folder, a gil checkpoint or an OpenGait one"
        )
    return path


_IDENTITIES: dict[tuple[str, int, int], str] = {}


def _gil_checkpoint_or_none(file: Path, mmap: bool = False) -> Mapping[str, Any] | None:
    """``file`` loaded when it is a gil checkpoint (a dict with ``model`` and ``fingerprint``), else None (an
    OpenGait checkpoint holds objects that ``weights_only`` refuses, or other keys)."""
    try:
        state = read_checkpoint(file, mmap=mmap)
    except ValueError:
        return None
    return state if isinstance(state, Mapping) and "model" in state and "fingerprint" in state else None


def weights_identity(path: str | Path) -> str:
    """What a run started from ``path``'s weights (``model.init_from``) counts by in its fingerprint: a gil
    checkpoint by the fingerprint and step of the run that wrote it (``gil:<fingerprint>@<step>``), any other file by
    its contents (``sha256:<hex>``), wherever it lies."""
    file = initial_weights_file(path)
    stat = file.stat()
    key = (str(file), stat.st_size, stat.st_mtime_ns)
    if key not in _IDENTITIES:
        state = _gil_checkpoint_or_none(file, mmap=True)
        if state is not None and "step" in state:
            _IDENTITIES[key] = f"gil:{state['fingerprint']}@{int(state['step'])}"
        else:
            digest = hashlib.sha256()
            with open(file, "rb") as handle:
                for block in iter(lambda: handle.read(1 << 20), b""):
                    digest.update(block)
            _IDENTITIES[key] = f"sha256:{digest.hexdigest()[:16]}"
    return _IDENTITIES[key]


def load_initial_weights(model: nn.Module, config: RunConfig) -> dict[str, Any]:
    """Load ``config.model.init_from``'s weights into ``model`` (a fresh run's starting point) and return what the
    run records of them: ``{"path", "format", "identity", "step"}``. A gil checkpoint must fit the model exactly
    (classifier included); an OpenGait one is mapped as ``gil eval --opengait`` maps it, every key checked."""
    from gil.models import load_opengait_checkpoint

    file = initial_weights_file(config.model.init_from)
    state = _gil_checkpoint_or_none(file)
    record = {"path": str(file), "identity": weights_identity(file)}
    if state is not None:
        weights, _ = _weights_of(state, file)
        load_weights(model, weights, config, file)
        return {**record, "format": "gil", "step": int(state.get("step", -1))}
    try:
        report = load_opengait_checkpoint(file, model)
    except (KeyError, TypeError, ValueError) as err:
        raise ValueError(f"model.init_from: {file} is neither a gil checkpoint nor an OpenGait one that fits "
                         f"model.name={config.model.name} ({err})") from err  # fmt: skip
    return {**record, "format": "opengait", "step": getattr(report, "iteration", None)}


def model_from_checkpoint(config: RunConfig, path: str | Path, num_classes: int | None = None) -> nn.Module:
    """``config``'s model with the weights of the gil checkpoint at ``path`` (on the CPU, in train mode). The
    classifier size: ``num_classes``, else the checkpoint's, else the training partition's identities."""
    return model_of_state(read_checkpoint(path), config, Path(path), num_classes)


def model_of_state(state: Any, config: RunConfig, path: Path, num_classes: int | None = None) -> nn.Module:
    """``config``'s model with the weights of a loaded checkpoint ``state`` (read from ``path``)."""
    weights, stored = _weights_of(state, path)
    model = model_from_config(config, num_classes or stored or len(partition_of(config).train))
    return load_weights(model, weights, config, path)


def checkpoint_record(state: Mapping[str, Any], config: RunConfig) -> dict[str, Any]:
    """What a result records of the checkpoint it scored: ``step``, ``fingerprint`` and ``finished`` (the step is
    the config's last and the fingerprint the config's)."""
    step = int(state.get("step", -1))
    fingerprint = state.get("fingerprint")
    finished = step >= config.trainer.steps and fingerprint == config.fingerprint()
    return {"step": step, "fingerprint": fingerprint, "finished": finished}


__all__ = [
    "checkpoint_record",
    "checkpoint_weights",
    "initial_weights_file",
    "load_initial_weights",
    "load_weights",
    "model_from_checkpoint",
    "model_from_config",
    "model_of_state",
    "partition_of",
    "read_checkpoint",
    "weights_identity",
]
