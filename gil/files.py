"""The files gil ships, and writing files so that a reader never sees a half-written one.

:func:`resource` reads the package's own data (configs, partitions) through ``importlib.resources``, so an
installed wheel works as a checkout does. :func:`write_atomic` is the one way results, checkpoints, configs
and data are written: to a temporary file beside the target, then renamed over it.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import IO, Any

TMP_SUFFIX = ".tmp"


def resource(*parts: str) -> Traversable:
    """A file or folder shipped inside the package, e.g. ``resource("configs", "partitions")``."""
    return resources.files("gil").joinpath(*parts)


def write_atomic(path: str | Path, content: bytes | str | Callable[[IO[bytes]], None], fsync: bool = False) -> Path:
    """Write ``content`` (bytes, text, or a function writing to a binary handle) to ``path`` atomically.

    An interruption at any point leaves the old file or the new one, never a torn file, and no temporary file
    behind unless the process is killed (:func:`remove_stale_temporaries` cleans those). ``fsync`` flushes the
    data to disk before the rename (checkpoints).
    """
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}{TMP_SUFFIX}")
    try:
        with open(tmp, "wb") as handle:
            if isinstance(content, str):
                handle.write(content.encode())
            elif isinstance(content, bytes):
                handle.write(content)
            else:
                content(handle)
            if fsync:
                handle.flush()
                os.fsync(handle.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def write_json(path: str | Path, obj: Any) -> Path:
    """``obj`` as indented JSON, atomically."""
    return write_atomic(path, json.dumps(obj, indent=2))


def remove_stale_temporaries(folder: str | Path) -> list[Path]:
    """Delete the temporary files of :func:`write_atomic` in ``folder`` whose writer is no longer running.

    A ``kill -9`` during a write leaves one behind; returns what was removed.
    """
    removed = []
    for tmp in Path(folder).glob(f".*{TMP_SUFFIX}"):
        pid = tmp.name.removesuffix(TMP_SUFFIX).rsplit(".", 1)[-1]
        if pid.isdigit() and int(pid) != os.getpid() and _running(int(pid)):
            continue
        tmp.unlink(missing_ok=True)
        removed.append(tmp)
    return removed


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, someone else's
        return True
    return True
