"""SynGait: an embedded, procedural twin of CASIA-B written in OpenGait's pkl layout.

Every subject is a :class:`~gil.data.walker.Walker` (body shape + gait style) drawn from the seed;
every sequence adds nuisance (start phase, speed, frame count, boundary noise, dropped pixels) and
an outfit (nm: none; bg: backpack / shoulder bag / hand bag; cl: a coat). Frames are rendered
already pretreated like OpenGait's (height of the body's bounding box = 64 rows, centred on the
mass-median column, 64 columns wide), so stature is not a cue, as on real pretreated CASIA-B::

    ROOT/<subject>/<condition>/<view>/<view>.pkl   uint8 [frames, 64, 64], values 0/255
    ROOT/partition.json                           {"TRAIN_SET": [...], "TEST_SET": [...]}
    ROOT/syngait.json                             preset, seed, version

The same seed gives byte-identical files, whatever the number of worker processes.
"""

from __future__ import annotations

import json
import logging
import os
import pickle
import shutil
import zlib
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from gil.data.presets import CASIA_B_CONDITIONS, CASIA_B_VIEWS, PRESETS, SynGaitPreset  # noqa: F401 (defined there)
from gil.data.raster import centre_width, rasterise, smooth_noise
from gil.data.walker import Outfit, Walker, pose, project, sample_walker

log = logging.getLogger(__name__)

VERSION = 2  # 2: coat_strength calibrated to 2.0 (results/study/calibration.csv)


def get_preset(preset: str | SynGaitPreset) -> SynGaitPreset:
    """Look a preset up by name (or pass one through), raising with the known names."""
    if isinstance(preset, SynGaitPreset):
        return preset
    if preset not in PRESETS:
        raise ValueError(f"unknown syngait preset {preset!r}; known: {', '.join(PRESETS)}")
    return PRESETS[preset]


def subject_ids(preset: SynGaitPreset) -> list[str]:
    """Zero-padded subject ids ``001, 002, ...`` (at least 3 digits, as CASIA-B)."""
    digits = max(3, len(str(preset.subjects)))
    return [f"{i:0{digits}d}" for i in range(1, preset.subjects + 1)]


def generated_partition(meta: dict) -> dict[str, list[str]]:
    """The ``partition.json`` :func:`generate` writes for a twin of ``meta`` (its ``syngait.json``): the first
    ``train_subjects`` ids train, the rest test."""
    subjects, train = int(meta["preset"]["subjects"]), int(meta["preset"]["train_subjects"])
    ids = [f"{i:0{max(3, len(str(subjects)))}d}" for i in range(1, subjects + 1)]
    return {"TRAIN_SET": ids[:train], "TEST_SET": ids[train:]}


@dataclass(frozen=True)
class _Sequence:
    """Everything needed to render one sequence (all randomness already drawn)."""

    walker: Walker
    outfit: Outfit
    view: int
    frames: int
    phase0: float
    cycle: float  # frames per gait cycle
    noise: float
    seed: tuple[int, ...]


def _rng(*key: int) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence(list(key)))


def _ckey(condition: str) -> int:
    """A stable integer per condition name, so a subset of conditions renders identical bytes."""
    return zlib.crc32(condition.encode())


def _outfits(preset: SynGaitPreset, seed: int, subject: int) -> dict[str, Outfit]:
    """One outfit per condition: the subject keeps its bag kind and coat across its sequences."""
    rng = _rng(seed, 3, subject)
    bag = str(rng.choice(["backpack", "shoulder", "hand"]))
    side = float(rng.choice([-1.0, 1.0]))
    coat = preset.coat_strength * rng.uniform(0.6, 1.0)
    coat_length = rng.uniform(0.18, 0.34)
    out = {}
    for cond in preset.conditions:
        r = _rng(seed, 4, subject, _ckey(cond))
        if cond.startswith("bg"):
            out[cond] = Outfit(bag=bag, side=side, bag_size=preset.bag_strength * r.uniform(0.85, 1.15))
        elif cond.startswith("cl"):
            out[cond] = Outfit(coat=coat * r.uniform(0.9, 1.1), coat_length=coat_length)
        else:
            out[cond] = Outfit()
    return out


def _sequence(preset: SynGaitPreset, seed: int, subject: int, cond_index: int, view_index: int) -> _Sequence:
    walker = sample_walker(_rng(seed, 0, subject), preset.identity_spread)
    cond = preset.conditions[cond_index]
    speed = 1.0 + preset.speed_jitter * float(np.clip(_rng(seed, 1, subject, _ckey(cond)).standard_normal(), -2, 2))
    view = preset.views[view_index]
    rng = _rng(seed, 2, subject, _ckey(cond), view)
    return _Sequence(
        walker=walker,
        outfit=_outfits(preset, seed, subject)[cond],
        view=view,
        frames=int(rng.integers(preset.frames[0], preset.frames[1] + 1)),
        phase0=float(rng.uniform(0, 2 * np.pi)),
        cycle=walker.cycle / speed,
        noise=preset.noise * float(rng.uniform(0.5, 1.5)),
        seed=(seed, 5, subject, _ckey(cond), view),
    )


def _capsules(seq: _Sequence, perspective: float) -> tuple[np.ndarray, ...]:
    phi = seq.phase0 + 2 * np.pi * np.arange(seq.frames) / seq.cycle  # [s]
    a, b, ra, rb = pose(seq.walker, phi, seq.outfit)
    distance = 1.0 / perspective if perspective > 0 else 1e6
    return project(a, b, ra, rb, seq.view, distance)  # [s, m, 2] x2, [s, m] x2


def _drop_blobs(rng, sil, a2, b2, ra2, xs, ys, prob) -> None:
    """Zero a round blob on a random body part in some frames (segmentation errors), in place."""
    s, m = ra2.shape
    hit = rng.random(s) < prob
    j = rng.integers(0, m, s)
    t = rng.random(s)[:, None]
    idx = np.arange(s)
    centre = a2[idx, j] + t * (b2[idx, j] - a2[idx, j])  # [s, 2]
    radius = np.where(hit, ra2[idx, j] * rng.uniform(0.4, 1.0, s), 0.0)
    mask = (
        (xs[:, None, :] - centre[:, 0, None, None]) ** 2 + (ys[:, :, None] - centre[:, 1, None, None]) ** 2
    ) < radius[:, None, None] ** 2
    sil &= ~mask


def render_sequence(seq: _Sequence, preset: SynGaitPreset, size: int = 64) -> np.ndarray:
    """Render a pretreated sequence: uint8 ``[s, size, size]``, values 0/255."""
    a2, b2, ra2, rb2 = _capsules(seq, preset.perspective)
    lo = np.minimum(a2 - ra2[..., None], b2 - rb2[..., None]).min(1)  # [s, 2]
    hi = np.maximum(a2 + ra2[..., None], b2 + rb2[..., None]).max(1)  # [s, 2]
    px = (hi[:, 1] - lo[:, 1]) / size  # [s] stature units per pixel
    ys = hi[:, 1, None] - (np.arange(size) + 0.5) * px[:, None]  # [s, size]
    width = int(np.ceil(((hi[:, 0] - lo[:, 0]) / px).max())) + 4
    xs = (lo[:, 0] + hi[:, 0])[:, None] / 2 + (np.arange(width) + 0.5 - width / 2) * px[:, None]  # [s, w]
    rng = np.random.default_rng(np.random.SeedSequence(list(seq.seed)))
    grow = seq.noise * px[:, None, None] * smooth_noise(rng, seq.frames, size, width)
    sil = rasterise(a2, b2, ra2, rb2, xs, ys, grow)  # [s, size, w]
    _drop_blobs(rng, sil, a2, b2, ra2, xs, ys, preset.drop_prob)
    return centre_width(sil.astype(np.uint8) * 255, size)


def render_raw(
    seq: _Sequence, preset: SynGaitPreset, shape: tuple[int, int] = (240, 320), stature_px: float = 110.0
) -> np.ndarray:
    """Render full-frame silhouettes like CASIA-B's PNGs: uint8 ``[s, h, w]``, values 0/255.

    The walker crosses the frame (sideways for side views) with its feet near the bottom.
    """
    h, w = shape
    a2, b2, ra2, rb2 = _capsules(seq, preset.perspective)
    s = seq.frames
    drift = np.sin(np.deg2rad(seq.view)) * np.linspace(-0.25, 0.25, s) * w / stature_px  # [s]
    shift = np.stack([np.broadcast_to(drift[:, None], a2.shape[:2]), np.zeros(a2.shape[:2])], -1)  # [s, m, 2]
    a2, b2 = a2 + shift, b2 + shift  # walk across the frame
    to_col = lambda x: w / 2 + x * stature_px  # noqa: E731  stature units -> pixel column
    to_row = lambda y: (h - 12) - (y + 0.52) * stature_px  # noqa: E731
    lo = np.minimum(a2 - ra2[..., None], b2 - rb2[..., None]).min((0, 1))  # [2] over all frames
    hi = np.maximum(a2 + ra2[..., None], b2 + rb2[..., None]).max((0, 1))
    c0, c1 = max(0, int(to_col(lo[0])) - 3), min(w, int(to_col(hi[0])) + 3)
    r0, r1 = max(0, int(to_row(hi[1])) - 3), min(h, int(to_row(lo[1])) + 3)
    xs = np.broadcast_to((np.arange(c0, c1) - w / 2) / stature_px, (s, c1 - c0))  # [s, window w]
    ys = np.broadcast_to(((h - 12) - np.arange(r0, r1)) / stature_px - 0.52, (s, r1 - r0))  # [s, window h]
    rng = np.random.default_rng(np.random.SeedSequence(list(seq.seed)))
    grow = seq.noise / 64 * smooth_noise(rng, s, r1 - r0, c1 - c0, cell=12)
    out = np.zeros((s, h, w), np.uint8)
    out[:, r0:r1, c0:c1] = rasterise(a2, b2, ra2, rb2, xs, ys, grow).astype(np.uint8) * 255
    return out


def _write_pkl(path: Path, frames: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as fh:
        pickle.dump(frames, fh, protocol=4)


def _generate_walk(args: tuple[SynGaitPreset, int, int, int, str]) -> int:
    """Worker: render and write all views of one (subject, condition); returns frames written."""
    preset, seed, subject, cond_index, root = args
    sid, cond = subject_ids(preset)[subject], preset.conditions[cond_index]
    total = 0
    for vi, view in enumerate(preset.views):
        frames = render_sequence(_sequence(preset, seed, subject, cond_index, vi), preset)
        _write_pkl(Path(root) / sid / cond / f"{view:03d}" / f"{view:03d}.pkl", frames)
        total += len(frames)
    return total


def _write_json(path: Path, obj: object) -> None:
    path.write_text(json.dumps(obj, indent=2) + "\n")


def generate(
    preset: str | SynGaitPreset, out: Path, seed: int = 0, workers: int | None = None, progress: bool = True
) -> Path:
    """Generate a SynGait data set under ``out`` (which must not exist yet) and return ``out``.

    Writes into a hidden temporary folder beside ``out`` and renames it at the end, so an
    interrupted run never leaves a complete-looking data set. If ``out`` already holds the same
    preset and seed, nothing is done.
    """
    preset = get_preset(preset)
    out = Path(out)
    meta = {"preset": asdict(preset), "seed": seed, "version": VERSION}
    if out.exists():
        info = out / "syngait.json"
        if info.is_file() and json.loads(info.read_text()) == json.loads(json.dumps(meta)):
            log.info("%s already holds syngait %s (seed %d); nothing to do", out, preset.name, seed)
            return out
        raise ValueError(
            f"{out} already exists and is not syngait {preset.name!r} with seed {seed}; "
            "remove it or choose another --out"
        )
    if preset.train_subjects >= preset.subjects or preset.frames[0] < 1 or preset.frames[0] > preset.frames[1]:
        raise ValueError(
            f"preset {preset.name!r}: need 0 < train_subjects < subjects and 1 <= frames[0] <= frames[1], got {preset}"
        )
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.parent / f".{out.name}.partial-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    tasks = [(preset, seed, si, ci, str(tmp)) for si in range(preset.subjects) for ci in range(len(preset.conditions))]
    workers = min(workers or os.cpu_count() or 1, len(tasks))
    bar = tqdm(total=len(tasks), disable=not progress, desc=f"syngait {preset.name}", unit="walk")
    try:
        if workers <= 1:
            for task in tasks:
                _generate_walk(task)
                bar.update()
        else:
            with ProcessPoolExecutor(workers) as pool:
                for _ in pool.map(_generate_walk, tasks, chunksize=1):
                    bar.update()
        _write_json(tmp / "partition.json", generated_partition(json.loads(json.dumps(meta))))
        _write_json(tmp / "syngait.json", meta)
        os.rename(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    finally:
        bar.close()
    return out


def write_raw_pngs(
    out: Path,
    preset: str | SynGaitPreset,
    seed: int = 0,
    subjects: int | None = None,
    conditions: tuple[str, ...] | None = None,
    views: tuple[int, ...] | None = None,
) -> Path:
    """Write CASIA-B-style raw PNGs ``out/<subject>/<cond>/<view>/<subject>-<cond>-<view>-<i>.png``.

    The same walkers and sequences as :func:`generate` (for testing the converter).
    """
    from PIL import Image

    preset = get_preset(preset)
    if subjects is not None:
        preset = replace(preset, subjects=subjects, train_subjects=min(preset.train_subjects, subjects - 1))
    conditions = conditions or preset.conditions
    views = views or preset.views
    for si, sid in enumerate(subject_ids(preset)):
        for cond in conditions:
            for view in views:
                seq = _sequence(preset, seed, si, preset.conditions.index(cond), preset.views.index(view))
                folder = Path(out) / sid / cond / f"{view:03d}"
                folder.mkdir(parents=True, exist_ok=True)
                for i, frame in enumerate(render_raw(seq, preset)):
                    Image.fromarray(frame).save(folder / f"{sid}-{cond}-{view:03d}-{i + 1:03d}.png")
    return Path(out)


def example_frames(
    preset: str | SynGaitPreset = "small",
    seed: int = 0,
    subject: int = 0,
    conditions: tuple[str, ...] = ("nm-01", "bg-01", "cl-01"),
    frame: int = 0,
) -> np.ndarray:
    """One pretreated frame per (condition, view) of one subject: uint8 ``[conditions, views, 64, 64]``."""
    preset = get_preset(preset)
    rows = []
    for cond in conditions:
        ci = preset.conditions.index(cond)
        rows.append(
            [
                render_sequence(_sequence(preset, seed, subject, ci, vi), preset)[frame]
                for vi in range(len(preset.views))
            ]
        )
    return np.array(rows)
