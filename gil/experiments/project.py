"""Where the source checkout of gil lives, for the reproduction's tooling.

The library never needs a checkout: its configs and partitions come from the installed package
(:func:`gil.files.resource`). Tooling that only exists in a checkout (the notebooks, the book, the benchmarks, the
lock file, ``git``) asks :func:`checkout`, which is ``None`` for a wheel install.
"""

from __future__ import annotations

import os
from pathlib import Path

ENV_ROOT = "GIL_PROJECT_ROOT"  # points notebooks and tooling at a checkout when gil is installed from a wheel
LOCK_NAME = "requirements.lock"


def is_checkout(folder: Path) -> bool:
    """Whether ``folder`` is a gil source checkout (``pyproject.toml`` naming gil beside ``gil/``)."""
    pyproject = folder / "pyproject.toml"
    return pyproject.is_file() and (folder / "gil").is_dir() and 'name = "gil-gait"' in pyproject.read_text()


def checkout() -> Path | None:
    """The source checkout: ``$GIL_PROJECT_ROOT`` if set, else the folder above the imported ``gil`` when it is
    one (an editable install or a clone on the path); ``None`` for a wheel install."""
    if os.environ.get(ENV_ROOT):
        root = Path(os.environ[ENV_ROOT]).expanduser().resolve()
        if not is_checkout(root):
            raise FileNotFoundError(f"${ENV_ROOT}={root}: not a gil checkout (no pyproject.toml naming gil)")
        return root
    here = Path(__file__).resolve().parents[2]
    return here if is_checkout(here) else None


def require_checkout(what: str) -> Path:
    """:func:`checkout`, or an error saying that ``what`` needs one."""
    root = checkout()
    if root is None:
        raise FileNotFoundError(
            f"{what} needs a source checkout of gil, but this gil is installed from a wheel "
            f"({Path(__file__).resolve().parent}); clone the repository (or set ${ENV_ROOT} to a clone)"
        )
    return root
