"""Vectorised rasteriser for 2D capsules, and OpenGait's horizontal centring.

A capsule is the set of points within radius ``r(t) = ra + t (rb - ra)`` of the segment
``a + t (b - a)``, ``t`` in [0, 1] (measured from the closest point on the axis). All frames
of a sequence are drawn at once; the Python loop runs over the ~20 capsules only.
"""

from __future__ import annotations

import numpy as np


def rasterise(
    a: np.ndarray,
    b: np.ndarray,
    ra: np.ndarray,
    rb: np.ndarray,
    xs: np.ndarray,
    ys: np.ndarray,
    grow: np.ndarray | None = None,
) -> np.ndarray:
    """Draw capsules on per-frame pixel grids.

    Args:
        a, b: segment ends ``[s, m, 2]`` (x right, y up), in the units of ``xs``/``ys``.
        ra, rb: radii at the ends ``[s, m]``.
        xs: pixel-centre x coordinate of every column, per frame ``[s, w]``.
        ys: pixel-centre y coordinate of every row, per frame ``[s, h]``.
        grow: optional ``[s, h, w]`` offset added to every radius (boundary noise), same units.

    Returns:
        bool ``[s, h, w]``, True inside the union of capsules.
    """
    a, b = a.astype(np.float32), b.astype(np.float32)
    ra, rb = ra.astype(np.float32), rb.astype(np.float32)
    x = xs.astype(np.float32)[:, None, :]  # [s, 1, w]
    y = ys.astype(np.float32)[:, :, None]  # [s, h, 1]
    s, h, w = xs.shape[0], ys.shape[1], xs.shape[1]
    inside = np.zeros((s, h, w), dtype=bool)
    d = b - a  # [s, m, 2]
    inv = 1.0 / np.maximum((d**2).sum(-1), 1e-12)  # [s, m]
    for j in range(a.shape[1]):
        ax, ay = a[:, j, 0, None, None], a[:, j, 1, None, None]  # [s, 1, 1]
        dx, dy = d[:, j, 0, None, None], d[:, j, 1, None, None]
        px, py = x - ax, y - ay  # [s, 1, w], [s, h, 1]
        t = np.clip((px * dx + py * dy) * inv[:, j, None, None], 0.0, 1.0)  # [s, h, w]
        ex, ey = px - t * dx, py - t * dy
        r = ra[:, j, None, None] + t * (rb - ra)[:, j, None, None]
        if grow is not None:
            r = np.maximum(r + grow, 0.0)
        inside |= ex * ex + ey * ey < r * r
    return inside


def smooth_noise(rng: np.random.Generator, s: int, h: int, w: int, cell: int = 6) -> np.ndarray:
    """Spatially smooth unit-variance-ish noise ``[s, h, w]``: a coarse Gaussian grid, bilinear-upsampled."""

    def interp(n: int) -> np.ndarray:  # [n, g] bilinear weights from a g-point grid
        g = n // cell + 2
        pos = np.arange(n) / cell
        lo = np.floor(pos).astype(int)
        m = np.zeros((n, g))
        m[np.arange(n), lo] = 1.0 - (pos - lo)
        m[np.arange(n), lo + 1] = pos - lo
        return m

    mh, mw = interp(h), interp(w)
    coarse = rng.standard_normal((s, mh.shape[1], mw.shape[1]))
    return np.einsum("hg,sgk,wk->shw", mh, coarse, mw).astype(np.float32)


def mass_median_columns(frames: np.ndarray) -> np.ndarray:
    """Per frame, the first column where the cumulative mass exceeds half the total ``[s]``."""
    mass = frames.reshape(frames.shape[0], frames.shape[1], -1).sum(1, dtype=np.float64)  # [s, w]
    csum = np.cumsum(mass, axis=1)
    return np.argmax(csum > csum[:, -1:] / 2, axis=1)


def centre_width(frames: np.ndarray, width: int = 64) -> np.ndarray:
    """Cut ``width`` columns centred on each frame's mass-median column, zero-padding as needed.

    ``frames [s, h, w]`` -> ``[s, h, width]``, same dtype (OpenGait's pretreatment step).
    """
    s, h, w = frames.shape
    half = width // 2
    centre = mass_median_columns(frames)  # [s]
    padded = np.zeros((s, h, w + 2 * half), dtype=frames.dtype)
    padded[:, :, half : half + w] = frames
    cols = centre[:, None] + np.arange(width)[None, :]  # [s, width] in padded coordinates
    return np.take_along_axis(padded, cols[:, None, :].repeat(h, axis=1), axis=2)
