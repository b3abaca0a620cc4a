"""Run configuration: frozen dataclasses loaded from and saved to YAML.

One YAML file describes one experiment (as OpenGait's configs do). The CLI's ``--set a.b=v``, a
notebook's parameter dict and the YAML all map onto the same fields. Unknown keys and values of the
wrong type are errors naming the dotted key and what was expected; a renamed key (``data.p``, now
``data.identities``) is an error naming its new key, not a silent alias.

Paths: a relative ``data.root`` (or partition file) is taken from the working directory, as any Python
library takes a path; the entry points make them absolute first with :meth:`RunConfig.resolved` — the CLI
against the current directory, the notebooks against the project root. Bundled configs are read from the
installed package (``importlib.resources``).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import re
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Any

import yaml

from gil.files import resource, write_atomic

CONFIG_DIR = resource("configs")

PROTOCOLS = ("casia-b", "oumvlp")
OPTIMIZERS = ("sgd", "adam", "adamw")
SCHEDULES = ("multistep", "cosine", "constant")
AMP_MODES = ("auto", "off", "bf16", "fp16")
NONFINITE_POLICIES = ("stop", "skip")
EVAL_METRICS = ("euclidean", "cosine")
_DEVICE = re.compile(r"auto|cpu|mps|cuda(:\d+)?")


def _expect(ok: bool, key: str, expected: str, value: Any) -> None:
    """Raise naming the dotted ``key`` unless ``ok``: ``config key 'trainer.steps': expected …, got 0``."""
    if not ok:
        raise ValueError(f"config key '{key}': expected {expected}, got {value!r}")


def _one_of(value: Any, choices: tuple[str, ...] | list[str], key: str) -> None:
    _expect(value in choices, key, f"one of {', '.join(choices)}", value)


@dataclass(frozen=True)
class DataConfig:
    root: str = "data/syngait-small"  # OpenGait pkl layout: ROOT/<subject>/<condition>/<view>/*.pkl
    # "dataset" = ROOT/partition.json; or a name ("casia-b-lt", "casia-b-mt", "casia-b-st", "oumvlp") or a path
    partition: str = "dataset"
    protocol: str = "casia-b"  # evaluation protocol: casia-b | oumvlp
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


@dataclass(frozen=True)
class ModelConfig:
    name: str = "gaitgl"
    width: float = 1.0  # channel multiplier; 1.0 is OpenGait's architecture
    kwargs: dict[str, Any] = field(default_factory=dict)  # extra keyword arguments for the constructor

    def __post_init__(self) -> None:
        from gil.models import MODELS

        _one_of(self.name, sorted(MODELS), "model.name")
        _expect(self.width > 0, "model.width", "a number > 0", self.width)


@dataclass(frozen=True)
class LossConfig:
    # term name -> its arguments, e.g. {"triplet": {"weight": 1.0, "margin": 0.2}, "ce": {"weight": 0.1}}
    terms: dict[str, dict[str, Any]] = field(default_factory=lambda: {"triplet": {"weight": 1.0}})

    def __post_init__(self) -> None:
        from gil.losses import build_loss

        try:  # building the terms checks their names and every setting (cheap: no data, no weights)
            build_loss(self.terms)
        except (TypeError, ValueError) as err:
            raise ValueError(f"config key 'loss.terms': {err}") from err


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


@dataclass(frozen=True)
class ScheduleConfig:
    name: str = "multistep"  # multistep | cosine | constant
    milestones: tuple[int, ...] = (70_000,)
    gamma: float = 0.1
    warmup_steps: int = 0  # linear warm-up before the main schedule

    def __post_init__(self) -> None:
        _one_of(self.name, SCHEDULES, "schedule.name")
        _expect(self.gamma > 0, "schedule.gamma", "a number > 0", self.gamma)
        _expect(self.warmup_steps >= 0, "schedule.warmup_steps", "an integer >= 0", self.warmup_steps)
        increasing = all(a < b for a, b in zip(self.milestones, self.milestones[1:], strict=False))
        _expect(
            increasing and all(m > self.warmup_steps for m in self.milestones),
            "schedule.milestones",
            f"increasing steps after the warm-up (> schedule.warmup_steps = {self.warmup_steps})",
            list(self.milestones),
        )


@dataclass(frozen=True)
class TrainerConfig:
    steps: int = 80_000
    seed: int = 0
    device: str = "auto"  # auto | cpu | cuda | cuda:N | mps
    amp: str = "auto"  # auto (bf16 on GPUs that have it, else fp16; off on CPU) | off | bf16 | fp16
    compile: bool = False  # torch.compile the model
    log_every: int = 50
    checkpoint_every: int = 1000
    grad_clip: float = 0.0  # 0 = off
    threads: int = 0  # torch.set_num_threads on CPU; 0 = torch's default
    # a step whose loss or gradients are not finite: "stop" (raise, naming the step and the tensor; the last
    # checkpoint stays the last good one) or "skip" (no update, counted as nonfinite_skipped, as AMP's scaler does)
    nonfinite: str = "stop"

    def __post_init__(self) -> None:
        for name in ("steps", "log_every", "checkpoint_every"):
            _expect(getattr(self, name) >= 1, f"trainer.{name}", "an integer >= 1", getattr(self, name))
        _expect(bool(_DEVICE.fullmatch(self.device)), "trainer.device", "auto, cpu, cuda, cuda:N or mps", self.device)
        _one_of(self.amp, AMP_MODES, "trainer.amp")
        _one_of(self.nonfinite, NONFINITE_POLICIES, "trainer.nonfinite")
        _expect(self.grad_clip >= 0, "trainer.grad_clip", "a number >= 0 (0 = off)", self.grad_clip)
        _expect(self.threads >= 0, "trainer.threads", "an integer >= 0 (0 = torch's default)", self.threads)


@dataclass(frozen=True)
class EvalConfig:
    metric: str = "euclidean"  # euclidean | cosine
    batch_size: int = 1  # sequences per forward pass (padded to the longest)
    drop_probes_without_gallery: bool = False  # OUMVLP only

    def __post_init__(self) -> None:
        _one_of(self.metric, EVAL_METRICS, "eval.metric")
        _expect(self.batch_size >= 1, "eval.batch_size", "an integer >= 1", self.batch_size)


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

    def to_dict(self) -> dict[str, Any]:
        return _plain(dataclasses.asdict(self))

    def fingerprint(self) -> str:
        """Short hash of everything that changes the trained weights (not logging, workers or the device).

        A generated embedded data set counts by its ``syngait.json`` (preset, seed, version, difficulty knobs), not
        by where it lies, so clones and copies agree and regenerated data gets new fingerprints; any other data root
        counts by its absolute path.
        """
        content = self.to_dict()
        content["data"].pop("workers")
        root = self.data_root()
        generated = root / "syngait.json"
        if generated.is_file():
            content["data"]["root"] = "syngait:" + hashlib.sha256(generated.read_bytes()).hexdigest()[:10]
        else:
            content["data"]["root"] = str(root)
        for key in ("log_every", "checkpoint_every", "threads", "device", "nonfinite"):
            content["trainer"].pop(key)
        content.pop("name")
        blob = json.dumps(content, sort_keys=True).encode()
        return hashlib.sha256(blob).hexdigest()[:10]

    def data_root(self) -> Path:
        """``data.root`` as an absolute path (a relative one from the working directory)."""
        return resolve_path(self.data.root)

    def resolved(self, base: str | Path) -> RunConfig:
        """This config with ``data.root`` and a partition file path made absolute against ``base``.

        Partition names (``dataset``, ``casia-b-lt``, ``oumvlp`` …) stay as they are.
        """
        from gil.data.partitions import NAMES

        data = {"root": str(resolve_path(self.data.root, base))}
        if self.data.partition != "dataset" and self.data.partition not in NAMES:
            data["partition"] = str(resolve_path(self.data.partition, base))
        return dataclasses.replace(self, data=dataclasses.replace(self.data, **data))


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


def _check(value: Any, annotation: Any, key: str) -> Any:
    """Return ``value`` converted to ``annotation`` or raise naming ``key``."""
    origin = typing.get_origin(annotation)
    if dataclasses.is_dataclass(annotation):
        if not isinstance(value, Mapping):
            raise ValueError(f"config key '{key}': expected a mapping, got {value!r}")
        return _build(annotation, value, key + ".")
    if annotation is Any:
        return value
    if annotation is bool:
        if not isinstance(value, bool):
            raise ValueError(f"config key '{key}': expected true/false, got {value!r}")
        return value
    if annotation is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValueError(f"config key '{key}': expected an integer, got {value!r}")
        return value
    if annotation is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise ValueError(f"config key '{key}': expected a finite number, got {value!r}")
        return float(value)
    if annotation is str:
        if not isinstance(value, str):
            raise ValueError(f"config key '{key}': expected a string, got {value!r}")
        return value
    if origin is tuple:
        if not isinstance(value, (list, tuple)):
            raise ValueError(f"config key '{key}': expected a list, got {value!r}")
        args = typing.get_args(annotation)
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(_check(item, args[0], f"{key}[{i}]") for i, item in enumerate(value))
        if len(value) != len(args):
            raise ValueError(f"config key '{key}': expected {len(args)} values, got {value!r}")
        return tuple(_check(item, arg, f"{key}[{i}]") for i, (item, arg) in enumerate(zip(value, args, strict=True)))
    if origin is dict:
        if not isinstance(value, Mapping):
            raise ValueError(f"config key '{key}': expected a mapping, got {value!r}")
        value_type = typing.get_args(annotation)[1]
        return {str(k): _check(v, value_type, f"{key}.{k}") for k, v in value.items()}
    raise TypeError(f"unsupported annotation for '{key}': {annotation}")


# old dotted key -> (new dotted key, what it holds); an old config fails naming the new key, never aliased
RENAMED_KEYS: dict[str, tuple[str, str]] = {
    "data.p": ("data.identities", "identities per batch"),
    "data.k": ("data.per_identity", "sequences per identity"),
}


def _renamed(prefix: str, keys: list[str]) -> str | None:
    """The error for a renamed key among ``keys`` (under ``prefix``), naming every rename of its section:
    ``config key 'data.p' was renamed to 'data.identities' (identities per batch); 'data.k' to …``."""
    hits = [old for old in RENAMED_KEYS if old in {prefix + key for key in keys}]
    if not hits:
        return None
    first = hits[0]
    rest = [old for old in RENAMED_KEYS if old != first and old.rsplit(".", 1)[0] == first.rsplit(".", 1)[0]]
    new, holds = RENAMED_KEYS[first]
    also = "".join(f"; '{old}' to '{RENAMED_KEYS[old][0]}' ({RENAMED_KEYS[old][1]})" for old in rest)
    return f"config key '{first}' was renamed to '{new}' ({holds}){also}"


def _build(cls: type, values: Mapping[str, Any], prefix: str = "") -> Any:
    hints = typing.get_type_hints(cls)
    known = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(values) - known)
    if renamed := _renamed(prefix, unknown):
        raise ValueError(renamed)
    if unknown:
        raise ValueError(
            f"unknown config key '{prefix}{unknown[0]}'; known keys under "
            f"'{prefix.rstrip('.') or '<top>'}': {', '.join(sorted(known))}"
        )
    kwargs = {name: _check(value, hints[name], prefix + name) for name, value in values.items()}
    try:
        return cls(**kwargs)
    except TypeError as err:  # a model's constructor refusing a kwarg, a comparison on a wrong type
        raise ValueError(f"config section '{prefix.rstrip('.') or '<top>'}': {err}") from err


def _merge(base: dict[str, Any], update: Mapping[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in update.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping) and key not in ("terms", "kwargs"):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def _dotted_to_nested(overrides: Mapping[str, Any]) -> dict[str, Any]:
    nested: dict[str, Any] = {}
    for dotted, value in overrides.items():
        parts = dotted.split(".")
        node = nested
        for part in parts[:-1]:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                raise ValueError(f"config override '{dotted}' conflicts with another override")
        node[parts[-1]] = value
    return nested


def from_dict(values: Mapping[str, Any], overrides: Mapping[str, Any] | None = None) -> RunConfig:
    """Build a config from nested ``values``; ``overrides`` maps dotted keys (``trainer.steps``) to values.

    Override values replace whole entries for ``loss.terms.X`` and ``model.kwargs.X``.
    """
    merged = _merge(dict(values), _dotted_to_nested(overrides or {}))
    return _build(RunConfig, merged)


def bundled_configs() -> list[str]:
    """Names of the configs shipped in the package (``casia-b/gaitgl_gil_margin``, ``embedded/tiny_triplet`` …)."""
    return sorted(
        f"{group.name}/{item.name.removesuffix('.yaml')}"
        for group in CONFIG_DIR.iterdir()
        if group.is_dir()
        for item in group.iterdir()
        if item.name.endswith(".yaml")
    )


def find_config(name_or_path: str | Path) -> Path | Traversable:
    """A YAML path (relative: from the working directory), or a bundled name (``embedded/small_gil_margin``,
    with or without ``.yaml``)."""
    path = Path(name_or_path).expanduser()
    if path.is_file():
        return path
    stem = str(name_or_path).removesuffix(".yaml")
    if stem in bundled_configs():
        return CONFIG_DIR.joinpath(*f"{stem}.yaml".split("/"))
    raise FileNotFoundError(f"config '{name_or_path}' not found; bundled configs: {', '.join(bundled_configs())}")


def load(name_or_path: str | Path, overrides: Mapping[str, Any] | None = None) -> RunConfig:
    """Load a YAML config (path or bundled name) with optional dotted overrides."""
    path = find_config(name_or_path)
    try:
        values = load_yaml(path.read_text()) or {}
    except yaml.YAMLError as err:
        raise ValueError(f"{path}: not valid YAML: {err}") from err
    if not isinstance(values, Mapping):
        raise ValueError(f"{path}: expected a mapping at the top level")
    try:
        return from_dict(values, overrides)
    except ValueError as err:
        named = [key for key in overrides or {} if f"'{key}'" in str(err) or f"'{key.rsplit('.', 1)[0]}'" in str(err)]
        source = f"{path} with the override {', '.join(f'{k}={overrides[k]!r}' for k in named)}" if named else path
        raise ValueError(f"{source}: {err}") from err


class _Loader(yaml.SafeLoader):
    """PyYAML's safe loader with YAML 1.2 floats: ``1e-4`` and ``3E5`` are numbers (YAML 1.1 needs ``1.0e-4``)."""


_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^[-+]?(?:[0-9][0-9_]*)(?:\.[0-9_]*)?[eE][-+]?[0-9]+$"),
    list("-+0123456789"),
)


def load_yaml(text: str) -> Any:
    """Parse YAML safely (no objects) with ``1e-4`` read as a float, as every ML config writes learning rates."""
    return yaml.load(text, Loader=_Loader)


def parse_overrides(pairs: list[str]) -> dict[str, Any]:
    """``["trainer.steps=2000", "model.name=gaitset"]`` -> dotted dict; values parsed as YAML scalars."""
    overrides: dict[str, Any] = {}
    for pair in pairs:
        if "=" not in pair:
            raise ValueError(f"--set expects KEY=VALUE (e.g. trainer.steps=2000), got '{pair}'")
        key, raw = pair.split("=", 1)
        try:
            overrides[key.strip()] = load_yaml(raw)
        except yaml.YAMLError as err:
            raise ValueError(f"--set {pair}: the value is not a YAML scalar or list ({err})") from err
    return overrides


def save(config: RunConfig, path: str | Path) -> None:
    """Write ``config`` as YAML atomically."""
    write_atomic(path, yaml.safe_dump(config.to_dict(), sort_keys=False))
