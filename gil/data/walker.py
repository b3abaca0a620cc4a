"""An articulated 3D walker made of tapered capsules, posed by periodic joint-angle trajectories.

Units are body heights (stature = 1). Body frame: ``x`` forward (walking direction), ``y`` up,
``z`` to the walker's left. The gait phase ``phi`` is 0 at the left heel strike; the right leg
runs half a cycle later. Angles follow the clinical gait curves in shape (hip flexion a cosine,
knee flexion a small stance bump and a large swing bump, plantar flexion at toe-off).

Nothing here draws pixels: :func:`pose` returns capsules ``(a, b, ra, rb)`` with ``a, b``
``[s, m, 3]`` (segment ends per frame ``s`` and capsule ``m``) and ``ra, rb`` ``[m]`` (radii),
and :func:`project` turns them into image-plane capsules for a camera at a CASIA-B view angle.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np

# Population means (stature = 1) and relative standard deviations of the identity parameters.
# Means follow anthropometric tables; spreads are scaled by the preset's ``identity_spread``.
_MEAN = {
    "leg": 0.47,
    "thigh_frac": 0.52,
    "torso": 0.29,
    "head_r": 0.062,
    "shoulder_w": 0.115,
    "hip_w": 0.083,
    "chest_w": 0.058,
    "depth_r": 0.068,
    "belly_r": 0.0,
    "limb_r": 1.0,
    "thigh_taper": 0.68,
    "arm_len": 0.34,
    "lean": 4.0,
    "neck_lean": 6.0,
    "hip_mean": 8.0,
    "hip_amp": 20.0,
    "hip_h2": 2.0,
    "knee_stance": 15.0,
    "knee_swing": 60.0,
    "knee_swing_at": 1.42,
    "ankle_push": 18.0,
    "arm_mean": 2.0,
    "arm_amp": 16.0,
    "elbow": 14.0,
    "elbow_gain": 0.6,
    "arm_abduct": 0.012,
    "bob": 0.014,
    "pelvis_rot": 6.0,
    "sway": 0.01,
    "asym_phase": 0.0,
    "asym_amp": 0.0,
    "cycle": 27.0,
}
_SPREAD = {  # absolute standard deviations at identity_spread = 1
    "leg": 0.012,
    "thigh_frac": 0.015,
    "torso": 0.01,
    "head_r": 0.004,
    "shoulder_w": 0.009,
    "hip_w": 0.008,
    "chest_w": 0.008,
    "depth_r": 0.008,
    "belly_r": 0.012,
    "limb_r": 0.1,
    "thigh_taper": 0.05,
    "arm_len": 0.012,
    "lean": 3.0,
    "neck_lean": 4.0,
    "hip_mean": 3.0,
    "hip_amp": 3.5,
    "hip_h2": 2.0,
    "knee_stance": 5.0,
    "knee_swing": 6.0,
    "knee_swing_at": 0.05,
    "ankle_push": 5.0,
    "arm_mean": 4.0,
    "arm_amp": 7.0,
    "elbow": 7.0,
    "elbow_gain": 0.3,
    "arm_abduct": 0.01,
    "bob": 0.004,
    "pelvis_rot": 3.0,
    "sway": 0.005,
    "asym_phase": 0.08,
    "asym_amp": 0.06,
    "cycle": 2.0,
}


@dataclass(frozen=True)
class Walker:
    """One identity: body shape (lengths, widths) and gait style (joint-angle curves, cadence).

    Lengths are fractions of stature; angles in degrees; ``cycle`` is frames per gait cycle at 25 fps.
    """

    leg: float
    thigh_frac: float
    torso: float
    head_r: float
    shoulder_w: float
    hip_w: float
    chest_w: float
    depth_r: float
    belly_r: float
    limb_r: float
    thigh_taper: float
    arm_len: float
    lean: float
    neck_lean: float
    hip_mean: float
    hip_amp: float
    hip_h2: float
    knee_stance: float
    knee_swing: float
    knee_swing_at: float
    ankle_push: float
    arm_mean: float
    arm_amp: float
    elbow: float
    elbow_gain: float
    arm_abduct: float
    bob: float
    pelvis_rot: float
    sway: float
    asym_phase: float
    asym_amp: float
    cycle: float


@dataclass(frozen=True)
class Outfit:
    """What the walker wears or carries in one sequence.

    ``coat`` is the coat's thickness in [0, 1] (0: none); ``bag`` one of ``none``, ``backpack``,
    ``shoulder``, ``hand``; ``bag_size`` scales the bag; ``side`` is +1 (left) or -1 (right).
    """

    coat: float = 0.0
    coat_length: float = 0.25
    bag: str = "none"
    bag_size: float = 1.0
    side: float = 1.0


def sample_walker(rng: np.random.Generator, spread: float = 1.0) -> Walker:
    """Draw one identity: every parameter ``mean + spread * sd * N(0, 1)``, clipped to stay plausible."""
    values = {}
    for f in fields(Walker):
        z = float(np.clip(rng.standard_normal(), -2.5, 2.5))
        values[f.name] = _MEAN[f.name] + spread * _SPREAD[f.name] * z
    values["belly_r"] = abs(values["belly_r"])
    return Walker(**values)


def _vm(phi: np.ndarray, centre: float, kappa: float) -> np.ndarray:
    """A periodic bump (von Mises shape) peaking at ``centre`` radians, height 1."""
    return np.exp(kappa * (np.cos(phi - centre) - 1.0))


def _rot_xy(v: np.ndarray, origin: np.ndarray, angle: np.ndarray) -> np.ndarray:
    """Rotate points ``v [s, 3]`` about the z axis through ``origin [s, 3]`` (forward lean)."""
    d = v - origin
    c, s = np.cos(angle), np.sin(angle)
    out = d.copy()
    out[:, 0] = d[:, 0] * c + d[:, 1] * s
    out[:, 1] = -d[:, 0] * s + d[:, 1] * c
    return out + origin


def pose(w: Walker, phi: np.ndarray, outfit: Outfit = Outfit()) -> tuple[np.ndarray, ...]:
    """Capsules of the walker at gait phases ``phi [s]`` (radians).

    Returns ``a, b`` ``[s, m, 3]`` segment ends and ``ra, rb`` ``[m]`` radii at those ends.
    """
    s = phi.shape[0]
    rad = np.deg2rad
    caps: list[tuple[np.ndarray, np.ndarray, float, float]] = []

    def add(a: np.ndarray, b: np.ndarray, ra: float, rb: float) -> None:
        caps.append((np.broadcast_to(a, (s, 3)), np.broadcast_to(b, (s, 3)), ra, rb))

    ankle_h = 0.045
    hip_y = ankle_h + w.leg
    bob = -w.bob * np.cos(2 * phi)
    sway = w.sway * np.sin(phi)
    pelvis = np.stack([np.zeros(s), hip_y + bob, sway], axis=1)  # [s, 3]
    psi = rad(w.pelvis_rot) * np.cos(phi)
    lean = np.full(s, rad(w.lean))
    lr = w.limb_r * (1.0 + 0.25 * outfit.coat)  # sleeves and trousers under a coat

    limbs = {}
    for side, phase, amp in ((1.0, phi, 1.0), (-1.0, phi + np.pi + w.asym_phase, 1.0 + w.asym_amp)):
        # legs: hip joint rotates with the pelvis about the vertical axis
        hip = pelvis + np.stack([side * w.hip_w * np.sin(psi), np.zeros(s), side * w.hip_w * np.cos(psi)], 1)
        alpha = rad(w.hip_mean + amp * w.hip_amp * np.cos(phase) + w.hip_h2 * np.cos(2 * phase))
        knee_flex = rad(
            w.knee_stance * _vm(phase, 0.3 * np.pi, 6.0) + amp * w.knee_swing * _vm(phase, w.knee_swing_at * np.pi, 4.0)
        )
        beta = alpha - knee_flex
        lt, ls = w.leg * w.thigh_frac, w.leg * (1.0 - w.thigh_frac)
        knee = hip + lt * np.stack([np.sin(alpha), -np.cos(alpha), np.zeros(s)], 1)
        ankle = knee + ls * np.stack([np.sin(beta), -np.cos(beta), np.zeros(s)], 1)
        plantar = rad(w.ankle_push * _vm(phase, 1.25 * np.pi, 5.0) - 8.0 * _vm(phase, 0.75 * np.pi, 3.0))
        foot_dir = np.stack([np.cos(beta - plantar), np.sin(beta - plantar), np.zeros(s)], 1)
        toe = ankle + 0.13 * foot_dir - [0.0, 0.02, 0.0]
        heel = ankle - 0.03 * foot_dir - [0.0, 0.025, 0.0]
        thigh_r = 0.062 * w.limb_r * (1.0 + 0.3 * outfit.coat)
        add(hip, knee, thigh_r, thigh_r * w.thigh_taper)
        add(knee, ankle, 0.04 * lr, 0.027 * lr)
        add(heel, toe, 0.024, 0.02)
        limbs[side] = (phase, amp)

    # trunk: rotated by the forward lean about the pelvis, shoulders counter-rotate
    waist = pelvis + [0.0, 0.06, 0.0]
    chest = pelvis + [0.0, w.torso - 0.04, 0.0]
    coat_w = 1.0 + 0.2 * outfit.coat
    dr = w.depth_r * coat_w
    for side in (1.0, -1.0):
        top = chest + [0.0, 0.0, side * w.chest_w * coat_w]
        bottom = waist + [0.0, 0.0, side * (w.hip_w - 0.01) * coat_w]
        add(_rot_xy(bottom, pelvis, lean), _rot_xy(top, pelvis, lean), dr, dr * 1.05)
    add(pelvis - [0.0, 0.0, w.hip_w], pelvis + [0.0, 0.0, w.hip_w], 0.07 * coat_w, 0.07 * coat_w)
    if w.belly_r > 0.005:
        belly = waist + [dr * 0.4, 0.05, 0.0]
        add(
            _rot_xy(belly, pelvis, lean),
            _rot_xy(belly + [0.0, 0.08, 0.0], pelvis, lean),
            dr * 0.7 + w.belly_r,
            dr * 0.6 + w.belly_r * 0.5,
        )
    neck_base = _rot_xy(pelvis + [0.0, w.torso, 0.0], pelvis, lean)
    head_lean = lean + rad(w.neck_lean)
    neck_top = neck_base + 0.055 * np.stack([np.sin(head_lean), np.cos(head_lean), np.zeros(s)], 1)
    add(neck_base, neck_top, 0.042, 0.04)
    head = neck_top + w.head_r * np.stack([np.sin(head_lean), np.cos(head_lean), np.zeros(s)], 1)
    add(head - [0.0, 0.012, 0.0], head + [0.0, 0.012, 0.0], w.head_r, w.head_r * 0.95)

    # arms swing opposite to the leg on the same side; the hand-bag arm swings less
    hands = {}
    for side in (1.0, -1.0):
        phase, amp = limbs[side]
        carry = outfit.bag == "hand" and side == outfit.side
        swing = (0.3 if carry else 1.0) * amp * w.arm_amp
        gamma = rad(w.arm_mean - swing * np.cos(phase)) + lean
        elbow_flex = rad(w.elbow) + w.elbow_gain * np.maximum(gamma, 0.0)
        sh_psi = -0.5 * psi
        shoulder = _rot_xy(pelvis + [0.0, w.torso - 0.025, 0.0], pelvis, lean)
        shoulder = shoulder + np.stack(
            [side * w.shoulder_w * np.sin(sh_psi), np.zeros(s), side * w.shoulder_w * np.cos(sh_psi)], 1
        )
        la, lf = w.arm_len * 0.48, w.arm_len * 0.52
        out = side * (w.arm_abduct + 0.01 * outfit.coat)
        elbow = shoulder + np.stack([la * np.sin(gamma), -la * np.cos(gamma), np.full(s, out)], 1)
        delta = gamma + elbow_flex
        hand = elbow + np.stack([lf * np.sin(delta), -lf * np.cos(delta), np.full(s, out * 0.5)], 1)
        add(shoulder, elbow, 0.036 * lr, 0.029 * lr)
        add(elbow, hand, 0.029 * lr, 0.022 * lr)
        hands[side] = hand

    if outfit.coat > 0:  # the coat's skirt hangs from the waist, half following the thighs
        for side, phase, _ in ((1.0, *limbs[1.0]), (-1.0, *limbs[-1.0])):
            alpha = 0.5 * rad(w.hip_mean + w.hip_amp * np.cos(phase))
            top = pelvis + [0.0, 0.03, side * w.hip_w * 0.8]
            hem = top + outfit.coat_length * np.stack([np.sin(alpha), -np.cos(alpha), np.zeros(s)], 1)
            hem = hem + [0.0, 0.0, side * 0.02 * outfit.coat]
            add(top, hem, 0.07 * coat_w, (0.06 + 0.02 * outfit.coat) * coat_w)
    _add_bag(add, w, outfit, pelvis, lean, hands, phi)

    a = np.stack([c[0] for c in caps], axis=1)  # [s, m, 3]
    b = np.stack([c[1] for c in caps], axis=1)  # [s, m, 3]
    return a, b, np.array([c[2] for c in caps]), np.array([c[3] for c in caps])


def _add_bag(add, w: Walker, outfit: Outfit, pelvis, lean, hands, phi) -> None:
    """Append the capsules of a backpack, a shoulder bag or a hand bag (nothing for ``none``)."""
    k, side, s = outfit.bag_size, outfit.side, phi.shape[0]
    if outfit.bag == "backpack":
        back = -(w.depth_r + 0.045 * k)
        low = _rot_xy(pelvis + [back, w.torso * 0.35, 0.0], pelvis, lean)
        high = _rot_xy(pelvis + [back, w.torso * 0.85, 0.0], pelvis, lean)
        for dz in (-0.05, 0.05):
            add(low + [0.0, 0.0, dz * k], high + [0.0, 0.0, dz * k], 0.055 * k, 0.05 * k)
    elif outfit.bag == "shoulder":
        swing = 0.03 * k * np.sin(phi + 0.5)
        centre = pelvis + np.stack([swing, np.full(s, 0.02), np.full(s, side * (w.hip_w + 0.09))], 1)
        add(centre - [0.0, 0.05 * k, 0.0], centre + [0.0, 0.05 * k, 0.0], 0.07 * k, 0.07 * k)
        strap = _rot_xy(pelvis + [0.0, w.torso, -side * w.chest_w], pelvis, lean)
        add(strap, centre, 0.012, 0.012)
    elif outfit.bag == "hand":
        hand = hands[side]
        add(hand - [0.0, 0.02, 0.0], hand - [0.0, 0.06 + 0.1 * k, 0.0], 0.05 * k, 0.065 * k)
    elif outfit.bag != "none":
        raise ValueError(f"Outfit.bag: expected none, backpack, shoulder or hand, got {outfit.bag!r}")


def project(
    a: np.ndarray, b: np.ndarray, ra: np.ndarray, rb: np.ndarray, view_deg: float, distance: float
) -> tuple[np.ndarray, ...]:
    """Project capsules ``a, b [s, m, 3]`` for a camera at CASIA-B view ``view_deg``.

    0° faces the walker (walking towards the camera), 90° is the side view, 180° the back. The
    camera sits ``distance`` statures away at hip height (mild perspective for large distances).
    Returns ``a2, b2 [s, m, 2]`` (image ``u`` right, ``v`` up) and radii ``ra2, rb2 [s, m]``.
    """
    t = np.deg2rad(view_deg)

    def one(p: np.ndarray, r: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        depth = p[..., 0] * np.cos(t) + p[..., 2] * np.sin(t)  # towards the camera
        u = -p[..., 0] * np.sin(t) + p[..., 2] * np.cos(t)
        f = distance / (distance - depth)  # [s, m]
        return np.stack([u * f, (p[..., 1] - 0.52) * f], axis=-1), r * f

    a2, ra2 = one(a, ra)
    b2, rb2 = one(b, rb)
    return a2, b2, ra2, rb2
