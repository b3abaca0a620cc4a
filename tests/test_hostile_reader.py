"""Hostile pkls (issue #14): every failure while reading one is a PklReadError naming it, nothing allocates
more than the file can justify, nothing numpy-wide is changed, and frames too small for the resolution
name their file."""

import os
import pickle
import struct
import time
from pathlib import Path

import numpy as np
import pytest

from gil.data.loader import build_test_loader, build_train_loader
from gil.data.opengait import GaitDataset, PklReadError, safe_load_pkl

_NATIVE_F4_STATE = (3, "<", None, None, None, -1, -1, 0)


def _write(path: Path, data: bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def _load_error(path: Path) -> str:
    """The PklReadError message of loading ``path``; fails on success, another exception or a MemoryError cause."""
    with pytest.raises(PklReadError) as err:
        safe_load_pkl(path)
    assert str(path) in str(err.value)
    assert not isinstance(err.value.__cause__, MemoryError), "refused only after trying to allocate"
    return str(err.value)


def _text(s: str) -> bytes:
    """BINUNICODE ``s``."""
    raw = s.encode()
    return b"X" + struct.pack("<I", len(raw)) + raw


class _Reduce:
    """Pickles as ``func(*args)`` (then BUILD ``state`` if given): any call the allow-list lets through."""

    def __init__(self, func, args, state=None):
        self.value = (func, args) if state is None else (func, args, state)

    def __reduce__(self):
        return self.value


_PETA = (10**15,)


@pytest.mark.parametrize(
    "obj",
    [
        _Reduce(np.ndarray, (_PETA, "u1")),
        _Reduce(np.ndarray, ((10**5, 10**5, 10**5), "f8")),
        _Reduce(np._core.multiarray._reconstruct, (np.ndarray, _PETA, b"b")),
        _Reduce(np._core.multiarray._reconstruct, (np.ndarray, (0,), b"b"), (1, _PETA, np.dtype("u1"), False, b"x")),
    ],
    ids=["ndarray", "ndarray-3d", "reconstruct", "build-state"],
)
def test_petabyte_shapes_are_refused_without_allocating(tmp_path, obj):
    path = _write(tmp_path / "peta.pkl", pickle.dumps(obj, protocol=4))
    start = time.perf_counter()
    message = _load_error(path)
    assert time.perf_counter() - start < 1.0
    assert "needs" in message and f"the file has {path.stat().st_size}" in message


@pytest.mark.parametrize(
    "data",
    [
        b"\x80\x02K\x01r" + struct.pack("<I", 0x7FFFFFF0) + b".",  # LONG_BINPUT: the C memo would be ~32 GB
        b"\x80\x04\x8e" + struct.pack("<Q", 2**62) + b"abc.",  # BINBYTES8
        b"\x80\x04\x8d" + struct.pack("<Q", 2**62) + b"abc.",  # BINUNICODE8
        b"\x80\x05\x96" + struct.pack("<Q", 2**62) + b"abc.",  # BYTEARRAY8: pickle.py's bytearray(2**62)
        b"\x80\x04\x8e" + struct.pack("<Q", 2**64 - 1) + b"abc.",  # BINBYTES8 beyond sys.maxsize
        b"\x80\x04\x95" + struct.pack("<Q", 2**62) + b"K\x01.",  # FRAME
    ],
    ids=["long_binput", "binbytes8", "binunicode8", "bytearray8", "binbytes8-max", "frame"],
)
def test_huge_declared_sizes_are_clean_errors(tmp_path, data):
    path = _write(tmp_path / "huge.pkl", data)
    start = time.perf_counter()
    _load_error(path)
    assert time.perf_counter() - start < 1.0


def test_symlink_loop_and_directory_name_the_path(tmp_path):
    a, b = tmp_path / "a.pkl", tmp_path / "b.pkl"
    os.symlink(b, a)
    os.symlink(a, b)
    assert "cannot read" in _load_error(a)
    assert "not a regular file" in _load_error(tmp_path)


def test_unreadable_file_names_the_path(tmp_path, monkeypatch):
    path = _write(tmp_path / "locked.pkl", pickle.dumps(np.zeros((1, 2, 2), np.uint8)))

    def denied(self):
        raise PermissionError(13, "Permission denied", str(self))

    monkeypatch.setattr(Path, "read_bytes", denied)  # chmod does not stop root
    assert "cannot read (Permission denied)" in _load_error(path)


@pytest.mark.parametrize("protocol", [2, 4, 5])
def test_object_arrays_are_refused(tmp_path, protocol):
    x = np.array([1, "a", None], dtype=object).reshape(1, 1, 3)
    assert "object" in _load_error(_write(tmp_path / "obj.pkl", pickle.dumps(x, protocol=protocol)))


def test_numpy_shared_dtype_is_not_changed(tmp_path):
    # copy=False returns numpy's own float32 dtype; its BUILD would make float32 big-endian process-wide
    obj = _Reduce(np.dtype, ("f4", False, False), (3, ">", None, None, None, -1, -1, 0))
    path = _write(tmp_path / "dtype.pkl", pickle.dumps(obj, protocol=2))
    try:
        assert "shared dtype" in _load_error(path)
        assert np.dtype("f4").str == "<f4"
    finally:
        np.dtype("f4", False, False).__setstate__(_NATIVE_F4_STATE)  # undo, should a regression have done it


def test_build_on_a_function_is_refused(tmp_path):
    # BUILD with slot state would setattr on numpy's own _frombuffer: (None, {"__defaults__": ("x",)})
    data = b"\x80\x02cnumpy._core.numeric\n_frombuffer\nN}" + _text("__defaults__") + _text("x") + b"\x85s\x86b."
    frombuffer = np._core.numeric._frombuffer
    before = frombuffer.__defaults__
    try:
        assert "refused BUILD on function" in _load_error(_write(tmp_path / "fn.pkl", data))
        assert frombuffer.__defaults__ == before
    finally:
        frombuffer.__defaults__ = before


def test_shared_frames_cannot_multiply_the_file(tmp_path):
    frame = np.zeros((64, 64), np.uint8)
    path = _write(tmp_path / "shared.pkl", pickle.dumps([frame] * 1000))  # one frame, 1000 memo references
    assert "1000 frames need 4096000 bytes" in _load_error(path)


def test_error_survives_a_worker_reraise(tmp_path):
    err = PklReadError(tmp_path / "x.pkl", "broken")
    assert str(err) == f"{tmp_path / 'x.pkl'}: broken" and err.path == tmp_path / "x.pkl"
    again = type(err)(str(err))  # what torch's ExceptionWrapper.reraise does
    assert isinstance(again, ValueError) and str(again) == str(err)
    assert str(pickle.loads(pickle.dumps(err))) == str(err)


def _bases() -> dict[str, bytes]:
    """Valid pkls in the layouts OpenGait data comes in."""
    rng = np.random.default_rng(1)
    sil = (rng.random((3, 8, 6)) > 0.5).astype(np.uint8) * 255  # [s, h, w]
    out = {}
    for protocol in (2, 4, 5):
        out[f"uint8-p{protocol}"] = pickle.dumps(sil, protocol=protocol)
        out[f"float32-p{protocol}"] = pickle.dumps(rng.random((2, 5, 4), dtype=np.float32), protocol=protocol)
    out["frames-p4"] = pickle.dumps(list(sil), protocol=4)
    out["frames-p2"] = pickle.dumps(list(sil[:2]), protocol=2)
    return out


def test_mutated_pkls_load_or_raise_pkl_read_error(tmp_path):
    bases = _bases()
    names = sorted(bases)
    for name in names:
        assert safe_load_pkl(_write(tmp_path / f"{name}.pkl", bases[name])).ndim == 3
    rng = np.random.default_rng(0)
    failures, loaded = [], 0
    for i in range(400):
        name = names[i % len(names)]
        data = bytearray(bases[name])
        where = rng.choice(len(data), int(rng.integers(1, 5)), replace=False)
        values = rng.integers(0, 256, len(where))
        for j, v in zip(where, values, strict=True):
            data[j] = int(v)
        path = _write(tmp_path / f"m{i:03d}.pkl", bytes(data))
        try:
            x = safe_load_pkl(path)
        except PklReadError as err:
            if str(path) not in str(err) or isinstance(err.__cause__, MemoryError):
                failures.append(f"{path.name} ({name}, bytes {where.tolist()}={values.tolist()}): {err}")
            continue
        except Exception as err:  # the point: nothing else may escape
            failures.append(f"{path.name} ({name}, bytes {where.tolist()}={values.tolist()}): {err!r}")
            continue
        ok = isinstance(x, np.ndarray) and x.ndim == 3 and x.dtype in (np.uint8, np.float16, np.float32, np.float64)
        if not (ok and len(x) >= 1):
            failures.append(f"{path.name} ({name}): loaded {type(x).__name__} {getattr(x, 'shape', '')}")
        loaded += 1
    assert not failures, "\n".join(failures)
    assert 0 < loaded < 400  # both outcomes happen
    assert np.dtype("f4").str == "<f4" and np.dtype("f8").str == "<f8"  # nothing numpy-wide was changed


def _tiny_root(root: Path) -> Path:
    """OpenGait layout with 16×16 frames: too small for the default 64×44 resolution."""
    for sub in ("001", "002"):
        frames = np.full((4, 16, 16), 255, np.uint8)
        _write(root / sub / "nm-01" / "090" / "090.pkl", pickle.dumps(frames))
    return root


def test_train_loader_names_the_too_small_file(tmp_path):
    ds = GaitDataset(_tiny_root(tmp_path / "root"))
    with pytest.raises(ValueError) as err:
        next(iter(build_train_loader(ds, identities=1, per_identity=1, frames=2, resolution=(64, 44))))
    message = str(err.value)
    assert any(str(r.path) in message for r in ds.records)
    assert "(64, 44)" in message and "(16, 16)" in message


def test_test_loader_names_the_too_small_file(tmp_path):
    ds = GaitDataset(_tiny_root(tmp_path / "root"))
    with pytest.raises(ValueError) as err:
        next(iter(build_test_loader(ds, resolution=(64, 44))))
    assert str(err.value).startswith(f"{ds.records[0].path}: frames (16, 16), resolution (64, 44)")


class _Plain:
    """A dataset without records: the error names the index instead."""

    labels = [0]

    def __len__(self):
        return 1

    def __getitem__(self, i):
        return np.zeros((2, 16, 16), np.uint8)


def test_loader_without_records_names_the_index():
    with pytest.raises(ValueError, match=r"sequence 0 of _Plain: frames \(16, 16\)"):
        next(iter(build_test_loader(_Plain(), resolution=(64, 44))))
