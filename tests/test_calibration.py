import json

import numpy as np
import pandas as pd
import pytest

from gil.cli import main
from gil.experiments import calibration


class _Frames:
    """A dataset of hand-built sequences: ``ds[i]`` -> uint8 ``[s, 64, 64]``."""

    def __init__(self, sequences):
        self.sequences = sequences

    def __len__(self):
        return len(self.sequences)

    def __getitem__(self, i):
        return self.sequences[i]


def _box(rows: slice, cols: slice, frames: int = 4) -> np.ndarray:
    x = np.zeros((frames, 64, 64), np.uint8)
    x[:, rows, cols] = 255
    return x


def test_cues_measure_area_width_and_the_mean_silhouette():
    # 64x64 frames lose 10 columns a side (-> 64x44); a box of 32 rows x 11 columns sits inside the crop
    box = _box(slice(0, 32), slice(20, 31))
    data = _Frames([box, np.zeros_like(box)])
    area = calibration.cue_embeddings(data, "cue_area", (64, 44))
    width = calibration.cue_embeddings(data, "cue_width", (64, 44))
    gei = calibration.cue_embeddings(data, "cue_gei", (32, 22))
    assert area.shape == width.shape == (2, 1, 1)
    assert area[0, 0, 0] == pytest.approx(32 * 11 / (64 * 44))
    assert width[0, 0, 0] == pytest.approx(11 / 44)
    assert area[1, 0, 0] == width[1, 0, 0] == 0.0
    assert gei.shape == (2, 1, 32 * 22) and gei[0].max() == pytest.approx(1.0) and gei[1].max() == 0.0


def test_unknown_cue_and_model_are_named():
    with pytest.raises(ValueError, match="cue_area"):
        calibration.cue_embeddings(_Frames([]), "cue_height")
    with pytest.raises(ValueError, match="single_frame"):
        calibration.run_calibration(models=["frames"])


def test_calibration_cli_writes_rows_for_trained_models_and_cues(tiny_cli_options, tmp_path):
    out = tmp_path / "study"
    args = ["calibrate", "--out", str(out), *tiny_cli_options]
    assert main([*args, "--seed", "0", "--model", "single_frame", "--model", "sequence", "--model", "cue_area"]) == 0
    frame = calibration.load_calibration(out)
    assert list(frame.columns) == calibration.CALIBRATION_COLUMNS
    assert set(frame["model"]) == {"single_frame", "sequence", "cue_area"}
    assert frame.loc[frame["model"] == "cue_area", "seed"].isna().all()
    views = set(frame["view"]) - {"mean"}
    assert len(views) == 11 and set(frame["condition"]) == {"NM", "BG", "CL"}
    # rerunning one model replaces its rows and keeps the others
    assert main([*args, "--model", "cue_area"]) == 0
    again = calibration.load_calibration(out)
    assert len(again) == len(frame)
    pd.testing.assert_frame_equal(
        again[again["model"] == "cue_area"].reset_index(drop=True),
        frame[frame["model"] == "cue_area"].reset_index(drop=True),
    )
    provenance = json.loads((out / "provenance.json").read_text())
    runs = {e["model"]: e.get("run", "") for e in provenance["calibration"]}
    assert runs["single_frame"].startswith("calibration-single_frame-") and runs["sequence"].startswith(
        "study-triplet-"
    )
    table = calibration.summarize(again)
    assert list(table.columns) == ["NM", "BG", "CL", "trained seeds"] and table.loc["sequence", "trained seeds"] == 1
    assert list(calibration.per_view(again).index) == [f"{v:03d}" for v in range(0, 181, 18)]
    checks = calibration.criteria(again)
    assert {"met", "measured", "target"} <= set(checks.columns) and len(checks) == 6  # 4 targets, control, one cue


def _calibration_rows(nm, bg, cl, model="sequence", side=None, ends=None):
    rows = []
    for condition, value in (("NM", nm), ("BG", bg), ("CL", cl)):
        rows.append({"model": model, "seed": 0, "condition": condition, "view": "mean", "rank1": value})
        for v in range(0, 181, 18):
            view = f"{v:03d}"
            shift = (side if view in calibration.SIDE_VIEWS else ends if view in calibration.END_VIEWS else 0) or 0
            rows.append({"model": model, "seed": 0, "condition": condition, "view": view, "rank1": value + shift})
    return rows


def test_criteria_pass_and_fail_on_hand_built_tables():
    good = pd.DataFrame(
        _calibration_rows(80, 70, 60, side=5, ends=-20)
        + _calibration_rows(50, 40, 30, model="single_frame")
        + _calibration_rows(5, 5, 4, model="cue_area")
    )
    assert calibration.criteria(good)["met"].all()
    bad = pd.DataFrame(_calibration_rows(98, 99, 90, side=-5, ends=10) + _calibration_rows(95, 90, 85, "single_frame"))
    met = calibration.criteria(bad).set_index("criterion")["met"]
    assert not met.any()  # saturated NM, BG above NM, CL too close, ends easier, control as good as the model
