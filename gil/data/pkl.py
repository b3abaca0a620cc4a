"""Reading one OpenGait pkl safely: a restricted unpickler that rebuilds numpy arrays and nothing else.

Pickles execute code when loaded, so :func:`safe_load_pkl` resolves only the globals a numpy array needs and
refuses every other without calling it; no array may need more bytes than the file holds. Every failure while
reading a file is one :class:`PklReadError` naming it.
"""

from __future__ import annotations

import io
import operator
import os
import pickle
import stat
import struct
import sys
from pathlib import Path

import numpy as np

# Globals a numpy array pickle needs (numpy 1.x and 2.x module names; protocol 2 adds _codecs.encode
# for its bytes); nothing else is resolved, and the ones that size an allocation are guarded.
_ALLOWED = {
    ("numpy.core.multiarray", "_reconstruct"),
    ("numpy._core.multiarray", "_reconstruct"),
    ("numpy.core.numeric", "_frombuffer"),
    ("numpy._core.numeric", "_frombuffer"),
    ("numpy", "ndarray"),
    ("numpy", "dtype"),
    ("_codecs", "encode"),
}
_DTYPES = (np.uint8, np.float16, np.float32, np.float64)
_MAX_NDIM = 64  # numpy's own limit


class PklReadError(ValueError):
    """A pkl that cannot be read as silhouettes; the message is ``"{path}: {what}"``.

    A ``ValueError`` so callers (and the CLI) that handle those keep working. A DataLoader worker
    re-raises it with its whole message as the single argument; ``path`` is then ``None``.
    """

    def __init__(self, path: str | os.PathLike, what: str = ""):
        super().__init__(f"{path}: {what}" if what else str(path))
        self.path = path if what else None


class _Refused(pickle.UnpicklingError):
    """What the pickle asks for is refused (a global, a state, a size); the message says which."""


def _nbytes(shape: object, dtype: object, limit: int) -> int:
    """Bytes an array of ``shape`` and ``dtype`` needs (Python ints, no overflow); refused above ``limit``."""
    dims = (shape,) if isinstance(shape, int) else shape
    if not isinstance(dims, (tuple, list)) or len(dims) > _MAX_NDIM:
        raise _Refused(f"array shape {shape!r:.80}: expected a tuple of at most {_MAX_NDIM} ints")
    n = np.dtype(dtype).itemsize
    for d in map(operator.index, dims):
        if not 0 <= d <= sys.maxsize:
            raise _Refused(f"array shape {shape!r:.80}: dimension {d} out of range")
        n *= d
    if n > limit:
        raise _Refused(f"array {tuple(dims)} of {np.dtype(dtype)} needs {n} bytes, the file has {limit}")
    return n


def _check_dtype_state(dtype: np.dtype, state: object) -> None:
    """Allow ``dtype.__setstate__(state)`` only on a private copy and only to pick its byte order."""
    if dtype.isbuiltin == 1:  # numpy's shared instance: setting its state changes it for the whole process
        raise _Refused(f"refused state for numpy's shared dtype {dtype}")
    ref = dtype.__reduce__()[2]
    same = (
        type(state) is tuple
        and len(state) == len(ref)
        and state[1] in ("<", ">", "|", "=")
        and all(type(a) is type(b) and a == b for i, (a, b) in enumerate(zip(state, ref, strict=True)) if i != 1)
    )
    if not same:
        raise _Refused(f"refused dtype state {state!r:.80} for {dtype}")


def _latin1(text: object, encoding: object = "utf-8") -> bytes:
    """``_codecs.encode`` as protocol 2 uses it for bytes (``latin1``: one byte per character), nothing else."""
    if type(text) is not str or encoding not in ("latin1", "latin-1"):
        raise _Refused("refused _codecs.encode other than of a str to latin1")
    return text.encode("latin1")


class _ArrayUnpickler(pickle._Unpickler):
    """Rebuilds numpy arrays from ``data`` (a whole pkl's bytes) and nothing else; no array outgrows ``data``.

    Pure Python on purpose: the C unpickler pre-sizes its memo array from a BINPUT/LONG_BINPUT index,
    so one mutated index asks for tens of GB; here the memo is a dict.
    """

    def __init__(self, data: bytes):
        super().__init__(io.BytesIO(data))
        self.limit = len(data)  # bytes: an array's data is in the pickle, so it cannot need more
        self._ndarray = self._new_array  # one object, so _reconstruct can tell it is being passed

    def find_class(self, module: str, name: str):
        if (module, name) not in _ALLOWED:
            raise _Refused(f"refused global {module}.{name} (only numpy arrays are allowed)")
        found = super().find_class(module, name)
        if name == "_reconstruct":
            return lambda cls, shape, dtype: self._reconstruct(found, cls, shape, dtype)
        if name == "ndarray":
            return self._ndarray
        if name == "encode":
            return _latin1
        return found  # numpy.dtype allocates no data; _frombuffer only views its (in-file) buffer

    def _new_array(self, shape: object, dtype: object = float) -> np.ndarray:
        _nbytes(shape, dtype, self.limit)
        return np.ndarray(shape, dtype)

    def _reconstruct(self, real, cls: object, shape: object, dtype: object) -> np.ndarray:
        if cls is not self._ndarray:
            raise _Refused(f"refused _reconstruct of {cls!r:.80} (only numpy.ndarray)")
        _nbytes(shape, dtype, self.limit)
        return real(np.ndarray, shape, dtype)

    def _check_array_state(self, state: object) -> None:
        """``(version, shape, dtype, is_fortran, rawdata)``: an allowed dtype and no more bytes than the file."""
        if type(state) is not tuple or len(state) not in (4, 5):
            raise _Refused("ndarray state: expected (version, shape, dtype, is_fortran, rawdata)")
        shape, dtype = state[-4:-2]
        if not isinstance(dtype, np.dtype) or dtype not in _DTYPES:
            raise _Refused(f"array dtype {dtype!s:.80}: expected uint8 or float")
        _nbytes(shape, dtype, self.limit)

    def load_build(self) -> None:
        """BUILD, for numpy arrays and dtypes only, with their state checked before numpy sees it."""
        inst, state = self.stack[-2], self.stack[-1]
        if type(inst) is np.ndarray:
            self._check_array_state(state)
        elif isinstance(inst, np.dtype):
            _check_dtype_state(inst, state)
        else:
            raise _Refused(f"refused BUILD on {type(inst).__name__} (only numpy arrays and dtypes)")
        pickle._Unpickler.load_build(self)

    def load_bytearray8(self) -> None:
        """BYTEARRAY8 without pickle.py's ``bytearray(declared length)``, which would fill GBs with zeros."""
        (n,) = struct.unpack("<Q", self.read(8))
        if n > self.limit:
            raise _Refused(f"BYTEARRAY8 of {n} bytes, the file has {self.limit}")
        data = self.read(n)
        if len(data) != n:
            raise pickle.UnpicklingError(f"BYTEARRAY8 of {n} bytes: the file ends after {len(data)}")
        self.append(bytearray(data))

    dispatch = {
        **pickle._Unpickler.dispatch,
        pickle.BUILD[0]: load_build,
        pickle.BYTEARRAY8[0]: load_bytearray8,
    }


def _read(path: Path) -> bytes:
    """The whole file; not a regular file (a FIFO would block, a device never end) or an OSError -> PklReadError."""
    try:
        if not stat.S_ISREG(path.stat().st_mode):
            raise PklReadError(path, "not a regular file")
        return path.read_bytes()
    except OSError as err:
        raise PklReadError(path, f"cannot read ({err.strerror or err})") from err


def _names(items: list | tuple, what) -> str:
    """``what(item)`` for the first five items, then how many more: error messages stay short."""
    shown = [what(o) for o in items[:5]]
    return f"{shown} and {len(items) - 5} more" if len(items) > 5 else str(shown)


def _as_sequence(obj: object, path: Path, limit: int) -> np.ndarray:
    """The unpickled object as ``[s, h, w]``: lists of 2D frames stacked (at most ``limit`` bytes)."""
    if isinstance(obj, (list, tuple)):
        if not obj or not all(isinstance(o, np.ndarray) for o in obj):
            raise PklReadError(path, f"expected a list of numpy arrays, got {_names(obj, lambda o: type(o).__name__)}")
        if len(obj) == 1 and obj[0].ndim == 3:
            obj = obj[0]
        elif all(o.ndim == 2 and o.shape == obj[0].shape for o in obj):
            total = sum(o.nbytes for o in obj)  # one frame referenced many times would multiply the file
            if total > limit:
                raise PklReadError(path, f"{len(obj)} frames need {total} bytes, the file has {limit}")
            obj = np.stack(obj)
        else:
            raise PklReadError(path, f"expected a list of equal-shape 2D frames, got {_names(obj, lambda o: o.shape)}")
    if not isinstance(obj, np.ndarray):
        raise PklReadError(path, f"expected a numpy array, got {type(obj).__name__}")
    if obj.dtype not in _DTYPES:
        raise PklReadError(path, f"expected dtype uint8 or float, got {obj.dtype}")
    if obj.ndim != 3:
        raise PklReadError(path, f"expected a [frames, h, w] array, got shape {obj.shape}")
    if obj.shape[0] == 0:
        raise PklReadError(path, "empty sequence (0 frames)")
    return obj


def safe_load_pkl(path: str | os.PathLike) -> np.ndarray:
    """Load a silhouette pkl without executing code: an array ``[s, h, w]`` of dtype uint8 or float.

    A list/tuple of 2D frames is stacked; a list/tuple holding one array is unwrapped. Anything
    else (an unreadable file, other objects, other dtypes, another ndim, zero frames, an array
    larger than the file, any exception while unpickling) raises :class:`PklReadError` naming ``path``.
    """
    path = Path(path)
    data = _read(path)
    try:
        return _as_sequence(_ArrayUnpickler(data).load(), path, len(data))
    except PklReadError:
        raise
    except _Refused as err:
        raise PklReadError(path, str(err)) from err
    except (pickle.UnpicklingError, EOFError, AttributeError, TypeError, ValueError) as err:
        raise PklReadError(path, f"not a pickled numpy array ({err})") from err
    except Exception as err:  # MemoryError, OverflowError, SystemError, struct.error, ...: still this file's fault
        raise PklReadError(path, f"cannot unpickle ({type(err).__name__}: {err})") from err
