"""The notebooks' parameters: relative paths from the project root, every value checked before any work.

A notebook calls :func:`training` (or :func:`data`) with its parameters cell's values first. Whatever the
kernel's working directory (papermill from another folder, ``jupyter execute``, JupyterLab), a relative path
means the same file: it is taken from the project root, the checkout this ``gil`` belongs to. A bad value
raises ``ValueError`` naming the parameter and its valid values, before anything is trained or written.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gil.config import RunConfig, bundled_configs, resolve_path
from gil.data.opengait import GaitDataset
from gil.data.partitions import NAMES, Partition, infer_partition, load_partition
from gil.experiments import runs
from gil.experiments.catalog import BACKBONES  # the names the CLI offers, defined there
from gil.experiments.project import checkout, is_checkout

LOSSES = ("triplet", "gil_margin", "gil_softmax", "gil_margin_first")  # the last: λ_u = 0.1, the first reconstruction
# a twin's preset -> the config family that trains on it (casia-b-sized twins and real data use `small`)
CONFIG_FAMILY = {"tiny": "tiny", "small": "small", "casia-b": "small"}


def project_root() -> Path:
    """The checkout of this ``gil`` (``$GIL_PROJECT_ROOT`` first); without one, the nearest checkout at or above
    the working directory; else the working directory."""
    root = checkout()
    if root is not None:
        return root
    here = Path.cwd().resolve()
    return next((folder for folder in (here, *here.parents) if is_checkout(folder)), here)


def resolve(path: str | Path) -> Path:
    """A notebook parameter's path made absolute: relative ones from :func:`project_root`."""
    return resolve_path(path, project_root())


def _choice(name: str, value: Any, valid: Sequence[Any]) -> Any:
    if value not in valid:
        raise ValueError(f"parameter {name}={value!r}: expected one of {', '.join(map(str, valid))}")
    return value


def _data_root(data_root: str | Path) -> Path:
    root = resolve(data_root)
    if not root.is_dir():
        raise ValueError(
            f"parameter data_root={str(data_root)!r}: {root} is not a folder. Generate the embedded twin with "
            f"`gil data generate --preset small --out {root}` (or `make data`), or give a root in OpenGait's "
            "pkl layout ROOT/<subject>/<condition>/<view>/*.pkl"
        )
    return root


def twin_preset(root: Path) -> str | None:
    """The SynGait preset a data root was generated with (its ``syngait.json``), ``None`` for other data."""
    meta = root / "syngait.json"
    if not meta.is_file():
        return None
    try:
        return str(json.loads(meta.read_text())["preset"]["name"])
    except (json.JSONDecodeError, KeyError, TypeError) as err:
        raise ValueError(f"{meta}: not a SynGait description ({err})") from err


def _partition(root: Path, partition: str | None) -> tuple[str, Partition]:
    if partition is None:
        name = infer_partition(root)
    elif partition in ("dataset", *NAMES):
        name = partition
    else:
        path = resolve(partition)
        if not path.is_file():
            raise ValueError(
                f"parameter partition={partition!r}: expected None (ROOT/partition.json), dataset, "
                f"{', '.join(NAMES)} or a JSON file; {path} does not exist"
            )
        name = str(path)
    split = load_partition(root / "partition.json" if name == "dataset" else name)
    on_disk = {p.name for p in root.iterdir() if p.is_dir()}
    for part, ids in (("training", split.train), ("test", split.test)):
        missing = sorted(set(ids) - on_disk)
        if missing:
            raise ValueError(
                f"parameter partition={name!r}: {len(missing)} of its {len(ids)} {part} subjects are not in "
                f"{root} (e.g. {', '.join(missing[:5])})"
            )
    return name, split


def data(data_root: str | Path, partition: str | None = None) -> tuple[Path, Partition]:
    """The checked data root (absolute) and its train/test split, for pages that only read the data."""
    root = _data_root(data_root)
    return root, _partition(root, partition)[1]


@dataclass(frozen=True)
class TrainingSetup:
    """The checked parameters of a page that trains (or reuses) one run per loss."""

    data_root: Path
    preset: str  # config family gil/configs/embedded/{preset}_{loss}
    partition: str
    backbone: str
    losses: tuple[str, ...]
    steps: int | None
    device: str
    runs_root: Path

    def config(self, loss: str) -> RunConfig:
        """The run config of ``loss`` on this page's data, backbone, steps and device."""
        protocol = "oumvlp" if self.partition == "oumvlp" else "casia-b"
        return runs.embedded_config(
            loss,
            preset=self.preset,
            backbone=self.backbone,
            steps=self.steps,
            data_root=self.data_root,
            device=self.device,
            overrides={"data.partition": self.partition, "data.protocol": protocol},
        )

    def run_dir(self, loss: str) -> Path:
        return runs.run_dir_for(self.config(loss), self.runs_root)

    def load_runs(self, progress: bool = False) -> dict[str, runs.Run]:
        """Every loss's finished run: reused from ``runs_root`` when cached, trained and evaluated otherwise."""
        return {
            loss: runs.load_run(runs.get_or_train(self.config(loss), runs_root=self.runs_root, progress=progress))
            for loss in self.losses
        }


def check_steps(steps: int | None) -> None:
    """The ``steps`` parameter: ``None`` (the config's) or a positive integer, else an error naming it."""
    if steps is not None and (isinstance(steps, bool) or not isinstance(steps, int) or steps < 1):
        raise ValueError(f"parameter steps={steps!r}: expected None (the config's) or a positive integer")


def check_device(device: str) -> None:
    """The ``device`` parameter: one this machine has (:func:`gil.device.pick_device`), else an error naming it."""
    from gil.device import pick_device

    try:
        pick_device(device)
    except ValueError as err:
        raise ValueError(f"parameter device={device!r}: {err}") from err


def training(
    data_root: str | Path = "data/syngait-small",
    preset: str | None = None,
    backbone: str = "gaitgl",
    losses: str | Sequence[str] = ("gil_margin",),
    steps: int | None = None,
    device: str = "auto",
    runs_root: str | Path = "runs",
    partition: str | None = None,
) -> TrainingSetup:
    """Check a training page's parameters and resolve its paths; raises ``ValueError`` naming the parameter.

    ``preset`` ``None`` follows the data: a twin's ``syngait.json`` (``tiny`` → the tiny configs, ``small`` and
    ``casia-b`` → the small ones), ``small`` for other data. The batch (``data.identities`` ×
    ``data.per_identity``) is checked against the training identities on disk, and the device against this machine.
    """
    from gil.train import check_batch

    root = _data_root(data_root)
    families = sorted({name.split("/")[1].split("_")[0] for name in bundled_configs() if name.startswith("embedded/")})
    if preset is None:
        preset = CONFIG_FAMILY.get(twin_preset(root) or "", "small")
    _choice("preset", preset, families)
    _choice("backbone", backbone, BACKBONES)
    losses_name = "loss" if isinstance(losses, str) else "losses"  # 02 has one `loss`, 03-05 a list `losses`
    losses = (losses,) if isinstance(losses, str) else tuple(losses)
    if not losses:
        raise ValueError(f"parameter losses=[]: expected at least one of {', '.join(LOSSES)}")
    for loss in losses:
        _choice(losses_name, loss, LOSSES)
    check_steps(steps)
    check_device(device)
    name, split = _partition(root, partition)
    setup = TrainingSetup(root, preset, name, backbone, losses, steps, device, resolve(runs_root))
    config = setup.config(losses[0])
    try:
        check_batch(config, GaitDataset(root, subjects=list(split.train)))
    except ValueError as err:
        smaller = [f for f in families if f != preset]
        raise ValueError(
            f"parameters data_root/preset: {err}; preset={preset!r} batches {config.data.identities} identities × "
            f"{config.data.per_identity} sequences" + (f" (other presets: {', '.join(smaller)})" if smaller else "")
        ) from err
    return setup
