"""The package built as a wheel and installed without ``-e`` into a throw-away venv: it finds its own configs
and partitions (``importlib.resources``), trains and evaluates a tiny run from a folder outside the checkout,
and says plainly which tooling needs a checkout. A second venv holds the core's dependencies only (no plotting,
TensorBoard, scipy or notebook packages): the loss, the trainer and the evaluator work there, and an extra's module
names its ``pip install`` line."""

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
    (wheel,) = tmp.glob("gil_gait-*.whl")
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


def _core_closure(distribution: str) -> set[str]:
    """The installed distributions ``distribution``'s core needs (its requirements without extras, recursively)."""
    from importlib import metadata

    from packaging.requirements import Requirement

    needed, todo = set(), [distribution]
    while todo:
        name = todo.pop()
        for line in metadata.requires(name) or []:
            requirement = Requirement(line)
            if requirement.marker and not requirement.marker.evaluate({"extra": ""}):
                continue
            key = requirement.name.lower().replace("_", "-")
            if key not in needed:
                needed.add(key)
                todo.append(requirement.name)
    return needed


@pytest.fixture(scope="module")
def core_venv(wheel_venv, tmp_path_factory) -> Path:
    """The wheel's venv again, its dependencies limited to the core's: each needed distribution's top-level files
    linked from this interpreter's site-packages into a folder of their own."""
    from importlib import metadata

    purelib = Path(sysconfig.get_paths()["purelib"])
    linked = tmp_path_factory.mktemp("core-deps")
    for name in _core_closure("gil-gait"):
        dist = metadata.distribution(name)
        tops = {Path(str(f)).parts[0] for f in dist.files or [] if not str(f).startswith("..")}
        for top in tops - {"__pycache__", "bin"}:
            if (purelib / top).exists() and not (linked / top).exists():
                (linked / top).symlink_to(purelib / top)
    venv = tmp_path_factory.mktemp("core") / "venv"
    shutil.copytree(wheel_venv, venv, symlinks=True)
    python = venv / "bin" / "python"
    site = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    (Path(site) / "deps.pth").write_text(f"{linked}\n")
    return venv


def test_the_core_trains_and_scores_without_any_extra(core_venv, tiny_root, tmp_path):
    absent = "import importlib.util as u; print([m for m in ('matplotlib', 'seaborn', 'scipy', 'tensorboard', "
    absent += "'papermill', 'pytorch_metric_learning', 'jupyterlab') if u.find_spec(m)])"
    result = run(core_venv, "-c", absent, cwd=tmp_path)
    assert result.returncode == 0 and result.stdout.strip() == "[]", result.stdout + result.stderr
    step = (
        "import torch; from gil.losses import GeneralizedInterClassLoss as G;"
        "x = torch.randn(12, 2, 8, requires_grad=True); y = torch.tensor([0]*5 + [1]*4 + [2]*3);"
        "loss, info = G(form='margin')(x, y); loss.backward(); print(bool(x.grad.abs().sum() > 0), sorted(info)[:2])"
    )
    result = run(core_venv, "-c", step, cwd=tmp_path)
    assert result.returncode == 0 and result.stdout.startswith("True"), result.stderr[-2000:]
    train = ["-m", "gil", "train", "--config", "embedded/tiny_gil_margin", "--data-root", str(tiny_root)]
    train += ["--run-dir", "core-run", "--set", "trainer.steps=2", "--set", "trainer.device=cpu"]
    result = run(core_venv, *train, cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    assert 'no tensorboard: metrics go to metrics.csv only (pip install "gil-gait[tensorboard]")' in result.stderr
    assert "NM" in result.stdout and (tmp_path / "core-run" / "eval.json").is_file()


@pytest.mark.parametrize(
    "code,extra",
    [
        ("import gil.plots", "plots"),
        ("from gil.experiments.study import t_interval; t_interval([1.0, 2.0])", "study"),
        ("import gil.integrations.pml", "pml"),
    ],
)
def test_an_extras_module_names_its_pip_line(core_venv, tmp_path, code, extra):
    result = run(core_venv, "-c", code, cwd=tmp_path)
    assert result.returncode == 1 and "MissingExtra" in result.stderr, result.stderr[-2000:]
    assert f'pip install "gil-gait[{extra}]"' in result.stderr
