"""The Rust core against the reference goldens (preprocess.npz, postprocess.npz)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from opencv_reference import opencv_letterbox
from rtnet import CalorieAccumulator, FrameRing, RepCounter, Smoother
from rtnet._core import letterbox, preprocess

GENDERS = {0: "female", 1: "male", 2: None}


@pytest.fixture(scope="module")
def preprocess_golden(reference_dir: Path) -> dict[str, np.ndarray]:
    with np.load(reference_dir / "preprocess.npz") as data:
        return dict(data)


@pytest.fixture(scope="module")
def postprocess_golden(reference_dir: Path) -> dict[str, np.ndarray]:
    with np.load(reference_dir / "postprocess.npz") as data:
        return dict(data)


def frame_ids(golden: dict[str, np.ndarray]) -> list[str]:
    return sorted(key[3:] for key in golden if key.startswith("in_"))


def test_letterbox_matches_the_golden_exactly(preprocess_golden: dict[str, np.ndarray]) -> None:
    assert len(frame_ids(preprocess_golden)) == 7
    for i in frame_ids(preprocess_golden):
        frame, expected = preprocess_golden[f"in_{i}"], preprocess_golden[f"out_{i}"]
        np.testing.assert_array_equal(letterbox(frame), expected, err_msg=f"in_{i} {frame.shape}")


def test_preprocess_is_the_golden_as_rgb_unit_channel_first(
    preprocess_golden: dict[str, np.ndarray],
) -> None:
    for i in frame_ids(preprocess_golden):
        expected = preprocess_golden[f"out_{i}"][:, :, ::-1].transpose(2, 0, 1) / 255.0
        out = preprocess(preprocess_golden[f"in_{i}"])
        assert out.dtype == np.float32 and out.shape == (3, 256, 256)
        np.testing.assert_array_equal(out, expected.astype(np.float32))


def test_frame_ring_slots_hold_the_golden_frames(preprocess_golden: dict[str, np.ndarray]) -> None:
    ring = FrameRing(capacity=len(frame_ids(preprocess_golden)))
    for i in frame_ids(preprocess_golden):
        ring.push(preprocess_golden[f"in_{i}"])
    clip = ring.clip()
    for slot, i in enumerate(frame_ids(preprocess_golden)):
        expected = preprocess_golden[f"out_{i}"][:, :, ::-1].transpose(2, 0, 1) / 255.0
        np.testing.assert_array_equal(clip[slot], expected.astype(np.float32))


@pytest.mark.parametrize(
    "shape", [(480, 640), (640, 480), (1, 1), (2, 900), (255, 257), (512, 512), (100, 60)]
)
def test_letterbox_matches_opencv(shape: tuple[int, int]) -> None:
    frame = np.random.default_rng(sum(shape)).integers(0, 256, (*shape, 3), dtype=np.uint8)
    np.testing.assert_array_equal(letterbox(frame), opencv_letterbox(frame))


@pytest.mark.parametrize("window", [1, 4, 8])
def test_smoother_matches_smooth_out(
    postprocess_golden: dict[str, np.ndarray], window: int
) -> None:
    inputs, expected = postprocess_golden["smooth_in"], postprocess_golden[f"smooth_out_{window}"]
    smoother = Smoother(window, inputs.shape[1])
    for step, (probs, row) in enumerate(zip(inputs, expected, strict=True)):
        smoothed = smoother.update(probs)
        start = max(0, step + 1 - window)
        np.testing.assert_allclose(smoothed, inputs[start : step + 1].mean(axis=0), rtol=1e-6)
        indices, values = smoother.topk(3)
        np.testing.assert_array_equal(indices, row[:3].astype(np.int64))
        np.testing.assert_allclose(values, row[3:], rtol=1e-6)


@pytest.mark.parametrize("threshold", [4, 6])
def test_rep_counter_matches_reps_counts(
    postprocess_golden: dict[str, np.ndarray], threshold: int
) -> None:
    counter = RepCounter(threshold=threshold / 10)
    counts = []
    for probs in postprocess_golden["reps_in"]:
        counter.update(probs)
        counts.append((counter.jumping_jacks, counter.squats))
    expected = postprocess_golden[f"reps_counts_{threshold}"]
    assert expected[-1].min() > 0, "the golden should exercise both counters"
    np.testing.assert_array_equal(np.array(counts), expected)
    assert counter.counts == {"jumping_jacks": expected[-1, 0], "squats": expected[-1, 1]}


@pytest.mark.parametrize("profile", [0, 1, 2])
def test_calorie_accumulator_matches_cal_out(
    postprocess_golden: dict[str, np.ndarray], profile: int
) -> None:
    weight, height, age, gender = postprocess_golden["cal_profiles"][profile]
    accumulator = CalorieAccumulator(
        weight=float(weight),
        height=float(height),
        age=float(age),
        gender=GENDERS[int(gender)],
        smoothing=12,
        recovery_factor=60,
    )
    rows = []
    for met, dt in zip(postprocess_golden["cal_met"], postprocess_golden["cal_dur"], strict=True):
        update = accumulator.update(float(met), float(dt))
        rows.append((update.total_calories, update.met_live, update.met_corrected))
    expected = postprocess_golden[f"cal_out_{profile}"]
    np.testing.assert_allclose(np.array(rows), expected, rtol=1e-9, atol=0)
    assert accumulator.total_calories == rows[-1][0]
    assert accumulator.met_live == rows[-1][1]
    assert accumulator.met_corrected == rows[-1][2]


def test_calories_match_the_fitness_pipeline_golden(reference_dir: Path) -> None:
    with np.load(reference_dir / "pipeline.npz") as data:
        met, expected = data["fitness_met"], data["fitness_calories"]
    accumulator = CalorieAccumulator(weight=65, height=170, age=30, gender="female")
    totals = [accumulator.update(m, 0.25).total_calories for m in met.astype(np.float32)]
    np.testing.assert_allclose(totals, expected, rtol=0, atol=1e-6)
