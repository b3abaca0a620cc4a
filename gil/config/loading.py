"""Building a :class:`~gil.config.schema.RunConfig` from YAML, a nested dict or dotted overrides, and saving it.

Values are converted to the annotated types or refused naming the dotted key; unknown keys list the known ones; a
renamed key (``data.p``, now ``data.identities``) is an error naming its new key, not a silent alias. YAML is read
safely with YAML 1.2 floats (``1e-4`` is a number). Bundled configs come from the installed package.
"""

from __future__ import annotations

import dataclasses
import math
import re
import typing
from collections.abc import Mapping
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Any

import yaml

from gil.config.schema import RunConfig
from gil.files import resource, write_atomic

CONFIG_DIR = resource("configs")


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
