"""Every registered backbone: shapes, padding invariance, determinism, gradients."""

import pytest
import torch

from gil.models import MODELS, build_model

CLASSES = 7
PRESET = dict(h=32, w=22, width=0.25)  # the CPU presets' input size and width
PARTS = {"gaitset": 62, "gaitpart": 16, "gaitgl": 64, "gaitbase": 16}
DIMS = {  # embedding size at width 1.0 (OpenGait configs)
    "gaitset": 256,
    "gaitpart": 128,
    "gaitgl": 128,
    "gaitbase": 256,
    "gaitset_oumvlp": 256,
    "gaitpart_oumvlp": 256,
    "gaitgl_oumvlp": 256,
    "gaitbase_oumvlp": 256,
}
HAS_LOGITS = {"gaitgl", "gaitbase"}
NAMES = sorted(MODELS)


def family(name):
    return name.removesuffix("_oumvlp")


def sils(n, s, h, w, seed=0, dtype=torch.float32):
    g = torch.Generator().manual_seed(seed)
    return (torch.rand(n, s, h, w, generator=g) > 0.5).to(dtype)


def check_output(name, out, n, dim):
    p = PARTS[family(name)]
    assert out["embeddings"].shape == (n, p, dim)
    if family(name) in HAS_LOGITS:
        assert out["logits"].shape == (n, p, CLASSES)
    else:
        assert out["logits"] is None


@pytest.mark.parametrize("name", NAMES)
def test_shapes_at_opengait_size(name):
    # width 1.0, 64x44, n=2, t=4; OUMVLP variants on the meta device (shapes only, 95M params)
    device = "meta" if name.endswith("_oumvlp") else "cpu"
    with torch.device(device):
        model = build_model(name, CLASSES).eval()
        x = torch.rand(2, 4, 64, 44)
    with torch.no_grad():
        check_output(name, model(x), 2, DIMS[name])


@pytest.mark.parametrize("name", NAMES)
def test_shapes_at_cpu_preset(name):
    model = build_model(name, CLASSES, width=PRESET["width"]).eval()
    with torch.no_grad():
        out = model(sils(3, 5, PRESET["h"], PRESET["w"]))
    check_output(name, out, 3, round(DIMS[name] * PRESET["width"]))
    assert torch.isfinite(out["embeddings"]).all()


@pytest.mark.parametrize("name", NAMES)
def test_padded_batch_equals_one_at_a_time(name):
    # lengths 1 and 2 exercise GaitGL's repetition of short clips, 4 its temporal stride 3
    torch.manual_seed(0)
    model = build_model(name, CLASSES, width=PRESET["width"]).double().eval()
    lengths = torch.tensor([7, 1, 4, 2, 5])
    x = sils(5, 7, PRESET["h"], PRESET["w"], dtype=torch.float64)
    with torch.no_grad():
        batch = model(x, lengths)
        for i, length in enumerate(lengths.tolist()):
            alone = model(x[i : i + 1, :length])
            for key in ("embeddings", "logits"):
                if alone[key] is not None:
                    torch.testing.assert_close(batch[key][i : i + 1], alone[key], rtol=1e-9, atol=1e-10)


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("train", [False, True])
def test_padding_content_is_ignored(name, train):
    # in training mode too: padding frames never reach BatchNorm statistics
    torch.manual_seed(0)
    model = build_model(name, CLASSES, width=PRESET["width"]).double().train(train)
    lengths = torch.tensor([6, 3, 4])
    x = sils(3, 6, PRESET["h"], PRESET["w"], dtype=torch.float64)
    y = x.clone()
    pad = torch.arange(6)[None, :] >= lengths[:, None]  # [n, s]
    y[pad] = torch.rand(int(pad.sum()), PRESET["h"], PRESET["w"], dtype=torch.float64) * 5 - 2
    with torch.no_grad():
        a, b = model(x, lengths), model(y, lengths)
    torch.testing.assert_close(a["embeddings"], b["embeddings"], rtol=1e-9, atol=1e-10)


@pytest.mark.parametrize("name", NAMES)
def test_eval_is_deterministic(name):
    model = build_model(name, CLASSES, width=PRESET["width"]).eval()
    x = sils(2, 5, PRESET["h"], PRESET["w"])
    with torch.no_grad():
        a, b = model(x), model(x)
    assert torch.equal(a["embeddings"], b["embeddings"])


@pytest.mark.parametrize("name", NAMES)
def test_gradients_reach_every_parameter(name):
    torch.manual_seed(0)
    model = build_model(name, CLASSES, width=PRESET["width"]).train()
    out = model(sils(4, 6, PRESET["h"], PRESET["w"]), torch.tensor([6, 3, 5, 2]))
    loss = out["embeddings"].pow(2).mean()
    if out["logits"] is not None:
        labels = torch.tensor([0, 1, 2, 3])[:, None].expand(-1, out["logits"].shape[1])
        loss = loss + torch.nn.functional.cross_entropy(out["logits"].transpose(1, 2), labels)
    loss.backward()
    for key, param in model.named_parameters():
        assert param.grad is not None, key
        assert torch.isfinite(param.grad).all(), key
        assert param.grad.abs().sum() > 0, key


def test_bad_inputs_are_named():
    model = build_model("gaitset", CLASSES, width=0.25)
    with pytest.raises(ValueError, match=r"sils must be \[n, s, h, w\]"):
        model(torch.rand(2, 1, 4, 32, 22))
    with pytest.raises(ValueError, match=r"lengths must lie in \[1, 4\]"):
        model(torch.rand(2, 4, 32, 22), torch.tensor([4, 5]))
    with pytest.raises(ValueError, match="lengths must be an integer tensor"):
        model(torch.rand(2, 4, 32, 22), torch.tensor([4.0, 2.0]))
