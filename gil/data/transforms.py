"""Frame transforms on numpy sequences ``[s, h, w]``: clip sampling, width crop, area downscale."""

from __future__ import annotations

import numpy as np


def sample_clip(frames: np.ndarray, length: int, rng: np.random.Generator) -> np.ndarray:
    """An ordered, contiguous clip ``[length, h, w]`` at a random start (OpenGait's fixed ordered sampling).

    A sequence shorter than ``length`` is looped (repeated end to end) first, as OpenGait does.
    """
    s = frames.shape[0]
    if s == 0:
        raise ValueError("sample_clip: empty sequence")
    if length < 1:
        raise ValueError(f"sample_clip: length={length}, expected >= 1")
    total = max(s, length)
    total = -(-total // s) * s  # looped length, a multiple of s
    start = int(rng.integers(0, total - length + 1))
    return frames[(start + np.arange(length)) % s]


def single_frame_clip(frames: np.ndarray, length: int, index: int) -> np.ndarray:
    """One frame repeated ``length`` times: ``[length, h, w]`` that carries shape but no motion.

    The single-frame control of the calibration: a model fed such clips sees no temporal information.
    """
    s = frames.shape[0]
    if s == 0:
        raise ValueError("single_frame_clip: empty sequence")
    if length < 1:
        raise ValueError(f"single_frame_clip: length={length}, expected >= 1")
    return np.repeat(frames[index % s][None], length, axis=0)


def crop_width(frames: np.ndarray, cut: int = 10) -> np.ndarray:
    """Drop ``cut`` columns on each side: ``[s, 64, 64]`` -> ``[s, 64, 44]`` for ``cut=10``."""
    if cut < 0 or 2 * cut >= frames.shape[-1]:
        raise ValueError(f"crop_width: cut={cut} does not fit width {frames.shape[-1]}")
    return frames[..., cut : frames.shape[-1] - cut] if cut else frames


def to_float(frames: np.ndarray) -> np.ndarray:
    """uint8 0..255 -> float32 in [0, 1]."""
    return frames.astype(np.float32) / 255.0 if frames.dtype == np.uint8 else frames.astype(np.float32)


def downscale(frames: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Area-average ``[s, h, w]`` to float32 ``[s, *size]`` (reshape-mean or PIL's box filter)."""
    s, h, w = frames.shape
    oh, ow = size
    x = to_float(frames)
    if (oh, ow) == (h, w):
        return x
    if h % oh == 0 and w % ow == 0:
        return x.reshape(s, oh, h // oh, ow, w // ow).mean(axis=(2, 4))
    from PIL import Image

    return np.stack([np.asarray(Image.fromarray(f, mode="F").resize((ow, oh), Image.BOX)) for f in x])


def prepare(frames: np.ndarray, resolution: tuple[int, int] = (64, 44)) -> np.ndarray:
    """uint8 pkl frames ``[s, 64, 64]`` -> float32 ``[s, *resolution]``: cut 10 columns a side, downscale."""
    h, w = frames.shape[1:]
    cut = (w - round(w * 44 / 64)) // 2 if w == h else 0
    x = crop_width(frames, cut)
    rh, rw = resolution
    if rh > x.shape[1] or rw > x.shape[2]:
        raise ValueError(f"resolution {resolution}: larger than the cropped frames {x.shape[1:]}")
    return downscale(x, resolution)
