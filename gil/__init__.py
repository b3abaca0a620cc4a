"""gil — Generalized Inter-class Loss for Gait Recognition (ACM MM 2022), reproduced.

The library, in pipeline order: :mod:`gil.config` (one YAML per experiment), :mod:`gil.data` (OpenGait pkl
reader, embedded CASIA-B twin, P×K sampler), :mod:`gil.models` (GaitSet, GaitPart, GaitGL, GaitBase),
:mod:`gil.losses` (GIL, triplet, cross-entropy), :mod:`gil.train` (trainer, checkpoints, devices and DDP),
:mod:`gil.evaluate` (embedding extraction, CASIA-B / OU-MVLP protocols), :mod:`gil.metrics` (hypersphere
geometry, margins), :mod:`gil.plots`; :mod:`gil.cli` is the ``gil`` command and :mod:`gil.files` reads the
package's own files and writes atomically. :mod:`gil.experiments` is this reproduction's tooling (the notebooks'
run cache and parameters, the study, the calibration, the toy problem, the paper's numbers, the book builder);
nothing in the library imports it.
"""

from __future__ import annotations

DISTRIBUTIONS = ("gil-gait", "gil")  # the distribution's name, then its name before the rename


def __getattr__(name: str) -> str:
    """``gil.__version__``: the installed distribution's version (``importlib.metadata``, read when asked: importing
    gil stays cheap), ``"unknown"`` when neither name is installed (a bare copy of the sources on the path)."""
    if name != "__version__":
        raise AttributeError(f"module 'gil' has no attribute {name!r}")
    from importlib import metadata

    for distribution in DISTRIBUTIONS:
        try:
            return metadata.version(distribution)
        except metadata.PackageNotFoundError:
            continue
    return "unknown"
