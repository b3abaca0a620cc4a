import csv
import math
import os

import pytest
import torch
import torch.multiprocessing as mp
from rendezvous import as_rank, free_port

from gil import config as config_lib
from gil.checkpoints import checkpoint_weights, read_checkpoint
from gil.train import Trainer, checkpoint, train


def tiny_config(root, **overrides):
    values = {"data.root": str(root), "trainer.device": "cpu", "trainer.threads": 1}
    values.update(overrides)
    return config_lib.load("embedded/tiny_gil_margin", values)


def read_metrics(run_dir):
    with open(run_dir / "metrics.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    for row in rows:
        row.pop("seq_per_s")  # wall-clock rate, the only column allowed to differ
    return rows


def test_loss_goes_down_on_a_fixed_batch(tiny_root, tmp_path):
    trainer = Trainer(tiny_config(tiny_root, **{"optim.lr": 3e-3}), tmp_path / "run", progress=False)
    from gil.data.loader import build_train_loader

    loader = build_train_loader(trainer.dataset, identities=2, per_identity=2, frames=8, resolution=(32, 22), seed=0)
    sils, labels = next(iter(loader))
    losses = [trainer.train_step(sils, labels)["total"] for _ in range(12)]
    assert min(losses[-3:]) < losses[0]


def test_logged_geometry_is_the_batch_embeddings_norm_and_uniformity(tiny_root, tmp_path):
    from gil.data.loader import build_train_loader
    from gil.metrics import batch_geometry

    config = tiny_config(tiny_root, **{"trainer.log_every": 1})
    trainer = Trainer(config, tmp_path / "run", progress=False, batch_metrics=batch_geometry)
    loader = build_train_loader(trainer.dataset, identities=2, per_identity=2, frames=8, resolution=(32, 22), seed=0)
    sils, labels = next(iter(loader))
    with torch.no_grad():  # the embeddings the step will see (train mode, the same weights)
        trainer.model.train()
        e = trainer.forward_model(sils)["embeddings"].double()  # [n, p, c]
    info = trainer.train_step(sils, labels)
    # an independent float64 loop: per part, log mean over pairs i < j of exp(-2 |ê_i - ê_j|²), then the mean
    n, p = e.shape[:2]
    per_part = []
    for part in range(p):
        u = [e[i, part] / e[i, part].norm() for i in range(n)]
        terms = [math.exp(-2.0 * float((u[i] - u[j]).pow(2).sum())) for i in range(n) for j in range(i + 1, n)]
        per_part.append(math.log(sum(terms) / len(terms)))
    norms = [float(e[i, part].norm()) for i in range(n) for part in range(p)]
    assert info["geometry/uniformity"] == pytest.approx(sum(per_part) / p, rel=1e-5)
    assert info["geometry/mean_norm"] == pytest.approx(sum(norms) / len(norms), rel=1e-5)


def test_no_batch_metrics_logs_no_geometry(tiny_root, tmp_path):
    from gil.data.loader import build_train_loader

    trainer = Trainer(tiny_config(tiny_root, **{"trainer.log_every": 1}), tmp_path / "run", progress=False)
    loader = build_train_loader(trainer.dataset, identities=2, per_identity=2, frames=8, resolution=(32, 22), seed=0)
    sils, labels = next(iter(loader))
    assert not any(key.startswith("geometry/") for key in trainer.train_step(sils, labels))


def test_resume_after_interruption_is_bit_identical(tiny_root, tmp_path, interrupted_run):
    config = tiny_config(tiny_root, **{"trainer.steps": 4, "trainer.checkpoint_every": 2})
    uninterrupted = train(config, tmp_path / "a", progress=False)

    interrupted_run(config, tmp_path / "b", step=3)
    assert read_checkpoint(tmp_path / "b" / "checkpoints" / "last.pt")["step"] == 2
    resumed = train(config, tmp_path / "b", resume=True, progress=False)

    a = read_checkpoint(uninterrupted / "checkpoints" / "last.pt")
    b = read_checkpoint(resumed / "checkpoints" / "last.pt")
    assert a["step"] == b["step"] == 4
    for key, tensor in a["model"].items():
        assert torch.equal(tensor, b["model"][key]), key
    assert read_metrics(uninterrupted) == read_metrics(resumed)


def test_snapshots_keep_the_weights_of_their_step_and_go_with_no_resume(tiny_root, tmp_path, interrupted_run):
    """trainer.snapshot_every (learning curves): step-NNNNNN.pt holds the model of that step, as a run stopped there
    has it; it does not change the fingerprint; --no-resume removes the old run's snapshots."""
    config = tiny_config(tiny_root, **{"trainer.steps": 4, "trainer.checkpoint_every": 4, "trainer.snapshot_every": 2})
    assert config.fingerprint() == tiny_config(tiny_root, **{"trainer.steps": 4}).fingerprint()
    run = train(config, tmp_path / "a", progress=False)
    snapshots = sorted(p.name for p in (run / "checkpoints").glob("step-*.pt"))
    assert snapshots == ["step-000002.pt", "step-000004.pt"]
    interrupted_run(tiny_config(tiny_root, **{"trainer.steps": 4, "trainer.checkpoint_every": 2}), tmp_path / "b", 3)
    stopped = read_checkpoint(tmp_path / "b" / "checkpoints" / "last.pt")
    weights, num_classes = checkpoint_weights(run / "checkpoints" / "step-000002.pt")
    assert stopped["step"] == 2 and num_classes == stopped["num_classes"]
    for key, tensor in stopped["model"].items():
        assert torch.equal(tensor, weights[key]), key
    last, _ = checkpoint_weights(run / "checkpoints" / "last.pt")
    assert all(torch.equal(t, last[k]) for k, t in checkpoint_weights(run / "checkpoints" / snapshots[1])[0].items())
    train(tiny_config(tiny_root, **{"trainer.steps": 2}), run, resume=False, progress=False)
    assert not list((run / "checkpoints").glob("step-*.pt"))
    with pytest.raises(ValueError, match="trainer.snapshot_every"):
        tiny_config(tiny_root, **{"trainer.snapshot_every": -1})


def test_interrupted_checkpoint_write_keeps_the_previous_one(tmp_path, monkeypatch):
    path = tmp_path / "last.pt"
    checkpoint.save_atomic({"step": 1, "w": torch.ones(3)}, path)

    def torn_save(obj, handle):
        handle.write(b"PK\x03\x04 half a checkpoint")
        raise OSError("disk full")

    monkeypatch.setattr(torch, "save", torn_save)
    with pytest.raises(OSError, match="disk full"):
        checkpoint.save_atomic({"step": 2, "w": torch.zeros(3)}, path)
    state = read_checkpoint(path)
    assert state["step"] == 1 and torch.equal(state["w"], torch.ones(3))
    assert [p.name for p in tmp_path.iterdir()] == ["last.pt"]


def test_resume_with_a_different_config_is_refused(tiny_root, tmp_path):
    run = train(tiny_config(tiny_root, **{"trainer.steps": 1}), tmp_path / "run", progress=False)
    with pytest.raises(ValueError, match="different config"):
        train(tiny_config(tiny_root, **{"trainer.steps": 2, "trainer.seed": 5}), run, progress=False)


def test_missing_data_root_is_named(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"data\.root.*nowhere"):
        Trainer(tiny_config(tmp_path / "nowhere"), tmp_path / "run", progress=False)


def test_unknown_optimizer_is_named(tiny_root, tmp_path):
    with pytest.raises(ValueError, match=r"optim\.name"):
        Trainer(tiny_config(tiny_root, **{"optim.name": "lion"}), tmp_path / "run", progress=False)


def test_non_finite_loss_names_step_and_term(tiny_root, tmp_path, monkeypatch):
    trainer = Trainer(tiny_config(tiny_root), tmp_path / "run", progress=False)
    sils = torch.full((4, 8, 32, 22), float("nan"))
    with pytest.raises((FloatingPointError, ValueError), match=r"(step 1|non-finite)"):
        trainer.train_step(sils, torch.tensor([0, 0, 1, 1]))


def _ddp_worker(rank, world_size, port, root, run_dir):
    as_rank(rank, world_size, port)
    config = tiny_config(root, **{"trainer.steps": 2, "trainer.checkpoint_every": 2})
    trainer = Trainer(config, run_dir, progress=False)
    trainer.fit(resume=False)
    # parameters only: BatchNorm running statistics are per rank by design
    torch.save(dict(trainer.model.named_parameters()), f"{run_dir}/rank{rank}.pt")
    torch.distributed.barrier()
    # Skip interpreter teardown: destroying a gloo group from a Python destructor can deadlock on the GIL
    # (a torch issue at process exit, not a training one); the results are on disk already.
    os._exit(0)


def test_two_process_gloo_ddp_run_keeps_ranks_in_sync(tiny_root, tmp_path):
    port = free_port()
    mp.spawn(_ddp_worker, args=(2, port, str(tiny_root), str(tmp_path)), nprocs=2, join=True)
    rank0 = torch.load(tmp_path / "rank0.pt", weights_only=True)
    rank1 = torch.load(tmp_path / "rank1.pt", weights_only=True)
    for key in rank0:
        assert torch.equal(rank0[key], rank1[key]), key
    assert read_checkpoint(tmp_path / "checkpoints" / "last.pt")["step"] == 2


def test_a_batch_larger_than_the_training_identities_fails_before_any_folder_is_made(tiny_root, tmp_path):
    run_dir = tmp_path / "run"
    with pytest.raises(ValueError, match=r"data\.identities=8 .* 4 identities"):
        train(tiny_config(tiny_root, **{"data.identities": 8}), run_dir, progress=False)
    assert not run_dir.exists()


def test_a_failure_before_the_first_checkpoint_leaves_no_folder(tiny_root, tmp_path, monkeypatch):
    def explode(self, sils, labels):
        raise RuntimeError("boom")

    monkeypatch.setattr(Trainer, "train_step", explode)
    run_dir = tmp_path / "run"
    with pytest.raises(RuntimeError, match="boom"):
        train(tiny_config(tiny_root, **{"trainer.steps": 2}), run_dir, progress=False)
    assert not run_dir.exists()
    existing = tmp_path / "mine"
    existing.mkdir()
    with pytest.raises(RuntimeError, match="boom"):
        train(tiny_config(tiny_root, **{"trainer.steps": 2}), existing, progress=False)
    assert existing.is_dir()  # a folder the caller made is never removed
