"""Building a :class:`~gil.config.schema.RunConfig` from YAML, a nested dict or dotted overrides, and saving it.

Values are converted to the annotated types or refused naming the dotted key; unknown keys list the known ones; a
renamed key (``data.p``, now ``data.identities``) is an error naming its new key, not a silent alias. YAML is read
safely with YAML 1.2 floats (``1e-4`` is a number). Bundled configs come from the installed package.
"""

from __future__ import annotations

import copy
import dataclasses
import json
import math
import re
import types
import typing
from collections.abc import Mapping
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Any

import yaml

from gil.config.schema import LossConfig, ModelConfig, RunConfig
from gil.files import resource, write_atomic
from gil.losses.registry import TERMS, LossTerm

CONFIG_DIR = resource("configs")
_MODEL_DEFAULT = next(f.default for f in dataclasses.fields(ModelConfig) if f.name == "name")  # a YAML without one


def _check(value: Any, annotation: Any, key: str) -> Any:
    """Return ``value`` converted to ``annotation`` or raise naming ``key``."""
    origin = typing.get_origin(annotation)
    if dataclasses.is_dataclass(annotation):
        if not isinstance(value, Mapping):
            raise ValueError(f"config key '{key}': expected a mapping, got {value!r}")
        return _build(annotation, value, key + ".")
    if annotation is Any:
        return value
    if origin in (typing.Union, types.UnionType):  # X | None: a setting whose default follows another setting
        options = [arg for arg in typing.get_args(annotation) if arg is not type(None)]
        if value is None and len(options) < len(typing.get_args(annotation)):
            return None
        if len(options) == 1:
            return _check(value, options[0], key)
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
        if value_type is LossTerm:  # loss.terms: each term's type is its name's (gil.losses.TERMS)
            return {str(k): _term(str(k), v, f"{key}.{k}") for k, v in value.items()}
        return {str(k): _check(v, value_type, f"{key}.{k}") for k, v in value.items()}
    raise TypeError(f"unsupported annotation for '{key}': {annotation}")


def _term(name: str, value: Any, key: str) -> LossTerm:
    if name not in TERMS:
        raise ValueError(f"config key '{key}': unknown loss term '{name}'; known: {', '.join(sorted(TERMS))}")
    if not isinstance(value, Mapping):
        raise ValueError(f"config key '{key}': expected a mapping of the term's settings, got {value!r}")
    return _build(TERMS[name], value, key + ".")


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
    except ValueError as err:  # a loss's settings refusing a value: name the section
        if str(err).startswith(("config key", "unknown config key")):
            raise
        raise ValueError(f"config key '{prefix.rstrip('.')}': {err}") from err


# mappings whose entries an override may remove (KEY.ENTRY=null); a whole section is never removed
REMOVABLE = ("loss.terms", "model.kwargs")


def _merge(base: Mapping[str, Any], update: Mapping[str, Any], path: str = "") -> dict[str, Any]:
    """``base`` with ``update`` merged key by key at every depth (loss terms and their settings included); ``None``
    under a :data:`REMOVABLE` mapping removes that entry."""
    merged = dict(base)
    for key, value in update.items():
        dotted = f"{path}{key}"
        if value is None and path.rstrip(".") in REMOVABLE:
            if key not in merged:
                held = f"{path[:-1]}: {', '.join(map(str, merged)) or 'nothing'}"
                raise ValueError(f"config override '{dotted}=null': there is no '{key}' to remove ({held})")
            del merged[key]
        elif isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = _merge(merged[key], value, dotted + ".")
        elif isinstance(value, Mapping) and dotted in REMOVABLE and key not in merged:  # its removals still checked
            merged[key] = _merge({}, value, dotted + ".")
        else:
            merged[key] = value
    return merged


def _dotted_to_nested(overrides: Mapping[str, Any]) -> dict[str, Any]:
    nested: dict[str, Any] = {}
    for dotted, value in copy.deepcopy(dict(overrides)).items():  # merged below: the caller's mappings stay as given
        parts = dotted.split(".")
        node = nested
        for part in parts[:-1]:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                raise ValueError(f"config override '{dotted}' conflicts with another override")
        if isinstance(node.get(parts[-1]), dict) and isinstance(value, Mapping):
            node[parts[-1]] = _merge(node[parts[-1]], value)
        else:
            node[parts[-1]] = value
    return nested


def _check_term_overrides(values: Mapping[str, Any], overrides: Mapping[str, Any]) -> None:
    """Refuse ``loss.terms.NAME.KEY=…`` when the config has no term ``NAME``: one setting must not add a whole term
    silently (a typo, or a term the config does not have); adding one names it whole, ``loss.terms.NAME={…}``."""
    loss = values.get("loss")
    terms = loss.get("terms") if isinstance(loss, Mapping) and "terms" in loss else LossConfig().terms
    whole = {key.split(".")[2] for key in overrides if key.count(".") == 2 and key.startswith("loss.terms.")}
    for key, value in overrides.items():  # terms added whole by a mapping one level up
        mapping = value.get("terms") if key == "loss" and isinstance(value, Mapping) else value
        if key in ("loss", "loss.terms") and isinstance(mapping, Mapping):
            whole |= set(mapping)
    for key, value in overrides.items():
        parts = key.split(".")
        if len(parts) > 3 and parts[:2] == ["loss", "terms"] and parts[2] not in terms and parts[2] not in whole:
            held = ", ".join(map(str, terms))
            raise ValueError(
                f"config override '{key}': the config has no loss term '{parts[2]}' (its terms: {held}); add the term "
                f"whole with loss.terms.{parts[2]}={{{parts[3]}: {value!r}}}, or fix the name"
            )


def from_dict(values: Mapping[str, Any], overrides: Mapping[str, Any] | None = None) -> RunConfig:
    """Build a config from nested ``values``; ``overrides`` maps dotted keys (``trainer.steps``) to values.

    An override changes exactly the keys it names: a mapping value (``{"loss.terms.gil": {"tau": 0.2}}``) is merged
    key by key, so every other term and setting stays; ``None`` removes a loss term or a ``model.kwargs`` entry
    (``{"loss.terms.ce": None}``); a setting of a term the config lacks is refused (add the term whole).
    """
    overrides = dict(overrides or {})
    _check_term_overrides(values, overrides)
    nested = _dotted_to_nested(overrides)
    merged = _merge(dict(values), {**nested, **_name_following_model(values, nested)})
    return _build(RunConfig, merged)


def _name_following_model(values: Mapping[str, Any], overrides: Mapping[str, Any]) -> dict[str, Any]:
    """``{"name": …}`` with the overridden model's name in place of the config's own, when ``overrides`` (nested)
    change ``model.name`` and not ``name`` and the name holds the old model's as a word: ``tiny-gaitgl-triplet`` with
    ``model.name=gaitbase`` is ``tiny-gaitbase-triplet``, so its run folder (``runs/<name>-<fingerprint>``) is labelled
    by the model it trains. Else ``{}``. The fingerprint leaves ``name`` out: no fingerprint changes."""
    model = overrides.get("model")
    new = model.get("name") if isinstance(model, Mapping) else None
    name = values.get("name")
    if "name" in overrides or not isinstance(new, str) or not isinstance(name, str):
        return {}
    section = values.get("model")
    old = section.get("name", _MODEL_DEFAULT) if isinstance(section, Mapping) else _MODEL_DEFAULT
    if not isinstance(old, str) or old.lower() == new.lower():
        return {}
    renamed = re.sub(rf"(?<![A-Za-z0-9]){re.escape(old)}(?![A-Za-z0-9])", new, name, flags=re.IGNORECASE)
    return {"name": renamed} if renamed != name else {}


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
    if path.is_dir():
        raise ValueError(f"config '{name_or_path}' is a folder; expected a YAML file or a bundled config's name")
    stem = str(name_or_path).removesuffix(".yaml")
    if stem in bundled_configs():
        return CONFIG_DIR.joinpath(*f"{stem}.yaml".split("/"))
    raise FileNotFoundError(f"config '{name_or_path}' not found; bundled configs: {', '.join(bundled_configs())}")


def load(name_or_path: str | Path, overrides: Mapping[str, Any] | None = None) -> RunConfig:
    """Load a YAML config (path or bundled name) with optional dotted overrides."""
    path = find_config(name_or_path)
    try:
        values = load_yaml(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError as err:
        raise ValueError(f"{path}: not a UTF-8 text file ({err.reason} at byte {err.start})") from err
    except yaml.YAMLError as err:
        raise ValueError(f"{path}: not valid YAML: {err}") from err
    if values is None:
        raise ValueError(f"{path}: the file is empty; a config is a mapping of sections (data, model, loss, …)")
    if not isinstance(values, Mapping):
        raise ValueError(f"{path}: expected a mapping of sections at the top level, got a {type(values).__name__}")
    try:
        return from_dict(values, overrides)
    except ValueError as err:
        named = [key for key in overrides or {} if f"'{key}'" in str(err) or f"'{key.rsplit('.', 1)[0]}'" in str(err)]
        source = f"{path} with the override {', '.join(f'{k}={overrides[k]!r}' for k in named)}" if named else path
        raise ValueError(f"{source}: {err}") from err


MAX_ALIASES = 64  # YAML aliases (*name) per document: a config needs few, an expansion bomb many


class _Loader(yaml.SafeLoader):
    """PyYAML's safe loader, made to read a config as a person reads it.

    - YAML 1.2's core schema for plain scalars: ``true``/``false`` are the only booleans (``yes``, ``no``, ``on``,
      ``off`` stay strings), integers are decimal (``010`` is ten; ``0o10``, ``0x1f`` as written), ``1e-4`` is a float
      (YAML 1.1 needs ``1.0e-4``), and ``1_000`` or ``1:30`` are strings (not 1000 and 90);
    - a key repeated in one mapping is an error naming it and its line (YAML 1.1 parsers keep the last silently);
    - at most :data:`MAX_ALIASES` aliases a document.
    """

    def compose_node(self, parent: Any, index: Any) -> Any:
        if self.check_event(yaml.AliasEvent):
            self.aliases = getattr(self, "aliases", 0) + 1
            if self.aliases > MAX_ALIASES:
                mark = self.peek_event().start_mark
                raise yaml.YAMLError(f"more than {MAX_ALIASES} aliases (line {mark.line + 1}); a config needs few")
        return super().compose_node(parent, index)

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[Any] = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=True)
            if key in seen:
                raise yaml.YAMLError(f"key {key!r} appears twice in one mapping (line {key_node.start_mark.line + 1})")
            seen.add(key)
        return super().construct_mapping(node, deep)

    def construct_yaml_int(self, node: yaml.ScalarNode) -> int:
        value = self.construct_scalar(node)
        return int(value, 0) if value.lower().lstrip("+-").startswith(("0o", "0x")) else int(value, 10)


_YAML_1_2 = {  # tag -> the plain scalars YAML 1.2's core schema resolves to it
    "tag:yaml.org,2002:bool": (r"^(?:true|True|TRUE|false|False|FALSE)$", "tTfF"),
    "tag:yaml.org,2002:int": (r"^(?:[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+)$", "-+0123456789"),
    "tag:yaml.org,2002:float": (
        r"^(?:[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$",
        "-+.0123456789",
    ),
}
_Loader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag not in _YAML_1_2]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
for _tag, (_pattern, _first) in _YAML_1_2.items():
    _Loader.add_implicit_resolver(_tag, re.compile(_pattern), list(_first))
_Loader.add_constructor("tag:yaml.org,2002:int", _Loader.construct_yaml_int)


def load_yaml(text: str) -> Any:
    """Parse YAML safely (no objects) as a person reads it (:class:`_Loader`: YAML 1.2 scalars, no repeated keys)."""
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


def dump(config: RunConfig, fmt: str = "yaml") -> str:
    """The effective config as text, every default resolved: the YAML a run folder's ``config.yaml`` holds (and
    ``gil config show`` prints), or the same as JSON."""
    values = config.to_dict()
    if fmt == "json":
        return json.dumps(values, indent=2) + "\n"
    if fmt != "yaml":
        raise ValueError(f"format: expected yaml or json, got {fmt!r}")
    return yaml.safe_dump(values, sort_keys=False)


def save(config: RunConfig, path: str | Path) -> None:
    """Write ``config`` as YAML (:func:`dump`) atomically."""
    write_atomic(path, dump(config))


def changes(before: RunConfig, after: RunConfig) -> list[str]:
    """What ``after`` changes of ``before``, one line a dotted key: ``loss.terms.gil.uniformity_weight: 0.0 -> 0.05``,
    ``loss.terms.ce: removed``, ``loss.terms.triplet: added (weight 1.0, margin 0.3)`` (for a start-of-run summary)."""
    lines: list[str] = []

    def walk(old: Any, new: Any, key: str) -> None:
        if isinstance(old, dict) and isinstance(new, dict):
            for name in [*old, *(k for k in new if k not in old)]:
                dotted = f"{key}.{name}" if key else str(name)
                if name not in new:
                    lines.append(f"{dotted}: removed")
                elif name not in old:
                    lines.append(f"{dotted}: added ({_flat(new[name])})")
                else:
                    walk(old[name], new[name], dotted)
        elif old != new:
            lines.append(f"{key}: {_flat(old)} -> {_flat(new)}")

    walk(before.to_dict(), after.to_dict(), "")
    return lines


def _flat(value: Any) -> str:
    if isinstance(value, dict):
        return ", ".join(f"{k} {_flat(v)}" for k, v in value.items())
    return json.dumps(value)
