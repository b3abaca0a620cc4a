"""CUDA paths: AMP training, exact resume on the GPU, the loss under autocast, NCCL DDP.

These run only where CUDA is present (a GPU machine: ``pytest tests/test_cuda.py``); on CPU-only machines, CI
included, they are skipped with the reason shown. The CPU versions of the same behaviours are tested in
``test_train.py`` and ``tests/losses``.
"""

import os

import pytest
import torch
import torch.multiprocessing as mp
from rendezvous import as_rank, free_port

from gil import config as config_lib
from gil.checkpoints import read_checkpoint
from gil.losses import GeneralizedInterClassLoss
from gil.train import Trainer, train

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device on this machine")


def cuda_config(root, **overrides):
    values = {"data.root": str(root), "trainer.device": "cuda", "trainer.amp": "bf16", "data.workers": 0}
    values.update(overrides)
    return config_lib.load("embedded/tiny_gil_margin", values)


def test_bf16_training_steps_are_finite_and_keep_fp32_weights(tiny_root, tmp_path):
    trainer = Trainer(cuda_config(tiny_root, **{"trainer.steps": 3}), tmp_path / "run", progress=False)
    trainer.fit(resume=False)
    assert trainer.step == 3 and trainer.amp_dtype == torch.bfloat16
    params = list(trainer.model.parameters())
    assert all(p.is_cuda and p.dtype == torch.float32 and torch.isfinite(p).all() for p in params)


def test_fp16_training_uses_a_grad_scaler(tiny_root, tmp_path):
    trainer = Trainer(
        cuda_config(tiny_root, **{"trainer.amp": "fp16", "trainer.steps": 2}), tmp_path / "r", progress=False
    )
    trainer.fit(resume=False)
    assert trainer.scaler.is_enabled() and trainer.scaler.get_scale() > 0


def test_gpu_resume_equals_uninterrupted_training(tiny_root, tmp_path, interrupted_run):
    torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark = True, False
    config = cuda_config(tiny_root, **{"trainer.steps": 4, "trainer.checkpoint_every": 2, "trainer.amp": "off"})
    uninterrupted = train(config, tmp_path / "a", progress=False)
    interrupted_run(config, tmp_path / "b", step=3)
    resumed = train(config, tmp_path / "b", resume=True, progress=False)
    a = read_checkpoint(uninterrupted / "checkpoints" / "last.pt")
    b = read_checkpoint(resumed / "checkpoints" / "last.pt")
    assert a["step"] == b["step"] == 4
    for key, tensor in a["model"].items():
        assert torch.allclose(tensor, b["model"][key], atol=1e-6), key


@pytest.mark.parametrize("form", ["margin", "softmax", "softmax_official"])
def test_loss_under_autocast_matches_fp32(form):
    gen = torch.Generator(device="cuda").manual_seed(0)
    x = torch.randn(32, 16, 64, device="cuda", generator=gen)
    labels = torch.arange(8, device="cuda").repeat_interleave(4)
    loss = GeneralizedInterClassLoss(form=form)
    with torch.autocast("cuda", dtype=torch.bfloat16):
        mixed, _ = loss(x.bfloat16(), labels)
    reference, _ = loss(x.bfloat16().float(), labels)  # the same rounded inputs, float32 end to end
    assert mixed.dtype == torch.float32  # the loss computes in fp32 under autocast
    assert torch.isfinite(mixed) and torch.allclose(mixed, reference, rtol=1e-5)


def _nccl_worker(rank, world_size, port, root, run_dir):
    as_rank(rank, world_size, port)
    trainer = Trainer(cuda_config(root, **{"trainer.steps": 2}), run_dir, progress=False)
    trainer.fit(resume=False)
    torch.save({k: v.cpu() for k, v in trainer.model.named_parameters()}, f"{run_dir}/rank{rank}.pt")
    torch.distributed.barrier()
    os._exit(0)  # see test_train.py: skip the process-group destructor at exit


@pytest.mark.skipif(torch.cuda.device_count() < 2, reason="NCCL DDP needs two or more GPUs")
def test_two_gpu_nccl_ddp_keeps_ranks_in_sync(tiny_root, tmp_path):
    mp.spawn(_nccl_worker, args=(2, free_port(), str(tiny_root), str(tmp_path)), nprocs=2, join=True)
    rank0 = torch.load(tmp_path / "rank0.pt", weights_only=True)
    rank1 = torch.load(tmp_path / "rank1.pt", weights_only=True)
    for key in rank0:
        assert torch.equal(rank0[key], rank1[key]), key
