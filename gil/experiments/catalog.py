"""What the reproduction's commands offer to run, by name: the backbones, the study's variants and base config, the
selection's candidates, the learning curves' budget, the calibration's models.

They live here, in a module that imports nothing heavy, so that ``gil --help`` (and every sub-command's parser) lists
them without loading torch or pandas; the modules that run them (:mod:`~gil.experiments.params`,
:mod:`~gil.experiments.study`, :mod:`~gil.experiments.selection`, :mod:`~gil.experiments.curves`,
:mod:`~gil.experiments.calibration`) import them from here and re-export them, so each is written once.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from gil.config import LossConfig

BACKBONES = ("gaitset", "gaitpart", "gaitgl", "gaitbase")

# the study (gil.experiments.study)
BASE_CONFIG = "embedded/small_triplet"


@dataclass(frozen=True)
class LossOf:
    """A variant's loss: the ``loss`` section of a bundled config, with ``overrides`` of its terms (dotted keys under
    ``loss.``) — read from the YAML, never copied, so a variant and its config cannot drift apart."""

    config: str
    overrides: Mapping[str, Any] = field(default_factory=dict)

    def loss(self) -> LossConfig:
        from gil import config as config_lib  # here: naming a variant must not load torch (gil.config does)

        outside = [key for key in self.overrides if not key.startswith("loss.")]
        if outside:
            raise ValueError(f"a variant's loss overrides keys under 'loss.' only, got {outside[0]!r}")
        return config_lib.load(self.config, dict(self.overrides)).loss


_FIRST = "embedded/small_gil_margin_first"  # the first reconstruction: λ_u = 0.1, which collapses GaitSet and GaitPart
VARIANTS: dict[str, LossOf] = {
    "triplet": LossOf("embedded/small_triplet"),
    "gil_margin": LossOf("embedded/small_gil_margin"),  # λ_u 0.01, chosen on validation identities (selection.py)
    "gil_softmax": LossOf("embedded/small_gil_softmax"),
    "gil_margin_first": LossOf(_FIRST),
    # the first reconstruction's ablations: one term off at a time (λ_u = 0 is the same for both reconstructions)
    "gil_margin_first-no_pair_weights": LossOf(_FIRST, {"loss.terms.gil.pair_weight": "none"}),
    "gil_margin_first-fixed_margin": LossOf(_FIRST, {"loss.terms.gil.margin": "fixed"}),
    "gil_margin-no_uniformity": LossOf("embedded/small_gil_margin", {"loss.terms.gil.uniformity_weight": 0.0}),
    # the authors' recipes on the study's budget; the PR one needs a backbone with BNNeck logits (GaitGL, GaitBase)
    "authors_triplet": LossOf("casia-b/gaitgl_authors"),
    "authors_pr": LossOf("casia-b/gaitgl_authors_pr"),
}

# the noise split (gil.experiments.noise): the study data's preset with another seed (seed 1 is the validation twin)
SECOND_TWIN_SEED = 2
SECOND_TWIN_ROOT = "data/syngait-small-seed2"

# the selection of GIL's default margin form (gil.experiments.selection, whose docstring describes each candidate)
VALIDATION_ROOT = "data/syngait-small-val"
SELECTION_BACKBONES = ("gaitset", "gaitpart", "gaitgl")  # the backbones the rule decided on
# backbones that joined the study after the decision: the chosen default is checked on their validation identities
# (does it collapse there?) with the same cells and the same collapse criterion, never re-decided on them alone
CHECKED_BACKBONES = ("gaitbase",)
CANDIDATES: dict[str, LossOf] = {
    "triplet": VARIANTS["triplet"],
    "first": VARIANTS["gil_margin_first"],
    "lambda_0.01": LossOf(_FIRST, {"loss.terms.gil.uniformity_weight": 0.01}),
    "norm_scaled": LossOf(_FIRST, {"loss.terms.gil.uniformity_scale": "norm"}),
    "sphere": LossOf(_FIRST, {"loss.terms.gil.metric_space": "sphere"}),
}

# the learning curves (gil.experiments.curves)
CURVE_STEPS = 900
SNAPSHOT_EVERY = 100

# the calibration (gil.experiments.calibration)
TRAINED_MODELS = ("sequence", "single_frame")
CUES = ("cue_area", "cue_width", "cue_gei")
CALIBRATION_MODELS = TRAINED_MODELS + CUES
