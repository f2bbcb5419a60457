"""Overlay drawing, checked on the frames it returns."""

from __future__ import annotations

import numpy as np
import pytest

from rtnet.overlay import Overlay, OverlayView


@pytest.fixture
def frame() -> np.ndarray:
    rng = np.random.default_rng(1)
    return rng.integers(0, 256, (480, 640, 3), dtype=np.uint8)


def text_pixels(region: np.ndarray) -> int:
    return int(np.count_nonzero(region.max(axis=2)))


def test_border_on_top_video_untouched(frame: np.ndarray) -> None:
    overlay = Overlay(lines=2)
    view = OverlayView(title="rtnet fitness", lines=["Squats  91%", "MET 5.2"])
    out = overlay.render(frame, view)
    border = overlay.border_height(640)
    assert out.shape == (480 + border, 640, 3) and out.dtype == np.uint8
    assert overlay.output_size(640, 480) == (640, 480 + border)
    assert np.array_equal(out[border:], frame)
    assert text_pixels(out[:border]) > 500  # the title and the lines are drawn


def test_input_frame_is_not_modified(frame: np.ndarray) -> None:
    before = frame.copy()
    Overlay(lines=1).render(frame, OverlayView(title="t", lines=["x"], banner="Waving"))
    assert np.array_equal(frame, before)


def test_each_line_lands_in_its_own_band(frame: np.ndarray) -> None:
    overlay = Overlay(lines=3)
    border = overlay.border_height(640)
    band = border // 4
    empty = overlay.render(frame, OverlayView(title=""))
    assert text_pixels(empty[:border]) == 0
    third_only = overlay.render(frame, OverlayView(title="", lines=["", "", "Jumping jacks 3"]))
    assert text_pixels(third_only[: border - band]) == 0
    assert text_pixels(third_only[border - band : border]) > 100


def test_more_lines_than_room_are_ignored(frame: np.ndarray) -> None:
    overlay = Overlay(lines=1)
    one = overlay.render(frame, OverlayView(title="t", lines=["a"]))
    two = overlay.render(frame, OverlayView(title="t", lines=["a", "b"]))
    assert np.array_equal(one, two)


def test_status_is_drawn_right_aligned(frame: np.ndarray) -> None:
    overlay = Overlay(lines=0)
    border = overlay.border_height(640)
    out = overlay.render(frame, OverlayView(title="", status="camera 30 fps  model 20 fps"))
    assert text_pixels(out[:border, 320:]) > 50
    assert text_pixels(out[:border, :320]) == 0


def test_banner_over_the_video(frame: np.ndarray) -> None:
    overlay = Overlay(lines=1)
    border = overlay.border_height(640)
    plain = overlay.render(frame, OverlayView(title="t"))
    banner = overlay.render(frame, OverlayView(title="t", banner="Thumb up"))
    changed = np.any(plain != banner, axis=2)
    rows, cols = np.nonzero(changed)
    assert rows.min() >= border  # only the video area
    # Centred: the changed box straddles the middle of the video.
    assert rows.min() < border + 240 < rows.max()
    assert cols.min() < 320 < cols.max()


def test_long_banner_fits_the_frame(frame: np.ndarray) -> None:
    overlay = Overlay(lines=0)
    small = frame[:240, :320]
    plain = overlay.render(small, OverlayView(title=""))
    out = overlay.render(small, OverlayView(title="", banner="Swiping down (with two hands)"))
    cols = np.nonzero(np.any(plain != out, axis=(0, 2)))[0]
    assert cols.min() > 0 and cols.max() < 319


def test_sizes_scale_with_the_frame_width() -> None:
    overlay = Overlay(lines=2)
    assert overlay.border_height(1280) == 2 * overlay.border_height(640)
    tall = np.zeros((1280, 720, 3), np.uint8)
    out = overlay.render(tall, OverlayView(title="portrait"))
    assert out.shape[1] == 720 and out.shape[0] == 1280 + overlay.border_height(720)
