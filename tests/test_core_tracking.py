"""The Rust core's tracking pieces (MediaPipe's pose and hand pipelines): the rotated crop into a
model tensor against OpenCV, SSD anchors, detection decoding and weighted NMS against the
calculators' option values and formulas, and the one-euro landmark smoother against a reference
written from the formula."""

from __future__ import annotations

import math
from typing import Any, TypedDict

import cv2
import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from gil_probe import releases_the_gil
from rtnet._core import (
    LandmarkSmoother,
    crop_matrix,
    crop_to_tensor,
    decode_detections,
    ssd_anchors,
    weighted_nms,
)

FAST = settings(max_examples=40, deadline=None)


class AnchorOptions(TypedDict, total=False):
    """`ssd_anchors`' keyword arguments."""

    input_width: int
    input_height: int
    strides: list[int]
    min_scale: float
    max_scale: float
    aspect_ratios: list[float]
    reduce_boxes_in_lowest_layer: bool
    interpolated_scale_aspect_ratio: float
    fixed_anchor_size: bool


class DecodeOptions(TypedDict):
    """The `decode_detections` keyword arguments of the pose detector."""

    num_keypoints: int
    x_scale: float
    y_scale: float
    w_scale: float
    h_scale: float
    score_clipping_thresh: float
    min_score_thresh: float


# mediapipe/modules/pose_detection/pose_detection_cpu.pbtxt, SsdAnchorsCalculator options.
POSE_ANCHORS: AnchorOptions = {
    "input_width": 224,
    "input_height": 224,
    "min_scale": 0.1484375,
    "max_scale": 0.75,
    "strides": [8, 16, 32, 32, 32],
    "fixed_anchor_size": True,
}
# mediapipe/modules/palm_detection/palm_detection_cpu.pbtxt
PALM_ANCHORS: AnchorOptions = {
    "input_width": 192,
    "input_height": 192,
    "min_scale": 0.1484375,
    "max_scale": 0.75,
    "strides": [8, 16, 16, 16],
    "fixed_anchor_size": True,
}


def warp_reference(
    frame: np.ndarray, matrix: np.ndarray, size: int, border: int = cv2.BORDER_CONSTANT
) -> np.ndarray:
    """OpenCV's bilinear warp, `matrix` mapping output to frame pixels, black or replicated
    border."""
    return cv2.warpAffine(
        frame,
        matrix,
        (size, size),
        flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
        borderMode=border,
        borderValue=0,
    )


@FAST
@given(
    height=st.integers(8, 300),
    width=st.integers(8, 300),
    size=st.integers(8, 256),
    seed=st.integers(0, 2**32 - 1),
    rotation=st.floats(-2 * math.pi, 2 * math.pi),
)
def test_crop_matches_opencv_warp_affine(
    height: int, width: int, size: int, seed: int, rotation: float
) -> None:
    rng = np.random.default_rng(seed)
    frame = rng.integers(0, 256, (height, width, 3), dtype=np.uint8)
    rect = (
        rng.uniform(-0.2, 1.2) * width,
        rng.uniform(-0.2, 1.2) * height,
        rng.uniform(0.1, 1.5) * width,
        rng.uniform(0.1, 1.5) * height,
        rotation,
    )
    out = np.empty((1, size, size, 3), np.float32)
    matrix = crop_to_tensor(frame, rect, out, channels="bgr", value_range=(0.0, 255.0))
    np.testing.assert_allclose(matrix, crop_matrix(rect, size, size), rtol=0, atol=0)
    # Same sampling as OpenCV on float input (measured max 0.015 of 255), and within OpenCV's
    # rounding to uint8 on uint8 input (measured max 0.51).
    float_ref = warp_reference(frame.astype(np.float32), matrix, size)
    assert np.abs(out[0] - float_ref).max() < 0.05
    uint8_ref = warp_reference(frame, matrix, size)
    assert np.abs(out[0] - uint8_ref).max() <= 0.52
    crop_to_tensor(frame, rect, out, channels="bgr", value_range=(0.0, 255.0), border="replicate")
    replicated = warp_reference(frame.astype(np.float32), matrix, size, cv2.BORDER_REPLICATE)
    assert np.abs(out[0] - replicated).max() < 0.05


def test_crop_rect_corners_map_to_output_corners_as_mediapipe() -> None:
    # MediaPipe's OpenCV converter: boxPoints of the rect -> (0, h), (0, 0), (w, 0), (w, h).
    rect = (100.0, 80.0, 60.0, 40.0, 0.3)
    matrix = crop_matrix(rect, 32, 16)
    box = cv2.boxPoints(((100.0, 80.0), (60.0, 40.0), math.degrees(0.3)))
    corners = np.array([[0, 16], [0, 0], [32, 0], [32, 16]], dtype=np.float64)
    projected = corners @ matrix[:, :2].T + matrix[:, 2]
    np.testing.assert_allclose(projected, box, atol=1e-4)


def test_crop_layouts_channels_and_value_ranges() -> None:
    frame = np.random.default_rng(1).integers(0, 256, (60, 80, 3), dtype=np.uint8)
    rect = (40.0, 30.0, 50.0, 50.0, 0.7)
    raw = np.empty((1, 24, 24, 3), np.float32)
    crop_to_tensor(frame, rect, raw, channels="bgr", value_range=(0.0, 255.0))
    rgb_unit = np.empty((1, 24, 24, 3), np.float32)
    crop_to_tensor(frame, rect, rgb_unit)  # defaults: rgb, [0, 1]
    np.testing.assert_allclose(rgb_unit, raw[..., ::-1] / 255, atol=1e-6)
    signed = np.empty((24, 24, 3), np.float32)
    crop_to_tensor(frame, rect, signed, value_range=(-1.0, 1.0))
    np.testing.assert_allclose(signed, raw[0, ..., ::-1] / 127.5 - 1, atol=1e-5)
    nchw = np.empty((1, 3, 24, 24), np.float32)
    crop_to_tensor(frame, rect, nchw, layout="nchw")
    np.testing.assert_array_equal(nchw, rgb_unit.transpose(0, 3, 1, 2))


def test_crop_writes_into_a_torch_tensor_without_copying() -> None:
    tensor = torch.zeros((1, 3, 16, 16))
    frame = np.full((20, 20, 3), 255, np.uint8)
    crop_to_tensor(frame, (10.0, 10.0, 10.0, 10.0, 0.0), tensor.numpy(), layout="nchw")
    assert float(tensor.min()) == 1.0


def test_crop_releases_the_gil() -> None:
    frame = np.random.default_rng(2).integers(0, 256, (720, 1280, 3), dtype=np.uint8)
    out = np.empty((1, 256, 256, 3), np.float32)
    assert releases_the_gil(lambda: crop_to_tensor(frame, (640.0, 360.0, 700.0, 700.0, 0.4), out))


GOOD_RECT = (10.0, 10.0, 10.0, 10.0, 0.0)


@pytest.mark.parametrize(
    ("frame", "rect", "out", "kwargs", "error", "match"),
    [
        (np.zeros((4, 4), np.uint8), GOOD_RECT, (1, 8, 8, 3), {}, ValueError, "frame must"),
        (np.zeros((4, 4, 3), np.float32), GOOD_RECT, (1, 8, 8, 3), {}, TypeError, "uint8"),
        (None, GOOD_RECT, (1, 8, 8, 3), {}, TypeError, "frame must"),
        ("ok", (0.0, 0.0, 0.0, 1.0, 0.0), (1, 8, 8, 3), {}, ValueError, "rect width"),
        ("ok", (0.0, 0.0, 1.0, math.nan, 0.0), (1, 8, 8, 3), {}, ValueError, "rect height"),
        ("ok", (math.inf, 0.0, 1.0, 1.0, 0.0), (1, 8, 8, 3), {}, ValueError, "rect center_x"),
        ("ok", (0.0, 0.0, 1.0, 1.0, 1e300), (1, 8, 8, 3), {}, ValueError, "rect rotation"),
        ("ok", GOOD_RECT, (1, 8, 8, 4), {}, ValueError, "out must have shape"),
        ("ok", GOOD_RECT, (1, 8, 8, 3), {"layout": "nchw"}, ValueError, "out must have shape"),
        ("ok", GOOD_RECT, (2, 8, 8, 3), {}, ValueError, "out must have shape"),
        ("ok", GOOD_RECT, (1, 0, 8, 3), {}, ValueError, "1..=4096"),
        ("ok", GOOD_RECT, (1, 8, 8, 3), {"layout": "NHWC"}, ValueError, "layout"),
        ("ok", GOOD_RECT, (1, 8, 8, 3), {"channels": "rgba"}, ValueError, "channels"),
        ("ok", GOOD_RECT, (1, 8, 8, 3), {"border": "reflect"}, ValueError, "border"),
        ("ok", GOOD_RECT, (1, 8, 8, 3), {"value_range": (1.0, 0.0)}, ValueError, "range"),
        ("ok", GOOD_RECT, (1, 8, 8, 3), {"value_range": (0.0, math.inf)}, ValueError, "range"),
    ],
)
def test_crop_rejects_bad_arguments(
    frame: Any,
    rect: tuple[float, float, float, float, float],
    out: tuple[int, ...],
    kwargs: dict[str, Any],
    error: type[Exception],
    match: str,
) -> None:
    if isinstance(frame, str):
        frame = np.zeros((20, 20, 3), np.uint8)
    target = np.full(out, 7.0, np.float32)
    with pytest.raises(error, match=match):
        crop_to_tensor(frame, rect, target, **kwargs)
    assert (target == 7.0).all()


def test_crop_rejects_bad_outputs() -> None:
    frame = np.zeros((20, 20, 3), np.uint8)
    with pytest.raises(TypeError, match="float32"):
        crop_to_tensor(frame, GOOD_RECT, np.zeros((1, 8, 8, 3), np.float64))
    with pytest.raises(ValueError, match="C-contiguous"):
        crop_to_tensor(frame, GOOD_RECT, np.zeros((1, 8, 16, 3), np.float32)[:, :, ::2])
    read_only = np.zeros((1, 8, 8, 3), np.float32)
    read_only.flags.writeable = False
    with pytest.raises(ValueError, match="writable"):
        crop_to_tensor(frame, GOOD_RECT, read_only)
    huge = np.broadcast_to(np.zeros(3, np.uint8), (2**20, 2**20, 3))
    with pytest.raises(ValueError, match="32768"):
        crop_to_tensor(huge, GOOD_RECT, np.zeros((8, 8, 3), np.float32))
    with pytest.raises(ValueError, match=r"width must be in 1\.\.=4096"):
        crop_matrix(GOOD_RECT, 10**12, 8)


def reference_anchors(
    input_size: int,
    strides: list[int],
    min_scale: float,
    max_scale: float,
    aspect_ratios: list[float],
    interpolated: float,
    fixed: bool,
) -> np.ndarray:
    """SsdAnchorsCalculator::GenerateAnchors written out (square input, no lowest-layer
    reduction)."""

    def scale(index: int) -> float:
        count = len(strides)
        return (
            (min_scale + max_scale) / 2
            if count == 1
            else (min_scale + (max_scale - min_scale) * index / (count - 1))
        )

    anchors, layer = [], 0
    while layer < len(strides):
        sizes, last = [], layer
        while last < len(strides) and strides[last] == strides[layer]:
            sizes += [(scale(last), ratio) for ratio in aspect_ratios]
            if interpolated > 0:
                following = 1.0 if last == len(strides) - 1 else scale(last + 1)
                sizes.append((math.sqrt(scale(last) * following), interpolated))
            last += 1
        cells = math.ceil(input_size / strides[layer])
        for y in range(cells):
            for x in range(cells):
                for s, ratio in sizes:
                    w, h = (1.0, 1.0) if fixed else (s * math.sqrt(ratio), s / math.sqrt(ratio))
                    anchors.append(((x + 0.5) / cells, (y + 0.5) / cells, w, h))
        layer = last
    return np.array(anchors)


def test_pose_and_palm_detector_anchor_counts_and_values() -> None:
    pose = ssd_anchors(**POSE_ANCHORS)
    assert pose.shape == (2254, 4) and pose.dtype == np.float32
    np.testing.assert_array_equal(pose[0], np.array([0.5 / 28, 0.5 / 28, 1, 1], np.float32))
    np.testing.assert_array_equal(pose[2], np.array([1.5 / 28, 0.5 / 28, 1, 1], np.float32))
    np.testing.assert_array_equal(pose[56], np.array([0.5 / 28, 1.5 / 28, 1, 1], np.float32))
    np.testing.assert_array_equal(pose[1568], np.array([0.5 / 14, 0.5 / 14, 1, 1], np.float32))
    np.testing.assert_array_equal(pose[-1], np.array([6.5 / 7, 6.5 / 7, 1, 1], np.float32))
    palm = ssd_anchors(**PALM_ANCHORS)
    assert palm.shape == (2016, 4)
    np.testing.assert_array_equal(palm[1152], np.array([0.5 / 12, 0.5 / 12, 1, 1], np.float32))
    for options, reference in [
        (
            POSE_ANCHORS,
            reference_anchors(224, [8, 16, 32, 32, 32], 0.1484375, 0.75, [1.0], 1, True),
        ),
        (PALM_ANCHORS, reference_anchors(192, [8, 16, 16, 16], 0.1484375, 0.75, [1.0], 1, True)),
    ]:
        np.testing.assert_allclose(ssd_anchors(**options), reference, rtol=1e-6)


def test_scaled_anchors_match_the_reference() -> None:
    options: AnchorOptions = {
        **POSE_ANCHORS,
        "fixed_anchor_size": False,
        "aspect_ratios": [1.0, 2.0, 0.5],
    }
    reference = reference_anchors(
        224, [8, 16, 32, 32, 32], 0.1484375, 0.75, [1.0, 2.0, 0.5], 1, False
    )
    np.testing.assert_allclose(ssd_anchors(**options), reference, rtol=1e-6)
    no_extra: AnchorOptions = {**options, "interpolated_scale_aspect_ratio": 0.0}
    assert len(ssd_anchors(**no_extra)) == (28 * 28 + 14 * 14 + 3 * 7 * 7) * 3
    lowest_reduced: AnchorOptions = {**options, "reduce_boxes_in_lowest_layer": True}
    reduced = ssd_anchors(**lowest_reduced)
    widths = [0.1, 0.1484375 * math.sqrt(2), 0.1484375 * math.sqrt(0.5)]
    np.testing.assert_allclose(reduced[:3, 2], widths, rtol=1e-6)


@pytest.mark.parametrize(
    ("change", "match"),
    [
        ({"strides": []}, "strides"),
        ({"strides": [0]}, "strides"),
        ({"strides": range(10**12)}, "strides must hold at most 64"),
        ({"strides": "abc"}, "strides"),
        ({"input_width": 0}, "input_width"),
        ({"input_height": 10**20}, "input_height"),
        ({"min_scale": math.nan}, "scales"),
        ({"aspect_ratios": [0.0]}, "aspect_ratios"),
        (
            {
                "input_width": 8192,
                "input_height": 8192,
                "strides": [1],
                "aspect_ratios": [1.0] * 64,
            },
            "anchors",
        ),
    ],
)
def test_anchor_options_out_of_range_are_errors(change: dict[str, Any], match: str) -> None:
    options: dict[str, Any] = {**POSE_ANCHORS, **change}
    with pytest.raises((ValueError, TypeError), match=match):
        ssd_anchors(**options)


POSE_DECODE: DecodeOptions = {
    "num_keypoints": 4,
    "x_scale": 224.0,
    "y_scale": 224.0,
    "w_scale": 224.0,
    "h_scale": 224.0,
    "score_clipping_thresh": 100.0,
    "min_score_thresh": 0.2,
}


def reference_decode(
    raw_boxes: np.ndarray, raw_scores: np.ndarray, anchors: np.ndarray, scale: float, minimum: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """TensorsToDetectionsCalculator with reverse_output_order (x, y, w, h), written out."""
    scores = 1 / (1 + np.exp(-np.clip(raw_scores.astype(np.float64), -100, 100)))
    ax, ay, aw, ah = (anchors[:, k : k + 1].astype(np.float64) for k in range(4))
    raw = raw_boxes.astype(np.float64)
    cx, cy = raw[:, 0:1] / scale * aw + ax, raw[:, 1:2] / scale * ah + ay
    w, h = raw[:, 2:3] / scale * aw, raw[:, 3:4] / scale * ah
    boxes = np.hstack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2])
    points = raw[:, 4:].reshape(len(raw), -1, 2)
    points = np.stack([points[..., 0] / scale * aw + ax, points[..., 1] / scale * ah + ay], -1)
    keep = (scores >= minimum) & (w[:, 0] >= 0) & (h[:, 0] >= 0)
    return scores[keep], boxes[keep], points[keep]


def test_decode_matches_the_reference_on_random_outputs() -> None:
    anchors = ssd_anchors(**POSE_ANCHORS)
    rng = np.random.default_rng(4)
    raw_boxes = rng.normal(0, 30, (1, 2254, 12)).astype(np.float32)
    raw_scores = rng.normal(-2, 3, (1, 2254, 1)).astype(np.float32)
    scores, boxes, points = decode_detections(raw_boxes, raw_scores, anchors, **POSE_DECODE)
    expected = reference_decode(raw_boxes[0], raw_scores[0, :, 0], anchors, 224.0, 0.2)
    assert 0 < len(scores) < 2254 and scores.dtype == np.float32
    np.testing.assert_allclose(scores, expected[0], rtol=1e-5)
    np.testing.assert_allclose(boxes, expected[1], atol=1e-5)
    np.testing.assert_allclose(points, expected[2], atol=1e-5)
    assert points.shape == (len(scores), 4, 2)


def test_decode_a_constructed_detection() -> None:
    # One anchor at (0.5, 0.5) of a 224 input; a box 112x56 px centred 22.4 px right of
    # it and 11.2 px above.
    anchors = np.array([[0.5, 0.5, 1.0, 1.0]], np.float32)
    raw = np.array([[22.4, -11.2, 112.0, 56.0, 0.0, 0.0, 44.8, 44.8]], np.float32)
    scores, boxes, points = decode_detections(
        raw,
        np.array([[100.0]], np.float32),
        anchors,
        num_keypoints=2,
        x_scale=224.0,
        y_scale=224.0,
        w_scale=224.0,
        h_scale=224.0,
        score_clipping_thresh=3.0,
    )
    np.testing.assert_allclose(scores, [1 / (1 + math.exp(-3.0))], rtol=1e-6)
    np.testing.assert_allclose(boxes, [[0.35, 0.325, 0.85, 0.575]], atol=1e-6)
    np.testing.assert_allclose(points, [[[0.5, 0.5], [0.7, 0.7]]], atol=1e-6)
    # (y, x, h, w) order: the same numbers read the other way round.
    _, boxes_yx, _ = decode_detections(
        raw,
        np.array([0.0], np.float32),
        anchors,
        num_keypoints=2,
        x_scale=224.0,
        y_scale=224.0,
        w_scale=224.0,
        h_scale=224.0,
        reverse_output_order=False,
    )
    np.testing.assert_allclose(
        boxes_yx, [[0.5 - 0.125 - 0.05, 0.6 - 0.25, 0.5 + 0.125 - 0.05, 0.6 + 0.25]], atol=1e-6
    )
    # Below the score threshold, or of negative size: dropped.
    assert (
        len(
            decode_detections(
                raw,
                np.array([-5.0], np.float32),
                anchors,
                min_score_thresh=0.5,
                num_keypoints=2,
                x_scale=224.0,
                y_scale=224.0,
                w_scale=224.0,
                h_scale=224.0,
            )[0]
        )
        == 0
    )
    negative = raw.copy()
    negative[0, 2] = -1.0
    assert (
        len(
            decode_detections(
                negative,
                np.array([5.0], np.float32),
                anchors,
                num_keypoints=2,
                x_scale=224.0,
                y_scale=224.0,
                w_scale=224.0,
                h_scale=224.0,
            )[0]
        )
        == 0
    )


@pytest.mark.parametrize(
    ("boxes_shape", "scores_shape", "change", "match"),
    [
        ((2254, 11), (2254, 1), {}, "keypoint_coord_offset"),
        ((2253, 12), (2254, 1), {}, "raw_boxes must have shape"),
        ((2, 2254, 12), (2254, 1), {}, "raw_boxes must have shape"),
        ((2254, 12), (2254, 2), {}, "raw_scores must have shape"),
        ((2254, 12), (2254, 1), {"x_scale": 0.0}, "x_scale"),
        ((2254, 12), (2254, 1), {"num_keypoints": 10**20}, "num_keypoints"),
        ((2254, 12), (2254, 1), {"box_coord_offset": 9}, "box_coord_offset"),
        ((2254, 12), (2254, 1), {"score_clipping_thresh": -1.0}, "score_clipping_thresh"),
    ],
)
def test_decode_rejects_bad_arguments(
    boxes_shape: tuple[int, ...], scores_shape: tuple[int, ...], change: dict[str, Any], match: str
) -> None:
    anchors = ssd_anchors(**POSE_ANCHORS)
    options: dict[str, Any] = {**POSE_DECODE, **change}
    with pytest.raises(ValueError, match=match):
        decode_detections(
            np.zeros(boxes_shape, np.float32),
            np.zeros(scores_shape, np.float32),
            anchors,
            **options,
        )


def test_decode_rejects_non_finite_and_wrong_dtypes() -> None:
    anchors = ssd_anchors(**POSE_ANCHORS)
    boxes, scores = np.zeros((2254, 12), np.float32), np.zeros(2254, np.float32)
    scores[5] = math.nan
    with pytest.raises(ValueError, match="finite"):
        decode_detections(boxes, scores, anchors, **POSE_DECODE)
    with pytest.raises(TypeError, match="float32"):
        decode_detections(boxes.astype(np.float64), scores, anchors, **POSE_DECODE)
    with pytest.raises(ValueError, match="anchors must have shape"):
        decode_detections(boxes, scores, np.zeros((2254, 3), np.float32), **POSE_DECODE)
    # Broadcast arrays claim any size: refused before anything is copied.
    many = np.broadcast_to(np.float32(0.5), (2**30, 4))
    with pytest.raises(ValueError, match="N <= 65536"):
        decode_detections(np.broadcast_to(np.float32(0), (2**30, 12)), scores, many, **POSE_DECODE)


def reference_weighted_nms(
    scores: np.ndarray, boxes: np.ndarray, points: np.ndarray, threshold: float
) -> list[tuple[float, np.ndarray, np.ndarray]]:
    """NonMaxSuppressionCalculator::WeightedNonMaxSuppression, written out."""

    def iou(a: np.ndarray, b: np.ndarray) -> float:
        if a[2] < b[0] or b[2] < a[0] or a[3] < b[1] or b[3] < a[1]:
            return 0.0
        inter = (min(a[2], b[2]) - max(a[0], b[0])) * (min(a[3], b[3]) - max(a[1], b[1]))
        union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
        return inter / union if union > 0 else 0.0

    remaining = sorted(range(len(scores)), key=lambda i: -scores[i])
    out = []
    while remaining:
        top = remaining[0]
        group = [i for i in remaining if iou(boxes[i], boxes[top]) > threshold]
        rest = [i for i in remaining if i not in group]
        w = scores[group].astype(np.float64)
        out.append(
            (
                float(scores[top]),
                (boxes[group] * w[:, None]).sum(0) / w.sum(),
                (points[group] * w[:, None, None]).sum(0) / w.sum(),
            )
        )
        if len(rest) == len(remaining):
            break
        remaining = rest
    return out


def test_weighted_nms_merges_overlapping_detections() -> None:
    scores = np.array([0.6, 0.9, 0.8, 0.3], np.float32)
    boxes = np.array(
        [[0.1, 0.1, 0.3, 0.3], [0.0, 0.0, 0.2, 0.2], [0.6, 0.6, 0.8, 0.8], [0.02, 0.0, 0.22, 0.2]],
        np.float32,
    )
    points = boxes[:, None, :2].copy()
    out_scores, out_boxes, out_points = weighted_nms(scores, boxes, points)
    np.testing.assert_array_equal(out_scores, np.array([0.9, 0.8, 0.6], np.float32))
    merged = (0.9 * boxes[1] + 0.3 * boxes[3]) / 1.2
    np.testing.assert_allclose(out_boxes[0], merged, atol=1e-6)
    np.testing.assert_allclose(out_points[0, 0], merged[:2], atol=1e-6)
    np.testing.assert_allclose(out_boxes[1:], boxes[[2, 0]], atol=1e-6)
    empty = weighted_nms(
        np.zeros(0, np.float32), np.zeros((0, 4), np.float32), np.zeros((0, 7, 2), np.float32)
    )
    assert [a.shape for a in empty] == [(0,), (0, 4), (0, 7, 2)]


@FAST
@given(seed=st.integers(0, 2**32 - 1), count=st.integers(1, 40))
def test_weighted_nms_matches_the_reference(seed: int, count: int) -> None:
    rng = np.random.default_rng(seed)
    corner = rng.uniform(0, 0.8, (count, 2))
    size = rng.uniform(0.05, 0.3, (count, 2))
    boxes = np.hstack([corner, corner + size]).astype(np.float32)
    scores = rng.uniform(0.2, 1, count).astype(np.float32)
    points = rng.uniform(0, 1, (count, 3, 2)).astype(np.float32)
    out = weighted_nms(scores, boxes, points, min_suppression_threshold=0.3)
    expected = reference_weighted_nms(scores, boxes, points, 0.3)
    assert len(out[0]) == len(expected)
    for k, (score, box, point) in enumerate(expected):
        assert out[0][k] == np.float32(score)
        np.testing.assert_allclose(out[1][k], box, atol=1e-5)
        np.testing.assert_allclose(out[2][k], point, atol=1e-5)


def test_weighted_nms_rejects_bad_arguments() -> None:
    good = (np.ones(2, np.float32), np.ones((2, 4), np.float32), np.ones((2, 1, 2), np.float32))
    with pytest.raises(ValueError, match="expected scores"):
        weighted_nms(good[0], good[1][:1], good[2])
    with pytest.raises(ValueError, match="expected scores"):
        weighted_nms(good[0], good[1], np.ones((2, 1, 3), np.float32))
    with pytest.raises(ValueError, match="finite"):
        weighted_nms(np.array([1, math.inf], np.float32), good[1], good[2])
    with pytest.raises(ValueError, match="min_suppression_threshold"):
        weighted_nms(*good, min_suppression_threshold=math.nan)
    with pytest.raises(TypeError, match="float32"):
        weighted_nms(good[0].astype(np.float64), good[1], good[2])


class ReferenceOneEuro:
    """MediaPipe's OneEuroFilter and LandmarksSmoothingCalculator (one_euro_filter), from the
    formula: alpha = 1 / (1 + tau / te), tau = 1 / (2 pi cutoff), te = 1 / frequency."""

    def __init__(self, min_cutoff: float, beta: float, derivate_cutoff: float, frequency: float):
        self.params = (min_cutoff, beta, derivate_cutoff)
        self.initial_frequency = frequency
        self.state: dict[int, dict] = {}

    def filter(self, key: int, t: float, scale: float, value: float) -> float:
        s = self.state.setdefault(
            key,
            {"freq": self.initial_frequency, "last_t": None, "x": None, "raw": None, "dx": None},
        )
        if s["last_t"] is not None:
            if s["last_t"] >= t:
                return value
            s["freq"] = 1 / (t - s["last_t"])
        s["last_t"] = t

        def alpha(cutoff: float) -> float:
            return 1 / (1 + (1 / (2 * math.pi * cutoff)) / (1 / s["freq"]))

        min_cutoff, beta, derivate_cutoff = self.params
        dvalue = 0.0 if s["raw"] is None else (value - s["raw"]) * scale * s["freq"]
        a = alpha(derivate_cutoff)
        s["dx"] = dvalue if s["dx"] is None else a * dvalue + (1 - a) * s["dx"]
        cutoff = min_cutoff + beta * abs(s["dx"])
        a = alpha(cutoff)
        s["x"] = value if s["x"] is None else a * value + (1 - a) * s["x"]
        s["raw"] = value
        return s["x"]

    def apply(self, landmarks: np.ndarray, t: float) -> np.ndarray:
        scale = (np.ptp(landmarks[:, 0]) + np.ptp(landmarks[:, 1])) / 2
        out = landmarks.copy()
        for i, row in enumerate(landmarks):
            for d in range(min(3, landmarks.shape[1])):
                out[i, d] = self.filter(i * 3 + d, t, 1 / scale, row[d])
        return out


@FAST
@given(
    seed=st.integers(0, 2**32 - 1),
    n=st.integers(2, 33),
    dims=st.integers(2, 5),
    min_cutoff=st.floats(0.01, 2),
    beta=st.floats(0, 80),
)
def test_landmark_smoother_matches_the_one_euro_formula(
    seed: int, n: int, dims: int, min_cutoff: float, beta: float
) -> None:
    rng = np.random.default_rng(seed)
    smoother = LandmarkSmoother(min_cutoff, beta, 1.0)
    reference = ReferenceOneEuro(min_cutoff, beta, 1.0, 30.0)
    base = rng.uniform(0, 500, (n, dims))
    t = 0.0
    for _ in range(12):
        t += rng.uniform(0.01, 0.1)
        landmarks = base + rng.normal(0, 5, (n, dims))
        got = smoother.apply(landmarks, t)
        assert got.dtype == np.float32 and got.shape == (n, dims)
        expected = reference.apply(landmarks, t)
        np.testing.assert_allclose(got, expected.astype(np.float32), rtol=1e-5, atol=1e-3)
        if dims > 3:
            np.testing.assert_array_equal(got[:, 3:], landmarks[:, 3:].astype(np.float32))


def test_landmark_smoother_normalised_input_is_filtered_in_pixels() -> None:
    rng = np.random.default_rng(7)
    in_pixels, normalised = LandmarkSmoother(0.1, 40.0), LandmarkSmoother(0.1, 40.0)
    size = np.array([640.0, 480.0, 640.0])
    for step in range(10):
        points = rng.uniform(0, 1, (33, 3))
        got = normalised.apply(points, step / 30, image_size=(640, 480))
        expected = in_pixels.apply(points * size, step / 30) / size
        np.testing.assert_allclose(got, expected, rtol=1e-5)


def test_landmark_smoother_behaviour_at_the_edges() -> None:
    smoother = LandmarkSmoother(1.0, 0.0)
    first = np.array([[0.0, 0.0], [10.0, 10.0]])
    np.testing.assert_array_equal(smoother.apply(first, 1.0), first)
    # A timestamp not after the last: passed through unfiltered.
    jumped = first + 100
    np.testing.assert_array_equal(smoother.apply(jumped, 1.0), jumped)
    smoothed = smoother.apply(jumped, 1.1)
    assert (smoothed < jumped).all() and (smoothed > first).all()
    # An object smaller than min_allowed_object_scale: as is.
    tiny = LandmarkSmoother(min_allowed_object_scale=0.5)
    tiny.apply(np.zeros((2, 2)), 0.0)
    np.testing.assert_array_equal(tiny.apply(np.full((2, 2), 3.0), 0.1), np.full((2, 2), 3.0))
    # Another number of landmarks needs a reset.
    with pytest.raises(ValueError, match="reset"):
        smoother.apply(np.zeros((3, 2)), 2.0)
    smoother.reset()
    np.testing.assert_array_equal(smoother.apply(np.ones((3, 2)), 2.0), np.ones((3, 2)))
    assert repr(LandmarkSmoother()).startswith("LandmarkSmoother(min_cutoff=1.0, beta=0.0")


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"min_cutoff": 0.0}, "min_cutoff"),
        ({"beta": -1.0}, "beta"),
        ({"derivate_cutoff": math.nan}, "derivate_cutoff"),
        ({"frequency": math.inf}, "frequency"),
        ({"min_allowed_object_scale": -1.0}, "min_allowed_object_scale"),
    ],
)
def test_landmark_smoother_rejects_bad_parameters(kwargs: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        LandmarkSmoother(**kwargs)


@pytest.mark.parametrize(
    ("landmarks", "kwargs", "error", "match"),
    [
        (np.zeros((3,)), {}, ValueError, "shape"),
        (np.zeros((3, 1)), {}, ValueError, "shape"),
        (np.zeros((0, 3)), {}, ValueError, "shape"),
        (np.broadcast_to(np.float32(0), (10**9, 3)), {}, ValueError, "shape"),
        (np.array([[0.0, math.nan]]), {}, ValueError, "finite"),
        (np.zeros((2, 3), np.int64), {}, TypeError, "float"),
        ([[0.0, 1.0]], {}, TypeError, "numpy"),
        (np.zeros((2, 3)), {"image_size": (0, 480)}, ValueError, "image width"),
        (np.zeros((2, 3)), {"object_scale": math.nan}, ValueError, "object_scale"),
    ],
)
def test_landmark_smoother_rejects_bad_landmarks(
    landmarks: Any, kwargs: dict[str, Any], error: type[Exception], match: str
) -> None:
    with pytest.raises(error, match=match):
        LandmarkSmoother().apply(landmarks, 0.0, **kwargs)
    with pytest.raises(ValueError, match="timestamp"):
        LandmarkSmoother().apply(np.zeros((2, 2)), math.nan)
