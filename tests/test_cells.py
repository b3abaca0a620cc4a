"""The cell files of ``make study`` (results/study): the time their cells recorded, per stage."""

from __future__ import annotations

import json

import pytest

from gil.experiments import cells


def _write(path, **fields):
    path.write_text(json.dumps(fields))


def test_recorded_hours_add_each_stage_s_training_and_scoring_in_make_study_order(tmp_path):
    _write(tmp_path / "selection.json", cells=[{"wall_s": 3000.0, "eval_s": 600.0}, {"wall_s": 3600.0}])
    _write(tmp_path / "provenance.json", cells=[{"wall_s": 1800.0}, {"wall_s": 0.0, "reused": True}],
           calibration=[{"wall_s": 360.0}])  # fmt: skip
    _write(tmp_path / "curves.json", cells=[{"wall_s": 7200.0, "eval_s": 3600.0}])
    _write(tmp_path / "noise.json", cells=[{"wall_s": 0.0, "reused": True, "eval_b_s": 720.0}])
    table = cells.recorded_hours(tmp_path)
    assert table["stage"].tolist() == ["select", "study", "calibrate", "curves", "noise"]
    assert table["cells"].tolist() == [2, 2, 1, 1, 1]
    assert table["hours"].tolist() == pytest.approx([2.0, 0.5, 0.1, 3.0, 0.2])


def test_recorded_hours_leave_out_stages_without_a_file(tmp_path):
    _write(tmp_path / "curves.json", cells=[{"wall_s": 360.0, "eval_s": 0.0}])
    assert cells.recorded_hours(tmp_path).to_dict("records") == [{"stage": "curves", "cells": 1, "hours": 0.1}]
    assert cells.recorded_hours(tmp_path / "nothing").empty
