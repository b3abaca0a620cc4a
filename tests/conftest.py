"""Shared fixtures: the `tiny` embedded dataset, generated once per test process; the project's Jupyter kernel,
registered as `make kernel` does into a scratch Jupyter data folder."""

import os
import shlex
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest


def _committed_results() -> dict[str, str]:
    import hashlib

    folder = Path(__file__).resolve().parents[1] / "results"
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.rglob("*"))
            if p.is_file()}  # fmt: skip


@pytest.fixture(scope="session", autouse=True)
def committed_results_stay_as_they_are():
    """The test suite never writes into the committed results/ (issue #30): byte-identical before and after."""
    before = _committed_results()
    yield
    after = _committed_results()
    changed = sorted(name for name in set(before) | set(after) if before.get(name) != after.get(name))
    assert not changed, f"the tests changed the committed results: {changed}"


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


ROOT = Path(__file__).resolve().parents[1]


def make_kernel_command() -> list[str]:
    """The command `make kernel` runs (``make -n``, the Makefile's own expansion), with $(PY) this interpreter."""
    dry = subprocess.run(
        ["make", "-s", "-n", "-C", str(ROOT), "kernel", f"PY={sys.executable}"], capture_output=True, text=True
    )
    assert dry.returncode == 0, dry.stderr
    lines = [line.strip() for line in dry.stdout.splitlines() if line.strip()]
    assert len(lines) == 1, f"expected one command in `make kernel`, got {lines}"
    return shlex.split(lines[0])


@dataclass(frozen=True)
class RegisteredKernel:
    """The `gil` kernelspec registered into ``data_dir`` (a scratch ``JUPYTER_DATA_DIR``)."""

    name: str
    data_dir: Path
    install_output: str  # what `ipykernel install` printed

    def env(self, **extra: str) -> dict[str, str]:
        """This process's environment with ``JUPYTER_DATA_DIR`` pointing at the registration."""
        return {**os.environ, "JUPYTER_DATA_DIR": str(self.data_dir), **extra}


@pytest.fixture(scope="session")
def gil_kernel(tmp_path_factory) -> RegisteredKernel:
    """The project's kernel registered exactly as `make kernel` does (its recipe read from the Makefile), once per
    test process, into a scratch ``JUPYTER_DATA_DIR``: the user's own kernels are neither read nor changed."""
    data_dir = tmp_path_factory.mktemp("jupyter-data")
    command = make_kernel_command()
    env = {**os.environ, "JUPYTER_DATA_DIR": str(data_dir)}
    installed = subprocess.run(command, env=env, capture_output=True, text=True, timeout=60)
    assert installed.returncode == 0, installed.stderr
    return RegisteredKernel(command[command.index("--name") + 1], data_dir, installed.stdout + installed.stderr)
