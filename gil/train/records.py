"""What a run writes besides its checkpoint: ``metrics.csv`` with TensorBoard scalars, and ``provenance.json``."""

from __future__ import annotations

import csv
import io
import json
import logging
import os
import platform
from pathlib import Path
from typing import Any

import torch

from gil import files
from gil.run_folder import RunFolder

log = logging.getLogger(__name__)


def session_record() -> dict[str, Any]:
    """What the library itself records of a training session: versions, platform and torch threads."""
    import gil

    return {
        "gil": gil.__version__,
        "python": platform.python_version(),
        "torch": torch.__version__,
        "torch_threads": torch.get_num_threads(),
        "cores": os.cpu_count(),
        "platform": platform.platform(),
    }


def write_provenance(run_dir: Path, step: int, record: dict[str, Any]) -> None:
    """Add this session (its start step and ``record``) to ``provenance.json``."""
    path = RunFolder(run_dir).provenance_file
    log_ = json.loads(path.read_text()) if path.is_file() else {"sessions": []}
    log_["sessions"].append({"start_step": step, **record})
    files.write_json(path, log_)


class MetricsLogger:
    """``metrics.csv`` (one row per logged step) and TensorBoard scalars, written by rank 0 only.

    On resume, rows after the checkpoint's step (logged before an interruption) are dropped so the file
    matches an uninterrupted run.
    """

    def __init__(self, run_dir: Path, enabled: bool = True, truncate_after: int = 0) -> None:
        self.enabled = enabled
        self.path = RunFolder(run_dir).metrics_file
        self.fields: list[str] | None = None
        self.writer = None
        if not enabled:
            return
        if self.path.is_file():
            with open(self.path, newline="") as handle:
                rows = [r for r in csv.DictReader(handle) if int(r["step"]) <= truncate_after]
            if rows:
                self.fields = list(rows[0].keys())
            text = io.StringIO(newline="")
            if self.fields:
                out = csv.DictWriter(text, fieldnames=self.fields)
                out.writeheader()
                out.writerows(rows)
            files.write_atomic(self.path, text.getvalue())
        try:
            from torch.utils.tensorboard import SummaryWriter
        except ImportError:  # an optional log: the core trains without it
            from gil.extras import install_line

            log.warning("no tensorboard: metrics go to metrics.csv only (%s)", install_line("tensorboard"))
        else:
            log_dir = str(RunFolder(run_dir).tensorboard_dir)
            self.writer = SummaryWriter(log_dir=log_dir, purge_step=truncate_after + 1)

    def write(self, row: dict[str, float]) -> None:
        if not self.enabled:
            return
        if self.fields is None:
            self.fields = list(row.keys())
        with open(self.path, "a", newline="") as handle:
            out = csv.DictWriter(handle, fieldnames=self.fields, extrasaction="ignore")
            if handle.tell() == 0:
                out.writeheader()
            out.writerow(row)
        if self.writer is not None:
            for key, value in row.items():
                if key != "step":
                    self.writer.add_scalar(key, value, row["step"])

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
