"""Learning curves (#17 item 5): snapshots scored on the test identities, merged files, the paired gap per step."""

from __future__ import annotations

import json
import re

import numpy as np
import pandas as pd
import pytest

from gil import cli
from gil.experiments import curves, study


def test_a_curve_cell_is_the_study_cell_with_a_longer_budget_and_scaled_milestones():
    cell, longer = study.variant_config("gil_margin", 1), curves.curve_config("gil_margin", 1)
    assert (cell.trainer.steps, cell.resolved_schedule().milestones) == (300, (250,))
    longer_schedule = longer.resolved_schedule()
    assert (longer.trainer.steps, longer_schedule.milestones, longer.trainer.snapshot_every) == (900, (750,), 100)
    a, b = cell.to_dict(), longer.to_dict()
    # the schedule is written for 300 steps in both: the longer run scales it itself
    assert {k for k in a if a[k] != b[k]} == {"name", "trainer"} and longer.name == "curve-gil_margin"


def test_every_snapshot_is_scored_and_the_last_is_the_final_model(tiny_cli_options, tmp_path, capsys):
    out = tmp_path / "out"
    argv = ["curves", *tiny_cli_options, "--out", str(out), "--steps", "4", "--snapshot-every", "2"]
    argv += ["--variant", "triplet", "--variant", "gil_margin", "--seed", "0"]
    assert cli.main(argv) == 0
    frame = pd.read_csv(out / "curves.csv")
    assert list(frame.columns) == curves.CURVE_COLUMNS and len(frame) == 2 * 2 * 3
    assert set(frame["step"]) == {2, 4} and set(frame["variant"]) == {"triplet", "gil_margin"}
    run = next((tmp_path / "runs").glob("curve-gil_margin-*"))
    final = json.loads((run / "eval.json").read_text())["summary"]
    last = frame[(frame["variant"] == "gil_margin") & (frame["step"] == 4)].set_index("condition")["rank1"]
    assert last.to_dict() == pytest.approx(final, abs=1e-4)
    assert "gil_margin - triplet (paired over seeds)" in capsys.readouterr().out
    cells = json.loads((out / "curves.json").read_text())["cells"]
    assert [(c["variant"], c["seed"]) for c in cells] == [("triplet", 0), ("gil_margin", 0)]

    # issue #30: a cell with another budget is refused before any training, naming the file and both settings
    before = (out / "curves.json").read_bytes()
    capsys.readouterr()
    assert cli.main([*argv[:-6], "--steps", "6", "--seed", "1"]) == 2
    message = (r"curves.json: its cells were made with other settings \(steps: the "
                       r"file's 4, this call's 6\)")  # fmt: skip
    assert re.search(message, capsys.readouterr().err)
    assert (out / "curves.json").read_bytes() == before and len(list((tmp_path / "runs").iterdir())) == 2


def test_the_gap_is_paired_within_backbone_seed_and_step():
    rows = []
    for seed, (b, g) in enumerate([(50, 53), (52, 54), (48, 52)]):
        for step, shift in ((100, 0.0), (200, 10.0)):
            rows.append(
                dict(backbone="gaitgl", variant="triplet", seed=seed, step=step, condition="NM", rank1=b + shift)
            )
            rows.append(dict(backbone="gaitgl", variant="gil_margin", seed=seed, step=step, condition="NM",
                             rank1=g + shift))  # fmt: skip
    gap = curves.gap_by_step(pd.DataFrame(rows).assign(map=np.nan), "gil_margin").set_index("step")
    assert gap["gap"].to_dict() == pytest.approx({100: 3.0, 200: 3.0})
    assert (gap["seeds"] == 3).all() and (gap["lo"] < 3.0).all() and (gap["hi"] > 3.0).all()


def test_a_run_without_snapshots_is_named(tmp_path):
    (tmp_path / "checkpoints").mkdir()
    with pytest.raises(FileNotFoundError, match="no step-\\*.pt snapshots"):
        curves.snapshot_rows(curves.curve_config("triplet", 0), "triplet", tmp_path)


def _curve_rows(gaps: dict[tuple[int, str], list[float]]) -> pd.DataFrame:
    """Triplet at 50 points everywhere, gil_margin at 50 + the listed per-seed gap at each (step, condition)."""
    rows = []
    for (step, condition), per_seed in gaps.items():
        for seed, gap in enumerate(per_seed):
            key = dict(backbone="gaitgl", seed=seed, step=step, condition=condition, map=np.nan)
            rows += [dict(key, variant="triplet", rank1=50.0), dict(key, variant="gil_margin", rank1=50.0 + gap)]
    return pd.DataFrame(rows)


def test_the_verdict_per_step_says_helps_hurts_or_cannot_be_told_apart_per_condition():
    frame = _curve_rows({
        (100, "CL"): [1.0, -1.0, 0.5], (100, "NM"): [-2.0, -3.0, -2.5], (100, "BG"): [-2.0, -3.0, -2.5],
        (200, "NM"): [2.0, 3.0, 2.5], (200, "BG"): [-1.0, 1.0, 0.2], (200, "CL"): [4.0, 5.0, 4.5],
    })  # fmt: skip
    words = curves.verdict_by_step(frame).set_index("step")["verdict"].to_dict()
    assert words == {100: "hurts on NM, BG; cannot be told apart on CL",
                     200: "helps on NM, CL; cannot be told apart on BG"}  # fmt: skip
    only_last = curves.verdict_by_step(frame, steps=[200])
    assert only_last[["backbone", "variant", "step"]].to_dict("records") == [
        {"backbone": "gaitgl", "variant": "gil_margin", "step": 200}
    ]


def test_the_verdict_per_step_with_one_seed_says_so():
    words = curves.verdict_by_step(_curve_rows({(100, "NM"): [3.0]}))
    assert words["verdict"].tolist() == ["too few seeds on NM"]
