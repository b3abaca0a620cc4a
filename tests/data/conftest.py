"""Shared fixture: the ``tiny`` SynGait preset generated once per test session."""

from pathlib import Path

import pytest

from gil.data.syngait import generate


@pytest.fixture(scope="session")
def tiny_root(tmp_path_factory) -> Path:
    return generate("tiny", tmp_path_factory.mktemp("syngait") / "tiny", seed=0, workers=2, progress=False)
