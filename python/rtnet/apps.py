"""The apps as data: which heads they run and which post-processors turn outputs into results.

An app is an ``AppSpec`` (heads, smoothing, thresholds, which post-processors) and ``App`` runs the
post-processors it names, in order, once per model step. Each post-processor adds its JSONL fields
and its display line to the step's ``StepResult``; nothing here knows about windows or files.

Fitness, calories, reps and gestures run on SenseKit's heads or on the built-in pose models: the
pose variant of a spec (``AppSpec.on_pose``) takes its classes, MET and reps from the exercise
engine (``rtnet.exercises``), its gestures from the gesture engine (``rtnet.gestures``) instead,
with the same JSONL fields.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from types import ModuleType
from typing import Any, Literal, Protocol

import numpy as np

from rtnet import CalorieAccumulator, RepCounter, Smoother
from rtnet.errors import ConfigError
from rtnet.labels import Labels
from rtnet.resample import MODEL_FPS, STEP_FRAMES

TOP_K = 5

Gender = Literal["male", "female"] | None


# Plausible ranges; they also keep the resting metabolic rate in the calorie formula positive,
# which the MET correction divides by.
PROFILE_LIMITS = {
    "weight": (20.0, 350.0, "kg"),
    "height": (100.0, 250.0, "cm"),
    "age": (10.0, 110.0, "years"),
}


@dataclass(frozen=True)
class Profile:
    """The person whose calories are counted (gender None: unspecified)."""

    weight: float = 70.0
    height: float = 170.0
    age: float = 30.0
    gender: Gender = None

    def validated(self) -> Profile:
        for name, (low, high, unit) in PROFILE_LIMITS.items():
            value = getattr(self, name)
            if not math.isfinite(value) or not low <= value <= high:
                raise ConfigError(
                    f"invalid --{name} {value:g}: expected {low:g} to {high:g} {unit}"
                )
        if self.gender not in ("male", "female", None):
            raise ConfigError(f"invalid --gender {self.gender!r}: expected male, female or other")
        return self


@dataclass
class StepResult:
    """Everything one model step produced, for every sink."""

    step: int
    time: float  # stream time at the end of the step, seconds
    record: dict[str, Any]  # the JSONL object, in contract order
    top: tuple[str, float] | None = None  # smoothed argmax: JSONL `top`, the summary's classes
    headline: str | None = None  # the displayed class (apps that display one)
    lines: list[str] = field(default_factory=list)  # other display lines: calories, reps
    ranking: list[tuple[str, float]] = field(default_factory=list)  # top-5 smoothed classes
    smoothed: np.ndarray | None = None
    shown: tuple[str, float] | None = None  # top class when it passes the display threshold
    banner: str | None = None  # large text over the video (a fired gesture, while held)
    fired: str | None = None  # gesture that fired at this step
    calories: float | None = None
    counts: dict[str, int] | None = None
    met: float | None = None  # the step's MET, from the MET head or the exercise engine
    exercise: Any = None  # the exercise engine's ``ExerciseState`` (apps on pose)
    # Draws what the step found (a skeleton) onto a copy of frame ``index`` (a tick), before
    # the overlay text.
    annotate: Callable[[np.ndarray, int], None] | None = None


class PostProcessor(Protocol):
    # ``outputs``: the network's, per head for the clip networks, a FrameTracks for tracking.
    def update(self, outputs: Any, result: StepResult) -> None: ...

    def reset(self) -> None: ...


class Classification:
    """Smoothed probabilities of a classifier head: JSONL ``probs``/``top``, the top-5 ranking.

    The top class is displayed only when its smoothed probability reaches ``display_threshold``
    (below it the window shows "..."); JSONL ``top`` is the argmax whatever its probability."""

    def __init__(
        self, head: str, labels: Sequence[str], smoothing: int, display_threshold: float | None
    ) -> None:
        self.head = head
        self.labels = tuple(labels)
        self.display_threshold = display_threshold
        self._smoother = Smoother(smoothing, len(self.labels))

    def update(self, outputs: Mapping[str, np.ndarray], result: StepResult) -> None:
        probs = np.asarray(outputs[self.head], dtype=np.float32)
        smoothed = np.asarray(self._smoother.update(probs))
        order = np.argsort(-smoothed, kind="stable")
        top = int(order[0])
        result.smoothed = smoothed
        result.ranking = [(self.labels[i], float(smoothed[i])) for i in order[:TOP_K]]
        result.top = (self.labels[top], float(smoothed[top]))
        result.record["probs"] = [float(p) for p in probs]
        result.record["top"] = {"label": result.top[0], "prob": result.top[1]}
        if self.display_threshold is None:
            return
        if result.top[1] >= self.display_threshold:
            result.shown = result.top
            result.headline = f"{self.labels[top]}  {smoothed[top]:.0%}"
        else:
            result.headline = "..."  # nothing confident enough to show

    def reset(self) -> None:
        self._smoother.reset()


class MetHead:
    """The step's MET from SenseKit's MET head, for the CalorieTracker."""

    def update(self, outputs: Mapping[str, np.ndarray], result: StepResult) -> None:
        result.met = float(np.asarray(outputs["met"]).reshape(-1)[0])

    def reset(self) -> None:
        pass


class CalorieTracker:
    """The step's MET (``MetHead`` or ``Exercises``) -> calories burnt, with dt = stream time
    since the previous step."""

    def __init__(self, profile: Profile, *, detailed: bool, smoothing_s: float = 12.0) -> None:
        self.profile = profile
        self.detailed = detailed
        self.smoothing_s = smoothing_s
        self._accumulator = self._new_accumulator()
        self._last_time = 0.0

    def _new_accumulator(self) -> CalorieAccumulator:
        p = self.profile
        return CalorieAccumulator(
            weight=p.weight,
            height=p.height,
            age=p.age,
            gender=p.gender,
            smoothing=self.smoothing_s,
            recovery_factor=60.0,
        )

    def update(self, outputs: Any, result: StepResult) -> None:
        assert result.met is not None, "CalorieTracker runs after MetHead or Exercises"
        met = result.met
        # Dropped clips (a camera falling behind) still count as time spent exercising.
        dt = result.time - self._last_time
        self._last_time = result.time
        update = self._accumulator.update(met, dt)
        result.calories = float(update.total_calories)
        result.record["met"] = met
        if self.detailed:
            result.record["met_corrected"] = float(update.met_corrected)
            result.lines.append(
                f"MET live {update.met_live:.1f}   corrected {update.met_corrected:.1f}   "
                f"{update.total_calories:.2f} kcal"
            )
        else:
            result.lines.append(f"MET {update.met_live:.1f}   {update.total_calories:.2f} kcal")
        result.record["calories"] = float(update.total_calories)

    def reset(self) -> None:
        self._accumulator = self._new_accumulator()
        self._last_time = 0.0


class RepCounting:
    """Jumping jacks and squats counted from the rep head's position classes."""

    def __init__(self, threshold: float) -> None:
        self._counter = RepCounter(threshold)

    def update(self, outputs: Mapping[str, np.ndarray], result: StepResult) -> None:
        self._counter.update(np.asarray(outputs["reps"], dtype=np.float32))
        counts = {k: int(v) for k, v in self._counter.counts.items()}
        result.counts = counts
        result.record["counts"] = counts
        result.lines.append(f"Jumping jacks {counts['jumping_jacks']}   Squats {counts['squats']}")

    def reset(self) -> None:
        self._counter.reset()


def _report_scores(
    result: StepResult, labels: Sequence[str], state: Any, display_threshold: float | None
) -> None:
    """An engine state's scores (``probs`` by label, ``label``, ``top``) as ``Classification``
    reports smoothed probabilities: JSONL ``probs`` in ``labels`` order and ``top``, the ranking,
    and the headline when the top score reaches ``display_threshold``."""
    probs = np.array([state.probs[label] for label in labels], np.float32)
    result.smoothed = probs
    result.ranking = state.top(TOP_K)
    result.top = (state.label, state.probs[state.label])
    result.record["probs"] = [float(p) for p in probs]
    result.record["top"] = {"label": result.top[0], "prob": result.top[1]}
    if display_threshold is not None:
        if result.top[1] >= display_threshold:
            result.shown = result.top
            result.headline = f"{state.label}  {result.top[1]:.0%}"
        else:
            result.headline = "..."


class Exercises:
    """The exercise engine on a step of pose landmarks (``rtnet.tracking.PoseStep``): the step's
    MET for the CalorieTracker and, with ``classes``, JSONL ``probs`` (one per
    ``ExerciseEngine.labels``: the exercise definitions' names, "Doing nothing" and "No person
    visible", in the order of their files in rtnet/exercises/data) and ``top``, the headline and
    ranking as ``Classification`` has them; the visibility note as a display line.

    The engine's scores are already taken over each exercise's window: no further smoothing."""

    def __init__(self, *, classes: bool, display_threshold: float | None) -> None:
        # Imported when such an app runs: building the CLI's parser stays light.
        from rtnet.exercises import ExerciseEngine
        from rtnet.tracking import draw

        self._new_engine = ExerciseEngine
        self._draw = draw
        self.classes = classes
        self.display_threshold = display_threshold
        self._engine: ExerciseEngine | None = None

    def update(self, outputs: Any, result: StepResult) -> None:
        if self._engine is None:  # the landmarks are normalised to the frame: its aspect matters
            self._engine = self._new_engine(aspect=outputs.aspect)
        state = self._engine.update(outputs.landmarks, outputs.times)
        result.exercise, result.met = state, state.met
        if self.classes:
            _report_scores(result, self._engine.labels, state, self.display_threshold)
        result.lines.append(f"seen: {state.visibility}")
        result.annotate = _skeletons(outputs.tracks, self._draw)

    def reset(self) -> None:
        self._engine = None


class Gestures:
    """The gesture engine on a step of pose and hand landmarks (``rtnet.tracking.PoseStep``):
    JSONL ``probs`` (one per ``labels``: the gesture definitions' names, "Doing nothing" and "No
    person visible", in the order of their files in rtnet/gestures/data) and ``top``, the
    headline and ranking as ``Classification`` has them, for ``GestureEvents``; the hands seen as
    a display line. The engine's scores are already taken over each gesture's window."""

    def __init__(self, display_threshold: float | None) -> None:
        # Imported when the app runs: building the CLI's parser stays light.
        from rtnet.gestures import GestureEngine, load_gestures

        self._new_engine = GestureEngine
        self._definitions = load_gestures()
        self.labels = tuple(d.name for d in self._definitions)
        self.display_threshold = display_threshold
        self._engine: GestureEngine | None = None

    def update(self, outputs: Any, result: StepResult) -> None:
        if self._engine is None:  # the landmarks are normalised to the frame: its aspect matters
            self._engine = self._new_engine(
                self._definitions, aspect=outputs.aspect, mirrored=outputs.mirrored
            )
        state = self._engine.update(outputs.landmarks, outputs.hands, outputs.times)
        _report_scores(result, self.labels, state, self.display_threshold)
        result.lines.append(f"hands: {', '.join(state.hands) or 'none'}")

    def reset(self) -> None:
        self._engine = None


class ExerciseReps:
    """Reps of every rep exercise the exercise engine counts (runs after ``Exercises``)."""

    def update(self, outputs: Any, result: StepResult) -> None:
        assert result.exercise is not None, "ExerciseReps runs after Exercises"
        counts = {name: int(n) for name, n in result.exercise.reps.items()}
        result.counts = counts
        result.record["counts"] = counts
        done = [f"{name} {n}" for name, n in counts.items() if n]
        result.lines.append("   ".join(done) or "no reps yet")

    def reset(self) -> None:
        pass


class GestureEvents:
    """A gesture "fires" when its smoothed probability passes its threshold; it is then held
    (shown large) for ``hold_s`` seconds of stream time, during which nothing else fires."""

    def __init__(
        self, labels: Sequence[str], thresholds: Mapping[str, float], hold_s: float
    ) -> None:
        self.labels = tuple(labels)
        self.thresholds = dict(thresholds)
        self.hold_s = hold_s
        self._held: str | None = None
        self._held_until = 0.0

    def update(self, outputs: Mapping[str, np.ndarray], result: StepResult) -> None:
        assert result.smoothed is not None, "GestureEvents runs after Classification"
        # Times are multiples of 0.25 s; the epsilon keeps float sums from shortening the hold.
        if self._held is not None and result.time < self._held_until - 1e-9:
            result.banner = self._held
        else:
            self._held = None
            for index in np.argsort(-result.smoothed, kind="stable"):
                label = self.labels[index]
                threshold = self.thresholds.get(label)
                if threshold is not None and result.smoothed[index] > threshold:
                    self._held, self._held_until = label, result.time + self.hold_s
                    result.fired = result.banner = label
                    break
        result.record["fired"] = result.fired

    def reset(self) -> None:
        self._held = None
        self._held_until = 0.0


def _skeletons(tracks: Sequence[Any], draw: ModuleType) -> Callable[[np.ndarray, int], None]:
    """Draws the pose and hands tracked in each frame of a step (``FrameTracks``) on that frame.

    A live display draws a newer frame than the step's last: it gets the last one's skeleton."""
    by_frame = {frame_tracks.frame: frame_tracks for frame_tracks in tracks}

    def annotate(frame: np.ndarray, index: int) -> None:
        found = by_frame.get(index, tracks[-1] if tracks else None)
        if found is None:
            return
        if found.pose is not None:
            draw.draw_pose(frame, found.pose)
        draw.draw_hands(frame, found.hands)

    return annotate


class Tracks:
    """Tracked pose and hands of one frame (``rtnet.tracking.FrameTracks``): the JSONL ``pose``
    and ``hands``, a one-line description, the skeleton drawn on the frame, and how many frames
    had a pose and had hands so far."""

    def __init__(self) -> None:
        # Imported when a tracking app runs: building the CLI's parser must not import OpenCV.
        from rtnet.tracking import draw

        self._draw = draw
        self._counts = {"frames with a pose": 0, "frames with hands": 0}

    def update(self, outputs: Any, result: StepResult) -> None:
        tracks, draw = outputs, self._draw
        record = tracks.to_json()
        # The JSONL object but for the index and time, which every app's record starts with.
        result.record.update((k, v) for k, v in record.items() if k not in ("frame", "time"))
        parts = [
            "no pose" if tracks.pose is None else f"pose {tracks.pose.score:.0%}",
            ", ".join(f"{hand.handedness} hand" for hand in tracks.hands) or "no hands",
        ]
        result.headline = "   ".join(parts)
        self._counts["frames with a pose"] += tracks.pose is not None
        self._counts["frames with hands"] += bool(tracks.hands)
        result.counts = dict(self._counts)

        result.annotate = _skeletons([tracks], draw)

    def reset(self) -> None:
        self._counts = dict.fromkeys(self._counts, 0)


@dataclass(frozen=True)
class AppSpec:
    """What distinguishes one app from another; everything else is shared."""

    name: str
    help: str
    heads: tuple[str, ...]  # head kinds the network runs, see rtnet.models.build_head
    classifier: str | None = None  # head whose probabilities are classified and reported
    smoothing: int = 1  # classifier smoothing window, in model steps
    display_threshold: float | None = None  # show the top class when its probability reaches this
    calories: Literal["brief", "detailed"] | None = None
    rep_threshold: float | None = None
    gesture_hold_s: float | None = None
    uses_profile: bool = False
    time_per_class: bool = False  # summary: how long each class was on top (and displayed)
    # Class names of a custom classifier (`rtnet run --classifier`); None: the packaged labels.
    class_names: tuple[str, ...] | None = None
    # Frames per model step: 4-frame clips for the video networks; the landmark trackers take
    # every frame (their JSONL has one object per "frame" rather than per "step").
    frames_per_step: int = STEP_FRAMES
    tracking: bool = False  # pose and hand landmarks (rtnet.tracking)
    # Classes, MET and reps from the exercise engine on pose landmarks (rtnet.exercises), not
    # from SenseKit heads: see ``on_pose``.
    exercises: bool = False

    def on_pose(self) -> AppSpec:
        """This app on the built-in pose models (``--model pose``): same outputs, no heads."""
        return replace(self, heads=(), exercises=True, smoothing=1)

    @property
    def title(self) -> str:
        return f"rtnet {self.name}"

    @property
    def step_seconds(self) -> float:
        return self.frames_per_step / MODEL_FPS

    @property
    def index_name(self) -> str:
        """The JSONL key of the step's index."""
        return "frame" if self.frames_per_step == 1 else "step"

    @property
    def display_lines(self) -> int:
        """Lines of results under the title: headline, calories, reps (as the app has them)."""
        return sum(
            (
                self.classifier is not None and self.display_threshold is not None,
                self.calories is not None,
                self.rep_threshold is not None,
                self.tracking,
                self.exercises,  # what part of the body is seen (the hands, for gestures)
            )
        )


FITNESS = AppSpec(
    name="fitness",
    help="recognise exercises and count the calories burnt",
    heads=("fitness", "met"),
    classifier="fitness",
    smoothing=8,
    display_threshold=0.5,
    calories="brief",
    uses_profile=True,
    time_per_class=True,
)
CALORIES = AppSpec(
    name="calories",
    help="estimate MET and calories burnt (detailed display)",
    heads=("met",),
    calories="detailed",
    uses_profile=True,
)
GESTURES = AppSpec(
    name="gestures",
    help="recognise 30 hand and head gestures",
    heads=("gestures",),
    classifier="gestures",
    smoothing=4,
    display_threshold=0.5,
    gesture_hold_s=2.0,
)
REPS = AppSpec(
    name="reps",
    help="count jumping jacks and squats",
    heads=("reps",),
    classifier="reps",
    smoothing=1,
    rep_threshold=0.4,
)
POSE = AppSpec(
    name="pose",
    help="track the body and hands (built-in MediaPipe models, no weights needed)",
    heads=(),
    frames_per_step=1,
    tracking=True,
)
APPS: dict[str, AppSpec] = {spec.name: spec for spec in (FITNESS, CALORIES, GESTURES, REPS, POSE)}


def build_postprocessors(spec: AppSpec, labels: Labels, profile: Profile) -> list[PostProcessor]:
    """The post-processors ``spec`` asks for, in the order their results depend on each other."""
    chain: list[PostProcessor] = []
    gesture_labels = labels.gestures
    if spec.exercises and spec.gesture_hold_s is not None:
        gestures = Gestures(spec.display_threshold)
        gesture_labels = gestures.labels
        chain.append(gestures)
    elif spec.exercises:
        classes = spec.classifier is not None
        chain.append(Exercises(classes=classes, display_threshold=spec.display_threshold))
    elif spec.classifier is not None:
        chain.append(
            Classification(
                spec.classifier,
                spec.class_names or labels.for_head(spec.classifier),  # type: ignore[arg-type]
                spec.smoothing,
                spec.display_threshold,
            )
        )
    if spec.calories is not None:
        if not spec.exercises:
            chain.append(MetHead())
        chain.append(CalorieTracker(profile, detailed=spec.calories == "detailed"))
    if spec.rep_threshold is not None:
        chain.append(ExerciseReps() if spec.exercises else RepCounting(spec.rep_threshold))
    if spec.gesture_hold_s is not None:
        chain.append(
            GestureEvents(gesture_labels, labels.gesture_event_thresholds, spec.gesture_hold_s)
        )
    if spec.tracking:
        chain.append(Tracks())
    return chain


class App:
    """A running app: network outputs of step ``k`` in, ``StepResult`` out."""

    def __init__(self, spec: AppSpec, labels: Labels, profile: Profile | None = None) -> None:
        self.spec = spec
        self.postprocessors = build_postprocessors(spec, labels, profile or Profile())

    def process(self, step: int, outputs: Any) -> StepResult:
        time = self.spec.step_seconds * (step + 1)
        # Each post-processor adds only the fields it produces: no empty placeholders (the
        # calories app, without a classifier, has no `probs` and no `top`).
        record: dict[str, Any] = {self.spec.index_name: step, "time": time}
        result = StepResult(step=step, time=time, record=record)
        for postprocessor in self.postprocessors:
            postprocessor.update(outputs, result)
        return result

    def reset(self) -> None:
        for postprocessor in self.postprocessors:
            postprocessor.reset()


@dataclass
class Summary:
    """What a run amounted to, accumulated from its step results."""

    duration: float = 0.0  # stream seconds covered by model steps
    steps: int = 0
    # Stream seconds per class, counted from the steps' JSONL `top` (so the two always agree),
    # and the part of that time the class was displayed (smoothed probability at or above
    # ``display_threshold``; below it the window shows "...").
    time_per_class: dict[str, float] = field(default_factory=dict)
    time_shown: dict[str, float] = field(default_factory=dict)
    display_threshold: float | None = None
    calories: float | None = None
    counts: dict[str, int] | None = None
    fired: list[tuple[float, str]] | None = None  # (time, label); None: the app fires nothing
    track_classes: bool = False

    @classmethod
    def for_app(cls, spec: AppSpec) -> Summary:
        return cls(
            track_classes=spec.time_per_class,
            display_threshold=spec.display_threshold,
            fired=[] if spec.gesture_hold_s is not None else None,
        )

    def add(self, result: StepResult) -> None:
        self.steps += 1
        step_time = result.time - self.duration
        self.duration = result.time
        if self.track_classes and result.top is not None:
            label = result.top[0]
            self.time_per_class[label] = self.time_per_class.get(label, 0.0) + step_time
            if result.shown is not None:
                self.time_shown[label] = self.time_shown.get(label, 0.0) + step_time
        if result.calories is not None:
            self.calories = result.calories
        if result.counts is not None:
            self.counts = dict(result.counts)
        if result.fired is not None and self.fired is not None:
            self.fired.append((result.time, result.fired))
