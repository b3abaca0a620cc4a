"""The noise split (issue #27, item 1): training (seed) against evaluation (test identities) noise of the paired
differences, from each checkpoint scored on the study's test identities and on a second twin's."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from gil import cli
from gil.experiments import noise


def _rows(values: dict[tuple[str, int], tuple[float, float]]) -> pd.DataFrame:
    return pd.DataFrame(
        [
            {"backbone": "gaitgl", "variant": v, "seed": s, "condition": "NM", "rank1_a": a, "rank1_b": b}
            for (v, s), (a, b) in values.items()
        ]
    )


def test_the_split_against_a_hand_computation():
    # triplet 50 everywhere; GIL's paired differences d_A = (1, 3, 5), d_B = (2, 2, 6)
    cells = {("triplet", s): (50.0, 50.0) for s in range(3)}
    cells |= {("gil_margin", 0): (51.0, 52.0), ("gil_margin", 1): (53.0, 52.0), ("gil_margin", 2): (55.0, 56.0)}
    (row,) = noise.variance_split(_rows(cells)).to_dict("records")
    assert row["seeds"] == 3
    assert row["var_total"] == pytest.approx(4.0)  # var(1, 3, 5)
    assert row["var_eval"] == pytest.approx((1 + 1 + 1) / 3 / 2)  # mean (d_A - d_B)^2 / 2
    assert row["var_train"] == pytest.approx(3.5)
    assert row["half_width"] == pytest.approx(4.302653 * np.sqrt(4.0 / 3), rel=1e-5)  # today's t-interval


def test_the_plan_says_what_more_seeds_and_more_identities_each_buy():
    assert noise.planned_half_width(2.0, 6.0, 3, 1) == pytest.approx(4.302653 * np.sqrt(8 / 3), rel=1e-5)
    assert noise.planned_half_width(2.0, 6.0, 3, 4) == pytest.approx(4.302653 * np.sqrt(3.5 / 3), rel=1e-5)
    assert np.isnan(noise.planned_half_width(2.0, 6.0, 1, 1))
    split = pd.DataFrame([{"backbone": "gaitgl", "variant": "gil_margin", "condition": "NM", "var_train": -1.0,
                           "var_eval": 6.0}])  # fmt: skip
    table = noise.plan(split, seeds=(3, 8), factors=(1, 4)).set_index(["seeds", "identities"])["half_width"]
    assert table[(3, "1×")] == pytest.approx(4.302653 * np.sqrt(6 / 3), rel=1e-5)  # a negative share counts as 0
    assert table[(8, "4×")] < table[(8, "1×")] < table[(3, "1×")]


def test_cells_score_each_checkpoint_on_both_twins_and_refuse_the_same_people(tiny_root, tiny_cli_options, tmp_path,
                                                                              capsys):  # fmt: skip
    from gil.data.syngait import generate

    twin = generate("tiny", tmp_path / "twin", seed=2, workers=1, progress=False)
    out = tmp_path / "out"
    argv = ["noise", *tiny_cli_options, "--out", str(out), "--twin", str(twin), "--backbone", "gaitgl", "--seed", "0"]
    argv += ["--seed", "1", "--variant", "triplet", "--variant", "gil_margin"]
    assert cli.main(argv) == 0
    frame = pd.read_csv(out / "noise.csv")
    assert list(frame.columns) == noise.NOISE_COLUMNS and len(frame) == 2 * 2 * 3
    meta = json.loads((out / "noise.json").read_text())
    for cell in meta["cells"]:  # twin A's numbers are the run's own evaluation
        summary = json.loads((tmp_path / "runs" / cell["run"] / "eval.json").read_text())["summary"]
        rows = frame[(frame["variant"] == cell["variant"]) & (frame["seed"] == cell["seed"])]
        assert rows.set_index("condition")["rank1_a"].to_dict() == pytest.approx(summary, abs=1e-4)
    assert not np.allclose(frame["rank1_a"], frame["rank1_b"])  # other people, other numbers
    assert meta["second_twin"]["seed"] == 2 and len(meta["cells"]) == 4
    assert all(cell["eval_b_s"] > 0 for cell in meta["cells"])
    assert "var_eval" in capsys.readouterr().out

    capsys.readouterr()
    same_people = [*argv[: argv.index("--twin") + 1], str(tiny_root), *argv[argv.index("--twin") + 2 :]]
    assert cli.main(same_people) == 2
    assert "a second twin must be the study data's preset with another seed" in capsys.readouterr().err
