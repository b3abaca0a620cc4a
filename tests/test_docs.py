"""The book's API reference (``book/api*.md``): every page is in the table of contents, every module it documents
imports, the library's public packages are all there, and the pages build with Sphinx without a warning."""

import importlib
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

BOOK = Path(__file__).resolve().parents[1] / "book"
PAGES = sorted(BOOK.glob("api*.md"))
AUTOMODULE = re.compile(r"^\.\. automodule:: (\S+)$", re.MULTILINE)
DOCUMENTED = [name for page in PAGES for name in AUTOMODULE.findall(page.read_text(encoding="utf-8"))]
# what a library user imports; gil.cli, gil.experiments and gil.plots are this reproduction's tooling
PUBLIC = [
    "gil.config",
    "gil.data",
    "gil.models",
    "gil.losses",
    "gil.train",
    "gil.evaluate",
    "gil.metrics",
    "gil.run_folder",
    "gil.checkpoints",
    "gil.integrations.pml",
    "gil.integrations.opengait",
]


def toc_files(entries: list[dict]) -> list[str]:
    files = []
    for entry in entries:
        files += [entry["file"]] if "file" in entry else []
        files += toc_files(entry.get("chapters", []) + entry.get("sections", []) + entry.get("parts", []))
    return files


def test_every_api_page_is_in_the_table_of_contents():
    toc = yaml.safe_load((BOOK / "_toc.yml").read_text(encoding="utf-8"))
    listed = set(toc_files(toc["parts"]))
    assert PAGES, "no book/api*.md"
    assert [page.stem for page in PAGES if page.stem not in listed] == []


def test_every_public_package_has_its_section():
    assert [name for name in PUBLIC if name not in DOCUMENTED] == []
    assert len(DOCUMENTED) == len(set(DOCUMENTED)), "a module is documented twice"


@pytest.mark.parametrize("name", DOCUMENTED)
def test_every_documented_module_imports(name):
    if name == "gil.integrations.pml":
        pytest.importorskip("pytorch_metric_learning")  # the [pml] extra; the book mocks it where it is missing
    importlib.import_module(name)


@pytest.mark.slow
def test_the_api_pages_build_without_a_warning(tmp_path):
    """Only the API pages (the notebooks are executed by ``gil book``), with the book's own ``_config.yml``;
    ``-W``: an unresolvable docstring (an import error, broken reST) fails the build."""
    pytest.importorskip("jupyter_book")
    book = tmp_path / "book"
    shutil.copytree(BOOK, book, ignore=shutil.ignore_patterns("_build", "notebooks"))
    chapters = [{"file": page.stem} for page in PAGES if page.stem != "api"]
    toc = {"format": "jb-book", "root": "api", "chapters": chapters}
    (book / "_toc.yml").write_text(yaml.safe_dump(toc), encoding="utf-8")
    executable = Path(sys.executable).with_name("jupyter-book")
    command = [str(executable) if executable.exists() else "jupyter-book", "build", str(book), "-W", "--keep-going"]
    done = subprocess.run(command, capture_output=True, text=True, timeout=600)
    output = re.sub(r"\x1b\[[0-9;]*m", "", done.stdout + done.stderr)  # no colour codes in the message
    warnings = [line for line in output.splitlines() if "WARNING" in line or "ERROR" in line]
    assert done.returncode == 0, "\n".join(warnings) or output[-3000:]
    html = book / "_build" / "html"
    for page in PAGES:
        assert (html / f"{page.stem}.html").exists()
    losses = (html / "api_losses.html").read_text(encoding="utf-8")
    assert 'id="gil.losses.gil.GeneralizedInterClassLoss"' in losses  # autodoc rendered the members, not just text
