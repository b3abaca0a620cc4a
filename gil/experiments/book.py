"""Build the book: papermill executes ``notebooks/*.ipynb`` into ``book/notebooks/``, then jupyter-book
(1.x, Sphinx, offline) renders ``book/_build/html``.

The notebooks are committed without outputs; executed copies live only in the build folders.
"""

from __future__ import annotations

import logging
import shutil
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from gil.experiments.project import require_checkout
from gil.extras import require

log = logging.getLogger(__name__)

HIDDEN_TAGS = ("injected-parameters",)
KERNEL = "python3"  # the interpreter running the build (make book: .venv), whatever kernels are registered


def notebook_dir() -> Path:
    return require_checkout("gil book") / "notebooks"


def book_dir() -> Path:
    return require_checkout("gil book") / "book"


def notebooks(only: Sequence[str] | None = None) -> list[Path]:
    """The notebooks in build order; ``only`` filters by name prefix (``"03"`` or ``"03_cross_view"``)."""
    found = sorted(notebook_dir().glob("[0-9][0-9]_*.ipynb"))
    if only:
        found = [nb for nb in found if any(nb.stem.startswith(prefix) for prefix in only)]
        if not found:
            raise ValueError(f"--only {list(only)} matches no notebook in {notebook_dir()}")
    return found


def hide_injected_cells(path: Path) -> None:
    """Tag papermill's injected-parameters cell ``remove-cell`` so the book does not show it."""
    nbformat = require("nbformat", "notebooks", "executing the notebooks")

    notebook = nbformat.read(path, as_version=4)
    for cell in notebook.cells:
        tags = cell.metadata.setdefault("tags", [])
        if any(tag in tags for tag in HIDDEN_TAGS) and "remove-cell" not in tags:
            tags.append("remove-cell")
    nbformat.write(notebook, path)


def execute(notebook: Path, out_dir: Path, parameters: Mapping[str, Any], timeout: int | None = None) -> Path:
    """Execute ``notebook`` with papermill into ``out_dir``; returns the executed copy's path."""
    papermill = require("papermill", "notebooks", "executing the notebooks")

    out_dir.mkdir(parents=True, exist_ok=True)
    target = out_dir / notebook.name
    papermill.execute_notebook(
        str(notebook),
        str(target),
        parameters=dict(parameters),
        cwd=str(notebook.parent),
        kernel_name=KERNEL,
        progress_bar=False,
        execution_timeout=timeout,
    )
    hide_injected_cells(target)
    return target


def build_html(folder: Path | None = None) -> Path:
    """Run ``jupyter-book build`` (offline; fails when Sphinx reports an error)."""
    folder = folder or book_dir()
    executable = Path(sys.executable).with_name("jupyter-book")
    command = [str(executable) if executable.exists() else "jupyter-book", "build", str(folder)]
    subprocess.run(command, check=True)
    return folder / "_build" / "html" / "index.html"


def build(parameters: Mapping[str, Any], only: Sequence[str] | None = None, html: bool = True) -> Path:
    out_dir = book_dir() / "notebooks"
    for notebook in notebooks(only):
        tic = time.perf_counter()
        print(f"executing {notebook.name} ...", flush=True)
        execute(notebook, out_dir, parameters)
        print(f"  done in {time.perf_counter() - tic:.0f} s", flush=True)
    if not html:
        return out_dir
    shutil.rmtree(book_dir() / "_build" / "html", ignore_errors=True)
    return build_html()
