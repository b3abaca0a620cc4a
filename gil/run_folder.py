"""A run folder: the one module that names its files and reads them back.

``gil train`` writes a folder (the trainer); ``gil eval``, the notebooks and the study read it. Both sides use this
module, which depends on config and :mod:`gil.checkpoints` (what a checkpoint file holds), never on the trainer::

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
from gil.checkpoints import checkpoint_record, model_of_state, read_checkpoint
from gil.config import RunConfig, resolve_path

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

    def clear_outputs(self) -> list[str]:
        """Remove a run's checkpoint, snapshots, logs and results (the files gil writes, nothing else) before the
        folder trains afresh; returns what was removed, by name. ``tb/`` goes only when it is then empty."""
        old = [self.checkpoint, self.eval_file, self.embeddings_file, self.metrics_file, self.provenance_file]
        old += self.snapshots()
        removed = [path.name for path in old if path.is_file()]
        for path in old:
            path.unlink(missing_ok=True)
        events = sorted(self.tensorboard_dir.glob("events.out.tfevents.*"))  # what gil's SummaryWriter wrote
        for path in events:
            path.unlink()
        if events:
            removed.append(f"{TENSORBOARD}/ (its {len(events)} event file{'s' if len(events) > 1 else ''})")
        with contextlib.suppress(OSError):  # kept when it holds anything else
            self.tensorboard_dir.rmdir()
        return removed


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
    # contents first, then the marker: under DDP the main rank may write its marker into the empty folder between the
    # two looks, and a folder seen empty, or seen holding a marker that now exists, is ours
    if folder.path.is_dir() and any(folder.path.iterdir()) and not folder.is_ours():
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


def trained_model(config: RunConfig, run_dir: str | Path, device: torch.device) -> tuple[nn.Module, dict[str, Any]]:
    """The run's model with the weights of ``checkpoints/last.pt``, in eval mode on ``device``, and that checkpoint's
    record (:func:`checkpoint_record`)."""
    path = open_run(run_dir).checkpoint
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no checkpoint yet (the run has not reached its first checkpoint)")
    state = read_checkpoint(path)
    return model_of_state(state, config, path).to(device).eval(), checkpoint_record(state, config)


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
    "claim",
    "finished_result",
    "load_run_config",
    "load_trained_model",
    "locked",
    "open_run",
    "trained_model",
    "writing",
]
