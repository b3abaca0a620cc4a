"""Shared fixtures: the `tiny` embedded dataset, generated once per test process."""

from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def tiny_root(tmp_path_factory) -> Path:
    from gil.data.syngait import generate

    root = tmp_path_factory.mktemp("syngait") / "tiny"
    generate("tiny", root, seed=0, workers=1, progress=False)
    return root


@pytest.fixture
def tiny_cli_options(tiny_root, tmp_path) -> list[str]:
    """``gil study`` / ``gil calibrate`` options for a one-step CPU run of the tiny preset under ``tmp_path``."""
    return [
        *("--base", "embedded/tiny_triplet", "--data", str(tiny_root), "--runs-root", str(tmp_path / "runs")),
        *("--set", "trainer.steps=1", "--set", "trainer.device=cpu"),
    ]


@pytest.fixture
def interrupted_run(monkeypatch):
    """``interrupted_run(config, run_dir, step)``: train until ``step`` and stop there as a Ctrl-C would."""
    from gil.train import Trainer, train

    def run(config, run_dir, step: int) -> None:
        original = Trainer.train_step

        def crash(self, sils, labels):
            if self.step == step:
                raise KeyboardInterrupt("simulated interruption")
            return original(self, sils, labels)

        with monkeypatch.context() as patch:
            patch.setattr(Trainer, "train_step", crash)
            with pytest.raises(KeyboardInterrupt):
                train(config, run_dir, progress=False)

    return run
