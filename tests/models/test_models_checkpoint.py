"""OpenGait checkpoint key maps, round trip and error reporting.

Beyond these tests, the key maps were checked once against OpenGait's own code (HEAD 0efafd4, its
modules imported from the git mirror with stubbed utils/einops, torchvision 0.29.1 for ResNet9;
not part of this suite, which must run without OpenGait): for all eight registry names, OpenGait's
state dict loaded with ``load_opengait_checkpoint`` reports no missing/unexpected keys, the
parameter counts agree, and in float64 our embeddings and logits equal OpenGait's to <= 1e-15 in
eval mode (one sequence at a time, our padded batch vs its packed ``seqL`` batch, clips of 1-2
frames) and in train mode (BatchNorm batch statistics).
"""

import collections
import pickle

import pytest
import torch

from gil.models import MODELS, build_model, export_opengait_state_dict, load_opengait_checkpoint

BN = ("weight", "bias", "running_mean", "running_var", "num_batches_tracked")


def bn(prefix):
    return {f"{prefix}.{k}" for k in BN}


def resnet9_block(prefix, downsample):  # torchvision BasicBlock names
    keys = {f"{prefix}.conv1.weight", f"{prefix}.conv2.weight"} | bn(f"{prefix}.bn1") | bn(f"{prefix}.bn2")
    if downsample:
        keys |= {f"{prefix}.downsample.0.weight"} | bn(f"{prefix}.downsample.1")
    return keys


# OpenGait's state-dict keys, written out by hand from its source (modeling/models/*.py,
# modeling/modules.py, backbones/plain.py, backbones/resnet.py) and the CASIA-B configs.
OPENGAIT_KEYS = {
    "gaitset": {f"set_block{b}.forward_block.{i}.conv.weight" for b in (1, 2, 3) for i in (0, 2)}
    | {f"gl_block{b}.{i}.conv.weight" for b in (2, 3) for i in (0, 2)}
    | {"Head.fc_bin"},
    "gaitpart": {f"Backbone.forward_block.feature.{i}.conv.weight" for i in (0, 2, 5, 7, 10, 12)}
    | {f"TFA.pooling_func.conv1d3x{k}.{p}.{i}.conv.weight" for k in (1, 3) for p in range(16) for i in (0, 2)}
    | {"Head.fc_bin"},
    "gaitgl": {"conv3d.0.conv3d.weight", "LTA.0.conv3d.weight", "HPP.p", "Head0.fc_bin", "Head1.fc_bin"}
    | {f"{m}.{b}_conv3d.conv3d.weight" for m in ("GLConvA0", "GLConvA1", "GLConvB2") for b in ("global", "local")}
    | bn("Bn"),
    "gaitgl_oumvlp": {
        "conv3d.0.conv3d.weight",
        "conv3d.2.conv3d.weight",
        "LTA.0.conv3d.weight",
        "HPP.p",
        "Head0.fc_bin",
        "Head1.fc_bin",
    }
    | {
        f"{m}.{j}.{b}_conv3d.conv3d.weight"
        for m in ("GLConvA0", "GLConvA1", "GLConvB2")
        for j in (0, 1)
        for b in ("global", "local")
    }
    | bn("Bn"),
    "gaitbase": {"Backbone.forward_block.conv1.conv.weight", "FCs.fc_bin", "BNNecks.fc_bin"}
    | bn("Backbone.forward_block.bn1")
    | bn("BNNecks.bn1d")
    | set().union(*(resnet9_block(f"Backbone.forward_block.layer{i}.0", i > 1) for i in (1, 2, 3, 4))),
}


@pytest.mark.parametrize("name", sorted(OPENGAIT_KEYS))
def test_exported_keys_are_opengaits(name):
    with torch.device("meta"):
        model = build_model(name, 74)
    assert set(export_opengait_state_dict(model)) == OPENGAIT_KEYS[name]


def save_opengait(path, state, iteration=1234):
    """A checkpoint laid out as OpenGait's BaseModel.save_ckpt writes it."""
    torch.save(
        {
            "model": state,
            "optimizer": {"state": {}, "param_groups": [{"lr": 0.1, "params": [0]}]},
            "scheduler": {"milestones": collections.Counter({10000: 1}), "last_epoch": iteration},
            "iteration": iteration,
        },
        path,
    )


@pytest.mark.parametrize("name", sorted(MODELS))
def test_round_trip_through_opengait_names(name, tmp_path):
    torch.manual_seed(0)
    source = build_model(name, 5, width=0.25)
    source.train()(torch.rand(2, 3, 32, 22))  # move BatchNorm running statistics off their defaults
    save_opengait(tmp_path / "ckpt.pt", export_opengait_state_dict(source))
    torch.manual_seed(1)
    target = build_model(name, 5, width=0.25)
    report = load_opengait_checkpoint(tmp_path / "ckpt.pt", target)
    assert report.ok and report.iteration == 1234
    for key, value in source.state_dict().items():
        assert torch.equal(target.state_dict()[key], value), key
    x = torch.rand(2, 4, 32, 22)
    with torch.no_grad():
        assert torch.equal(source.eval()(x)["embeddings"], target.eval()(x)["embeddings"])


def test_wrong_key_and_shape_are_named(tmp_path):
    model = build_model("gaitgl", 5, width=0.25)
    state = export_opengait_state_dict(model)
    state["GLConvA1.global_conv3d.weight"] = state.pop("GLConvA1.global_conv3d.conv3d.weight")
    state["Head1.fc_bin"] = torch.zeros(64, 32, 9)
    save_opengait(tmp_path / "bad.pt", state)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    with pytest.raises(ValueError) as err:
        load_opengait_checkpoint(tmp_path / "bad.pt", model)
    message = str(err.value)
    assert "bad.pt does not fit GaitGL" in message
    assert "missing: GLConvA1.global_conv3d.conv3d.weight" in message
    assert "unexpected: GLConvA1.global_conv3d.weight" in message
    assert "Head1.fc_bin: file shape (64, 32, 9) != model shape (64, 32, 5)" in message
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())  # untouched

    report = load_opengait_checkpoint(tmp_path / "bad.pt", model, strict=False)
    assert report.missing == ("GLConvA1.global_conv3d.conv3d.weight",)
    assert report.unexpected == ("GLConvA1.global_conv3d.weight",)
    assert len(report.mismatched) == 1
    assert torch.equal(model.state_dict()["stem.0.weight"], state["conv3d.0.conv3d.weight"])


def test_bare_and_ddp_state_dicts_load(tmp_path):
    model = build_model("gaitpart", 5, width=0.25)
    state = export_opengait_state_dict(model)
    state["loss_aggregator.losses.triplet.margin"] = torch.tensor(0.2)  # a loss's own parameter
    torch.save({f"module.{k}": v for k, v in state.items()}, tmp_path / "ddp.pt")
    assert load_opengait_checkpoint(tmp_path / "ddp.pt", model).ok


class Payload:  # stands for arbitrary code a pickle could run
    pass


def test_non_tensor_pickles_are_refused(tmp_path):
    path = tmp_path / "evil.pt"
    with open(path, "wb") as f:
        pickle.dump({"model": Payload()}, f, protocol=2)
    with pytest.raises(ValueError, match="evil.pt: not a readable torch checkpoint"):
        load_opengait_checkpoint(path, build_model("gaitset", 5, width=0.25))
    with pytest.raises(FileNotFoundError, match="nope.pt"):
        load_opengait_checkpoint(tmp_path / "nope.pt", build_model("gaitset", 5, width=0.25))
