"""Pose and hand tracking (rtnet.tracking): ROI maths, projection, re-detection, smoothing, and the
whole pose pipeline against MediaPipe 0.10.14's own on a short clip (tests/fixtures/tracking)."""

from __future__ import annotations

import importlib.util
import json
import math
from collections.abc import Callable, Sequence
from pathlib import Path
from types import ModuleType

import cv2
import numpy as np
import pytest
import torch
from torch import Tensor

from rtnet import _core
from rtnet.tracking import HandResult, HandTracker, PoseResult, PoseTracker, Rect, Tracking
from rtnet.tracking import config as cfg
from rtnet.tracking.detection import crop_input
from rtnet.tracking.draw import (
    HAND_COLOURS,
    HAND_CONNECTIONS,
    POSE_COLOUR,
    POSE_CONNECTIONS,
    draw_hands,
    draw_pose,
)
from rtnet.tracking.hands import hand_roi_from_landmarks
from rtnet.tracking.pose import refine_from_heatmap
from rtnet.tracking.roi import (
    RectTransform,
    alignment_rect,
    associate,
    box_rect,
    landmarks_rect,
    letterbox_rect,
    normalize_radians,
    project_landmarks,
    remove_letterbox,
    transform_rect,
)

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "tracking"


# --------------------------------------------------------------------------- ROI maths


def test_normalize_radians_range() -> None:
    for angle in (-7.0, -math.pi, -0.1, 0.0, 3.0, math.pi, 10.0):
        out = normalize_radians(angle)
        assert -math.pi <= out < math.pi
        assert math.isclose(math.cos(out), math.cos(angle), abs_tol=1e-12)
        assert math.isclose(math.sin(out), math.sin(angle), abs_tol=1e-12)


def test_alignment_rect_size_centre_and_rotation() -> None:
    # End point straight above the start (y grows downwards): already at the 90 degree target.
    rect = alignment_rect((100.0, 200.0), (100.0, 150.0))
    assert tuple(rect) == pytest.approx((100.0, 200.0, 100.0, 100.0, 0.0))
    # Pointing right: the rect must turn a quarter clockwise to bring it up.
    assert alignment_rect((0, 0), (30, 0)).rotation == pytest.approx(math.pi / 2)
    # Pointing left, then down.
    assert alignment_rect((0, 0), (-30, 0)).rotation == pytest.approx(-math.pi / 2)
    assert abs(alignment_rect((0, 0), (0, 30)).rotation) == pytest.approx(math.pi)
    # 45 degrees up-right: 2 * distance.
    r = alignment_rect((10, 10), (13, 6))
    assert r.width == r.height == pytest.approx(10.0)
    assert r.rotation == pytest.approx(math.pi / 2 - math.atan2(4, 3))


def test_transform_rect_square_long_scale_and_rotated_shift() -> None:
    rect = Rect(50.0, 60.0, 100.0, 40.0, 0.0)
    assert tuple(transform_rect(rect, RectTransform(1.25, 1.25))) == pytest.approx(
        (50.0, 60.0, 125.0, 125.0, 0.0)
    )
    assert tuple(transform_rect(rect, RectTransform(2.0, 1.0, square_long=False))) == pytest.approx(
        (50.0, 60.0, 200.0, 40.0, 0.0)
    )
    # shift_y -0.5 moves half a height towards the rect's top; unrotated that is up the frame.
    up = transform_rect(Rect(0, 0, 10, 20, 0.0), RectTransform(shift_y=-0.5))
    assert up[:2] == pytest.approx((0.0, -10.0))
    # Rotated a quarter clockwise the rect's top faces +x: the shift follows the rotation, and is
    # taken before squaring and scaling (MediaPipe's order).
    right = transform_rect(Rect(0, 0, 10, 20, math.pi / 2), RectTransform(2.0, 2.0, shift_y=-0.5))
    assert tuple(right) == pytest.approx((10.0, 0.0, 40.0, 40.0, math.pi / 2), abs=1e-9)


def test_pose_and_palm_roi_settings() -> None:
    detection = np.array([[320.0, 300.0], [320.0, 200.0], [0, 0], [0, 0]])
    from rtnet.tracking.roi import roi_from_points

    roi = roi_from_points(detection, cfg.POSE_ROI_FROM_DETECTION)
    assert tuple(roi) == pytest.approx((320.0, 300.0, 250.0, 250.0, 0.0))
    # A palm: its box (xmin, ymin, xmax, ymax), turned by the wrist -> middle-MCP vector.
    palm = cfg.HAND_ROI_FROM_PALM
    hand = box_rect((80.0, 70.0, 120.0, 110.0), (100.0, 100.0), (100.0, 80.0), palm)
    # 40 px square box centred at (100, 90), shifted half up, times 2.6.
    assert tuple(hand) == pytest.approx((100.0, 70.0, 104.0, 104.0, 0.0))
    turned = box_rect((80.0, 70.0, 120.0, 110.0), (100.0, 100.0), (120.0, 100.0), palm)
    assert tuple(turned) == pytest.approx((120.0, 90.0, 104.0, 104.0, math.pi / 2))


def test_landmarks_rect_recovers_a_rotated_box() -> None:
    angle = 0.4
    c, s = math.cos(angle), math.sin(angle)
    local = np.array([[-30.0, -10.0], [30.0, -10.0], [30.0, 10.0], [-30.0, 10.0], [5.0, 2.0]])
    points = local @ np.array([[c, s], [-s, c]]) + np.array([200.0, 150.0])
    rect = landmarks_rect(points, angle)
    assert tuple(rect) == pytest.approx((200.0, 150.0, 60.0, 20.0, angle), abs=1e-9)


def hand_points(wrist: tuple[float, float], length: float) -> np.ndarray:
    """21 landmarks of an upright open hand (fingers up), in pixels."""
    x0, y0 = wrist
    pts = np.zeros((21, 2))
    pts[0] = (x0, y0)
    for finger, dx in enumerate((-0.5, -0.25, 0.0, 0.25, 0.5)):
        for joint in range(4):
            pts[1 + 4 * finger + joint] = (x0 + dx * length, y0 - length * (0.4 + 0.2 * joint))
    return pts


def test_hand_roi_from_landmarks_upright_and_turned() -> None:
    pts = hand_points((300.0, 400.0), 100.0)
    roi = hand_roi_from_landmarks(pts)
    # Box of the ROI landmarks (wrist, thumb, each finger's two lowest joints): x 250..350,
    # y 320..400; shifted up by 0.1 of its 80 px height, squared on the 100 px side, doubled.
    assert tuple(roi) == pytest.approx((300.0, 352.0, 200.0, 200.0, 0.0), abs=1e-9)
    # The same hand turned a quarter clockwise on screen about the wrist (fingers to the right).
    turned = np.stack([300.0 - (pts[:, 1] - 400.0), 400.0 + (pts[:, 0] - 300.0)], axis=1)
    turned_roi = hand_roi_from_landmarks(turned)
    assert tuple(turned_roi) == pytest.approx((348.0, 400.0, 200.0, 200.0, math.pi / 2), abs=1e-9)


def test_associate_later_rects_win_and_separate_ones_stay() -> None:
    palm_a = Rect(100, 100, 50, 50)
    palm_b = Rect(400, 100, 50, 50)
    tracked = Rect(104, 102, 50, 50)  # the same hand as palm_a
    assert associate([palm_a, palm_b, tracked], 0.5) == [palm_b, tracked]
    assert associate([palm_a, Rect(140, 100, 50, 50)], 0.5) == [palm_a, Rect(140, 100, 50, 50)]


def test_letterbox_removal_matches_the_crop_matrix() -> None:
    for width, height in ((640, 480), (480, 640), (300, 300)):
        size = 224
        m = _core.crop_matrix(letterbox_rect(width, height), size, size)
        uv = np.array([[0.0, 0.0], [112.0, 50.0], [224.0, 224.0], [13.5, 200.25]])
        expected = uv @ m[:, :2].T + m[:, 2]
        assert remove_letterbox(uv / size, width, height) == pytest.approx(expected, abs=1e-9)


# --------------------------------------------------------------------------- projection


@pytest.mark.parametrize("rotation", [0.0, 0.7, -2.5])
def test_projection_round_trip_finds_a_dot(rotation: float) -> None:
    """Crop a frame at a rotated ROI, find a dot in the crop, project it back: the dot."""
    frame = np.zeros((480, 640, 3), dtype=np.uint8)
    dot = (401.3, 187.6)
    yy, xx = np.mgrid[0:480, 0:640]
    blob = np.exp(-((xx - dot[0]) ** 2 + (yy - dot[1]) ** 2) / (2 * 6.0**2))
    frame[:] = (blob * 255).astype(np.uint8)[..., None]
    roi = Rect(360.0, 220.0, 200.0, 200.0, rotation)
    crop = crop_input(frame, roi, 256, (0.0, 1.0), "replicate")[0, :, :, 0].numpy()
    weights = np.where(crop > 0.2, crop, 0.0)
    v, u = np.mgrid[0:256, 0:256]
    centre = np.array([(u * weights).sum(), (v * weights).sum()]) / weights.sum()
    back = project_landmarks(np.array([[centre[0] / 256, centre[1] / 256, 0.0]]), roi)
    assert back[0, :2] == pytest.approx(dot, abs=0.3)


def test_heatmap_refinement_moves_to_the_confident_peak() -> None:
    heat = np.full((64, 64, 2), -10.0, dtype=np.float32)
    heat[30, 41, 0] = 10.0  # a sharp confident peak next to landmark 0
    landmarks = np.array([[40.2 / 64, 31.7 / 64, 0.0], [10.0 / 64, 10.0 / 64, 0.0]])
    out = refine_from_heatmap(landmarks, heat)
    assert out[0, :2] == pytest.approx((41.0 / 64, 30.0 / 64), abs=1e-3)
    assert out[1] == pytest.approx(landmarks[1])  # nothing confident around it: unchanged


# --------------------------------------------------------------------------- tracking logic


def fake_detector(
    keypoints: Sequence[tuple[float, float]],
    size: int,
    anchors: np.ndarray,
    *more: Sequence[tuple[float, float]],
) -> Callable[[Tensor], tuple[Tensor, ...]]:
    """An SSD network that always finds the same objects, each with its ``keypoints``
    (normalised to its input) and a 0.2-wide box centred on the first keypoint, each decoded
    from its own anchor, as MediaPipe's decoding reads them."""
    n = anchors.shape[0]
    boxes = np.zeros((1, n, 4 + 2 * len(keypoints)), dtype=np.float32)
    scores = np.full((1, n, 1), -20.0, dtype=np.float32)
    for j, points in enumerate((keypoints, *more)):
        k = n // 3 + j * n // 6
        boxes[0, k, 0] = (points[0][0] - anchors[k, 0]) * size
        boxes[0, k, 1] = (points[0][1] - anchors[k, 1]) * size
        boxes[0, k, 2:4] = 0.2 * size
        for i, (x, y) in enumerate(points):
            boxes[0, k, 4 + 2 * i] = (x - anchors[k, 0]) * size
            boxes[0, k, 5 + 2 * i] = (y - anchors[k, 1]) * size
        scores[0, k, 0] = 5.0

    def run(x: Tensor) -> tuple[Tensor, ...]:
        assert tuple(x.shape) == (1, size, size, 3)
        return torch.from_numpy(boxes), torch.from_numpy(scores)

    return run


class FakePoseLandmarks:
    """pose_landmarks outputs: fixed landmarks in the crop, the pose flag from a schedule."""

    def __init__(self, flags: Sequence[float], shift: Sequence[float] | None = None) -> None:
        self.flags = list(flags)
        self.shift = list(shift or [0.0] * len(flags))
        self.calls = 0

    def __call__(self, x: Tensor) -> tuple[Tensor, ...]:
        i = min(self.calls, len(self.flags) - 1)
        self.calls += 1
        lm = np.zeros((39, 5), dtype=np.float32)
        rng = np.random.default_rng(0)
        lm[:, :2] = rng.uniform(80, 176, size=(39, 2)) + self.shift[i]
        lm[33] = (128, 128, 0, 5, 5)  # hip centre in the middle
        lm[34] = (128, 28, 0, 5, 5)  # alignment point straight above
        lm[:, 3:] = 3.0
        return (
            torch.from_numpy(lm.reshape(1, 195)),
            torch.tensor([[self.flags[i]]]),
            torch.zeros(1, 256, 256, 1),
            torch.full((1, 64, 64, 39), -10.0),  # no confident heatmap: no refinement
            torch.zeros(1, 117),
        )


def pose_tracker(flags: Sequence[float], **kwargs: object) -> tuple[PoseTracker, FakePoseLandmarks]:
    anchors = _core.ssd_anchors(
        input_width=224,
        input_height=224,
        strides=[8, 16, 32, 32, 32],
        min_scale=0.1484375,
        max_scale=0.75,
        fixed_anchor_size=True,
    )
    landmarks = FakePoseLandmarks(flags, kwargs.pop("shift", None))  # type: ignore[arg-type]
    detector = fake_detector([(0.5, 0.6), (0.5, 0.3), (0.5, 0.4), (0.5, 0.2)], 224, anchors)
    return PoseTracker(detector=detector, landmarks=landmarks, **kwargs), landmarks  # type: ignore[arg-type]


def test_pose_detects_only_when_the_flag_drops() -> None:
    tracker, model = pose_tracker([0.9, 0.9, 0.2, 0.9, 0.9])
    frame = np.full((480, 640, 3), 128, dtype=np.uint8)
    results = [tracker.process(frame, (i + 1) / 30) for i in range(5)]
    assert [r is None for r in results] == [False, False, True, False, False]
    # Detection on frame 0, tracking on 1 and 2 (where the flag drops), detection again on 3.
    assert tracker.detections_run == 2
    assert model.calls == 5
    first = results[0]
    assert first is not None
    # The detection's ROI: hip centre (0.5, 0.6) of the letterboxed 640 square -> (320, 304) px,
    # side 2 * 0.3 * 640 * 1.25 = 480, upright.
    assert tuple(first.roi) == pytest.approx((320.0, 304.0, 480.0, 480.0, 0.0), abs=1e-3)
    assert first.score == pytest.approx(0.9)
    assert first.landmarks.shape == (33, 5)
    assert first.world_landmarks.shape == (33, 3)
    # Frame 1's ROI comes from frame 0's auxiliary landmarks: centre at the crop's middle,
    # alignment point 100 crop px above -> side 2 * 100/256 * 480 * 1.25.
    second = results[1]
    assert second is not None
    assert tuple(second.roi) == pytest.approx((320.0, 304.0, 468.75, 468.75, 0.0), abs=1e-3)
    tracker.reset()
    tracker.process(frame, 1.0)
    assert tracker.detections_run == 3


def test_pose_smoothing_restarts_after_tracking_is_lost() -> None:
    flags = [0.9, 0.9, 0.1, 0.9]
    shift = [0.0, 12.0, 0.0, 12.0]  # the landmarks jump on frames 1 and 3
    frame = np.full((480, 640, 3), 128, dtype=np.uint8)
    smooth, _ = pose_tracker(flags, shift=shift)
    raw, _ = pose_tracker(flags, shift=shift, smooth=False)
    out = [(smooth.process(frame, t), raw.process(frame, t)) for t in (0.1, 0.2, 0.3, 0.4)]
    (s0, r0), (s1, r1), (s2, r2), (s3, r3) = out
    assert s0 is not None and r0 is not None and s1 is not None and r1 is not None
    assert s0.landmarks[:, :3] == pytest.approx(r0.landmarks[:, :3], abs=1e-6)  # first: as is
    # Frame 1 is filtered: it lags behind the jump.
    assert np.abs(s1.landmarks[:, 0] - r1.landmarks[:, 0]).max() > 1e-3
    assert s2 is None and r2 is None
    # After the loss the filter starts afresh: frame 3 comes out unfiltered.
    assert s3 is not None and r3 is not None
    assert s3.landmarks[:, :3] == pytest.approx(r3.landmarks[:, :3], abs=1e-6)


class FakeHandLandmarks:
    """hand_landmarks outputs: an upright hand filling the crop, presence from a schedule."""

    def __init__(self, presence: Sequence[float], left: float = 0.8) -> None:
        self.presence = list(presence)
        self.left = left
        self.calls = 0

    def __call__(self, x: Tensor) -> tuple[Tensor, ...]:
        p = self.presence[min(self.calls, len(self.presence) - 1)]
        self.calls += 1
        pts = hand_points((112.0, 180.0), 100.0)
        lm = np.concatenate([pts, np.zeros((21, 1))], axis=1).astype(np.float32)
        return (
            torch.from_numpy(lm.reshape(1, 63)),
            torch.tensor([[p]]),
            torch.tensor([[self.left]]),
            torch.zeros(1, 63),
        )


def hand_tracker(
    presence: Sequence[float], **kwargs: object
) -> tuple[HandTracker, FakeHandLandmarks]:
    anchors = _core.ssd_anchors(
        input_width=192,
        input_height=192,
        strides=[8, 16, 16, 16],
        min_scale=0.1484375,
        max_scale=0.75,
        fixed_anchor_size=True,
    )
    palm = [(0.3, 0.6), (0.0, 0.0), (0.3, 0.5)] + [(0.3, 0.55)] * 4  # wrist, -, middle MCP, ...
    model = FakeHandLandmarks(presence)
    tracker = HandTracker(detector=fake_detector(palm, 192, anchors), landmarks=model, **kwargs)  # type: ignore[arg-type]
    return tracker, model


def test_hands_redetect_while_fewer_than_max_and_merge_duplicates() -> None:
    frame = np.full((480, 640, 3), 128, dtype=np.uint8)
    tracker, model = hand_tracker([0.9])
    for i in range(3):
        hands = tracker.process(frame, i / 30)
        # The palm detector finds the tracked hand again every frame (one hand < two): the two
        # ROIs overlap and merge into one hand, not two.
        assert len(hands) == 1
    assert tracker.detections_run == 3
    assert model.calls == 3
    one, _ = hand_tracker([0.9], max_hands=1)
    for i in range(3):
        assert len(one.process(frame, i / 30)) == 1
    assert one.detections_run == 1  # one hand tracked = enough: no more palm detection


def test_hands_lost_below_presence_and_handedness_labels() -> None:
    frame = np.full((480, 640, 3), 128, dtype=np.uint8)
    tracker, _ = hand_tracker([0.9, 0.3, 0.9], max_hands=1)
    first = tracker.process(frame, 0.0)
    assert len(first) == 1
    hand = first[0]
    assert hand.handedness == "Left"
    assert (hand.score, hand.presence) == pytest.approx((0.8, 0.9))
    assert hand.landmarks.shape == (21, 3) and hand.world_landmarks.shape == (21, 3)
    assert tracker.process(frame, 0.1) == []  # presence 0.3 < 0.5: lost
    assert len(tracker.process(frame, 0.2)) == 1
    assert tracker.detections_run == 2  # frame 0 and, after the loss, frame 2
    unmirrored, _ = hand_tracker([0.9], mirrored=False)
    assert unmirrored.process(frame, 0.0)[0].handedness == "Right"


# --------------------------------------------------------------------------- against MediaPipe


def load_make_reference() -> ModuleType:
    spec = importlib.util.spec_from_file_location("make_reference", FIXTURES / "make_reference.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def clip() -> list[np.ndarray]:
    make_reference = load_make_reference()
    image = cv2.imread(str(FIXTURES / "astronaut.png"))
    assert image is not None
    frames: list[np.ndarray] = make_reference.clip(image)
    return frames


@pytest.fixture(scope="module")
def reference() -> dict[str, np.ndarray]:
    with np.load(FIXTURES / "reference.npz") as data:
        return {key: data[key] for key in data.files}


def pixel_errors(landmarks: np.ndarray, expected: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    height, width = size
    return np.hypot(
        (landmarks[:, 0] - expected[:, 0]) * width, (landmarks[:, 1] - expected[:, 1]) * height
    )


def test_pose_still_image_matches_mediapipe(
    clip: list[np.ndarray], reference: dict[str, np.ndarray]
) -> None:
    """mp.solutions.pose(static_image_mode=True) on the first frame: median 0.39 px, visibility
    within 0.013, world landmarks median 8 mm (max 32 mm) when measured; asserted: median <= 1 px
    over visible landmarks, visibility within 0.05, world median <= 2 cm."""
    result = PoseTracker(smooth=False).process(clip[0], 0.0)
    assert result is not None
    expected = reference["still"]
    visible = expected[:, 3] > 0.5
    errors = pixel_errors(result.landmarks, expected, clip[0].shape[:2])
    assert float(np.median(errors[visible])) <= 1.0
    assert np.abs(result.landmarks[:, 3] - expected[:, 3]).max() <= 0.05
    world = np.linalg.norm(result.world_landmarks - reference["still_world"], axis=1)
    assert float(np.median(world)) <= 0.02


def test_pose_tracking_matches_mediapipe(
    clip: list[np.ndarray], reference: dict[str, np.ndarray]
) -> None:
    """mp.solutions.pose (model_complexity=1, smoothing on) on the clip, fed at its simulated
    30 fps clock: the same frames without a pose, and a median error over visible landmarks of
    2.3 px (0.0036 of the width) when measured; asserted <= 0.01 of the width, the target."""
    tracker = PoseTracker()
    expected = reference["pose"]
    errors = []
    for i, frame in enumerate(clip):
        result = tracker.process(frame, (i + 1) / 30)
        assert (result is None) == bool(np.isnan(expected[i, 0, 0])), f"frame {i}"
        if result is not None:
            visible = expected[i, :, 3] > 0.5
            errors.append(pixel_errors(result.landmarks, expected[i], frame.shape[:2])[visible])
    width = clip[0].shape[1]
    assert float(np.median(np.concatenate(errors))) <= 0.01 * width
    # The first frame, then each frame from the one after the person is lost until they are back.
    assert tracker.detections_run == 1 + load_make_reference().GAP


def test_hands_match_mediapipe_on_the_clip(
    clip: list[np.ndarray], reference: dict[str, np.ndarray]
) -> None:
    """MediaPipe finds no hand in this clip (the astronaut's hands are out of the picture)."""
    tracker = HandTracker()
    found = [len(tracker.process(frame, i / 30)) for i, frame in enumerate(clip[::4])]
    assert found == reference["hands"][::4].tolist()


def test_hands_tracking_matches_mediapipe(reference: dict[str, np.ndarray]) -> None:
    """mp.solutions.hands (two hands, model_complexity=1) on the two-hand clip: the same hands
    and labels in every frame; measured median 0.24 px, max 1.8 px, handedness scores within
    0.06, world landmarks median 0.6 mm; asserted median <= 1 px, max <= 5 px, scores within
    0.1, world median <= 2 mm."""
    make_reference = load_make_reference()
    tile = cv2.imread(str(FIXTURES / "hand.png"))
    assert tile is not None
    tracker = HandTracker(max_hands=2)
    errors, world = [], []
    for i, frame in enumerate(make_reference.hand_clip(tile)):
        hands = sorted(tracker.process(frame, (i + 1) / 30), key=lambda h: h.landmarks[0, 0])
        expected = reference["hand_landmarks"][i]
        assert len(hands) == int(np.isfinite(expected[:, 0, 0]).sum()), f"frame {i}"
        for k, hand in enumerate(hands):
            assert hand.handedness == cfg.HANDEDNESS_LABELS[reference["handedness"][i, k]]
            assert hand.score == pytest.approx(reference["handedness_score"][i, k], abs=0.1)
            errors.append(pixel_errors(hand.landmarks, expected[k], frame.shape[:2]))
            world.append(hand.world_landmarks - reference["hand_world"][i, k])
    all_errors = np.concatenate(errors)
    assert float(np.median(np.linalg.norm(np.concatenate(world), axis=1))) <= 0.002
    assert float(np.median(all_errors)) <= 1.0
    assert float(all_errors.max()) <= 5.0
    assert tracker.detections_run == 1  # two hands tracked from the first frame on


def test_no_person_is_none_not_an_error(reference_dir: Path) -> None:
    """The reference video shows shapes on a gradient, no one: no pose, no hands, no error."""
    capture = cv2.VideoCapture(str(reference_dir / "video.mkv"))
    ok, read = capture.read()
    capture.release()
    assert ok
    frame = np.asarray(read, dtype=np.uint8)
    tracker = PoseTracker()
    assert tracker.process(frame, 0.0) is None
    assert tracker.process(np.zeros((1, 1, 3), dtype=np.uint8), 0.1) is None
    assert HandTracker().process(frame, 0.0) == []


# --------------------------------------------------------------------------- stream and drawing


def test_tracking_stream_json_objects() -> None:
    frame = np.full((480, 640, 3), 128, dtype=np.uint8)
    pose, _ = pose_tracker([0.9])
    hands, _ = hand_tracker([0.9])
    tracking = Tracking(pose_tracker=pose, hand_tracker=hands)
    first = tracking(frame, 0)
    line = json.loads(json.dumps(first.to_json()))
    assert line["frame"] == 0 and line["time"] == pytest.approx(0.0625)
    assert line["pose"]["score"] == pytest.approx(0.9)
    assert np.array(line["pose"]["landmarks"]).shape == (33, 5)
    assert len(line["hands"]) == 1
    assert line["hands"][0]["handedness"] == "Left"
    assert line["hands"][0]["score"] == pytest.approx(0.8)
    assert np.array(line["hands"][0]["landmarks"]).shape == (21, 3)
    assert first.pose is not None
    assert line["pose"]["landmarks"][5] == pytest.approx(first.pose.landmarks[5].tolist(), abs=1e-5)
    assert tracking(frame, 1).time == pytest.approx(0.125)
    no_hands = Tracking(pose_tracker=pose_tracker([0.1])[0], hands=False)
    assert no_hands(frame, 0).to_json() == {
        "frame": 0,
        "time": 0.0625,
        "pose": None,
        "hands": [],
        "size": [640, 480],  # what a replay (--landmarks-in) needs to read x and y
        "mirrored": True,
    }


def close_to(pixel: np.ndarray, colour: tuple[int, int, int]) -> bool:
    return bool(np.abs(pixel.astype(int) - np.array(colour)).max() <= 8)


def test_draw_pose_draws_visible_connections_only() -> None:
    landmarks = np.zeros((33, 5), dtype=np.float32)
    landmarks[:, 0], landmarks[:, 1] = 0.9, 0.9  # everything else far away, invisible
    landmarks[11, :2], landmarks[12, :2] = (0.25, 0.5), (0.75, 0.5)  # shoulders
    landmarks[13, :2] = (0.25, 0.1)  # left elbow, invisible
    landmarks[[11, 12], 3] = 1.0
    pose = PoseResult(0.9, landmarks, np.zeros((33, 3), np.float32), Rect(0, 0, 1, 1))
    frame = np.zeros((480, 640, 3), dtype=np.uint8)
    draw_pose(frame, pose)
    assert close_to(frame[240, 320], POSE_COLOUR)  # on the shoulder line
    assert not frame[48, 160].any()  # the invisible elbow, and the line to it, not drawn
    assert not frame[150, 160].any()
    assert not frame[432, 576].any()


def test_draw_hands_colours_by_handedness() -> None:
    points = hand_points((320.0, 400.0), 200.0)
    landmarks = np.zeros((21, 3), dtype=np.float32)
    landmarks[:, 0], landmarks[:, 1] = points[:, 0] / 640, points[:, 1] / 480
    hand = HandResult("Right", 0.9, 0.9, landmarks, np.zeros((21, 3), np.float32), Rect(0, 0, 1, 1))
    frame = np.zeros((480, 640, 3), dtype=np.uint8)
    draw_hands(frame, [hand])
    # The middle finger runs straight up from (320, 320) to (320, 200).
    assert close_to(frame[260, 320], HAND_COLOURS["Right"])
    assert len(HAND_CONNECTIONS) == 21 and len(POSE_CONNECTIONS) == 35


def test_hands_never_more_than_max_hands() -> None:
    """Two palms found while a third hand is tracked elsewhere: still two hands, the tracked one
    kept."""
    frame = np.full((480, 640, 3), 128, dtype=np.uint8)
    tracker, _ = hand_tracker([0.9])
    far = Rect(600.0, 60.0, 80.0, 80.0)
    tracker._rois = [far]  # a hand tracked away from the palms
    palm = [(0.3, 0.6), (0.0, 0.0), (0.3, 0.5)] + [(0.3, 0.55)] * 4
    other = [(x + 0.3, y) for x, y in palm]
    tracker.detector.model = fake_detector(palm, 192, tracker.detector.anchors, other)
    assert len(tracker.detector(frame)) == 2
    hands = tracker.process(frame, 0.0)
    assert len(hands) == 2
    assert hands[-1].roi == far
