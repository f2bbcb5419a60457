"""Exercise recognition and rep counting on pose landmarks (rtnet.exercises, MotionModel).

The held-out evaluation runs the engine on synthetic sequences (tests/synthetic_pose.py) whose
seeds were not used to tune the definitions, and prints a per-class table.
"""

from __future__ import annotations

import collections
import json
from pathlib import Path

import numpy as np
import pytest

from rtnet._core import MotionModel
from rtnet.errors import ConfigError
from rtnet.exercises import (
    FULL_BODY,
    LEGS_HIDDEN,
    NO_PERSON,
    ExerciseDefinition,
    ExerciseEngine,
    ExerciseState,
    load_definitions,
    parse_definition,
)
from rtnet.exercises.definitions import compile_definitions
from synthetic_pose import ASPECT, EXERCISES, HELD, NON_EXERCISES, Sequence, generate

LABELS = Path(__file__).resolve().parents[1] / "python" / "rtnet" / "labels.json"
# Seeds 0-9 and 100-119 tuned the thresholds (200-211 checked an earlier version); these were
# never run before the test was written.
HELD_OUT = range(300, 312)
STEP = 4  # frames per engine step, as the app feeds them


def run(engine: ExerciseEngine, seq: Sequence) -> tuple[list[str], ExerciseState]:
    engine.reset()
    labels = []
    for k in range(0, len(seq.times), STEP):
        state = engine.update(seq.landmarks[k : k + STEP], seq.times[k : k + STEP])
        labels.append(state.label)
    return labels, state


def test_definitions_use_the_fitness_labels_and_compendium_codes() -> None:
    fitness = json.loads(LABELS.read_text())["fitness"]
    definitions = load_definitions()
    names = {d.name for d in definitions}
    assert names == set(EXERCISES) | {"Doing nothing", "No person visible"}
    assert names <= set(fitness)
    for d in definitions:
        for level in d.met:
            assert level.code is None or (len(level.code) == 5 and level.code.isdigit())
    squats = next(d for d in definitions if d.name == "Squats")
    # Cadence picks the Compendium intensity.
    assert squats.met_at(None) == 2.8 and squats.met_at(20) == 3.8 and squats.met_at(40) == 8.0


def test_bad_definitions_are_config_errors() -> None:
    good = (Path(__file__).parents[1] / "python/rtnet/exercises/data/squats.toml").read_text()
    parse_definition(good, "squats.toml")
    for bad in (
        good.replace('kind = "reps"', 'kind = "dance"'),
        good.replace('"knee > 145"', '"elbow > 155"'),
        good.replace('"knee > 145"', '"knee >> 155"'),
        good.replace('angle = ["hip", "knee", "ankle"]', 'angle = ["hip", "tail", "ankle"]'),
        good.replace('code = "02024"', 'code = "2024"'),
        good.replace('combine = "mean"', 'combine = "mean"\ndepth = "no"'),
        good + "\nunknown = 1\n",
        "name = ",
    ):
        with pytest.raises(ConfigError, match="exercise definition"):
            parse_definition(bad, "bad.toml")


def test_motion_model_rejects_bad_input() -> None:
    with pytest.raises(ValueError, match="combine"):
        MotionModel(
            [(("angle", [[23], [25], [27]], "y"),) * 2 + ("sum", False, 0, 0, 1, 0, True)], []
        )
    with pytest.raises(ValueError, match="point"):
        MotionModel(
            [(("angle", [[23], [99], [27]], "y"),) * 2 + ("mean", False, 0, 0, 1, 0, True)], []
        )
    model = MotionModel([], [])
    with pytest.raises(ValueError, match="shape"):
        model.update(np.zeros((2, 33, 4)), [0.0, 0.1])
    with pytest.raises(ValueError, match="increasing"):
        model.update(np.zeros((2, 33, 5)), [0.1, 0.0])
    with pytest.raises(TypeError):
        model.update(np.zeros((1, 33, 5), dtype=np.int32), [0.0])  # type: ignore[arg-type]


def reps_counted(
    definition: ExerciseDefinition, landmarks: np.ndarray, times: np.ndarray
) -> list[int]:
    """The reps `definition`'s machine has counted after each frame."""
    compiled = compile_definitions([definition])
    model = MotionModel(compiled.signals, compiled.exercises, aspect=ASPECT)
    counts = []
    for k in range(len(times)):
        model.update(landmarks[k : k + 1], times[k : k + 1])
        counts.append(int(model.evidence()["reps"][0]))
    return counts


def test_a_rep_is_made_by_one_tracked_person() -> None:
    """The tracker loses the person mid-rep and finds someone else elsewhere in the picture (as
    on the real video, where a man's half rep was finished by a woman walking past): nothing in
    progress carries over to them. The same person lost for a frame keeps their rep."""
    squats = next(d for d in load_definitions() if d.name == "Squats")
    seq = generate("Squats", 0)
    counts = reps_counted(squats, seq.landmarks, seq.times)
    first = counts.index(1)  # the frame the first rep completes on
    lost = first - 4  # lost there, in the rep's last quarter second
    landmarks = seq.landmarks.copy()
    landmarks[lost] = np.nan
    assert reps_counted(squats, landmarks[: first + 1], seq.times[: first + 1])[-1] == 1
    # Found again a third of the frame away: another person, who stands up.
    landmarks[lost + 1 :, :, 0] += 0.3
    assert reps_counted(squats, landmarks[: first + 1], seq.times[: first + 1])[-1] == 0
    assert reps_counted(squats, landmarks, seq.times)[-1] == seq.reps - 1


def test_a_one_frame_glitch_makes_no_phase() -> None:
    """A phase holds for at least two frames at 16 frames/s unless its definition says
    otherwise: one frame of a knee flying up to the hips (the landmarks in sun glare) is no knee
    raise."""
    text = """
name = "Knee raises"
kind = "reps"
[[met]]
met = 3.0
[signals.knee]          # the higher knee, torso lengths above (+) the hips
position = "knee"
combine = "max"
[[phases]]
name = "down"
when = ["knee < -0.6"]
[[phases]]
name = "up"
when = ["knee > -0.2"]
"""
    raises = parse_definition(text, "knee_raises.toml")
    assert [p.min_duration for p in raises.phases] == [0.06, 0.06]
    seq = generate("idle", 0)
    landmarks = seq.landmarks.copy()
    glitch = len(landmarks) // 2
    landmarks[glitch, 25, 1] = landmarks[glitch, 23, 1]  # the left knee at the left hip's height
    assert reps_counted(raises, landmarks, seq.times)[-1] == 0
    # Taken for a phase when the file allows one frame.
    allowed = text.replace('"knee > -0.2"]', '"knee > -0.2"]\nmin_duration = 0')
    one_frame = parse_definition(allowed, "knee_raises.toml")
    assert reps_counted(one_frame, landmarks, seq.times)[-1] == 1
    # Held on two frames it is one.
    landmarks[glitch + 1, 25, 1] = landmarks[glitch + 1, 23, 1]
    assert reps_counted(raises, landmarks, seq.times)[-1] == 1


def test_a_leg_raised_straight_is_no_knee_drive() -> None:
    """High Knees: a thigh up with the shin hanging from the bent knee. A leg raised straight
    to hip height - as the real video's landmarks fly up in sun glare - is none."""
    high_knees = next(d for d in load_definitions() if d.name == "High Knees")
    seq = generate("idle", 0)

    def raised(bent: bool) -> np.ndarray:
        """Each leg lifted to hip height for two frames, the left, then the right."""
        landmarks = seq.landmarks.copy()
        for start, (hip, knee, ankle) in ((20, (23, 25, 27)), (40, (24, 26, 28))):
            for k in (start, start + 1):
                frame = landmarks[k]
                thigh = np.linalg.norm(frame[knee, :2] - frame[hip, :2])
                shin = np.linalg.norm(frame[ankle, :2] - frame[knee, :2])
                # Forward in the picture (towards the camera is not needed to count).
                frame[knee, :3] = frame[hip, :3] + (thigh, 0, 0)
                frame[ankle, :3] = frame[knee, :3] + ((0, shin, 0) if bent else (shin, 0, 0))
        return landmarks

    assert reps_counted(high_knees, raised(bent=True), seq.times)[-1] == 1
    assert reps_counted(high_knees, raised(bent=False), seq.times)[-1] == 0


def test_generator_is_deterministic_and_varied() -> None:
    a, b = generate("Squats", 3), generate("Squats", 3)
    np.testing.assert_array_equal(a.landmarks, b.landmarks)
    assert a.reps == b.reps
    c = generate("Squats", 4)
    assert c.info != a.info
    assert a.landmarks.shape[1:] == (33, 5)
    np.testing.assert_allclose(np.diff(a.times), 1 / 16)


def test_no_person_and_partly_visible_bodies() -> None:
    engine = ExerciseEngine(aspect=ASPECT)
    state = engine.update(np.full((4, 33, 5), np.nan), np.arange(4) / 16)
    assert (state.label, state.visibility) == ("No person visible", NO_PERSON)
    assert state.probs["No person visible"] == 1.0
    # Filmed from 1-1.6 m the legs are out of the frame: said so, and arm circles still count.
    seq = generate("Arm Circles", 5, partial=True)
    _labels, state = run(engine, seq)
    assert state.visibility == LEGS_HIDDEN
    assert "Arm Circles" in state.countable and "Squats" not in state.countable
    assert abs(state.reps["Arm Circles"] - seq.reps) <= 1
    _, state = run(engine, generate("Squats", 5))
    assert state.visibility == FULL_BODY


def test_state_for_the_app() -> None:
    engine = ExerciseEngine(aspect=ASPECT)
    seq = generate("Jumping Jacks", 0)
    _, state = run(engine, seq)
    assert state.label == "Jumping Jacks"
    assert abs(sum(state.probs.values()) - 1.0) < 1e-9
    assert state.top(1)[0][0] == "Jumping Jacks"
    assert state.met in (3.8, 8.0) and state.cadence is not None and state.cadence > 0
    assert set(state.reps) == set(EXERCISES) - set(HELD)


def evaluate(seeds: range) -> dict[str, dict[str, float]]:
    engine = ExerciseEngine(aspect=ASPECT)
    table: dict[str, dict[str, float]] = {}
    for activity in [*EXERCISES, *NON_EXERCISES]:
        truth = activity if activity in EXERCISES else "Doing nothing"
        recognised = exact = far_off = 0
        worst = 0
        for seed in seeds:
            seq = generate(activity, seed)
            labels, state = run(engine, seq)
            # The sequence's label: the most frequent one once a rep or two had time to show.
            votes = collections.Counter(labels[len(labels) // 3 :])
            recognised += votes.most_common(1)[0][0] == truth
            if activity in EXERCISES and activity not in HELD:
                error = state.reps[activity] - seq.reps
            else:
                error = sum(state.reps.values())  # any rep here is a false one
            exact += error == 0
            far_off += abs(error) > 1
            worst = max(worst, abs(error))
        n = len(seeds)
        table[activity] = {
            "recognised": recognised / n,
            "exact": exact / n,
            "worst": worst,
            "far_off": far_off,
        }
    return table


@pytest.mark.slow
def test_held_out_recognition_and_reps() -> None:
    table = evaluate(HELD_OUT)
    print(f"\n{'class':22s} {'recognised':>10s} {'reps exact':>10s} {'off > 1':>7s} {'worst':>6s}")
    for activity, row in table.items():
        print(
            f"{activity:22s} {row['recognised']:10.0%} {row['exact']:10.0%}"
            f" {row['far_off']:7.0f} {row['worst']:6.0f}"
        )
    exercises = list(EXERCISES)
    recognition = np.mean([table[a]["recognised"] for a in exercises])
    rep_classes = [a for a in exercises if a not in HELD]
    exact = np.mean([table[a]["exact"] for a in rep_classes])
    print(f"exercise recognition {recognition:.1%}, reps exact {exact:.1%}")
    # The issue's targets: recognition >= 95 %, reps exact on >= 95 % of sequences and never off
    # by more than 1, no reps on standing, walking past or sitting. On these seeds today:
    # recognition 100 %, reps exact 98.1 % (106 of 108; two sequences one rep short).
    assert recognition >= 0.95
    for activity in NON_EXERCISES:
        assert table[activity]["exact"] == 1.0, activity
        assert table[activity]["recognised"] == 1.0, activity
    assert exact >= 0.95
    assert sum(table[a]["far_off"] for a in rep_classes) == 0
