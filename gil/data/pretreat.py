"""Convert raw PNG silhouettes ``RAW/<subject>/<cond>/<view>/*.png`` to OpenGait's pkl layout.

Per frame, as OpenGait's ``datasets/pretreatment.py``: crop rows to the body, resize so the height
is ``size`` (keeping the aspect ratio), cut ``size`` columns centred on the column that splits the
mass in half (zero-padded). Frames with almost no foreground are dropped; sequences left with
fewer than ``min_frames`` frames are skipped and reported.
"""

from __future__ import annotations

import logging
import os
import pickle
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image
from tqdm.auto import tqdm

from gil.data.raster import centre_width
from gil.files import write_atomic

log = logging.getLogger(__name__)


def normalize_frame(img: np.ndarray, size: int = 64, min_pixels: int = 40, binarize: bool = False) -> np.ndarray | None:
    """One raw silhouette ``[H, W]`` uint8 -> pretreated ``[size, size]`` uint8, or None if (nearly) empty.

    ``min_pixels`` mirrors OpenGait's ``img.sum() <= 10000`` (about 40 white pixels). With
    ``binarize`` the resized frame is thresholded at 128 (0/255), otherwise it keeps the bicubic grey edges.
    """
    if img.ndim != 2:
        raise ValueError(f"normalize_frame: expected a 2D grey image, got shape {img.shape}")
    if int(img.sum(dtype=np.int64)) <= min_pixels * 255:
        return None
    rows = np.flatnonzero(img.any(axis=1))
    img = img[rows[0] : rows[-1] + 1]
    width = max(1, int(size * img.shape[1] / img.shape[0]))
    out = np.asarray(Image.fromarray(img).resize((width, size), Image.BICUBIC))
    if binarize:
        out = np.where(out >= 128, 255, 0).astype(np.uint8)
    if out.sum() == 0:
        return None
    return centre_width(out[None], size)[0]


@dataclass(frozen=True)
class ConversionReport:
    """What :func:`convert` did: pkls written, and sequences skipped with the reason."""

    written: tuple[Path, ...] = ()
    skipped: tuple[tuple[str, str], ...] = field(default=())  # (subject/cond/view, reason)

    def __str__(self) -> str:
        lines = [f"{len(self.written)} sequences written, {len(self.skipped)} skipped"]
        lines += [f"  skipped {key}: {why}" for key, why in self.skipped]
        return "\n".join(lines)


def _convert_one(args: tuple[str, str, tuple[str, str, str], int, int, bool]) -> tuple[str, str | None]:
    src, dst, (sub, cond, view), min_frames, size, binarize = args
    folder = Path(src) / sub / cond / view
    key = f"{sub}/{cond}/{view}"
    frames = []
    for png in sorted(folder.glob("*.png")):
        try:
            with Image.open(png) as im:
                grey = np.asarray(im.convert("L"))
        except (OSError, SyntaxError, ValueError) as err:  # PIL raises these for truncated or foreign files
            return key, f"cannot read {png.name} ({type(err).__name__}: {err}); the sequence is not converted"
        f = normalize_frame(grey, size, binarize=binarize)
        if f is not None:
            frames.append(f)
    if not frames:
        return key, "no frame has a silhouette (every frame is empty or nearly so)"
    if len(frames) < min_frames:
        return key, f"{len(frames)} valid frames < min_frames={min_frames}"
    out = Path(dst) / sub / cond / view / f"{view}.pkl"
    out.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(out, pickle.dumps(np.stack(frames), protocol=4))
    return str(out), None


def _sequences(src: Path) -> list[tuple[str, str, str]]:
    keys = []
    for sub in sorted(p for p in src.iterdir() if p.is_dir()):
        for cond in sorted(p for p in sub.iterdir() if p.is_dir()):
            for view in sorted(p for p in cond.iterdir() if p.is_dir()):
                keys.append((sub.name, cond.name, view.name))
    return keys


def convert(
    src: str | os.PathLike,
    dst: str | os.PathLike,
    workers: int | None = None,
    min_frames: int = 5,
    size: int = 64,
    binarize: bool = False,
    progress: bool = True,
) -> ConversionReport:
    """Convert each ``src/<subject>/<cond>/<view>/*.png`` sequence to ``dst/.../<view>/<view>.pkl``.

    Runs over ``workers`` processes; returns which pkls were written and which sequences were skipped
    (too few frames with a silhouette, or a frame that cannot be read, named in the reason).
    """
    for name, value in (("min_frames", min_frames), ("size", size), ("workers", workers)):
        if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
            raise ValueError(f"convert: {name} must be an integer >= 1, got {value!r}")
    src, dst = Path(src), Path(dst)
    if not src.is_dir():
        raise FileNotFoundError(f"raw silhouette folder {src} does not exist")
    keys = _sequences(src)
    if not keys:
        raise ValueError(f"{src}: no <subject>/<cond>/<view>/ folders found")
    tasks = [(str(src), str(dst), key, min_frames, size, binarize) for key in keys]
    workers = min(workers or os.cpu_count() or 1, len(tasks))
    written, skipped = [], []
    with tqdm(total=len(tasks), disable=not progress, desc="pretreat", unit="seq") as bar:
        if workers <= 1:
            results = map(_convert_one, tasks)
        else:
            pool = ProcessPoolExecutor(workers)
            results = pool.map(_convert_one, tasks, chunksize=4)
        for path, reason in results:
            if reason is None:
                written.append(Path(path))
            else:
                log.warning("skipping %s: %s", path, reason)
                skipped.append((path, reason))
            bar.update()
        if workers > 1:
            pool.shutdown()
    return ConversionReport(tuple(written), tuple(skipped))
