"""Synthetic gesture sequences: the skeleton of synthetic_pose with two articulated hands (21
MediaPipe hand landmarks each) and a turning head, performing SenseKit's gestures (and idle
motions), filmed into what the pose and hand trackers output at 16 fps.

Per frame: 33 pose landmarks (x, y normalised to a 640x480 frame, z in x's units relative to
the hips, visibility, presence) followed by 2 x 21 hand landmarks (x, y as the pose's, z in x's
units relative to the hand's wrist, as MediaPipe's hand model gives it; visibility and presence
1), NaN where a hand is not tracked. The hand blocks are in the order of the hand tracker's
handedness, which is the person's own hand, wrong now and then.

Each sequence varies the body, the hands' size, the speed and size of the gesture, which hand
does it, camera distance (1.2-3 m: a webcam's range for gestures), view angle (up to 45
degrees), camera height, mirroring, jitter, dropped landmarks and dropped hands. Directions are
the person's own: "Swiping left" moves the hand to the person's left. Mirrored sequences are
what a mirrored (selfie) camera gives: the pose model then names the sides as it sees them.
"""

from __future__ import annotations

import itertools
import zlib
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from synthetic_pose import (
    FOCAL_PX,
    HEIGHT,
    MAX_VIEW_DEG,
    MIRROR,
    VERTICAL_FOV_DEG,
    WIDTH,
    Body,
    Points,
    X,
    Y,
    Z,
    angles_limbs,
    grounded,
    idle_arms,
    skeleton,
    smooth_noise,
    unit,
)

FPS = 16.0
HAND = 21
LEFT, RIGHT = 0, 1
# Hand landmarks: per finger (knuckle along the hand, across it toward the thumb, in hand
# lengths) and its three bones' lengths.
FINGERS = {
    "index": (0.43, 0.11, (0.24, 0.14, 0.11)),
    "middle": (0.45, 0.03, (0.26, 0.16, 0.12)),
    "ring": (0.43, -0.05, (0.24, 0.15, 0.11)),
    "pinky": (0.39, -0.12, (0.19, 0.11, 0.10)),
}
FIST = {"index": 1.0, "middle": 1.0, "ring": 1.0, "pinky": 1.0}
OPEN = {"index": 0.05, "middle": 0.05, "ring": 0.05, "pinky": 0.05}
POINT = {"index": 0.0, "middle": 1.0, "ring": 1.0, "pinky": 1.0}


@dataclass
class HandPose:
    """One hand: where its wrist is (world), which way the fingers run (`along`) and the palm
    faces (`palm`), each finger's curl (0 straight - 1 fist) and the thumb's spread (0 folded
    over the fingers - 1 sticking out)."""

    wrist: Points
    along: Points
    palm: Points
    curls: dict[str, float]
    thumb: float


def hand_points(h: HandPose, side: int, length: float) -> Points:
    """The 21 hand landmarks in world coordinates."""
    a = unit(h.along)
    n = unit(h.palm - a * np.dot(h.palm, a))
    # Toward the thumb: the right hand's thumb is on a x n, the left hand's on n x a.
    s = np.cross(a, n) if side == RIGHT else np.cross(n, a)
    p = np.zeros((HAND, 3))
    p[0] = h.wrist
    out = unit(a * 0.45 + s * 0.85 - n * 0.1)
    folded = unit(a * 0.55 - s * 0.45 + n * 0.7)
    t = h.thumb
    thumb_dir = unit(t * out + (1 - t) * folded)
    p[1] = h.wrist + (a * 0.1 + s * 0.12) * length
    base_dir = unit(a * 0.6 + s * 0.8)
    p[2] = p[1] + unit(base_dir * (0.5 + 0.5 * t) + thumb_dir * 0.5) * 0.22 * length
    p[3] = p[2] + thumb_dir * 0.19 * length
    tip_dir = unit(thumb_dir + (1 - t) * n * 0.4)
    p[4] = p[3] + tip_dir * 0.16 * length
    for k, (name, (along, across, bones)) in enumerate(FINGERS.items()):
        c = float(np.clip(h.curls[name], 0.0, 1.0))
        knuckle = h.wrist + (a * along + s * across) * length
        p[5 + 4 * k] = knuckle
        theta = 0.0
        point = knuckle
        for j, (bone, flex) in enumerate(zip(bones, (75.0, 100.0, 60.0), strict=True)):
            theta += np.radians(flex * c)
            point = point + (a * np.cos(theta) + n * np.sin(theta)) * bone * length
            p[6 + 4 * k + j] = point
    return p


def arm_to(shoulder: Points, wrist: Points, upper: float, fore: float, out: Points) -> Points:
    """The elbow of an arm reaching `wrist` from `shoulder` (two-bone IK), bent toward `out`."""
    d = wrist - shoulder
    dist = float(np.clip(np.linalg.norm(d), 1e-6, (upper + fore) * 0.999))
    axis = unit(d)
    along = (upper**2 - fore**2 + dist**2) / (2 * dist)
    radius = np.sqrt(max(upper**2 - along**2, 0.0))
    pole = unit(out - axis * np.dot(out, axis)) if abs(np.dot(unit(out), axis)) < 0.99 else -Y
    return np.asarray(shoulder + axis * along + pole * radius, dtype=np.float64)


@dataclass
class Frame:
    """The world landmarks of one frame, and which face landmarks a hand covers."""

    pose: Points
    hands: tuple[Points, Points]
    covered: tuple[int, ...] = ()


@dataclass
class Scene:
    """What a gesture is built from: the body at rest and the camera's position."""

    body: Body
    rng: np.random.Generator
    camera: Points
    hand_length: float

    def rest_angles(self) -> Callable[[float], dict[str, tuple[float, float]]]:
        return idle_arms(self.rng)


class Performer:
    """Builds frames: the body standing, its arms reaching for given wrist positions with given
    hand shapes, the head turned by yaw and pitch."""

    def __init__(self, scene: Scene) -> None:
        self.scene = scene
        body = scene.body
        self.body = body
        self.rest = idle_arms(scene.rng)
        base = grounded(skeleton(body, np.zeros(3), Y, Z, angles_limbs(Y, Z, self.rest(0))))
        self.lift = base[23, 1]  # hip height: the body stands still while the arms move
        self.sway = smooth_noise(scene.rng, 0.02)

    def frame(
        self,
        t: float,
        hands: dict[int, HandPose | None],
        yaw: float = 0.0,
        pitch: float = 0.0,
        covered: tuple[int, ...] = (),
    ) -> Frame:
        body = self.body
        angles = self.rest(t)
        limbs = angles_limbs(Y, Z, angles)
        root = Y * self.lift + X * self.sway(t)
        pose = skeleton(body, root, Y, Z, limbs)
        left_dir = X
        out: list[Points] = []
        for side, sign in ((LEFT, 1.0), (RIGHT, -1.0)):
            h = hands.get(side)
            shoulder = pose[11 + side]
            if h is None:
                # At rest: hanging, the hand along the forearm, palm toward the thigh.
                wrist = pose[15 + side]
                fore = unit(pose[15 + side] - pose[13 + side])
                h = HandPose(wrist, fore, -sign * left_dir, self.rest_curls(t), 0.3)
            else:
                elbow = arm_to(
                    shoulder, h.wrist, body.upper_arm, body.forearm, -Y + sign * left_dir * 0.6
                )
                pose[13 + side] = elbow
                pose[15 + side] = h.wrist
            points = hand_points(h, side, self.scene.hand_length)
            pose[17 + side] = points[17]
            pose[19 + side] = (points[5] + points[8]) / 2
            pose[21 + side] = points[3]
            out.append(points)
        self.turn_head(pose, yaw, pitch)
        return Frame(pose, (out[0], out[1]), covered)

    def rest_curls(self, t: float) -> dict[str, float]:
        return dict.fromkeys(FINGERS, 0.35)

    def turn_head(self, pose: Points, yaw: float, pitch: float) -> None:
        pivot = (pose[11] + pose[12]) / 2 + Y * self.body.head * 0.3
        cy, sy = np.cos(np.radians(yaw)), np.sin(np.radians(yaw))
        cp, sp = np.cos(np.radians(pitch)), np.sin(np.radians(pitch))
        # Yaw about the vertical (positive: the face turns to the person's left), then pitch
        # about the left axis (positive: the face tilts down).
        yaw_m = np.array([[cy, 0, sy], [0, 1, 0], [-sy, 0, cy]])
        pitch_m = np.array([[1, 0, 0], [0, cp, -sp], [0, sp, cp]])
        rel = pose[:11] - pivot
        pose[:11] = pivot + rel @ (pitch_m @ yaw_m).T

    # -- places on the body (world), at time 0 ------------------------------------------------

    def head(self) -> tuple[Points, Points, Points]:
        p = self.frame(0.0, {}).pose
        return p[0], (p[7] + p[8]) / 2, (p[9] + p[10]) / 2

    def shoulder(self, side: int) -> Points:
        return np.asarray(self.frame(0.0, {}).pose[11 + side], dtype=np.float64)


def ease(x: float) -> float:
    x = float(np.clip(x, 0.0, 1.0))
    return (1 - np.cos(np.pi * x)) / 2


def lerp(a: Points, b: Points, w: float) -> Points:
    return np.asarray(a + (b - a) * w, dtype=np.float64)


def blend(a: HandPose, b: HandPose, w: float) -> HandPose:
    return HandPose(
        lerp(a.wrist, b.wrist, w),
        lerp(a.along, b.along, w),
        lerp(a.palm, b.palm, w),
        {k: a.curls[k] + (b.curls[k] - a.curls[k]) * w for k in FINGERS},
        a.thumb + (b.thumb - a.thumb) * w,
    )


@dataclass
class Script:
    """A gesture as keyframes of one or both hands: (time, {side: HandPose}) with the hands
    raised from rest before the first key and lowered after the last, plus head motion."""

    keys: list[tuple[float, dict[int, HandPose]]]
    head: Callable[[float], tuple[float, float]] | None = None
    covered: tuple[int, ...] = ()
    duration: float = 0.0


def perform(p: Performer, script: Script, rng: np.random.Generator) -> list[Frame]:
    """Rest, raise the hands, the keys, lower them, rest."""
    lead_in, lead_out = rng.uniform(0.6, 1.4), rng.uniform(0.5, 1.2)
    raise_s, lower_s = rng.uniform(0.5, 0.9), rng.uniform(0.5, 0.9)
    keys = script.keys
    sides = sorted({s for _, k in keys for s in k})
    span = keys[-1][0] if keys else script.duration
    total = lead_in + raise_s + span + lower_s + lead_out
    frames = []
    times = np.arange(0.0, total, 1 / FPS)
    for t in times:
        hands: dict[int, HandPose | None] = {}
        k = t - lead_in - raise_s
        if keys:
            for side in sides:
                rest = p.frame(t, {}).pose
                fore = unit(rest[15 + side] - rest[13 + side])
                sign = 1.0 if side == LEFT else -1.0
                at_rest = HandPose(rest[15 + side], fore, -sign * X, p.rest_curls(t), 0.3)
                first, last = keys[0][1][side], keys[-1][1][side]
                if k < 0:
                    w = ease((t - lead_in) / raise_s)
                    hands[side] = None if w <= 0 else blend(at_rest, first, w)
                elif k > span:
                    w = ease((k - span) / lower_s)
                    hands[side] = None if w >= 1 else blend(last, at_rest, w)
                else:
                    hands[side] = key_at(keys, side, k)
        yaw = pitch = 0.0
        if script.head is not None and 0 <= k <= span:
            yaw, pitch = script.head(k)
        in_gesture = 0 <= k <= span
        frames.append(p.frame(t, hands, yaw, pitch, script.covered if in_gesture else ()))
    return frames


def key_at(keys: list[tuple[float, dict[int, HandPose]]], side: int, k: float) -> HandPose:
    for (t0, a), (t1, b) in itertools.pairwise(keys):
        if t0 <= k <= t1:
            return blend(a[side], b[side], ease((k - t0) / max(t1 - t0, 1e-6)))
    return keys[-1][1][side]


# ---------------------------------------------------------------------------------------------
# Gestures: each returns a Script for a performer.


def _sign(side: int) -> float:
    return 1.0 if side == LEFT else -1.0


def _hold(pose: dict[int, HandPose], duration: float) -> list[tuple[float, dict[int, HandPose]]]:
    return [(0.0, pose), (duration, pose)]


def _chest(p: Performer) -> Points:
    s = (p.shoulder(LEFT) + p.shoulder(RIGHT)) / 2
    return np.asarray(s - Y * p.body.torso * 0.3 + Z * 0.3, dtype=np.float64)


def swipe(direction: Points) -> Callable[[Performer, np.random.Generator], Script]:
    def make(p: Performer, rng: np.random.Generator) -> Script:
        side = int(rng.integers(2))
        centre = _chest(p) + X * _sign(side) * 0.05
        if direction[1] != 0:  # up or down: in front of the body, on the hand's side
            centre = centre + X * _sign(side) * 0.12 + Y * 0.15
        reach = rng.uniform(0.28, 0.4)
        start, end = centre - direction * reach, centre + direction * reach
        if direction[1] > 0:  # over the head, the arm stretched up
            end = end + Y * 0.1
        elif direction[1] < 0:
            start = start + Y * 0.1
        duration = rng.uniform(0.25, 0.5)
        palm = unit(direction + Z * 0.3)
        along = unit(Y + Z * 0.2) if direction[1] == 0 else unit(Z * 0.8 - X * _sign(side) * 0.3)
        curls = {k: rng.uniform(0.0, 0.25) for k in FINGERS}
        a = HandPose(start, along, palm, curls, 0.6)
        b = HandPose(end, along, palm, curls, 0.6)
        # The hand is held ready for a moment before it sweeps.
        pause = rng.uniform(0.25, 0.5)
        return Script([(0.0, {side: a}), (pause, {side: a}), (pause + duration, {side: b})])

    return make


def thumb(up: bool) -> Callable[[Performer, np.random.Generator], Script]:
    def make(p: Performer, rng: np.random.Generator) -> Script:
        side = int(rng.integers(2))
        sign = _sign(side)
        wrist = _chest(p) + X * sign * rng.uniform(0.05, 0.25) + Y * rng.uniform(-0.1, 0.15)
        tilt = np.radians(rng.uniform(-25, 25))
        along = unit(Z * np.cos(tilt) - X * sign * np.sin(tilt) * 0.7 + Y * 0.1)
        # Thumb up: the thumb side is up, so the palm faces the body's midline.
        palm = -X * sign if up else X * sign
        h = HandPose(wrist, along, palm, FIST, 1.0)
        return Script(_hold({side: h}, rng.uniform(1.2, 2.5)))

    return make


def pointing(where: str) -> Callable[[Performer, np.random.Generator], Script]:
    def make(p: Performer, rng: np.random.Generator) -> Script:
        if where == "camera":
            side = int(rng.integers(2))
            shoulder = p.shoulder(side)
            target = p.scene.camera
            direction = unit(target - shoulder)
            bend = rng.uniform(0.75, 0.95)
        else:
            direction = X if where == "left" else -X
            # Mostly the arm on that side; sometimes the other arm, across the body.
            natural = LEFT if where == "left" else RIGHT
            side = natural if rng.random() < 0.8 else 1 - natural
            shoulder = p.shoulder(side)
            direction = unit(direction + Z * rng.uniform(0.0, 0.4) + Y * rng.uniform(-0.15, 0.25))
            bend = rng.uniform(0.8, 0.97) if side == natural else rng.uniform(0.6, 0.8)
        wrist = shoulder + direction * (p.body.upper_arm + p.body.forearm) * bend
        twist = rng.uniform(-0.5, 0.5)
        palm = unit(-Y + unit(np.cross(direction, Y)) * twist)
        h = HandPose(wrist, direction, palm, POINT, rng.uniform(0.0, 0.4))
        return Script(_hold({side: h}, rng.uniform(1.2, 2.5)))

    return make


def zooming(zoom_in: bool) -> Callable[[Performer, np.random.Generator], Script]:
    def make(p: Performer, rng: np.random.Generator) -> Script:
        centre = _chest(p) + Y * rng.uniform(-0.05, 0.15)
        near, far = rng.uniform(0.05, 0.12), rng.uniform(0.3, 0.45)
        start, end = (near, far) if zoom_in else (far, near)
        duration = rng.uniform(0.35, 0.8)
        curls = {k: rng.uniform(0.0, 0.3) for k in FINGERS}

        def at(half: float) -> dict[int, HandPose]:
            return {
                side: HandPose(
                    centre + X * _sign(side) * half, unit(Y + Z * 0.3), -X * _sign(side), curls, 0.6
                )
                for side in (LEFT, RIGHT)
            }

        pause, hold = rng.uniform(0.25, 0.5), rng.uniform(0.15, 0.35)
        end_at = pause + duration
        keys = [(0.0, at(start)), (pause, at(start)), (end_at, at(end)), (end_at + hold, at(end))]
        return Script(keys)

    return make


def waving(p: Performer, rng: np.random.Generator) -> Script:
    side = int(rng.integers(2))
    sign = _sign(side)
    shoulder = p.shoulder(side)
    base = shoulder + Y * rng.uniform(0.1, 0.3) + X * sign * rng.uniform(0.1, 0.3) + Z * 0.1
    amplitude, period = rng.uniform(0.08, 0.16), rng.uniform(0.4, 0.7)
    swings = int(rng.integers(3, 6))
    palm = unit(p.scene.camera - base)
    keys = []
    for k in range(swings * 2 + 1):
        offset = 0.0 if k in (0, swings * 2) else (1 if k % 2 else -1) * amplitude
        along = unit(Y - X * offset * 2)
        keys.append((k * period / 2, {side: HandPose(base + X * offset, along, palm, OPEN, 0.8)}))
    return Script(keys)


def covering(what: str) -> Callable[[Performer, np.random.Generator], Script]:
    def make(p: Performer, rng: np.random.Generator) -> Script:
        pose = p.frame(0.0, {}).pose
        hands: dict[int, HandPose] = {}
        covered: tuple[int, ...] = ()
        for side in (LEFT, RIGHT):
            sign = _sign(side)
            if what == "ears":
                ear = pose[7 + side]
                wrist = ear + X * sign * 0.03 - Y * p.scene.hand_length * 0.45
                hands[side] = HandPose(wrist, unit(Y + Z * 0.1), -X * sign, OPEN, 0.5)
                covered += (7 + side,)
            else:  # eyes: the palms over the eyes, fingers up and inward
                eye = pose[2 + 3 * side]
                palm_centre = eye + Z * 0.03 + X * sign * rng.uniform(-0.01, 0.02)
                along = unit(Y - X * sign * 0.4)
                wrist = palm_centre - along * p.scene.hand_length * 0.4 - Z * 0.01
                hands[side] = HandPose(wrist, along, -Z, OPEN, 0.4)
                covered += (1, 2, 3, 4, 5, 6)
        return Script(_hold(hands, rng.uniform(1.2, 2.5)), covered=covered)

    return make


def finger_to_mouth(p: Performer, rng: np.random.Generator) -> Script:
    side = int(rng.integers(2))
    _nose, _ears, mouth = p.head()
    tip = mouth + Z * 0.02 + Y * rng.uniform(-0.01, 0.01)
    along = unit(Y + Z * rng.uniform(-0.1, 0.2))
    wrist = tip - along * p.scene.hand_length * 0.92 + Z * 0.02
    h = HandPose(wrist, along, -Z + X * _sign(side) * 0.3, POINT, 0.2)
    return Script(_hold({side: h}, rng.uniform(1.2, 2.5)), covered=(9, 10))


def facepalming(p: Performer, rng: np.random.Generator) -> Script:
    side = int(rng.integers(2))
    sign = _sign(side)
    pose = p.frame(0.0, {}).pose
    eyes = (pose[2] + pose[5]) / 2
    palm_centre = eyes + Y * rng.uniform(0.0, 0.04) + Z * 0.03 + X * sign * rng.uniform(0.0, 0.03)
    along = unit(Y * 0.5 - X * sign + Z * 0.1)
    wrist = palm_centre - along * p.scene.hand_length * 0.4
    h = HandPose(wrist, along, -Z, {k: rng.uniform(0.1, 0.35) for k in FINGERS}, 0.5)
    tilt = rng.uniform(5, 20)
    return Script(
        _hold({side: h}, rng.uniform(1.2, 2.5)),
        head=lambda t: (0.0, tilt),
        covered=(1, 2, 3, 4, 5, 6),
    )


def head_motion(nod: bool) -> Callable[[Performer, np.random.Generator], Script]:
    def make(p: Performer, rng: np.random.Generator) -> Script:
        amplitude = rng.uniform(15, 25) if nod else rng.uniform(20, 35)
        period = rng.uniform(0.45, 0.8)
        swings = int(rng.integers(2, 5))
        duration = swings * period

        def head(t: float) -> tuple[float, float]:
            s = np.sin(2 * np.pi * t / period)
            return (0.0, amplitude * max(s, -0.3) + 3) if nod else (amplitude * s, 0.0)

        return Script([], head=head, duration=duration)

    return make


# Not gestures: standing, looking around, walking past, arms crossed, touching the chin.


def idle(p: Performer, rng: np.random.Generator) -> Script:
    look = smooth_noise(rng, 25)
    nod = smooth_noise(rng, 6)
    return Script([], head=lambda t: (look(t), nod(t)), duration=rng.uniform(4, 7))


def looking_around(p: Performer, rng: np.random.Generator) -> Script:
    amplitude, period = rng.uniform(30, 50), rng.uniform(2.5, 4.0)

    def head(t: float) -> tuple[float, float]:
        return (amplitude * np.sin(2 * np.pi * t / period), 3 * np.sin(t))

    return Script([], head=head, duration=period * rng.uniform(1.0, 2.0))


def arms_crossed(p: Performer, rng: np.random.Generator) -> Script:
    pose = p.frame(0.0, {}).pose
    hands = {}
    for side in (LEFT, RIGHT):
        other_elbow = pose[13 + (1 - side)]
        wrist = other_elbow + Z * 0.1 + Y * 0.05 - X * _sign(side) * 0.05
        hands[side] = HandPose(wrist, -X * _sign(side), -Z, FIST, 0.3)
    return Script(_hold(hands, rng.uniform(2.0, 4.0)))


def hands_on_hips(p: Performer, rng: np.random.Generator) -> Script:
    pose = p.frame(0.0, {}).pose
    hands = {}
    for side in (LEFT, RIGHT):
        wrist = pose[23 + side] + X * _sign(side) * 0.08 + Y * 0.05
        hands[side] = HandPose(wrist, unit(-X * _sign(side) * 0.3 - Y), X * _sign(side), OPEN, 0.5)
    return Script(_hold(hands, rng.uniform(2.0, 4.0)))


def walking_past(p: Performer, rng: np.random.Generator) -> Script:
    return Script([], duration=rng.uniform(3.0, 5.0))  # see generate: the body moves across


GESTURES: dict[str, Callable[[Performer, np.random.Generator], Script]] = {
    "Swiping left": swipe(X),
    "Swiping right": swipe(-X),
    "Swiping up": swipe(Y),
    "Swiping down": swipe(-Y),
    "Thumb up": thumb(True),
    "Thumb down": thumb(False),
    "Waving": waving,
    "Pointing left": pointing("left"),
    "Pointing right": pointing("right"),
    "Pointing to the camera": pointing("camera"),
    "Zooming in": zooming(True),
    "Zooming out": zooming(False),
    "Covering ears": covering("ears"),
    "Covering eyes": covering("eyes"),
    "Putting finger to mouth": finger_to_mouth,
    "Facepalming": facepalming,
    "Nodding": head_motion(True),
    "Shaking head": head_motion(False),
}
# Everyday motions that are no gesture: nothing may fire on them.
NON_GESTURES: dict[str, Callable[[Performer, np.random.Generator], Script]] = {
    "idle": idle,
    "looking around": looking_around,
    "arms crossed": arms_crossed,
    "hands on hips": hands_on_hips,
    "walking past": walking_past,
}


@dataclass(frozen=True)
class Sequence:
    activity: str
    landmarks: npt.NDArray[np.float32]  # (T, 75, 5): pose, then the two hands' blocks
    times: npt.NDArray[np.float64]
    mirrored: bool
    info: dict[str, float | bool | str]


def _camera_at(position: Points, target: Points) -> tuple[Points, Points, Points, Points]:
    forward = unit(target - position)
    right = unit(np.cross(forward, Y))
    up = np.cross(right, forward)
    return position, forward, right, up


def _project(
    points: Points, cam: tuple[Points, Points, Points, Points], ref_depth: float
) -> Points:
    position, forward, right, up = cam
    rel = points - position
    depth = rel @ forward
    u = WIDTH / 2 + FOCAL_PX * (rel @ right) / depth
    v = HEIGHT / 2 - FOCAL_PX * (rel @ up) / depth
    z = (depth - ref_depth) * FOCAL_PX / ref_depth / WIDTH
    return np.stack([u / WIDTH, v / HEIGHT, z], axis=1)


def _depth(point: Points, cam: tuple[Points, Points, Points, Points]) -> float:
    return float((point - cam[0]) @ cam[1])


def generate(activity: str, seed: int) -> Sequence:
    """One sequence of `activity`: a gesture name (GESTURES) or a non-gesture (NON_GESTURES)."""
    rng = np.random.default_rng([seed, zlib.crc32(activity.encode())])
    body = Body.random(rng)
    azimuth = rng.uniform(-MAX_VIEW_DEG, MAX_VIEW_DEG)
    distance = rng.uniform(1.2, 3.0)
    chest = np.array([0.0, body.height * 0.75, 0.0])
    az = np.radians(azimuth)
    camera = chest + (Z * np.cos(az) + X * np.sin(az)) * distance
    camera[1] = rng.uniform(1.0, 1.6)
    scene = Scene(body, rng, camera, body.height * rng.uniform(0.1, 0.116))
    performer = Performer(scene)
    maker = GESTURES.get(activity) or NON_GESTURES[activity]
    frames = perform(performer, maker(performer, rng), rng)
    if activity == "walking past":
        speed = rng.uniform(0.6, 1.2) * rng.choice([-1.0, 1.0])
        span = len(frames) / FPS
        for k, f in enumerate(frames):
            shift = X * speed * (k / FPS - span / 2)
            f.pose += shift
            f.hands = (f.hands[0] + shift, f.hands[1] + shift)
    # Frame the upper body: aim at the chest.
    cam = _camera_at(camera, chest + Y * rng.uniform(-0.2, 0.1))
    n = len(frames)
    times = np.arange(n) / FPS + rng.uniform(0, 100)
    out = np.full((n, 33 + 2 * HAND, 5), np.nan)
    jitter = rng.uniform(0.001, 0.003)
    hand_jitter = rng.uniform(0.001, 0.003)
    drop_rate = rng.uniform(0.0, 0.05)
    hand_drop = rng.uniform(0.0, 0.1)
    swap_rate = rng.uniform(0.0, 0.05)
    rest_tracked = rng.random() < 0.5  # hands hanging at the sides: tracked by some cameras
    for k, f in enumerate(frames):
        hip_depth = float(np.mean([_depth(f.pose[i], cam) for i in (23, 24)]))
        image = _project(f.pose, cam, hip_depth)
        image[:, :2] += rng.normal(0, jitter, (33, 2))
        image[:, 2] += rng.normal(0, 3 * jitter, 33)
        vis = rng.uniform(0.85, 0.99, 33)
        dropped = rng.random(33) < drop_rate
        vis[dropped] = rng.uniform(0.05, 0.45, int(dropped.sum()))
        for i in f.covered:
            vis[i] = rng.uniform(0.2, 0.7)
        outside = (image[:, 0] < 0) | (image[:, 0] > 1) | (image[:, 1] < 0) | (image[:, 1] > 1)
        vis[outside] = rng.uniform(0.02, 0.2, int(outside.sum()))
        out[k, :33, :3] = image
        out[k, :33, 3] = vis
        out[k, :33, 4] = vis
        for side in (LEFT, RIGHT):
            points = f.hands[side]
            hanging = points[0, 1] < f.pose[23 + side, 1] + 0.1
            if (hanging and not rest_tracked) or rng.random() < hand_drop:
                continue
            h = _project(points, cam, _depth(points[0], cam))
            if ((h[:, 0] < 0) | (h[:, 0] > 1) | (h[:, 1] < 0) | (h[:, 1] > 1)).mean() > 0.3:
                continue
            h[:, :2] += rng.normal(0, hand_jitter, (HAND, 2))
            h[:, 2] += rng.normal(0, 2 * hand_jitter, HAND)
            out[k, 33 + side * HAND : 33 + (side + 1) * HAND, :3] = h
            out[k, 33 + side * HAND : 33 + (side + 1) * HAND, 3:] = 1.0
        if rng.random() < swap_rate:  # the tracker's handedness is wrong on this frame
            out[k, 33:] = np.concatenate([out[k, 33 + HAND :], out[k, 33 : 33 + HAND]])
    mirrored = bool(rng.random() < 0.5)
    if mirrored:
        # A mirrored camera: the pose model names the sides it sees; the hand tracker, told the
        # frames are mirrored, still names the person's own hands.
        out[..., 0] = 1 - out[..., 0]
        out[:, :33] = out[:, MIRROR]
    lost = rng.random(n) < 0.02
    out[lost, :33] = np.nan
    return Sequence(
        activity=activity,
        landmarks=out.astype(np.float32),
        times=times,
        mirrored=mirrored,
        info={
            "height": body.height,
            "distance": float(distance),
            "azimuth": float(azimuth),
            "mirrored": mirrored,
            "jitter": float(jitter),
            "hand_drop": float(hand_drop),
        },
    )


__all__ = ["FPS", "GESTURES", "NON_GESTURES", "VERTICAL_FOV_DEG", "Sequence", "generate"]
