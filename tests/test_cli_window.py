"""The window path, on a real X server: Xvfb, started here (a missing Xvfb fails these tests).

Qt windows run in subprocesses, so the test process never holds a connection to an X server
that is shut down when the tests end.
"""

from __future__ import annotations

import ctypes
import json
import subprocess
import sys
from pathlib import Path

from engine_helpers import (
    LONG_VIDEO_FRAMES,
    read_video,
    rtnet_env,
    run_rtnet,
    start_gestures,
    wait_for_lines,
    write_long_video,
)
from rtnet.apps import GESTURES
from rtnet.overlay import Overlay


def press_key(display: str, key: str) -> None:
    """Types ``key`` on ``display`` through the XTEST extension (what a user's keyboard does)."""
    x11 = ctypes.CDLL("libX11.so.6")
    xtst = ctypes.CDLL("libXtst.so.6")
    x11.XOpenDisplay.restype = ctypes.c_void_p
    x11.XOpenDisplay.argtypes = [ctypes.c_char_p]
    x11.XStringToKeysym.restype = ctypes.c_ulong
    x11.XStringToKeysym.argtypes = [ctypes.c_char_p]
    x11.XKeysymToKeycode.restype = ctypes.c_ubyte
    x11.XKeysymToKeycode.argtypes = [ctypes.c_void_p, ctypes.c_ulong]
    x11.XFlush.argtypes = [ctypes.c_void_p]
    x11.XCloseDisplay.argtypes = [ctypes.c_void_p]
    xtst.XTestFakeKeyEvent.argtypes = [ctypes.c_void_p, ctypes.c_uint, ctypes.c_int, ctypes.c_ulong]
    xtst.XTestFakeMotionEvent.argtypes = [
        ctypes.c_void_p,
        ctypes.c_int,
        ctypes.c_int,
        ctypes.c_int,
        ctypes.c_ulong,
    ]
    connection = x11.XOpenDisplay(display.encode())
    assert connection, f"cannot connect to {display}"
    try:
        # No window manager: keys go to the window under the pointer, the window at (0, 0).
        xtst.XTestFakeMotionEvent(connection, -1, 60, 60, 0)
        keycode = x11.XKeysymToKeycode(connection, x11.XStringToKeysym(key.encode()))
        xtst.XTestFakeKeyEvent(connection, keycode, 1, 0)
        xtst.XTestFakeKeyEvent(connection, keycode, 0, 0)
        x11.XFlush(connection)
    finally:
        x11.XCloseDisplay(connection)


WINDOW_SINK_SCRIPT = """
import sys, time
import cv2, numpy as np
from rtnet.apps import Summary, GESTURES
from rtnet.sinks.base import RunStats
from rtnet.sinks.window import WindowSink

stats = RunStats("test", live=False)
frame = np.zeros((200, 300, 3), np.uint8)
frame[50:150, 100:200] = (0, 0, 255)

# Closing the window (as the window manager does) asks the run to stop.
sink = WindowSink("rtnet test")
sink.start(stats)
for _ in range(3):
    sink.on_frame(frame, stats)
assert cv2.getWindowProperty("rtnet test", cv2.WND_PROP_VISIBLE) >= 1
assert not sink.stop_requested()
cv2.destroyWindow("rtnet test")
cv2.waitKey(1)  # the GUI loop handles the close, as after a click on the close button
sink.on_frame(frame, stats)
assert sink.stop_requested()
shown = sink.frames_shown
sink.on_frame(frame, stats)  # ignored once stopping
assert sink.frames_shown == shown == 3
sink.close(Summary.for_app(GESTURES), stats)

# q quits: the test presses it once the window is up.
sink = WindowSink("rtnet keys")
sink.start(stats)
sink.on_frame(frame, stats)
print("READY", flush=True)
deadline = time.monotonic() + 20
while not sink.stop_requested() and time.monotonic() < deadline:
    sink.on_frame(frame, stats)
    time.sleep(0.02)
assert sink.stop_requested(), "q did not stop the run"
sink.close(Summary.for_app(GESTURES), stats)
print("OK", flush=True)
"""


def test_window_sink_close_and_quit_key(xvfb_display: str) -> None:
    process = subprocess.Popen(
        [sys.executable, "-c", WINDOW_SINK_SCRIPT],
        text=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=rtnet_env(xvfb_display),
    )
    assert process.stdout is not None
    ready = process.stdout.readline().strip()
    assert ready == "READY", process.communicate(timeout=60)[1]
    press_key(xvfb_display, "q")
    out, err = process.communicate(timeout=60)
    assert process.returncode == 0, err
    assert out.strip() == "OK"
    assert err == ""  # Qt warnings (fonts) are dealt with


def test_window_run_writes_what_it_shows(
    xvfb_display: str, reference_dir: Path, standin_weights_dir: Path, tmp_path: Path
) -> None:
    result = run_rtnet(
        "gestures",
        "--path-in",
        str(reference_dir / "video.mkv"),
        "--quiet",
        "--weights-dir",
        str(standin_weights_dir),
        "--path-out",
        str(tmp_path / "shown.mp4"),
        "--jsonl",
        str(tmp_path / "out.jsonl"),
        display=xvfb_display,
    )
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    frames = read_video(tmp_path / "shown.mp4")
    assert len(frames) == 64
    assert frames[0].shape == (480 + Overlay(GESTURES.display_lines).border_height(640), 640, 3)
    assert len((tmp_path / "out.jsonl").read_text().splitlines()) == 16


def test_q_in_the_window_ends_the_run_cleanly(
    xvfb_display: str, reference_dir: Path, standin_weights_dir: Path, tmp_path: Path
) -> None:
    jsonl, video = tmp_path / "out.jsonl", tmp_path / "out.mp4"
    # A long input, processed as fast as inference allows: still running when q comes.
    long_video = write_long_video(tmp_path / "long.mkv")
    process = start_gestures(long_video, standin_weights_dir, jsonl, video, xvfb_display)
    wait_for_lines(jsonl, 2, process)
    press_key(xvfb_display, "q")
    _, err = process.communicate(timeout=60)
    assert process.returncode == 0, err
    records = [json.loads(line) for line in jsonl.read_text().splitlines()]
    assert 2 <= len(records) < LONG_VIDEO_FRAMES // 4  # stopped early
    assert 4 * len(records) <= len(read_video(video)) < LONG_VIDEO_FRAMES
    assert "summary (interrupted)" in err
