"""Training: the trainer (:mod:`~gil.train.trainer`), its checkpoints (:mod:`~gil.train.checkpoint`) and its
environment — device, mixed precision, the torchrun process group (:mod:`~gil.train.environment`)."""

from gil.train.trainer import (
    CHECKPOINT_NAME,
    RESULT_FILES,
    BatchMetrics,
    MetricsLogger,
    Trainer,
    build_optimizer,
    build_scheduler,
    check_batch,
    partition_of,
    seed_everything,
    session_record,
    train,
    write_provenance,
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
