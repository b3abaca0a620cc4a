"""gil.experiments.rerun: a study rerun from page 06's parameters checks every one before any cell trains."""

import pytest

from gil.experiments import rerun, study

GOOD = dict(variants=["triplet", "gil_margin"], seeds=[0, 1], backbones=["gaitgl"], preset="tiny", steps=None)


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        ({"variants": ["triplet", "gil_magic"]}, r"parameter variants: unknown \['gil_magic'\]; known: triplet, "),
        ({"variants": []}, "parameter variants=.*non-empty"),
        ({"variants": "triplet"}, "parameter variants='triplet'"),
        ({"seeds": [0, -1, 1.5]}, r"parameter seeds: \[-1, 1.5\]"),
        ({"seeds": []}, "parameter seeds="),
        ({"backbones": ["gaitnet"]}, r"parameter backbones: unknown \['gaitnet'\]; known: gaitset, gaitpart"),
        ({"preset": "huge"}, "parameter preset='huge': expected one of .*tiny"),
        ({"steps": 0}, "parameter steps=0"),
        ({"steps": True}, "parameter steps=True"),
        ({"device": "tpu"}, "parameter device='tpu'"),
    ],
)
def test_a_bad_parameter_is_named(bad, message):
    with pytest.raises(ValueError, match=message):
        rerun.check_study_parameters(**{**GOOD, **bad})


def test_good_parameters_pass():
    rerun.check_study_parameters(**GOOD, device="cpu")


def test_rerun_study_runs_the_cells_on_the_checked_data(monkeypatch, tiny_root, tmp_path):
    calls = []
    monkeypatch.setattr(study, "run_study", lambda out, **kwargs: calls.append((out, kwargs)))
    out = rerun.rerun_study(
        tmp_path / "study",
        data_root=tiny_root,
        steps=3,
        device="cpu",
        **{k: v for k, v in GOOD.items() if k != "steps"},
    )
    assert out == tmp_path / "study"
    [(where, kwargs)] = calls
    assert where == out
    assert kwargs["variants"] == ["triplet", "gil_margin"] and kwargs["seeds"] == [0, 1]
    assert kwargs["backbones"] == ["gaitgl"] and kwargs["base"] == "embedded/tiny_triplet"
    assert kwargs["overrides"] == {"data.root": str(tiny_root), "trainer.device": "cpu", "trainer.steps": 3}
    assert kwargs["runs_root"] == out / "runs"


def test_rerun_study_trains_nothing_with_a_bad_parameter(monkeypatch, tmp_path):
    monkeypatch.setattr(study, "run_study", lambda *args, **kwargs: pytest.fail("a cell ran"))
    with pytest.raises(ValueError, match="parameter variants"):
        rerun.rerun_study(tmp_path, **{**GOOD, "variants": ["nope"]})
    with pytest.raises(ValueError, match="parameter data_root"):
        rerun.rerun_study(tmp_path, data_root=tmp_path / "absent", **GOOD)
