"""Every notebook is committed stripped, and executes under papermill on the `tiny` preset with a few steps,
showing its figures, its tables and the numbers of the runs it trained or read.

Each notebook executes once per test session (``executed``, shared by the xdist workers); the tests below read the
executed copy. The preset is not passed: each page takes it from the data root's ``syngait.json``, as a user's run
would. Each page has its own runs folder, so pages 02–05 train their runs themselves, whatever the order.
"""

import json
import math
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path

import nbformat
import numpy as np
import pandas as pd
import pytest

from gil.experiments.book import notebook_dir, notebooks
from gil.experiments.project import checkout

NOTEBOOKS = notebooks()
NAMES = [p.stem for p in NOTEBOOKS]
KERNEL = "python3"  # the kernelspec every notebook names: the Python of the Jupyter (or papermill) that runs it
STEPS = 2  # training steps of every run the pages train
LOSSES = ("triplet", "gil_margin")  # the runs of pages 03–05 (02 trains its default, gil_margin)

# what each page must show on the tiny preset with its default parameters
BACKBONES_STUDIED = ("gaitset", "gaitpart", "gaitgl", "gaitbase")  # the backbones of the committed study
FIGURES = {  # image/png outputs
    "00_loss_anatomy": 5,  # Figures 1–5; Figure 6 only with interactive=True
    "01_data": 5,  # subject grid, walk strip, GEIs, dataset overview, calibration per view
    "02_train": 2,  # training curves, loss diagnostics
    "03_cross_view": 4,  # one heatmap per run, one difference, rank-1 per view
    "04_uniformity": 4,  # batch uniformity, distance histograms, centre angles, UMAP
    "05_margins": 2,  # identity margins, adaptive margins
    "06_ablation": 5,  # each backbone's interval plot (GaitSet, GaitPart, GaitGL, GaitBase), the learning curves' gap
    "07_paper": 0,
}
TABLES = {  # per page, one entry per table: header or row labels that one of its HTML tables must all show
    "00_loss_anatomy": [
        {"triplets violating the margin", "centre uniformity L_u", "triplet", "GIL margin", "GIL softmax"},
        {"mean cosine", "mean weight w", "same class", "crowded pair", "other classes"},
        {"at the start", "after training with GIL margin", "centre_angle", "margin", "0–1", "2–3"},
        {"smallest centre angle (°)", "GIL margin, λ_u = 0", "GIL margin, λ_u = 1"},
    ],
    "01_data": [
        {"mean |ΔGEI|", "pairs", "other subject, nm-01 vs nm-01", "same subject, nm-01 vs cl-01"},
        {"subjects", "views", "sequences", "frames_min", "frames_max", "nm-01", "bg-01", "cl-01"},
        {"subjects", "ids", "on disk", "sequences", "train", "test"},
        {"NM", "BG", "CL", "trained seeds", "sequence", "single_frame"},
        {"measured", "target", "met", "BG below NM"},
    ],
    "02_train": [
        {"parameters", "total"},
        {"rank-1 (%)", "mAP (%)", "probes", "NM", "BG", "CL"},
    ],
    "03_cross_view": [
        {"rank-1 NM", "rank-1 BG", "rank-1 CL", "rank-1 mean", "mAP mean", "triplet", "gil_margin"},
    ],
    "04_uniformity": [
        {"uniformity", "alignment", "triplet", "gil_margin"},
        {"median positive", "median negative", "triplet", "gil_margin"},
        {"mean pair angle (°)", "mean nearest angle (°)", "smallest nearest angle (°)", "triplet", "gil_margin"},
    ],
    "05_margins": [
        {"identities", "positive", "median margin", "all sequences", "NM only", "triplet", "gil_margin"},
        {"mean cosine", "mean margin", "share at m_max", "share at m_min", "triplet", "gil_margin"},
    ],
    "06_ablation": [
        {"commands", "base config", "commits", "cells (backbone × variant × seed)", "cells reusing a selection run"},
        {"make study, recorded", "select", "study", "calibrate", "curves", "total", "cells", "hours"},
        *(
            {"NM", "BG", "CL", "seeds", backbone, "triplet", "gil_margin", "gil_softmax"}
            for backbone in BACKBONES_STUDIED
        ),
        {"NM", "BG", "CL", "first study", "gil_margin_first", "gil_margin-no_uniformity"},  # the first study, a record
        {"backbone", "variant", "gaitset", "seeds", "gil_margin_first"},
        {"mean_part_norm", "last_active", "GaitSet + GIL margin, λ_u"},
        {"seeds", "rank1", "mean_norm", "gaitset", "triplet", "first"},  # the selection on validation identities
        {"worst_norm_ratio", "collapses", "chosen", "first"},
        {"rank1_triplet", "rank1_lambda_0.01", "norm_triplet", "norm_ratio", "collapses"},  # GaitBase's default check
        {"mean rank-1 at step", "gaitgl", "triplet", "gil_margin", "gil_softmax", "NM", "CL"},  # learning curves
        {"step", "gaitgl", "gil_margin", "gil_softmax"},  # their paired verdicts per step
        {"GaitGL, seed 0", "triplet", "triplet + CE", "triplet + InfoLoss", "rank1_NM", "rank1_cosine_NM"},
    ],
    "07_paper": [
        {"NM", "BG", "CL", "GaitSet", "GaitGL", "GaitGL + GIL (L_m)", "GaitGL + GIL (L_s)", "LT (74)"},
        {"NM", "BG", "CL", "all", "CASIA-B LT (74)", "OU-MVLP", "GaitGL (OpenGait)", "GaitGL + GiLoss"},
        *(
            {"NM", "BG", "CL", backbone, "baseline (triplet)", "+ GIL (L_m)", "+ GIL (L_s)"}
            for backbone in BACKBONES_STUDIED
        ),
        {
            "GIL minus baseline",
            "paper · LT (74) · GaitGL + GIL (L_s)",
            "this package · twin · gaitgl + GIL (L_s)",
            "this package · twin · gaitgl + the authors' PR recipe",
        },
    ],
}


def execute(path: Path, out: Path, **parameters) -> nbformat.NotebookNode:
    import papermill

    papermill.execute_notebook(
        str(path), str(out), parameters=parameters, kernel_name="python3", progress_bar=False, cwd=str(path.parent)
    )
    return nbformat.read(out, as_version=4)


@dataclass(frozen=True)
class ExecutedPages:
    """``executed(name)``: the page run on tiny (``steps=2``, CPU, its own runs folder ``executed.runs(name)``),
    once per test session: the xdist workers share ``folder``, and a lock per page makes the first worker to ask
    execute it while any other waits for it. A page that failed fails every later test asking for it, at once."""

    folder: Path
    data_root: Path

    def runs(self, name: str) -> Path:
        return self.folder / f"runs-{name}"

    def __call__(self, name: str) -> nbformat.NotebookNode:
        from filelock import FileLock  # a dependency of torch

        target, failed = self.folder / f"{name}.ipynb", self.folder / f"{name}.failed"
        with FileLock(self.folder / f"{name}.lock"):
            if not target.exists() and not failed.exists():
                path = notebook_dir() / target.name
                parameters = dict(data_root=str(self.data_root), steps=STEPS, device="cpu")
                try:
                    execute(path, target, runs_root=str(self.runs(name)), **parameters)
                except Exception as err:  # papermill's error names the failing cell and has its traceback
                    failed.write_text(str(err))
                    raise
        if failed.exists():
            pytest.fail(f"{name} failed when executed earlier in this session:\n{failed.read_text()}")
        return nbformat.read(target, as_version=4)


@pytest.fixture(scope="session")
def executed(tmp_path_factory, tiny_root) -> ExecutedPages:
    base = tmp_path_factory.getbasetemp()
    shared = base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base  # pytest-N/, above popen-gwK/
    folder = shared / "executed-notebooks"
    folder.mkdir(exist_ok=True)
    return ExecutedPages(folder, tiny_root)


# ---- reading an executed notebook


def outputs(notebook: nbformat.NotebookNode) -> list:
    return [out for cell in notebook.cells if cell.cell_type == "code" for out in cell.get("outputs", [])]


def stdout(notebook: nbformat.NotebookNode) -> str:
    return "".join(o.text for o in outputs(notebook) if o.output_type == "stream" and o.name == "stdout")


def markdown(notebook: nbformat.NotebookNode) -> str:
    return "\n".join(o.data["text/markdown"] for o in outputs(notebook) if "text/markdown" in o.get("data", {}))


class _TableParser(HTMLParser):
    """The cell texts of every ``<table>`` in a document, row by row (rowspan/colspan not expanded)."""

    def __init__(self):
        super().__init__()
        self.tables: list[list[list[str]]] = []
        self.cell: list[str] | None = None

    def handle_starttag(self, tag, attrs):
        if tag == "table":
            self.tables.append([])
        elif tag == "tr" and self.tables:
            self.tables[-1].append([])
        elif tag in ("th", "td"):
            self.cell = []

    def handle_endtag(self, tag):
        if tag in ("th", "td") and self.cell is not None and self.tables and self.tables[-1]:
            self.tables[-1][-1].append("".join(self.cell).strip())
            self.cell = None

    def handle_data(self, data):
        if self.cell is not None:
            self.cell.append(data)


def tables(notebook: nbformat.NotebookNode) -> list[list[list[str]]]:
    """Every HTML table the page displays (pandas' ``_repr_html_``), as rows of cell texts."""
    found = []
    for out in outputs(notebook):
        if "text/html" in out.get("data", {}):
            parser = _TableParser()
            parser.feed(out.data["text/html"])
            found += parser.tables
    return found


def lookup(table: list[list[str]], row: str, column: str) -> str:
    """The cell of ``table`` in the row labelled ``row`` and the column headed ``column`` (first header row)."""
    header = table[0]
    labels = [r[0] for r in table[1:]]
    assert column in header, f"no column {column!r} in {header}"
    assert row in labels, f"no row {row!r} in {labels}"
    return table[1 + labels.index(row)][header.index(column)]


def table_with(notebook: nbformat.NotebookNode, *labels: str) -> list[list[str]]:
    matching = [t for t in tables(notebook) if set(labels) <= {cell for r in t for cell in r}]
    assert matching, f"no table showing {labels}"
    return matching[0]


def run_folder(runs_root: Path, loss: str) -> Path:
    """The one run of ``loss`` the pages trained in ``runs_root`` (tiny preset, GaitGL)."""
    found = sorted(runs_root.glob(f"tiny-gaitgl-{loss}-*"))
    assert len(found) == 1, f"expected one {loss} run in {runs_root}, found {[p.name for p in found]}"
    return found[0]


def eval_json(run_dir: Path) -> dict:
    return json.loads((run_dir / "eval.json").read_text())


def close(shown: str, value: float, decimals: int) -> bool:
    """Whether the page's ``shown`` text is ``value`` rounded to ``decimals``."""
    return math.isclose(float(shown), value, abs_tol=0.5 * 10**-decimals + 1e-9)


# ---- the committed notebooks


def test_there_are_notebooks_and_each_has_its_expectations():
    assert NOTEBOOKS, f"no notebooks in {notebook_dir()}"
    assert {p.stem for p in NOTEBOOKS} == set(FIGURES) == set(TABLES), "a page without expectations here"


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


# ---- every page executed on tiny: all cells, its figures, its tables


def figures_missing(executed: nbformat.NotebookNode) -> list[int]:
    """Indices of code cells that call ``plt.show()`` unconditionally but show no image."""
    missing = []
    for i, cell in enumerate(executed.cells):
        if cell.cell_type != "code" or not any(line.startswith("plt.show()") for line in cell.source.splitlines()):
            continue
        if not any("image/png" in out.get("data", {}) for out in cell.get("outputs", [])):
            missing.append(i)
    return missing


@pytest.mark.slow
@pytest.mark.parametrize("name", NAMES)
def test_notebook_executes_every_cell_on_tiny(name, executed):
    code = [c for c in executed(name).cells if c.cell_type == "code"]
    assert all(c.execution_count is not None for c in code), f"{name}: not every cell ran"


@pytest.mark.slow
@pytest.mark.parametrize("name", NAMES)
def test_notebook_shows_its_figures(name, executed):
    notebook = executed(name)
    images = sum("image/png" in out.get("data", {}) for out in outputs(notebook))
    assert images == FIGURES[name], f"{name}: {images} figures shown, expected {FIGURES[name]}"
    assert not figures_missing(notebook), f"{name}: cells {figures_missing(notebook)} drew no figure"


@pytest.mark.slow
@pytest.mark.parametrize("name", NAMES)
def test_notebook_shows_its_tables(name, executed):
    shown = [{cell for row in table for cell in row} for table in tables(executed(name))]
    for labels in TABLES[name]:
        assert any(labels <= cells for cells in shown), f"{name}: no table shows {sorted(labels)}"


# ---- the numbers each page shows are those of its data and runs


@pytest.mark.slow
def test_loss_anatomy_compares_the_three_losses_in_the_static_copy(executed):
    notebook = executed("00_loss_anatomy")
    final = table_with(notebook, "triplets violating the margin")
    assert [row[0] for row in final[1:]] == ["triplet", "GIL margin", "GIL softmax"]
    assert "Static copy: set interactive = True" in stdout(notebook)


@pytest.mark.slow
def test_data_page_describes_the_data_root_it_was_given(executed, tiny_root):
    notebook = executed("01_data")
    preset = json.loads((tiny_root / "syngait.json").read_text())["preset"]
    assert f"SynGait preset `{preset['name']}`" in markdown(notebook)
    assert f"{preset['subjects']} subjects, {len(preset['views'])} views" in markdown(notebook)
    split = table_with(notebook, "on disk", "train", "test")
    sequences = len(list(tiny_root.glob("*/*/*/*.pkl")))
    assert sum(int(lookup(split, s, "sequences")) for s in ("train", "test")) == sequences
    assert sum(int(lookup(split, s, "subjects")) for s in ("train", "test")) == preset["subjects"]
    assert "subjects on disk in neither set: 0" in stdout(notebook)


@pytest.mark.slow
def test_train_page_shows_the_rank1_of_the_run_it_trained(executed):
    notebook = executed("02_train")
    run_dir = run_folder(executed.runs("02_train"), "gil_margin")
    assert f"run folder: {run_dir}" in stdout(notebook)
    report = eval_json(run_dir)
    summary = table_with(notebook, "rank-1 (%)", "mAP (%)")
    for group, rank1 in report["summary"].items():
        assert close(lookup(summary, group, "rank-1 (%)"), rank1, 2), (group, rank1)
        assert close(lookup(summary, group, "mAP (%)"), report["map_summary"][group], 2)
        assert int(lookup(summary, group, "probes")) == report["num_probes"][group]
    assert f"gallery: {report['num_gallery']} sequences" in stdout(notebook)
    best = max(report["summary"], key=report["summary"].get)
    assert f"highest for **{best}** probes ({report['summary'][best]:.1f} %)" in markdown(notebook)


@pytest.mark.slow
def test_cross_view_page_compares_the_rank1_of_both_runs(executed):
    notebook = executed("03_cross_view")
    reports = {}
    for loss in LOSSES:
        run_dir = run_folder(executed.runs("03_cross_view"), loss)
        assert f"{loss}: {run_dir.name}, {STEPS} steps, model gaitgl" in stdout(notebook)
        reports[loss] = eval_json(run_dir)["summary"]
    table = table_with(notebook, "rank-1 mean", *LOSSES)
    base, other = LOSSES
    for group in reports[base]:
        for loss in LOSSES:
            assert close(lookup(table, loss, f"rank-1 {group}"), reports[loss][group], 2), (loss, group)
        difference = reports[other][group] - reports[base][group]
        assert close(lookup(table, f"{other} − {base}", f"rank-1 {group}"), difference, 2), group
        assert f"{group} {difference:+.1f}" in markdown(notebook)


@pytest.mark.slow
def test_uniformity_page_maps_the_test_embeddings_of_the_runs(executed):
    notebook = executed("04_uniformity")
    for loss in LOSSES:
        with np.load(run_folder(executed.runs("04_uniformity"), loss) / "embeddings.npz") as saved:
            n, p, c = saved["embeddings"].shape
            identities = len(np.unique(saved["subjects"]))
        assert f"test set: {n} sequences of {identities} identities; embeddings {p} parts × {c} dims" in stdout(
            notebook
        )
    assert f"UMAP projection of the {n} test sequences ({identities} identities" in markdown(notebook)


@pytest.mark.slow
def test_margins_page_reads_both_runs(executed):
    notebook = executed("05_margins")
    for loss in LOSSES:
        assert f"{loss}: {run_folder(executed.runs('05_margins'), loss).name}" in stdout(notebook)
    assert re.search(r"margin rule: m0 = [\d.]+, kappa = [\d.]+, m_min = [\d.]+, m_max = [\d.]+", stdout(notebook))


def committed_study() -> tuple[pd.DataFrame, dict]:
    root = checkout() / "results" / "study"
    return pd.read_csv(root / "ablation.csv"), json.loads((root / "provenance.json").read_text())


def mean_rank1(ablation: pd.DataFrame, variant: str, condition: str, backbone: str | None = None) -> float:
    rows = ablation[(ablation["variant"] == variant) & (ablation["condition"] == condition)]
    if backbone is not None:
        rows = rows[rows["backbone"] == backbone]
    return rows["rank1"].mean()


@pytest.mark.slow
def test_ablation_page_shows_the_committed_study(executed):
    notebook = executed("06_ablation")
    ablation, provenance = committed_study()
    assert set(ablation["backbone"]) == set(BACKBONES_STUDIED)
    facts = table_with(notebook, "cells (backbone × variant × seed)")
    assert int(lookup(facts, "cells (backbone × variant × seed)", "provenance")) == len(provenance["cells"])
    for backbone, rows in ablation.groupby("backbone"):
        rank1 = table_with(notebook, backbone, "triplet", "gil_margin")
        for condition in ("NM", "BG", "CL"):
            for variant in rows["variant"].unique():
                shown = lookup(rank1, variant, condition)
                expected = f"{mean_rank1(rows, variant, condition):.1f}"
                assert shown.startswith(expected), (backbone, variant, condition, shown)
    first = pd.read_csv(checkout() / "results" / "study" / "gaitgl-v1" / "ablation.csv")
    record = table_with(notebook, "first study")
    for variant in first["variant"].unique():
        shown = lookup(record, variant, "CL")
        assert shown.startswith(f"{mean_rank1(first, variant, 'CL'):.1f} ["), (variant, shown)


@pytest.mark.slow
def test_paper_page_sets_the_committed_study_beside_table_1(executed):
    from gil.experiments import paper

    notebook = executed("07_paper")
    ablation, _ = committed_study()
    names = {"triplet": "baseline (triplet)", "gil_margin": "+ GIL (L_m)", "gil_softmax": "+ GIL (L_s)"}
    for backbone in BACKBONES_STUDIED:
        ours = table_with(notebook, backbone, "baseline (triplet)")
        for condition in ("NM", "BG", "CL"):
            for variant, method in names.items():
                shown = lookup(ours, method, condition)
                expected = f"{mean_rank1(ablation, variant, condition, backbone):.1f} ± "
                assert shown.startswith(expected), (backbone, method, condition, shown)
    gains = table_with(notebook, "GIL minus baseline")
    assert lookup(gains, "paper · LT (74) · GaitGL + GIL (L_m)", "CL") == "+6.2"  # 89.8 − 83.6
    assert lookup(gains, "authors' branch · OU-MVLP · GaitGL + GiLoss", "all") == "+0.6"  # 90.5 − 89.9
    published = table_with(notebook, "GaitGL + GIL (L_m)")
    cells = [cell for row in published for cell in row]
    for value in paper.table1()["rank1"]:
        assert f"{value:.1f}" in cells, f"the paper's {value} is not in the table"


# ---- other ways of calling the pages


@pytest.mark.slow
def test_a_folder_of_real_data_in_opengait_layout_trains_with_an_explicit_preset(tiny_root, tmp_path):
    root = tmp_path / "gait-pkl"
    shutil.copytree(tiny_root, root)
    (root / "syngait.json").unlink()  # not the twin: the page must not rely on it
    path = notebook_dir() / "03_cross_view.ipynb"
    runs = tmp_path / "r"
    executed = execute(path, tmp_path / path.name, data_root=str(root), preset="tiny", steps=STEPS, runs_root=str(runs))
    assert not figures_missing(executed)
    for loss in LOSSES:
        assert f"{loss}: {run_folder(runs, loss).name}, {STEPS} steps" in stdout(executed)


@pytest.mark.slow
def test_papermill_cli_from_another_folder_without_a_kernel_option(tiny_root, tmp_path):
    """The README's call, run outside the checkout without ``-k``: the notebook's kernelspec ``python3`` is the
    Python that runs papermill, with no kernel registered (a scratch Jupyter data folder: the user's own kernels are
    neither read nor changed)."""
    work = tmp_path / "elsewhere"
    work.mkdir()
    papermill = Path(sys.executable).with_name("papermill")
    notebook = notebook_dir() / "02_train.ipynb"
    command = [str(papermill), str(notebook), "out.ipynb", "-p", "data_root", str(tiny_root), "-p", "steps", "3"]
    command += ["-p", "runs_root", str(tmp_path / "runs"), "-p", "device", "cpu"]
    env = {**os.environ, "JUPYTER_DATA_DIR": str(tmp_path / "jupyter-data"), "JUPYTER_PATH": ""}
    result = subprocess.run(command, cwd=work, env=env, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    executed = nbformat.read(work / "out.ipynb", as_version=4)
    assert executed.metadata["kernelspec"]["name"] == KERNEL
    assert not figures_missing(executed)
    run_dir = run_folder(tmp_path / "runs", "gil_margin")
    summary = table_with(executed, "rank-1 (%)")
    for group, rank1 in eval_json(run_dir)["summary"].items():
        assert close(lookup(summary, group, "rank-1 (%)"), rank1, 2), (group, rank1)


def test_papermill_with_a_bad_parameter_fails_at_once_naming_it(tiny_root, tmp_path):
    import papermill

    path = notebook_dir() / "02_train.ipynb"
    with pytest.raises(papermill.PapermillExecutionError, match=r"backbone='gaitnet'"):
        execute(path, tmp_path / "out.ipynb", data_root=str(tiny_root), backbone="gaitnet", runs_root=str(tmp_path))
    assert not list(tmp_path.glob("tiny-*")), "a bad parameter must not leave a run folder"
