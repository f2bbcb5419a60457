"""Drawing results on frames: a black top border with text above the video, a banner over it.

The same annotated frame goes to the window and to the output video, so both show the same thing.
The border height depends only on the frame width and the number of lines, so a run's frames all
have one size (a video file needs that).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import cv2
import numpy as np

FONT = cv2.FONT_HERSHEY_SIMPLEX
WHITE = (255, 255, 255)
GREY = (170, 170, 170)
BANNER_BACKGROUND = (40, 40, 40)
BANNER_TEXT = (80, 220, 255)  # amber, readable over any video
REFERENCE_WIDTH = 640  # sizes below are for a 640 px wide frame and scale with the width


def _text(
    out: np.ndarray,
    text: str,
    origin: tuple[int, int],
    size: float,
    colour: tuple[int, int, int],
    thickness: int,
) -> None:
    cv2.putText(out, text, origin, FONT, size, colour, thickness, cv2.LINE_AA)


@dataclass(frozen=True)
class OverlayView:
    """What to draw on one frame."""

    title: str
    lines: Sequence[str] = field(default_factory=tuple)  # app results, one per border line
    status: str = ""  # fps and dropped clips, right of the title
    banner: str | None = None  # large text centred over the video


class Overlay:
    """Renders ``OverlayView``s on frames with room for ``lines`` result lines under the title."""

    def __init__(self, lines: int) -> None:
        self.lines = lines

    @staticmethod
    def _scale(width: int) -> float:
        return max(width / REFERENCE_WIDTH, 0.5)

    def border_height(self, width: int) -> int:
        scale = self._scale(width)
        return round((14 + 30 * (1 + self.lines)) * scale)

    def output_size(self, width: int, height: int) -> tuple[int, int]:
        """(width, height) of rendered frames for ``width`` x ``height`` input frames."""
        return width, height + self.border_height(width)

    def render(self, frame: np.ndarray, view: OverlayView) -> np.ndarray:
        """A new BGR frame: the border with the text on top of ``frame`` (left unchanged)."""
        height, width = frame.shape[:2]
        scale = self._scale(width)
        border = self.border_height(width)
        out = np.zeros((height + border, width, 3), dtype=np.uint8)
        out[border:] = frame
        line_height = 30 * scale
        baseline = round(30 * scale)
        left = int(10 * scale)
        _text(out, view.title, (left, baseline), 0.8 * scale, WHITE, max(1, round(2 * scale)))
        if view.status:
            (text_width, _), _ = cv2.getTextSize(view.status, FONT, 0.5 * scale, 1)
            _text(out, view.status, (width - text_width - left, baseline), 0.5 * scale, GREY, 1)
        for i, line in enumerate(view.lines[: self.lines]):
            y = round(baseline + line_height * (i + 1))
            _text(out, line, (left, y), 0.7 * scale, WHITE, max(1, round(1.5 * scale)))
        if view.banner:
            self._draw_banner(out, view.banner, border, scale)
        return out

    @staticmethod
    def _draw_banner(out: np.ndarray, text: str, top: int, scale: float) -> None:
        height, width = out.shape[:2]
        font_scale = 1.6 * scale
        thickness = max(2, round(3 * scale))
        (text_width, text_height), descent = cv2.getTextSize(text, FONT, font_scale, thickness)
        # Shrink long labels to fit the frame.
        if text_width > 0.9 * width:
            font_scale *= 0.9 * width / text_width
            (text_width, text_height), descent = cv2.getTextSize(text, FONT, font_scale, thickness)
        x = (width - text_width) // 2
        y = top + (height - top + text_height) // 2
        pad = int(12 * scale)
        top_left = (x - pad, y - text_height - pad)
        bottom_right = (x + text_width + pad, y + descent + pad)
        cv2.rectangle(out, top_left, bottom_right, BANNER_BACKGROUND, cv2.FILLED)
        _text(out, text, (x, y), font_scale, BANNER_TEXT, thickness)
