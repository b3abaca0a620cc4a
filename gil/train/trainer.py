"""The trainer: one run = one folder (``config.yaml``, ``provenance.json``, ``checkpoints/``, ``metrics.csv``,
``tb/``).

Works as a plain process (CPU, CUDA or MPS) and under ``torchrun`` (DDP; NCCL on GPUs, gloo on CPU; rank 0
alone logs and writes, the other ranks read the checkpoint it wrote).
Batches come from the rank-sharded P×K sampler, whose batch ``b`` depends only on ``(seed, b)``, so a
resumed run sees exactly the batches an uninterrupted one would; with the RNG states restored from the
checkpoint, CPU training resumes bit-identically. Everything that can be checked is checked before the
folder is made, and a run that fails before its first checkpoint leaves no folder behind.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import math
import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from torch import nn
from tqdm.auto import tqdm

from gil import files
from gil.checkpoints import load_initial_weights, model_from_config, partition_of, read_checkpoint
from gil.config import RunConfig, resolve_path, save
from gil.data.loader import build_train_loader
from gil.data.opengait import GaitDataset
from gil.losses import describe_terms
from gil.run_folder import RunFolder, claim, locked
from gil.train import checkpoint, environment
from gil.train.divergence import divergence_error
from gil.train.optim import build_optimizer, build_scheduler
from gil.train.records import MetricsLogger, session_record, write_provenance

log = logging.getLogger(__name__)

# ``batch_metrics(embeddings [n, p, c] float32 on CPU) -> {name: value}``: extra columns of metrics.csv and
# TensorBoard, computed on the logged steps' batches (``gil.metrics.batch_geometry`` logs uniformity and norm)
BatchMetrics = Callable[[torch.Tensor], dict[str, float]]


def check_batch(config: RunConfig, dataset: GaitDataset) -> None:
    """Raise before any work when the identities on disk cannot fill a ``data.identities`` × ``data.per_identity``
    batch (the config itself has checked both are >= 1; the sampler checks again when it is built, after the
    folder exists, so this is the error named by config key)."""
    identities = len(dataset.subjects)
    if identities < 2:
        raise ValueError(
            f"{config.data_root()}: the training partition has {identities} identit{'y' if identities == 1 else 'ies'} "
            "on disk; a metric loss needs at least 2"
        )
    if config.data.identities > identities:
        raise ValueError(
            f"data.identities={config.data.identities} identities per batch, but the training partition has "
            f"{identities} identities on disk in {config.data_root()}; expected 1 <= data.identities <= {identities}"
        )


class Trainer:
    """Train ``config`` into ``run_dir``; ``fit(resume=True)`` continues from ``checkpoints/last.pt``.

    ``batch_metrics`` adds columns to the logged rows (:data:`BatchMetrics`; ``gil train`` and the notebooks pass
    ``gil.metrics.batch_geometry``); ``provenance()`` is the record each session appends to ``provenance.json``
    (default :func:`session_record`; the reproduction adds the lock file's hash and the commit).
    """

    def __init__(
        self,
        config: RunConfig,
        run_dir: str | Path,
        progress: bool = True,
        batch_metrics: BatchMetrics | None = None,
        provenance: Callable[[], dict[str, Any]] | None = None,
    ) -> None:
        self.config = config
        self.run_dir = resolve_path(run_dir)
        self.folder = RunFolder(self.run_dir)
        self.progress = progress
        self.batch_metrics = batch_metrics
        self.provenance = provenance or session_record
        self.env = environment.setup(config.trainer.device)
        if config.trainer.threads > 0 and self.env.device.type == "cpu":
            torch.set_num_threads(config.trainer.threads)
        checkpoint.seed_everything(config.trainer.seed)
        root = config.data_root()
        if not root.is_dir():
            raise FileNotFoundError(f"data.root: {root} is not a folder (generate it with `gil data generate`)")
        self.partition = partition_of(config)
        self.dataset = GaitDataset(root, subjects=list(self.partition.train))
        check_batch(config, self.dataset)
        self.num_classes = len(self.dataset.subjects)
        self.model = model_from_config(config, self.num_classes).to(self.env.device)
        # model.init_from: the starting weights (a resumed run then loads its own checkpoint over them)
        self.initial_weights = load_initial_weights(self.model, config) if config.model.init_from else None
        self.loss = config.loss.build().to(self.env.device)
        self.optimizer = build_optimizer(
            config, [p for p in self.model.parameters() if p.requires_grad] + list(self.loss.parameters())
        )
        self.scheduler = build_scheduler(config, self.optimizer)
        self.amp_dtype = environment.autocast_dtype(config.trainer.amp, self.env.device)
        use_scaler = self.amp_dtype == torch.float16 and self.env.device.type == "cuda"
        self.scaler = torch.amp.GradScaler(self.env.device.type, enabled=use_scaler)
        self.step = 0
        self.skipped = 0  # steps without an update because the loss or a gradient was not finite (nonfinite=skip)
        self.forward_model: nn.Module = self.model
        if config.trainer.sync_bn:  # the same parameters and buffers: the optimiser built above keeps them
            self.model = environment.sync_batchnorm(self.model, self.env)
        if self.env.world_size > 1:
            read = {term.input_key for term in self.loss.terms.values()}
            clip = torch.zeros(1, config.data.frames, *config.data.resolution, device=self.env.device)  # [n, s, h, w]
            self.forward_model = environment.data_parallel(self.model, self.env, read, clip)
        if config.trainer.compile:
            self.forward_model = torch.compile(self.forward_model)

    # -- state ---------------------------------------------------------------------------------------
    @property
    def checkpoint_path(self) -> Path:
        return self.folder.checkpoint

    def state_dict(self) -> dict[str, Any]:
        return {
            "step": self.step,
            "skipped": self.skipped,
            "num_classes": self.num_classes,
            "model": self.model.state_dict(),
            "loss": self.loss.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict(),
            "scaler": self.scaler.state_dict(),
            "rng": checkpoint.rng_state(),
            "fingerprint": self.config.fingerprint(),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if state.get("fingerprint") != self.config.fingerprint():
            raise ValueError(
                f"{self.checkpoint_path}: written by a different config (fingerprint {state.get('fingerprint')} "
                f"!= {self.config.fingerprint()}); use a new run folder"
            )
        self.model.load_state_dict(state["model"])
        self.loss.load_state_dict(state["loss"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.scheduler.load_state_dict(state["scheduler"])
        self.scaler.load_state_dict(state["scaler"])
        checkpoint.set_rng_state(state["rng"])
        self.step = int(state["step"])
        self.skipped = int(state.get("skipped", 0))

    def save_checkpoint(self) -> None:
        """Write ``checkpoints/last.pt`` atomically; a state with a non-finite tensor is never written."""
        state = self.state_dict()
        bad = checkpoint.nonfinite_tensors({"model": state["model"], "loss": state["loss"]})
        if environment.any_rank(bool(bad), self.env.device):  # every rank raises together (buffers may differ)
            raise self._diverged("the weights to checkpoint", bad or ["on another rank"])
        if self.env.is_main:
            checkpoint.save_atomic(state, self.checkpoint_path)
        environment.barrier()

    def snapshot_path(self, step: int) -> Path:
        return self.folder.snapshot(step)

    def save_snapshot(self) -> None:
        """Keep the model's weights at this step (``checkpoints/step-NNNNNN.pt``, read like ``last.pt`` by
        ``gil eval --checkpoint`` and :func:`~gil.checkpoints.checkpoint_weights`); call after :meth:`save_checkpoint`,
        which has checked them finite."""
        if self.env.is_main:
            state = {
                "step": self.step,
                "num_classes": self.num_classes,
                "model": self.model.state_dict(),
                "fingerprint": self.config.fingerprint(),
            }
            checkpoint.save_atomic(state, self.snapshot_path(self.step))
        environment.barrier()

    def release_data_parallel(self) -> None:
        """Drop the DDP wrapper (``forward_model`` becomes the plain model) before the process group is destroyed.

        DDP's reducer holds the group. Freed after :func:`~gil.train.environment.teardown`, the reducer drops the
        group's last reference while holding the GIL, and gloo's worker thread, still finishing the last barrier,
        waits for the GIL to free that barrier's tensor: both wait forever (a hang at the end of a torchrun run)."""
        self.forward_model = self.model

    # -- finiteness ----------------------------------------------------------------------------------
    def named_tensors(self, grads: bool) -> list[tuple[str, torch.Tensor]]:
        """``(name, tensor)`` for every trainable parameter (or its gradient) of the model and the loss."""
        named = [(f"model.{k}", v) for k, v in self.model.named_parameters()]
        named += [(f"loss.{k}", v) for k, v in self.loss.named_parameters()]
        if grads:
            return [(name, p.grad) for name, p in named if p.grad is not None]
        return [(name, p.detach()) for name, p in named]

    def _diverged(self, what: str, bad: list[str]) -> FloatingPointError:
        amp = self.config.trainer.amp
        return divergence_error(what, bad, self.step, self.checkpoint_path, self.amp_dtype, amp)

    def _skip(self, info: dict[str, float]) -> dict[str, float]:
        """Count a step without an update (the sampler and the schedule still advance, as under AMP's scaler)."""
        self.optimizer.zero_grad(set_to_none=True)
        self.skipped += 1
        self.scheduler.step()
        self.step += 1
        if self.env.is_main:  # every rank skips the step together
            log.warning("step %d skipped: non-finite loss or gradient (%d skipped so far)", self.step, self.skipped)
        return {**info, "nonfinite_skipped": float(self.skipped)}

    # -- loop ----------------------------------------------------------------------------------------
    def train_step(self, sils: torch.Tensor, labels: torch.Tensor) -> dict[str, float]:
        """One optimiser step on ``sils`` ``[n, s, h, w]`` with ``labels`` ``[n]``; returns the loss terms."""
        self.model.train()
        with environment.autocast(self.env.device, self.amp_dtype):
            outputs = self.forward_model(sils)
        loss, info = self.loss(outputs, labels)
        if self.batch_metrics is not None and (self.step + 1) % self.config.trainer.log_every == 0:
            info.update(self.batch_metrics(outputs["embeddings"].detach().float().cpu()))
        skip = self.config.trainer.nonfinite == "skip"
        if environment.any_rank(not bool(torch.isfinite(loss)), self.env.device):  # ranks decide together
            if skip:
                return self._skip(info)
            bad = [k for k, v in info.items() if not math.isfinite(v)] or ["total (on another rank)"]
            raise self._diverged("loss", [f"term {k}" for k in bad])
        self.optimizer.zero_grad(set_to_none=True)
        self.scaler.scale(loss).backward()
        if self.config.trainer.grad_clip > 0:
            self.scaler.unscale_(self.optimizer)
            nn.utils.clip_grad_norm_(self.model.parameters(), self.config.trainer.grad_clip)
        # under fp16 AMP the scaler skips steps with inf/NaN gradients itself (and lowers its scale)
        if not self.scaler.is_enabled():
            bad = checkpoint.nonfinite_tensors(dict(self.named_tensors(grads=True)))
            if bad:
                if skip:
                    return self._skip(info)
                raise self._diverged("gradient", [f"grad of {name}" for name in bad])
        self.scaler.step(self.optimizer)
        self.scaler.update()
        bad = checkpoint.nonfinite_tensors(dict(self.named_tensors(grads=False)))
        if bad:  # finite gradients, non-finite update (an overflow): the step cannot be undone, so stop
            raise self._diverged("parameter after the update", bad)
        self.scheduler.step()
        self.step += 1
        if skip:
            info["nonfinite_skipped"] = float(self.skipped)
        return info

    def fit(self, resume: bool = True) -> Path:
        """Train up to ``trainer.steps``; resumes from the last checkpoint when one exists and ``resume``.

        When this call made the folder and fails before the first checkpoint, the folder is removed again.
        """
        made = not self.run_dir.exists()
        # gil writes only into folders it made, never inside the data
        claim(self.run_dir, write_marker=self.env.is_main, data_root=self.config.data_root())
        try:
            with locked(self.run_dir) if self.env.is_main else contextlib.nullcontext():  # one writer at a time
                return self._fit(resume)
        except BaseException as err:
            if isinstance(err, KeyboardInterrupt) and self.env.is_main:
                log.warning("interrupted at step %d: %s", self.step, self.where_it_stands())
            if made and self.env.is_main and not self.checkpoint_path.is_file():
                shutil.rmtree(self.run_dir, ignore_errors=True)
            raise

    def where_it_stands(self) -> str:
        """One line on the run's last checkpoint and how it resumes (after an interruption)."""
        if not self.checkpoint_path.is_file():
            return "no checkpoint was written; the run starts afresh next time"
        saved = read_checkpoint(self.checkpoint_path).get("step")
        return f"{self.checkpoint_path} holds step {saved}; the same command resumes from it"

    def _fit(self, resume: bool) -> Path:
        cfg = self.config
        if self.env.is_main:  # the other ranks only read the folder (its checkpoint), after the barrier
            self.run_dir.mkdir(parents=True, exist_ok=True)
            for stale in files.remove_stale_temporaries(self.checkpoint_path.parent):
                log.info("removed %s (left by an interrupted write)", stale)
            removed = [] if resume else self.folder.clear_outputs()
            if removed:
                names = ", ".join(removed)
                log.warning("starting %s afresh (no resume): removed the old run's %s", self.run_dir, names)
        environment.barrier()
        schedule = cfg.resolved_schedule()
        if self.env.is_main:
            log.info("loss: %s", describe_terms(cfg.loss.terms))
            log.info("schedule: %s", schedule.describe(cfg.optim.lr))
            if self.initial_weights:
                where = self.initial_weights
                log.info("initial weights: %s (%s, %s)", where["path"], where["format"], where["identity"])
        if resume and self.checkpoint_path.is_file():
            self.load_state_dict(read_checkpoint(self.checkpoint_path, map_location=self.env.device))
            if self.env.is_main:
                log.info("resumed %s at step %d", self.run_dir, self.step)
        elif self.env.is_main:
            save(cfg, self.folder.config_file)
        if self.env.is_main:
            session = {**self.provenance(), "schedule": dataclasses.asdict(schedule)}
            if self.initial_weights:
                session["init_from"] = self.initial_weights
            write_provenance(self.run_dir, self.step, session)
        if self.step >= cfg.trainer.steps:
            return self.run_dir
        if self.env.is_main:  # results of an earlier state of this run no longer describe the model
            for path in (self.folder.eval_file, self.folder.embeddings_file):
                path.unlink(missing_ok=True)
        loader = build_train_loader(
            self.dataset,
            identities=cfg.data.identities,
            per_identity=cfg.data.per_identity,
            frames=cfg.data.frames,
            resolution=cfg.data.resolution,
            single_frame=cfg.data.single_frame,
            seed=cfg.trainer.seed,
            rank=self.env.rank,
            world_size=self.env.world_size,
            workers=cfg.data.workers,
            start_batch=self.step,
        )
        logger = MetricsLogger(self.run_dir, enabled=self.env.is_main, truncate_after=self.step)
        bar = tqdm(
            total=cfg.trainer.steps,
            initial=self.step,
            disable=not (self.progress and self.env.is_main),
            desc=cfg.name,
            dynamic_ncols=True,
        )
        tic, seen = time.perf_counter(), 0
        try:
            for sils, labels in loader:
                sils = sils.to(self.env.device, non_blocking=True)
                labels = labels.to(self.env.device, non_blocking=True)
                info = self.train_step(sils, labels)
                seen += len(labels) * self.env.world_size
                bar.update(1)
                if self.step % cfg.trainer.log_every == 0 or self.step == cfg.trainer.steps:
                    elapsed = time.perf_counter() - tic
                    row = {
                        "step": self.step,
                        "lr": self.scheduler.get_last_lr()[0],
                        "seq_per_s": seen / max(elapsed, 1e-9),
                        **info,
                    }
                    logger.write(row)
                    bar.set_postfix(loss=f"{info.get('total', float('nan')):.4f}")
                    tic, seen = time.perf_counter(), 0
                snapshot = cfg.trainer.snapshot_every > 0 and self.step % cfg.trainer.snapshot_every == 0
                if snapshot or self.step % cfg.trainer.checkpoint_every == 0 or self.step == cfg.trainer.steps:
                    self.save_checkpoint()  # with a snapshot too: a resumed run never retrains past a snapshot
                if snapshot:
                    self.save_snapshot()
                if self.step >= cfg.trainer.steps:
                    break
        finally:
            bar.close()
            logger.close()
        return self.run_dir


def train(
    config: RunConfig,
    run_dir: str | Path,
    resume: bool = True,
    progress: bool = True,
    batch_metrics: BatchMetrics | None = None,
    provenance: Callable[[], dict[str, Any]] | None = None,
) -> Path:
    """Train ``config`` into ``run_dir`` (creating it) and return the folder; arguments as :class:`Trainer`."""
    trainer = Trainer(config, run_dir, progress=progress, batch_metrics=batch_metrics, provenance=provenance)
    try:
        return trainer.fit(resume=resume)
    finally:
        trainer.release_data_parallel()
        del trainer
        environment.teardown()
