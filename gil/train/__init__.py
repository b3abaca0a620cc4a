"""Training: the trainer (:mod:`~gil.train.trainer`), its checkpoints (:mod:`~gil.train.checkpoint`), optimiser and
schedule (:mod:`~gil.train.optim`), logs and provenance (:mod:`~gil.train.records`), and its environment — device,
mixed precision, the torchrun process group (:mod:`~gil.train.environment`)."""

from gil.train.optim import build_optimizer, build_scheduler
from gil.train.records import MetricsLogger, session_record, write_provenance
from gil.train.trainer import (
    CHECKPOINT_NAME,
    RESULT_FILES,
    BatchMetrics,
    Trainer,
    check_batch,
    partition_of,
    seed_everything,
    train,
)

__all__ = [
    "CHECKPOINT_NAME",
    "RESULT_FILES",
    "BatchMetrics",
    "MetricsLogger",
    "Trainer",
    "build_optimizer",
    "build_scheduler",
    "check_batch",
    "partition_of",
    "seed_everything",
    "session_record",
    "train",
    "write_provenance",
]
