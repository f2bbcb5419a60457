"""Type stubs for the Rust core (`rtnet._core`); the classes are re-exported from `rtnet`."""

from collections.abc import Sequence
from typing import Literal

import numpy as np
import numpy.typing as npt

def preprocess(
    frame: npt.NDArray[np.uint8], *, channels: Literal["rgb", "bgr"] = "rgb"
) -> npt.NDArray[np.float32]:
    """BGR uint8 (H, W, 3) frame -> network input float32 (3, 256, 256) in [0, 1]."""

def letterbox(frame: npt.NDArray[np.uint8]) -> npt.NDArray[np.uint8]:
    """BGR uint8 (H, W, 3) frame -> (256, 256, 3) BGR: centred black square, INTER_LINEAR."""

class FrameRing:
    """The last `capacity` preprocessed frames, ready to hand to the network as one clip."""

    def __init__(self, capacity: int = 4, *, channels: Literal["rgb", "bgr"] = "rgb") -> None: ...
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

class Smoother:
    """Moving average of the last `window` probability vectors, with top-k."""

    def __init__(self, window: int, num_classes: int) -> None: ...
    def update(
        self, probs: npt.NDArray[np.float32] | npt.NDArray[np.float64] | Sequence[float]
    ) -> npt.NDArray[np.float32]: ...
    def topk(self, k: int) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float32]]: ...
    def reset(self) -> None: ...
    @property
    def window(self) -> int: ...
    @property
    def num_classes(self) -> int: ...

class RepCounter:
    """Counts jumping jacks and squats from the 5-class rep head."""

    def __init__(self, threshold: float = 0.4) -> None: ...
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

class CalorieUpdate:
    """Calorie state after an update."""

    @property
    def total_calories(self) -> float: ...
    @property
    def met_live(self) -> float: ...
    @property
    def met_corrected(self) -> float: ...

class CalorieAccumulator:
    """MET predictions -> kcal burnt, driven by stream time (`dt` seconds per update)."""

    def __init__(
        self,
        weight: float = 70,
        height: float = 170,
        age: float = 30,
        gender: str | None = None,
        smoothing: float = 20,
        recovery_factor: float = 60,
    ) -> None: ...
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
