"""What `gil eval` prints (--format table | csv | json, mAP included) and the evaluation in TensorBoard (#18, item 5
in part)."""

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
        assert float(row["mAP (%)"]) == pytest.approx(report["map_summary"][group], abs=0.005)
        assert int(row["probes"]) == report["num_probes"][group]
    out, report = evaluate(run, "json", capsys)
    assert json.loads(out) == {"rank1": report["summary"], "mAP": report["map_summary"]}
    out, report = evaluate(run, "table", capsys)
    assert "mAP (%)" in out and f"{report['num_gallery']} gallery sequences" in out
    assert f"{report['map_summary']['CL']:.2f}" in out


def test_the_evaluation_reaches_tensorboard(run, capsys):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    _, report = evaluate(run, "table", capsys)
    events = EventAccumulator(str(run / "tb"))
    events.Reload()
    tags = set(events.Tags()["scalars"])
    assert {"eval/rank1/NM", "eval/mAP/CL"} <= tags
    assert events.Scalars("eval/rank1/NM")[-1].value == pytest.approx(report["summary"]["NM"], rel=1e-6)
    assert events.Scalars("eval/rank1/NM")[-1].step == 1
