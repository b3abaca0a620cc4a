"""Shared fixtures: the `tiny` embedded dataset, generated once per test process."""

from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def tiny_root(tmp_path_factory) -> Path:
    from gil.data.syngait import generate

    root = tmp_path_factory.mktemp("syngait") / "tiny"
    generate("tiny", root, seed=0, workers=1, progress=False)
    return root
