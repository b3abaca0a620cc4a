"""The notebooks' parameters: paths from the project root, and every bad value named before any work."""

import json
import shutil
from pathlib import Path

import pytest
import torch

from gil.experiments import params
from gil.experiments.project import checkout


@pytest.fixture(scope="module")
def real_layout(tiny_root, tmp_path_factory) -> Path:
    """The tiny twin as a folder of real data: OpenGait's layout with a partition.json, no syngait.json."""
    root = tmp_path_factory.mktemp("real") / "gait-pkl"
    shutil.copytree(tiny_root, root)
    (root / "syngait.json").unlink()
    return root


def test_relative_paths_start_at_the_project_root_whatever_the_working_directory(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    root = checkout()
    assert root is not None and params.project_root() == root
    assert params.resolve("results/study") == root / "results" / "study"
    assert params.resolve(tmp_path / "abs") == tmp_path / "abs"


def test_project_root_can_be_named_by_the_environment(tmp_path, monkeypatch):
    here = checkout()
    monkeypatch.setenv("GIL_PROJECT_ROOT", str(tmp_path))
    with pytest.raises(FileNotFoundError, match="GIL_PROJECT_ROOT"):
        params.project_root()
    monkeypatch.setenv("GIL_PROJECT_ROOT", str(here))
    assert params.project_root() == here


def test_preset_follows_the_twin_and_the_batch_fits_its_identities(tiny_root, tmp_path):
    setup = params.training(data_root=tiny_root, losses=["triplet", "gil_margin"], steps=3, runs_root=tmp_path)
    assert setup.preset == "tiny" and setup.partition == "dataset" and setup.runs_root == tmp_path
    config = setup.config("gil_margin")
    assert config.trainer.steps == 3 and config.data.root == str(tiny_root)
    assert setup.run_dir("triplet").parent == tmp_path


def test_real_data_defaults_to_the_small_configs_and_a_batch_too_large_is_named(real_layout):
    with pytest.raises(ValueError, match=r"data_root/preset: data\.identities=8 .*4 identities.*preset='small'.*tiny"):
        params.training(data_root=real_layout)
    assert params.training(data_root=real_layout, preset="tiny").preset == "tiny"


def test_a_twin_of_casia_b_size_uses_the_small_configs(tiny_root, tmp_path):
    root = tmp_path / "casia-b-twin"
    shutil.copytree(tiny_root, root)
    meta = json.loads((root / "syngait.json").read_text())
    meta["preset"]["name"] = "casia-b"
    (root / "syngait.json").write_text(json.dumps(meta))
    with pytest.raises(ValueError, match="preset='small'"):  # small's 8 identities per batch, 4 on this disk
        params.training(data_root=root)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"backbone": "gaitnet"}, r"backbone='gaitnet': expected one of gaitset, gaitpart, gaitgl, gaitbase"),
        ({"losses": "arcface"}, r"loss='arcface': expected one of triplet, gil_margin, gil_softmax"),
        ({"losses": ["triplet", "x"]}, r"losses='x'"),
        ({"losses": []}, r"losses=\[\]"),
        ({"preset": "huge"}, r"preset='huge': expected one of small, tiny"),
        ({"steps": 0}, r"steps=0: expected None .* positive integer"),
        ({"steps": 2.5}, r"steps=2.5"),
        ({"device": "tpu"}, r"device='tpu'"),
        ({"partition": "casia-c"}, r"partition='casia-c'"),
        ({"partition": "casia-b-lt"}, r"partition='casia-b-lt': \d+ of its \d+ training subjects are not in"),
    ],
)
def test_bad_parameters_name_themselves_and_the_valid_values(tiny_root, kwargs, message):
    with pytest.raises(ValueError, match=message):
        params.training(data_root=tiny_root, **kwargs)


def test_a_missing_data_root_says_how_to_make_one(tmp_path):
    with pytest.raises(ValueError, match=r"data_root='nope'.*is not a folder.*gil data generate"):
        params.training(data_root="nope")
    with pytest.raises(ValueError, match="gil data generate"):
        params.data(tmp_path / "absent")


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA")
def test_cuda_on_a_machine_without_it_is_refused_up_front(tiny_root):
    with pytest.raises(ValueError, match=r"device='cuda'.*is_available"):
        params.training(data_root=tiny_root, device="cuda")


def test_data_pages_get_the_root_and_split(real_layout):
    root, split = params.data(real_layout)
    assert root == real_layout and len(split.train) == 4 and split.test
