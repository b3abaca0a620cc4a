"""Every notebook executes under papermill on the `tiny` preset with a few steps; all are committed stripped.

The preset is not passed: each page takes it from the data root's ``syngait.json``, as a user's run would.
"""

import os
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from gil.experiments.book import notebook_dir, notebooks

NOTEBOOKS = notebooks()
KERNEL = "gil"  # the kernelspec every notebook names, registered by `make setup`


@pytest.fixture(scope="session")
def shared_runs(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("notebook-runs")


def test_there_are_notebooks():
    assert NOTEBOOKS, f"no notebooks in {notebook_dir()}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_is_committed_stripped_with_a_parameters_cell(path):
    notebook = nbformat.read(path, as_version=4)
    code = [cell for cell in notebook.cells if cell.cell_type == "code"]
    assert code, f"{path.name}: no code cells"
    assert "parameters" in code[0].metadata.get("tags", []), f"{path.name}: first code cell must be tagged parameters"
    for cell in code:
        assert not cell.get("outputs") and cell.get("execution_count") is None, f"{path.name}: outputs not stripped"
    assert notebook.cells[0].cell_type == "markdown" and notebook.cells[0].source.startswith("# ")
    assert notebook.metadata["kernelspec"]["name"] == KERNEL, f"{path.name}: kernelspec must be the project's"


def figures_missing(executed: nbformat.NotebookNode) -> list[int]:
    """Indices of code cells that call ``plt.show()`` unconditionally but show no image."""
    missing = []
    for i, cell in enumerate(executed.cells):
        if cell.cell_type != "code" or not any(line.startswith("plt.show()") for line in cell.source.splitlines()):
            continue
        if not any("image/png" in out.get("data", {}) for out in cell.get("outputs", [])):
            missing.append(i)
    return missing


def execute(path: Path, out: Path, **parameters) -> nbformat.NotebookNode:
    import papermill

    papermill.execute_notebook(
        str(path), str(out), parameters=parameters, kernel_name="python3", progress_bar=False, cwd=str(path.parent)
    )
    return nbformat.read(out, as_version=4)


@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_executes_on_tiny_and_shows_its_figures(path, tiny_root, shared_runs, tmp_path):
    executed = execute(
        path, tmp_path / path.name, data_root=str(tiny_root), steps=2, runs_root=str(shared_runs), device="cpu"
    )
    code = [c for c in executed.cells if c.cell_type == "code"]
    assert all(c.execution_count is not None for c in code), f"{path.name}: not every cell ran"
    assert not figures_missing(executed), f"{path.name}: cells {figures_missing(executed)} drew no figure"


@pytest.mark.slow
def test_a_folder_of_real_data_in_opengait_layout_trains_with_an_explicit_preset(tiny_root, tmp_path):
    import shutil

    root = tmp_path / "gait-pkl"
    shutil.copytree(tiny_root, root)
    (root / "syngait.json").unlink()  # not the twin: the page must not rely on it
    path = notebook_dir() / "03_cross_view.ipynb"
    executed = execute(
        path, tmp_path / path.name, data_root=str(root), preset="tiny", steps=2, runs_root=str(tmp_path / "r")
    )
    assert not figures_missing(executed)


@pytest.mark.slow
def test_papermill_cli_from_another_folder_with_the_project_kernel(tiny_root, tmp_path):
    """The README's call, run outside the checkout with the notebook's own kernelspec (``gil``), registered
    into a scratch Jupyter data folder exactly as `make setup` does, so the user's own registration is untouched."""
    env = {**os.environ, "JUPYTER_DATA_DIR": str(tmp_path / "jupyter")}
    register = [sys.executable, "-m", "ipykernel", "install", "--user", "--name", KERNEL]
    subprocess.run([*register, "--display-name", "Python 3 (gil)"], env=env, check=True, capture_output=True)
    work = tmp_path / "elsewhere"
    work.mkdir()
    papermill = Path(sys.executable).with_name("papermill")
    notebook = notebook_dir() / "02_train.ipynb"
    command = [str(papermill), str(notebook), "out.ipynb", "-p", "data_root", str(tiny_root), "-p", "steps", "3"]
    command += ["-p", "runs_root", str(tmp_path / "runs"), "-p", "device", "cpu"]
    result = subprocess.run(command, cwd=work, env=env, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    executed = nbformat.read(work / "out.ipynb", as_version=4)
    assert executed.metadata["kernelspec"]["name"] == KERNEL
    assert not figures_missing(executed)
    run_dirs = list((tmp_path / "runs").glob("tiny-gaitgl-gil_margin-*"))
    assert len(run_dirs) == 1 and (run_dirs[0] / "eval.json").is_file()


@pytest.mark.slow
def test_papermill_with_a_bad_parameter_fails_at_once_naming_it(tiny_root, tmp_path):
    import papermill

    path = notebook_dir() / "02_train.ipynb"
    with pytest.raises(papermill.PapermillExecutionError, match=r"backbone='gaitnet'"):
        execute(path, tmp_path / "out.ipynb", data_root=str(tiny_root), backbone="gaitnet", runs_root=str(tmp_path))
    assert not list(tmp_path.glob("tiny-*")), "a bad parameter must not leave a run folder"
