"""Train/test subject partitions: CASIA-B ST/MT/LT, OUMVLP, or any OpenGait partition JSON.

The named partitions ship inside the package (``gil/configs/partitions/*.json``, read through
``importlib.resources``) in OpenGait's format ``{"TRAIN_SET": [...], "TEST_SET": [...]}``; CASIA-B's and
OUMVLP's are also computed in code, and the tests check that both agree.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from importlib.resources.abc import Traversable
from pathlib import Path

from gil.files import resource

PARTITION_DIR: Traversable = resource("configs", "partitions")

# CASIA-B: the paper's settings train on the first 24 / 62 / 74 subjects; all test on 075-124.
CASIA_B_SETTINGS = {"casia-b-st": 24, "casia-b-mt": 62, "casia-b-lt": 74}
NAMES = (*CASIA_B_SETTINGS, "oumvlp")


@dataclass(frozen=True)
class Partition:
    """Subject ids used for training and for testing (disjoint)."""

    train: tuple[str, ...]
    test: tuple[str, ...]

    def __post_init__(self) -> None:
        overlap = set(self.train) & set(self.test)
        if overlap:
            raise ValueError(f"partition: train and test share subjects {sorted(overlap)[:5]}")

    def to_json(self) -> dict[str, list[str]]:
        return {"TRAIN_SET": list(self.train), "TEST_SET": list(self.test)}


def casia_b(setting: str) -> Partition:
    """CASIA-B partition ``casia-b-st|mt|lt`` computed in code."""
    if setting not in CASIA_B_SETTINGS:
        raise ValueError(f"unknown CASIA-B setting {setting!r}; known: {', '.join(CASIA_B_SETTINGS)}")
    n = CASIA_B_SETTINGS[setting]
    return Partition(tuple(f"{i:03d}" for i in range(1, n + 1)), tuple(f"{i:03d}" for i in range(75, 125)))


def oumvlp() -> Partition:
    """OUMVLP as OpenGait's ``datasets/OUMVLP/OUMVLP.json``.

    Odd ids 00001-10305 train (5,153); even ids 00002-10306 and 10307 test (5,154).
    """
    train = tuple(f"{i:05d}" for i in range(1, 10306, 2))
    test = tuple(f"{i:05d}" for i in range(2, 10307, 2)) + ("10307",)
    return Partition(train, test)


def _from_json(path: Path | Traversable) -> Partition:
    try:
        obj = json.loads(path.read_text())
        train, test = obj["TRAIN_SET"], obj["TEST_SET"]
    except (OSError, json.JSONDecodeError, KeyError, TypeError) as err:
        raise ValueError(f'{path}: expected JSON {{"TRAIN_SET": [...], "TEST_SET": [...]}} ({err})') from err
    for key, ids in (("TRAIN_SET", train), ("TEST_SET", test)):
        if not isinstance(ids, list) or not all(isinstance(s, str) for s in ids):
            raise ValueError(f"{path}: {key} must be a list of subject ids (strings), got {ids!r:.80}")
        if not ids:
            raise ValueError(f"{path}: {key} is empty; a partition trains on some subjects and tests on others")
    return Partition(tuple(train), tuple(test))


def load_partition(name_or_path: str | os.PathLike) -> Partition:
    """A partition by name (``casia-b-st|mt|lt``, ``oumvlp``), JSON path, or root with ``partition.json``."""
    key = str(name_or_path)
    if key in NAMES:
        return _from_json(PARTITION_DIR / f"{key}.json")
    path = Path(name_or_path)
    if path.is_dir():
        path = path / "partition.json"
    if path.is_file():
        return _from_json(path)
    raise FileNotFoundError(
        f"partition {key!r}: not a known name ({', '.join(NAMES)}), nor a JSON file, nor a folder with partition.json"
    )


def infer_partition(root: str | os.PathLike) -> str:
    """The ``data.partition`` that fits a data root: ``dataset`` when it holds ``partition.json`` (every
    embedded twin does); ``casia-b-lt`` or ``oumvlp`` when its subject folders carry CASIA-B's or OUMVLP's ids
    (test subjects among them)."""
    root = Path(root)
    if (root / "partition.json").is_file():
        return "dataset"
    subjects = {p.name for p in root.iterdir() if p.is_dir()} if root.is_dir() else set()
    for name in ("casia-b-lt", "oumvlp"):
        known = load_partition(name)
        if subjects and subjects <= set(known.train) | set(known.test) and subjects & set(known.test):
            return name
    raise ValueError(
        f"partition: {root} has no partition.json and its subjects are neither CASIA-B's nor OUMVLP's; "
        f"give one of {', '.join(NAMES)}, a JSON file in OpenGait's format, or put partition.json into the root"
    )
