import json

import numpy as np
import pytest
import torch

from gil import config as config_lib
from gil.cli import main
from gil.evaluate.run import evaluate_run
from gil.experiments.runs import get_or_train
from gil.models import build_model, export_opengait_state_dict
from gil.run_folder import load_trained_model


def tiny_config(root, loss="triplet", **overrides):
    values = {"data.root": str(root), "trainer.device": "cpu", "trainer.threads": 1, "trainer.steps": 2}
    values.update(overrides)
    return config_lib.load(f"embedded/tiny_{loss}", values)


@pytest.fixture(scope="module")
def trained_run(tiny_root, tmp_path_factory):
    # runs/ inside a folder of its own: the reuse test below searches the parent, where nothing else may lie
    return get_or_train(tiny_config(tiny_root), runs_root=tmp_path_factory.mktemp("cache") / "runs", progress=False)


def test_get_or_train_writes_a_complete_run_folder(trained_run, tiny_root):
    for name in ("config.yaml", "checkpoints/last.pt", "metrics.csv", "eval.json", "embeddings.npz"):
        assert (trained_run / name).is_file(), name
    report = json.loads((trained_run / "eval.json").read_text())
    assert set(report["summary"]) == {"NM", "BG", "CL"}
    assert all(0.0 <= v <= 100.0 for v in report["summary"].values())
    arrays = np.load(trained_run / "embeddings.npz")
    n = len(arrays["subjects"])
    assert arrays["embeddings"].shape[0] == n == 4 * 10 * 11  # tiny: 4 test subjects × 10 conditions × 11 views
    assert set(arrays["subjects"]) == {"005", "006", "007", "008"}


def test_get_or_train_reuses_a_finished_run(trained_run, tiny_root):
    before = (trained_run / "eval.json").stat().st_mtime_ns
    again = get_or_train(tiny_config(tiny_root), runs_root=trained_run.parent, progress=False)
    assert again == trained_run
    assert (trained_run / "eval.json").stat().st_mtime_ns == before


def test_get_or_train_reuses_the_same_experiment_under_another_name_and_folder(trained_run, tiny_root):
    renamed = tiny_config(tiny_root, name="another-name")
    assert get_or_train(renamed, runs_root=trained_run.parent.parent, progress=False) == trained_run
    other_seed = tiny_config(tiny_root, name="another-name", **{"trainer.seed": 7})
    assert other_seed.fingerprint() not in trained_run.name  # a different experiment is never reused


def test_evaluation_is_reproducible(trained_run):
    first = json.loads((trained_run / "eval.json").read_text())
    again = evaluate_run(trained_run, device="cpu", progress=False)
    assert again["summary"] == first["summary"]


def test_cli_train_and_eval(tiny_root, tmp_path, capsys):
    run_dir = tmp_path / "cli-run"
    code = main(
        [
            "train",
            "--config",
            "embedded/tiny_gil_margin",
            "--data-root",
            str(tiny_root),
            "--run-dir",
            str(run_dir),
            "--set",
            "trainer.steps=2",
            "--set",
            "trainer.device=cpu",
        ]
    )
    assert code == 0
    out = capsys.readouterr().out
    assert "NM" in out and "rank-1 (%)" in out and "mAP (%)" in out
    assert main(["eval", "--run", str(run_dir), "--device", "cpu"]) == 0
    assert "CL" in capsys.readouterr().out


def test_cli_evaluates_an_opengait_checkpoint(trained_run, tiny_root, tmp_path, capsys):
    config = config_lib.load(trained_run / "config.yaml")
    model = load_trained_model(config, trained_run, torch.device("cpu"))
    path = tmp_path / "GaitGL-00002.pt"
    torch.save({"model": export_opengait_state_dict(model), "iteration": 2}, path)
    out = tmp_path / "eval.json"
    code = main(
        [
            "eval",
            "--config",
            str(trained_run / "config.yaml"),
            "--checkpoint",
            str(path),
            "--opengait",
            "--device",
            "cpu",
            "--out",
            str(out),
        ]
    )
    assert code == 0
    ours = json.loads((trained_run / "eval.json").read_text())["summary"]
    assert json.loads(out.read_text())["summary"] == pytest.approx(ours, abs=1e-9)


def test_cli_reports_bad_input_with_exit_code_2(tmp_path, capsys):
    assert main(["train", "--config", "embedded/tiny_triplet", "--data-root", str(tmp_path / "missing")]) == 2
    assert "data.root" in capsys.readouterr().err
    assert main(["train", "--config", "embedded/tiny_triplet", "--set", "trainer.stesp=3"]) == 2
    assert "trainer.stesp" in capsys.readouterr().err
    assert main(["eval"]) == 2


def test_opengait_checkpoint_with_wrong_model_is_named(tmp_path, tiny_root):
    gaitset = build_model("gaitset", 4, width=0.125)
    path = tmp_path / "GaitSet.pt"
    torch.save({"model": export_opengait_state_dict(gaitset)}, path)
    code = main(
        [
            "eval",
            "--config",
            "embedded/tiny_triplet",
            "--data-root",
            str(tiny_root),
            "--checkpoint",
            str(path),
            "--opengait",
            "--device",
            "cpu",
        ]
    )
    assert code == 2


def test_cli_train_run_dir_and_eval_run_name_the_same_relative_folder_from_any_directory(
    tiny_root, tmp_path, monkeypatch, capsys
):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    train_args = ["train", "--config", "embedded/tiny_triplet", "--data-root", str(tiny_root), "--run-dir", "rel"]
    assert main([*train_args, "--set", "trainer.steps=2", "--set", "trainer.device=cpu", "--no-eval"]) == 0
    assert (elsewhere / "rel" / "checkpoints" / "last.pt").is_file()
    assert main(["eval", "--run", "rel", "--device", "cpu"]) == 0
    assert (elsewhere / "rel" / "eval.json").is_file()
    capsys.readouterr()
    assert main(["eval", "--run", "no-such-run", "--device", "cpu"]) == 2
    assert f"run folder not found: {elsewhere / 'no-such-run'}" in capsys.readouterr().err


def test_cli_data_root_is_relative_to_the_current_directory(tiny_root, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tiny_root.parent)
    args = ["train", "--config", "embedded/tiny_triplet", "--data-root", tiny_root.name]
    args += ["--run-dir", str(tmp_path / "r")]
    assert main([*args, "--set", "trainer.steps=1", "--set", "trainer.device=cpu", "--no-eval"]) == 0
    saved = config_lib.load(tmp_path / "r" / "config.yaml")
    assert saved.data.root == str(tiny_root.resolve())  # stored absolute: the run folder works from anywhere


def test_run_folder_records_its_environment_and_the_lock(trained_run):
    from gil.experiments.project import checkout

    record = json.loads((trained_run / "provenance.json").read_text())
    session = record["sessions"][0]
    assert session["start_step"] == 0
    env = session["environment"]
    assert env["torch"] == torch.__version__ and len(env["packages_sha256"]) == 16
    if checkout() is not None and (checkout() / "requirements.lock").is_file():
        assert len(env["lock"]["sha256"]) == 16
        assert isinstance(env["lock"]["matches"], bool)
