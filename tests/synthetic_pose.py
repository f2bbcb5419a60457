"""Synthetic pose-landmark sequences: a parametric 3-D skeleton performing exercises (and
standing idle, walking past, sitting down), filmed by a pinhole camera into what the pose
tracker outputs: per frame 33 BlazePose landmarks (x, y normalised to a 640x480 frame, z in
x's units relative to the hips, visibility, presence) at 16 fps.

Each sequence varies the body (height and proportions), speed, depth of movement, camera
distance, view angle (up to 45 degrees off the exercise's usual view), camera height, mirroring,
jitter and dropped landmarks. Everything is drawn from `numpy.random.default_rng` seeded by the
seed and the activity: the same arguments give the same sequence.
"""

from __future__ import annotations

import itertools
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

FPS = 16.0
WIDTH, HEIGHT = 640, 480
ASPECT = WIDTH / HEIGHT
VERTICAL_FOV_DEG = 55.0
FOCAL_PX = (HEIGHT / 2) / np.tan(np.radians(VERTICAL_FOV_DEG / 2))
MAX_VIEW_DEG = 45.0
Y = np.array([0.0, 1.0, 0.0])
X = np.array([1.0, 0.0, 0.0])
Z = np.array([0.0, 0.0, 1.0])

# Left/right landmark pairs: a mirrored frame shows the person's left where the right would be.
_PAIRS = [(1, 4), (2, 5), (3, 6), (7, 8), (9, 10)] + [(i, i + 1) for i in range(11, 33, 2)]
MIRROR = np.arange(33)
for _a, _b in _PAIRS:
    MIRROR[_a], MIRROR[_b] = _b, _a

Points = npt.NDArray[np.float64]  # (33, 3) world metres, y up, floor at 0


def unit(v: Points) -> Points:
    return np.asarray(v / np.linalg.norm(v), dtype=np.float64)


@dataclass(frozen=True)
class Body:
    height: float
    torso: float
    shoulder_width: float
    hip_width: float
    upper_arm: float
    forearm: float
    thigh: float
    shin: float
    foot: float
    head: float

    @staticmethod
    def random(rng: np.random.Generator) -> Body:
        h = rng.uniform(1.5, 1.95)

        def part(fraction: float) -> float:
            return float(h * fraction * rng.uniform(0.92, 1.08))

        return Body(
            height=h,
            torso=part(0.30),
            shoulder_width=part(0.23),
            hip_width=part(0.17),
            upper_arm=part(0.17),
            forearm=part(0.15),
            thigh=part(0.245),
            shin=part(0.245),
            foot=part(0.13),
            head=part(0.12),
        )


def limb(flex: float, abd: float, side: float, up: Points, fwd: Points, left: Points) -> Points:
    """Direction of a limb segment: hanging down, flexed forward by `flex` and abducted
    outward by `abd` degrees; side = +1 for the left limb, -1 for the right."""
    f, a = np.radians(flex), np.radians(abd)
    return unit(-up * np.cos(f) * np.cos(a) + fwd * np.sin(f) * np.cos(a) + side * left * np.sin(a))


@dataclass
class Limbs:
    """World directions of each side's segments: thigh, shin, foot, upper arm, forearm."""

    thigh: dict[int, Points] = field(default_factory=dict)
    shin: dict[int, Points] = field(default_factory=dict)
    foot: dict[int, Points] = field(default_factory=dict)
    upper: dict[int, Points] = field(default_factory=dict)
    fore: dict[int, Points] = field(default_factory=dict)


def angles_limbs(up: Points, fwd: Points, angles: dict[str, tuple[float, float]]) -> Limbs:
    """Limbs from joint angles; angles[name] = (left, right) in degrees for hip_flex, hip_abd,
    knee, sh_flex, sh_abd, elbow (missing ones are 0)."""
    left = unit(np.cross(up, fwd))
    limbs = Limbs()
    for k, side in ((0, 1.0), (1, -1.0)):

        def a(name: str, k: int = k) -> float:
            return angles.get(name, (0.0, 0.0))[k]

        limbs.thigh[k] = limb(a("hip_flex"), a("hip_abd"), side, up, fwd, left)
        limbs.shin[k] = limb(a("hip_flex") - a("knee"), a("hip_abd"), side, up, fwd, left)
        limbs.foot[k] = limb(a("hip_flex") - a("knee") + 90, a("hip_abd"), side, up, fwd, left)
        limbs.upper[k] = limb(a("sh_flex"), a("sh_abd"), side, up, fwd, left)
        limbs.fore[k] = limb(a("sh_flex") + a("elbow"), a("sh_abd"), side, up, fwd, left)
    return limbs


def skeleton(body: Body, root: Points, up: Points, fwd: Points, limbs: Limbs) -> Points:
    """The 33 BlazePose landmarks in world coordinates."""
    up = unit(up)
    fwd = unit(fwd - up * np.dot(fwd, up))
    left = unit(np.cross(up, fwd))
    p = np.zeros((33, 3))
    sc = root + up * body.torso
    head = body.head
    p[0] = sc + up * head * 0.75 + fwd * head * 0.45
    for side, k in ((1.0, 0), (-1.0, 1)):
        eye = sc + up * head * 0.9 + fwd * head * 0.38 + side * left * head * 0.25
        p[2 if k == 0 else 5] = eye
        p[1 if k == 0 else 4] = eye - side * left * head * 0.08
        p[3 if k == 0 else 6] = eye + side * left * head * 0.08
        p[7 + k] = sc + up * head * 0.85 + side * left * head * 0.55
        p[9 + k] = sc + up * head * 0.55 + fwd * head * 0.38 + side * left * head * 0.15
        shoulder = sc + side * left * body.shoulder_width / 2
        elbow = shoulder + limbs.upper[k] * body.upper_arm
        wrist = elbow + limbs.fore[k] * body.forearm
        p[11 + k], p[13 + k], p[15 + k] = shoulder, elbow, wrist
        hand = limbs.fore[k] * body.height * 0.06
        p[17 + k] = wrist + hand - side * left * body.height * 0.015
        p[19 + k] = wrist + hand * 1.1 + side * left * body.height * 0.01
        p[21 + k] = wrist + hand * 0.5 + side * left * body.height * 0.03
        hip = root + side * left * body.hip_width / 2
        knee = hip + limbs.thigh[k] * body.thigh
        ankle = knee + limbs.shin[k] * body.shin
        p[23 + k], p[25 + k], p[27 + k] = hip, knee, ankle
        p[29 + k] = ankle + limbs.shin[k] * body.height * 0.03 - limbs.foot[k] * body.foot * 0.3
        p[31 + k] = ankle + limbs.foot[k] * body.foot * 0.8
    return p


def grounded(points: Points, contacts: list[int] | None = None, lift: float = 0.0) -> Points:
    """Shifts the body so that its lowest contact point is on the floor, `lift` above it."""
    idx = contacts if contacts is not None else list(range(27, 33))
    return points - Y * (points[idx, 1].min() - lift)


def smooth_noise(rng: np.random.Generator, amplitude: float) -> Callable[[float], float]:
    """A smooth random function of time (a few slow sines)."""
    freqs = rng.uniform(0.05, 0.5, 3)
    phases = rng.uniform(0, 2 * np.pi, 3)
    weights = rng.uniform(0.3, 1.0, 3)

    def f(t: float) -> float:
        return float(amplitude * np.sum(weights * np.sin(2 * np.pi * freqs * t + phases)) / 2)

    return f


def bump(phase: float) -> float:
    """0 -> 1 -> 0 over one period (a raised cosine)."""
    return float((1 - np.cos(2 * np.pi * phase)) / 2)


def half_bumps(phase: float) -> tuple[float, float]:
    """Bumps of the left side in the first half period and of the right side in the second."""
    phase %= 1.0
    return (bump(phase * 2) if phase < 0.5 else 0.0, bump(phase * 2 - 1) if phase >= 0.5 else 0.0)


# ---------------------------------------------------------------------------------------------
# Activities. Each returns (frame -> world points, active duration, reps, view) given the rng.


@dataclass
class Motion:
    pose: Callable[[float], Points]
    duration: float
    reps: int
    view: str  # "front": the camera in front; "side": at the side of a body lying along X
    # The pose before and after the exercise (rest), or None to use pose(0).
    rest: Callable[[float], Points] | None = None
    extent: float = 1.3  # body extent to fit in the frame, in heights


def standing_pose(
    body: Body,
    angles: dict[str, tuple[float, float]],
    lean: float = 0.0,
    lift: float = 0.0,
    fwd: Points = Z,
) -> Points:
    up = unit(Y * np.cos(np.radians(lean)) + fwd * np.sin(np.radians(lean)))
    # Legs are defined relative to the vertical, not the leaning torso.
    limbs = angles_limbs(Y, fwd, angles)
    arms = angles_limbs(up, fwd, angles)
    limbs.upper, limbs.fore = arms.upper, arms.fore
    return grounded(skeleton(body, np.zeros(3), up, fwd, limbs), lift=lift)


def idle_arms(rng: np.random.Generator) -> Callable[[float], dict[str, tuple[float, float]]]:
    n = [smooth_noise(rng, a) for a in (6, 6, 10, 10, 15, 15, 3, 3)]

    def angles(t: float) -> dict[str, tuple[float, float]]:
        return {
            "sh_flex": (5 + n[0](t), 5 + n[1](t)),
            "sh_abd": (8 + abs(n[2](t)), 8 + abs(n[3](t))),
            "elbow": (15 + abs(n[4](t)), 15 + abs(n[5](t))),
            "hip_flex": (n[6](t), n[7](t)),
            "knee": (abs(n[6](t)), abs(n[7](t))),
        }

    return angles


def squats(body: Body, rng: np.random.Generator, reps: int) -> Motion:
    period = rng.uniform(1.6, 3.0)
    depth = rng.uniform(85, 115)
    lean = rng.uniform(0.25, 0.45)
    arms_forward = rng.random() < 0.5

    def pose(t: float) -> Points:
        s = bump(t / period)
        k = depth * s
        arms = (
            {"sh_flex": (80 * s, 80 * s), "elbow": (5, 5)}
            if arms_forward
            else {"sh_flex": (40, 40), "elbow": (120, 120), "sh_abd": (15, 15)}
        )
        return standing_pose(
            body,
            {"hip_flex": (0.95 * k, 0.95 * k), "knee": (k, k), "hip_abd": (8, 8), **arms},
            lean=lean * k,
        )

    return Motion(pose, reps * period, reps, "front")


def lunges(body: Body, rng: np.random.Generator, reps: int) -> Motion:
    period = rng.uniform(3.0, 5.0)
    depth = rng.uniform(0.75, 1.0)
    first = int(rng.integers(2))

    def pose(t: float) -> Points:
        s = half_bumps(t / period)
        s = (s[first], s[1 - first])
        hip = (depth * (85 * s[0] - 15 * s[1]), depth * (85 * s[1] - 15 * s[0]))
        knee = (depth * (90 * s[0] + 100 * s[1]), depth * (90 * s[1] + 100 * s[0]))
        return standing_pose(
            body,
            {"hip_flex": hip, "knee": knee, "sh_abd": (10, 10), "elbow": (20, 20)},
            lean=5 * max(s),
        )

    return Motion(pose, reps * period, reps, "front")


def high_knees(body: Body, rng: np.random.Generator, reps: int) -> Motion:
    period = rng.uniform(0.6, 1.0)
    lift = rng.uniform(75, 100)

    def pose(t: float) -> Points:
        left, right = half_bumps(t / period)
        return standing_pose(
            body,
            {
                "hip_flex": (lift * left, lift * right),
                "knee": (lift * 1.05 * left, lift * 1.05 * right),
                "sh_flex": (40 * (right - left), 40 * (left - right)),
                "elbow": (90, 90),
            },
            lift=0.04 * max(left, right),
        )

    return Motion(pose, reps * period, reps, "front")


def butt_kickers(body: Body, rng: np.random.Generator, reps: int) -> Motion:
    period = rng.uniform(0.6, 1.0)
    kick = rng.uniform(110, 140)

    def pose(t: float) -> Points:
        left, right = half_bumps(t / period)
        return standing_pose(
            body,
            {
                "hip_flex": (-5 * left, -5 * right),
                "knee": (kick * left, kick * right),
                "sh_flex": (30 * (right - left), 30 * (left - right)),
                "elbow": (80, 80),
            },
            lift=0.03 * max(left, right),
        )

    return Motion(pose, reps * period, reps, "front")


def jumping_jacks(body: Body, rng: np.random.Generator, reps: int) -> Motion:
    period = rng.uniform(0.7, 1.3)
    spread = rng.uniform(12, 20)

    def pose(t: float) -> Points:
        s = bump(t / period)
        return standing_pose(
            body,
            {
                "sh_abd": (10 + 160 * s, 10 + 160 * s),
                "elbow": (10, 10),
                "hip_abd": (3 + spread * s, 3 + spread * s),
            },
            lift=0.06 * abs(np.sin(2 * np.pi * t / period)),
        )

    return Motion(pose, reps * period, reps, "front", extent=1.45)


def arm_circles(body: Body, rng: np.random.Generator, reps: int) -> Motion:
    period = rng.uniform(0.5, 1.2)
    radius = np.radians(rng.uniform(15, 30))
    direction = rng.choice([-1.0, 1.0])
    rest = idle_arms(rng)

    def pose(t: float) -> Points:
        theta = 2 * np.pi * t / period * direction
        limbs = angles_limbs(Y, Z, rest(0))
        left = unit(np.cross(Y, Z))
        for k, side in ((0, 1.0), (1, -1.0)):
            arm = unit(
                side * left * np.cos(radius)
                + (Y * np.cos(theta) + Z * np.sin(theta)) * np.sin(radius)
            )
            limbs.upper[k] = limbs.fore[k] = arm
        return grounded(skeleton(body, np.zeros(3), Y, Z, limbs))

    def rest_pose(t: float) -> Points:
        return standing_pose(body, rest(t))

    return Motion(pose, reps * period, reps, "front", rest=rest_pose, extent=1.2)


def prone(
    body: Body,
    elbow: float,
    legs: tuple[tuple[float, float], tuple[float, float]],
    forearm: bool = False,
    heading: float = 1.0,
) -> Points:
    """A body face down along X (head towards +X * heading), on straight or bent arms (elbow
    flexion in degrees) or on the forearms; legs[k] = (hip flexion, knee flexion)."""
    hd = X * heading
    e = np.radians(elbow)
    height = body.upper_arm + 0.04 if forearm else body.upper_arm * np.cos(e) + body.forearm + 0.04
    beta = np.arcsin(min(0.95, height / (body.torso + body.thigh + body.shin + 0.05)))
    up = unit(hd * np.cos(beta) + Y * np.sin(beta))
    fwd = unit(hd * np.sin(beta) - Y * np.cos(beta))
    limbs = Limbs()
    for k in (0, 1):
        if forearm:
            limbs.upper[k], limbs.fore[k] = -Y, hd
        else:
            limbs.upper[k] = unit(-Y * np.cos(e) - hd * np.sin(e))
            limbs.fore[k] = -Y
        flex, knee = legs[k]
        f, kn = np.radians(flex), np.radians(flex - knee)
        limbs.thigh[k] = unit(-up * np.cos(f) + fwd * np.sin(f))
        limbs.shin[k] = unit(-up * np.cos(kn) + fwd * np.sin(kn))
        limbs.foot[k] = unit(fwd * np.cos(kn) + up * np.sin(kn))
    points = skeleton(body, np.zeros(3), up, fwd, limbs)
    contacts = [15, 16, 31, 32] if not forearm else [13, 14, 31, 32]
    return grounded(points, contacts)


def pushups(body: Body, rng: np.random.Generator, reps: int) -> Motion:
    period = rng.uniform(1.5, 3.0)
    depth = rng.uniform(70, 100)
    heading = rng.choice([-1.0, 1.0])

    def pose(t: float) -> Points:
        return prone(body, 5 + depth * bump(t / period), ((0, 0), (0, 0)), heading=heading)

    return Motion(pose, reps * period, reps, "side")


def mountain_climbers(body: Body, rng: np.random.Generator, reps: int) -> Motion:
    period = rng.uniform(0.6, 1.2)
    drive = rng.uniform(80, 110)
    heading = rng.choice([-1.0, 1.0])

    def pose(t: float) -> Points:
        left, right = half_bumps(t / period)
        legs = ((drive * left, 100 * left), (drive * right, 100 * right))
        return prone(body, 5, legs, heading=heading)

    return Motion(pose, reps * period, reps, "side")


def plank(body: Body, rng: np.random.Generator, reps: int) -> Motion:
    forearm = rng.random() < 0.5
    heading = rng.choice([-1.0, 1.0])
    sway = smooth_noise(rng, 2.0)

    def pose(t: float) -> Points:
        return prone(body, 5 + sway(t), ((sway(t + 7), 0), (sway(t + 7), 0)), forearm, heading)

    return Motion(pose, rng.uniform(6, 10), 0, "side")


def side_plank(body: Body, rng: np.random.Generator, reps: int) -> Motion:
    beta = np.radians(rng.uniform(15, 30))
    heading = rng.choice([-1.0, 1.0])
    forearm = rng.random() < 0.5
    top_arm_up = rng.random() < 0.5
    sway = smooth_noise(rng, 0.02)

    def pose(t: float) -> Points:
        hd = X * heading
        up = unit(hd * np.cos(beta + sway(t)) + Y * np.sin(beta + sway(t)))
        fwd = Z
        left = unit(np.cross(up, fwd))
        # The lower side is the one whose shoulder is lower.
        low = 0 if left[1] < 0 else 1
        limbs = Limbs()
        for k in (0, 1):
            limbs.thigh[k] = limbs.shin[k] = -up
            limbs.foot[k] = fwd
        limbs.upper[low] = -Y
        limbs.fore[low] = hd if forearm else -Y
        if top_arm_up:
            limbs.upper[1 - low] = limbs.fore[1 - low] = Y
        else:
            limbs.upper[1 - low] = -up
            limbs.fore[1 - low] = unit(-up + fwd * 0.3)
        points = skeleton(body, np.zeros(3), up, fwd, limbs)
        return grounded(points, [13 + low if forearm else 15 + low, 27, 28])

    return Motion(pose, rng.uniform(6, 10), 0, "front", extent=1.1)


def burpees(body: Body, rng: np.random.Generator, reps: int) -> Motion:
    period = rng.uniform(2.5, 4.5)
    heading = rng.choice([-1.0, 1.0])
    fwd = X * heading
    stand = standing_pose(body, {"sh_abd": (10, 10), "elbow": (10, 10)}, fwd=fwd)
    squat = standing_pose(
        body,
        {"hip_flex": (110, 110), "knee": (120, 120), "sh_flex": (60, 60), "elbow": (10, 10)},
        lean=55,
        fwd=fwd,
    )
    board = prone(body, 5, ((0, 0), (0, 0)), heading=heading)
    jump = standing_pose(body, {"sh_abd": (170, 170)}, lift=0.15, fwd=fwd)
    # Key poses over one rep, (phase, pose); the plank's hands land where the squat's were.
    board = board + (squat[15] - board[15])
    board = grounded(board, [15, 16, 31, 32])
    keys = [
        (0.0, stand),
        (0.2, squat),
        (0.35, board),
        (0.6, board),
        (0.75, squat),
        (0.88, jump),
        (1.0, stand),
    ]

    def pose(t: float) -> Points:
        phase = (t / period) % 1.0
        for (p0, a), (p1, b) in itertools.pairwise(keys):
            if p0 <= phase <= p1:
                w = (phase - p0) / (p1 - p0)
                w = (1 - np.cos(np.pi * w)) / 2
                return np.asarray((1 - w) * a + w * b, dtype=np.float64)
        return stand

    def rest(t: float) -> Points:
        return stand

    return Motion(pose, reps * period, reps, "front", rest=rest, extent=1.45)


def idle(body: Body, rng: np.random.Generator, reps: int) -> Motion:
    arms = idle_arms(rng)
    turn = smooth_noise(rng, 0.3)

    def pose(t: float) -> Points:
        fwd = unit(Z * np.cos(turn(t)) + X * np.sin(turn(t)))
        return standing_pose(body, arms(t), fwd=fwd)

    return Motion(pose, rng.uniform(8, 12), 0, "front")


def walking(body: Body, rng: np.random.Generator, reps: int) -> Motion:
    speed = rng.uniform(0.9, 1.6)
    stride = rng.uniform(0.8, 1.0) * speed * 1.1  # steps per second per leg
    direction = rng.choice([-1.0, 1.0])
    span = 5.0

    def pose(t: float) -> Points:
        phase = 2 * np.pi * stride * t / 2
        swing = np.sin(phase)
        hip = (25 * swing, -25 * swing)
        knee = (5 + 55 * max(0.0, np.sin(phase + 1.2)), 5 + 55 * max(0.0, -np.sin(phase + 1.2)))
        arms = (-20 * swing, 20 * swing)
        points = standing_pose(
            body,
            {"hip_flex": hip, "knee": knee, "sh_flex": arms, "elbow": (15, 15)},
            fwd=X * direction,
        )
        return points + X * direction * (speed * t - span / 2)

    return Motion(pose, span / speed, 0, "front")


def sitting(body: Body, rng: np.random.Generator, reps: int) -> Motion:
    down, seated = rng.uniform(1.0, 2.0), rng.uniform(5.0, 8.0)
    stand_up = rng.random() < 0.5
    arms = idle_arms(rng)
    fidget = smooth_noise(rng, 10)

    def pose(t: float) -> Points:
        if t < down:
            s = (1 - np.cos(np.pi * t / down)) / 2
        elif t < down + seated or not stand_up:
            s = 1.0
        else:
            s = (1 + np.cos(np.pi * min(1.0, (t - down - seated) / down))) / 2
        angles = dict(arms(t))
        angles.update({"hip_flex": (90 * s, 90 * s), "knee": (90 * s, 90 * s), "hip_abd": (6, 6)})
        if s == 1.0:
            angles["sh_flex"] = (20 + fidget(t), 20 - fidget(t))
            angles["elbow"] = (60 + fidget(t + 3), 60 + fidget(t + 5))
        return standing_pose(body, angles, lean=10 * s + abs(fidget(t + 9)) * s)

    return Motion(pose, down + seated + (down if stand_up else 0.0), 0, "front")


EXERCISES: dict[str, Callable[[Body, np.random.Generator, int], Motion]] = {
    "Squats": squats,
    "Pushups": pushups,
    "Jumping Jacks": jumping_jacks,
    "Lunges (alternating)": lunges,
    "High Knees": high_knees,
    "Butt Kickers": butt_kickers,
    "Mountain Climbers": mountain_climbers,
    "Burpees": burpees,
    "Arm Circles": arm_circles,
    "Plank": plank,
    "Side-Plank": side_plank,
}
# Activities that are no exercise: the engine must count no reps on them.
NON_EXERCISES: dict[str, Callable[[Body, np.random.Generator, int], Motion]] = {
    "idle": idle,
    "walking": walking,
    "sitting": sitting,
}
HELD = ("Plank", "Side-Plank")


@dataclass(frozen=True)
class Sequence:
    activity: str
    reps: int
    landmarks: npt.NDArray[np.float32]  # (T, 33, 5), NaN rows where the tracker lost the person
    times: npt.NDArray[np.float64]
    info: dict[str, float | bool | str]


def _camera(
    rng: np.random.Generator, view: str, target: Points, distance: float, azimuth_deg: float
) -> tuple[Points, Points, Points, Points]:
    base = 0.0 if view == "front" else 90.0
    az = np.radians(base + azimuth_deg)
    height = rng.uniform(0.6, 1.6)
    position = target + (Z * np.cos(az) + X * np.sin(az)) * distance
    position[1] = height
    forward = unit(target - position)
    right = unit(np.cross(forward, Y))
    up = np.cross(right, forward)
    return position, forward, right, up


def _project(points: Points, cam: tuple[Points, Points, Points, Points]) -> Points:
    position, forward, right, up = cam
    rel = points - position
    depth = rel @ forward
    u = WIDTH / 2 + FOCAL_PX * (rel @ right) / depth
    v = HEIGHT / 2 - FOCAL_PX * (rel @ up) / depth
    hip_depth = depth[23:25].mean()
    z = (depth - hip_depth) * FOCAL_PX / hip_depth / WIDTH
    return np.stack([u / WIDTH, v / HEIGHT, z], axis=1)


def generate(activity: str, seed: int, *, partial: bool = False) -> Sequence:
    """One sequence of `activity` (an exercise name or idle / walking / sitting).

    partial=True films from 1-1.6 m, so that the legs are out of the frame (for arm exercises).
    """
    rng = np.random.default_rng([seed, zlib.crc32(activity.encode())])
    body = Body.random(rng)
    maker = EXERCISES.get(activity) or NON_EXERCISES[activity]
    reps = int(rng.integers(4, 11)) if activity in EXERCISES and activity not in HELD else 0
    motion = maker(body, rng, reps)
    lead_in, lead_out = rng.uniform(0.5, 1.5), rng.uniform(0.3, 1.0)
    total = lead_in + motion.duration + lead_out
    times = np.arange(0.0, total, 1 / FPS) + rng.uniform(0, 100)
    rest = motion.rest or (lambda t: motion.pose(0.0))
    frames = []
    for t in times - times[0]:
        if t < lead_in:
            frames.append(rest(t))
        elif t < lead_in + motion.duration:
            frames.append(motion.pose(t - lead_in))
        else:
            frames.append(rest(t))
    world = np.stack(frames)
    lo, hi = world.reshape(-1, 3).min(axis=0), world.reshape(-1, 3).max(axis=0)
    centre = (lo + hi) / 2
    if activity == "walking":
        centre = np.array([0.0, body.height * 0.55, 0.0])
    azimuth = rng.uniform(-MAX_VIEW_DEG, MAX_VIEW_DEG)
    if partial:
        distance = rng.uniform(1.0, 1.6)
        centre = world[:, 11:13].reshape(-1, 3).mean(axis=0)
    else:
        fit = max(motion.extent * body.height, 1.5) / (2 * np.tan(np.radians(VERTICAL_FOV_DEG / 2)))
        distance = rng.uniform(max(1.0, fit * 1.15), max(4.0, fit * 1.3))
    cam = _camera(rng, motion.view, centre, distance, azimuth)
    image = np.stack([_project(p, cam) for p in world])
    jitter = rng.uniform(0.001, 0.004)
    image[..., :2] += rng.normal(0, jitter, image[..., :2].shape)
    image[..., 2] += rng.normal(0, 3 * jitter, image[..., 2].shape)
    visibility = rng.uniform(0.85, 0.99, image.shape[:2])
    drop_rate = rng.uniform(0.0, 0.05)
    dropped = rng.random(image.shape[:2]) < drop_rate
    visibility[dropped] = rng.uniform(0.05, 0.45, int(dropped.sum()))
    image[dropped, :2] += rng.normal(0, 0.02, (int(dropped.sum()), 2))
    outside = (image[..., 0] < 0) | (image[..., 0] > 1) | (image[..., 1] < 0) | (image[..., 1] > 1)
    visibility[outside] = rng.uniform(0.02, 0.2, int(outside.sum()))
    mirrored = bool(rng.random() < 0.5)
    if mirrored:
        image[..., 0] = 1 - image[..., 0]
        image = image[:, MIRROR]
        visibility = visibility[:, MIRROR]
    landmarks = np.concatenate([image, visibility[..., None], visibility[..., None]], axis=2)
    # The tracker loses the person now and then, and whenever the torso leaves the frame.
    lost = rng.random(len(times)) < 0.02
    lost |= outside[:, [11, 12]].all(axis=1)
    landmarks[lost] = np.nan
    return Sequence(
        activity=activity,
        reps=reps,
        landmarks=landmarks.astype(np.float32),
        times=times,
        info={
            "height": body.height,
            "distance": float(distance),
            "azimuth": float(azimuth),
            "mirrored": mirrored,
            "jitter": float(jitter),
            "drop_rate": float(drop_rate),
        },
    )
