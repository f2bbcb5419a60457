"""Region-of-interest maths of MediaPipe's pose and hand graphs, in frame pixels.

MediaPipe works on NormalizedRect (fractions of the frame's width and height); every formula here is
the same one multiplied out by the frame size, so a ``Rect`` is (centre x, centre y, width, height,
rotation) in pixels and radians, rotation clockwise on screen as NormalizedRect.rotation. It is
what ``rtnet._core.crop_to_tensor`` takes.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float32] | npt.NDArray[np.float64]


class Rect(NamedTuple):
    """A rotated rectangle in frame pixels: MediaPipe's NormalizedRect times the frame size."""

    x_center: float
    y_center: float
    width: float
    height: float
    rotation: float = 0.0


@dataclass(frozen=True)
class RectTransform:
    """RectTransformationCalculator's options: shift (in rect sizes, along the rotated axes),
    then square on the long side, then scale."""

    scale_x: float = 1.0
    scale_y: float = 1.0
    shift_x: float = 0.0
    shift_y: float = 0.0
    square_long: bool = True


@dataclass(frozen=True)
class AlignmentRoi:
    """ROI from two keypoints (AlignmentPointsRectsCalculator), then a RectTransformation."""

    start: int
    end: int
    transform: RectTransform
    target_angle: float = math.pi / 2


def normalize_radians(angle: float) -> float:
    """The angle in [-pi, pi), as MediaPipe's NormalizeRadians."""
    return angle - 2.0 * math.pi * math.floor((angle + math.pi) / (2.0 * math.pi))


def rotation_between(start: npt.ArrayLike, end: npt.ArrayLike, target_angle: float) -> float:
    """Rotation that turns the start->end vector (pixels, y down) to ``target_angle`` (radians,
    counter-clockwise from +x): DetectionsToRectsCalculator::ComputeRotation."""
    x0, y0 = (float(v) for v in np.asarray(start, dtype=np.float64)[:2])
    x1, y1 = (float(v) for v in np.asarray(end, dtype=np.float64)[:2])
    return normalize_radians(target_angle - math.atan2(-(y1 - y0), x1 - x0))


def alignment_rect(
    start: npt.ArrayLike, end: npt.ArrayLike, target_angle: float = math.pi / 2
) -> Rect:
    """AlignmentPointsRectsCalculator: a square centred on ``start`` whose side is twice the
    start-end distance, rotated so that start->end points at ``target_angle``."""
    x0, y0 = (float(v) for v in np.asarray(start, dtype=np.float64)[:2])
    x1, y1 = (float(v) for v in np.asarray(end, dtype=np.float64)[:2])
    size = 2.0 * math.hypot(x1 - x0, y1 - y0)
    return Rect(x0, y0, size, size, rotation_between((x0, y0), (x1, y1), target_angle))


def transform_rect(rect: Rect, transform: RectTransform) -> Rect:
    """RectTransformationCalculator on a rect in pixels."""
    x, y, w, h, rotation = rect
    if rotation == 0.0:
        x += w * transform.shift_x
        y += h * transform.shift_y
    else:
        cos, sin = math.cos(rotation), math.sin(rotation)
        x += w * transform.shift_x * cos - h * transform.shift_y * sin
        y += w * transform.shift_x * sin + h * transform.shift_y * cos
    if transform.square_long:
        w = h = max(w, h)
    return Rect(x, y, w * transform.scale_x, h * transform.scale_y, rotation)


def landmarks_rect(points: FloatArray, rotation: float) -> Rect:
    """HandLandmarksToRectCalculator's box: the tightest rect at ``rotation`` around ``points``
    ((N, >=2) pixels), centred on the rotated bounding box."""
    xy = np.asarray(points, dtype=np.float64)[:, :2]
    centre = (xy.min(axis=0) + xy.max(axis=0)) / 2.0
    # Into the rect's frame (rotate by -rotation), box there, centre back out.
    cos, sin = math.cos(rotation), math.sin(rotation)
    d = xy - centre
    local = np.stack([d[:, 0] * cos + d[:, 1] * sin, -d[:, 0] * sin + d[:, 1] * cos], axis=1)
    lo, hi = local.min(axis=0), local.max(axis=0)
    cx, cy = (lo + hi) / 2.0
    return Rect(
        float(centre[0] + cx * cos - cy * sin),
        float(centre[1] + cx * sin + cy * cos),
        float(hi[0] - lo[0]),
        float(hi[1] - lo[1]),
        rotation,
    )


def roi_from_points(points: FloatArray, roi: AlignmentRoi) -> Rect:
    """A detection's or landmarks' ROI: ``roi``'s alignment rect on ``points`` (pixels), then
    its transformation."""
    p = np.asarray(points, dtype=np.float64)
    return transform_rect(alignment_rect(p[roi.start], p[roi.end], roi.target_angle), roi.transform)


def box_rect(
    box: npt.ArrayLike, start: npt.ArrayLike, end: npt.ArrayLike, roi: AlignmentRoi
) -> Rect:
    """DetectionsToRectsCalculator then RectTransformation: the detection's box ((xmin, ymin,
    xmax, ymax) pixels), rotated by ``roi``'s start->end keypoint vector, transformed."""
    x0, y0, x1, y1 = (float(v) for v in np.asarray(box, dtype=np.float64))
    rotation = rotation_between(start, end, roi.target_angle)
    rect = Rect((x0 + x1) / 2.0, (y0 + y1) / 2.0, x1 - x0, y1 - y0, rotation)
    return transform_rect(rect, roi.transform)


def project_landmarks(normalized: FloatArray, rect: Rect) -> npt.NDArray[np.float64]:
    """LandmarkProjectionCalculator: (N, 3) x, y, z normalised to the crop of ``rect`` -> x, y in
    frame pixels and z in the same pixel scale as x (MediaPipe's z times the rect's width)."""
    lm = np.asarray(normalized, dtype=np.float64)
    cos, sin = math.cos(rect.rotation), math.sin(rect.rotation)
    u, v = lm[:, 0] - 0.5, lm[:, 1] - 0.5
    out = np.empty((lm.shape[0], 3), dtype=np.float64)
    out[:, 0] = (cos * u - sin * v) * rect.width + rect.x_center
    out[:, 1] = (sin * u + cos * v) * rect.height + rect.y_center
    out[:, 2] = lm[:, 2] * rect.width
    return out


def rotate_world(world: FloatArray, rotation: float) -> npt.NDArray[np.float64]:
    """WorldLandmarkProjectionCalculator: world landmarks (N, 3) rotated in x, y by the ROI's
    rotation (metres stay metres)."""
    w = np.asarray(world, dtype=np.float64)
    cos, sin = math.cos(rotation), math.sin(rotation)
    out = w.copy()
    out[:, 0] = cos * w[:, 0] - sin * w[:, 1]
    out[:, 1] = sin * w[:, 0] + cos * w[:, 1]
    return out


def letterbox_rect(width: int, height: int) -> Rect:
    """The square around the whole frame that ImageToTensorCalculator(keep_aspect_ratio) crops for
    a square detector input: the frame centred, padded on the short side."""
    side = float(max(width, height))
    return Rect(width / 2.0, height / 2.0, side, side, 0.0)


def remove_letterbox(points: FloatArray, width: int, height: int) -> npt.NDArray[np.float64]:
    """DetectionLetterboxRemovalCalculator, to pixels: (..., 2) x, y normalised to the letterboxed
    square -> frame pixels."""
    side = float(max(width, height))
    p = np.asarray(points, dtype=np.float64)
    out = p * side
    out[..., 0] -= (side - width) / 2.0
    out[..., 1] -= (side - height) / 2.0
    return out


def rect_iou(a: Rect, b: Rect) -> float:
    """Intersection over union of the axis-aligned boxes of two rects, rotation ignored, as
    AssociationNormRectCalculator compares them."""
    ax0, ay0 = a.x_center - a.width / 2, a.y_center - a.height / 2
    bx0, by0 = b.x_center - b.width / 2, b.y_center - b.height / 2
    ix = max(0.0, min(ax0 + a.width, bx0 + b.width) - max(ax0, bx0))
    iy = max(0.0, min(ay0 + a.height, by0 + b.height) - max(ay0, by0))
    inter = ix * iy
    union = a.width * a.height + b.width * b.height - inter
    return inter / union if union > 0 else 0.0


def associate(rects: list[Rect], threshold: float) -> list[Rect]:
    """AssociationNormRectCalculator: add ``rects`` in order; each one removes the earlier ones it
    overlaps by IoU > ``threshold``, so later rects win."""
    kept: list[Rect] = []
    for rect in rects:
        kept = [other for other in kept if rect_iou(rect, other) <= threshold]
        kept.append(rect)
    return kept
