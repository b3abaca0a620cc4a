"""The package built as a wheel and installed without ``-e`` into a throw-away venv: it finds its own configs
and partitions (``importlib.resources``), trains and evaluates a tiny run from a folder outside the checkout,
and says plainly which tooling needs a checkout."""

import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

from gil.experiments.project import checkout


@pytest.fixture(scope="module")
def wheel_venv(tmp_path_factory) -> Path:
    root = checkout()
    if root is None:
        pytest.skip("needs the source checkout to build the wheel")
    tmp = tmp_path_factory.mktemp("wheel")
    # build from a copy: setuptools builds in the source tree (build/, *.egg-info), and pytest-xdist workers
    # each run this fixture, so two builds in the checkout itself would race
    src = tmp / "src"
    shutil.copytree(root / "gil", src / "gil", ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        shutil.copy2(root / name, src / name)
    pip = [sys.executable, "-m", "pip"]
    subprocess.run([*pip, "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(tmp), str(src)], check=True)
    (wheel,) = tmp.glob("gil-*.whl")
    venv = tmp / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    site = Path(
        subprocess.run(
            [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
            check=True,
            capture_output=True,
            text=True,
        ).stdout.strip()
    )
    # the dependencies (torch, numpy …) from this interpreter's site-packages, as a plain path: its .pth files,
    # among them the editable install's finder, are not run, so only the wheel's gil can be imported
    (site / "deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    subprocess.run([*pip, "--python", str(python), "install", "--no-deps", "-q", str(wheel)], check=True)
    return venv


def run(venv: Path, *args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([str(venv / "bin" / "python"), *args], cwd=cwd, capture_output=True, text=True, timeout=600)


def test_the_wheel_ships_configs_and_partitions_and_knows_it_has_no_checkout(wheel_venv, tmp_path):
    code = (
        "import gil, gil.experiments.project as p; from gil.config import load;"
        "from gil.data.partitions import load_partition;"
        "print(gil.__file__); print(p.checkout()); print(load('embedded/tiny_triplet').name);"
        "print(len(load_partition('casia-b-lt').train), len(load_partition('oumvlp').test));"
        "from gil.integrations.opengait import loss_cfg_snippets; print(len(loss_cfg_snippets()))"
    )
    result = run(wheel_venv, "-c", code, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    where, project, name, sizes, snippets = result.stdout.split("\n")[:5]
    assert Path(where).is_relative_to(wheel_venv) and project == "None"
    assert name == "tiny-gaitgl-triplet" and sizes == "74 5154"
    assert snippets == "9"  # the OpenGait loss_cfg snippets (8 backbone × form, the authors' recipe) are package data


def test_the_wheel_trains_and_evaluates_a_tiny_run_from_a_folder_outside_the_checkout(wheel_venv, tiny_root, tmp_path):
    train = ["-m", "gil", "train", "--config", "embedded/tiny_triplet", "--data-root", str(tiny_root)]
    train += ["--run-dir", "rel", "--set", "trainer.steps=2", "--set", "trainer.device=cpu", "--no-eval"]
    result = run(wheel_venv, *train, cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    result = run(wheel_venv, "-m", "gil", "eval", "--run", "rel", "--device", "cpu", cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "NM" in result.stdout and "mAP (%)" in result.stdout and (tmp_path / "rel" / "eval.json").is_file()


def test_tooling_that_needs_the_checkout_says_so(wheel_venv, tmp_path):
    result = run(wheel_venv, "-m", "gil", "bench", "--quick", cwd=tmp_path)
    assert result.returncode == 2 and "needs a source checkout" in result.stderr
    result = run(wheel_venv, "-m", "gil", "book", "--no-html", cwd=tmp_path)
    assert result.returncode == 2 and "needs a source checkout" in result.stderr
