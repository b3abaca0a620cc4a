"""Starting a run from another run's or an OpenGait checkpoint's weights, and a finished run asked again (issue #31)."""

from __future__ import annotations

import collections
import json

import pytest
import torch

from gil import config as config_lib
from gil.checkpoints import model_from_config, read_checkpoint
from gil.cli import main
from gil.models import export_opengait_state_dict


def _argv(tiny_root, run, *extra: str) -> list[str]:
    argv = ["train", "--config", "embedded/tiny_triplet", "--data-root", str(tiny_root), "--run-dir", str(run)]
    return [*argv, "--set", "trainer.steps=2", "--set", "trainer.threads=1", "--device", "cpu", *extra]


def test_a_new_run_starts_from_a_finished_runs_weights_and_records_them(tiny_root, tmp_path, monkeypatch, caplog):
    source = tmp_path / "source"
    assert main(_argv(tiny_root, source, "--no-eval")) == 0
    monkeypatch.chdir(tmp_path)  # --init-from is a command-line path: relative to the current directory
    tuned = tmp_path / "tuned"
    with caplog.at_level("INFO"):
        assert main(_argv(tiny_root, tuned, "--no-eval", "--init-from", "source")) == 0
    config = config_lib.load(tuned / "config.yaml")
    assert config.model.init_from == str(source)
    session = json.loads((tuned / "provenance.json").read_text())["sessions"][-1]
    state = read_checkpoint(source / "checkpoints" / "last.pt")
    assert session["init_from"]["format"] == "gil" and session["init_from"]["step"] == 2
    assert session["init_from"]["identity"] == f"gil:{state['fingerprint']}@2"
    assert "initial weights: " in caplog.text

    plain = config_lib.load("embedded/tiny_triplet", {"data.root": str(tiny_root), "trainer.steps": 2})
    assert config.fingerprint() != plain.fingerprint()  # other starting weights: another experiment

    # the weights really are the starting point: the trainer's model before any step equals the source's last
    from gil.train.trainer import Trainer

    trainer = Trainer(config, tmp_path / "probe", progress=False)
    for name, value in trainer.model.state_dict().items():
        assert torch.equal(value.cpu(), state["model"][name]), name


def test_an_opengait_checkpoint_is_a_starting_point_too(tiny_root, tmp_path):
    config = config_lib.load("embedded/tiny_triplet", {"data.root": str(tiny_root), "trainer.steps": 2})
    source = model_from_config(config, 4)
    torch.manual_seed(1)
    for parameter in source.parameters():
        parameter.data.normal_()
    path = tmp_path / "opengait.pt"
    torch.save(
        {
            "model": export_opengait_state_dict(source),
            "scheduler": {"milestones": collections.Counter({10000: 1})},  # what weights_only refuses in gil's reader
            "iteration": 5000,
        },
        path,
    )
    started = config_lib.load(
        "embedded/tiny_triplet", {"data.root": str(tiny_root), "trainer.steps": 2, "model.init_from": str(path)}
    )
    assert started.fingerprint() != config.fingerprint()
    from gil.train.trainer import Trainer

    trainer = Trainer(started, tmp_path / "run", progress=False)
    assert trainer.initial_weights["format"] == "opengait" and trainer.initial_weights["step"] == 5000
    assert trainer.initial_weights["identity"].startswith("sha256:")
    ours = trainer.model.state_dict()
    for name, value in source.state_dict().items():
        assert torch.equal(ours[name].cpu(), value), name


def test_a_missing_or_unfitting_starting_point_is_named(tiny_root, tmp_path, capsys):
    assert main(_argv(tiny_root, tmp_path / "run", "--init-from", str(tmp_path / "nowhere"))) == 2
    assert "model.init_from:" in capsys.readouterr().err and not (tmp_path / "run").exists()
    bad = tmp_path / "bad.pt"
    torch.save({"model": {"x": torch.zeros(1)}}, bad)
    assert main(_argv(tiny_root, tmp_path / "run2", "--init-from", str(bad))) == 2
    assert "model.init_from: " in capsys.readouterr().err
    assert main(_argv(tiny_root, tmp_path / "run3", "--device", "cpu", "--set", "trainer.device=cuda")) == 2
    assert "--device cpu and --set trainer.device=cuda disagree" in capsys.readouterr().err


def test_a_finished_run_asked_again_prints_its_stored_result_and_force_scores_it_again(tiny_root, tmp_path, capsys):
    run = tmp_path / "run"
    assert main(_argv(tiny_root, run)) == 0
    first = capsys.readouterr().out
    stored = (run / "eval.json").read_bytes()
    before = (run / "embeddings.npz").stat().st_mtime_ns
    assert main(_argv(tiny_root, run)) == 0
    again = capsys.readouterr().out
    assert again == first  # the same table, read from eval.json
    assert (run / "embeddings.npz").stat().st_mtime_ns == before and (run / "eval.json").read_bytes() == stored
    sessions = json.loads((run / "provenance.json").read_text())["sessions"]
    assert len(sessions) == 1  # no training session was opened

    assert main([*_argv(tiny_root, run), "--force"]) == 0
    assert (run / "embeddings.npz").stat().st_mtime_ns != before
    assert capsys.readouterr().out.splitlines()[-3:] == first.splitlines()[-3:]


@pytest.mark.parametrize("option", ["--init-from", "--device", "--force"])
def test_the_train_help_names_the_new_options(option, capsys):
    with pytest.raises(SystemExit):
        main(["train", "--help"])
    assert option in capsys.readouterr().out
