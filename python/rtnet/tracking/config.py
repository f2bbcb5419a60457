"""MediaPipe 0.10.14's pose and hand graph settings, as data (one home for each number).

Sources (mediapipe/modules/...): pose_detection_cpu.pbtxt, pose_landmark_by_roi_cpu.pbtxt,
tensors_to_pose_landmarks_and_segmentation.pbtxt, pose_detection_to_roi.pbtxt,
pose_landmarks_to_roi.pbtxt, pose_landmark_filtering.pbtxt, palm_detection_cpu.pbtxt,
palm_detection_detection_to_roi.pbtxt, hand_landmark_cpu.pbtxt, hand_landmark_tracking_cpu.pbtxt,
hand_landmark_landmarks_to_roi.pbtxt; the thresholds are mp.solutions' defaults.
"""

from __future__ import annotations

from dataclasses import dataclass

from rtnet.models.landmarks import LandmarkModelName
from rtnet.tracking.roi import AlignmentRoi, RectTransform


@dataclass(frozen=True)
class Anchors:
    """SsdAnchorsCalculator options (square input, aspect ratio 1, fixed anchor size)."""

    input_size: int
    strides: tuple[int, ...]
    min_scale: float = 0.1484375
    max_scale: float = 0.75


@dataclass(frozen=True)
class DetectorConfig:
    """A single-shot detector run on the whole frame, letterboxed to a square."""

    model: LandmarkModelName
    input_size: int
    value_range: tuple[float, float]  # what [0, 255] maps to
    anchors: Anchors
    num_keypoints: int
    score_clipping: float = 100.0
    min_suppression: float = 0.3  # weighted NMS IoU threshold


@dataclass(frozen=True)
class OneEuro:
    """LandmarksSmoothingCalculator one_euro_filter options."""

    min_cutoff: float
    beta: float
    derivate_cutoff: float = 1.0
    disable_value_scaling: bool = False


POSE_DETECTOR = DetectorConfig(
    model="pose_detector",
    input_size=224,
    value_range=(-1.0, 1.0),
    anchors=Anchors(224, (8, 16, 32, 32, 32)),
    num_keypoints=4,  # 0 mid-hip, 1 full-body size/rotation, 2 mid-shoulder, 3 upper-body point
)
PALM_DETECTOR = DetectorConfig(
    model="palm_detector",
    input_size=192,
    value_range=(0.0, 1.0),
    anchors=Anchors(192, (8, 16, 16, 16)),
    num_keypoints=7,  # 0 wrist centre, 2 middle-finger MCP
)

POSE_LANDMARK_INPUT = 256
POSE_LANDMARKS = 33  # the first 33 of the model's 39; 33 and 34 are the ROI's alignment points
POSE_MODEL_LANDMARKS = 39
POSE_AUX = (33, 35)
POSE_ROI_FROM_DETECTION = AlignmentRoi(0, 1, RectTransform(1.25, 1.25, square_long=True))
POSE_ROI_FROM_LANDMARKS = AlignmentRoi(0, 1, RectTransform(1.25, 1.25, square_long=True))
POSE_HEATMAP_KERNEL = 7
POSE_HEATMAP_MIN_CONFIDENCE = 0.5
POSE_SMOOTHING = OneEuro(min_cutoff=0.1, beta=40.0)
POSE_AUX_SMOOTHING = OneEuro(min_cutoff=0.01, beta=1.0)
POSE_WORLD_SMOOTHING = OneEuro(min_cutoff=0.1, beta=40.0, disable_value_scaling=True)
VISIBILITY_ALPHA = 0.1  # VisibilitySmoothingCalculator low_pass_filter

HAND_LANDMARK_INPUT = 224
HAND_LANDMARKS = 21
HAND_Z_NORMALIZE = 0.4  # TensorsToLandmarksCalculator normalize_z
# The palm's box (DetectionsToRectsCalculator), turned by the wrist -> middle-finger-MCP vector.
HAND_ROI_FROM_PALM = AlignmentRoi(0, 2, RectTransform(2.6, 2.6, shift_y=-0.5, square_long=True))
# HandLandmarksToRectCalculator uses wrist, thumb base, and each finger's two lowest joints; the
# rotation runs from the wrist to the mean of the index/ring MCPs averaged with the middle MCP.
HAND_ROI_LANDMARKS = (0, 1, 2, 3, 5, 6, 9, 10, 13, 14, 17, 18)
HAND_ROI_FROM_LANDMARKS = RectTransform(2.0, 2.0, shift_y=-0.1, square_long=True)
HAND_ASSOCIATION_IOU = 0.5
HANDEDNESS_LABELS = ("Left", "Right")  # handedness.txt; the model's score is for "Left"

MIN_DETECTION_CONFIDENCE = 0.5
MIN_TRACKING_CONFIDENCE = 0.5
