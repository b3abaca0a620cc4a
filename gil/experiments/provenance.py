"""What produced a result: the software environment (with the lock file's hash) and the machine.

The trainer appends a session record to each run folder's ``provenance.json``; ``gil train`` and the notebooks'
run cache pass :func:`machine` as that record, and the study records the same per cell.
"""

from __future__ import annotations

import hashlib
import platform
import subprocess
from importlib import metadata
from pathlib import Path
from typing import Any

import torch

import gil
from gil.experiments.project import LOCK_NAME, checkout
from gil.train import session_record


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def installed_packages() -> dict[str, str]:
    """``{name: version}`` of every distribution installed beside gil (lower-case names)."""
    found: dict[str, str] = {}
    for dist in metadata.distributions():
        name = (dist.metadata["Name"] or "").lower().replace("_", "-")
        if name:
            found[name] = dist.version
    return dict(sorted(found.items()))


def read_lock(path: str | Path) -> dict[str, str]:
    """``{name: version}`` of the ``name==version`` lines of a pip requirements lock (comments skipped)."""
    pins: dict[str, str] = {}
    for line in Path(path).read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if "==" in line and not line.startswith("-"):
            name, version = line.split("==", 1)
            pins[name.split("[", 1)[0].strip().lower().replace("_", "-")] = version.split(";", 1)[0].strip()
    return pins


def lock_differences(lock: dict[str, str], installed: dict[str, str]) -> dict[str, tuple[str | None, str | None]]:
    """Packages whose installed version is not the locked one: ``{name: (locked, installed)}``.

    Only the lock's own entries are compared (pip, setuptools and gil itself are not in the lock).
    """
    return {name: (version, installed.get(name)) for name, version in lock.items() if installed.get(name) != version}


def environment() -> dict[str, Any]:
    """gil, Python and torch versions, a hash of every installed package version, and the lock's hash with
    whether this environment matches it (``lock`` is ``None`` without a source checkout)."""
    packages = installed_packages()
    env: dict[str, Any] = {
        "gil": gil.__version__,
        "python": platform.python_version(),
        "torch": torch.__version__,
        "packages_sha256": _sha256("\n".join(f"{k}=={v}" for k, v in packages.items()))[:16],
        "lock": None,
    }
    root = checkout()
    lock_path = root / LOCK_NAME if root else None
    if lock_path is not None and lock_path.is_file():
        off = lock_differences(read_lock(lock_path), packages)
        env["lock"] = {
            "file": LOCK_NAME,
            "sha256": hashlib.sha256(lock_path.read_bytes()).hexdigest()[:16],
            "matches": not off,
            "differs": {name: {"locked": a, "installed": b} for name, (a, b) in off.items()},
        }
    return env


def git_commit() -> str:
    """HEAD of the source checkout, or ``unknown`` (wheel install, no git)."""
    root = checkout()
    if root is None:
        return "unknown"
    try:
        return subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, check=True
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def machine() -> dict[str, Any]:
    """The trainer's :func:`gil.train.session_record` (versions, platform, threads, cores) with the commit, the CPU
    and the software :func:`environment` (the lock's hash and whether it matches)."""
    cpu = platform.processor() or platform.machine()
    if Path("/proc/cpuinfo").is_file():
        names = [
            ln.split(":", 1)[1].strip()
            for ln in Path("/proc/cpuinfo").read_text().splitlines()
            if ln.startswith("model name")
        ]
        cpu = names[0] if names else cpu
    return {"commit": git_commit(), **session_record(), "cpu": cpu, "environment": environment()}
