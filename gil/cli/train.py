"""``gil train | eval | bench``: train a config (torchrun-aware), evaluate a run or a checkpoint, run the benchmarks."""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import runpy
import sys
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from gil.config import RunConfig

log = logging.getLogger(__name__)

BENCHMARKS = ("bench_pipeline", "bench_losses", "bench_models", "bench_eval", "bench_data")


def add_config_arguments(parser: argparse.ArgumentParser, required: bool, positional: bool = False) -> None:
    """``--config`` (or a positional ``CONFIG``), ``--set KEY=VALUE`` (repeatable) and ``--data-root``."""
    help_text = "YAML path or bundled name, e.g. casia-b/gaitgl_gil_margin or embedded/small_gil_margin"
    if positional:
        parser.add_argument("config", metavar="CONFIG", help=help_text)
    else:
        parser.add_argument("--config", required=required, help=help_text)
    parser.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a config field, e.g. --set trainer.steps=2000 or --set loss.terms.gil.tau=0.2; "
        "remove a loss term with --set loss.terms.ce=null (repeatable)",
    )
    parser.add_argument("--data-root", help="shortcut for --set data.root=PATH")


def load_config(args: argparse.Namespace) -> tuple[RunConfig, list[str]]:
    """The config named by ``args`` with its overrides, paths made absolute from the current directory, and what the
    overrides changed (:func:`gil.config.changes`)."""
    from gil import config as config_lib

    overrides = config_lib.parse_overrides(args.overrides)
    shortcuts = {"data_root": "data.root", "init_from": "model.init_from", "train_device": "trainer.device"}
    for option, key in shortcuts.items():
        value = getattr(args, option, None)
        if value is not None:
            if key in overrides and overrides[key] != value:
                flag = "--" + option.replace("_", "-").replace("train-", "")
                raise ValueError(f"{flag} {value} and --set {key}={overrides[key]} disagree; give one")
            overrides[key] = value
    cwd = Path.cwd()  # CLI paths: from the current directory
    config = config_lib.load(args.config, overrides).resolved(cwd)
    return config, config_lib.changes(config_lib.load(args.config).resolved(cwd), config)


FORMATS = ("table", "csv", "json")


def format_report(report: dict, fmt: str) -> str:
    """An ``eval.json`` dict as printed by ``gil train`` / ``gil eval``: a table (rank-1/5/10, mAP, mINP, probes
    per group; then rank-1 and mAP per probe view and what the protocol averages and leaves out), CSV of the group
    table, or JSON of the measures per group (``rank1``, ``rank5``, ``rank10``, ``mAP``, ``mINP``, ``probes``; NaN as
    null; full precision)."""
    import textwrap

    from gil.evaluate import ProtocolResult

    result = ProtocolResult.from_dict(report)
    table = result.table(decimals=None)
    if fmt == "json":
        names = {col: col.split(" ")[0].replace("-", "") for col in table.columns}  # "rank-5 (%)" -> "rank5"
        measures = {
            names[col]: {
                g: None if v != v else (int(v) if col == "probes" else float(v)) for g, v in table[col].items()
            }
            for col in table.columns
        }
        return json.dumps({"protocol": result.protocol, "metric": result.metric, **measures}, indent=2)
    if fmt == "csv":
        return table.to_csv(float_format="%.2f").rstrip()
    two_decimals = "{:.2f}".format
    text = f"{report['protocol']} ({report['metric']}, {report['num_gallery']} gallery sequences)\n"
    text += table.to_string(float_format=two_decimals)
    per_view = result.per_view(decimals=None)
    if not per_view.empty:
        text += "\n\nper probe view (%):\n" + per_view.to_string(float_format=two_decimals)
    note = result.protocol_note()
    return text + ("\n\n" + textwrap.fill(note, width=100, break_on_hyphens=False) if note else "")


def _add_format_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--format", choices=FORMATS, default="table", help="how to print the result (default: table)")


def _train(args: argparse.Namespace) -> int:
    import os
    import warnings

    from gil.evaluate.run import evaluate_run
    from gil.experiments.provenance import machine
    from gil.experiments.runs import run_dir_for
    from gil.metrics import batch_geometry
    from gil.run_folder import RunFolder, finished_result, writing
    from gil.train import train

    main = int(os.environ.get("RANK", "0")) == 0
    if not main:  # torchrun's other ranks run the same code: rank 0 alone speaks (their errors still reach stderr)
        logging.getLogger().setLevel(logging.ERROR)
        warnings.simplefilter("ignore")
    config, changed = load_config(args)
    for line in changed:  # the start-of-run summary: every change the overrides made, removed terms included
        log.info("override: %s", line)
    run_dir = Path(args.run_dir).resolve() if args.run_dir else run_dir_for(config)
    # one writer, from training to evaluation
    with writing(run_dir, config.data_root()) if main else contextlib.nullcontext():
        # one process only: under torchrun every rank must enter train() together, so a finished run goes through it
        alone = int(os.environ.get("WORLD_SIZE", "1")) == 1
        stored = alone and not args.no_resume and not args.force and finished_result(run_dir, config)
        if stored:  # the same command again: its finished, scored run is printed as it stands
            log.info("%s: finished and evaluated earlier; its stored result follows (--force evaluates again)", run_dir)
        else:
            train(config, run_dir, resume=not args.no_resume, batch_metrics=batch_geometry, provenance=machine)
        if main:
            print(f"run folder: {run_dir}")
        if stored and not args.no_eval:
            print(format_report(json.loads(RunFolder(run_dir).eval_file.read_text()), args.format))
        elif not args.no_eval and main:
            report = _printed_even_if_not_saved(lambda: evaluate_run(run_dir, device=config.trainer.device), args)
            print(format_report(report, args.format))
    return 0


def _write_out(path: Path, report: dict, args: argparse.Namespace) -> None:
    """``--out``: the report as JSON; when it cannot be written, the result is printed before the error."""
    from gil.files import write_json

    try:
        write_json(path, report)
    except OSError as err:
        print(format_report(report, args.format))
        raise OSError(
            err.errno, f"--out {path}: could not be written ({err.strerror or err}); the result is above"
        ) from err


def _printed_even_if_not_saved(evaluate, args: argparse.Namespace) -> dict:
    """``evaluate()``'s report; when its files could not be written, the result is printed before the error."""
    from gil.evaluate.run import ResultNotSaved

    try:
        return evaluate()
    except ResultNotSaved as err:
        print(format_report(err.report, args.format))
        raise


def _eval(args: argparse.Namespace) -> int:
    from gil import config as config_lib
    from gil.checkpoints import model_from_checkpoint, model_from_config, partition_of
    from gil.device import pick_device
    from gil.evaluate.run import evaluate_model, evaluate_run
    from gil.models import load_opengait_checkpoint

    if args.run:
        if args.config or args.checkpoint or args.data_root:
            raise ValueError(
                "gil eval --run uses the run's own config and checkpoint; drop --config/--checkpoint/--data-root"
            )
        overrides = config_lib.parse_overrides(args.overrides)
        report = _printed_even_if_not_saved(
            lambda: evaluate_run(args.run, device=args.device, overrides=overrides), args
        )
        if args.out:
            _write_out(Path(args.out), report, args)
    else:
        if not (args.checkpoint and args.config):
            raise ValueError("gil eval needs --run DIR, or --checkpoint FILE with --config")
        config, _ = load_config(args)
        device = pick_device(args.device)
        path = Path(args.checkpoint)
        if args.opengait:
            model = model_from_config(config, args.num_classes or len(partition_of(config).train))
            load_opengait_checkpoint(path, model)
        else:
            model = model_from_checkpoint(config, path, args.num_classes)
        result, _ = evaluate_model(model.to(device).eval(), config, device)
        report = result.to_dict()
        if args.out:
            _write_out(Path(args.out), report, args)
    print(format_report(report, args.format))
    return 0


def _bench(args: argparse.Namespace) -> int:
    from gil.experiments.project import require_checkout

    root = require_checkout("gil bench (it runs the harnesses in benchmarks/)") / "benchmarks"
    names = args.only or list(BENCHMARKS)
    for name in names:
        script = root / f"{name}.py"
        if not script.is_file():
            print(f"(skipping {name}: {script} not found)")
            continue
        print(f"\n=== {name}", flush=True)
        sys.argv = [str(script)] + (["--quick"] if args.quick else [])
        if args.write and name == "bench_pipeline":  # the one-table summary is what RESULTS.md collects
            sys.argv += ["--write", str(Path(args.write).resolve())]
        try:
            runpy.run_path(str(script), run_name="__main__")
        except SystemExit as done:  # a harness ends with `raise SystemExit(main())`: go on to the next
            if done.code not in (0, None):
                raise
    return 0


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected an integer >= 1, got {text!r}")
    return value


def add_parser(commands: argparse._SubParsersAction) -> None:
    train = commands.add_parser("train", help="train a config (torchrun-aware), then evaluate it")
    add_config_arguments(train, required=True)
    train.add_argument(
        "--run-dir", help="run folder, relative to the current directory (default: runs/<name>-<config fingerprint>)"
    )
    train.add_argument("--no-resume", action="store_true", help="ignore an existing checkpoint in the run folder")
    train.add_argument("--no-eval", action="store_true", help="skip the evaluation after training")
    train.add_argument(
        "--force", action="store_true", help="evaluate again a run that finished and was evaluated (default: print it)"
    )
    train.add_argument(
        "--init-from",
        metavar="RUN_OR_CHECKPOINT",
        help="start from these weights (a gil run folder, a gil or OpenGait checkpoint) in a new run folder: "
        "shortcut for --set model.init_from=PATH, recorded in the config and the fingerprint",
    )
    train.add_argument(
        "--device", dest="train_device", help="shortcut for --set trainer.device=… (auto, cpu, cuda, cuda:N, mps)"
    )
    _add_format_argument(train)
    train.set_defaults(func=_train)

    evaluate = commands.add_parser("eval", help="evaluate a run folder or a checkpoint on the test partition")
    evaluate.add_argument("--run", help="a run folder written by `gil train` (the same path as its --run-dir)")
    evaluate.add_argument("--checkpoint", help="a gil checkpoint, or an OpenGait one with --opengait")
    evaluate.add_argument("--opengait", action="store_true", help="--checkpoint is an OpenGait .pt file")
    evaluate.add_argument(
        "--num-classes", type=_positive_int, help="classifier size of the checkpoint (default: train ids)"
    )
    evaluate.add_argument("--device", default="auto")
    evaluate.add_argument(
        "--out", help="write the result (eval.json's form) here; --run with --set eval.… writes only here"
    )
    _add_format_argument(evaluate)
    add_config_arguments(evaluate, required=False)
    evaluate.set_defaults(func=_eval)

    bench = commands.add_parser("bench", help="run the benchmarks in benchmarks/ (ratios, not timings)")
    bench.add_argument("--quick", action="store_true")
    bench.add_argument("--only", nargs="+", choices=BENCHMARKS)
    bench.add_argument("--write", metavar="MD", help="append bench_pipeline's ratio table to this markdown file")
    bench.set_defaults(func=_bench)
