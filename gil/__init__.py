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

__version__ = "0.1.0"
