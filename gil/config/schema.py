"""The run configuration's schema: frozen dataclasses, every value checked when built (naming its dotted key).

:class:`RunConfig` holds one experiment (data, model, loss, optimiser, schedule, trainer, evaluation) and its
:meth:`~RunConfig.fingerprint`; :mod:`gil.config.loading` builds it from YAML, dicts and ``--set`` overrides. The
schedule's section is :mod:`gil.config.schedule`'s, the value checks :mod:`gil.config.checks`'.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gil.config.checks import MAX_BATCH_VALUES
from gil.config.checks import at_most as _at_most
from gil.config.checks import expect as _expect
from gil.config.checks import one_of as _one_of
from gil.config.schedule import ResolvedSchedule, ScheduleConfig, resolve_schedule
from gil.losses.registry import TERMS, LossSum, LossTerm, TripletTerm, build_loss

PROTOCOLS = ("casia-b", "oumvlp", "probe-gallery")
GALLERIES = ("single-view", "cross-view")
OPTIMIZERS = ("sgd", "adam", "adamw")
AMP_MODES = ("auto", "off", "bf16", "fp16")
NONFINITE_POLICIES = ("stop", "skip")
EVAL_METRICS = ("euclidean", "cosine")
_DEVICE = re.compile(r"auto|cpu|mps|cuda(:\d+)?")


@dataclass(frozen=True)
class DataConfig:
    root: str = "data/syngait-small"  # OpenGait pkl layout: ROOT/<subject>/<condition>/<view>/*.pkl
    # "dataset" = ROOT/partition.json; or a name ("casia-b-lt", "casia-b-mt", "casia-b-st", "oumvlp") or a path
    partition: str = "dataset"
    protocol: str = "casia-b"  # evaluation protocol: casia-b | oumvlp | probe-gallery (eval.probe_types …)
    resolution: tuple[int, int] = (64, 44)  # (h, w) after the 10-column crop; (32, 22) for CPU presets
    frames: int = 30  # training clip length (OpenGait: 30 ordered frames)
    identities: int = 8  # identities per batch (P of the P×K batch)
    per_identity: int = 16  # sequences per identity (K of the P×K batch)
    workers: int = 2  # DataLoader worker processes
    # the calibration's single-frame control: train on one random frame repeated `frames` times and test on
    # each sequence's middle frame repeated likewise, so the model sees shape but no motion
    single_frame: bool = False

    def __post_init__(self) -> None:
        _one_of(self.protocol, PROTOCOLS, "data.protocol")
        _expect(all(side >= 1 for side in self.resolution), "data.resolution", "[h, w] with both >= 1", self.resolution)
        for name in ("frames", "identities", "per_identity"):
            _expect(getattr(self, name) >= 1, f"data.{name}", "an integer >= 1", getattr(self, name))
        _expect(self.workers >= 0, "data.workers", "an integer >= 0", self.workers)
        _expect(
            all(side <= 1024 for side in self.resolution), "data.resolution", "[h, w] of at most 1024", self.resolution
        )
        _at_most(self, "data")
        values = self.identities * self.per_identity * self.frames * self.resolution[0] * self.resolution[1]
        _expect(
            values <= MAX_BATCH_VALUES,
            "data",
            f"a training batch of at most {MAX_BATCH_VALUES:,} values (identities × per_identity × frames × h × w; "
            f"{values:,} is {4 * values / 2**30:.0f} GiB as float32)",
            [self.identities, self.per_identity, self.frames, *self.resolution],
        )


@dataclass(frozen=True)
class ModelConfig:
    name: str = "gaitgl"
    width: float = 1.0  # channel multiplier; 1.0 is OpenGait's architecture
    kwargs: dict[str, Any] = field(default_factory=dict)  # extra keyword arguments for the constructor
    # the weights a new run starts from: a gil run folder (its checkpoints/last.pt), a gil checkpoint or an OpenGait
    # one (`gil train --init-from`); the run's optimiser and schedule start afresh. The fingerprint counts the
    # weights (their run's fingerprint and step, or the file's hash), not the path
    init_from: str | None = None

    def __post_init__(self) -> None:
        from gil.models import MODELS

        _one_of(self.name, sorted(MODELS), "model.name")
        _expect(self.width > 0, "model.width", "a number > 0", self.width)
        _at_most(self, "model")
        _expect(self.init_from is None or bool(str(self.init_from).strip()), "model.init_from",
                "a run folder or checkpoint path, or null", self.init_from)  # fmt: skip
        if self.kwargs:  # the constructor checks its own keywords: build it once, small, to hear what it says
            from gil.models import build_model

            try:
                build_model(self.name, 2, width=min(self.width, 0.125), **self.kwargs)
            except (TypeError, ValueError, IndexError, RuntimeError) as err:
                raise ValueError(
                    f"config key 'model.kwargs': {self.name} refuses {self.kwargs} ({type(err).__name__}: {err})"
                ) from err


@dataclass(frozen=True)
class LossConfig:
    # term name -> its typed settings and weight (gil.losses.TERMS: TripletTerm, GILTerm, CrossEntropyTerm); an
    # override changes the keys it names inside a term and keeps the rest, `loss.terms.NAME=null` removes a term
    terms: dict[str, LossTerm] = field(default_factory=lambda: {"triplet": TripletTerm()})

    def __post_init__(self) -> None:
        _expect(isinstance(self.terms, Mapping) and bool(self.terms), "loss.terms", "at least one term", self.terms)
        for name, term in self.terms.items():
            _one_of(name, sorted(TERMS), "loss.terms")
            _expect(isinstance(term, TERMS[name]), f"loss.terms.{name}", f"a {TERMS[name].__name__}", term)

    def build(self, **batch_options: str) -> LossSum:
        """The weighted sum of the terms, ready to train (:func:`gil.losses.build_loss`)."""
        return build_loss(self.terms, **batch_options)


@dataclass(frozen=True)
class OptimConfig:
    name: str = "adam"  # sgd | adam | adamw
    lr: float = 1e-4
    momentum: float = 0.9  # SGD only
    weight_decay: float = 5e-4
    nesterov: bool = False

    def __post_init__(self) -> None:
        _one_of(self.name, OPTIMIZERS, "optim.name")
        _expect(self.lr > 0, "optim.lr", "a number > 0", self.lr)
        _expect(0 <= self.momentum < 1, "optim.momentum", "a number in [0, 1)", self.momentum)
        _expect(self.weight_decay >= 0, "optim.weight_decay", "a number >= 0", self.weight_decay)
        _at_most(self, "optim")


@dataclass(frozen=True)
class TrainerConfig:
    steps: int = 80_000
    seed: int = 0
    device: str = "auto"  # auto | cpu | cuda | cuda:N | mps
    amp: str = "auto"  # auto (bf16 on GPUs that have it, else fp16; off on CPU) | off | bf16 | fp16
    compile: bool = False  # torch.compile the model
    log_every: int = 50
    checkpoint_every: int = 1000
    # also keep the model's weights every N steps as checkpoints/step-NNNNNN.pt (learning curves); 0 = off
    snapshot_every: int = 0
    grad_clip: float = 0.0  # 0 = off
    threads: int = 0  # torch.set_num_threads on CPU; 0 = torch's default
    # a step whose loss or gradients are not finite: "stop" (raise, naming the step and the tensor; the last
    # checkpoint stays the last good one) or "skip" (no update, counted as nonfinite_skipped, as AMP's scaler does)
    nonfinite: str = "stop"
    # under torchrun: BatchNorm statistics of the global batch (every rank's share), as one process would compute
    # them, not of each rank's share (torch.nn.SyncBatchNorm; OpenGait's sync_BN). Needs CUDA: under torchrun on CPU
    # it is refused naming this key (torch's SyncBatchNorm runs on GPU tensors only); in a single process it changes
    # nothing (its BatchNorm already sees the whole batch), which is logged. Counts in the fingerprint only when true
    sync_bn: bool = False

    def __post_init__(self) -> None:
        for name in ("steps", "log_every", "checkpoint_every"):
            _expect(getattr(self, name) >= 1, f"trainer.{name}", "an integer >= 1", getattr(self, name))
        _expect(bool(_DEVICE.fullmatch(self.device)), "trainer.device", "auto, cpu, cuda, cuda:N or mps", self.device)
        _one_of(self.amp, AMP_MODES, "trainer.amp")
        _one_of(self.nonfinite, NONFINITE_POLICIES, "trainer.nonfinite")
        _expect(self.grad_clip >= 0, "trainer.grad_clip", "a number >= 0 (0 = off)", self.grad_clip)
        _expect(self.threads >= 0, "trainer.threads", "an integer >= 0 (0 = torch's default)", self.threads)
        _expect(self.snapshot_every >= 0, "trainer.snapshot_every", "an integer >= 0 (0 = off)", self.snapshot_every)
        _expect(self.seed >= 0, "trainer.seed", "an integer >= 0", self.seed)
        _at_most(self, "trainer")


@dataclass(frozen=True)
class EvalConfig:
    metric: str = "euclidean"  # euclidean | cosine
    batch_size: int = 1  # sequences per forward pass (padded to the longest)
    drop_probes_without_gallery: bool = False  # OUMVLP only
    # casia-b / oumvlp: single-view (the gallery of one view at a time) or cross-view (OpenGait's cross-view gallery)
    gallery: str = "single-view"
    # data.protocol=probe-gallery: probes and gallery by sequence type (the condition level of the layout);
    # an empty gallery_types means every sequence that is not a probe
    probe_types: tuple[str, ...] = ()
    gallery_types: tuple[str, ...] = ()
    exclude_same_view: bool = False  # probe-gallery: drop the probe's identity in its own view from its gallery

    def __post_init__(self) -> None:
        _one_of(self.metric, EVAL_METRICS, "eval.metric")
        _expect(self.batch_size >= 1, "eval.batch_size", "an integer >= 1", self.batch_size)
        _at_most(self, "eval")
        _one_of(self.gallery, GALLERIES, "eval.gallery")


@dataclass(frozen=True)
class RunConfig:
    name: str = "run"
    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    loss: LossConfig = field(default_factory=LossConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    schedule: ScheduleConfig = field(default_factory=ScheduleConfig)
    trainer: TrainerConfig = field(default_factory=TrainerConfig)
    eval: EvalConfig = field(default_factory=EvalConfig)

    def __post_init__(self) -> None:
        generic = self.data.protocol == "probe-gallery"
        _expect(
            bool(self.eval.probe_types) == generic,
            "eval.probe_types",
            "a list of probe sequence types with data.protocol=probe-gallery, and none otherwise",
            list(self.eval.probe_types),
        )
        if not generic:
            for key in ("gallery_types", "exclude_same_view"):
                value = getattr(self.eval, key)
                _expect(not value, f"eval.{key}", "its default unless data.protocol=probe-gallery", value)
        if self.schedule.written_for_steps is None:  # absolute steps: they must fall inside the run
            multistep = self.schedule.name == "multistep"
            late = [m for m in self.schedule.milestones if m >= self.trainer.steps] if multistep else []
            _expect(
                not late and self.schedule.warmup_steps < self.trainer.steps,
                "schedule.milestones" if late else "schedule.warmup_steps",
                f"steps before the end of the run (trainer.steps = {self.trainer.steps:,}; with "
                "schedule.written_for_steps set they scale with the run instead)",
                list(self.schedule.milestones) if late else self.schedule.warmup_steps,
            )
        _expect(
            not (generic and self.eval.gallery != "single-view"),
            "eval.gallery",
            "single-view with data.protocol=probe-gallery (its gallery is eval.gallery_types)",
            self.eval.gallery,
        )

    def to_dict(self) -> dict[str, Any]:
        return _plain(dataclasses.asdict(self))

    def resolved_schedule(self) -> ResolvedSchedule:
        """Warm-up and milestones in this run's steps (:func:`~gil.config.schedule.resolve_schedule`)."""
        return resolve_schedule(self.schedule, self.trainer.steps)

    def fingerprint(self) -> str:
        """Short hash of everything that changes the trained weights (not logging, workers or the device).

        A generated embedded data set counts by its ``syngait.json`` (preset, seed, version, difficulty knobs), not
        by where it lies, so clones and copies agree and regenerated data gets new fingerprints; any other data root
        counts by its absolute path. The train/test split counts by its contents (:func:`_partition_contents`): an
        edited ``partition.json`` is another experiment.
        """
        content = self.to_dict()
        content["data"].pop("workers")
        root = self.data_root()
        generated = root / "syngait.json"
        if generated.is_file():
            content["data"]["root"] = "syngait:" + hashlib.sha256(generated.read_bytes()).hexdigest()[:10]
        else:
            content["data"]["root"] = str(root)
        if split := _partition_contents(self.data.partition, root):
            content["data"]["partition_contents"] = split
        for key in ("log_every", "checkpoint_every", "snapshot_every", "threads", "device", "nonfinite"):
            content["trainer"].pop(key)
        if self.model.init_from is None:  # a later key: counts only when set, so older run folders keep their names
            content["model"].pop("init_from")
        else:
            from gil.checkpoints import weights_identity

            content["model"]["init_from"] = weights_identity(self.model.init_from)
        schedule = self.resolved_schedule()  # the steps the run follows, however the config writes them
        content["schedule"].update(milestones=list(schedule.milestones), warmup_steps=schedule.warmup_steps)
        content["schedule"].pop("written_for_steps")
        for key, default in _LATER_EVAL_KEYS.items():  # count only when set: older run folders keep their names
            if content["eval"][key] == default:
                content["eval"].pop(key)
        if not content["trainer"]["sync_bn"]:  # a later key too: counts only when set
            content["trainer"].pop("sync_bn")
        content.pop("name")
        content["loss"]["terms"] = {name: _fingerprinted(name, term) for name, term in content["loss"]["terms"].items()}
        blob = json.dumps(content, sort_keys=True).encode()
        return hashlib.sha256(blob).hexdigest()[:10]

    def data_root(self) -> Path:
        """``data.root`` as an absolute path (a relative one from the working directory)."""
        return resolve_path(self.data.root)

    def resolved(self, base: str | Path) -> RunConfig:
        """This config with ``data.root``, a partition file path and ``model.init_from`` made absolute against ``base``.

        Partition names (``dataset``, ``casia-b-lt``, ``oumvlp`` …) stay as they are.
        """
        from gil.data.partitions import NAMES

        data = {"root": str(resolve_path(self.data.root, base))}
        if self.data.partition != "dataset" and self.data.partition not in NAMES:
            data["partition"] = str(resolve_path(self.data.partition, base))
        model = self.model
        if model.init_from is not None:
            model = dataclasses.replace(model, init_from=str(resolve_path(model.init_from, base)))
        return dataclasses.replace(self, data=dataclasses.replace(self.data, **data), model=model)


_LATER_EVAL_KEYS = {"gallery": "single-view", "probe_types": [], "gallery_types": [], "exclude_same_view": False}
# A loss term counts in the fingerprint as the bundled YAML files wrote it before the terms were typed, so
# run folders and the committed study cells keep their names: GIL's settings below are left out at these values (the
# values of that time, written here on purpose rather than read from GILConfig: should a default ever change, the
# fingerprint changes with it), and the authors' InfoLoss has no pair weights or margin to record.
_GIL_LEFT_OUT_AT = {
    "m0": 0.2,
    "kappa": 0.5,
    "m_min": 0.05,
    "m_max": 0.5,
    "tau": 0.1,
    "t": 2.0,
    "uniformity_scale": "none",
    "metric_space": "raw",
}


def _partition_contents(partition: str, root: Path) -> str | None:
    """A hash of the train/test split's file where the fingerprint needs it: a partition file given by path, or a
    data root's ``partition.json`` — unless it is the one ``gil data generate`` wrote for that twin (so run folders
    and the committed cells keep their names; an edited one gets its own). Named partitions (``casia-b-lt`` …) are
    the package's and count by name."""
    from gil.data.partitions import NAMES
    from gil.data.syngait import generated_partition

    if partition in NAMES:
        return None
    path = root / "partition.json" if partition == "dataset" else resolve_path(partition)
    if not path.is_file():
        return None  # training refuses it, naming the file
    raw = path.read_bytes()
    meta = root / "syngait.json"
    if partition == "dataset" and meta.is_file():
        try:
            if json.loads(raw) == generated_partition(json.loads(meta.read_text())):
                return None
        except (ValueError, KeyError, TypeError):
            pass  # not the generated split: hashed below
    return hashlib.sha256(raw).hexdigest()[:10]


def _fingerprinted(name: str, term: dict[str, Any]) -> dict[str, Any]:
    """The part of a term's settings (``to_dict`` form) that the fingerprint hashes."""
    if name != "gil":
        return term
    left_out = dict(_GIL_LEFT_OUT_AT)
    if term["form"] == "softmax_official":
        left_out.update(pair_weight="none", margin="none")
    return {key: value for key, value in term.items() if key not in left_out or value != left_out[key]}


def resolve_path(path: str | Path, base: str | Path | None = None) -> Path:
    """``path`` made absolute: kept when absolute, else taken from ``base`` (default: the working directory)."""
    path = Path(path).expanduser()
    if path.is_absolute():
        return path
    return (Path(base) if base is not None else Path.cwd()).resolve() / path


def _plain(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(item) for item in value]
    return value
