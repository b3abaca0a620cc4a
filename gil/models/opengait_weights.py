"""OpenGait checkpoints: read them into our models, or write our weights under OpenGait's names.

Each model defines ``opengait_key_rules()``: ``(our key regex, OpenGait key template)`` pairs. A key
of our state dict must fully match exactly one regex; the template (``re.Match.expand`` syntax) names
the OpenGait key. A ``*`` in the template marks a weight that OpenGait keeps per part
(``...conv1d3x1.*.0.conv.weight``) and we keep stacked on dim 0: ``*`` runs over ``0 .. p-1``.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass

import torch
from torch import Tensor, nn

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class LoadReport:
    """What :func:`load_opengait_checkpoint` found; all names are OpenGait keys."""

    loaded: tuple[str, ...]
    missing: tuple[str, ...]  # expected by the model, absent from the file
    unexpected: tuple[str, ...]  # in the file, not used by the model
    mismatched: tuple[str, ...]  # "key: file shape (..) != model shape (..)"
    iteration: int | None  # OpenGait's saved iteration, when present

    @property
    def ok(self) -> bool:
        return not (self.missing or self.unexpected or self.mismatched)


def opengait_key_map(model: nn.Module) -> dict[str, str | tuple[str, ...]]:
    """Our state-dict key -> its OpenGait key, or a tuple of per-part keys stacked on our dim 0."""
    rules_of = getattr(model, "opengait_key_rules", None)
    if rules_of is None:
        raise TypeError(f"{type(model).__name__} has no opengait_key_rules(); it has no OpenGait counterpart")
    rules = [(re.compile(pattern), template) for pattern, template in rules_of()]
    out: dict[str, str | tuple[str, ...]] = {}
    for key, value in model.state_dict().items():
        hits = [(match, template) for regex, template in rules if (match := regex.fullmatch(key))]
        if len(hits) != 1:
            raise KeyError(
                f"{type(model).__name__}: state-dict key {key!r} matches {len(hits)} OpenGait "
                "key rules, expected exactly 1"
            )
        name = hits[0][0].expand(hits[0][1])
        out[key] = tuple(name.replace("*", str(i)) for i in range(value.shape[0])) if "*" in name else name
    return out


def export_opengait_state_dict(model: nn.Module) -> dict[str, Tensor]:
    """Our weights under OpenGait's key names and layouts (the inverse of the loader's map)."""
    state = model.state_dict()
    out: dict[str, Tensor] = {}
    for key, names in opengait_key_map(model).items():
        if isinstance(names, str):
            out[names] = state[key].detach().clone()
        else:  # one OpenGait tensor per part
            out.update({name: part.detach().clone() for name, part in zip(names, state[key], strict=True)})
    return out


def _read_state_dict(path: str | os.PathLike[str]) -> tuple[Mapping[str, Tensor], int | None]:
    if not os.path.isfile(path):
        raise FileNotFoundError(f"OpenGait checkpoint {os.fspath(path)!r} does not exist")
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # pickle and zip errors have no common base class
        raise ValueError(f"{os.fspath(path)}: not a readable torch checkpoint ({err})") from err
    if isinstance(ckpt, Mapping) and "fingerprint" in ckpt:
        raise ValueError(f"{os.fspath(path)}: a gil checkpoint (written by gil train), not OpenGait's; drop --opengait")
    if isinstance(ckpt, Mapping) and isinstance(ckpt.get("model"), Mapping):
        state, iteration = ckpt["model"], ckpt.get("iteration")
    elif isinstance(ckpt, Mapping) and all(isinstance(v, Tensor) for v in ckpt.values()):
        state, iteration = ckpt, None  # a bare state dict
    else:
        raise ValueError(f"{os.fspath(path)}: expected OpenGait's {{'model': state_dict, ...}} or a bare state dict")
    if state and all(k.startswith("module.") for k in state):  # saved from a DDP wrapper
        state = {k.removeprefix("module."): v for k, v in state.items()}
    losses = [k for k in state if k.startswith("loss_aggregator.")]
    if losses:  # parameters of OpenGait losses (none for triplet / CE) are not the model's
        log.info("%s: ignoring %d loss parameters (%s)", os.fspath(path), len(losses), ", ".join(losses))
        state = {k: v for k, v in state.items() if not k.startswith("loss_aggregator.")}
    return state, (int(iteration) if isinstance(iteration, int) else None)


def load_opengait_checkpoint(path: str | os.PathLike[str], model: nn.Module, strict: bool = True) -> LoadReport:
    """Load an OpenGait ``.pt`` checkpoint into ``model`` (built with the matching registry name).

    Reads with ``torch.load(..., weights_only=True)`` on CPU; maps OpenGait keys onto ours with
    :func:`opengait_key_map`. ``strict=True`` raises ``ValueError`` naming every missing, unexpected
    and shape-mismatched key (and both shapes) before changing the model; ``strict=False`` loads
    the keys that fit, logs the rest and returns them in the report.
    """
    state, iteration = _read_state_dict(path)
    ours = model.state_dict()
    new: dict[str, Tensor] = {}
    missing, mismatched, used, loaded = [], [], set(), []
    for key, mapped in opengait_key_map(model).items():
        stacked = not isinstance(mapped, str)
        names = mapped if stacked else (mapped,)
        absent = [n for n in names if n not in state]
        missing += absent
        used.update(n for n in names if n in state)
        if absent:
            continue
        want = ours[key].shape[1:] if stacked else ours[key].shape
        bad = [
            f"{n}: file shape {tuple(state[n].shape)} != model shape {tuple(want)} (our {key})"
            for n in names
            if state[n].shape != want
        ]
        if bad:
            mismatched += bad
            continue
        value = torch.stack([state[n] for n in names]) if stacked else state[names[0]]
        new[key] = value.to(dtype=ours[key].dtype)
        loaded += names
    unexpected = sorted(set(state) - used)
    report = LoadReport(tuple(loaded), tuple(missing), tuple(unexpected), tuple(mismatched), iteration)
    if not report.ok:
        groups = (("missing", report.missing), ("unexpected", report.unexpected), ("shape mismatch", report.mismatched))
        problems = "; ".join(f"{label}: {', '.join(keys)}" for label, keys in groups if keys)
        message = f"{os.fspath(path)} does not fit {type(model).__name__}: {problems}"
        if strict:
            raise ValueError(message)
        log.warning(message)
    model.load_state_dict(new, strict=False)
    return report
