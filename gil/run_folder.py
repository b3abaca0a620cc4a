"""A run folder: the one module that names its files and reads them back.

``gil train`` writes a folder (the trainer); ``gil eval``, the notebooks and the study read it. Both sides use this
module, which depends on config, data and models, never on the trainer::

    RUN/config.yaml            the effective config (gil.config.dump)
    RUN/provenance.json        one record per training session
    RUN/metrics.csv, RUN/tb/   the logged steps (CSV, TensorBoard)
    RUN/checkpoints/last.pt    the latest checkpoint (model, optimiser, RNG, step, fingerprint)
    RUN/checkpoints/step-NNNNNN.pt   the model's weights at a step (trainer.snapshot_every)
    RUN/eval.json, RUN/embeddings.npz   the evaluation of a checkpoint (which one: eval.json's "checkpoint")
    RUN/.gil-run               the marker: gil made (or adopted) this folder, so it may write and remove its files
    RUN/.gil.lock              the writer's lock: one gil process writes a run folder at a time

gil writes only into a folder it made, one holding its marker or a ``config.yaml`` (a run of an older gil), or an
empty one (:func:`claim`); anything else is refused naming it. A writer holds the folder's lock (:func:`locked`,
``fcntl.flock``, or ``msvcrt.locking`` on Windows: the operating system releases it when the process ends, however it
ends, so a dead writer's lock is never stale); a second writer gets an error naming the folder and the holder.
"""

from __future__ import annotations

import contextlib
import datetime
import hashlib
import json
import os
import shutil
import socket
import sys

if sys.platform == "win32":  # pragma: no cover - exercised on Windows only
    import msvcrt

    _LOCKED_BYTE = 1 << 30  # a byte past any holder text, so the text stays readable to the process refused

    def _try_lock(fd: int) -> bool:
        os.lseek(fd, _LOCKED_BYTE, os.SEEK_SET)
        try:
            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
        except OSError:
            return False
        return True

    def _unlock(fd: int) -> None:
        os.lseek(fd, _LOCKED_BYTE, os.SEEK_SET)
        msvcrt.locking(fd, msvcrt.LK_UNLCK, 1)

else:
    import fcntl

    def _try_lock(fd: int) -> bool:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        return True

    def _unlock(fd: int) -> None:
        fcntl.flock(fd, fcntl.LOCK_UN)


from collections.abc import Iterator, Mapping
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
MARKER = ".gil-run"
LOCK = ".gil.lock"


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
    def marker(self) -> Path:
        return self.path / MARKER

    @property
    def lock_file(self) -> Path:
        return self.path / LOCK

    def is_ours(self) -> bool:
        """A gil run made this folder (its marker) or wrote it (a ``config.yaml``, as older gil runs left)."""
        return self.marker.is_file() or self.config_file.is_file()

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


class RunFolderLocked(OSError):
    """Another process holds the run folder's lock."""


def claim(run_dir: str | Path, write_marker: bool = True, data_root: Path | None = None) -> RunFolder:
    """The run folder at ``run_dir``, made gil's: created with its marker, or an existing folder that a gil run wrote
    (:meth:`RunFolder.is_ours`) or that is empty. A folder holding anything else is refused naming it: gil never
    writes into, or removes from, a folder it did not make. ``write_marker`` False checks only (DDP's other ranks).
    A run folder inside ``data_root`` is refused: it would be read as a subject of the data."""
    folder = RunFolder(resolve_path(run_dir))
    if data_root is not None and folder.path.is_relative_to(data_root):
        raise ValueError(
            f"run folder {folder.path} lies inside data.root {data_root}: it would be read as data (a subject "
            "folder); choose a run folder outside the data"
        )
    if folder.path.exists() and not folder.path.is_dir():
        raise NotADirectoryError(f"{folder.path}: exists and is not a folder; choose another run folder")
    if folder.path.is_dir() and not folder.is_ours() and any(folder.path.iterdir()):
        raise FileExistsError(
            f"{folder.path}: a folder that no gil run wrote (no {MARKER} or {CONFIG}) and not empty; gil writes only "
            "into run folders it made, so choose a new or an empty folder (--run-dir)"
        )
    if write_marker:
        folder.path.mkdir(parents=True, exist_ok=True)
        if not folder.marker.is_file():
            folder.marker.write_text(json.dumps({"made_by": "gil", "since": _now()}) + "\n")
    return folder


_HELD: dict[Path, list[int]] = {}  # this process's run-folder locks, lock file -> [fd, depth]: re-entrant


@contextlib.contextmanager
def locked(run_dir: str | Path) -> Iterator[RunFolder]:
    """Hold ``run_dir``'s writer lock (the folder must exist: :func:`claim`). Re-entrant in one process; another
    process holding it is a :class:`RunFolderLocked` error naming the folder and the holder (pid, host, since,
    command)."""
    folder = RunFolder(resolve_path(run_dir))
    path = folder.lock_file
    if path in _HELD:
        _HELD[path][1] += 1
        try:
            yield folder
        finally:
            _HELD[path][1] -= 1
        return
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    if not _try_lock(fd):
        holder = path.read_text().strip() or "holder unknown"
        os.close(fd)
        raise RunFolderLocked(
            f"{folder.path}: another gil process is writing this run folder ({holder}); wait for it to end or "
            "choose another run folder"
        ) from None
    holder = f"pid {os.getpid()} on {socket.gethostname()} since {_now()}: {' '.join(sys.argv)[:200]}"
    os.ftruncate(fd, 0)
    os.lseek(fd, 0, os.SEEK_SET)
    os.write(fd, holder.encode() + b"\n")
    _HELD[path] = [fd, 1]
    try:
        yield folder
    finally:
        _HELD[path][1] -= 1
        if _HELD[path][1] == 0:
            del _HELD[path]
            with contextlib.suppress(OSError):  # the folder may be gone (a failed first run removes it)
                os.ftruncate(fd, 0)
            _unlock(fd)
            os.close(fd)


@contextlib.contextmanager
def writing(run_dir: str | Path, data_root: Path | None = None) -> Iterator[RunFolder]:
    """:func:`claim` the folder, then hold its lock (:func:`locked`): what every writer of a run folder does. A folder
    made here is removed again when the block fails before the run's first checkpoint."""
    made = not resolve_path(run_dir).exists()
    folder = claim(run_dir, data_root=data_root)
    try:
        with locked(folder.path):
            yield folder
    except BaseException:
        if made and not folder.checkpoint.is_file():
            shutil.rmtree(folder.path, ignore_errors=True)
        raise


def _now() -> str:
    return datetime.datetime.now().astimezone().isoformat(timespec="seconds")


def load_run_config(run_dir: str | Path, overrides: Mapping[str, Any] | None = None) -> RunConfig:
    """The config a run trained with (its ``config.yaml``), with optional dotted ``overrides``."""
    return config_lib.load(open_run(run_dir).config_file, overrides)


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
    return _model_of(read_checkpoint(path), config, Path(path), num_classes)


def _model_of(state: Any, config: RunConfig, path: Path, num_classes: int | None = None) -> nn.Module:
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


def trained_model(config: RunConfig, run_dir: str | Path, device: torch.device) -> tuple[nn.Module, dict[str, Any]]:
    """The run's model with the weights of ``checkpoints/last.pt``, in eval mode on ``device``, and that checkpoint's
    record (:func:`checkpoint_record`)."""
    path = open_run(run_dir).checkpoint
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no checkpoint yet (the run has not reached its first checkpoint)")
    state = read_checkpoint(path)
    return _model_of(state, config, path).to(device).eval(), checkpoint_record(state, config)


def load_trained_model(config: RunConfig, run_dir: str | Path, device: torch.device) -> nn.Module:
    """The run's model with the weights of ``checkpoints/last.pt``, in eval mode on ``device``."""
    return trained_model(config, run_dir, device)[0]


def finished_result(run_dir: str | Path, config: RunConfig) -> bool:
    """The folder holds a complete evaluation of ``config``'s finished run: ``embeddings.npz`` and an ``eval.json``
    whose checkpoint record is finished, of this config's fingerprint, and the step ``last.pt`` holds now. An
    ``eval.json`` without a record (older gil) or of an earlier checkpoint is not finished."""
    folder = RunFolder(resolve_path(run_dir))
    if not (folder.eval_file.is_file() and folder.embeddings_file.is_file() and folder.checkpoint.is_file()):
        return False
    try:
        record = json.loads(folder.eval_file.read_text()).get("checkpoint") or {}
    except (OSError, ValueError):
        return False
    if not (record.get("finished") and record.get("fingerprint") == config.fingerprint()):
        return False
    return record.get("step") == int(read_checkpoint(folder.checkpoint, mmap=True).get("step", -1))


__all__ = [
    "CHECKPOINTS",
    "CONFIG",
    "EMBEDDINGS",
    "EVAL",
    "LAST_CHECKPOINT",
    "LOCK",
    "MARKER",
    "METRICS",
    "PROVENANCE",
    "RESULT_FILES",
    "SNAPSHOT_PATTERN",
    "TENSORBOARD",
    "RunFolder",
    "RunFolderLocked",
    "initial_weights_file",
    "load_initial_weights",
    "weights_identity",
    "claim",
    "checkpoint_record",
    "checkpoint_weights",
    "finished_result",
    "load_run_config",
    "load_trained_model",
    "load_weights",
    "locked",
    "model_from_checkpoint",
    "model_from_config",
    "open_run",
    "partition_of",
    "read_checkpoint",
    "trained_model",
    "writing",
]
