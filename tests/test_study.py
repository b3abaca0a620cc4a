import dataclasses
import json
import math

import numpy as np
import pandas as pd
import pytest

from gil.cli import main
from gil.experiments import study
from gil.experiments.project import checkout


def test_variant_configs_differ_only_in_loss_and_seed():
    base = study.variant_config("triplet", 0).to_dict()
    for variant in study.VARIANTS:
        other = study.variant_config(variant, 3).to_dict()
        assert other["trainer"]["seed"] == 3
        for key in ("data", "model", "optim", "schedule", "eval"):
            assert other[key] == base[key], (variant, key)
    first = study.VARIANTS["gil_margin_first"].loss().terms["gil"]
    assert first.uniformity_weight == 0.1

    def gil(variant):
        return study.VARIANTS[variant].loss().terms["gil"]

    assert gil("gil_margin") == dataclasses.replace(first, uniformity_weight=0.01)  # the validation's choice
    assert gil("gil_margin_first-no_pair_weights") == dataclasses.replace(first, pair_weight="none")
    assert gil("gil_margin_first-fixed_margin") == dataclasses.replace(first, margin="fixed")
    assert gil("gil_margin-no_uniformity") == dataclasses.replace(first, uniformity_weight=0.0)


def test_every_variant_is_the_loss_of_a_bundled_config_with_its_overrides():
    from gil import config as config_lib

    for variant, loss_of in study.VARIANTS.items():
        assert loss_of.config in config_lib.bundled_configs(), variant
        expected = config_lib.load(loss_of.config, dict(loss_of.overrides)).loss
        assert study.variant_config(variant, 0, backbone="gaitgl").loss == expected, variant
    assert study.VARIANTS["gil_softmax"].config == "embedded/small_gil_softmax"


def test_a_study_override_of_the_loss_is_refused():
    with pytest.raises(ValueError, match="'loss.terms.gil.tau' would be replaced by the cell's loss"):
        study.variant_config("gil_softmax", 0, overrides={"loss.terms.gil.tau": 0.2})
    with pytest.raises(ValueError, match="keys under 'loss.' only"):
        study.LossOf("embedded/small_triplet", {"trainer.steps": 2}).loss()


def test_the_default_margin_variant_is_the_selections_choice_and_shares_its_runs():
    from gil.experiments import selection

    for backbone in selection.ALL_BACKBONES:  # GaitBase's study cells are its default check's runs too
        chosen = selection.cell_config(backbone, "lambda_0.01", 1).fingerprint()
        assert study.variant_config("gil_margin", 1, backbone=backbone).fingerprint() == chosen
        first = selection.cell_config(backbone, "first", 1).fingerprint()
        assert study.variant_config("gil_margin_first", 1, backbone=backbone).fingerprint() == first


def test_the_authors_recipes_are_study_variants_with_their_bundled_loss_terms():
    from gil import config as config_lib

    for variant, bundled in (
        ("authors_triplet", "casia-b/gaitgl_authors"),
        ("authors_pr", "casia-b/gaitgl_authors_pr"),
    ):
        assert study.variant_config(variant, 0).loss == config_lib.load(bundled).loss


def test_unknown_variant_lists_known_ones():
    with pytest.raises(ValueError, match="gil_margin_first-fixed_margin"):
        study.variant_config("gil_magic", 0)


def test_t_interval_matches_hand_computation():
    values = np.array([70.0, 72.0, 74.0, 71.0, 73.0])
    mean, lo, hi = study.t_interval(values)
    half = 2.7764451051977987 * values.std(ddof=1) / math.sqrt(5)  # t_{0.975, 4}
    assert mean == pytest.approx(72.0)
    assert (lo, hi) == pytest.approx((72.0 - half, 72.0 + half))
    assert math.isnan(study.t_interval(np.array([1.0]))[1])


def test_summarize_pairs_seeds_against_the_baseline():
    rows = []
    for seed, (b, g) in enumerate([(60, 63), (62, 64), (58, 62)]):
        rows.append({"variant": "triplet", "seed": seed, "condition": "NM", "rank1": b, "map": None})
        rows.append({"variant": "gil_margin", "seed": seed, "condition": "NM", "rank1": g, "map": None})
        # another backbone: its own baseline, so the pairing must not cross backbones
        rows.append({"backbone": "gaitset", "variant": "triplet", "seed": seed, "condition": "NM", "rank1": 10})
        rows.append({"backbone": "gaitset", "variant": "gil_margin", "seed": seed, "condition": "NM", "rank1": 5})
    frame = pd.DataFrame(rows).fillna({"backbone": "gaitgl"})
    summary = study.summarize(frame)
    gaitset = summary[summary["backbone"] == "gaitset"].set_index("variant")
    assert gaitset.loc["gil_margin", "diff_vs_baseline"] == pytest.approx(-5.0)
    summary = summary[summary["backbone"] == "gaitgl"].set_index("variant")
    assert summary.loc["gil_margin", "diff_vs_baseline"] == pytest.approx(3.0)
    assert summary.loc["triplet", "diff_vs_baseline"] == pytest.approx(0.0)
    assert summary.loc["gil_margin", "seeds"] == 3
    assert summary.loc["gil_margin", "diff_lo"] < 3.0 < summary.loc["gil_margin", "diff_hi"]


def test_one_cell_from_the_cli_writes_rows_and_provenance(tiny_cli_options, tmp_path):
    out = tmp_path / "study"
    args = ["study", "--variant", "gil_margin", "--seed", "1", "--out", str(out), *tiny_cli_options]
    assert main(args) == 0
    frame = pd.read_csv(out / "ablation.csv")
    assert list(frame.columns) == study.ABLATION_COLUMNS
    assert set(frame["condition"]) == {"NM", "BG", "CL"} and set(frame["seed"]) == {1}
    provenance = json.loads((out / "provenance.json").read_text())
    assert provenance["machine"]["torch"] and provenance["cells"][0]["variant"] == "gil_margin"
    assert "--variant gil_margin" in provenance["command"]
    assert provenance["cells"][0]["reused"] is False
    assert main(args) == 0  # the same cell again: its run is reused, and provenance says so
    assert json.loads((out / "provenance.json").read_text())["cells"][0]["reused"] is True
    # the same cell retrained from scratch elsewhere reproduces the committed rows (CPU training is deterministic)
    again = list(args)
    again[again.index(str(out))] = str(tmp_path / "check")
    again[again.index(str(tmp_path / "runs"))] = str(tmp_path / "check-runs")
    assert main([*again, "--compare", str(out), "--tolerance", "0"]) == 0


def test_results_are_written_only_where_out_says_and_never_mixed_with_another_experiment(tmp_path, capsys):
    """Issue #30, case 3: no default output folder; a folder's cells share one base config and its overrides."""
    for command in ("study", "select", "calibrate", "curves"):
        with pytest.raises(SystemExit) as exit_info:
            main([command, "--seed", "0"])
        assert exit_info.value.code == 2 and "--out" in capsys.readouterr().err
    committed = json.loads((checkout() / "results" / "study" / "provenance.json").read_text())
    out = tmp_path / "study"
    out.mkdir()
    (out / "provenance.json").write_text(json.dumps(committed))  # a copy of the committed study's record
    before = (out / "provenance.json").read_bytes()
    with pytest.raises(ValueError, match=r"base_config: the file's 'embedded/small_triplet', this call's "
                       r"'embedded/tiny_triplet'; overrides: .* this call's \{'trainer.steps': 2\}"):  # fmt: skip
        study.read_provenance(out, "gil study …", "embedded/tiny_triplet", {"trainer.steps": 2})
    assert (out / "provenance.json").read_bytes() == before
    same = dict(committed["overrides"], **{"trainer.device": "cpu", "trainer.threads": 1})  # neutral: accepted
    assert (
        study.read_provenance(out, "gil study …", committed["base_config"], same)["overrides"]
        == (committed["overrides"])
    )


def _rows(variant: str, seed: int, value: float, backbone: str = "gaitgl") -> list[dict]:
    return [
        {"backbone": backbone, "variant": variant, "seed": seed, "condition": c, "rank1": value, "map": value}
        for c in ("NM", "BG", "CL")
    ]


def _merge(folder, provenance, variant, seed, value, backbone="gaitgl"):
    entry = {"backbone": backbone, "variant": variant, "seed": seed}
    study.merge_cell(folder, _rows(variant, seed, value, backbone), entry, provenance)


def test_cells_merge_into_the_study_folder_and_a_rerun_replaces_its_own_rows(tmp_path):
    provenance = study.read_provenance(tmp_path, "gil study", study.BASE_CONFIG, {})
    _merge(tmp_path, provenance, "gil_margin", 1, 50.0)
    _merge(tmp_path, provenance, "triplet", 0, 40.0)
    _merge(tmp_path, provenance, "triplet", 0, 30.0, backbone="gaitset")  # same variant and seed, other backbone
    again = study.read_provenance(tmp_path, "gil study --seed 1", study.BASE_CONFIG, {})
    _merge(tmp_path, again, "gil_margin", 1, 55.0)
    frame = pd.read_csv(tmp_path / "ablation.csv")
    assert len(frame) == 9  # three cells, three conditions each; the rerun replaced its own rows
    gaitgl = frame[frame["backbone"] == "gaitgl"]
    assert list(gaitgl["variant"]) == ["triplet"] * 3 + ["gil_margin"] * 3  # seed-major, variants in study order
    assert set(gaitgl.loc[gaitgl["variant"] == "gil_margin", "rank1"]) == {55.0}
    assert set(frame.loc[frame["backbone"] == "gaitset", "rank1"]) == {30.0}
    cells = json.loads((tmp_path / "provenance.json").read_text())["cells"]
    keys = [(c["backbone"], c["variant"], c["seed"]) for c in cells]
    assert keys == [("gaitgl", "triplet", 0), ("gaitset", "triplet", 0), ("gaitgl", "gil_margin", 1)]
    assert cells[2]["command"] == "gil study --seed 1" and "commit" in cells[2]


def test_study_files_without_the_backbone_column_are_the_base_config_s(tmp_path):
    old = pd.DataFrame(_rows("triplet", 0, 40.0)).drop(columns="backbone")
    old.to_csv(tmp_path / "ablation.csv", index=False)
    (tmp_path / "provenance.json").write_text(json.dumps({"base_config": study.BASE_CONFIG, "cells": []}))
    ablation, _ = study.load_study(tmp_path)
    assert list(ablation.columns) == study.ABLATION_COLUMNS and set(ablation["backbone"]) == {"gaitgl"}
    provenance = study.read_provenance(tmp_path, "gil study", study.BASE_CONFIG, {})
    _merge(tmp_path, provenance, "triplet", 0, 30.0, backbone="gaitset")
    assert set(pd.read_csv(tmp_path / "ablation.csv")["backbone"]) == {"gaitgl", "gaitset"}


def test_a_backbone_cell_changes_only_the_model_and_keeps_the_base_s_folder_names():
    gaitgl, gaitset = study.variant_config("gil_margin", 0), study.variant_config("gil_margin", 0, backbone="gaitset")
    assert gaitset.model.name == "gaitset" and gaitset.name == "study-gaitset-gil_margin"
    assert study.variant_config("gil_margin", 0, backbone="gaitgl").name == gaitgl.name == "study-gil_margin"
    assert study.variant_config("gil_margin", 0, backbone="gaitgl").fingerprint() == gaitgl.fingerprint()
    a, b = gaitgl.to_dict(), gaitset.to_dict()
    assert {k for k in a if a[k] != b[k]} == {"name", "model"}


def test_compare_rows_flags_cells_beyond_the_tolerance_and_names_missing_ones():
    committed = pd.DataFrame(_rows("triplet", 0, 70.0) + _rows("gil_margin", 0, 71.0))
    now = pd.DataFrame(_rows("gil_margin", 0, 71.05))
    table = study.compare_rows(now, committed, tolerance=0.1)
    assert table["within"].all() and table["diff"].to_numpy() == pytest.approx([0.05] * 3)
    unrounded = pd.DataFrame(_rows("triplet", 0, 70.00004))  # the files keep 4 decimals
    assert study.compare_rows(unrounded, committed, tolerance=0.0)["within"].all()
    assert not study.compare_rows(pd.DataFrame(_rows("gil_margin", 0, 71.5)), committed)["within"].any()
    with pytest.raises(ValueError, match="gaitgl gil_softmax seed 0"):
        study.compare_rows(pd.DataFrame(_rows("gil_softmax", 0, 60.0)), committed)


def test_overall_verdict_groups_the_conditions_by_their_paired_verdict():
    rows = []
    for seed, (nm, bg, cl) in enumerate([(3.0, -2.0, 1.0), (4.0, -3.0, -1.0), (5.0, -2.5, 0.5)]):
        for variant, values in (("triplet", (0.0, 0.0, 0.0)), ("gil_margin", (nm, bg, cl))):
            rows += [
                {"backbone": "gaitset", "variant": variant, "seed": seed, "condition": c, "rank1": 50 + v, "map": 0.0}
                for c, v in zip(("NM", "BG", "CL"), values, strict=True)
            ]
    rows.append({"backbone": "gaitset", "variant": "gil_softmax", "seed": 0, "condition": "NM", "rank1": 1.0, "map": 0})
    table = study.overall_verdict(study.summarize(pd.DataFrame(rows))).set_index("variant")["verdict"]
    assert table["gil_margin"] == "helps on NM; hurts on BG; cannot be told apart on CL"
    assert table["gil_softmax"] == "too few seeds on NM"
    assert "triplet" not in table.index


def test_the_verdict_rule_and_the_minimum_detectable_effect():
    """helps / hurts / equivalent within ±2 (the whole interval inside) / cannot be told apart, fixed before the
    study's larger cells run; the minimum detectable effect at 80% power against a hand computation."""
    assert study.paired_verdict(0.1, 5.0) == "helps" and study.paired_verdict(-5.0, -0.1) == "hurts"
    assert study.paired_verdict(0.5, 1.5) == "helps"  # a detected gain below 2 points is still a gain
    assert study.paired_verdict(-2.0, 1.9) == "equivalent within ±2"
    assert study.paired_verdict(-2.1, 1.0) == "cannot be told apart"
    assert study.paired_verdict(float("nan"), float("nan")) == "too few seeds"
    diffs = np.array([1.0, 2.0, 3.0])  # s = 1, n = 3: (t_0.975,2 + t_0.8,2) / √3 = (4.3027 + 1.0607) / 1.7321
    assert study.minimum_detectable_effect(diffs) == pytest.approx(3.0965, abs=1e-4)
    assert np.isnan(study.minimum_detectable_effect(np.array([1.0])))
    rows = []
    for seed, diff in enumerate([1.0, 2.0, 3.0]):
        for variant, value in (("triplet", 50.0), ("gil_margin", 50.0 + diff)):
            rows.append({"backbone": "gaitgl", "variant": variant, "seed": seed, "condition": "NM", "rank1": value,
                         "map": 0.0})  # fmt: skip
    summary = study.summarize(pd.DataFrame(rows)).set_index("variant")
    assert summary.loc["gil_margin", "mde"] == pytest.approx(3.0965, abs=1e-4)
    half = summary.loc["gil_margin", "half_width"]
    assert half == pytest.approx(4.3027 / np.sqrt(3), abs=1e-4)
    assert "detectable from ±3.1" in study.verdict(summary.reset_index().iloc[1])
    assert "+2.0 points over 3 paired seeds, 95% CI" in study.verdict(summary.reset_index().iloc[1])


def test_summarize_pairs_only_the_seeds_both_variants_have():
    """Triplet on more seeds than the GIL form (the study's step 3): the paired difference uses the shared seeds,
    each variant's own mean all of its seeds."""
    rows = [{"backbone": "gaitgl", "variant": "triplet", "seed": s, "condition": "NM", "rank1": 50.0 + s, "map": 0.0}
            for s in range(5)]  # fmt: skip
    rows += [{"backbone": "gaitgl", "variant": "gil_margin", "seed": s, "condition": "NM", "rank1": 52.0 + s,
              "map": 0.0} for s in (1, 3, 4)]  # fmt: skip
    summary = study.summarize(pd.DataFrame(rows)).set_index("variant")
    assert summary.loc["triplet", "seeds"] == 5 and summary.loc["triplet", "mean"] == pytest.approx(52.0)
    assert summary.loc["gil_margin", "seeds"] == 3 and summary.loc["gil_margin", "paired_seeds"] == 3
    assert summary.loc["gil_margin", "diff_vs_baseline"] == pytest.approx(2.0)
    assert summary.loc["gil_margin", "half_width"] == pytest.approx(0.0)
