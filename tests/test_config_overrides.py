"""Issue #26: an override changes exactly what it names. One key of every term of every bundled config keeps every
other term and setting; nested mappings merge; a term is removed only by name; typos are refused naming the valid
keys; `gil config show` prints exactly what `gil train` records."""

from __future__ import annotations

import json
import logging

import pytest
import yaml

from gil import config as config_lib
from gil.cli import main
from gil.config import bundled_configs

# another valid value for every loss-term setting (by the term's current value where it is a choice)
OTHER_NUMBER = {
    "weight": 0.37,
    "margin": 0.31,  # the triplet's
    "scale": 2.5,
    "label_smoothing": 0.05,
    "uniformity_weight": 0.037,
    "m0": 0.21,
    "kappa": 0.7,
    "m_min": 0.04,
    "m_max": 0.45,
    "tau": 0.2,
    "t": 3.0,
}


def other_value(name: str, key: str, term: dict) -> object | None:
    """A different valid value for ``loss.terms.<name>.<key>``, or None where the form allows no other."""
    if name == "gil" and key == "form":
        return None  # a form changes what pair_weight and margin may be: covered by its own test below
    if name == "gil" and key == "pair_weight":
        return {"official": "none", "none": "official"}[term[key]] if term["form"] == "margin" else None
    if name == "gil" and key == "margin":
        return {"adaptive": "fixed", "fixed": "adaptive"}.get(term[key])
    if key == "uniformity_scale":
        return "norm" if term[key] == "none" else "none"
    if key == "metric_space":
        return ("sphere" if term[key] == "raw" else "raw") if term["form"] == "margin" else None
    return OTHER_NUMBER[key]


@pytest.mark.parametrize("name", bundled_configs())
def test_one_key_of_any_term_changes_that_key_only(name):
    base = config_lib.load(name)
    before = base.to_dict()
    checked = 0
    for term, settings in before["loss"]["terms"].items():
        for key, value in settings.items():
            new = other_value(term, key, settings)
            if new is None:
                continue
            dotted = f"loss.terms.{term}.{key}"
            after = config_lib.load(name, {dotted: new}).to_dict()
            expected = json.loads(json.dumps(before))
            expected["loss"]["terms"][term][key] = new
            assert after == expected, dotted
            assert config_lib.changes(base, config_lib.load(name, {dotted: new})) == [
                f"{dotted}: {json.dumps(value)} -> {json.dumps(new)}"
            ]
            checked += 1
    assert checked >= 2 * len(before["loss"]["terms"])


def test_the_issues_example_keeps_the_authors_pr_recipes_three_terms():
    config = config_lib.load("casia-b/gaitgl_authors_pr", {"loss.terms.gil.uniformity_weight": 0.05})
    terms = config.loss.terms
    assert list(terms) == ["triplet", "gil", "ce"]
    assert (terms["gil"].form, terms["gil"].weight, terms["gil"].uniformity_weight) == ("softmax_official", 1.0, 0.05)
    assert (terms["ce"].scale, terms["ce"].label_smoothing) == (1.0, 0.0)


def test_changing_the_form_keeps_the_other_settings_or_names_the_conflict():
    softmax = config_lib.load("embedded/small_gil_softmax", {"loss.terms.gil.form": "margin"}).loss.terms["gil"]
    assert (softmax.form, softmax.pair_weight, softmax.uniformity_weight) == ("margin", "none", 0.1)  # as written
    with pytest.raises(ValueError, match=r"pair_weight must be one of \('none',\) with form='softmax'"):
        config_lib.load("embedded/small_gil_margin", {"loss.terms.gil.form": "softmax"})
    both = {"loss.terms.gil.form": "softmax", "loss.terms.gil.pair_weight": "none"}
    assert config_lib.load("embedded/small_gil_margin", both).loss.terms["gil"].form == "softmax"


def test_nested_mappings_merge_key_by_key():
    name = "casia-b/gaitgl_authors_pr"
    base = config_lib.load(name).to_dict()
    for overrides in (
        {"loss.terms.gil": {"tau": 0.2}},
        {"loss": {"terms": {"gil": {"tau": 0.2}}}},
        {"loss.terms": {"gil": {"tau": 0.2}}},
    ):
        after = config_lib.load(name, overrides).to_dict()
        assert after["loss"]["terms"]["gil"] == {**base["loss"]["terms"]["gil"], "tau": 0.2}, overrides
        assert {k: v for k, v in after["loss"]["terms"].items() if k != "gil"} == {
            k: v for k, v in base["loss"]["terms"].items() if k != "gil"
        }
    same = config_lib.load(name, {"loss.terms.gil": {"tau": 0.2}, "loss.terms.gil.kappa": 0.9}).loss.terms["gil"]
    assert (same.tau, same.kappa) == (0.2, 0.9)


def test_a_term_is_removed_by_name_only():
    name = "casia-b/gaitgl_authors_pr"
    for term in ("triplet", "gil", "ce"):
        config = config_lib.load(name, {f"loss.terms.{term}": None})
        assert list(config.loss.terms) == [t for t in ("triplet", "gil", "ce") if t != term]
        assert config_lib.changes(config_lib.load(name), config) == [f"loss.terms.{term}: removed"]
    with pytest.raises(ValueError, match=r"there is no 'cee' to remove \(loss.terms: triplet, gil, ce\)"):
        config_lib.load(name, {"loss.terms.cee": None})
    with pytest.raises(ValueError, match="'loss.terms': expected at least one term"):
        config_lib.load("embedded/tiny_triplet", {"loss.terms.triplet": None})
    with pytest.raises(ValueError, match="expected an integer, got None"):
        config_lib.load(name, {"trainer.steps": None})  # only terms and model.kwargs entries can be removed


def test_a_term_is_added_whole_never_by_one_of_its_settings():
    with pytest.raises(ValueError, match=r"no loss term 'triplet' \(its terms: gil\); add the term whole"):
        config_lib.load("embedded/small_gil_margin", {"loss.terms.triplet.margin": 0.3})
    added = config_lib.load("embedded/small_gil_margin", {"loss.terms.triplet": {"margin": 0.3}}).loss.terms
    assert list(added) == ["gil", "triplet"] and added["triplet"].margin == 0.3 and added["triplet"].weight == 1.0
    both = {"loss.terms.triplet": {}, "loss.terms.triplet.margin": 0.3}
    assert config_lib.load("embedded/small_gil_margin", both).loss.terms["triplet"].margin == 0.3


@pytest.mark.parametrize(
    "overrides,message",
    [
        ({"loss.terms.gil.kapa": 0.7}, r"unknown config key 'loss.terms.gil.kapa'; known keys under 'loss.terms.gil'"),
        ({"loss.terms.gil": {"lambda_u": 0.1}}, r"'loss.terms.gil.lambda_u'; known keys under 'loss.terms.gil': form"),
        ({"loss.terms.arcface": {}}, r"'loss.terms.arcface': unknown loss term 'arcface'; known: ce, gil, triplet"),
        ({"loss.terms.ce.weight": -1}, r"'loss.terms.ce': weight must be a finite number in \[0, 1e6\]"),
        ({"loss.terms.gil.tau": "hot"}, r"'loss.terms.gil.tau': expected a finite number, got 'hot'"),
        ({"loss.terms.gil.form": "arc"}, r"'loss.terms.gil': GeneralizedInterClassLoss: form must be one of"),
        ({"loss.terms.gil": {"tau": float("inf")}}, r"'loss.terms.gil.tau': expected a finite number, got inf"),
        ({"loss.terms.gil.weight": True}, r"'loss.terms.gil.weight': expected a finite number, got True"),
        ({"loss.terms.gil.m0": "abc"}, r"'loss.terms.gil.m0': expected a finite number, got 'abc'"),
        ({"loss.terms.gil.uniformity_weight": 1e400}, r"'loss.terms.gil.uniformity_weight': expected a finite number"),
    ],
)
def test_typos_and_bad_values_in_a_term_are_refused_naming_it(overrides, message):
    with pytest.raises(ValueError, match=message):
        config_lib.load("casia-b/gaitgl_authors_pr", overrides)


def test_model_kwargs_merge_and_are_removed_by_name():
    config = config_lib.from_dict({"model": {"name": "gaitset", "kwargs": {"bins": [4, 2, 1]}}})
    merged = config_lib.from_dict(config.to_dict(), {"model.kwargs.embed_dim": 64})
    assert merged.model.kwargs == {"bins": [4, 2, 1], "embed_dim": 64}
    assert config_lib.from_dict(merged.to_dict(), {"model.kwargs.embed_dim": None}).model.kwargs == {"bins": [4, 2, 1]}
    with pytest.raises(ValueError, match=r"'model.kwargs': gaitset refuses \{'bins': \[4, 2, 1\], 'other': 1\}"):
        config_lib.from_dict(config.to_dict(), {"model.kwargs.other": 1})  # the constructor's own check, named


def test_a_saved_config_reads_back_with_the_same_fingerprint(tmp_path):
    for name in bundled_configs():
        config = config_lib.load(name, {"data.root": str(tmp_path)})
        config_lib.save(config, tmp_path / "c.yaml")
        again = config_lib.load(tmp_path / "c.yaml")
        assert again == config and again.fingerprint() == config.fingerprint(), name


TINY = ["--set", "trainer.steps=1", "--set", "trainer.device=cpu", "--set", "trainer.threads=1"]


def test_config_show_prints_what_gil_train_records(tiny_root, tmp_path, capsys, caplog, monkeypatch):
    """The issue's example on the tiny data: the authors' PR recipe with one GIL setting changed and CE removed."""
    monkeypatch.chdir(tmp_path)
    small = ["--set", "data.partition=dataset", "--set", "data.resolution=[32, 22]", "--set", "model.width=0.125"]
    small += ["--set", "data.frames=8", "--set", "data.identities=2", "--set", "data.per_identity=2"]
    small += ["--set", "data.workers=0", "--set", "schedule.warmup_steps=0"]
    args = ["casia-b/gaitgl_authors_pr", "--data-root", str(tiny_root), *TINY, *small]
    args += ["--set", "loss.terms.gil.uniformity_weight=0.05", "--set", "loss.terms.ce=null"]
    assert main(["config", "show", *args]) == 0
    shown, notes = capsys.readouterr()
    assert "# override: loss.terms.gil.uniformity_weight: 0.0 -> 0.05" in notes
    assert "# override: loss.terms.ce: removed" in notes
    values = yaml.safe_load(shown)
    assert list(values["loss"]["terms"]) == ["triplet", "gil"]
    assert values["loss"]["terms"]["gil"]["form"] == "softmax_official"
    assert values["loss"]["terms"]["gil"]["uniformity_weight"] == 0.05
    with caplog.at_level(logging.INFO):
        assert main(["train", "--config", *args, "--run-dir", "run", "--no-eval"]) == 0
    assert (tmp_path / "run" / "config.yaml").read_text() == shown
    logged = caplog.text
    assert "override: loss.terms.ce: removed" in logged
    assert "loss: 1 · triplet(margin=0.2) + 1 · gil(form='softmax_official'" in logged
    capsys.readouterr()
    assert main(["config", "show", *args, "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out) == values


def test_config_show_names_a_bad_override(capsys):
    assert main(["config", "show", "embedded/tiny_triplet", "--set", "loss.terms.triplet.marign=0.3"]) == 2
    assert "unknown config key 'loss.terms.triplet.marign'; known keys under 'loss.terms.triplet'" in (
        capsys.readouterr().err
    )


def test_config_list_names_the_bundled_configs(capsys):
    assert main(["config", "list"]) == 0
    assert capsys.readouterr().out.split() == bundled_configs()
