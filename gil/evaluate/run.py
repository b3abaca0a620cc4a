"""Evaluate a run folder: load its config and last checkpoint, embed the test partition, run the protocol.

A run folder (written by :mod:`gil.train`, named and read by :mod:`gil.run_folder`) holds ``config.yaml``,
``checkpoints/last.pt``, ``metrics.csv``; :func:`evaluate_run` adds ``eval.json`` and ``embeddings.npz``, both written
atomically. Evaluation never imports the trainer.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np
import torch

from gil import config as config_lib
from gil.checkpoints import partition_of
from gil.config import RunConfig
from gil.data.loader import build_test_loader
from gil.data.opengait import GaitDataset
from gil.device import pick_device
from gil.evaluate.extract import extract_embeddings
from gil.evaluate.protocols import casia_b, oumvlp
from gil.evaluate.result import ProtocolResult
from gil.evaluate.retrieval import cross_view_gallery, probe_gallery, type_mask
from gil.files import write_atomic, write_json
from gil.run_folder import RunFolder, locked, open_run, trained_model

log = logging.getLogger(__name__)


def evaluate_model(
    model: torch.nn.Module,
    config: RunConfig,
    device: torch.device,
    progress: bool = True,
    subjects: list[str] | None = None,
) -> tuple[Any, dict[str, Any]]:
    """Embed the test subjects of ``config``'s partition (or ``subjects`` of its data root) and run its protocol.

    Returns ``(result, arrays)``; ``arrays`` holds ``embeddings`` ``[n, p, c]`` and the per-sequence labels.
    """
    chosen = list(partition_of(config).test) if subjects is None else list(subjects)
    dataset = GaitDataset(config.data_root(), subjects=chosen)
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
    result = run_protocol(config, embeddings, subjects, conditions, views)
    arrays = {
        "embeddings": embeddings,
        "subjects": np.array(subjects),
        "conditions": np.array(conditions),
        "views": np.array(views),
    }
    return result, arrays


def run_protocol(
    config: RunConfig, embeddings: Any, subjects: list[str], conditions: list[str], views: list[str]
) -> ProtocolResult:
    """The protocol ``config`` names (``data.protocol``, ``eval.*``) on ``embeddings [n, p, c]`` and their labels
    (``n`` each: the subject, condition/type and view folder names)."""
    protocol, settings, metric = config.data.protocol, config.eval, config.eval.metric
    if protocol == "probe-gallery":
        probe = type_mask(conditions, settings.probe_types, "eval.probe_types")
        gallery = (
            type_mask(conditions, settings.gallery_types, "eval.gallery_types") if settings.gallery_types else None
        )
        return probe_gallery(
            embeddings,
            subjects,
            probe,
            gallery,
            views=views,
            exclude_same_view=settings.exclude_same_view,
            metric=metric,
        )
    if settings.gallery == "cross-view":
        return cross_view_gallery(embeddings, subjects, conditions, views, dataset=protocol, metric=metric)
    if protocol == "casia-b":
        return casia_b(embeddings, subjects, conditions, views, metric=metric)
    if protocol == "oumvlp":
        return oumvlp(
            embeddings,
            subjects,
            conditions,
            views,
            metric=metric,
            drop_probes_without_gallery=settings.drop_probes_without_gallery,
        )
    raise ValueError(f"data.protocol: expected casia-b, oumvlp or probe-gallery, got '{protocol}'")


EVALUATION_KEYS = ("eval.", "data.protocol")  # what `gil eval --run DIR --set` may change


def evaluate_run(
    run_dir: str | Path, device: str = "auto", progress: bool = True, overrides: dict[str, Any] | None = None
) -> dict[str, Any]:
    """Evaluate a trained run; writes ``eval.json`` and ``embeddings.npz`` atomically and returns the dict.

    ``run_dir`` is the folder ``gil train --run-dir`` wrote (relative: from the working directory). The measures
    per probe group also go to the run's TensorBoard log (``tb/``) at the final step (:func:`log_to_tensorboard`).
    ``overrides`` (dotted keys under ``eval.`` or ``data.protocol``) evaluate the run's model under other
    evaluation settings; that result is only returned: the run folder's files belong to its own config.
    """
    folder = open_run(run_dir)
    overrides = dict(overrides or {})
    refused = [key for key in overrides if not key.startswith(EVALUATION_KEYS)]
    if refused:
        raise ValueError(
            f"--set {refused[0]}: a trained run can only be re-evaluated under other evaluation settings "
            "(eval.*, data.protocol); train a new run to change anything else"
        )
    config = config_lib.load(folder.config_file, overrides)
    torch_device = pick_device(device)
    if overrides:  # scored under other settings: returned only, the folder's files belong to its own config
        model, record = trained_model(config, folder.path, torch_device)
        result, _ = evaluate_model(model, config, torch_device, progress=progress)
        return {**result.to_dict(), "checkpoint": {**record, "finished": None}}
    with locked(folder.path):  # one writer: not while the run trains, nor beside another evaluation
        model, record = trained_model(config, folder.path, torch_device)
        if not record["finished"]:
            log.warning(
                "%s: evaluating the checkpoint of step %d of %d (the run has not finished); eval.json records it",
                folder.path,
                record["step"],
                config.trainer.steps,
            )
        result, arrays = evaluate_model(model, config, torch_device, progress=progress)
        report = {**result.to_dict(), "checkpoint": record}
        folder.eval_file.unlink(missing_ok=True)  # eval.json last: it is there only beside its embeddings
        try:
            write_atomic(folder.embeddings_file, lambda handle: np.savez_compressed(handle, **arrays))
            write_json(folder.eval_file, report)
        except OSError as err:
            raise ResultNotSaved(report, folder.path, err) from err
        log_to_tensorboard(folder.path, result, step=record["step"])
    return report


class ResultNotSaved(OSError):
    """An evaluation was computed but its files could not be written (a full disk, a read-only folder): the error
    names the folder and the cause, and ``report`` keeps the result (``gil train`` / ``gil eval`` print it)."""

    def __init__(self, report: dict[str, Any], run_dir: Path, cause: OSError) -> None:
        reason = cause.strerror or str(cause)
        where = f" ({cause.filename})" if cause.filename else ""
        super().__init__(
            cause.errno,
            f"{run_dir}: the evaluation was computed but not saved: {reason}{where}; the run folder holds no "
            "eval.json, so the next use evaluates it again",
        )
        self.report = report


def log_to_tensorboard(run_dir: Path, result: ProtocolResult, step: int) -> None:
    """``eval/rank1/<group>``, ``eval/rank5/…``, ``eval/rank10/…``, ``eval/mAP/…`` and ``eval/mINP/…`` scalars into
    ``run_dir/tb`` (skipped without tensorboard)."""
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:
        return
    writer = SummaryWriter(log_dir=str(RunFolder(run_dir).tensorboard_dir))
    try:
        for group, value in result.summary.items():
            writer.add_scalar(f"eval/rank1/{group}", value, step)
        for k, row in result.cmc_summary.items():
            for group, value in row.items():
                if k != 1:  # rank-1 is the summary above
                    writer.add_scalar(f"eval/rank{k}/{group}", value, step)
        for group, value in result.map_summary.items():
            writer.add_scalar(f"eval/mAP/{group}", value, step)
        for group, value in result.minp_summary.items():
            writer.add_scalar(f"eval/mINP/{group}", value, step)
    finally:
        writer.close()
