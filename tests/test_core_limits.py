"""Sizes and values at and beyond the Rust core's limits: a ValueError naming the argument, never
an allocation abort or a panic. Calls that could abort run in a subprocess, so that a regression
fails the test instead of killing the test run."""

from __future__ import annotations

import math
import subprocess
import sys
import time

import numpy as np
import pytest

from rtnet import CalorieAccumulator, FrameRing, Smoother
from rtnet._core import letterbox, preprocess

# Each snippet must raise ValueError whose message contains the expected text.
HUGE_REQUESTS = [
    ("Smoother(10**12, 3)", "window must be in 1..=10000"),
    ("Smoother(2**62, 3)", "window must be in 1..=10000"),
    ("Smoother(10**30, 3)", "window must be in 1..=10000"),
    ("Smoother(3, 2**62)", "num_classes must be in 1..=100000"),
    ("Smoother(10000, 100000)", "window * num_classes must be <= 16777216"),
    ("Smoother(2, 3).update(range(10**12))", "probs must have at most 100000 values"),
    (
        "Smoother(2, 3).update(np.broadcast_to(np.float32(0), (10**12,)))",
        "probs must have at most 100000 values",
    ),
    ("RepCounter().update(range(10**12))", "probs must have at most 100000 values"),
    ("s = Smoother(2, 3); s.update([0.1] * 3); s.topk(2**63)", "k must be in 1..=3"),
    ("FrameRing(2**62)", "capacity must be in 1..=1024"),
    ("FrameRing(-(2**70))", "capacity must be in 1..=1024"),
    ("FrameRing(1025)", "capacity must be in 1..=1024"),
    (
        "preprocess(np.broadcast_to(np.zeros(3, np.uint8), (4, 10**9, 3)))",
        "1 <= H, W <= 32768",
    ),
    (
        "FrameRing().push(np.broadcast_to(np.zeros(3, np.uint8), (2**40, 2**20, 3)))",
        "1 <= H, W <= 32768",
    ),
    (
        "letterbox(np.broadcast_to(np.zeros(3, np.uint8), (32769, 1, 3)))",
        "1 <= H, W <= 32768",
    ),
    (
        "CalorieAccumulator().update(np.broadcast_to(np.float32(1), (2**40,)), 0.25)",
        "met must be an array of 1 to 1048576 values",
    ),
]

PRELUDE = (
    "import numpy as np\n"
    "from rtnet._core import CalorieAccumulator, FrameRing, RepCounter, Smoother, letterbox, "
    "preprocess\n"
)


@pytest.mark.parametrize(("snippet", "message"), HUGE_REQUESTS)
def test_huge_requests_are_value_errors_in_a_live_interpreter(snippet: str, message: str) -> None:
    code = PRELUDE + (
        f"try:\n    {snippet}\nexcept ValueError as err:\n    print('ValueError:', err)\n"
        "else:\n    print('no error')\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.startswith("ValueError:"), done.stdout + done.stderr[-2000:]
    assert message in done.stdout


def test_sizes_at_the_limits_work() -> None:
    assert Smoother(10000, 1677).window == 10000
    assert FrameRing(1024).capacity == 1024
    frame = np.broadcast_to(np.arange(3, dtype=np.uint8), (32768, 32768, 3))
    np.testing.assert_array_equal(letterbox(frame)[128, 128], [0, 1, 2])
    assert preprocess(frame).shape == (3, 256, 256)


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        ({"weight": 1e308}, "weight"),
        ({"weight": 9.9}, "weight"),
        ({"weight": 700.5}, "weight"),
        ({"height": 49}, "height"),
        ({"height": 1e6}, "height"),
        ({"age": 151}, "age"),
        ({"age": math.inf}, "age"),
        ({"smoothing": 1e300}, "smoothing"),
        ({"recovery_factor": 3601}, "recovery_factor"),
        ({"recovery_factor": -math.inf}, "recovery_factor"),
    ],
)
def test_calorie_profile_out_of_range_is_a_value_error(kwargs: dict, name: str) -> None:
    with pytest.raises(ValueError, match=f"^{name} must be"):
        CalorieAccumulator(**kwargs)


def test_a_profile_without_resting_metabolism_is_a_value_error() -> None:
    # Every value in range, but Mifflin-St Jeor gives 100 + 312.5 - 500 - 161 < 100 kcal/day.
    with pytest.raises(ValueError, match="resting metabolic rate below 100"):
        CalorieAccumulator(weight=10, height=50, age=100, gender="female")


@pytest.mark.parametrize(
    ("met", "dt", "match"),
    [(3.0, 1e308, "^dt must be"), (3.0, 3600.5, "^dt must be"), (1e308, 0.25, "^met must be")],
)
def test_calorie_update_out_of_range_is_a_value_error(met: float, dt: float, match: str) -> None:
    accumulator = CalorieAccumulator()
    accumulator.update(4.0, 0.25)
    before = accumulator.total_calories
    with pytest.raises(ValueError, match=match):
        accumulator.update(met, dt)
    assert accumulator.total_calories == before


def test_calories_stay_finite_at_the_extremes() -> None:
    accumulator = CalorieAccumulator(
        weight=700, height=50, age=0, gender="female", smoothing=3600, recovery_factor=3600
    )
    for _ in range(1000):
        update = accumulator.update(1000.0, 3600.0)
    assert math.isfinite(update.total_calories) and update.total_calories > 0
    light = CalorieAccumulator(weight=10, height=300, age=0)
    for _ in range(100):
        update = light.update(5.0, 1.0)
    assert 0 < update.total_calories < 1


def test_repeated_zero_dt_updates_cost_nothing_and_change_nothing() -> None:
    """Before the fix each dt=0 update grew the history and walked all of it: 100000 of them
    took minutes. Now they keep no history: the same calories, and a later update as fast."""
    with_zeros, without = CalorieAccumulator(), CalorieAccumulator()
    for step in range(100):
        with_zeros.update(step % 7, 0.25)
        without.update(step % 7, 0.25)
    started = time.perf_counter()
    for _ in range(100_000):
        with_zeros.update(3.0, 0.0)
    elapsed = time.perf_counter() - started
    assert with_zeros.total_calories == without.total_calories
    # About 0.05 s here; quadratic growth took minutes. Generous for a loaded machine.
    assert elapsed < 20
    first, second = with_zeros.update(3.0, 0.25), without.update(3.0, 0.25)
    assert first.met_corrected == second.met_corrected
