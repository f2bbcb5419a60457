"""Property and error tests of the rtnet._core bindings: any sizes, strides, dtypes and values;
bad input is a ValueError or TypeError, never a panic or a crash."""

from __future__ import annotations

import math
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import rtnet
from gil_probe import main_thread_ran_during, releases_the_gil
from opencv_reference import opencv_letterbox
from rtnet import CalorieAccumulator, CalorieUpdate, FrameRing, RepCounter, Smoother
from rtnet._core import letterbox, preprocess

FAST = settings(max_examples=50, deadline=None)

NON_UINT8 = [np.int8, np.uint16, np.int32, np.int64, np.float16, np.float32, np.float64, np.bool_]


def to_input(bgr: np.ndarray) -> np.ndarray:
    """The reference scaling of a letterboxed frame: RGB, /255, channel-first, float32."""
    return (bgr[:, :, ::-1].transpose(2, 0, 1) / 255.0).astype(np.float32)


@st.composite
def frame_views(draw: st.DrawFn) -> np.ndarray:
    """A uint8 BGR view of random size whose strides may be negative, stepped or transposed."""
    height = draw(st.integers(1, 320))
    width = draw(st.integers(1, 320))
    seed = draw(st.integers(0, 2**32 - 1))
    base = np.random.default_rng(seed).integers(0, 256, (height, width, 3), dtype=np.uint8)
    if draw(st.booleans()):
        base = base.swapaxes(0, 1)
    step_y, step_x = draw(st.sampled_from([1, 2, -1, -3])), draw(st.sampled_from([1, 3, -1, -2]))
    view = base[::step_y, ::step_x]
    if draw(st.booleans()):
        view = view[:, :, ::-1]
    return view


@FAST
@given(frame_views())
def test_preprocessing_any_view_matches_opencv_on_a_copy(view: np.ndarray) -> None:
    expected = opencv_letterbox(np.ascontiguousarray(view))
    np.testing.assert_array_equal(letterbox(view), expected)
    np.testing.assert_array_equal(preprocess(view), to_input(expected))
    ring = FrameRing(capacity=1)
    ring.push(view)
    np.testing.assert_array_equal(ring.clip()[0], to_input(expected))


def uniform_frame(value: int, shape: tuple[int, int]) -> np.ndarray:
    return np.full((*shape, 3), value, dtype=np.uint8)


@FAST
@given(
    capacity=st.integers(1, 6),
    values=st.lists(st.integers(0, 255), min_size=1, max_size=12),
    shapes=st.lists(st.tuples(st.integers(4, 90), st.integers(4, 90)), min_size=1, max_size=3),
)
def test_frame_ring_clip_holds_the_last_frames_in_time_order(
    capacity: int, values: list[int], shapes: list[tuple[int, int]]
) -> None:
    ring = FrameRing(capacity)
    for i, value in enumerate(values):
        ring.push(uniform_frame(value, shapes[i % len(shapes)]))
    kept = values[-capacity:]
    assert len(ring) == len(kept)
    clip = ring.clip()
    assert clip.shape == (len(kept), 3, 256, 256) and clip.dtype == np.float32
    assert clip.flags.c_contiguous and clip.flags.writeable
    # The output centre samples only the picture (never the border), so it is the frame's value.
    expected = (np.array(kept, dtype=np.float64) / 255).astype(np.float32)
    np.testing.assert_array_equal(clip[:, :, 128, 128], np.repeat(expected[:, None], 3, axis=1))


def test_clip_is_a_fresh_array_torch_takes_without_copying() -> None:
    ring = FrameRing()
    ring.push(uniform_frame(200, (48, 64)))
    clip = ring.clip()
    tensor = torch.from_numpy(clip)
    assert tensor.data_ptr() == clip.ctypes.data
    clip[:] = 0
    assert ring.clip()[0, 0, 128, 128] == np.float32(200 / 255)
    first, second = ring.clip(), ring.clip()
    assert not np.shares_memory(first, second)


def test_bgr_channel_order_keeps_opencv_order() -> None:
    frame = np.random.default_rng(3).integers(0, 256, (90, 160, 3), dtype=np.uint8)
    rgb = preprocess(frame)
    np.testing.assert_array_equal(preprocess(frame, channels="bgr"), rgb[::-1])
    ring = FrameRing(capacity=2, channels="bgr")
    ring.push(frame)
    assert ring.channels == "bgr" and FrameRing().channels == "rgb"
    np.testing.assert_array_equal(ring.clip()[0], rgb[::-1])
    upper_case: Any = "RGB"  # outside the declared Literal on purpose
    with pytest.raises(ValueError, match="channels must be 'rgb' or 'bgr'"):
        FrameRing(channels=upper_case)


def test_frame_ring_len_reset_capacity_repr() -> None:
    ring = FrameRing(capacity=3)
    assert (len(ring), ring.capacity) == (0, 3)
    with pytest.raises(ValueError, match="empty"):
        ring.clip()
    ring.push(uniform_frame(1, (4, 4)))
    assert len(ring) == 1 and repr(ring) == "FrameRing(capacity=3, channels='rgb', len=1)"
    ring.reset()
    assert len(ring) == 0
    with pytest.raises(ValueError, match="empty"):
        ring.clip()
    assert FrameRing().capacity == 4


@pytest.mark.parametrize("capacity", [0, -1])
def test_frame_ring_rejects_bad_capacity(capacity: int) -> None:
    with pytest.raises(ValueError, match="capacity"):
        FrameRing(capacity)


def test_rings_push_from_threads_to_the_same_result() -> None:
    frames = [uniform_frame(value, (480, 640)) for value in (10, 20, 30, 40)]
    rings = [FrameRing(capacity=1) for _ in frames]

    def push_five_times(i: int) -> None:
        for _ in range(5):
            rings[i].push(frames[i])

    with ThreadPoolExecutor(max_workers=len(frames)) as pool:
        list(pool.map(push_five_times, range(len(frames))))
    for ring, frame in zip(rings, frames, strict=True):
        np.testing.assert_array_equal(ring.clip()[0], preprocess(frame))


def test_push_and_preprocess_release_the_gil() -> None:
    frame = np.random.default_rng(5).integers(0, 256, (720, 1280, 3), dtype=np.uint8)
    ring = FrameRing(capacity=2)
    assert releases_the_gil(lambda: ring.push(frame))
    assert releases_the_gil(lambda: preprocess(frame))
    assert releases_the_gil(lambda: letterbox(frame))


def test_the_gil_probe_fails_a_call_that_holds_the_gil() -> None:
    """The same probe on GIL-holding work of about the same length never sees the main thread:
    so the test above cannot pass with the GIL held."""

    def python_loop() -> int:
        return sum(i * i for i in range(20_000))

    assert all(main_thread_ran_during(python_loop, max_calls=50) is not True for _ in range(3))


@FAST
@given(
    dtype=st.sampled_from(NON_UINT8),
    shape=st.tuples(st.integers(1, 20), st.integers(1, 20), st.just(3)),
)
def test_frames_of_another_dtype_are_a_type_error(
    dtype: type[np.generic], shape: tuple[int, ...]
) -> None:
    frame: np.ndarray = np.zeros(shape, dtype=dtype)
    ring = FrameRing()
    for call in (ring.push, preprocess, letterbox):
        with pytest.raises(TypeError, match="uint8"):
            call(frame)
    assert len(ring) == 0


@FAST
@given(
    shape=st.one_of(
        hnp.array_shapes(min_dims=0, max_dims=5, min_side=0, max_side=6).filter(
            lambda s: len(s) != 3 or s[2] != 3 or 0 in s
        ),
    )
)
def test_frames_of_another_shape_are_a_value_error(shape: tuple[int, ...]) -> None:
    frame = np.zeros(shape, dtype=np.uint8)
    ring = FrameRing()
    ring.push(uniform_frame(7, (5, 5)))
    for call in (ring.push, preprocess, letterbox):
        with pytest.raises(ValueError, match="shape"):
            call(frame)
    assert len(ring) == 1


@pytest.mark.parametrize("frame", [None, "frame", [[[0, 0, 0]]], 3.0])
def test_non_arrays_are_a_type_error(frame: Any) -> None:
    for call in (FrameRing().push, preprocess, letterbox):
        with pytest.raises(TypeError, match=r"numpy\.ndarray"):
            call(frame)


def test_read_only_and_broadcast_frames_are_accepted() -> None:
    frame = np.random.default_rng(3).integers(0, 256, (30, 40, 3), dtype=np.uint8)
    frame.flags.writeable = False
    np.testing.assert_array_equal(letterbox(frame), opencv_letterbox(frame))
    pixel = np.broadcast_to(np.array([10, 20, 30], dtype=np.uint8), (30, 40, 3))
    np.testing.assert_array_equal(letterbox(pixel), opencv_letterbox(np.ascontiguousarray(pixel)))


@FAST
@given(
    window=st.integers(1, 10),
    num_classes=st.integers(1, 40),
    dtype=st.sampled_from([np.float32, np.float64]),
    steps=st.integers(1, 15),
    seed=st.integers(0, 2**32 - 1),
)
def test_smoother_is_the_mean_of_the_last_window(
    window: int, num_classes: int, dtype: type[np.floating], steps: int, seed: int
) -> None:
    inputs: np.ndarray = np.random.default_rng(seed).random((steps, num_classes)).astype(dtype)
    smoother = Smoother(window, num_classes)
    for step in range(steps):
        smoothed = smoother.update(inputs[step])
        mean = inputs[max(0, step + 1 - window) : step + 1].astype(np.float64).mean(axis=0)
        assert smoothed.dtype == np.float32
        np.testing.assert_allclose(smoothed, mean, rtol=1e-6)
        k = min(3, num_classes)
        indices, values = smoother.topk(k)
        assert indices.dtype == np.int64 and values.dtype == np.float32
        np.testing.assert_array_equal(indices, np.argsort(-mean, kind="stable")[:k])
        np.testing.assert_allclose(values, mean[indices], rtol=1e-6)


def test_smoother_accepts_strided_arrays_and_sequences() -> None:
    smoother = Smoother(2, 3)
    np.testing.assert_array_equal(smoother.update(np.arange(6.0)[::-2]), [5.0, 3.0, 1.0])
    np.testing.assert_array_equal(smoother.update([1.0, 3.0, 5.0]), [3.0, 3.0, 3.0])
    smoother.reset()
    with pytest.raises(ValueError, match="update"):
        smoother.topk(1)
    assert repr(smoother) == "Smoother(window=2, num_classes=3)"
    assert (smoother.window, smoother.num_classes) == (2, 3)


@pytest.mark.parametrize(
    ("probs", "error", "match"),
    [
        (np.zeros(3, dtype=np.int64), TypeError, "float"),
        (np.zeros((1, 3)), ValueError, "1-D"),
        (np.zeros(4), ValueError, "3 values"),
        ("abc", TypeError, "probs"),
        (None, TypeError, "probs"),
    ],
)
def test_smoother_rejects_bad_probs(probs: Any, error: type[Exception], match: str) -> None:
    with pytest.raises(error, match=match):
        Smoother(2, 3).update(probs)


@pytest.mark.parametrize(("window", "num_classes"), [(0, 3), (-2, 3), (2, 0), (2, -1)])
def test_smoother_rejects_bad_sizes(window: int, num_classes: int) -> None:
    with pytest.raises(ValueError, match=r"window|num_classes"):
        Smoother(window, num_classes)


@pytest.mark.parametrize("k", [0, -1, 4])
def test_topk_rejects_k_outside_the_classes(k: int) -> None:
    smoother = Smoother(1, 3)
    smoother.update(np.ones(3))
    with pytest.raises(ValueError, match="k must"):
        smoother.topk(k)


def reference_reps(probs: np.ndarray, threshold: float) -> tuple[int, int]:
    """The README's hysteresis, written out: (jumping jacks, squats)."""
    counts = []
    for position_0, position_1 in ((3, 4), (1, 2)):
        in_position_1, count = False, 0
        for p in probs:
            if not in_position_1 and p[position_1] > threshold:
                in_position_1 = True
            elif in_position_1 and p[position_0] > threshold:
                in_position_1, count = False, count + 1
        counts.append(count)
    return counts[0], counts[1]


@FAST
@given(
    threshold=st.floats(0, 1),
    probs=hnp.arrays(
        st.sampled_from([np.float32, np.float64]),
        st.tuples(st.integers(1, 60), st.just(5)),
        elements=st.floats(0, 1, width=32),
    ),
)
def test_rep_counter_is_the_two_position_hysteresis(threshold: float, probs: np.ndarray) -> None:
    counter = RepCounter(threshold)
    for p in probs:
        counter.update(p)
    expected = reference_reps(probs.astype(np.float64), threshold)
    assert (counter.jumping_jacks, counter.squats) == expected
    assert counter.counts == {"jumping_jacks": expected[0], "squats": expected[1]}
    counter.reset()
    assert counter.counts == {"jumping_jacks": 0, "squats": 0}


@pytest.mark.parametrize("threshold", [-0.1, 1.5, math.nan])
def test_rep_counter_rejects_bad_threshold(threshold: float) -> None:
    with pytest.raises(ValueError, match="threshold"):
        RepCounter(threshold)


def test_rep_counter_rejects_bad_probs_and_has_a_repr() -> None:
    counter = RepCounter()
    with pytest.raises(ValueError, match="5 values"):
        counter.update(np.zeros(4))
    integer_probs: np.ndarray = np.zeros(5, dtype=np.uint8)
    with pytest.raises(TypeError):
        counter.update(integer_probs)
    assert repr(counter) == "RepCounter(threshold=0.4, jumping_jacks=0, squats=0)"


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        ({"weight": 0}, "weight"),
        ({"weight": -70}, "weight"),
        ({"weight": math.nan}, "weight"),
        ({"height": 0}, "height"),
        ({"height": math.inf}, "height"),
        ({"age": -1}, "age"),
        ({"gender": "robot"}, "gender"),
        ({"smoothing": 0}, "smoothing"),
        ({"smoothing": math.nan}, "smoothing"),
        ({"recovery_factor": -5}, "recovery_factor"),
    ],
)
def test_calorie_accumulator_names_the_bad_argument(kwargs: dict[str, Any], name: str) -> None:
    with pytest.raises(ValueError, match=f"^{name}"):
        CalorieAccumulator(**kwargs)


@pytest.mark.parametrize("gender", ["male", "female", "other", None, "Female"])
def test_calorie_accumulator_accepts_genders(gender: str | None) -> None:
    assert CalorieAccumulator(gender=gender).total_calories == 0.0


@pytest.mark.parametrize(
    ("met", "dt", "error", "match"),
    [
        (-1.0, 0.25, ValueError, "^met"),
        (math.nan, 0.25, ValueError, "^met"),
        (np.array([1.0, math.nan]), 0.25, ValueError, "^met"),
        (np.array([], dtype=np.float32), 0.25, ValueError, "^met"),
        (np.array([3], dtype=np.int64), 0.25, TypeError, "^met"),
        ("3.0", 0.25, TypeError, "^met"),
        (3.0, -0.25, ValueError, "^dt"),
        (3.0, math.inf, ValueError, "^dt"),
    ],
)
def test_calorie_update_rejects_bad_met_and_dt(
    met: Any, dt: float, error: type[Exception], match: str
) -> None:
    accumulator = CalorieAccumulator()
    accumulator.update(2.0, 0.5)
    before = accumulator.total_calories, accumulator.met_live
    with pytest.raises(error, match=match):
        accumulator.update(met, dt)
    assert (accumulator.total_calories, accumulator.met_live) == before


def test_met_array_counts_as_its_mean() -> None:
    by_float, by_array = CalorieAccumulator(), CalorieAccumulator()
    for met in (3.0, 5.5, 1.25):
        expected = by_float.update(met, 0.25)
        got = by_array.update(np.array([[met - 1.0, met + 1.0]], dtype=np.float32)[:, ::-1], 0.25)
        assert (got.total_calories, got.met_live) == (expected.total_calories, expected.met_live)
    assert by_array.update(np.float32(2.5), 0.25).met_live == by_float.update(2.5, 0.25).met_live


@FAST
@given(
    weight=st.floats(30, 200),
    height=st.floats(100, 220),
    age=st.floats(0, 90),
    gender=st.sampled_from(["male", "female", None]),
    updates=st.lists(st.tuples(st.floats(0, 20), st.floats(0, 2)), max_size=40),
)
def test_calories_never_decrease_and_stay_finite(
    weight: float, height: float, age: float, gender: str | None, updates: list
) -> None:
    accumulator = CalorieAccumulator(weight, height, age, gender)
    total = 0.0
    for met, dt in updates:
        update = accumulator.update(met, dt)
        assert math.isfinite(update.total_calories) and update.total_calories >= total
        assert update.met_corrected >= 0 and 0 <= update.met_live <= 20
        if dt == 0:
            assert update.total_calories == total
        total = update.total_calories
    accumulator.reset()
    state = (accumulator.total_calories, accumulator.met_live, accumulator.met_corrected)
    assert state == (0, 0, 0)


def test_calorie_update_is_a_read_only_result() -> None:
    accumulator = CalorieAccumulator(weight=65, height=170, age=30, gender="female")
    for _ in range(40):
        update = accumulator.update(6.0, 0.25)
    assert isinstance(update, CalorieUpdate)
    assert update.total_calories > 0
    with pytest.raises(AttributeError):
        update.total_calories = 0.0  # type: ignore[misc]
    assert repr(update).startswith("CalorieUpdate(total_calories=")
    assert repr(accumulator).startswith(
        "CalorieAccumulator(weight=65.0, height=170.0, age=30.0, gender='female', "
        "smoothing=20.0, recovery_factor=60.0, total_calories="
    )


@pytest.mark.parametrize(
    "cls", [FrameRing, Smoother, RepCounter, CalorieAccumulator, CalorieUpdate]
)
def test_classes_are_documented_under_rtnet(cls: type) -> None:
    assert cls.__module__ == "rtnet"
    assert cls.__doc__
    assert getattr(rtnet, cls.__name__) is cls
