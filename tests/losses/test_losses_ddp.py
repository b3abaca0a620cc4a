"""Under DDP (2 gloo processes on CPU) the metric losses equal the single-process loss on the
concatenated batch, and DDP's averaged parameter gradients equal the single-process ones."""

from __future__ import annotations

import datetime
import os
import socket

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from torch.nn.parallel import DistributedDataParallel

from gil.losses import GeneralizedInterClassLoss, TripletLoss

N, PARTS, DIMS, FEATURES = 12, 3, 4, 10
SPLIT = 7  # rank 0 holds 7 samples, rank 1 holds 5: unequal batches exercise the padding
LABELS = torch.tensor([4, 4, 1, 1, 1, 0, 3, 0, 4, 3, 3, 0])
LOSSES = {
    "triplet": lambda: TripletLoss(margin=0.2),
    "gil_margin": lambda: GeneralizedInterClassLoss(form="margin"),
    "gil_softmax": lambda: GeneralizedInterClassLoss(form="softmax"),
    "gil_official": lambda: GeneralizedInterClassLoss(form="softmax_official"),
}


def _data():
    gen = torch.Generator().manual_seed(0)
    features = torch.randn(N, FEATURES, generator=gen, dtype=torch.float64)
    model = torch.nn.Linear(FEATURES, PARTS * DIMS).double()
    with torch.no_grad():
        model.weight.copy_(torch.randn(model.weight.shape, generator=gen, dtype=torch.float64) * 0.3)
        model.bias.zero_()
    return features, model


def _run(model, features, labels, loss_fn):
    emb = model(features).view(-1, PARTS, DIMS)  # [n, p, c]
    emb.retain_grad()
    loss, info = loss_fn(emb, labels)
    loss.backward()
    return (
        loss.detach(),
        info,
        emb.grad,
        model.module.weight.grad if hasattr(model, "module") else model.weight.grad,
    )


def _worker(rank, world, port, out_dir):
    torch.set_num_threads(1)
    # TCP rendezvous on a free port; the timeout turns a lost peer into an error instead of a hang
    dist.init_process_group(
        "gloo",
        init_method=f"tcp://127.0.0.1:{port}",
        rank=rank,
        world_size=world,
        timeout=datetime.timedelta(seconds=60),
    )
    try:
        features, model = _data()
        rows = slice(0, SPLIT) if rank == 0 else slice(SPLIT, N)
        results = {}
        for name, make in LOSSES.items():
            ddp = DistributedDataParallel(_data()[1])
            loss, info, emb_grad, weight_grad = _run(ddp, features[rows], LABELS[rows], make())
            results[name] = {"loss": loss, "emb_grad": emb_grad, "weight_grad": weight_grad, "info": info}
        # a global batch of one class, all of it on rank 0 (rank 1 holds no sample): with empty_batch="zero"
        # both ranks get a zero loss and run the same backward all-reduce (no hang), gradients zero
        ddp = DistributedDataParallel(_data()[1])
        held = 3 if rank == 0 else 0
        loss, info, _, weight_grad = _run(
            ddp, features[:held], torch.full((held,), 7), GeneralizedInterClassLoss(empty_batch="zero")
        )
        results["empty"] = {"loss": loss, "weight_grad": weight_grad, "info": info}
        torch.save(results, os.path.join(out_dir, f"rank{rank}.pt"))
        dist.barrier()
    except BaseException:
        dist.destroy_process_group()
        raise
    # Skip interpreter teardown: a gloo group destroyed from a Python destructor (the DDP reducer's) can
    # deadlock on the GIL at process exit; the results are on disk already.
    os._exit(0)


def _free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def ddp_results(tmp_path_factory):
    out_dir = tmp_path_factory.mktemp("ddp")
    mp.spawn(_worker, args=(2, _free_port(), str(out_dir)), nprocs=2, join=True)
    return [torch.load(out_dir / f"rank{r}.pt", weights_only=True) for r in range(2)]


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(LOSSES))
def test_ddp_equals_single_process_on_the_concatenated_batch(ddp_results, name):
    features, model = _data()
    loss, info, emb_grad, weight_grad = _run(model, features, LABELS, LOSSES[name]())
    for rank, rows in enumerate([slice(0, SPLIT), slice(SPLIT, N)]):
        got = ddp_results[rank][name]
        torch.testing.assert_close(got["loss"], loss, atol=1e-12, rtol=1e-12)
        assert got["info"] == pytest.approx(info, abs=1e-12)
        # DDP averages parameter gradients over ranks: that average is the full-batch gradient
        torch.testing.assert_close(got["weight_grad"], weight_grad, atol=1e-12, rtol=1e-10)
        # the all-gather's backward sums the ranks' (identical) losses' gradients: world_size ×
        torch.testing.assert_close(got["emb_grad"], 2 * emb_grad[rows], atol=1e-12, rtol=1e-10)


@pytest.mark.slow
def test_a_batch_without_pairs_gives_every_rank_a_zero_loss_and_zero_gradients(ddp_results):
    for rank in range(2):
        got = ddp_results[rank]["empty"]
        assert got["loss"].item() == 0.0 and got["info"]["empty_batch"] == 1.0
        assert torch.count_nonzero(got["weight_grad"]) == 0


def test_without_process_group_nothing_is_gathered():
    assert not dist.is_initialized()
    features, model = _data()
    loss, *_ = _run(model, features, LABELS, TripletLoss())
    assert torch.isfinite(loss)
