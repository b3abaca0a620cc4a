import os
import pickle

import numpy as np
import pytest

from gil.data.opengait import GaitDataset, dataset_info, index_dataset, safe_load_pkl, summarize


class _Payload:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def _dump(path, obj, protocol=pickle.DEFAULT_PROTOCOL):
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as fh:
        pickle.dump(obj, fh, protocol=protocol)
    return path


def test_refuses_code_execution_payload(tmp_path):
    marker = tmp_path / "pwned"
    path = _dump(tmp_path / "evil.pkl", _Payload(marker))
    with pytest.raises(ValueError, match="evil.pkl.*refused global"):
        safe_load_pkl(path)
    assert not marker.exists()
    path = _dump(tmp_path / "evil_list.pkl", [np.zeros((2, 2), np.uint8), _Payload(marker)])
    with pytest.raises(ValueError, match="evil_list.pkl"):
        safe_load_pkl(path)
    assert not marker.exists()


@pytest.mark.parametrize(
    "obj, message",
    [
        ({"a": 1}, "numpy array"),
        (np.zeros((3, 4, 4), np.int64), "dtype"),
        (np.zeros((4, 4), np.uint8), "shape"),
        (np.zeros((0, 4, 4), np.uint8), "empty"),
        ([np.zeros((4, 4)), np.zeros((5, 4))], "equal-shape"),
    ],
)
def test_bad_arrays_name_the_file(tmp_path, obj, message):
    path = _dump(tmp_path / "bad.pkl", obj)
    with pytest.raises(ValueError, match=message) as err:
        safe_load_pkl(path)
    assert "bad.pkl" in str(err.value)


def test_accepts_arrays_lists_and_protocols(tmp_path):
    x = (np.arange(2 * 3 * 4) % 256).astype(np.uint8).reshape(2, 3, 4)
    for proto in (2, 4, 5):
        assert np.array_equal(safe_load_pkl(_dump(tmp_path / f"p{proto}.pkl", x, proto)), x)
    assert np.array_equal(safe_load_pkl(_dump(tmp_path / "l.pkl", list(x))), x)
    assert safe_load_pkl(_dump(tmp_path / "f.pkl", x.astype(np.float32))).dtype == np.float32


def _layout(root, bad=None):
    frames = np.full((3, 64, 64), 255, np.uint8)
    for sub in ("001", "002"):
        for cond in ("nm-01", "cl-01"):
            for view in ("000", "090"):
                _dump(root / sub / cond / view / f"{view}.pkl", frames)
    (root / "partition.json").write_text("{}")  # stray files are ignored
    return root


def test_index_and_dataset(tmp_path):
    root = _layout(tmp_path / "root")
    recs = index_dataset(root)
    assert len(recs) == 8 and recs[0].path == root / "001" / "cl-01" / "000" / "000.pkl"
    ds = GaitDataset(root, subjects=["002"])
    assert ds.subjects == ["002"] and ds.labels == [0] * 4 and ds[0].shape == (3, 64, 64)
    info = dataset_info(root)
    assert len(info) == 8 and info["frames"].sum() == 24
    assert summarize(info).loc["nm-01", "sequences"] == 4


def test_float_pkls_become_uint8(tmp_path):
    _dump(tmp_path / "r" / "001" / "nm-01" / "000" / "000.pkl", np.ones((2, 4, 4), np.float32))
    assert GaitDataset(tmp_path / "r")[0].max() == 255


@pytest.mark.parametrize("case", ["missing_root", "empty_root", "empty_subject", "empty_cond", "no_pkl", "subject"])
def test_bad_layout_names_the_path(tmp_path, case):
    root = _layout(tmp_path / "root")
    expect, subjects = root, None
    if case == "missing_root":
        root = expect = tmp_path / "nope"
    elif case == "empty_root":
        root = expect = tmp_path / "empty"
        root.mkdir()
    elif case == "empty_subject":
        expect = root / "003"
        expect.mkdir()
    elif case == "empty_cond":
        expect = root / "001" / "bg-01"
        expect.mkdir()
    elif case == "no_pkl":
        expect = root / "001" / "nm-01" / "180"
        expect.mkdir()
        (expect / "notes.txt").write_text("x")
    elif case == "subject":
        subjects = ["001", "999"]
    with pytest.raises((FileNotFoundError, ValueError)) as err:
        index_dataset(root, subjects)
    assert str(expect) in str(err.value)
    if case == "subject":
        assert "999" in str(err.value)
