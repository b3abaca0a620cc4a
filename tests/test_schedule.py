"""The learning-rate schedule follows the run (issue #31): milestones written for one length scale with trainer.steps,
absolute ones (OpenGait's iterations) must fall inside the run, and the resolved schedule is printed and recorded."""

from __future__ import annotations

import csv
import json

import pytest
import torch

from gil import config as config_lib
from gil.cli import main
from gil.train.optim import build_scheduler


def _rates(config) -> list[float]:
    """The learning rate of each step of a run of ``config`` (step 1 first)."""
    optimizer = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=config.optim.lr)
    scheduler = build_scheduler(config, optimizer)
    rates = []
    for _ in range(config.trainer.steps):
        rates.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        scheduler.step()
    return rates


def test_fifty_steps_of_a_config_written_for_four_drop_the_rate_at_the_same_point_of_the_run():
    written = config_lib.load("embedded/tiny_gil_margin")
    assert (written.trainer.steps, written.schedule.milestones, written.schedule.written_for_steps) == (4, (3,), 4)
    lr = written.optim.lr
    assert _rates(written) == pytest.approx([lr] * 3 + [lr / 10])

    longer = config_lib.load("embedded/tiny_gil_margin", {"trainer.steps": 50})
    assert longer.resolved_schedule().milestones == (38,)  # 3/4 of 50 = 37.5, rounded
    rates = _rates(longer)
    assert rates == pytest.approx([lr] * 38 + [lr / 10] * 12)  # today's code dropped after step 3: 47 steps at lr/10


def test_warm_up_scales_too_and_an_unscaled_config_keeps_its_steps():
    paper = config_lib.load("casia-b/gaitgl_authors")  # warm-up of 2,000 of 80,000 steps, then cosine
    assert paper.resolved_schedule().warmup_steps == 2000
    short = config_lib.load("casia-b/gaitgl_authors", {"trainer.steps": 800})
    assert short.resolved_schedule().warmup_steps == 20
    rates = _rates(short)
    assert rates[0] == pytest.approx(paper.optim.lr / 20) and rates[20] == pytest.approx(paper.optim.lr)
    assert rates[:21] == sorted(rates[:21]) and rates[20:] == sorted(rates[20:], reverse=True)  # ramp, then decay


def test_absolute_steps_stay_expressible_and_must_fall_inside_the_run():
    absolute = {"schedule.written_for_steps": None, "schedule.milestones": [100], "trainer.steps": 150}
    config = config_lib.load("embedded/tiny_triplet", absolute)
    assert config.resolved_schedule().milestones == (100,) and config.resolved_schedule().scale is None
    with pytest.raises(ValueError, match=r"'schedule.milestones': expected steps before the end of the run "
                       r"\(trainer.steps = 50; .*got \[100\]"):  # fmt: skip
        config_lib.load("embedded/tiny_triplet", {**absolute, "trainer.steps": 50})
    with pytest.raises(ValueError, match=r"'schedule.written_for_steps': expected an integer >= 1 or null, got 0"):
        config_lib.load("embedded/tiny_triplet", {"schedule.written_for_steps": 0})


def test_the_fingerprint_counts_the_steps_the_run_follows_not_how_they_are_written():
    scaled = config_lib.load("embedded/tiny_triplet", {"trainer.steps": 8})  # milestone 3 of 4 -> 6 of 8
    absolute = config_lib.load(
        "embedded/tiny_triplet", {"trainer.steps": 8, "schedule.written_for_steps": None, "schedule.milestones": [6]}
    )
    assert scaled.fingerprint() == absolute.fingerprint()
    other = config_lib.load(
        "embedded/tiny_triplet", {"trainer.steps": 8, "schedule.written_for_steps": None, "schedule.milestones": [3]}
    )
    assert other.fingerprint() != scaled.fingerprint()


def test_a_run_prints_records_and_follows_its_resolved_schedule(tiny_root, tmp_path, caplog, capsys):
    run = tmp_path / "run"
    argv = ["train", "--config", "embedded/tiny_gil_margin", "--data-root", str(tiny_root), "--run-dir", str(run)]
    argv += ["--set", "trainer.steps=8", "--set", "trainer.threads=1", "--set", "trainer.device=cpu", "--no-eval"]
    with caplog.at_level("INFO"):
        assert main(argv) == 0
    said = "schedule: multistep, lr 0.001, ×0.1 at step 6 of 8 (the config's steps scaled ×2 to this run's length)"
    assert said in caplog.text
    session = json.loads((run / "provenance.json").read_text())["sessions"][-1]
    assert session["schedule"]["milestones"] == [6] and session["schedule"]["scale"] == 2
    with open(run / "metrics.csv", newline="") as handle:
        rates = {int(row["step"]): float(row["lr"]) for row in csv.DictReader(handle)}
    # metrics.csv's lr is the rate after the step's scheduler update: it drops once 6 steps are done
    assert rates == pytest.approx({s: 0.001 if s < 6 else 0.0001 for s in range(1, 9)})

    assert main(["config", "show", "embedded/tiny_gil_margin", "--set", "trainer.steps=8"]) == 0
    assert "# schedule: multistep, lr 0.001, ×0.1 at step 6 of 8" in capsys.readouterr().err
