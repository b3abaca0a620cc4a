"""Training: the trainer (:mod:`~gil.train.trainer`), its checkpoints and random state
(:mod:`~gil.train.checkpoint`), the error of a run that diverged (:mod:`~gil.train.divergence`), optimiser and
schedule (:mod:`~gil.train.optim`), logs and provenance (:mod:`~gil.train.records`), and its environment — mixed
precision, the torchrun process group (:mod:`~gil.train.environment`). The run folder it writes is named and read
back by :mod:`gil.run_folder`."""

from gil.train.checkpoint import seed_everything
from gil.train.optim import build_optimizer, build_scheduler
from gil.train.records import MetricsLogger, session_record, write_provenance
from gil.train.trainer import BatchMetrics, Trainer, check_batch, train

__all__ = [
    "BatchMetrics",
    "MetricsLogger",
    "Trainer",
    "build_optimizer",
    "build_scheduler",
    "check_batch",
    "seed_everything",
    "session_record",
    "train",
    "write_provenance",
]
