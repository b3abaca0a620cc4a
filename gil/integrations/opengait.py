"""GIL as an OpenGait loss: the interface of OpenGait's ``BaseLoss``, without importing OpenGait.

OpenGait builds each entry of ``loss_cfg`` as ``Loss(**args)`` (the constructor's named arguments taken from the
entry), calls ``loss(embeddings=[n, c, p], labels=[n])`` and adds ``loss.mean() * loss.loss_term_weight``; the
``info`` dict's tensors are logged as ``scalar/<log_prefix>/<name>``. OpenGait's own metric losses gather the batch
across GPUs with ``gather_and_scale_wrapper`` (all-gather, then the loss × world size). This class does not use that
wrapper: the core loss gathers the batch itself (:mod:`gil.losses.gather`, its backward returns world size × the
local gradient, which DDP's average turns into the full-batch gradient) — wrapping it again would gather twice.

``gil opengait install OPENGAIT_ROOT`` writes a two-line module into ``opengait/modeling/losses/`` (OpenGait imports
every module there), so ``type: GeneralizedInterClassLoss`` works in a config; ready ``loss_cfg`` sections for
GaitSet, GaitPart, GaitGL and GaitBase are in ``gil/integrations/opengait_configs/`` (:func:`loss_cfg_snippets`).
"""

from __future__ import annotations

import dataclasses
import inspect
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from gil.losses import gil as core
from gil.losses.gil import GILConfig

MODULE_NAME = "gil_loss.py"  # the module `install` writes into OPENGAIT_ROOT/opengait/modeling/losses/
MARKER = "# written by `gil opengait install`"
MODULE_TEXT = f"""{MARKER}; `gil opengait uninstall` removes it
from gil.integrations.opengait import GeneralizedInterClassLoss  # noqa: F401
"""


class GeneralizedInterClassLoss(nn.Module):
    """GIL with OpenGait's loss interface: ``forward(embeddings [n, c, p], labels [n]) -> (loss, info)``.

    Arguments: ``loss_term_weight`` (OpenGait's), ``empty_batch``, and :class:`gil.losses.gil.GILConfig`'s fields
    as keywords. OpenGait passes a constructor only the names ``inspect.getfullargspec`` lists, so the signature
    below lists them all (built from GILConfig's fields, defaults included, not written out again). A batch
    without a valid pair gives a zero loss with a zero gradient (``empty_batch="zero"``, as OpenGait's losses
    behave); ``empty_batch="raise"`` refuses it. ``info`` holds detached tensors, as OpenGait's losses return.
    """

    def __init__(self, loss_term_weight: float = 1.0, *, empty_batch: str = "zero", **settings: Any) -> None:
        super().__init__()
        self.loss_term_weight = float(loss_term_weight)
        self.loss = core.GeneralizedInterClassLoss(**settings, layout="ncp", empty_batch=empty_batch)

    def forward(self, embeddings: Tensor, labels: Tensor) -> tuple[Tensor, dict[str, Tensor]]:
        if embeddings.dim() != 3:
            raise ValueError(
                f"GeneralizedInterClassLoss (OpenGait): embeddings must be OpenGait's [n, c, p], got shape "
                f"{tuple(embeddings.shape)}"
            )
        loss, info = self.loss(embeddings, labels)
        return loss, {name: torch.tensor(value) for name, value in info.items()}


def _opengait_signature() -> inspect.Signature:
    """``(self, loss_term_weight=1.0, <GILConfig's fields with their defaults>, empty_batch="zero")``."""
    keyword = inspect.Parameter.POSITIONAL_OR_KEYWORD
    own = inspect.signature(GeneralizedInterClassLoss.__init__).parameters
    fields = [inspect.Parameter(f.name, keyword, default=f.default) for f in dataclasses.fields(GILConfig)]
    return inspect.Signature([own["self"], own["loss_term_weight"], *fields, own["empty_batch"].replace(kind=keyword)])


GeneralizedInterClassLoss.__init__.__signature__ = _opengait_signature()


def loss_cfg_snippets() -> dict[str, str]:
    """``{name: YAML text}`` of the shipped ``loss_cfg`` sections (``gaitgl_gil_margin``, …), from the package."""
    from gil.files import resource

    folder = resource("integrations", "opengait_configs")
    return {
        item.name.removesuffix(".yaml"): item.read_text() for item in folder.iterdir() if item.name.endswith(".yaml")
    }


def losses_folder(opengait_root: str | Path) -> Path:
    """``OPENGAIT_ROOT/opengait/modeling/losses``, or an error saying what an OpenGait checkout holds."""
    folder = Path(opengait_root).expanduser().resolve() / "opengait" / "modeling" / "losses"
    if not (folder / "base.py").is_file():
        raise FileNotFoundError(
            f"{opengait_root}: not an OpenGait checkout (expected {folder / 'base.py'}; pass the folder that holds "
            "opengait/, configs/ and datasets/)"
        )
    return folder


def install(opengait_root: str | Path) -> tuple[Path, bool]:
    """Write the loss module into OpenGait; returns ``(path, changed)`` (``changed`` False when already there)."""
    from gil.files import write_atomic

    path = losses_folder(opengait_root) / MODULE_NAME
    if path.is_file():
        text = path.read_text()
        if text == MODULE_TEXT:
            return path, False
        if MARKER not in text:
            raise FileExistsError(f"{path}: exists and was not written by `gil opengait install`; left as it is")
    write_atomic(path, MODULE_TEXT)
    return path, True


def uninstall(opengait_root: str | Path) -> tuple[Path, bool]:
    """Remove the module :func:`install` wrote; returns ``(path, changed)``. Another file of that name is kept."""
    path = losses_folder(opengait_root) / MODULE_NAME
    if not path.is_file():
        return path, False
    if MARKER not in path.read_text():
        raise FileExistsError(f"{path}: was not written by `gil opengait install`; left as it is")
    path.unlink()
    return path, True
