"""Issue #30, cases 10 and 11: entry points that named nothing now name the key, file or parameter."""

from __future__ import annotations

import json

import pytest
import torch

from gil import config as config_lib
from gil.cli import main
from gil.data.partitions import load_partition
from gil.train import train


@pytest.mark.parametrize(
    "overrides,message",
    [
        ({"model.kwargs": {"parts": -1}}, r"'model.kwargs': gaitgl refuses \{'parts': -1\} \(RuntimeError"),
        ({"model.kwargs": {"channels": [4]}}, r"'model.kwargs': gaitgl refuses \{'channels': \[4\]\} \(IndexError"),
        ({"model.kwargs.parts": None}, r"'model.kwargs.parts=null': there is no 'parts' to remove"),
        ({"data.frames": 100_000_000}, r"'data.frames': expected at most 1,000"),
        ({"model.width": 100_000}, r"'model.width': expected at most 16"),
        ({"data.per_identity": 100_000_000}, r"'data.per_identity': expected at most 1,000"),
        ({"trainer.seed": -1}, r"'trainer.seed': expected an integer >= 0"),
        ({"trainer.threads": 99_999_999_999}, r"'trainer.threads': expected at most 4,096"),
    ],
)
def test_model_keywords_and_sizes_are_refused_naming_the_key(overrides, message):
    with pytest.raises(ValueError, match=message):
        config_lib.load("embedded/tiny_triplet", overrides)


@pytest.mark.parametrize(
    "split,message",
    [
        ({"TRAIN_SET": "001002", "TEST_SET": ["003"]}, "TRAIN_SET must be a list of subject ids"),
        ({"TRAIN_SET": ["001"], "TEST_SET": []}, "TEST_SET is empty"),
        ({"TRAIN_SET": ["001", 2], "TEST_SET": ["003"]}, "TRAIN_SET must be a list of subject ids"),
    ],
)
def test_a_partition_file_is_read_as_meant_or_refused_naming_it(tmp_path, split, message):
    path = tmp_path / "split.json"
    path.write_text(json.dumps(split))
    with pytest.raises(ValueError, match=rf"split.json: {message}"):
        load_partition(path)


def _trained(tiny_root, tmp_path):
    config = config_lib.load(
        "embedded/tiny_triplet", {"data.root": str(tiny_root), "trainer.steps": 1, "trainer.threads": 1}
    )
    return train(config, tmp_path / "run", progress=False)


@pytest.mark.parametrize(
    "content,message",
    [
        ({"step": 1, "fingerprint": "x"}, "a dict without 'model'"),
        ([1, 2], "holds a list, not a checkpoint"),
        ({"model": {"a.weight": torch.ones(1)}, "step": 1, "fingerprint": "x"}, "its weights do not fit"),
    ],
)
def test_gil_eval_run_names_a_last_pt_that_is_no_gil_checkpoint(tiny_root, tmp_path, capsys, content, message):
    run = _trained(tiny_root, tmp_path)
    torch.save(content, run / "checkpoints" / "last.pt")
    assert main(["eval", "--run", str(run), "--device", "cpu"]) == 2
    err = capsys.readouterr().err
    assert "last.pt" in err and message in err


def test_checkpoint_folders_and_bad_classifier_sizes_are_named(tiny_root, tmp_path, capsys):
    run = _trained(tiny_root, tmp_path)
    argv = ["eval", "--config", str(run / "config.yaml"), "--device", "cpu"]
    assert main([*argv, "--checkpoint", str(run / "checkpoints")]) == 2
    assert "a folder; expected a checkpoint file" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exit_info:
        main([*argv, "--checkpoint", str(run / "checkpoints" / "last.pt"), "--num-classes", "-3"])
    assert exit_info.value.code == 2 and "expected an integer >= 1, got '-3'" in capsys.readouterr().err


def test_a_run_folder_inside_the_data_root_is_refused(tiny_root, capsys):
    argv = ["train", "--config", "embedded/tiny_triplet", "--data-root", str(tiny_root), "--no-eval"]
    assert main([*argv, "--run-dir", str(tiny_root / "runs" / "r"), "--set", "trainer.steps=1"]) == 2
    assert "lies inside data.root" in capsys.readouterr().err
    assert not (tiny_root / "runs").exists()


def test_a_divergence_before_any_update_does_not_blame_the_learning_rate(tiny_root, tmp_path):
    """Case 11: trainer.amp=bf16 on a CPU can give non-finite gradients at step 1; the advice names the precision."""
    import torch as _torch

    from gil.train import Trainer

    config = config_lib.load("embedded/tiny_triplet", {"data.root": str(tiny_root), "trainer.threads": 1})
    trainer = Trainer(config, tmp_path / "run", progress=False)
    plain = str(trainer._diverged("gradient", ["grad of model.x"]))
    assert "before any update, so the learning rate is not the cause" in plain and "Lower optim.lr" not in plain
    trainer.amp_dtype = _torch.bfloat16
    assert "under bfloat16 autocast (trainer.amp=auto): run in full precision with trainer.amp=off" in str(
        trainer._diverged("gradient", ["grad of model.x"])
    )
    trainer.step = 5
    assert "Lower optim.lr" in str(trainer._diverged("loss", ["term total"]))
