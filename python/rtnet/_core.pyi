"""Type stubs for the Rust core (`rtnet._core`); the classes are re-exported from `rtnet`.

Sizes are bounded so that no argument can make the core allocate without limit; beyond a limit
the call raises ValueError naming the argument:

- frames: 1 <= H, W <= 32768 (a broadcast array can claim any shape);
- FrameRing capacity: 1..=1024;
- Smoother: window 1..=10000, num_classes 1..=100000, window * num_classes <= 2**24;
  probability vectors of at most 100000 values;
- CalorieAccumulator: weight 10-700 kg, height 50-300 cm, age 0-150 years, a resting metabolic
  rate of at least 100 kcal/day, smoothing and recovery_factor in (0, 3600] s; per update
  met in [0, 1000] and dt in [0, 3600] s; a met array of at most 2**20 values;
- tracking: crop outputs of 1..=4096 per side, rects within 1e7 pixels; at most 2**16 anchors,
  64 keypoints; LandmarkSmoother (N, D) with N <= 100000 and 2 <= D <= 64;
- KernelProgram: maps of at most 2**26 values, 4096 steps, 2**24 packed weights a convolution.
"""

from collections.abc import Sequence
from typing import Literal, final

from typing_extensions import Self

__all__ = [
    "CalorieAccumulator",
    "CalorieUpdate",
    "FrameRing",
    "KernelProgram",
    "LandmarkSmoother",
    "MotionModel",
    "RepCounter",
    "Smoother",
    "crop_matrix",
    "crop_to_tensor",
    "decode_detections",
    "kernel_instructions",
    "letterbox",
    "preprocess",
    "set_kernel_threads",
    "ssd_anchors",
    "weighted_nms",
]

import numpy as np
import numpy.typing as npt

# Rotated rectangle (center_x, center_y, width, height, rotation): frame pixels and radians,
# rotation clockwise on the screen (MediaPipe's NormalizedRect.rotation, scaled to pixels).
_Rect = tuple[float, float, float, float, float]
_FloatArray = npt.NDArray[np.float32] | npt.NDArray[np.float64]

def preprocess(
    frame: npt.NDArray[np.uint8], *, channels: Literal["rgb", "bgr"] = "rgb"
) -> npt.NDArray[np.float32]:
    """BGR uint8 (H, W, 3) frame -> network input float32 (3, 256, 256) in [0, 1]."""

def letterbox(frame: npt.NDArray[np.uint8]) -> npt.NDArray[np.uint8]:
    """BGR uint8 (H, W, 3) frame -> (256, 256, 3) BGR: centred black square, INTER_LINEAR."""

@final
class FrameRing:
    """The last `capacity` (1..=1024) preprocessed frames, ready to hand to the network as one
    clip."""

    def __new__(cls, capacity: int = 4, *, channels: Literal["rgb", "bgr"] = "rgb") -> Self: ...
    def push(self, frame: npt.NDArray[np.uint8]) -> None:
        """Preprocess a BGR uint8 (H, W, 3) frame of any size and strides into the ring."""
    def clip(self) -> npt.NDArray[np.float32]:
        """Frames held, oldest first: a fresh C-contiguous float32 (N, 3, 256, 256) array."""
    def reset(self) -> None: ...
    @property
    def capacity(self) -> int: ...
    @property
    def channels(self) -> Literal["rgb", "bgr"]: ...
    def __len__(self) -> int: ...

@final
class Smoother:
    """Moving average of the last `window` probability vectors, with top-k.

    window in 1..=10000, num_classes in 1..=100000, window * num_classes <= 2**24.
    """

    def __new__(cls, window: int, num_classes: int) -> Self: ...
    def update(
        self, probs: npt.NDArray[np.float32] | npt.NDArray[np.float64] | Sequence[float]
    ) -> npt.NDArray[np.float32]: ...
    def topk(self, k: int) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float32]]: ...
    def reset(self) -> None: ...
    @property
    def window(self) -> int: ...
    @property
    def num_classes(self) -> int: ...

@final
class RepCounter:
    """Counts jumping jacks and squats from the 5-class rep head."""

    def __new__(cls, threshold: float = 0.4) -> Self: ...
    def update(
        self, probs: npt.NDArray[np.float32] | npt.NDArray[np.float64] | Sequence[float]
    ) -> None: ...
    def reset(self) -> None: ...
    @property
    def threshold(self) -> float: ...
    @property
    def jumping_jacks(self) -> int: ...
    @property
    def squats(self) -> int: ...
    @property
    def counts(self) -> dict[str, int]: ...

@final
class CalorieUpdate:
    """Calorie state after an update."""

    @property
    def total_calories(self) -> float: ...
    @property
    def met_live(self) -> float: ...
    @property
    def met_corrected(self) -> float: ...

@final
class CalorieAccumulator:
    """MET predictions -> kcal burnt, driven by stream time (`dt` seconds per update).

    weight 10-700 kg, height 50-300 cm, age 0-150 years (resting metabolic rate >= 100
    kcal/day), smoothing and recovery_factor in (0, 3600] s; update: met in [0, 1000], dt in
    [0, 3600] s. The MET history holds at most 4096 entries (updates of dt=0 add none).
    """

    def __new__(
        cls,
        weight: float = 70.0,
        height: float = 170.0,
        age: float = 30.0,
        gender: str | None = None,
        smoothing: float = 20.0,
        recovery_factor: float = 60.0,
    ) -> Self: ...
    def update(
        self, met: float | npt.NDArray[np.float32] | npt.NDArray[np.float64], dt: float
    ) -> CalorieUpdate: ...
    def reset(self) -> None: ...
    @property
    def total_calories(self) -> float: ...
    @property
    def met_live(self) -> float: ...
    @property
    def met_corrected(self) -> float: ...

def crop_to_tensor(
    frame: npt.NDArray[np.uint8],
    rect: _Rect,
    out: npt.NDArray[np.float32],
    *,
    layout: Literal["nhwc", "nchw"] = "nhwc",
    channels: Literal["rgb", "bgr"] = "rgb",
    value_range: tuple[float, float] = (0.0, 1.0),
    border: Literal["zero", "replicate"] = "zero",
) -> npt.NDArray[np.float64]:
    """Crop `rect` of a BGR uint8 (H, W, 3) frame into `out` (float32, C-contiguous; nhwc:
    (1, h, w, 3) or (h, w, 3), nchw: (1, 3, h, w) or (3, h, w)), as MediaPipe's
    ImageToTensorCalculator: the rect's corners map to the output's corners, bilinear, black
    ("zero") or the nearest edge pixel ("replicate", MediaPipe's default) outside the frame,
    uint8 [0, 255] mapped linearly to `value_range`. GIL released.
    Returns the (2, 3) float64 matrix from output pixels (u, v) to frame pixels (x, y)."""

def crop_matrix(rect: _Rect, width: int, height: int) -> npt.NDArray[np.float64]:
    """The (2, 3) matrix `crop_to_tensor` returns for a `width` x `height` output."""

def ssd_anchors(
    *,
    input_width: int,
    input_height: int,
    strides: Sequence[int],
    min_scale: float,
    max_scale: float,
    anchor_offset_x: float = 0.5,
    anchor_offset_y: float = 0.5,
    aspect_ratios: Sequence[float] | None = None,
    reduce_boxes_in_lowest_layer: bool = False,
    interpolated_scale_aspect_ratio: float = 1.0,
    fixed_anchor_size: bool = False,
) -> npt.NDArray[np.float32]:
    """MediaPipe SsdAnchorsCalculator anchors, float32 (N, 4): (x_center, y_center, width,
    height) normalised to the input; one layer per stride; aspect_ratios default (1.0,)."""

def decode_detections(
    raw_boxes: npt.NDArray[np.float32],
    raw_scores: npt.NDArray[np.float32],
    anchors: npt.NDArray[np.float32],
    *,
    num_keypoints: int,
    x_scale: float,
    y_scale: float,
    w_scale: float,
    h_scale: float,
    box_coord_offset: int = 0,
    keypoint_coord_offset: int = 4,
    reverse_output_order: bool = True,
    apply_exponential_on_box_size: bool = False,
    sigmoid_score: bool = True,
    score_clipping_thresh: float | None = None,
    min_score_thresh: float | None = None,
) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.float32], npt.NDArray[np.float32]]:
    """MediaPipe TensorsToDetectionsCalculator decoding: raw_boxes (N, num_coords), raw_scores
    (N,) or (N, 1) (a leading batch axis of 1 allowed), anchors (N, 4). Returns scores (M,),
    boxes (M, 4) as (xmin, ymin, xmax, ymax), keypoints (M, K, 2) as (x, y), normalised to the
    model input, in anchor order; non-finite inputs are a ValueError."""

def weighted_nms(
    scores: npt.NDArray[np.float32],
    boxes: npt.NDArray[np.float32],
    keypoints: npt.NDArray[np.float32],
    *,
    min_suppression_threshold: float = 0.3,
) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.float32], npt.NDArray[np.float32]]:
    """MediaPipe NonMaxSuppressionCalculator, WEIGHTED with INTERSECTION_OVER_UNION, over
    `decode_detections` output; returns the merged detections best first, same arrays."""

@final
class LandmarkSmoother:
    """MediaPipe's one-euro landmark smoothing (LandmarksSmoothingCalculator one_euro_filter)."""

    def __new__(
        cls,
        min_cutoff: float = 1.0,
        beta: float = 0.0,
        derivate_cutoff: float = 1.0,
        *,
        frequency: float = 30.0,
        min_allowed_object_scale: float = 1e-6,
        disable_value_scaling: bool = False,
    ) -> Self: ...
    def apply(
        self,
        landmarks: _FloatArray,
        timestamp: float,
        *,
        image_size: tuple[int, int] | None = None,
        object_scale: float | None = None,
    ) -> npt.NDArray[np.float32]:
        """Filter (N, D) landmarks (x, y[, z]; more columns pass through) at `timestamp`
        seconds; with image_size (width, height) they are normalised and filtered in pixels."""
    def reset(self) -> None: ...
    @property
    def min_cutoff(self) -> float: ...
    @property
    def beta(self) -> float: ...
    @property
    def derivate_cutoff(self) -> float: ...
    @property
    def frequency(self) -> float: ...

# Compiled exercise and gesture definitions (built by rtnet.exercises.definitions from the data
# files). measure: (kind, points, axis); kind "angle" | "position" | "distance" |
# "inclination" | "direction" | "ratio" | "motion", each point a list of landmark indices (0-74:
# pose, left hand, right hand) whose mean it is, axis "x" | "y" | "z" | "lateral".
_Measure = tuple[str, list[list[int]], str]
# (left, right, combine, rate, smoothing, hysteresis, softness, highpass, depth); depth False:
# measured in the image plane, without the landmarks' z
_Signal = tuple[_Measure, _Measure, str, bool, float, float, float, float, bool]
# (signal index, ">" | "<", threshold)
_Condition = tuple[int, str, float]
# (posture, phases as (conditions, min_duration, max_duration), window, cycle: "closed",
# "alternating", "sequence" or "swings", within, strict)
_Exercise = tuple[
    list[_Condition], list[tuple[list[_Condition], float, float]], float, str, float, bool
]

@final
class MotionModel:
    """Exercise and gesture signals and phase machines over pose landmarks (33 BlazePose
    landmarks per frame: x, y normalised to the frame, z, visibility, presence), optionally
    followed by the left and the right hand's 21 landmarks (75 per frame). At most 512 signals,
    256 exercises, 16 phases and 32 conditions per phase, windows up to 60 s, 65536 frames a
    call."""

    def __new__(
        cls,
        signals: Sequence[_Signal],
        exercises: Sequence[_Exercise],
        *,
        aspect: float = 1.0,
        min_visibility: float = 0.5,
        depth_weight: float = 1.0,
    ) -> Self: ...
    def update(self, landmarks: _FloatArray, times: Sequence[float] | _FloatArray) -> None:
        """Feed (T, 33, 5) or (33, 5) landmarks (NaN rows: no person), or (T, 75, 5) / (75, 5)
        with the hands (NaN: not tracked), at T increasing times."""
    @property
    def values(self) -> npt.NDArray[np.float64]: ...
    def evidence(self) -> dict[str, npt.NDArray[np.float64] | npt.NDArray[np.int64]]:
        """Per exercise: posture, cycle, coverage (float64); reps, recent_reps, phase (int64)."""
    @property
    def landmark_visibility(self) -> npt.NDArray[np.float64]: ...
    @property
    def scale(self) -> float | None: ...
    @property
    def people(self) -> int:
        """Bodies seen that did not continue the one before (another person, or one back
        after a gap of over 1 s): each started the rep phases and the evidence afresh."""
    @property
    def num_signals(self) -> int: ...
    @property
    def num_exercises(self) -> int: ...
    def reset(self) -> None: ...

def set_kernel_threads(threads: int) -> None:
    """Threads the KernelProgram kernels use (1..=1024); cheap when unchanged."""

def kernel_instructions() -> Literal["avx512", "avx2+fma", "portable"]:
    """The code the KernelProgram kernels run on this CPU (the same bits on each)."""

@final
class KernelProgram:
    """A landmark network's fast path: kernel steps over float32 NHWC maps, recorded once and run
    on each image in one call, GIL released. Map 0 is the (1, height, width, channels) image;
    each step returns the map it writes. Sums follow XNNPACK's order (LiteRT's bits)."""

    def __new__(cls, height: int, width: int, channels: int) -> Self: ...
    def conv(
        self,
        weight: npt.NDArray[np.float32],
        bias: npt.NDArray[np.float32],
        input: int,
        *,
        stride: int = 1,
        padding: tuple[int, int, int, int] = (0, 0, 0, 0),
        relu6: bool = False,
        residual: int | None = None,
        residual_relu6: bool = False,
    ) -> int:
        """relu6?(conv(input)) then + residual and relu6? again; weight (out, in, k, k), padding
        (top, bottom, left, right)."""
    def depthwise(
        self,
        weight: npt.NDArray[np.float32],
        bias: npt.NDArray[np.float32],
        input: int,
        *,
        stride: int = 1,
        padding: tuple[int, int, int, int] = (0, 0, 0, 0),
        relu6: bool = False,
    ) -> int:
        """relu6?(depthwise conv(input)); weight (channels, 1, k, k)."""
    def upsample2x(self, input: int) -> int: ...
    def max_pool2x2(self, input: int) -> int: ...
    def depth_to_space(self, input: int, block: int) -> int: ...
    def prelu(self, input: int, slopes: npt.NDArray[np.float32]) -> int:
        """x * slope where x is negative, else x; slopes (channels,)."""
    def add_prelu(self, a: int, b: int, slopes: npt.NDArray[np.float32]) -> int:
        """prelu(a + b) in one pass over the maps."""
    def pad_channels(self, input: int, extra: int) -> int:
        """`extra` zero channels after each pixel's channels."""
    def mean(self, input: int) -> int:
        """Each channel's mean over all pixels, a 1x1 map (summed in pixel order, times 1/n)."""
    def add(self, a: int, b: int, *, relu6: bool = False) -> int: ...
    def shape(self, map: int) -> tuple[int, int, int]: ...
    def finish(self, outputs: Sequence[int]) -> None:
        """Declares the maps `run` returns (in this order) and plans the maps' memory."""
    @property
    def memory(self) -> int:
        """Float32 values the maps' memory holds (after `finish`)."""
    def run(self, image: npt.NDArray[np.float32]) -> list[npt.NDArray[np.float32]]:
        """Runs the steps on a (1, H, W, C) C-contiguous image; new (1, h, w, c) outputs."""
