"""Issue #31, DDP: under torchrun rank 0 alone prints and writes; DDP looks for unused parameters only where a
backbone has some (a classifier that no loss term reads); ``trainer.sync_bn`` makes BatchNorm statistics those of
the global batch.

Two gloo processes on CPU. torch's SyncBatchNorm runs on GPU tensors only (its forward raises on CPU tensors, gloo or
not), so on CPU the tests show the conversion, the clear refusal and that without it the ranks' statistics differ;
that they agree with it is :func:`test_two_gpu_sync_bn_makes_the_ranks_batchnorm_statistics_agree` (two GPUs).
"""

import collections
import gc
import os
import random
import subprocess
import sys
import textwrap

import pytest
import torch
import torch.multiprocessing as mp
from rendezvous import as_rank, free_port
from torch import nn

from gil import config as config_lib
from gil.checkpoints import read_checkpoint
from gil.models import MODELS, build_model
from gil.train import Trainer, environment
from gil.train.environment import Environment

# runs the gil CLI; on every rank, an audit hook records each file write under the run folder (sys.argv[1]) and
# the list is saved as sys.argv[2] with the rank in its name
LAUNCHER = textwrap.dedent(
    """
    import json, os, sys

    run_dir, record = os.path.realpath(sys.argv[1]), sys.argv[2]
    writes = []
    CHANGES = {"os.mkdir", "os.rename", "os.remove", "os.rmdir", "os.truncate", "shutil.rmtree", "os.symlink"}
    WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_TRUNC

    def audit(event, args):
        if event == "open":
            path, mode, flags = args
            if not (any(c in mode for c in "wax+") if mode else flags & WRITE_FLAGS):
                return
        elif event not in CHANGES:
            return
        path = args[0]
        if isinstance(path, (str, bytes, os.PathLike)) and os.path.realpath(os.fsdecode(path)).startswith(run_dir):
            writes.append(f"{event} {os.fsdecode(path)}")

    sys.addaudithook(audit)
    from gil.cli import main

    code = main(sys.argv[3:])
    with open(record.format(rank=os.environ["RANK"]), "w") as handle:
        json.dump(writes, handle)
    sys.exit(code)
    """
)


def tiny_config(root, **overrides):
    values = {"data.root": str(root), "trainer.device": "cpu", "trainer.threads": 1, "trainer.steps": 2}
    return config_lib.load("embedded/tiny_gil_margin", {**values, **overrides})


def test_under_torchrun_rank_0_alone_prints_and_writes(tiny_root, tmp_path):
    run_dir, launcher = tmp_path / "run", tmp_path / "launch.py"
    launcher.write_text(LAUNCHER)
    record = str(tmp_path / "writes-{rank}.json")
    settings = ["trainer.steps=2", "trainer.device=cpu", "trainer.threads=1"]
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2"]
    command += [str(launcher), str(run_dir), record, "train", "--config", "embedded/tiny_triplet"]
    command += ["--data-root", str(tiny_root), "--run-dir", str(run_dir)] + [f"--set={s}" for s in settings]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    done = subprocess.run(command, capture_output=True, text=True, timeout=300, env=env, cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    out, err = done.stdout, done.stderr
    assert out.count(f"run folder: {run_dir}") == 1 and out.count("gallery sequences)") == 1, out
    logged = [line for line in err.splitlines() if line.startswith(("INFO ", "WARNING ", "ERROR "))]
    assert logged and [line for line, n in collections.Counter(logged).items() if n > 1] == [], err
    assert sum("process group: gloo, 2 processes" in line for line in logged) == 1, err
    # one progress bar of each kind, from rank 0 (tqdm's first frame of a bar is its 0%)
    assert err.count("tiny-gaitgl-triplet:   0%") == 1 and err.count("embeddings:   0%") == 1, err
    # the logits of GaitGL feed no loss term here: DDP finds its classifier unused (no warning that it found none)
    assert "find_unused_parameters" not in err and "[rank1]" not in err, err
    rank0 = (tmp_path / "writes-0.json").read_text()
    assert "last.pt" in rank0 and "eval.json" in rank0  # the hook sees the writes
    assert (tmp_path / "writes-1.json").read_text() == "[]"
    assert read_checkpoint(run_dir / "checkpoints" / "last.pt")["step"] == 2


def _worker(rank, world_size, port, root, run_dir, overrides):
    as_rank(rank, world_size, port)
    try:
        trainer = Trainer(tiny_config(root, **overrides), f"{run_dir}/run", progress=False)
    except ValueError as err:
        result = {"error": str(err)}
    else:
        trainer.fit(resume=False)
        result = {"parameters": dict(trainer.model.named_parameters()), "buffers": dict(trainer.model.named_buffers())}
        result["ddp"] = type(trainer.forward_model.module).__name__, trainer.forward_model.find_unused_parameters
    torch.save(result, f"{run_dir}/rank{rank}.pt")
    torch.distributed.barrier()
    # Skip interpreter teardown: destroying a gloo group from a Python destructor can deadlock on the GIL
    # (a torch issue at process exit, not a training one); the results are on disk already.
    os._exit(0)


def _two_ranks(root, run_dir, **overrides) -> list[dict]:
    mp.spawn(_worker, args=(2, free_port(), str(root), str(run_dir), overrides), nprocs=2, join=True)
    return [torch.load(run_dir / f"rank{r}.pt", weights_only=True) for r in range(2)]


def test_without_sync_bn_the_ranks_keep_their_own_batchnorm_statistics(tiny_root, tmp_path):
    """With a ``ce`` term every parameter gets a gradient: plain DDP, no search for unused parameters."""
    rank0, rank1 = _two_ranks(tiny_root, tmp_path, **{"loss.terms.ce": {}})
    assert rank0["ddp"] == ("GaitGL", False)
    for name, tensor in rank0["parameters"].items():
        assert torch.equal(tensor, rank1["parameters"][name]), name
    stats = [name for name in rank0["buffers"] if name.endswith(("running_mean", "running_var"))]
    assert stats and any(not torch.equal(rank0["buffers"][name], rank1["buffers"][name]) for name in stats)


def _teardown_worker(rank, world_size, port, root, run_dir, fail):
    """``gil.train.train`` on one rank, recording which DDP modules are still alive when the group is destroyed."""
    from gil.train import trainer as trainer_module

    as_rank(rank, world_size, port)
    alive, destroy = [], environment.teardown

    def recording_teardown():
        gc.collect()
        alive.append(sum(isinstance(o, nn.parallel.DistributedDataParallel) for o in gc.get_objects()))
        destroy()

    trainer_module.environment.teardown = recording_teardown
    config = tiny_config(root)
    if fail:  # a failure inside fit: its traceback still holds the trainer when the group is destroyed
        trainer_module.Trainer.train_step = lambda self, sils, labels: 1 / 0
    try:
        trainer_module.train(config, f"{run_dir}/run", progress=False)
    except ZeroDivisionError:
        pass
    torch.save({"alive": alive, "group": torch.distributed.is_initialized()}, f"{run_dir}/rank{rank}.pt")
    os._exit(0)  # as _worker


@pytest.mark.parametrize("fail", [False, True], ids=["finished", "failed"])
def test_train_releases_ddp_before_destroying_the_process_group(tiny_root, tmp_path, fail):
    """A DDP module freed after its group was destroyed can hang the process (gloo's worker thread and the GIL)."""
    mp.spawn(_teardown_worker, args=(2, free_port(), str(tiny_root), str(tmp_path), fail), nprocs=2, join=True)
    for rank in range(2):
        assert torch.load(tmp_path / f"rank{rank}.pt", weights_only=True) == {"alive": [0], "group": False}


def test_sync_bn_under_torchrun_on_cpu_is_refused_naming_the_key_before_any_folder(tiny_root, tmp_path):
    for result in _two_ranks(tiny_root, tmp_path, **{"trainer.sync_bn": True}):
        assert "trainer.sync_bn=true needs CUDA" in result["error"] and "cpu" in result["error"]
    assert not (tmp_path / "run").exists()


def _batchnorms(model: nn.Module) -> list[str]:
    return [name for name, m in model.named_modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]


@pytest.mark.parametrize("name", ["gaitgl", "gaitbase"])
def test_sync_bn_converts_every_batchnorm_keeping_its_parameters_and_buffers(name):
    model = build_model(name, 4, width=0.125)
    layers, parameters, keys = _batchnorms(model), list(model.parameters()), list(model.state_dict())
    # the conversion is the same on any device; a CUDA environment only lets it past the device check
    converted = environment.sync_batchnorm(model, Environment(torch.device("cuda", 0), world_size=2))
    synced = [n for n, m in converted.named_modules() if isinstance(m, nn.SyncBatchNorm)]
    assert layers and synced == layers  # every BatchNorm, by name, and nothing else
    assert all(a is b for a, b in zip(converted.parameters(), parameters, strict=True))  # the optimiser's own
    assert list(converted.state_dict()) == keys  # checkpoints load either way


def test_sync_bn_in_one_process_changes_nothing_and_says_so(tiny_root, tmp_path, caplog):
    runs = {}
    for sync_bn in (False, True):
        config = tiny_config(tiny_root, **{"trainer.sync_bn": sync_bn})
        with caplog.at_level("INFO", logger="gil.train.environment"):
            trainer = Trainer(config, tmp_path / str(sync_bn), progress=False)
        trainer.fit(resume=False)
        runs[sync_bn] = trainer.model.state_dict()
        assert not any(isinstance(m, nn.SyncBatchNorm) for m in trainer.model.modules())
    assert "trainer.sync_bn: one process" in caplog.text
    for key, tensor in runs[False].items():
        assert torch.equal(tensor, runs[True][key]), key


def test_sync_bn_counts_in_the_fingerprint_only_when_set(tiny_root):
    plain = tiny_config(tiny_root)
    assert plain.fingerprint() == tiny_config(tiny_root, **{"trainer.sync_bn": False}).fingerprint()
    assert plain.fingerprint() != tiny_config(tiny_root, **{"trainer.sync_bn": True}).fingerprint()


@pytest.mark.parametrize("name", sorted(MODELS))
def test_the_outputs_no_loss_reads_are_found_without_touching_the_model(name):
    model = build_model(name, 4, width=0.125).train()
    clip = torch.rand(2, 8, 64, 44)  # [n, s, h, w]
    state = {k: v.clone() for k, v in model.state_dict().items()}
    rng = torch.get_rng_state(), random.getstate()
    unread = environment.unread_outputs(model, {"embeddings"}, clip)
    assert environment.unread_outputs(model, {"embeddings", "logits"}, clip) == []
    assert model.training and torch.equal(torch.get_rng_state(), rng[0]) and random.getstate() == rng[1]
    for key, tensor in model.state_dict().items():  # no BatchNorm statistic moved
        assert torch.equal(tensor, state[key]), key
    with torch.no_grad():
        classifier = model.eval()(clip)["logits"] is not None  # GaitGL, GaitBase
    assert unread == (["logits"] if classifier else [])


def _nccl_worker(rank, world_size, port, root, run_dir, sync_bn):
    as_rank(rank, world_size, port)
    config = tiny_config(root, **{"trainer.device": "cuda", "trainer.amp": "off", "trainer.sync_bn": sync_bn})
    trainer = Trainer(config, f"{run_dir}/run", progress=False)
    trainer.fit(resume=False)
    torch.save({k: v.cpu() for k, v in trainer.model.named_buffers()}, f"{run_dir}/rank{rank}.pt")
    torch.distributed.barrier()
    os._exit(0)  # as _worker


@pytest.mark.skipif(torch.cuda.device_count() < 2, reason="SyncBatchNorm needs GPUs: two or more for two ranks")
@pytest.mark.parametrize("sync_bn", [False, True])
def test_two_gpu_sync_bn_makes_the_ranks_batchnorm_statistics_agree(tiny_root, tmp_path, sync_bn):
    mp.spawn(_nccl_worker, args=(2, free_port(), str(tiny_root), str(tmp_path), sync_bn), nprocs=2, join=True)
    rank0, rank1 = (torch.load(tmp_path / f"rank{r}.pt", weights_only=True) for r in range(2))
    stats = [name for name in rank0 if name.endswith(("running_mean", "running_var"))]
    agree = [torch.allclose(rank0[name], rank1[name], rtol=1e-5, atol=1e-6) for name in stats]
    assert stats and (all(agree) if sync_bn else not all(agree))
