"""Distances between part embeddings ``[n, p, c]`` and the checks on them (finite values, cosine-safe norms).

Distance (OpenGait's ``cuda_dist``): per part ``sqrt(relu(|x|² + |y|² - 2 x·y))``, then the mean
over parts; ``metric="cosine"`` is the mean over parts of ``1 - cos(x, y)``. The probe × gallery
matrix is computed in row chunks, so OUMVLP-size sets never hold it whole.
"""

from __future__ import annotations

import numpy as np
import torch

METRICS = ("euclidean", "cosine")
_CHUNK_ELEMENTS = 2**24  # floats in one [p, rows, m] distance block: 64 MiB in float32

Embeddings = torch.Tensor | np.ndarray

__all__ = ["METRICS", "Embeddings", "pairwise_distance"]


def _as_embeddings(embeddings: Embeddings, device: torch.device | str | None) -> torch.Tensor:
    """numpy or torch ``[n, p, c]`` / ``[n, c]`` -> float tensor ``[n, p, c]`` on ``device``."""
    if isinstance(embeddings, np.ndarray):
        x = torch.from_numpy(np.ascontiguousarray(embeddings))
    elif isinstance(embeddings, torch.Tensor):
        x = embeddings.detach()
    else:
        raise TypeError(f"embeddings: expected a torch.Tensor or numpy array, got {type(embeddings).__name__}")
    if x.ndim == 2:
        x = x.unsqueeze(1)  # [n, 1, c]
    if x.ndim != 3:
        raise ValueError(f"embeddings: expected shape [n, p, c] or [n, c], got {tuple(x.shape)}")
    if x.dtype != torch.float64:
        x = x.float()
    return x.to(device) if device is not None else x


def _non_finite(block: torch.Tensor) -> torch.Tensor:
    """``[r, p, c]`` -> ``[r]`` bool: the sequence holds a NaN or an Inf."""
    return ~torch.isfinite(block).flatten(1).all(1)


def _zero_norm_part(block: torch.Tensor) -> torch.Tensor:
    """``[r, p, c]`` -> ``[r]`` bool: a part's norm is 0 — the norm :func:`_parts_first` divides by for cosine
    (0 iff every square underflows to 0)."""
    return (torch.linalg.vector_norm(block, dim=-1) == 0).any(1)


def _check_values(emb: torch.Tensor, metric: str, where: str, labels: dict[str, np.ndarray] | None = None) -> None:
    """Refuse sequences whose embedding ``[n, p, c]`` holds NaN or Inf (any metric) or, for cosine, has a
    part of zero norm (its direction is undefined; euclidean accepts it).

    The error names ``where``, how many of the n sequences and the first 10 indices; ``labels`` (name ->
    ``[n]`` array: subject, condition, view) describe the first 3. Tested in row blocks of about
    ``_CHUNK_ELEMENTS`` values, so the temporaries stay bounded on OUMVLP-size sets.
    """
    checks = [(_non_finite, "hold NaN or Inf")]
    if metric == "cosine":
        checks.append((_zero_norm_part, "have a part of zero norm (cosine is undefined there; euclidean is not)"))
    rows = max(1, _CHUNK_ELEMENTS // max(1, emb.shape[1] * emb.shape[2]))
    for test, what in checks:
        flags = [test(emb[i : i + rows]).cpu() for i in range(0, emb.shape[0], rows)]
        bad = np.flatnonzero(torch.cat(flags).numpy()) if flags else []
        if len(bad) == 0:
            continue
        shown = ", ".join(str(i) for i in bad[:10]) + (", ..." if len(bad) > 10 else "")
        message = f"{where}: {len(bad)} of {emb.shape[0]} sequences {what}: indices [{shown}]"
        if labels:
            first = ", ".join("/".join(str(values[i]) for values in labels.values()) for i in bad[:3])
            message += f"; {'/'.join(labels)} of the first: {first}"
        raise ValueError(message)


def _part_distance(x: torch.Tensor, y: torch.Tensor, metric: str, yy: torch.Tensor | None = None) -> torch.Tensor:
    """Parts-first ``x [p, r, c]``, ``y [p, m, c]`` (cosine: already normalised) -> ``[r, m]``.

    ``yy [p, 1, m]``: ``|y|²`` per part, when the caller reuses ``y`` across row chunks.
    """
    if metric == "cosine":
        return 1.0 - torch.bmm(x, y.transpose(1, 2)).mean(0)
    if yy is None:
        yy = _sq_norms(y)
    sq = torch.baddbmm(yy, x, y.transpose(1, 2), alpha=-2.0)  # [p, r, m] = |y|² - 2 x·y
    sq.add_(_sq_norms(x).transpose(1, 2))  # + |x|² [p, r, 1]
    return sq.clamp_min_(0.0).sqrt_().mean(0)


def _sq_norms(y: torch.Tensor) -> torch.Tensor:
    """``[p, m, c]`` -> ``|y|²`` as ``[p, 1, m]``."""
    return (y * y).sum(-1).unsqueeze(1)


def _parts_first(x: torch.Tensor, metric: str) -> torch.Tensor:
    """``[n, p, c]`` -> contiguous ``[p, n, c]``, L2-normalised over ``c`` for cosine.

    Cosine divides by the exact norm (no floor, unlike ``F.normalize``): :func:`_check_values` has
    refused zero norms, and a tiny non-zero one (below F.normalize's 1e-12) still gives a unit vector.
    """
    x = x.transpose(0, 1).contiguous()
    return x / torch.linalg.vector_norm(x, dim=-1, keepdim=True) if metric == "cosine" else x


def _chunk_rows(p: int, m: int, chunk_size: int | None) -> int:
    if chunk_size is not None:
        if chunk_size < 1:
            raise ValueError(f"chunk_size: expected a positive number of rows, got {chunk_size}")
        return chunk_size
    return max(1, _CHUNK_ELEMENTS // max(1, p * m))


def _check_metric(metric: str) -> None:
    if metric not in METRICS:
        raise ValueError(f"metric: unknown {metric!r}; known: {', '.join(METRICS)}")


def pairwise_distance(
    x: Embeddings, y: Embeddings, metric: str = "euclidean", chunk_size: int | None = None
) -> torch.Tensor:
    """Mean-over-parts distance between ``x [n, p, c]`` and ``y [m, p, c]`` -> ``[n, m]``.

    Euclidean as OpenGait's ``cuda_dist`` (per part ``sqrt(relu(x² + y² - 2xy))``, mean over parts);
    ``cosine``: mean over parts of ``1 - cos``. Computed on ``x``'s device, ``chunk_size`` rows at a time.
    Rows with NaN or Inf (and, for cosine, a part of zero norm) are refused, naming their indices.
    """
    _check_metric(metric)
    x = _as_embeddings(x, None)
    y = _as_embeddings(y, x.device).to(x.dtype)
    if x.shape[1:] != y.shape[1:]:
        raise ValueError(f"pairwise_distance: x {tuple(x.shape)} and y {tuple(y.shape)} differ in [p, c]")
    _check_values(x, metric, "pairwise_distance: x")
    _check_values(y, metric, "pairwise_distance: y")
    xp, yp = _parts_first(x, metric), _parts_first(y, metric)  # [p, n, c], [p, m, c]
    rows = _chunk_rows(x.shape[1], y.shape[0], chunk_size)
    blocks = [_part_distance(xp[:, i : i + rows], yp, metric) for i in range(0, x.shape[0], rows)]
    return torch.cat(blocks) if blocks else x.new_zeros(0, y.shape[0])


# --------------------------------------------------------------------------------------------- protocol
