"""Numbers published in the paper and in OpenGait's model zoo — typed in from the sources, marked as such.

These are the only hand-typed numbers the book shows; everything else is computed by a build or read from the
committed study files.
"""

from __future__ import annotations

import pandas as pd

# Yu et al., ACM MM 2022, Table 1: rank-1 (%) on CASIA-B, gallery NM 1-4, identical view excluded.
# "+ GIL" columns use the GaitGL backbone. None = not reported.
_TABLE1 = {
    # setting: {method: (NM, BG, CL)}
    "ST (24)": {
        "GaitSet": (83.3, 75.1, 45.2),
        "GaitPart": None,
        "GaitGL": (86.0, 78.6, 57.4),
        "GaitGL + GIL (L_m)": (87.8, 82.1, 67.8),
        "GaitGL + GIL (L_s)": (88.7, 82.3, 65.8),
    },
    "MT (62)": {
        "GaitSet": (94.3, 84.3, 62.5),
        "GaitPart": None,
        "GaitGL": (95.9, 92.1, 78.3),
        "GaitGL + GIL (L_m)": (94.2, 92.1, 85.0),
        "GaitGL + GIL (L_s)": (96.7, 94.0, 83.0),
    },
    "LT (74)": {
        "GaitSet": (96.1, 90.8, 70.3),
        "GaitPart": (96.2, 91.5, 78.7),
        "GaitGL": (97.4, 94.5, 83.6),
        "GaitGL + GIL (L_m)": (96.4, 95.0, 89.8),
        "GaitGL + GIL (L_s)": (97.6, 95.5, 87.2),
    },
}


def table1() -> pd.DataFrame:
    """The paper's Table 1 as a tidy frame: ``setting, method, condition, rank1`` (source column included)."""
    rows = []
    for setting, methods in _TABLE1.items():
        for method, values in methods.items():
            if values is None:
                continue
            for condition, value in zip(("NM", "BG", "CL"), values, strict=True):
                rows.append(
                    {
                        "setting": setting,
                        "method": method,
                        "condition": condition,
                        "rank1": value,
                        "source": "Yu et al. 2022, Table 1",
                    }
                )
    return pd.DataFrame(rows)
