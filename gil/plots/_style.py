"""Shared look of the figures."""

from __future__ import annotations

import seaborn as sns

CONDITION_ORDER = ("NM", "BG", "CL")


def _style() -> None:
    sns.set_theme(context="notebook", style="whitegrid", font_scale=0.95)
