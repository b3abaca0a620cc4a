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


# The authors' OpenGait branch (weichen-yu/OpenGait, behind pull request #113 to ShiqiYu/OpenGait, closed unmerged),
# docs/1.model_zoo.md at commit 0335f00 (2023-02-27): rank-1 (%). CASIA-B: LT, gallery NM 1-4, identical view
# excluded; OU-MVLP: mean over probe views, identical view excluded. "GiLoss" is configs/giloss/giloss_gaitgl.yaml:
# GaitGL with OpenGait's triplet, their InfoLoss and cross-entropy, 1.0 each.
AUTHORS_BRANCH_SOURCE = "weichen-yu/OpenGait docs/1.model_zoo.md (0335f00)"
_AUTHORS_BRANCH = {
    ("CASIA-B LT (74)", "GaitGL (OpenGait)"): (97.4, 94.5, 83.8),
    ("CASIA-B LT (74)", "GaitGL + GiLoss"): (97.6, 95.5, 87.2),
    ("OU-MVLP", "GaitGL (OpenGait)"): (89.9,),
    ("OU-MVLP", "GaitGL + GiLoss"): (90.5,),
}


def authors_branch() -> pd.DataFrame:
    """The authors' OpenGait-branch model zoo as a tidy frame: ``setting, method, condition, rank1, source``
    (OU-MVLP has one number, condition ``all``)."""
    rows = []
    for (setting, method), values in _AUTHORS_BRANCH.items():
        conditions = ("NM", "BG", "CL") if len(values) == 3 else ("all",)
        for condition, value in zip(conditions, values, strict=True):
            rows.append(
                {
                    "setting": setting,
                    "method": method,
                    "condition": condition,
                    "rank1": value,
                    "source": AUTHORS_BRANCH_SOURCE,
                }
            )
    return pd.DataFrame(rows)


def published_gains() -> pd.DataFrame:
    """GIL minus its GaitGL baseline in each published source: ``source, setting, method, condition, gain``."""
    paper = table1()
    rows = []
    for setting, group in paper.groupby("setting", sort=False):
        base = group[group["method"] == "GaitGL"].set_index("condition")["rank1"]
        for method in ("GaitGL + GIL (L_m)", "GaitGL + GIL (L_s)"):
            values = group[group["method"] == method].set_index("condition")["rank1"]
            for condition in ("NM", "BG", "CL"):
                gain = round(float(values[condition] - base[condition]), 1)
                rows.append({"source": "paper", "setting": setting, "method": method, "condition": condition,
                             "gain": gain})  # fmt: skip
    branch = authors_branch()
    for setting, group in branch.groupby("setting", sort=False):
        base = group[group["method"] == "GaitGL (OpenGait)"].set_index("condition")["rank1"]
        values = group[group["method"] == "GaitGL + GiLoss"].set_index("condition")["rank1"]
        for condition in values.index:
            gain = round(float(values[condition] - base[condition]), 1)
            rows.append({"source": "authors' branch", "setting": setting, "method": "GaitGL + GiLoss",
                         "condition": condition, "gain": gain})  # fmt: skip
    return pd.DataFrame(rows)


def branch_repeats_paper() -> bool:
    """Whether the authors' branch's CASIA-B row of GaitGL + GiLoss is, to the decimal, the paper's LT row of GIL's
    softmax form (L_s): then the zoo reports the paper's number, not a separate run."""
    paper = table1().query("setting == 'LT (74)' and method == 'GaitGL + GIL (L_s)'").set_index("condition")["rank1"]
    zoo = authors_branch().query("setting == 'CASIA-B LT (74)' and method == 'GaitGL + GiLoss'")
    zoo = zoo.set_index("condition")["rank1"]
    return bool(len(zoo)) and bool((paper.reindex(zoo.index) == zoo).all())
