"""Optional parts of gil and the extra that installs each: a missing one is an error naming its ``pip install`` line.

The core (``pip install gil-gait``) holds the loss, the backbones, the data, the trainer and the evaluator. Figures,
the study's statistics, TensorBoard logs, the notebooks, the book and the pytorch-metric-learning adapter need more.
"""

from __future__ import annotations

import importlib
from types import ModuleType

DISTRIBUTION = "gil-gait"  # `pip install gil-gait`; the import name is `gil`

# extra -> what it adds (the README's table says the same)
EXTRAS = {
    "plots": "figures (gil.plots): matplotlib, seaborn",
    "tensorboard": "TensorBoard logs beside metrics.csv",
    "study": "gil study / select / curves / calibrate statistics: scipy",
    "pml": "gil.integrations.pml: pytorch-metric-learning",
    "notebooks": "the notebooks under papermill or JupyterLab (plots, study and tensorboard included)",
    "book": "building the book (notebooks included)",
    "all": "everything above",
}


class MissingExtra(ModuleNotFoundError):
    """An optional package is not installed; the message names the ``pip install`` line that adds it."""


def install_line(extra: str) -> str:
    return f'pip install "{DISTRIBUTION}[{extra}]"'


def require(module: str, extra: str, needed_for: str) -> ModuleType:
    """``import module``, or :class:`MissingExtra` naming ``needed_for`` and the extra's ``pip install`` line."""
    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as err:
        top = module.split(".")[0]
        if err.name is None or err.name.split(".")[0] != top:  # the package is there but itself lacks something
            raise
        raise MissingExtra(
            f"{needed_for} needs {top}, which is not installed: {install_line(extra)}", name=err.name
        ) from None
