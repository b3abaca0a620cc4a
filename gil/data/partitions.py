"""Train/test subject partitions: CASIA-B ST/MT/LT, OUMVLP, or any OpenGait partition JSON.

The JSON files live in the repository's ``data/partitions/`` (OpenGait's format
``{"TRAIN_SET": [...], "TEST_SET": [...]}``). CASIA-B's are also computed in code, so an
installed wheel without that folder still knows them.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

PARTITION_DIR = Path(__file__).resolve().parents[2] / "data" / "partitions"

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


def _from_json(path: Path) -> Partition:
    try:
        obj = json.loads(path.read_text())
        train, test = obj["TRAIN_SET"], obj["TEST_SET"]
    except (OSError, json.JSONDecodeError, KeyError, TypeError) as err:
        raise ValueError(f'{path}: expected JSON {{"TRAIN_SET": [...], "TEST_SET": [...]}} ({err})') from err
    if not all(isinstance(s, str) for s in [*train, *test]):
        raise ValueError(f"{path}: subject ids must be strings")
    return Partition(tuple(train), tuple(test))


def load_partition(name_or_path: str | os.PathLike) -> Partition:
    """A partition by name (``casia-b-st|mt|lt``, ``oumvlp``), JSON path, or root with ``partition.json``."""
    key = str(name_or_path)
    if key in NAMES:
        path = PARTITION_DIR / f"{key}.json"
        if path.is_file():
            return _from_json(path)
        return oumvlp() if key == "oumvlp" else casia_b(key)
    path = Path(name_or_path)
    if path.is_dir():
        path = path / "partition.json"
    if path.is_file():
        return _from_json(path)
    raise FileNotFoundError(
        f"partition {key!r}: not a known name ({', '.join(NAMES)}), nor a JSON file, nor a folder with partition.json"
    )


def write_partitions(folder: Path = PARTITION_DIR) -> None:
    """(Re)write the named partitions as JSON (used once to create ``data/partitions``)."""
    folder.mkdir(parents=True, exist_ok=True)
    for name in NAMES:
        part = oumvlp() if name == "oumvlp" else casia_b(name)
        tmp = folder / f".{name}.json.tmp"
        tmp.write_text(json.dumps(part.to_json(), indent=1) + "\n")
        os.replace(tmp, folder / f"{name}.json")
