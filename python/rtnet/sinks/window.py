"""An OpenCV window showing the annotated frames; Esc, q or closing it ends the run."""

from __future__ import annotations

import os
import sys

import cv2
import numpy as np

from rtnet.apps import Summary
from rtnet.errors import ConfigError
from rtnet.sinks.base import RunStats, Sink

QUIT_KEYS = {27, ord("q"), ord("Q")}  # Esc, q
SYSTEM_FONTS = "/usr/share/fonts"


def require_display() -> None:
    """OpenCV's GUI aborts the whole process without a display; say so in one line instead."""
    if sys.platform.startswith("linux") and not (
        os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")
    ):
        raise ConfigError("no display to open a window on (DISPLAY is not set): use --no-window")


class WindowSink(Sink):
    wants_frames = True

    def __init__(self, title: str) -> None:
        require_display()
        self.title = title
        self._open = False
        self._stop = False
        self.frames_shown = 0

    def start(self, stats: RunStats) -> None:
        # opencv-python points Qt at a font folder it does not ship (Qt then warns on stderr
        # for every window): use the system's fonts instead.
        if not os.path.isdir(os.environ.get("QT_QPA_FONTDIR", "")) and os.path.isdir(SYSTEM_FONTS):
            os.environ["QT_QPA_FONTDIR"] = SYSTEM_FONTS
        flags = cv2.WINDOW_NORMAL | cv2.WINDOW_KEEPRATIO | cv2.WINDOW_GUI_NORMAL
        cv2.namedWindow(self.title, flags)
        self._open = True

    def on_frame(self, frame: np.ndarray, stats: RunStats) -> None:
        if not self._open or self._stop:
            return
        # Checked before imshow, which would quietly open a closed window again.
        if self.frames_shown and not self._visible():
            self._stop = True  # closed with the window manager
            return
        if self.frames_shown == 0:
            cv2.resizeWindow(self.title, frame.shape[1], frame.shape[0])
        cv2.imshow(self.title, frame)
        self.frames_shown += 1
        # waitKey also runs the GUI event loop: without it the window never paints.
        key = cv2.waitKey(1)
        if key >= 0 and key & 0xFF in QUIT_KEYS:
            self._stop = True

    def _visible(self) -> bool:
        try:
            return cv2.getWindowProperty(self.title, cv2.WND_PROP_VISIBLE) >= 1
        except cv2.error:
            return False  # Qt raises once its last window is gone

    def stop_requested(self) -> bool:
        return self._stop

    def close(self, summary: Summary, stats: RunStats) -> None:
        if self._open:
            self._open = False
            try:
                cv2.destroyWindow(self.title)
                cv2.waitKey(1)
            except cv2.error:
                pass  # already closed by the user
