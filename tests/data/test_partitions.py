import json

import pytest

from gil.data import partitions
from gil.data.partitions import Partition, load_partition


@pytest.mark.parametrize("name", partitions.NAMES)
def test_json_shipped_in_the_package_equals_code(name):
    path = partitions.PARTITION_DIR / f"{name}.json"  # importlib.resources: present in a wheel install too
    code = partitions.oumvlp() if name == "oumvlp" else partitions.casia_b(name)
    obj = json.loads(path.read_text())
    assert Partition(tuple(obj["TRAIN_SET"]), tuple(obj["TEST_SET"])) == code
    assert load_partition(name) == code


def test_casia_b_settings():
    for name, n in (("casia-b-st", 24), ("casia-b-mt", 62), ("casia-b-lt", 74)):
        p = load_partition(name)
        assert p.train == tuple(f"{i:03d}" for i in range(1, n + 1))
        assert p.test == tuple(f"{i:03d}" for i in range(75, 125))


def test_oumvlp_sizes():
    p = load_partition("oumvlp")
    assert len(p.train) == 5153 and len(p.test) == 5154
    assert sorted(p.train + p.test, key=int) == [f"{i:05d}" for i in range(1, 10308)]


def test_paths_roots_and_errors(tmp_path):
    (tmp_path / "partition.json").write_text(json.dumps({"TRAIN_SET": ["a"], "TEST_SET": ["b"]}))
    assert load_partition(tmp_path) == Partition(("a",), ("b",))
    assert load_partition(tmp_path / "partition.json").test == ("b",)
    with pytest.raises(FileNotFoundError, match="casia-b-lt"):
        load_partition("casia-c")
    (tmp_path / "bad.json").write_text("{}")
    with pytest.raises(ValueError, match="bad.json"):
        load_partition(tmp_path / "bad.json")
    with pytest.raises(ValueError, match="share"):
        Partition(("a",), ("a",))


def test_infer_partition_from_the_root(tmp_path):
    (tmp_path / "partition.json").write_text(json.dumps({"TRAIN_SET": ["a"], "TEST_SET": ["b"]}))
    assert partitions.infer_partition(tmp_path) == "dataset"
    casia = tmp_path / "casia"
    for subject in ("001", "074", "075", "124"):
        (casia / subject).mkdir(parents=True)
    assert partitions.infer_partition(casia) == "casia-b-lt"
    ou = tmp_path / "ou"
    for subject in ("00001", "00002"):
        (ou / subject).mkdir(parents=True)
    assert partitions.infer_partition(ou) == "oumvlp"
    other = tmp_path / "other"
    (other / "alice").mkdir(parents=True)
    with pytest.raises(ValueError, match="partition.json"):
        partitions.infer_partition(other)
