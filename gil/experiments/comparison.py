"""Words for a page that sets single runs side by side (notebook 03): one run against the baseline, in a sentence.

One seed each: the sentences state differences, they do not call one loss better (that is the multi-seed study's,
:mod:`gil.experiments.study_tables`).
"""

from __future__ import annotations

from collections.abc import Mapping

import pandas as pd


def summary_verdict(table: pd.DataFrame, other: str, baseline: str) -> str:
    """One run against the baseline, in Markdown, from :func:`gil.metrics.compare_summaries`' table.

    ``table`` has the row ``"<other> − <baseline>"`` and the columns ``rank-1 <group>`` per probe group plus
    ``rank-1 mean``. E.g. "**gil_margin** vs **triplet**: mean rank-1 higher by 1.2 points (NM +2.0, BG +1.0, CL +0.5
    points; better on 3 of 3 conditions)."
    """
    row = f"{other} − {baseline}"
    if row not in table.index:
        raise ValueError(f"table: no row {row!r}; rows: {', '.join(map(str, table.index))}")
    diff = table.loc[row]
    groups = [c.removeprefix("rank-1 ") for c in table.columns if c.startswith("rank-1 ") and c != "rank-1 mean"]
    better = [g for g in groups if diff[f"rank-1 {g}"] > 0]
    parts = ", ".join(f"{g} {diff[f'rank-1 {g}']:+.1f}" for g in groups)
    mean = diff["rank-1 mean"]
    lead = "higher" if mean > 0 else "lower" if mean < 0 else "the same"
    return (
        f"**{other}** vs **{baseline}**: mean rank-1 {lead} by {abs(mean):.1f} points "
        f"({parts} points; better on {len(better)} of {len(groups)} conditions)."
    )


def view_gap(rank1_per_view: Mapping[str, pd.DataFrame], other: str, baseline: str) -> str:
    """Where across the probe views ``other`` differs most from ``baseline``, in a sentence.

    ``rank1_per_view``: run name -> rank-1 (%) ``[probe views, groups]`` (:attr:`ProtocolResult.rank1_per_view`);
    each run's groups are averaged first, then the baseline's mean is subtracted view by view.
    """
    gap = rank1_per_view[other].mean(axis=1) - rank1_per_view[baseline].mean(axis=1)  # [probe views]
    return (
        f"{other} − {baseline}, mean over conditions: most in {other}'s favour at {gap.idxmax()}° ({gap.max():+.1f}), "
        f"least at {gap.idxmin()}° ({gap.min():+.1f}); better on {(gap > 0).sum()} of {len(gap)} views"
    )
