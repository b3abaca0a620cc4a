"""The command line of issue #31: ``gil --version``, a parser that imports no torch, ``gil eval``'s per-view table and
protocol note, run folders labelled by the model they train, and ``gil compare``."""

import dataclasses
import json
import shutil
import subprocess
import sys
from importlib import metadata

import pandas as pd
import pytest

import gil
from gil import cli
from gil import config as config_lib
from gil.cli.compare import seed_reading
from gil.evaluate import ProtocolResult

HEAVY = ("torch", "pandas", "numpy")


def gil_command(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "gil", *args], capture_output=True, text=True, timeout=120)


@pytest.fixture(scope="module")
def runs(tiny_root, tmp_path_factory):
    """Two finished one-step runs of ``embedded/tiny_triplet``: ``gaitgl`` in ``--run-dir``, and ``--set
    model.name=gaitbase`` in the default run folder under ``runs/`` of the working directory."""
    root = tmp_path_factory.mktemp("cli-commands")
    common = ["--config", "embedded/tiny_triplet", "--data-root", str(tiny_root), "--set", "trainer.steps=1"]
    common += ["--set", "trainer.device=cpu"]
    assert cli.main(["train", *common, "--run-dir", str(root / "gaitgl")]) == 0
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(root)
        assert cli.main(["train", *common, "--set", "model.name=gaitbase"]) == 0
    (gaitbase,) = (root / "runs").iterdir()
    return root / "gaitgl", gaitbase


def test_version_is_the_installed_distributions():
    result = gil_command("--version")
    assert result.returncode == 0, result.stderr
    installed = next(metadata.version(name) for name in gil.DISTRIBUTIONS if _installed(name))
    assert result.stdout == f"gil {installed}\n" and gil.__version__ == installed


def _installed(name: str) -> bool:
    try:
        metadata.version(name)
    except metadata.PackageNotFoundError:
        return False
    return True


def test_version_prefers_the_new_name_and_says_unknown_without_a_distribution(monkeypatch):
    versions = {"gil-gait": "2.0", "gil": "1.0"}

    def version(name):
        if name not in versions:
            raise metadata.PackageNotFoundError(name)
        return versions[name]

    monkeypatch.setattr(metadata, "version", version)
    assert gil.__version__ == "2.0"
    del versions["gil-gait"]
    assert gil.__version__ == "1.0"
    versions.clear()
    assert gil.__version__ == "unknown"
    with pytest.raises(AttributeError, match="no_such_thing"):
        gil.no_such_thing  # noqa: B018


def test_building_the_parser_imports_no_torch_pandas_or_numpy():
    """``gil --help`` and every sub-command's ``--help`` leave torch, pandas and numpy unimported."""
    script = (
        "import contextlib, io, sys\n"
        "from gil.cli import build_parser\n"
        "parser = build_parser()\n"
        "commands = next(a for a in parser._actions if a.dest == 'command').choices\n"
        "for argv in [['--help']] + [[name, '--help'] for name in commands]:\n"
        "    with contextlib.redirect_stdout(io.StringIO()), contextlib.suppress(SystemExit):\n"
        "        build_parser().parse_args(argv)\n"
        f"print(sorted(commands), [m for m in {HEAVY!r} if m in sys.modules])\n"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    commands, heavy = result.stdout.strip().rsplit("] ", 1)
    assert "'compare'" in commands and "'study'" in commands and "'eval'" in commands
    assert heavy == "[]", f"building the parser imported {heavy}"


def test_python_m_gil_help_imports_no_torch():
    result = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "gil", "--help"], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0 and "compare" in result.stdout and "--version" in result.stdout
    imported = {line.rsplit("|", 1)[-1].strip() for line in result.stderr.splitlines() if line.startswith("import")}
    assert not {name for name in imported if name.split(".")[0] in HEAVY}


def test_the_options_offer_the_names_the_experiments_run():
    """The names the parsers offer come from gil.experiments.catalog and gil.data.presets; the modules that run them
    hold the very same objects (one source)."""
    from gil.data import presets, syngait
    from gil.experiments import calibration, catalog, curves, params, selection, study

    assert study.VARIANTS is catalog.VARIANTS and study.BASE_CONFIG == catalog.BASE_CONFIG
    assert study.LossOf is catalog.LossOf and params.BACKBONES is catalog.BACKBONES
    assert selection.CANDIDATES is catalog.CANDIDATES and selection.BACKBONES is catalog.SELECTION_BACKBONES
    assert curves.CURVE_STEPS == catalog.CURVE_STEPS and calibration.MODELS is catalog.CALIBRATION_MODELS
    assert syngait.PRESETS is presets.PRESETS
    parser = cli.build_parser()
    args = parser.parse_args(["study", "--out", "x", "--variant", "gil_margin", "--backbone", "gaitbase"])
    assert args.variant == ["gil_margin"] and args.base == catalog.BASE_CONFIG
    with pytest.raises(SystemExit):
        parser.parse_args(["select", "--out", "x", "--candidate", "nonesuch"])


def test_gil_eval_prints_the_per_view_table_and_what_the_protocol_excludes(runs, capsys):
    run, _ = runs
    capsys.readouterr()
    assert cli.main(["eval", "--run", str(run), "--device", "cpu"]) == 0
    out = capsys.readouterr().out
    report = json.loads((run / "eval.json").read_text())
    per_view = ProtocolResult.from_dict(report).rank1_per_view
    assert "per probe view (%):" in out
    for view, row in per_view.iterrows():
        line = next(line for line in out.splitlines() if line.startswith(view + " "))
        assert line.split()[1:4] == [f"{row[g]:.2f}" for g in ("NM", "BG", "CL")]
    text = " ".join(out.split())
    assert "pairs of identical probe and gallery views are excluded" in text
    assert "the mean over the 10 other gallery views" in text


def test_printed_tables_round_to_two_decimals_files_keep_full_precision(runs):
    run, _ = runs
    report = json.loads((run / "eval.json").read_text())
    result = ProtocolResult.from_dict(report)
    for group, value in report["summary"].items():
        assert result.table().loc[group, "rank-1 (%)"] == round(value, 2)
        assert result.table(decimals=None).loc[group, "rank-1 (%)"] == value
        assert result.per_view().loc[:, f"rank-1 {group}"].tolist() == result.rank1_per_view[group].round(2).tolist()
    assert result.to_dict()["summary"] == report["summary"]


def _result(protocol: str, **fields) -> ProtocolResult:
    return ProtocolResult(
        protocol, "euclidean", False, {"all": 50.0}, {}, **{"rank1_per_view": pd.DataFrame(), **fields}
    )


def test_the_protocol_note_says_each_protocols_rule():
    cross = _result("casia_b_cross_view").protocol_note()
    assert "whole gallery (every view) less the sequences of its own subject in its own view" in cross
    generic = _result("probe_gallery", num_dropped={"all": 3}).protocol_note()
    assert "no gallery sequence are left out of every measure (3 left out)" in generic
    views = pd.DataFrame({"all": [1.0, 2.0, 3.0]}, index=["000", "018", "036"])
    oumvlp = _result("oumvlp", rank1_per_view=views).protocol_note()
    assert "mean over the 2 other gallery views" in oumvlp and "counts as a miss" in oumvlp
    dropped = dataclasses.replace(_result("oumvlp", rank1_per_view=views), drop_probes_without_gallery=True)
    assert "left out (0 pairs)" in dataclasses.replace(dropped, num_dropped={"all": 0}).protocol_note()
    assert _result("casia-b").protocol_note() == ""  # a protocol name this module does not know: no claim


def test_the_run_folder_is_labelled_by_the_effective_model(runs):
    _, gaitbase = runs
    config = config_lib.load(gaitbase / "config.yaml")
    assert config.model.name == "gaitbase" and config.name == "tiny-gaitbase-triplet"
    assert gaitbase.name == f"tiny-gaitbase-triplet-{config.fingerprint()}"


def test_a_model_override_renames_only_a_name_that_holds_the_old_model():
    base = config_lib.load("embedded/tiny_triplet")
    moved = config_lib.load("embedded/tiny_triplet", {"model.name": "gaitset"})
    assert moved.name == "tiny-gaitset-triplet"
    assert moved.fingerprint() == dataclasses.replace(moved, name=base.name).fingerprint()  # name is no part of it
    assert config_lib.load("casia-b/gaitgl_triplet", {"model": {"name": "gaitpart"}}).name == "casia-b-gaitpart-triplet"
    named = config_lib.load("embedded/tiny_triplet", {"model.name": "gaitset", "name": "mine"})
    assert named.name == "mine"  # a name given with the override is kept as given
    values = {**base.to_dict(), "name": "my-experiment"}
    assert config_lib.from_dict(values, {"model.name": "gaitset"}).name == "my-experiment"  # no model in it: kept
    assert config_lib.load("embedded/tiny_triplet", {"trainer.steps": 2}).name == "tiny-gaitgl-triplet"


def test_gil_compare_prints_runs_side_by_side_with_their_differences(runs, capsys):
    gaitgl, gaitbase = runs
    capsys.readouterr()
    assert cli.main(["compare", str(gaitgl), str(gaitbase)]) == 0
    out = capsys.readouterr().out
    first = json.loads((gaitgl / "eval.json").read_text())["summary"]
    second = json.loads((gaitbase / "eval.json").read_text())["summary"]
    for label, summary in ((gaitgl.name, first), (gaitbase.name, second)):
        line = next(line for line in out.splitlines() if line.startswith(label + " "))
        mean = sum(summary.values()) / len(summary)
        assert line.split()[1:5] == [f"{summary[g]:.2f}" for g in ("NM", "BG", "CL")] + [f"{mean:.2f}"]
    assert f"{gaitbase.name} − {gaitgl.name}" in out and "rank-1 mean" in out
    assert 'model.name: "gaitgl" -> "gaitbase"' in out and "name:" not in out.replace("model.name:", "")
    text = " ".join(out.split())
    assert f"{gaitbase.name} differs from {gaitgl.name} in model.name" in text
    assert "not that the change causes it" in text


def _copy(run, tmp_path, name):
    return shutil.copytree(run, tmp_path / name)


def _record(run, **changes):
    report = json.loads((run / "eval.json").read_text())
    report["checkpoint"].update(changes)
    (run / "eval.json").write_text(json.dumps(report))


def test_gil_compare_says_why_a_folder_is_not_a_finished_run(runs, tmp_path, capsys):
    run, _ = runs
    unevaluated = _copy(run, tmp_path, "unevaluated")
    (unevaluated / "eval.json").unlink()
    untrained = _copy(run, tmp_path, "untrained")
    (untrained / "checkpoints" / "last.pt").unlink()
    early = _copy(run, tmp_path, "early")
    _record(early, finished=False, step=0)
    other = _copy(run, tmp_path, "other-protocol")
    report = json.loads((other / "eval.json").read_text())
    (other / "eval.json").write_text(json.dumps({**report, "protocol": "casia_b_cross_view"}))
    (tmp_path / "empty").mkdir()
    cases = {
        unevaluated: "not a finished run: no eval.json, it has not been evaluated; evaluate it with `gil eval --run",
        untrained: "not a finished run: no checkpoints/last.pt, it has not trained",
        early: "scored step 0 of 1, the run stopped early; resume it with `gil train --config",
        other: "the runs were scored under different protocols",
        tmp_path / "empty": "not a run folder (no config.yaml",
        tmp_path / "missing": "run folder not found",
        run: "a run is named twice",
    }
    for folder, message in cases.items():
        capsys.readouterr()
        assert cli.main(["compare", str(run), str(folder)]) == 2, folder
        err = capsys.readouterr().err
        assert err.startswith("gil compare: error: ") and message in err, err


def test_what_one_seed_can_and_cannot_show():
    only_seed = seed_reading("b", "a", ["trainer.seed: 0 -> 1"], same_fingerprint=False)
    assert "only in its seed" in only_seed and "seed-to-seed variation" in only_seed
    setting = seed_reading("b", "a", ["loss.terms.gil: added (weight 1.0)"], same_fingerprint=False)
    assert "in loss.terms.gil." in setting and "not that the change causes it" in setting
    assert "Their seeds differ" not in setting and "settings changed at once" not in setting
    both = seed_reading("b", "a", ["trainer.seed: 0 -> 1", "model.name: 1 -> 2", "optim.lr: 1 -> 2"], False)
    assert "Their seeds differ as well" in both and "With 2 settings changed at once" in both
    data = seed_reading("b", "a", ['data.root: "/x" -> "/y"'], same_fingerprint=False)
    assert "not on one test set" in data
    same = seed_reading("b", "a", ["trainer.log_every: 1 -> 2"], same_fingerprint=True)
    assert "trained the same run" in same and "trainer.log_every" in same and "non-determinism" in same
