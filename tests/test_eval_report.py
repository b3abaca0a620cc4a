"""What `gil eval` prints (--format table | csv | json: rank-1/5/10, mAP, mINP), re-evaluation of a run under other
evaluation settings, and the evaluation in TensorBoard (#18, item 5)."""

import csv
import io
import json

import pytest

from gil import cli


@pytest.fixture(scope="module")
def run(tiny_root, tmp_path_factory):
    run_dir = tmp_path_factory.mktemp("eval") / "run"
    argv = ["train", "--config", "embedded/tiny_triplet", "--data-root", str(tiny_root), "--run-dir", str(run_dir)]
    assert cli.main([*argv, "--set", "trainer.steps=1", "--set", "trainer.device=cpu", "--no-eval"]) == 0
    return run_dir


def evaluate(run, fmt, capsys):
    capsys.readouterr()
    assert cli.main(["eval", "--run", str(run), "--device", "cpu", "--format", fmt]) == 0
    return capsys.readouterr().out, json.loads((run / "eval.json").read_text())


def test_every_format_prints_rank1_and_map_of_eval_json(run, capsys):
    out, report = evaluate(run, "csv", capsys)
    rows = {r["probe"]: r for r in csv.DictReader(io.StringIO(out))}
    assert set(rows) == {"NM", "BG", "CL"}
    for group, row in rows.items():
        assert float(row["rank-1 (%)"]) == pytest.approx(report["summary"][group], abs=0.005)
        for k in (5, 10):
            assert float(row[f"rank-{k} (%)"]) == pytest.approx(report["cmc_summary"][str(k)][group], abs=0.005)
        assert float(row["mAP (%)"]) == pytest.approx(report["map_summary"][group], abs=0.005)
        assert float(row["mINP (%)"]) == pytest.approx(report["minp_summary"][group], abs=0.005)
        assert int(row["probes"]) == report["num_probes"][group]
    out, report = evaluate(run, "json", capsys)
    printed = json.loads(out)
    assert printed["rank1"] == report["summary"] and printed["mAP"] == report["map_summary"]
    assert printed["rank5"] == report["cmc_summary"]["5"] and printed["mINP"] == report["minp_summary"]
    assert printed["probes"] == report["num_probes"] and printed["protocol"] == "casia_b"
    out, report = evaluate(run, "table", capsys)
    assert "mAP (%)" in out and "mINP (%)" in out and f"{report['num_gallery']} gallery sequences" in out
    assert f"{report['map_summary']['CL']:.2f}" in out and f"{report['cmc_summary']['10']['NM']:.2f}" in out


def test_a_run_re_evaluated_under_other_settings_leaves_its_folder_alone(run, capsys, tmp_path):
    _, before = evaluate(run, "table", capsys)
    stamp = (run / "eval.json").stat().st_mtime_ns
    out_file = tmp_path / "cross.json"
    argv = ["eval", "--run", str(run), "--device", "cpu", "--set", "eval.gallery=cross-view", "--out", str(out_file)]
    assert cli.main(argv) == 0
    assert "casia_b_cross_view" in capsys.readouterr().out
    assert json.loads(out_file.read_text())["protocol"] == "casia_b_cross_view"
    assert (run / "eval.json").stat().st_mtime_ns == stamp and json.loads((run / "eval.json").read_text()) == before
    generic = ["--set", "data.protocol=probe-gallery", "--set", 'eval.probe_types=["nm-05"]', "--format", "json"]
    assert cli.main(["eval", "--run", str(run), "--device", "cpu", *generic]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["protocol"] == "probe_gallery" and set(printed["mINP"]) == {"all"}


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--set", "trainer.steps=3"], "--set trainer.steps: a trained run can only be re-evaluated"),
        (["--config", "embedded/tiny_triplet"], "gil eval --run uses the run's own config"),
        (["--set", "eval.gallery=both"], "config key 'eval.gallery': expected one of single-view, cross-view"),
    ],
)
def test_re_evaluation_refuses_what_it_cannot_honour(run, capsys, extra, message):
    assert cli.main(["eval", "--run", str(run), "--device", "cpu", *extra]) == 2
    assert message in capsys.readouterr().err


def test_the_evaluation_reaches_tensorboard(run, capsys):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    _, report = evaluate(run, "table", capsys)
    events = EventAccumulator(str(run / "tb"))
    events.Reload()
    tags = set(events.Tags()["scalars"])
    assert {"eval/rank1/NM", "eval/rank5/BG", "eval/rank10/CL", "eval/mAP/CL", "eval/mINP/NM"} <= tags
    assert events.Scalars("eval/mINP/NM")[-1].value == pytest.approx(report["minp_summary"]["NM"], rel=1e-6)
    assert events.Scalars("eval/rank1/NM")[-1].value == pytest.approx(report["summary"]["NM"], rel=1e-6)
    assert events.Scalars("eval/rank1/NM")[-1].step == 1
