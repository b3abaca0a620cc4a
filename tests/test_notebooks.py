"""Every notebook executes under papermill on the `tiny` preset with a few steps; all are committed stripped."""

from pathlib import Path

import nbformat
import pytest

from gil.book import NOTEBOOK_DIR, notebooks

NOTEBOOKS = notebooks()


@pytest.fixture(scope="session")
def shared_runs(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("notebook-runs")


def test_there_are_notebooks():
    assert NOTEBOOKS, f"no notebooks in {NOTEBOOK_DIR}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_is_committed_stripped_with_a_parameters_cell(path):
    notebook = nbformat.read(path, as_version=4)
    code = [cell for cell in notebook.cells if cell.cell_type == "code"]
    assert code, f"{path.name}: no code cells"
    assert "parameters" in code[0].metadata.get("tags", []), f"{path.name}: first code cell must be tagged parameters"
    for cell in code:
        assert not cell.get("outputs") and cell.get("execution_count") is None, f"{path.name}: outputs not stripped"
    assert notebook.cells[0].cell_type == "markdown" and notebook.cells[0].source.startswith("# ")


@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_executes_on_tiny(path, tiny_root, shared_runs, tmp_path):
    import papermill

    parameters = {
        "data_root": str(tiny_root),
        "preset": "tiny",
        "steps": 2,
        "runs_root": str(shared_runs),
        "device": "cpu",
    }
    papermill.execute_notebook(
        str(path),
        str(tmp_path / path.name),
        parameters=parameters,
        cwd=str(path.parent),
        kernel_name="python3",
        progress_bar=False,
    )
    executed = nbformat.read(tmp_path / path.name, as_version=4)
    errors = [
        o
        for c in executed.cells
        if c.cell_type == "code"
        for o in c.get("outputs", [])
        if o.get("output_type") == "error"
    ]
    assert not errors
