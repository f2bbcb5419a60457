"""The four apps: their post-processors, JSONL records, display lines and summaries."""

from __future__ import annotations

import math

import numpy as np
import pytest

from rtnet import CalorieAccumulator
from rtnet.apps import (
    APPS,
    CALORIES,
    FITNESS,
    GESTURES,
    REPS,
    App,
    GestureEvents,
    Profile,
    StepResult,
    Summary,
)
from rtnet.errors import ConfigError
from rtnet.labels import load_labels

LABELS = load_labels()


def one_hot(n: int, index: int, p: float = 0.9) -> np.ndarray:
    probs = np.full(n, (1 - p) / (n - 1), np.float32)
    probs[index] = p
    return probs


def gesture(label: str, p: float = 0.9) -> dict[str, np.ndarray]:
    return {"gestures": one_hot(30, LABELS.gestures.index(label), p)}


def test_apps_by_name() -> None:
    assert list(APPS) == ["fitness", "calories", "gestures", "reps", "pose"]
    assert FITNESS.heads == ("fitness", "met") and CALORIES.heads == ("met",)
    assert GESTURES.smoothing == 4 and FITNESS.smoothing == 8
    assert [APPS[name].display_lines for name in APPS] == [2, 1, 1, 1, 1]
    # The trackers step frame by frame; their JSONL counts frames, the others steps.
    assert APPS["pose"].frames_per_step == 1 and APPS["pose"].index_name == "frame"
    assert FITNESS.frames_per_step == 4 and FITNESS.index_name == "step"


@pytest.mark.parametrize(
    ("spec", "outputs", "keys"),
    [
        (
            FITNESS,
            {"fitness": one_hot(81, 3), "met": np.array([4.0], np.float32)},
            ["step", "time", "probs", "top", "met", "calories"],
        ),
        (
            CALORIES,
            {"met": np.array([4.0], np.float32)},
            ["step", "time", "met", "met_corrected", "calories"],
        ),
        (GESTURES, gesture("Waving"), ["step", "time", "probs", "top", "fired"]),
        (REPS, {"reps": one_hot(5, 0)}, ["step", "time", "probs", "top", "counts"]),
    ],
)
def test_jsonl_record_fields(spec, outputs, keys) -> None:  # type: ignore[no-untyped-def]
    record = App(spec, LABELS).process(0, outputs).record
    assert list(record) == keys
    assert record["step"] == 0 and record["time"] == 0.25
    import json

    json.dumps(record)  # plain JSON types only


def test_calories_app_has_no_classes() -> None:
    """No classifier: no `probs` and no `top` at all, rather than empty placeholders."""
    record = App(CALORIES, LABELS).process(3, {"met": np.array([2.0], np.float32)}).record
    assert "probs" not in record and "top" not in record and record["time"] == 1.0


def test_classification_top_is_smoothed_argmax_whatever_the_threshold() -> None:
    app = App(FITNESS, LABELS)
    met = np.array([1.0], np.float32)
    first = app.process(0, {"fitness": one_hot(81, 5, 0.9), "met": met})
    second = app.process(1, {"fitness": one_hot(81, 7, 0.3), "met": met})
    assert first.record["top"] == {"label": LABELS.fitness[5], "prob": pytest.approx(0.9)}
    assert first.headline == f"{LABELS.fitness[5]}  90%" and first.shown is not None
    # Smoothed over 8 steps: class 5 is still on top, but below the 0.5 display threshold.
    assert second.record["top"]["label"] == LABELS.fitness[5]
    assert second.record["top"]["prob"] < 0.5
    assert second.shown is None and second.headline == "..."
    assert second.record["probs"][7] == pytest.approx(0.3)  # raw, not smoothed
    assert [label for label, _ in second.ranking][:2] == [LABELS.fitness[5], LABELS.fitness[7]]
    assert len(second.ranking) == 5


def test_fitness_calories_match_the_core_accumulator() -> None:
    profile = Profile(65, 170, 30, "female").validated()
    app = App(FITNESS, LABELS, profile)
    reference = CalorieAccumulator(
        weight=65, height=170, age=30, gender="female", smoothing=12, recovery_factor=60
    )
    for step, met in enumerate([4.0, 5.0, 0.0, 7.5, 3.0]):
        outputs = {"fitness": one_hot(81, 1), "met": np.array([met], np.float32)}
        record = App.process(app, step, outputs).record
        expected = reference.update(met, 0.25)
        assert record["met"] == met
        assert record["calories"] == pytest.approx(expected.total_calories, abs=1e-12)


def test_calories_app_reports_corrected_met() -> None:
    app = App(CALORIES, LABELS, Profile())
    for step in range(8):
        result = app.process(step, {"met": np.array([6.0], np.float32)})
    assert result.record["met_corrected"] > 0 and result.record["calories"] > 0
    assert result.lines[0].startswith("MET live")


def test_reps_are_counted() -> None:
    app = App(REPS, LABELS)
    jacks_down, jacks_up = (
        LABELS.reps.index(f"counting - jumping_jacks_position={p}")
        for p in ("arms_down", "arms_up")
    )
    high, low = (LABELS.reps.index(f"counting - squat_position={p}") for p in ("high", "low"))
    sequence = [jacks_up, jacks_down, jacks_up, jacks_down, low, high, 0]
    for step, index in enumerate(sequence):
        result = app.process(step, {"reps": one_hot(5, index)})
    assert result.record["counts"] == {"jumping_jacks": 2, "squats": 1}
    assert result.lines == ["Jumping jacks 2   Squats 1"]
    assert result.headline is None  # the rep app shows counts, not positions


def test_rep_threshold_is_0_4() -> None:
    app = App(REPS, LABELS)
    up = LABELS.reps.index("counting - jumping_jacks_position=arms_up")
    down = LABELS.reps.index("counting - jumping_jacks_position=arms_down")
    app.process(0, {"reps": one_hot(5, up, 0.39)})
    result = app.process(1, {"reps": one_hot(5, down, 0.9)})
    assert result.record["counts"]["jumping_jacks"] == 0
    app.process(2, {"reps": one_hot(5, up, 0.41)})
    result = app.process(3, {"reps": one_hot(5, down, 0.41)})
    assert result.record["counts"]["jumping_jacks"] == 1


class TestGestureEvents:
    def test_fires_then_holds_for_two_seconds(self) -> None:
        app = App(GESTURES, LABELS)
        results = [app.process(k, gesture("Thumb up")) for k in range(12)]
        fired = [r.record["fired"] for r in results]
        # Fires at 0.25 s, held (shown, not re-fired) until 2.25 s, then fires again.
        assert fired == ["Thumb up"] + [None] * 7 + ["Thumb up"] + [None] * 3
        assert all(r.banner == "Thumb up" for r in results)

    def test_threshold_is_strict_and_per_class(self) -> None:
        events = GestureEvents(LABELS.gestures, {"Waving": 0.5}, hold_s=2.0)
        index = LABELS.gestures.index("Waving")
        for k, (p, expect) in enumerate([(0.5, None), (0.51, "Waving")]):
            smoothed = np.zeros(30, np.float32)
            smoothed[index] = p
            result = StepResult(step=k, time=0.25 * (k + 1), record={}, smoothed=smoothed)
            events.update({}, result)
            assert result.fired == expect

    def test_classes_without_a_threshold_never_fire(self) -> None:
        assert "Doing nothing" not in LABELS.gesture_event_thresholds
        app = App(GESTURES, LABELS)
        results = [app.process(k, gesture("Doing nothing", 0.99)) for k in range(3)]
        assert [r.fired for r in results] == [None] * 3
        assert results[-1].banner is None

    def test_lower_ranked_gesture_fires_when_the_top_has_no_threshold(self) -> None:
        probs = np.zeros(30, np.float32)
        probs[LABELS.gestures.index("Doing nothing")] = 0.6
        probs[LABELS.gestures.index('"Drinking" gesture')] = 0.3  # threshold 0.2
        result = App(GESTURES, LABELS).process(0, {"gestures": probs})
        assert result.fired == '"Drinking" gesture'

    def test_reset_forgets_the_hold(self) -> None:
        app = App(GESTURES, LABELS)
        app.process(0, gesture("Waving"))
        app.reset()
        assert app.process(0, gesture("Waving")).fired == "Waving"


class TestProfile:
    def test_defaults(self) -> None:
        assert Profile() == Profile(70, 170, 30, None)

    @pytest.mark.parametrize(
        ("field", "value", "message"),
        [
            ("weight", -5.0, "invalid --weight -5: expected 20 to 350 kg"),
            ("weight", math.nan, "invalid --weight nan"),
            ("height", 20.0, "invalid --height 20: expected 100 to 250 cm"),
            ("age", 500.0, "invalid --age 500: expected 10 to 110 years"),
        ],
    )
    def test_invalid_values(self, field: str, value: float, message: str) -> None:
        profile = Profile(**{field: value})  # type: ignore[arg-type]
        with pytest.raises(ConfigError, match="^" + message.replace("(", r"\(")):
            profile.validated()

    def test_invalid_gender(self) -> None:
        with pytest.raises(ConfigError, match="--gender"):
            Profile(gender="robot").validated()  # type: ignore[arg-type]


def test_summary_accumulates() -> None:
    summary = Summary.for_app(FITNESS)
    app = App(FITNESS, LABELS, Profile())
    met = np.array([5.0], np.float32)
    for k in range(8):
        summary.add(app.process(k, {"fitness": one_hot(81, 2), "met": met}))
    assert summary.steps == 8 and summary.duration == 2.0
    assert summary.time_per_class == {LABELS.fitness[2]: 2.0}
    assert summary.calories is not None and summary.calories > 0
    assert summary.fired is None and summary.counts is None
    gestures = Summary.for_app(GESTURES)
    gestures.add(App(GESTURES, LABELS).process(0, gesture("Waving")))
    assert gestures.fired == [(0.25, "Waving")] and not gestures.time_per_class


def test_summary_time_per_class_counts_the_jsonl_top_below_the_display_threshold() -> None:
    """Time per class comes from the same `top` as the JSONL, also when it is not displayed;
    the displayed part (probability at the 0.5 threshold or above) is counted beside it."""
    summary = Summary.for_app(FITNESS)
    app = App(FITNESS, LABELS, Profile())
    met = np.array([1.0], np.float32)
    tops = []
    for k, (index, p) in enumerate([(5, 0.9)] + [(7, 0.3)] * 2 + [(7, 0.9)] * 9):
        result = app.process(k, {"fitness": one_hot(81, index, p), "met": met})
        summary.add(result)
        tops.append((result.record["top"]["label"], result.record["top"]["prob"] >= 0.5))
    expected = {label: 0.25 * sum(t == label for t, _ in tops) for label, _ in tops}
    shown = {label: 0.25 * sum(t == label and s for t, s in tops) for label, _ in tops}
    assert summary.time_per_class == expected
    assert summary.time_shown == {label: t for label, t in shown.items() if t}
    assert sum(summary.time_per_class.values()) == summary.duration == 3.0
    assert summary.display_threshold == 0.5
    # Smoothed over 8 steps, class 5 stays on top below 0.5 for a while: not shown, but counted.
    assert summary.time_per_class[LABELS.fitness[5]] > summary.time_shown[LABELS.fitness[5]]
