"""Issue #30: run folders that cannot be silently wrong — one writer (cases 1), never someone else's files (2),
"finished" means finished (4, 6). The two-writer, foreign-folder and kill-then-evaluate cases run real `gil`
processes."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from gil import config as config_lib
from gil.cli import main
from gil.evaluate.run import evaluate_run
from gil.experiments import runs
from gil.run_folder import RunFolder, RunFolderLocked, claim, finished_result, locked, writing
from gil.train import train


def gil_command(tiny_root: Path, run_dir: Path, *extra: str) -> list[str]:
    return [
        sys.executable, "-m", "gil", "train", "--config", "embedded/tiny_triplet", "--data-root", str(tiny_root),
        "--set", "trainer.threads=1", "--set", "trainer.device=cpu", "--no-eval", "--run-dir", str(run_dir), *extra,
    ]  # fmt: skip


def wait_for(condition, seconds: float = 120.0) -> None:
    end = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > end:
            raise TimeoutError("the condition never held")
        time.sleep(0.02)


def holds_lock(run_dir: Path) -> bool:
    lock = run_dir / ".gil.lock"
    return lock.is_file() and lock.read_text().startswith("pid ")


@pytest.mark.slow
def test_a_second_writer_is_refused_naming_the_holder_and_a_killed_ones_lock_is_recovered(tiny_root, tmp_path):
    run_dir = tmp_path / "r"
    first = subprocess.Popen(gil_command(tiny_root, run_dir, "--set", "trainer.steps=100000"), stderr=subprocess.PIPE)
    try:
        wait_for(lambda: holds_lock(run_dir) and (run_dir / "metrics.csv").is_file())
        second = subprocess.run(
            gil_command(tiny_root, run_dir, "--set", "trainer.steps=4"), capture_output=True, text=True, timeout=300
        )
        assert second.returncode == 2
        assert f"{run_dir}: another gil process is writing this run folder (pid {first.pid} on" in second.stderr
        wait_for(lambda: (run_dir / "checkpoints" / "last.pt").is_file())
    finally:
        first.send_signal(signal.SIGKILL)  # killed while holding the lock: the kernel releases it
        first.wait()
    assert holds_lock(run_dir)  # its record is still there: a stale lock, which must not block the next writer
    config = config_lib.load(run_dir / "config.yaml")
    with locked(run_dir):  # taken at once
        pass
    with pytest.raises(ValueError, match="written by a different config"):  # 4 steps: another experiment
        train(config_lib.load(run_dir / "config.yaml", {"trainer.steps": 4}), run_dir, progress=False)
    rows = [int(line.split(",")[0]) for line in (run_dir / "metrics.csv").read_text().splitlines()[1:]]
    assert rows == sorted(set(rows)), "one writer's steps, in order"
    assert config.trainer.steps == 100000


def test_the_lock_is_reentrant_in_one_process_and_exclusive_across_processes(tmp_path):
    folder = claim(tmp_path / "run")
    probe = (
        "import sys; from gil.run_folder import locked\n"
        "try:\n    with locked(sys.argv[1]): print('taken')\nexcept OSError as err: print(err)\n"
    )
    with locked(folder.path):
        with locked(folder.path):  # nested use in one process (training, then evaluation) is one holder
            pass
        other = subprocess.run([sys.executable, "-c", probe, str(folder.path)], capture_output=True, text=True)
        assert "another gil process is writing this run folder (pid" in other.stdout
    again = subprocess.run([sys.executable, "-c", probe, str(folder.path)], capture_output=True, text=True)
    assert again.stdout.strip() == "taken"
    assert issubclass(RunFolderLocked, OSError)  # the CLI's named errors: exit 2 with the message


def users_folder(path: Path) -> dict[str, bytes]:
    (path / "tb").mkdir(parents=True)
    files = {"tb/events.out": b"my events", "eval.json": b'{"mine": 1}', "metrics.csv": b"epoch,acc\n1,0.5\n"}
    for name, content in files.items():
        (path / name).write_bytes(content)
    return files


@pytest.mark.parametrize("flags", [[], ["--no-resume"]])
def test_a_folder_no_gil_run_wrote_is_refused_and_left_as_it_was(tiny_root, tmp_path, flags):
    project = tmp_path / "proj"
    files = users_folder(project)
    done = subprocess.run(gil_command(tiny_root, project, "--set", "trainer.steps=2", *flags), capture_output=True,
                          text=True, timeout=300)  # fmt: skip
    assert done.returncode == 2
    assert f"{project}: a folder that no gil run wrote" in done.stderr
    assert {str(p.relative_to(project)): p.read_bytes() for p in project.rglob("*") if p.is_file()} == files


def test_no_resume_removes_only_what_gil_wrote(tiny_root, tmp_path):
    config = config_lib.load(
        "embedded/tiny_triplet", {"data.root": str(tiny_root), "trainer.steps": 2, "trainer.threads": 1}
    )
    run_dir = train(config, tmp_path / "run", progress=False)
    (run_dir / "tb" / "notes.txt").write_text("mine")
    (run_dir / "analysis.ipynb").write_text("{}")
    train(config, run_dir, resume=False, progress=False)
    assert (run_dir / "tb" / "notes.txt").read_text() == "mine" and (run_dir / "analysis.ipynb").is_file()
    assert (run_dir / "checkpoints" / "last.pt").is_file()


def test_clear_outputs_names_what_it_removed_and_keeps_the_rest(tmp_path):
    folder = RunFolder(tmp_path / "run")
    written = [folder.checkpoint, folder.snapshot(5), folder.eval_file, folder.metrics_file, folder.config_file]
    written += [folder.tensorboard_dir / "events.out.tfevents.1", folder.tensorboard_dir / "events.out.tfevents.2"]
    for path in [*written, folder.path / "notes.md"]:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("x")
    removed = folder.clear_outputs()
    assert removed == ["last.pt", "eval.json", "metrics.csv", "step-000005.pt", "tb/ (its 2 event files)"]
    assert sorted(p.name for p in folder.path.rglob("*")) == ["checkpoints", "config.yaml", "notes.md"]
    assert folder.clear_outputs() == []  # nothing left to remove


def test_an_empty_folder_or_an_older_gil_run_is_adopted(tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    assert claim(empty).marker.is_file()
    older = tmp_path / "older"  # a run folder of a gil before the marker: it has its config.yaml
    older.mkdir()
    (older / "config.yaml").write_text("name: old\n")
    assert claim(older).marker.is_file()
    with pytest.raises(NotADirectoryError, match="exists and is not a folder"):
        claim(older / "config.yaml")


def test_another_rank_checking_while_the_main_rank_writes_its_marker_is_not_refused(tmp_path, monkeypatch):
    from gil.run_folder import RunFolder

    run = tmp_path / "run"
    run.mkdir()  # the main rank made the folder; it writes its marker right after the other rank's first look
    first_look = RunFolder.is_ours

    def marker_written_meanwhile(folder):
        ours = first_look(folder)
        folder.marker.write_text("{}\n")
        return ours

    monkeypatch.setattr(RunFolder, "is_ours", marker_written_meanwhile)
    assert claim(run, write_marker=False).path == run  # DDP's other ranks check only
    (tmp_path / "foreign").mkdir()
    (tmp_path / "foreign" / "notes.txt").write_text("mine")
    with pytest.raises(FileExistsError, match="a folder that no gil run wrote"):
        claim(tmp_path / "foreign", write_marker=False)


@pytest.mark.slow
def test_a_killed_run_evaluated_by_hand_is_not_reused_as_finished(tiny_root, tmp_path, monkeypatch):
    """Case 4 with real processes: kill `gil train` after a checkpoint, `gil eval --run` it, then ask the run cache."""
    config = config_lib.load(
        "embedded/tiny_triplet",
        {"data.root": str(tiny_root), "trainer.steps": 100000, "trainer.threads": 1, "trainer.device": "cpu"},
    )
    run_dir = runs.run_dir_for(config, tmp_path / "runs")
    process = subprocess.Popen(gil_command(tiny_root, run_dir, "--set", "trainer.steps=100000"))
    try:
        wait_for(lambda: (run_dir / "checkpoints" / "last.pt").is_file())
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait()
    evaluated = subprocess.run([sys.executable, "-m", "gil", "eval", "--run", str(run_dir), "--device", "cpu"],
                               capture_output=True, text=True, timeout=300)  # fmt: skip
    assert evaluated.returncode == 0, evaluated.stderr
    assert "has not finished" in evaluated.stderr
    record = json.loads((run_dir / "eval.json").read_text())["checkpoint"]
    assert record["finished"] is False and 0 < record["step"] < 100000
    assert not finished_result(run_dir, config) and runs.finished_runs(config, tmp_path / "runs") == []
    with pytest.raises(ValueError, match="does not score the finished run"):
        runs.load_run(run_dir)
    calls = []
    monkeypatch.setattr(runs, "train", lambda config, run_dir, **kw: calls.append(("train", run_dir, kw["resume"])))
    monkeypatch.setattr(runs, "evaluate_run", lambda run_dir, **kw: calls.append(("evaluate", run_dir)))
    assert runs.get_or_train(config, tmp_path / "runs", progress=False) == run_dir
    assert calls == [("train", run_dir, True), ("evaluate", run_dir)]  # resumed, then scored again


def test_a_finished_result_names_its_checkpoint_and_a_failed_write_is_not_one(tiny_root, tmp_path, monkeypatch):
    """Case 6: a write that fails during evaluation leaves no eval.json, so the next use evaluates again."""
    config = config_lib.load(
        "embedded/tiny_triplet", {"data.root": str(tiny_root), "trainer.steps": 2, "trainer.threads": 1}
    )
    run_dir = train(config, runs.run_dir_for(config, tmp_path / "runs"), progress=False)
    report = evaluate_run(run_dir, device="cpu", progress=False)
    assert report["checkpoint"] == {"step": 2, "fingerprint": config.fingerprint(), "finished": True}
    assert finished_result(run_dir, config)

    import gil.evaluate.run as evaluation

    def full_disk(path, content, **kw):
        if Path(path).name == "embeddings.npz":
            raise OSError(28, f"{path}: No space left on device")
        return original(path, content, **kw)

    original = evaluation.write_atomic
    monkeypatch.setattr(evaluation, "write_atomic", full_disk)
    with pytest.raises(OSError, match="embeddings.npz: No space left on device"):
        evaluate_run(run_dir, device="cpu", progress=False)
    assert not (run_dir / "eval.json").exists() and not finished_result(run_dir, config)
    monkeypatch.setattr(evaluation, "write_atomic", original)  # space freed: the cache repairs the folder
    trained = (run_dir / "checkpoints" / "last.pt").stat().st_mtime_ns
    assert runs.get_or_train(config, tmp_path / "runs", progress=False) == run_dir
    assert finished_result(run_dir, config) and runs.load_run(run_dir).result.summary
    assert (run_dir / "checkpoints" / "last.pt").stat().st_mtime_ns == trained  # evaluated again, not retrained


def test_a_failed_first_run_leaves_no_folder_through_the_cli(tiny_root, tmp_path, capsys):
    run_dir = tmp_path / "new"
    code = main(["train", "--config", "embedded/tiny_triplet", "--data-root", str(tiny_root), "--run-dir",
                 str(run_dir), "--set", "data.identities=99", "--no-eval"])  # fmt: skip
    assert code == 2 and "data.identities=99" in capsys.readouterr().err
    assert not run_dir.exists()
    with writing(tmp_path / "kept") as folder:
        assert folder.marker.is_file()
    assert os.path.isdir(tmp_path / "kept")


@pytest.mark.slow
def test_ctrl_c_ends_with_status_130_and_says_where_the_run_stands(tiny_root, tmp_path):
    run_dir = tmp_path / "run"
    process = subprocess.Popen(
        gil_command(tiny_root, run_dir, "--set", "trainer.steps=100000", "--set", "trainer.checkpoint_every=1"),
        stderr=subprocess.PIPE,
        text=True,
    )
    wait_for(lambda: (run_dir / "checkpoints" / "last.pt").is_file())
    process.send_signal(signal.SIGINT)
    _, err = process.communicate(timeout=120)
    assert process.returncode == 130, err[-3000:]  # the cause, should it ever differ
    assert "Traceback" not in err
    assert "interrupted at step" in err and "the same command resumes from it" in err
    assert err.rstrip().endswith("gil train: interrupted")
    assert not holds_lock(run_dir) or not (run_dir / ".gil.lock").read_text().strip()  # released


def test_a_result_that_cannot_be_written_still_reaches_the_screen(tiny_root, tmp_path, capsys, monkeypatch):
    """Case 6 and 'every write can fail': a full disk or an unwritable --out names the file, and the numbers that
    were computed are printed before the error."""
    config = config_lib.load(
        "embedded/tiny_triplet", {"data.root": str(tiny_root), "trainer.steps": 1, "trainer.threads": 1}
    )
    run_dir = train(config, tmp_path / "run", progress=False)
    import gil.evaluate.run as evaluation

    def full_disk(path, content, **kw):
        raise OSError(28, "No space left on device", str(path))

    with monkeypatch.context() as patch:
        patch.setattr(evaluation, "write_atomic", full_disk)
        assert main(["eval", "--run", str(run_dir), "--device", "cpu"]) == 2
    out, err = capsys.readouterr()
    assert "rank-1" in out and "NM" in out  # the table, printed although not saved
    assert f"{run_dir}: the evaluation was computed but not saved: No space left on device" in err
    assert "embeddings.npz" in err and not (run_dir / "eval.json").exists()
    blocked = tmp_path / "a-file"
    blocked.write_text("not a folder")
    argv = ["eval", "--run", str(run_dir), "--device", "cpu", "--set", "eval.metric=cosine"]
    assert main([*argv, "--out", str(blocked / "result.json")]) == 2
    out, err = capsys.readouterr()
    assert "rank-1" in out and f"--out {blocked / 'result.json'}: could not be written" in err
