from dataclasses import replace

import numpy as np
import pytest
from PIL import Image

from gil.cli import main
from gil.data.opengait import GaitDataset, safe_load_pkl
from gil.data.pretreat import convert, normalize_frame
from gil.data.syngait import PRESETS, generate, write_raw_pngs


def test_normalize_frame_crops_scales_and_centres():
    img = np.zeros((240, 320), np.uint8)
    img[50:178, 100:140] = 255  # a 128 x 40 box
    out = normalize_frame(img, binarize=True)
    assert out.shape == (64, 64)
    cols = np.flatnonzero(out.any(0))
    assert out[0].any() and out[-1].any() and len(cols) == 20 and abs(cols.mean() - 31.5) <= 1
    assert normalize_frame(np.zeros((240, 320), np.uint8)) is None


def test_round_trip_on_syngait_pngs(tmp_path):
    # noise-free walkers, so the only differences are resampling (raw 110 px tall -> 64 rows)
    preset = replace(PRESETS["tiny"], noise=0.0, drop_prob=0.0, conditions=("nm-01", "bg-01"), views=(0, 90))
    ref_root = generate(replace(preset, subjects=2, train_subjects=1), tmp_path / "ref", workers=1, progress=False)
    raw = write_raw_pngs(tmp_path / "raw", preset, seed=0, subjects=1)
    png = next(raw.rglob("*.png"))
    assert Image.open(png).size == (320, 240)
    report = convert(raw, tmp_path / "pkl", workers=2, binarize=True, progress=False)
    assert len(report.written) == 4 and not report.skipped
    for pkl in (tmp_path / "pkl").rglob("*.pkl"):
        mine, ref = safe_load_pkl(pkl) > 0, safe_load_pkl(ref_root / pkl.relative_to(tmp_path / "pkl")) > 0
        assert mine.shape == ref.shape
        iou = (mine & ref).sum() / (mine | ref).sum()
        assert iou > 0.8, (pkl, iou)
    assert len(GaitDataset(tmp_path / "pkl")) == 4


def test_convert_skips_short_sequences(tmp_path):
    folder = tmp_path / "raw" / "001" / "nm-01" / "000"
    folder.mkdir(parents=True)
    Image.fromarray(np.zeros((240, 320), np.uint8)).save(folder / "a.png")
    report = convert(tmp_path / "raw", tmp_path / "out", workers=1, progress=False)
    assert report.skipped and report.skipped[0][0] == "001/nm-01/000" and not report.written
    with pytest.raises(FileNotFoundError, match="nope"):
        convert(tmp_path / "nope", tmp_path / "out")


def test_cli(tiny_root, tmp_path, capsys):
    assert main(["data", "info", str(tiny_root)]) == 0
    assert "8 subjects, 880 sequences" in capsys.readouterr().out
    assert main(["data", "info", str(tmp_path / "missing")]) == 2
    assert "does not exist" in capsys.readouterr().err
    assert main(["data", "generate", "--preset", "tiny", "--out", str(tiny_root), "--seed", "1"]) == 2
    raw = write_raw_pngs(tmp_path / "raw", "tiny", subjects=1, conditions=("nm-01",), views=(90,))
    assert main(["data", "pretreat", "--src", str(raw), "--dst", str(tmp_path / "pkl"), "--workers", "1"]) == 0
    assert "1 sequences written" in capsys.readouterr().out


def _sequence_of_boxes(folder, frames=6):
    folder.mkdir(parents=True)
    img = np.zeros((240, 320), np.uint8)
    img[50:178, 100:140] = 255
    for i in range(frames):
        Image.fromarray(img).save(folder / f"{i:03d}.png")


def test_a_truncated_png_skips_its_sequence_naming_the_file(tmp_path):
    """Issue #30, case 11: one unreadable frame named, its sequence reported, the others still converted."""
    _sequence_of_boxes(tmp_path / "raw" / "001" / "nm-01" / "000")
    _sequence_of_boxes(tmp_path / "raw" / "001" / "nm-01" / "090")
    broken = tmp_path / "raw" / "001" / "nm-01" / "090" / "003.png"
    broken.write_bytes(broken.read_bytes()[:60])
    report = convert(tmp_path / "raw", tmp_path / "out", workers=1, progress=False)
    assert [p.parent.name for p in report.written] == ["000"]
    ((key, reason),) = report.skipped
    assert key == "001/nm-01/090" and "cannot read 003.png" in reason
    assert not (tmp_path / "out" / "001" / "nm-01" / "090").exists()


def test_min_frames_zero_and_an_all_black_sequence_are_named(tmp_path, capsys):
    folder = tmp_path / "raw" / "001" / "nm-01" / "000"
    folder.mkdir(parents=True)
    Image.fromarray(np.zeros((240, 320), np.uint8)).save(folder / "a.png")
    with pytest.raises(ValueError, match="min_frames must be an integer >= 1, got 0"):
        convert(tmp_path / "raw", tmp_path / "out", min_frames=0, progress=False)
    argv = ["data", "pretreat", "--src", str(tmp_path / "raw"), "--dst", str(tmp_path / "out"), "--workers", "1"]
    assert main([*argv, "--min-frames", "0"]) == 2
    assert "min_frames must be an integer >= 1, got 0" in capsys.readouterr().err
    assert main(argv) == 0
    assert "skipped 001/nm-01/000: no frame has a silhouette" in capsys.readouterr().out
