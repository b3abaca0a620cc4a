"""GIL inside OpenGait (issue #18, item 1): the plug-in driven as OpenGait's LossAggregator drives a loss, its
loss_cfg snippets, and `gil opengait install | uninstall` on a scratch OpenGait-shaped folder."""

import importlib.util
import inspect
import sys

import pytest
import torch
import yaml

from gil import cli
from gil.integrations import opengait
from gil.losses import GeneralizedInterClassLoss as CoreGIL


def build_like_opengait(loss_class, entry):
    """OpenGait's LossAggregator._build_loss_: ``get_valid_args(Loss, cfg, ['type', 'gather_and_scale'])`` keeps the
    entries named in the constructor's argspec (others are logged and dropped), then ``Loss(**args)``."""
    expected = inspect.getfullargspec(loss_class.__init__)[0]
    free = ["type", "gather_and_scale"]
    args = {k: v for k, v in entry.items() if k in expected and k not in free}
    dropped = [k for k in entry if k not in expected and k not in free]
    return loss_class(**args), dropped


def aggregate_like_opengait(losses, training_feats):
    """OpenGait's LossAggregator.forward: per key, ``loss, info = loss_func(**v)``, ``loss.mean() * weight``."""
    loss_sum, loss_info = 0.0, {}
    for key, value in training_feats.items():
        loss_func = losses[key]
        loss, info = loss_func(**value)
        for name, item in info.items():
            loss_info[f"scalar/{key}/{name}"] = item
        loss_sum += loss.mean() * loss_func.loss_term_weight
    return loss_sum, loss_info


def embeddings_ncp(seed=0, n=16, c=8, p=4):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, c, p, generator=g, dtype=torch.float64, requires_grad=True), torch.arange(n) % 4


@pytest.mark.parametrize("form", ["margin", "softmax", "softmax_official"])
def test_the_aggregator_gets_the_core_loss_on_the_transposed_input(form):
    entry = {"loss_term_weight": 0.5, "type": "GeneralizedInterClassLoss", "form": form, "log_prefix": "triplet"}
    loss_func, dropped = build_like_opengait(opengait.GeneralizedInterClassLoss, entry)
    assert dropped == ["log_prefix"]  # OpenGait drops it too (it names the key, not an argument)
    e, y = embeddings_ncp()
    total, info = aggregate_like_opengait({"triplet": loss_func}, {"triplet": {"embeddings": e, "labels": y}})
    core, core_info = CoreGIL(form=form)(e.transpose(1, 2), y)  # the core loss reads [n, p, c]
    torch.testing.assert_close(total, 0.5 * core, rtol=1e-12, atol=1e-12)
    assert all(isinstance(v, torch.Tensor) for v in info.values())
    assert float(info["scalar/triplet/loss"]) == pytest.approx(core_info["loss"])
    total.backward()
    assert torch.isfinite(e.grad).all()


def test_a_batch_without_pairs_is_a_zero_loss_by_default():
    loss_func = opengait.GeneralizedInterClassLoss()
    e = torch.randn(4, 8, 2, requires_grad=True)
    loss, info = loss_func(e, torch.zeros(4, dtype=torch.int64))
    assert loss.item() == 0.0 and float(info["empty_batch"]) == 1.0
    with pytest.raises(ValueError, match="single class"):
        opengait.GeneralizedInterClassLoss(empty_batch="raise")(e, torch.zeros(4, dtype=torch.int64))


def test_a_two_dimensional_input_is_refused():
    with pytest.raises(ValueError, match=r"OpenGait's \[n, c, p\]"):
        opengait.GeneralizedInterClassLoss()(torch.randn(4, 8), torch.arange(4) % 2)


RECIPE = "gaitgl_authors_pr_recipe"


@pytest.mark.parametrize("name", sorted(opengait.loss_cfg_snippets()))
def test_every_snippet_builds_and_uses_the_models_triplet_key(name):
    entries = yaml.safe_load(opengait.loss_cfg_snippets()[name])["loss_cfg"]
    gil_entries = [e for e in entries if e["type"] == "GeneralizedInterClassLoss"]
    # the authors' recipe keeps OpenGait's triplet under `triplet`; GIL takes the key their GaitGL adds
    assert len(gil_entries) == 1 and gil_entries[0]["log_prefix"] == ("infonce" if name == RECIPE else "triplet")
    loss_func, dropped = build_like_opengait(opengait.GeneralizedInterClassLoss, gil_entries[0])
    assert dropped == ["log_prefix"]
    assert loss_func.loss.config.form == gil_entries[0]["form"]


def test_snippets_cover_every_backbone_and_form():
    names = set(opengait.loss_cfg_snippets())
    assert names == {
        f"{m}_gil_{f}" for m in ("gaitset", "gaitpart", "gaitgl", "gaitbase") for f in ("margin", "softmax")
    } | {RECIPE}


def test_the_authors_recipe_is_their_three_terms_at_weight_one():
    entries = yaml.safe_load(opengait.loss_cfg_snippets()[RECIPE])["loss_cfg"]
    assert [(e["type"], e["log_prefix"], e["loss_term_weight"]) for e in entries] == [
        ("TripletLoss", "triplet", 1.0),
        ("GeneralizedInterClassLoss", "infonce", 1.0),
        ("CrossEntropyLoss", "softmax", 1.0),
    ]
    loss_func, _ = build_like_opengait(opengait.GeneralizedInterClassLoss, entries[1])
    assert loss_func.loss.config.form == "softmax_official" and loss_func.loss.config.uniformity_weight == 0.0


@pytest.fixture
def opengait_root(tmp_path):
    """The folders OpenGait's loss discovery needs: opengait/modeling/losses/{__init__,base}.py."""
    losses = tmp_path / "OpenGait" / "opengait" / "modeling" / "losses"
    losses.mkdir(parents=True)
    (losses / "__init__.py").write_text("")
    (losses / "base.py").write_text("class BaseLoss: pass\n")
    return tmp_path / "OpenGait"


def test_install_and_uninstall_are_idempotent(opengait_root, capsys):
    path, changed = opengait.install(opengait_root)
    assert changed and path.parent.name == "losses"
    assert opengait.install(opengait_root) == (path, False)
    # what OpenGait does with the module: import it and take its classes
    spec = importlib.util.spec_from_file_location("opengait_losses_gil", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    classes = [v for v in vars(module).values() if inspect.isclass(v)]
    assert classes == [opengait.GeneralizedInterClassLoss]
    assert opengait.uninstall(opengait_root) == (path, True)
    assert opengait.uninstall(opengait_root) == (path, False)
    assert not path.exists()
    sys.modules.pop("opengait_losses_gil", None)


def test_a_foreign_file_of_that_name_is_never_touched(opengait_root):
    foreign = opengait_root / "opengait" / "modeling" / "losses" / opengait.MODULE_NAME
    foreign.write_text("# someone's own loss\n")
    with pytest.raises(FileExistsError, match="not written by `gil opengait install`"):
        opengait.install(opengait_root)
    with pytest.raises(FileExistsError, match="not written by `gil opengait install`"):
        opengait.uninstall(opengait_root)
    assert foreign.read_text() == "# someone's own loss\n"


def test_the_cli_installs_and_names_a_folder_that_is_not_opengait(opengait_root, tmp_path, capsys):
    assert cli.main(["opengait", "install", str(opengait_root)]) == 0
    assert "type: GeneralizedInterClassLoss" in capsys.readouterr().out
    assert cli.main(["opengait", "install", str(opengait_root)]) == 0
    assert "already installed" in capsys.readouterr().out
    assert cli.main(["opengait", "uninstall", str(opengait_root)]) == 0
    assert cli.main(["opengait", "install", str(tmp_path / "nowhere")]) == 2
    assert "not an OpenGait checkout" in capsys.readouterr().err
