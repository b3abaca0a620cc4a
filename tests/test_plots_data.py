"""gil.plots.data, the data figures: each returns a Figure with the expected panels."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from gil import plots  # noqa: E402


def test_dataset_overview():
    rng = np.random.default_rng(0)
    rows = [(s, c, v) for s in ("001", "002") for c in ("nm-01", "bg-01", "cl-01") for v in ("000", "090")]
    info = pd.DataFrame(rows, columns=["subject", "condition", "view"]).assign(frames=rng.integers(8, 13, len(rows)))
    fig = plots.dataset_overview(info)
    heatmap = fig.axes[0]
    assert heatmap.get_title() == "sequences per condition and view"
    assert sorted(t.get_text() for t in heatmap.texts) == ["2"] * 6
    plt.close(fig)


def test_image_grid_follows_image_aspect():
    images = np.zeros((2, 3, 64, 44), dtype=np.uint8)
    images[0, 0, 10:20] = 255
    fig = plots.image_grid(images, ["a", "b"], ["x", "y", "z"], title="grid", cell=1.0)
    assert len(fig.axes) == 6
    assert [ax.get_title() for ax in fig.axes[:3]] == ["x", "y", "z"]
    assert fig.axes[3].get_ylabel() == "b"
    width, height = fig.get_size_inches()
    assert width < 0.9 + 3 * 1.1 * 44 / 64 + 0.2 and height < 0.65 + 2 * 1.1 + 0.2
    plt.close(fig)
