from pathlib import Path

import pytest
import yaml

from gil import config as config_lib
from gil.config import RunConfig, bundled_configs
from gil.experiments.project import checkout

BUNDLED = bundled_configs()
PROJECT_ROOT = checkout()


@pytest.mark.parametrize("name", BUNDLED)
def test_every_bundled_config_loads(name):
    config = config_lib.load(name)
    assert isinstance(config, RunConfig)
    assert config.data.identities * config.data.per_identity > 0
    assert config.loss.terms, "a config without loss terms trains nothing"


def test_bundled_configs_cover_paper_settings():
    names = set(BUNDLED)
    for dataset in ("casia-b", "oumvlp"):
        for model in ("gaitset", "gaitpart", "gaitgl", "gaitbase"):
            for loss in ("triplet", "gil_margin", "gil_softmax"):
                assert f"{dataset}/{model}_{loss}" in names
    assert "casia-b/gaitgl_authors" in names


def test_the_authors_pr_recipe_is_their_three_terms_on_their_gaitgl_setting():
    recipe = config_lib.load("casia-b/gaitgl_authors_pr").to_dict()
    published = config_lib.load("casia-b/gaitgl_authors").to_dict()
    terms = recipe["loss"]["terms"]
    assert list(terms) == ["triplet", "gil", "ce"]
    assert terms["triplet"] == {"weight": 1.0, "margin": 0.2}
    assert terms["ce"] == {"weight": 1.0, "scale": 1.0, "label_smoothing": 0.0}
    gil = terms["gil"]
    assert (gil["weight"], gil["form"], gil["uniformity_weight"]) == (1.0, "softmax_official", 0.0)
    assert (gil["pair_weight"], gil["margin"]) == ("none", "none")  # InfoLoss has neither
    for key in ("data", "model", "optim", "schedule", "trainer", "eval"):
        assert recipe[key] == published[key]


def test_configs_of_one_backbone_differ_only_in_metric_loss():
    triplet = config_lib.load("casia-b/gaitgl_triplet").to_dict()
    gil = config_lib.load("casia-b/gaitgl_gil_margin").to_dict()
    for key in ("data", "model", "optim", "schedule", "trainer", "eval"):
        assert triplet[key] == gil[key]
    assert triplet["loss"]["terms"]["ce"] == gil["loss"]["terms"]["ce"]


def test_round_trip_through_yaml(tmp_path):
    config = config_lib.load("embedded/small_gil_margin", {"trainer.steps": 7})
    config_lib.save(config, tmp_path / "c.yaml")
    again = config_lib.load(tmp_path / "c.yaml")
    assert again == config
    assert again.trainer.steps == 7
    assert again.fingerprint() == config.fingerprint()


def test_overrides_parse_yaml_scalars():
    overrides = ["trainer.steps=20", "model.name=gaitset", "data.resolution=[32, 22]", "schedule.milestones=[10]"]
    overrides = config_lib.parse_overrides(overrides)
    config = config_lib.from_dict({}, overrides)
    assert config.trainer.steps == 20
    assert config.model.name == "gaitset"
    assert config.data.resolution == (32, 22)


def test_override_without_equals_is_an_error():
    with pytest.raises(ValueError, match="KEY=VALUE"):
        config_lib.parse_overrides(["trainer.steps"])


def test_unknown_key_names_the_dotted_key():
    with pytest.raises(ValueError, match=r"trainer\.stpes"):
        config_lib.from_dict({"trainer": {"stpes": 10}})
    with pytest.raises(ValueError, match=r"'datta'"):
        config_lib.from_dict({"datta": {}})


RENAMED_PK = (
    "config key 'data.p' was renamed to 'data.identities' (identities per batch); "
    "'data.k' to 'data.per_identity' (sequences per identity)"
)


def test_the_old_batch_keys_name_their_new_keys_from_a_dict_an_override_and_a_yaml_file(tmp_path):
    for values in ({"data": {"p": 8}}, {"data": {"p": 8, "k": 4}}):
        with pytest.raises(ValueError) as info:
            config_lib.from_dict(values)
        assert str(info.value) == RENAMED_PK
    with pytest.raises(ValueError, match=r"^config key 'data\.k' was renamed to 'data\.per_identity' .*'data\.p' to"):
        config_lib.from_dict({"data": {"k": 4}})
    with pytest.raises(ValueError) as info:
        config_lib.from_dict({}, config_lib.parse_overrides(["data.p=8"]))
    assert str(info.value) == RENAMED_PK
    with pytest.raises(ValueError) as info:
        config_lib.load("embedded/tiny_triplet", {"data.p": 8})
    assert str(info.value).endswith(f"with the override data.p=8: {RENAMED_PK}")
    old = yaml.safe_load(config_lib.find_config("embedded/tiny_triplet").read_text())
    old["data"]["p"], old["data"]["k"] = old["data"].pop("identities"), old["data"].pop("per_identity")
    path = tmp_path / "old.yaml"
    path.write_text(yaml.safe_dump(old))
    with pytest.raises(ValueError) as info:
        config_lib.load(path)
    assert str(info.value) == f"{path}: {RENAMED_PK}"


def test_the_renamed_keys_are_refused_not_aliased_and_the_new_ones_build():
    config = config_lib.from_dict({"data": {"identities": 3, "per_identity": 5}})
    assert (config.data.identities, config.data.per_identity) == (3, 5)
    assert "p" not in config.to_dict()["data"] and "k" not in config.to_dict()["data"]
    with pytest.raises(ValueError, match=r"config key 'data\.identities': expected an integer >= 1, got 0"):
        config_lib.from_dict({"data": {"identities": 0}})
    with pytest.raises(ValueError, match=r"unknown config key 'trainer\.p'"):  # renames are per dotted key
        config_lib.from_dict({"trainer": {"p": 8}})


@pytest.mark.parametrize(
    ("values", "key", "expected"),
    [
        ({"trainer": {"steps": "ten"}}, "trainer.steps", "integer"),
        ({"trainer": {"steps": 1.5}}, "trainer.steps", "integer"),
        ({"optim": {"lr": "fast"}}, "optim.lr", "number"),
        ({"trainer": {"compile": "yes"}}, "trainer.compile", "true/false"),
        ({"data": {"resolution": [32]}}, "data.resolution", "2 values"),
        ({"schedule": {"milestones": 5}}, "schedule.milestones", "list"),
    ],
)
def test_wrong_types_name_the_key_and_expectation(values, key, expected):
    with pytest.raises(ValueError, match=key.replace(".", r"\.")) as info:
        config_lib.from_dict(values)
    assert expected in str(info.value)


def test_bad_yaml_file_names_the_file(tmp_path):
    path = tmp_path / "broken.yaml"
    path.write_text("trainer: [unclosed")
    with pytest.raises(ValueError, match="broken.yaml"):
        config_lib.load(path)
    path.write_text(yaml.safe_dump({"trainer": {"bogus": 1}}))
    with pytest.raises(ValueError, match=r"broken\.yaml.*trainer\.bogus"):
        config_lib.load(path)


def test_unknown_config_name_lists_bundled_ones():
    with pytest.raises(FileNotFoundError, match="casia-b/gaitgl_triplet"):
        config_lib.find_config("no/such_config")


def test_relative_paths_resolve_against_the_working_directory_or_a_given_base(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    config = config_lib.from_dict({"data": {"root": "data/syngait-small", "partition": "splits/mine.json"}})
    assert config.data_root() == tmp_path.resolve() / "data" / "syngait-small"
    assert config_lib.resolve_path("/abs/path") == Path("/abs/path")
    elsewhere = config.resolved(tmp_path / "project")
    assert elsewhere.data.root == str(tmp_path / "project" / "data" / "syngait-small")
    assert elsewhere.data.partition == str(tmp_path / "project" / "splits" / "mine.json")
    named = config_lib.from_dict({"data": {"partition": "casia-b-st"}}).resolved(tmp_path)
    assert named.data.partition == "casia-b-st"  # partition names are not paths


def test_bundled_configs_load_by_name_from_any_folder(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    assert config_lib.load("embedded/tiny_triplet").name == "tiny-gaitgl-triplet"
    assert config_lib.load("embedded/tiny_triplet.yaml").name == "tiny-gaitgl-triplet"
    (tmp_path / "mine.yaml").write_text("name: mine\n")
    assert config_lib.load("mine.yaml").name == "mine"  # a relative YAML path: from the working directory


def test_fingerprint_ignores_logging_but_not_training_fields():
    base = config_lib.from_dict({})
    assert (
        base.fingerprint() == config_lib.from_dict({"trainer": {"log_every": 3}, "data": {"workers": 0}}).fingerprint()
    )
    assert base.fingerprint() != config_lib.from_dict({"trainer": {"seed": 1}}).fingerprint()
    assert base.fingerprint() != config_lib.from_dict({"data": {"identities": 4}}).fingerprint()
    assert base.fingerprint() != config_lib.from_dict({"data": {"per_identity": 4}}).fingerprint()
    assert base.fingerprint() != config_lib.from_dict({"loss": {"terms": {"gil": {}}}}).fingerprint()


def test_an_unset_uniformity_weight_counts_as_its_forms_default():
    """λ_u left unset is the form's default (the margin form's changed from 0.1 to 0.01): the fingerprint follows the
    setting the run trains with, not how it was written, so a run folder of the old default is never reused."""

    def of(terms):
        return config_lib.from_dict({"loss": {"terms": {"gil": terms}}}).fingerprint()

    assert of({}) == of({"uniformity_weight": 0.01})
    assert of({"form": "margin"}) == of({"form": "margin", "uniformity_weight": 0.01})
    assert of({}) != of({"uniformity_weight": 0.1})
    assert of({"form": "softmax"}) == of({"form": "softmax", "uniformity_weight": 0.1})  # the same loss
    assert of({"form": "softmax"}) != of({"form": "softmax", "uniformity_weight": 0.05})


def test_fingerprint_is_the_same_for_a_relative_and_absolute_root_and_follows_the_generated_data(tmp_path, monkeypatch):
    monkeypatch.chdir(PROJECT_ROOT)
    relative = config_lib.from_dict({"data": {"root": "data/syngait-small"}})
    absolute = config_lib.from_dict({"data": {"root": str(PROJECT_ROOT / "data" / "syngait-small")}})
    assert relative.fingerprint() == absolute.fingerprint()
    config = config_lib.from_dict({"data": {"root": str(tmp_path)}})
    before = config.fingerprint()
    (tmp_path / "syngait.json").write_text('{"preset": {"coat_strength": 1.0}}\n')
    first = config.fingerprint()
    (tmp_path / "syngait.json").write_text('{"preset": {"coat_strength": 2.0}}\n')
    assert len({before, first, config.fingerprint()}) == 3  # regenerated data never reuses a cached run
    copy = tmp_path / "elsewhere"
    copy.mkdir()
    (copy / "syngait.json").write_text((tmp_path / "syngait.json").read_text())
    moved = config_lib.from_dict({"data": {"root": str(copy)}})
    assert moved.fingerprint() == config.fingerprint()  # generated data counts by what it is, not where it lies
