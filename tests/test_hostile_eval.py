"""Evaluation on hostile embeddings (issue #14): NaN / Inf are refused, naming how many sequences and
which; cosine refuses zero-norm parts, euclidean accepts them; tiny non-zero norms keep cosine exact."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from gil import evaluate as ev

CONDITIONS = [f"nm-0{i}" for i in range(1, 7)] + ["bg-01", "bg-02", "cl-01", "cl-02"]
VIEWS = ["000", "090", "180"]


def casia_small(n_subjects=3, p=2, c=4, seed=0):
    """``n_subjects × 10 conditions × 3 views`` sequences (subject-major), clustered by subject."""
    rng = np.random.default_rng(seed)
    rows = [(f"{s + 75:03d}", cond, v) for s in range(n_subjects) for cond in CONDITIONS for v in VIEWS]
    sub, cond, view = (list(t) for t in zip(*rows, strict=True))
    centre = rng.normal(size=(n_subjects, p, c))
    emb = centre[[int(s) - 75 for s in sub]] + 0.3 * rng.normal(size=(len(sub), p, c))
    return emb, sub, cond, view


def oumvlp_small(n_subjects=4, p=2, c=4, seed=1):
    rng = np.random.default_rng(seed)
    rows = [(f"{s:05d}", q, v) for s in range(n_subjects) for q in ("00", "01") for v in VIEWS]
    sub, seq, view = (list(t) for t in zip(*rows, strict=True))
    emb = rng.normal(size=(n_subjects, p, c))[[int(s) for s in sub]] + 0.3 * rng.normal(size=(len(sub), p, c))
    return emb, sub, seq, view


def _describe(i, *labels):
    return "/".join(str(lab[i]) for lab in labels)


@pytest.mark.parametrize("metric", ev.METRICS)
@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf], ids=["nan", "inf", "-inf"])
@pytest.mark.parametrize("as_torch", [False, True], ids=["numpy", "torch"])
def test_casia_b_refuses_non_finite_embeddings_naming_them(bad, metric, as_torch):
    emb, sub, cond, view = casia_small()
    emb[[4, 31, 62], 1, 2] = bad  # one value each, in part 1
    emb[47] = bad  # a whole sequence
    x = torch.from_numpy(emb).float() if as_torch else emb
    with pytest.raises(ValueError) as err:
        ev.casia_b(x, sub, cond, view, metric=metric)
    message = str(err.value)
    assert message.startswith("casia_b: embeddings: 4 of 90 sequences hold NaN or Inf: indices [4, 31, 47, 62]")
    assert (
        "subject/condition/view of the first: " + ", ".join(_describe(i, sub, cond, view) for i in (4, 31, 47))
        in message
    )
    assert _describe(4, sub, cond, view) == "075/nm-02/090"


def test_oumvlp_refuses_non_finite_embeddings_naming_them():
    emb, sub, seq, view = oumvlp_small()
    emb[3, 0, 0] = np.nan
    emb[10, 1, 3] = np.inf
    with pytest.raises(ValueError) as err:
        ev.oumvlp(emb, sub, seq, view)
    message = str(err.value)
    assert message.startswith("oumvlp: embeddings: 2 of 24 sequences hold NaN or Inf: indices [3, 10]")
    assert f"subject/sequence/view of the first: {_describe(3, sub, seq, view)}, {_describe(10, sub, seq, view)}" in (
        message
    )


def test_many_bad_sequences_list_the_first_ten_and_the_count():
    emb, sub, cond, view = casia_small()
    bad = list(range(5, 90, 5))  # 17 sequences
    emb[bad] = np.nan
    with pytest.raises(ValueError) as err:
        ev.casia_b(emb, sub, cond, view, compute_map=False)
    message = str(err.value)
    assert "17 of 90 sequences hold NaN or Inf: indices [5, 10, 15, 20, 25, 30, 35, 40, 45, 50, ...]" in message
    assert "55" not in message.split("indices")[1].split("]")[0]


def test_pairwise_distance_refuses_non_finite_rows():
    rng = np.random.default_rng(2)
    x, y = rng.normal(size=(5, 3, 4)), rng.normal(size=(7, 3, 4))
    x[2, 0, 1] = np.nan
    with pytest.raises(ValueError, match=r"pairwise_distance: x: 1 of 5 sequences hold NaN or Inf: indices \[2\]"):
        ev.pairwise_distance(x, y)
    x[2, 0, 1] = 0.0
    y[[1, 6]] = np.inf
    with pytest.raises(ValueError, match=r"pairwise_distance: y: 2 of 7 sequences hold NaN or Inf: indices \[1, 6\]"):
        ev.pairwise_distance(x, y, "cosine")


@pytest.mark.parametrize("whole", [True, False], ids=["all-zero", "one-zero-part"])
def test_cosine_refuses_zero_norm_embeddings(whole):
    emb, sub, cond, view = casia_small()
    emb[[8, 40]] = 0.0 if whole else emb[[8, 40]] * np.array([1.0, 0.0])[None, :, None]
    with pytest.raises(ValueError) as err:
        ev.casia_b(emb, sub, cond, view, metric="cosine")
    message = str(err.value)
    assert message.startswith("casia_b: embeddings: 2 of 90 sequences have a part of zero norm")
    assert "cosine is undefined" in message and "indices [8, 40]" in message
    assert f"{_describe(8, sub, cond, view)}, {_describe(40, sub, cond, view)}" in message
    seq_emb, seq_sub, seq, seq_view = oumvlp_small()
    seq_emb[5] = 0.0
    with pytest.raises(ValueError, match=r"oumvlp: embeddings: 1 of 24 sequences have a part of zero norm.*\[5\]"):
        ev.oumvlp(seq_emb, seq_sub, seq, seq_view, metric="cosine")
    with pytest.raises(ValueError, match=r"pairwise_distance: y: 1 of 24 sequences have a part of zero norm"):
        ev.pairwise_distance(seq_emb[:3], seq_emb, "cosine")


def test_euclidean_accepts_a_zero_embedding():
    emb, sub, cond, view = casia_small()
    emb[8] = 0.0  # a gallery sequence (nm-03, view 180)
    res = ev.casia_b(emb, sub, cond, view)
    assert all(math.isfinite(v) for v in res.summary.values())
    assert all(math.isfinite(v) for v in res.map_summary.values())
    d = ev.pairwise_distance(emb[8:9], emb[:3]).numpy()
    np.testing.assert_allclose(d[0], np.linalg.norm(emb[:3], axis=-1).mean(-1), rtol=1e-12)


@pytest.mark.parametrize("scale", [1e-14, 1e-18])
def test_cosine_of_tiny_non_zero_embeddings_is_scale_free(scale):
    """Norms below F.normalize's 1e-12 floor whose squares are still normal float32 numbers: cosine stays exact."""
    emb, sub, cond, view = casia_small()
    x = torch.from_numpy(emb).float()
    ref = ev.pairwise_distance(x, x[:10], "cosine")
    tiny = ev.pairwise_distance(x * scale, x[:10], "cosine")
    torch.testing.assert_close(tiny, ref, atol=1e-5, rtol=0)
    assert ev.casia_b(x * scale, sub, cond, view, metric="cosine").summary == pytest.approx(
        ev.casia_b(x, sub, cond, view, metric="cosine").summary
    )
