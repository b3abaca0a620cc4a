"""The result files of cell-by-cell experiments (``gil select``, ``gil curves``): merge one finished cell in place,
and add up the time their cells recorded.

A cell's rows replace the older rows with the same key in a CSV, and its provenance entry replaces the one with the
same key in a JSON file; every other cell is kept, so a stopped run keeps what finished and one cell can be rerun.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from gil.experiments.project import checkout
from gil.files import write_atomic

# overrides that leave a cell's fingerprint, hence its numbers, as they are (RunConfig.fingerprint leaves them out)
NEUTRAL_OVERRIDES = frozenset(
    {"data.workers", "trainer.device", "trainer.threads", "trainer.log_every"}
    | {"trainer.checkpoint_every", "trainer.snapshot_every", "trainer.nonfinite"}
)

# the stages of `make study` in order: (stage, file in the results folder, the list of cell entries in it)
STUDY_STAGES = (
    ("select", "selection.json", "cells"),
    ("study", "provenance.json", "cells"),
    ("calibrate", "provenance.json", "calibration"),
    ("curves", "curves.json", "cells"),
    ("noise", "noise.json", "cells"),
)
# what a cell times apart from its training: its scoring (eval_s), the noise split's scoring on the second twin
SCORING_FIELDS = ("eval_s", "eval_b_s")


def merge_rows(
    path: Path,
    rows: list[dict[str, Any]],
    columns: Sequence[str],
    key: Mapping[str, Any],
    dtypes: Mapping[str, type],
    sort: Sequence[str],
    ranks: Mapping[str, Sequence[str]],
) -> None:
    """Write ``rows`` into the CSV at ``path`` in place of the rows whose ``key`` columns equal ``key``'s values;
    sorted by ``sort`` (stable), columns named in ``ranks`` in the order of their listed values."""
    old = pd.read_csv(path) if path.is_file() else pd.DataFrame(columns=list(columns))
    same = np.logical_and.reduce([(old[column] == value).to_numpy() for column, value in key.items()])
    frame = pd.concat([old[~same], pd.DataFrame(rows, columns=list(columns))], ignore_index=True).astype(dict(dtypes))
    position = {column: {v: i for i, v in enumerate(values)} for column, values in ranks.items()}
    frame = frame.sort_values(
        list(sort), key=lambda c: c.map(position[c.name]) if c.name in position else c, kind="stable"
    )
    write_atomic(path, frame.to_csv(index=False, float_format="%.4f"))


def shown_overrides(overrides: Mapping[str, Any] | None) -> dict[str, Any]:
    """The overrides a results file records of its cells: those that change a cell's numbers, with a data root
    inside the checkout written relative to it (so the file reads the same on every machine)."""
    shown = {key: value for key, value in (overrides or {}).items() if key not in NEUTRAL_OVERRIDES}
    project = checkout()
    if project and "data.root" in shown and Path(shown["data.root"]).is_relative_to(project):
        shown["data.root"] = Path(shown["data.root"]).relative_to(project).as_posix()
    return shown


def check_header(path: Path, meta: Mapping[str, Any], cells: str = "cells", **header: Any) -> None:
    """Refuse to add a cell to the results file ``path`` (read as ``meta``) whose existing ``cells`` were made with
    other settings: every ``header`` field (base config, overrides, budget, data) must equal the file's, so one file
    never mixes cells of different experiments under one description. Names the file, both settings and the way out."""
    if not meta.get(cells):
        return
    differ = {name: (meta.get(name), value) for name, value in header.items() if meta.get(name) != value}
    if differ:
        said = "; ".join(f"{name}: the file's {old!r}, this call's {new!r}" for name, (old, new) in differ.items())
        raise ValueError(
            f"{path}: its cells were made with other settings ({said}). Write into another --out, "
            "or rerun every cell of this file with these settings into an empty folder"
        )


def read_header(path: Path, cells: str = "cells", **header: Any) -> dict[str, Any]:
    """``path``'s contents (``{}`` if it does not exist) after :func:`check_header`."""
    meta = json.loads(path.read_text()) if path.is_file() else {}
    check_header(path, meta, cells, **header)
    return meta


def merge_entry(path: Path, entry: dict[str, Any], key: Sequence[str], started: dict[str, Any], **header: Any) -> None:
    """Put ``entry`` into ``path``'s ``cells`` in place of the one with the same ``key`` fields, stamped with the
    commit of ``started`` (:func:`~gil.experiments.provenance.machine` when the command started, i.e. the code that
    ran); ``header`` and ``started`` (as ``machine``) refresh the file's top-level fields. ``header`` must match the
    file's other cells' (:func:`check_header`)."""
    meta = read_header(path, **header)
    meta.update(header, machine=started)
    own = tuple(entry[field] for field in key)
    cells = [c for c in meta.get("cells", []) if tuple(c[field] for field in key) != own]
    meta["cells"] = cells + [{**entry, "commit": started.get("commit")}]
    write_atomic(path, json.dumps(meta, indent=2))


def recorded_hours(folder: Path) -> pd.DataFrame:
    """Per stage of ``make study`` whose file is in ``folder`` (:data:`STUDY_STAGES`): its number of cells and the
    hours they recorded (``wall_s`` plus :data:`SCORING_FIELDS` where a cell times its scoring apart). A cell that
    reused a run records the reuse, not the training (that is in the stage that trained it)."""
    records = []
    for stage, name, field in STUDY_STAGES:
        path = folder / name
        if path.is_file():
            entries = json.loads(path.read_text()).get(field, [])
            seconds = sum(float(e.get(key, 0.0)) for e in entries for key in ("wall_s", *SCORING_FIELDS))
            records.append({"stage": stage, "cells": len(entries), "hours": seconds / 3600})
    return pd.DataFrame.from_records(records, columns=["stage", "cells", "hours"])
