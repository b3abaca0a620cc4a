import json

import pytest

from gil.data import partitions
from gil.data.partitions import Partition, load_partition


@pytest.mark.parametrize("name", partitions.NAMES)
def test_json_equals_code(name):
    path = partitions.PARTITION_DIR / f"{name}.json"
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


def test_paths_roots_and_errors(tmp_path, monkeypatch):
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
    monkeypatch.setattr(partitions, "PARTITION_DIR", tmp_path / "absent")  # installed wheel: no JSON
    assert load_partition("casia-b-st") == partitions.casia_b("casia-b-st")
