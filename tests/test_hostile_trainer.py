"""Issue #14, the trainer's side: nothing lost (no non-finite checkpoint, no stale result), nothing silent
(every bad config value, device or checkpoint file gets a named error). Case numbers are the issue's."""

import errno
import json
import os

import numpy as np
import pytest
import torch

from gil import cli
from gil import config as config_lib
from gil.checkpoints import read_checkpoint
from gil.evaluate.run import evaluate_run
from gil.run_folder import claim
from gil.train import Trainer, checkpoint, train


def tiny_config(root, config="embedded/tiny_gil_margin", **overrides):
    values = {"data.root": str(root), "trainer.device": "cpu", "trainer.threads": 1}
    values.update(overrides)
    return config_lib.load(config, values)


DIVERGING = {  # case 1: finite loss at step 2, non-finite gradients from it
    "trainer.steps": 40,
    "trainer.checkpoint_every": 1,
    "schedule.name": "constant",
    "optim.name": "adam",
    "optim.lr": 10.0,
}


def all_finite(state):
    return not checkpoint.nonfinite_tensors(state["model"])


# -- 1. a diverging run ----------------------------------------------------------------------------
def test_diverging_run_stops_naming_the_step_and_keeps_the_last_finite_checkpoint(tiny_root, tmp_path):
    run = tmp_path / "run"
    with pytest.raises(FloatingPointError, match=r"step 2: non-finite gradient: grad of model\.") as info:
        train(tiny_config(tiny_root, **DIVERGING), run, progress=False)
    assert "last good state" in str(info.value)
    state = read_checkpoint(run / "checkpoints" / "last.pt")
    assert state["step"] == 1 and all_finite(state)

    # gil eval on it gives the numbers of the model before the divergence: the same as a run stopped at step 1
    before = tmp_path / "before"
    train(tiny_config(tiny_root, **{**DIVERGING, "trainer.steps": 1}), before, progress=False)
    reference = read_checkpoint(before / "checkpoints" / "last.pt")
    for key, tensor in reference["model"].items():
        assert torch.equal(tensor, state["model"][key]), key
    stopped, reference_report = evaluate_run(run, device="cpu", progress=False), evaluate_run(before, device="cpu")
    assert stopped.pop("checkpoint") == {"step": 1, "fingerprint": state["fingerprint"], "finished": False}
    assert reference_report.pop("checkpoint")["finished"] is True
    assert stopped == reference_report


def test_diverging_run_through_the_cli_exits_2_with_the_step(tiny_root, tmp_path, capsys):
    overrides = [f"--set={k}={v}" for k, v in DIVERGING.items()]
    argv = ["train", "--config", "embedded/tiny_gil_margin", "--data-root", str(tiny_root), "--no-eval"]
    code = cli.main([*argv, "--run-dir", str(tmp_path / "run"), "--set=trainer.device=cpu", *overrides])
    assert code == 2
    assert "step 2: non-finite gradient" in capsys.readouterr().err


@pytest.mark.filterwarnings("ignore:Seems like `optimizer.step\\(\\)` has been overridden")
def test_a_non_finite_update_is_never_checkpointed(tiny_root, tmp_path, monkeypatch):
    trainer = Trainer(tiny_config(tiny_root, **{"trainer.steps": 3, "trainer.checkpoint_every": 1}), tmp_path / "r")
    original = trainer.optimizer.step

    def overflowing_step(*args, **kwargs):
        out = original(*args, **kwargs)
        if trainer.step == 1:  # the second update overflows one weight
            next(trainer.model.parameters()).data.view(-1)[0] = float("inf")
        return out

    monkeypatch.setattr(trainer.optimizer, "step", overflowing_step)
    with pytest.raises(FloatingPointError, match=r"step 2: non-finite parameter after the update: model\."):
        trainer.fit()
    assert all_finite(read_checkpoint(trainer.checkpoint_path)) and trainer.step == 1


def test_skip_policy_counts_non_finite_steps_and_trains_on(tiny_root, tmp_path, monkeypatch):
    config = tiny_config(tiny_root, **{"trainer.steps": 4, "trainer.log_every": 1, "trainer.nonfinite": "skip"})
    trainer = Trainer(config, tmp_path / "run", progress=False)
    loss_fn = trainer.loss.forward

    def nan_at_step_2(outputs, labels):
        loss, info = loss_fn(outputs, labels)
        return (loss * float("nan"), info) if trainer.step == 1 else (loss, info)

    monkeypatch.setattr(trainer.loss, "forward", nan_at_step_2)
    before = {k: v.clone() for k, v in trainer.model.state_dict().items()}
    trainer.fit()
    state = read_checkpoint(trainer.checkpoint_path)
    assert state["step"] == 4 and state["skipped"] == 1 and all_finite(state)
    assert any(not torch.equal(before[k], v) for k, v in state["model"].items())
    rows = (tmp_path / "run" / "metrics.csv").read_text().splitlines()
    header = rows[0].split(",")
    skipped = [row.split(",")[header.index("nonfinite_skipped")] for row in rows[1:]]
    assert [float(v) for v in skipped] == [0.0, 1.0, 1.0, 1.0]


def test_the_nonfinite_policy_does_not_change_the_fingerprint(tiny_root):
    assert tiny_config(tiny_root).fingerprint() == tiny_config(tiny_root, **{"trainer.nonfinite": "skip"}).fingerprint()


def test_a_checkpoint_with_a_non_finite_weight_is_refused(tiny_root, tmp_path):
    trainer = Trainer(tiny_config(tiny_root), tmp_path / "run", progress=False)
    trainer.run_dir.mkdir()
    next(trainer.model.parameters()).data.view(-1)[0] = float("nan")
    with pytest.raises(FloatingPointError, match="non-finite the weights to checkpoint: model"):
        trainer.save_checkpoint()
    assert not trainer.checkpoint_path.exists()


# -- 2. a blank sequence (an all-zero embedding in GaitSet) trains without NaN ----------------------
def test_blank_sequences_train_gaitset_with_gil_margin_without_nan(tiny_root, tmp_path):
    import pickle
    import shutil

    from gil.data.opengait import safe_load_pkl

    root = tmp_path / "blank"
    shutil.copytree(tiny_root, root)
    subject = sorted(p.name for p in root.iterdir() if p.is_dir())[0]
    for pkl in (root / subject).rglob("*.pkl"):  # every frame of one training subject blank
        frames = safe_load_pkl(pkl)
        pkl.write_bytes(pickle.dumps(np.zeros_like(frames)))
    overrides = {"model.name": "gaitset", "trainer.steps": 4, "trainer.checkpoint_every": 1, "data.identities": 4}
    train(tiny_config(root, **overrides), tmp_path / "run", progress=False)
    assert all_finite(read_checkpoint(tmp_path / "run" / "checkpoints" / "last.pt"))


# -- 4. --no-resume leaves nothing of the old model --------------------------------------------------
def test_no_resume_on_a_finished_run_removes_its_results(tiny_root, tmp_path):
    run = tmp_path / "run"
    config = tiny_config(tiny_root, **{"trainer.steps": 1})
    train(config, run, progress=False)
    evaluate_run(run, device="cpu", progress=False)
    assert (run / "eval.json").is_file() and (run / "embeddings.npz").is_file()
    old = read_checkpoint(run / "checkpoints" / "last.pt")

    train(tiny_config(tiny_root, **{"trainer.steps": 1, "trainer.seed": 1}), run, resume=False, progress=False)
    assert not (run / "eval.json").exists() and not (run / "embeddings.npz").exists()
    new = read_checkpoint(run / "checkpoints" / "last.pt")
    assert new["fingerprint"] != old["fingerprint"]
    assert len(json.loads((run / "provenance.json").read_text())["sessions"]) == 1


# -- 6. the CLI: named errors, exit status 2 --------------------------------------------------------
@pytest.mark.parametrize(
    ("override", "named"),
    [
        ("model.name=resnet50", "model.name': expected one of gaitbase"),
        ("trainer.checkpoint_every=0", "trainer.checkpoint_every': expected an integer >= 1"),
        ("trainer.log_every=0", "trainer.log_every': expected an integer >= 1"),
        ("trainer.steps=-3", "trainer.steps': expected an integer >= 1"),  # case 8
        ("trainer.steps=0", "trainer.steps': expected an integer >= 1"),  # case 8
        ("trainer.device=tpu", "trainer.device': expected auto, cpu, cuda, cuda:N or mps"),
        ("optim.name=lbfgs", "optim.name': expected one of sgd, adam, adamw"),
        ("loss.terms.gil.form=hinge", "form must be one of"),
        ("loss.terms.focal={}", "unknown loss term 'focal'; known: ce, gil, triplet"),
        ("trainer.nonfinite=ignore", "trainer.nonfinite': expected one of stop, skip"),
    ],
)
def test_bad_config_values_are_named_errors_before_any_folder(tiny_root, tmp_path, capsys, override, named):
    run = tmp_path / "run"
    code = cli.main(
        ["train", "--config", "embedded/tiny_gil_margin", "--data-root", str(tiny_root), "--run-dir", str(run)]
        + ["--set", "trainer.device=cpu", "--set", override, "--no-eval"]
    )
    assert code == 2
    assert named in capsys.readouterr().err
    assert not run.exists()


@pytest.mark.skipif(torch.backends.mps.is_available(), reason="this machine has MPS")
def test_a_device_this_machine_lacks_is_named(tiny_root, tmp_path, capsys):
    run = tmp_path / "run"
    code = cli.main(
        ["train", "--config", "embedded/tiny_gil_margin", "--data-root", str(tiny_root), "--run-dir", str(run)]
        + ["--set", "trainer.device=mps", "--no-eval"]
    )
    assert code == 2
    assert "trainer.device is 'mps' but this machine has no MPS device" in capsys.readouterr().err
    assert not run.exists()


def test_a_full_disk_is_a_named_error_and_keeps_the_last_checkpoint(tiny_root, tmp_path, capsys, monkeypatch):
    run = tmp_path / "run"
    argv = ["train", "--config", "embedded/tiny_gil_margin", "--data-root", str(tiny_root), "--run-dir", str(run)]
    argv += ["--set", "trainer.device=cpu", "--set", "trainer.checkpoint_every=1", "--no-eval"]
    real_save, saves = torch.save, []

    def disk_full_at_the_second_save(obj, handle):
        saves.append(obj["step"])
        real_save(obj, handle)
        if len(saves) == 2:
            raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(torch, "save", disk_full_at_the_second_save)
    assert cli.main([*argv, "--set", "trainer.steps=3"]) == 2
    err = capsys.readouterr().err
    assert "last.pt: could not write the checkpoint (the disk is full); the previous last.pt is kept" in err
    assert read_checkpoint(run / "checkpoints" / "last.pt")["step"] == 1
    assert not list((run / "checkpoints").glob(".*.tmp"))


@pytest.mark.parametrize(
    ("content", "named"),
    [
        ({"model": {"Backbone.conv.weight": torch.ones(1)}, "iteration": 100}, "an OpenGait checkpoint"),
        ({"weights": {"a": torch.ones(1)}, "step": 3}, "a dict without 'model'"),
        (torch.ones(3), "holds a Tensor, not a checkpoint"),
        ({"a.weight": torch.ones(1)}, "a bare state dict"),
        ({"model": {"a.weight": torch.ones(1)}, "fingerprint": "x"}, "its weights do not fit model.name=gaitgl"),
    ],
)
def test_gil_eval_checkpoint_says_what_it_got(tiny_root, tmp_path, capsys, content, named):
    path = tmp_path / "file.pt"
    torch.save(content, path)
    argv = ["eval", "--checkpoint", str(path), "--config", "embedded/tiny_gil_margin", "--data-root", str(tiny_root)]
    assert cli.main([*argv, "--device", "cpu"]) == 2
    err = capsys.readouterr().err
    assert str(path) in err and named in err
    if "OpenGait" in named or "bare" in named:
        assert "--opengait" in err


def test_gil_eval_opengait_flag_on_a_gil_checkpoint_says_drop_it(tiny_root, tmp_path, capsys):
    run = tmp_path / "run"
    train(tiny_config(tiny_root, **{"trainer.steps": 1}), run, progress=False)
    argv = ["eval", "--checkpoint", str(run / "checkpoints" / "last.pt"), "--opengait"]
    argv += ["--config", "embedded/tiny_gil_margin", "--data-root", str(tiny_root), "--device", "cpu"]
    assert cli.main(argv) == 2
    assert "a gil checkpoint (written by gil train), not OpenGait's; drop --opengait" in capsys.readouterr().err


# -- 7. scientific notation in YAML and --set -------------------------------------------------------
def test_learning_rates_in_scientific_notation_are_numbers(tmp_path):
    assert config_lib.load("embedded/tiny_gil_margin", config_lib.parse_overrides(["optim.lr=1e-4"])).optim.lr == 1e-4
    yaml_file = tmp_path / "c.yaml"
    yaml_file.write_text("optim:\n  lr: 3e-4\n  weight_decay: 5E-4\nschedule:\n  gamma: 1.5e-1\n")
    config = config_lib.load(yaml_file)
    assert (config.optim.lr, config.optim.weight_decay, config.schedule.gamma) == (3e-4, 5e-4, 0.15)
    assert config_lib.load_yaml("name: 1e4x\nsteps: 10\n") == {"name": "1e4x", "steps": 10}


def test_non_finite_numbers_are_refused():
    with pytest.raises(ValueError, match="optim.lr': expected a finite number"):
        config_lib.from_dict({"optim": {"lr": float("nan")}})


# -- 10. temp files of killed writes are removed at start-up -----------------------------------------
def dead_pid() -> int:
    pid = 4_000_000
    while True:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return pid
        except PermissionError:
            pass
        pid -= 1


def test_stale_checkpoint_temporaries_are_removed_at_start(tiny_root, tmp_path):
    run = claim(tmp_path / "run").path  # as a first run killed while writing its first checkpoint leaves it
    folder = run / "checkpoints"
    folder.mkdir(parents=True)
    stale = folder / f".last.pt.{dead_pid()}.tmp"
    live = folder / f".last.pt.{os.getppid()}.tmp"  # a writer that is still running is left alone
    stale.write_bytes(b"half a checkpoint")
    live.write_bytes(b"being written")
    train(tiny_config(tiny_root, **{"trainer.steps": 1}), run, progress=False)
    assert not stale.exists() and live.exists()


# -- 11. resume restores every RNG as the uninterrupted run has it ------------------------------------
def test_resumed_run_ends_with_the_uninterrupted_rng_states(tiny_root, tmp_path, interrupted_run):
    config = tiny_config(tiny_root, **{"trainer.steps": 4, "trainer.checkpoint_every": 2})
    a = read_checkpoint(train(config, tmp_path / "a", progress=False) / "checkpoints" / "last.pt")["rng"]
    interrupted_run(config, tmp_path / "b", step=3)
    b = read_checkpoint(train(config, tmp_path / "b", progress=False) / "checkpoints" / "last.pt")["rng"]
    assert torch.equal(a["torch"], b["torch"]), "torch CPU RNG"
    assert torch.equal(a["numpy_keys"], b["numpy_keys"]) and a["numpy_pos"] == b["numpy_pos"], "numpy RNG"
    assert a["python"] == b["python"], "python RNG"
