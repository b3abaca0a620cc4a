"""``gil compare RUN [RUN …]``: finished runs side by side — rank-1 (and mAP) per probe group from each run's
``eval.json`` (:func:`gil.metrics.compare_summaries`, the first run the baseline), how their configs differ
(:func:`gil.config.changes`), and what one seed per run can and cannot show."""

from __future__ import annotations

import argparse
import json
import textwrap
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from gil.config import RunConfig
    from gil.evaluate import ProtocolResult
    from gil.run_folder import RunFolder

SEED = "trainer.seed"
TEST_DATA = ("data.root", "data.partition")  # another test set: the numbers are not on one footing


def finished_run(run_dir: str | Path) -> tuple[RunFolder, RunConfig, ProtocolResult]:
    """The folder, config and result of a finished, evaluated run (:func:`gil.run_folder.finished_result`), or an
    error naming the folder, what it lacks and the command that completes it."""
    from gil.evaluate import ProtocolResult
    from gil.run_folder import finished_result, load_run_config, open_run

    folder = open_run(run_dir)  # a missing folder, or one without config.yaml, is refused naming it
    config = load_run_config(folder.path)
    if not finished_result(folder.path, config):
        raise ValueError(f"{folder.path}: not a finished run: {_why_not_finished(folder, config)}")
    return folder, config, ProtocolResult.from_dict(json.loads(folder.eval_file.read_text()))


def _why_not_finished(folder: RunFolder, config: RunConfig) -> str:
    """Which of :func:`~gil.run_folder.finished_result`'s conditions ``folder`` fails, and the command that fixes it."""
    from gil.checkpoints import read_checkpoint

    evaluate = f"`gil eval --run {folder.path}`"
    resume = f"`gil train --config {folder.config_file} --run-dir {folder.path}`"
    if not folder.checkpoint.is_file():
        return f"no {folder.checkpoint.relative_to(folder.path)}, it has not trained; train it with {resume}"
    if not folder.eval_file.is_file():
        return f"no {folder.eval_file.name}, it has not been evaluated; evaluate it with {evaluate}"
    if not folder.embeddings_file.is_file():
        return f"no {folder.embeddings_file.name} beside its {folder.eval_file.name}; {evaluate} writes both"
    try:
        record = json.loads(folder.eval_file.read_text()).get("checkpoint") or {}
    except (OSError, ValueError, AttributeError) as err:
        return f"its {folder.eval_file.name} cannot be read ({err}); {evaluate} writes it again"
    if not record:
        return f"its {folder.eval_file.name} records no checkpoint (an older gil wrote it); {evaluate} scores it again"
    if record.get("fingerprint") != config.fingerprint():
        return (
            f"its {folder.eval_file.name} scored a checkpoint of fingerprint {record.get('fingerprint')}, its "
            f"config.yaml's is {config.fingerprint()} (the data at data.root was regenerated or moved, or config.yaml "
            "was edited)"
        )
    if not record.get("finished"):
        return (
            f"its {folder.eval_file.name} scored step {record.get('step')} of {config.trainer.steps}, the run stopped "
            f"early; resume it with {resume}"
        )
    step = read_checkpoint(folder.checkpoint, mmap=True).get("step")
    return f"its {folder.eval_file.name} scored step {record.get('step')}, last.pt holds step {step}; {evaluate}"


def _labels(folders: list[RunFolder]) -> list[str]:
    """A row label per run: its folder's name, or the whole path where two runs share a name."""
    names = [folder.path.name for folder in folders]
    return [name if names.count(name) == 1 else str(folder.path) for name, folder in zip(names, folders, strict=True)]


def _keys(lines: list[str]) -> list[str]:
    """The dotted keys of :func:`gil.config.changes` lines (``trainer.seed: 0 -> 1`` -> ``trainer.seed``)."""
    return [line.split(":", 1)[0] for line in lines]


def seed_reading(run: str, baseline: str, lines: list[str], same_fingerprint: bool) -> str:
    """What the gap between ``run`` and ``baseline`` (one seed each) can and cannot show, from ``lines``, the
    differences of their configs (:func:`gil.config.changes`, less ``name``)."""
    keys = _keys(lines)
    settings = [key for key in keys if key != SEED]
    if same_fingerprint:
        which = f"; they differ only in {', '.join(keys)}, which do not change the weights" if keys else ""
        return (
            f"{run} and {baseline} trained the same run (one fingerprint{which}): a gap between them is the runs' own "
            "non-determinism (GPU kernels, another device), not a setting's effect."
        )
    if not settings:
        return (
            f"{run} differs from {baseline} only in its seed: its gap is seed-to-seed variation, one sample of how far "
            "another seed alone moves these numbers. A setting's effect has to exceed that spread to be one."
        )
    named = ", ".join(settings[:4]) + (f" and {len(settings) - 4} more" if len(settings) > 4 else "")
    text = (
        f"{run} differs from {baseline} in {named}. One seed each shows the gap these two runs have, not that the "
        "change causes it: another seed alone moves rank-1 too, and one pair cannot say by how much. Train both on "
        "several seeds (`--set trainer.seed=N`, or `gil study`, which reports confidence intervals) before calling "
        "either better."
    )
    if SEED in keys:
        text += " Their seeds differ as well: the gap mixes the settings' effect with seed-to-seed variation."
    if len(settings) > 1:
        text += f" With {len(settings)} settings changed at once, one pair cannot tell which of them the gap is due to."
    if any(key.startswith(TEST_DATA) for key in settings):
        text += " Their test data differ (data.root or data.partition): their numbers are not on one test set."
    return text


def _run(args: argparse.Namespace) -> int:
    from gil import config as config_lib
    from gil.metrics import compare_summaries

    runs = [finished_run(path) for path in args.runs]
    folders = [folder for folder, _, _ in runs]
    if len({folder.path for folder in folders}) < len(folders):
        raise ValueError("a run is named twice; name each run folder once")
    labels = _labels(folders)
    protocols = {label: result.protocol for label, (_, _, result) in zip(labels, runs, strict=True)}
    if len(set(protocols.values())) > 1:
        held = ", ".join(f"{label} {protocol}" for label, protocol in protocols.items())
        raise ValueError(f"the runs were scored under different protocols ({held}); their numbers do not compare")
    baseline, (_, base_config, _) = labels[0], runs[0]
    table = compare_summaries(
        {label: result for label, (_, _, result) in zip(labels, runs, strict=True)}, baseline=baseline
    )
    print(f"{runs[0][2].protocol}, percent; the first run is the baseline:")
    print(table.to_string(float_format="{:.2f}".format))
    print(f"\nconfig against {baseline}:")
    readings = []
    for label, (_, config, _) in zip(labels[1:], runs[1:], strict=True):
        lines = [line for line in config_lib.changes(base_config, config) if not line.startswith("name:")]
        print(f"  {label}:" if lines else f"  {label}: the same settings")
        for line in lines:
            print(f"    {line}")
        readings.append(seed_reading(label, baseline, lines, config.fingerprint() == base_config.fingerprint()))
    if len(runs) == 1:
        print("  (one run: nothing to compare it with)")
    print("\nwhat one seed per run can show:")
    for reading in readings or ["one run shows its own numbers; a second run of another seed shows how far they move"]:
        print(textwrap.fill(reading, 100, initial_indent="  - ", subsequent_indent="    ", break_on_hyphens=False))
    return 0


def add_parser(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser(
        "compare",
        help="finished runs side by side: rank-1 per condition, their configs' differences, what one seed can show",
    )
    parser.add_argument(
        "runs", nargs="+", metavar="RUN", help="run folders written by `gil train` (trained and evaluated)"
    )
    parser.set_defaults(func=_run)
