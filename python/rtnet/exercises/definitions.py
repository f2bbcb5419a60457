"""Motion definitions: one TOML file per exercise (or gesture), loaded, validated and compiled
for the core.

A file names the signals the exercise uses (joint angles, body-frame positions, distances,
inclinations, directions, distance ratios, motion, optionally as rates or high-passed), the
posture its frames should show, the cycle of phases that makes one rep and its MET figures. See
data/squats.toml for a commented example. Adding an exercise means adding a file: nothing here
knows any exercise by name.

Gestures (rtnet.gestures) are the same kind of file with their own ``Catalogue``: held hand
shapes and phase sequences done within a time limit, on the pose and the hands' landmarks
(``hand.index_tip``), each measured on either hand (``hand = "either"``).
"""

from __future__ import annotations

import re
import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Literal

from rtnet._core import MotionModel
from rtnet.errors import ConfigError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib  # type: ignore[import-not-found, unused-ignore]

# MediaPipe BlazePose landmark order (33 landmarks); "left" is the person's left.
POSE_LANDMARKS: tuple[str, ...] = (
    "nose",
    "left_eye_inner",
    "left_eye",
    "left_eye_outer",
    "right_eye_inner",
    "right_eye",
    "right_eye_outer",
    "left_ear",
    "right_ear",
    "mouth_left",
    "mouth_right",
    "left_shoulder",
    "right_shoulder",
    "left_elbow",
    "right_elbow",
    "left_wrist",
    "right_wrist",
    "left_pinky",
    "right_pinky",
    "left_index",
    "right_index",
    "left_thumb",
    "right_thumb",
    "left_hip",
    "right_hip",
    "left_knee",
    "right_knee",
    "left_ankle",
    "right_ankle",
    "left_heel",
    "right_heel",
    "left_foot_index",
    "right_foot_index",
)
_INDEX = {name: i for i, name in enumerate(POSE_LANDMARKS)}
# MediaPipe hand landmark order (21 per hand); the core takes the left hand's after the pose's,
# then the right hand's: `left_hand.index_tip`, or `hand.index_tip` measured on each side.
HAND_LANDMARKS: tuple[str, ...] = (
    "wrist",
    "thumb_cmc",
    "thumb_mcp",
    "thumb_ip",
    "thumb_tip",
    "index_mcp",
    "index_pip",
    "index_dip",
    "index_tip",
    "middle_mcp",
    "middle_pip",
    "middle_dip",
    "middle_tip",
    "ring_mcp",
    "ring_pip",
    "ring_dip",
    "ring_tip",
    "pinky_mcp",
    "pinky_pip",
    "pinky_dip",
    "pinky_tip",
)
_HAND_INDEX = {name: i for i, name in enumerate(HAND_LANDMARKS)}
_HAND_START = {"left": len(POSE_LANDMARKS), "right": len(POSE_LANDMARKS) + len(HAND_LANDMARKS)}
# Points that are the mean of landmarks, the same on both sides.
_CENTRES = {
    "hip_centre": (_INDEX["left_hip"], _INDEX["right_hip"]),
    "shoulder_centre": (_INDEX["left_shoulder"], _INDEX["right_shoulder"]),
    "ankle_centre": (_INDEX["left_ankle"], _INDEX["right_ankle"]),
    "ear_centre": (_INDEX["left_ear"], _INDEX["right_ear"]),
    "eye_centre": (_INDEX["left_eye"], _INDEX["right_eye"]),
    "mouth_centre": (_INDEX["mouth_left"], _INDEX["mouth_right"]),
    # Eyes, nose and mouth: where the face turns, against the ears.
    "face_centre": (*range(7), _INDEX["mouth_left"], _INDEX["mouth_right"]),
}
# Points of a hand that are the mean of its landmarks.
_HAND_CENTRES = {
    "fingertips": ("index_tip", "middle_tip", "ring_tip", "pinky_tip"),
    "knuckles": ("index_mcp", "middle_mcp", "ring_mcp", "pinky_mcp"),
    "palm": ("wrist", "index_mcp", "middle_mcp", "ring_mcp", "pinky_mcp"),
}
_OTHER = {"left": "right", "right": "left"}

Kind = Literal["reps", "hold", "idle", "absent", "motion"]
KINDS: tuple[str, ...] = ("reps", "hold", "idle", "absent")
_MEASURES = ("angle", "position", "distance", "inclination", "direction", "ratio", "motion")
_POINTS_PER_MEASURE = {"angle": 3, "distance": 2, "inclination": 2, "direction": 2, "ratio": 4}
# Default soft-threshold widths for recognition: degrees for angles, torso lengths otherwise.
_DEFAULT_SOFTNESS = {"angle": 8.0, "inclination": 8.0, "direction": 0.15, "ratio": 0.15}


@dataclass(frozen=True)
class Catalogue:
    """What a family of definition files may say, and where the built-in ones are."""

    what: str  # "exercise": in error messages
    package: str  # its files are in <package>/data
    kinds: tuple[str, ...]
    # Phase sequences (kind "motion") end with their last phase; reps cycle back to the first.
    sequence_kinds: tuple[str, ...] = ()
    needs_met: bool = True
    # `hand = "either"` allowed: the definition is measured on each hand on its own.
    either_hand: bool = False
    # Every posture condition must be seen (see rtnet._core.MotionModel's `strict`).
    strict: bool = False
    # A phase's `min_duration` (s) where its file gives none: held on more than one frame, so
    # that a one-frame landmark glitch (a leg flying up in glare) makes no phase. Fast moves
    # that clear their thresholds on one frame at 16 frames/s say 0.
    min_phase_duration: float = 0.0


# 0.06 s: two frames at the models' 16 frames/s (1/16 s apart), more at higher rates.
EXERCISES = Catalogue("exercise", "rtnet.exercises", KINDS, min_phase_duration=0.06)
_CONDITION = re.compile(r"^\s*([A-Za-z_][A-Za-z0-9_]*)\s*([<>])\s*(-?[0-9.]+(?:[eE]-?[0-9]+)?)\s*$")

# The compiled forms the core takes (see rtnet._core.MotionModel).
MeasureSpec = tuple[str, list[list[int]], str]
SignalSpec = tuple[MeasureSpec, MeasureSpec, str, bool, float, float, float, float, bool]
ConditionSpec = tuple[int, str, float]


@dataclass(frozen=True)
class Signal:
    name: str
    measure: str
    points: tuple[str, ...]
    axis: str
    combine: str
    rate: bool
    smoothing: float
    hysteresis: float
    softness: float
    highpass: float = 0.0
    # False: measured in the image plane, without the landmarks' depth (see _parse_signal).
    depth: bool = True


@dataclass(frozen=True)
class Condition:
    signal: str
    op: str
    threshold: float


@dataclass(frozen=True)
class Phase:
    name: str
    when: tuple[Condition, ...]
    min_duration: float
    max_duration: float


@dataclass(frozen=True)
class MetLevel:
    """One Compendium entry; it applies from `from_cadence` reps per minute up."""

    met: float
    code: str | None
    intensity: str
    from_cadence: float


@dataclass(frozen=True)
class ExerciseDefinition:
    name: str
    kind: Kind
    signals: tuple[Signal, ...]
    posture: tuple[Condition, ...]
    phases: tuple[Phase, ...]
    window: float
    # The cycle alternates sides: it may start at any phase; a rep = every phase entered once.
    alternating: bool
    met: tuple[MetLevel, ...]
    source: str
    # Longest time from the current phase last holding to the next phase (s).
    within: float = float("inf")
    # "both": sided points on each side, combined; "either": the whole definition on each
    # hand on its own, the better of the two counts.
    hand: str = "both"
    # "closed", "alternating", "sequence" or "swings" (see rtnet._core.MotionModel)
    cycle: str = "closed"
    strict: bool = False

    def met_at(self, cadence: float | None) -> float:
        """The MET of the highest level whose cadence (reps/min) is reached."""
        level = self.met[0]
        for candidate in self.met[1:]:
            if cadence is not None and cadence >= candidate.from_cadence:
                level = candidate
        return level.met


def _error(source: str, message: str) -> ConfigError:
    """``source`` names the file and what it defines: "exercise definition squats.toml"."""
    return ConfigError(f"{source}: {message}")


def _number(
    source: str, where: str, value: object, *, minimum: float = 0.0, infinite: bool = False
) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _error(source, f"{where} must be a number, got {value!r}")
    number = float(value)
    if number != number or number < minimum or (number == float("inf") and not infinite):
        raise _error(source, f"{where} must be a finite number >= {minimum}, got {value!r}")
    return number


def _flag(source: str, where: str, value: object) -> bool:
    if not isinstance(value, bool):
        raise _error(source, f"{where} must be true or false, got {value!r}")
    return value


def _point_indices(source: str, name: str, side: str) -> list[int]:
    """Landmark indices of a point named in a definition, measured on `side`; "other_" names
    the other side's (the hand that does not gesture)."""
    if name.startswith("other_"):
        name, side = name.removeprefix("other_"), _OTHER[side]
    if "." in name:
        hand, _, part = name.partition(".")
        hand_side = {"hand": side, "left_hand": "left", "right_hand": "right"}.get(hand)
        parts = _HAND_CENTRES.get(part, (part,))
        if hand_side is not None and all(p in _HAND_INDEX for p in parts):
            return [_HAND_START[hand_side] + _HAND_INDEX[p] for p in parts]
        raise _error(
            source,
            f"unknown hand point {name!r}: use hand.<landmark> (left_hand., right_hand.) with a"
            f" landmark ({', '.join(HAND_LANDMARKS[:5])}, ...) or {', '.join(_HAND_CENTRES)}",
        )
    if name in _CENTRES:
        return list(_CENTRES[name])
    if name in _INDEX:
        return [_INDEX[name]]
    sided = f"{side}_{name}"
    if sided in _INDEX:
        return [_INDEX[sided]]
    raise _error(
        source,
        f"unknown point {name!r}: use a landmark name ({', '.join(POSE_LANDMARKS[11:17])}, ...),"
        f" one without its side (knee), {', '.join(_CENTRES)}, or hand.<landmark>",
    )


def _parse_signal(source: str, name: str, table: object) -> Signal:
    if not isinstance(table, Mapping):
        raise _error(source, f"signals.{name} must be a table")
    kinds = [k for k in _MEASURES if k in table]
    if len(kinds) != 1:
        raise _error(source, f"signals.{name} needs exactly one of {', '.join(_MEASURES)}")
    measure = kinds[0]
    raw = table[measure]
    points: list[str] = [raw] if isinstance(raw, str) else list(raw)
    if measure == "position" and "origin" in table:
        points.append(str(table["origin"]))
    expected = _POINTS_PER_MEASURE.get(measure)
    if (
        not points
        or not all(isinstance(p, str) for p in points)
        or (expected is not None and len(points) != expected)
    ):
        raise _error(source, f"signals.{name}.{measure} must name {expected or 'some'} points")
    for p in points:
        _point_indices(source, p, "left")
    allowed = {measure, "origin", "axis", "combine", "rate", "smoothing", "hysteresis", "softness"}
    allowed |= {"highpass", "depth"}
    unknown = set(table) - allowed
    if unknown:
        raise _error(source, f"signals.{name}: unknown keys {sorted(unknown)}")
    axis = str(table.get("axis", "y"))
    if axis not in ("x", "y", "z", "lateral"):
        raise _error(source, f"signals.{name}.axis must be x, y, z or lateral, got {axis!r}")
    combine = str(table.get("combine", "mean"))
    if combine not in ("left", "right", "mean", "min", "max", "diff", "absdiff"):
        raise _error(source, f"signals.{name}.combine: unknown {combine!r}")
    rate = table.get("rate", False)
    if not isinstance(rate, bool):
        raise _error(source, f"signals.{name}.rate must be true or false")
    return Signal(
        name=name,
        measure=measure,
        points=tuple(points),
        axis=axis,
        combine=combine,
        rate=rate,
        smoothing=_number(source, f"signals.{name}.smoothing", table.get("smoothing", 0.0)),
        hysteresis=_number(source, f"signals.{name}.hysteresis", table.get("hysteresis", 0.0)),
        softness=_number(
            source,
            f"signals.{name}.softness",
            table.get("softness", _DEFAULT_SOFTNESS.get(measure, 0.1)),
            minimum=1e-6,
        ),
        highpass=_number(source, f"signals.{name}.highpass", table.get("highpass", 0.0)),
        depth=_flag(source, f"signals.{name}.depth", table.get("depth", True)),
    )


def _parse_conditions(
    source: str, where: str, value: object, signals: set[str]
) -> tuple[Condition, ...]:
    if isinstance(value, str) or not isinstance(value, list):
        raise _error(source, f'{where} must be a list of conditions like "knee > 150"')
    out = []
    for text in value:
        match = _CONDITION.match(str(text))
        if match is None:
            raise _error(source, f"{where}: {text!r} is not 'signal > number' or 'signal < number'")
        name, op, number = match.groups()
        if name not in signals:
            raise _error(source, f"{where}: unknown signal {name!r}")
        out.append(Condition(name, op, float(number)))
    return tuple(out)


def parse_definition(
    text: str, source: str, catalogue: Catalogue = EXERCISES
) -> ExerciseDefinition:
    """Parses and validates one definition file's text; ConfigError on any mistake."""
    file = source
    source = f"{catalogue.what} definition {file}"
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise _error(source, f"not valid TOML: {err}") from None
    allowed = {
        "name",
        "kind",
        "window",
        "met",
        "signals",
        "posture",
        "phases",
        "rep",
        "alternating",
        "within",
    }
    if catalogue.either_hand:
        allowed.add("hand")
    unknown = set(data) - allowed
    if unknown:
        raise _error(source, f"unknown keys {sorted(unknown)}")
    name = data.get("name")
    if not isinstance(name, str) or not name:
        raise _error(source, f"name must be a non-empty string (a {catalogue.what} label)")
    kind = data.get("kind")
    if kind not in catalogue.kinds:
        raise _error(source, f"kind must be one of {', '.join(catalogue.kinds)}, got {kind!r}")
    hand = data.get("hand", "both")
    if hand not in ("both", "either"):
        raise _error(source, f"hand must be both or either, got {hand!r}")
    raw_signals = data.get("signals", {})
    if not isinstance(raw_signals, Mapping):
        raise _error(source, "signals must be a table of named signals")
    signals = tuple(_parse_signal(source, n, t) for n, t in raw_signals.items())
    names = {s.name for s in signals}
    posture = _parse_conditions(source, "posture", data.get("posture", []), names)
    phases = []
    for k, table in enumerate(data.get("phases", [])):
        if not isinstance(table, Mapping):
            raise _error(source, "phases must be an array of tables ([[phases]])")
        where = f"phases[{k}]"
        unknown = set(table) - {"name", "when", "min_duration", "max_duration"}
        if unknown:
            raise _error(source, f"{where}: unknown keys {sorted(unknown)}")
        phases.append(
            Phase(
                name=str(table.get("name", f"phase {k}")),
                when=_parse_conditions(source, f"{where}.when", table.get("when"), names),
                min_duration=_number(
                    source,
                    f"{where}.min_duration",
                    table.get("min_duration", catalogue.min_phase_duration),
                ),
                max_duration=_number(
                    source,
                    f"{where}.max_duration",
                    table.get("max_duration", float("inf")),
                    infinite=True,
                ),
            )
        )
    cycled = kind == "reps" or kind in catalogue.sequence_kinds
    if cycled and len(phases) < 2:
        raise _error(source, f"a {kind} definition needs a cycle of at least 2 phases")
    if not cycled and phases:
        raise _error(source, f"a {kind} definition has no phases")
    met = _parse_met(source, data.get("met"), required=catalogue.needs_met)
    alternating = _flag(source, "alternating", data.get("alternating", False))
    if kind in catalogue.sequence_kinds:
        cycle = "swings" if alternating else "sequence"
    else:
        cycle = "alternating" if alternating else "closed"
    return ExerciseDefinition(
        name=name,
        kind=kind,
        signals=signals,
        posture=posture,
        phases=tuple(phases),
        window=_number(source, "window", data.get("window", 4.0), minimum=0.1),
        alternating=alternating,
        met=met,
        source=file,
        within=_number(
            source, "within", data.get("within", float("inf")), minimum=0.01, infinite=True
        ),
        hand=hand,
        cycle=cycle,
        strict=catalogue.strict,
    )


def _parse_met(source: str, met_tables: object, *, required: bool) -> tuple[MetLevel, ...]:
    if met_tables is None and not required:
        return (MetLevel(met=1.0, code=None, intensity="", from_cadence=0.0),)
    if not isinstance(met_tables, list) or not met_tables:
        raise _error(source, "met must be an array of tables ([[met]]) with met = number")
    met = []
    for k, table in enumerate(met_tables):
        if not isinstance(table, Mapping) or set(table) - {
            "code",
            "intensity",
            "met",
            "from_cadence",
        }:
            raise _error(source, f"met[{k}] must be a table of code, intensity, met, from_cadence")
        code = table.get("code")
        if code is not None and not re.fullmatch(r"[0-9]{5}", str(code)):
            raise _error(source, f"met[{k}].code must be a 5-digit Compendium code, got {code!r}")
        met.append(
            MetLevel(
                met=_number(source, f"met[{k}].met", table.get("met"), minimum=0.5),
                code=None if code is None else str(code),
                intensity=str(table.get("intensity", "")),
                from_cadence=_number(
                    source, f"met[{k}].from_cadence", table.get("from_cadence", 0.0)
                ),
            )
        )
    met.sort(key=lambda level: level.from_cadence)
    return tuple(met)


def load_definitions(
    paths: Iterable[Path] | None = None, catalogue: Catalogue = EXERCISES
) -> list[ExerciseDefinition]:
    """The definitions in `paths`, or the catalogue's built-in ones (<package>/data/*.toml)."""
    texts: list[tuple[str, str]] = []
    if paths is None:
        folder = resources.files(catalogue.package) / "data"
        for entry in sorted(folder.iterdir(), key=lambda e: e.name):
            if entry.name.endswith(".toml"):
                texts.append((entry.read_text(encoding="utf-8"), entry.name))
    else:
        for path in paths:
            try:
                texts.append((Path(path).read_text(encoding="utf-8"), str(path)))
            except OSError as err:
                raise ConfigError(
                    f"cannot read {catalogue.what} definition {path}: {err}"
                ) from None
    definitions = [parse_definition(text, source, catalogue) for text, source in texts]
    seen: dict[str, str] = {}
    for d in definitions:
        if d.name in seen:
            raise _error(
                f"{catalogue.what} definition {d.source}",
                f"{d.name!r} is also defined in {seen[d.name]}",
            )
        seen[d.name] = d.source
    return definitions


def _measure(signal: Signal, side: str) -> MeasureSpec:
    points = [_point_indices("", p, side) for p in signal.points]
    return (signal.measure, points, signal.axis)


def compile_signal(signal: Signal, side: str | None = None) -> SignalSpec:
    """The core's form of a signal: left- and right-side measures and their options; with
    `side`, that side's measure only (a definition measured on either hand)."""
    if side is None:
        left, right, combine = _measure(signal, "left"), _measure(signal, "right"), signal.combine
    else:
        left = right = _measure(signal, side)
        combine = "left"
    return (
        left,
        right,
        combine,
        signal.rate,
        signal.smoothing,
        signal.hysteresis,
        signal.softness,
        signal.highpass,
        signal.depth,
    )


ExerciseSpec = tuple[
    list[ConditionSpec], list[tuple[list[ConditionSpec], float, float]], float, str, float, bool
]


@dataclass(frozen=True)
class CompiledDefinitions:
    """Definitions in the core's form, identical signals shared between exercises. A definition
    measured on either hand is two of the core's entries: ``owners[k]`` is the definition of
    entry ``k``."""

    signals: list[SignalSpec]
    exercises: list[ExerciseSpec]
    names: tuple[str, ...]
    owners: tuple[int, ...]

    def motion_model(
        self, *, aspect: float, min_visibility: float, depth_weight: float
    ) -> MotionModel:
        """The core's engine over these definitions, for frames of width / height ``aspect``."""
        return MotionModel(
            self.signals,
            self.exercises,
            aspect=aspect,
            min_visibility=min_visibility,
            depth_weight=depth_weight,
        )


def compile_definitions(definitions: Sequence[ExerciseDefinition]) -> CompiledDefinitions:
    signals: list[SignalSpec] = []
    index: dict[str, int] = {}
    exercises: list[ExerciseSpec] = []
    owners: list[int] = []
    for k, d in enumerate(definitions):
        sides: tuple[str | None, ...] = ("left", "right") if d.hand == "either" else (None,)
        for side in sides:
            local: dict[str, int] = {}
            for s in d.signals:
                spec = compile_signal(s, side)
                local[s.name] = index.setdefault(repr(spec), len(signals))
                if local[s.name] == len(signals):
                    signals.append(spec)

            def conditions(
                conds: Sequence[Condition], local: dict[str, int] = local
            ) -> list[ConditionSpec]:
                return [(local[c.signal], c.op, c.threshold) for c in conds]

            phases = [(conditions(p.when), p.min_duration, p.max_duration) for p in d.phases]
            exercises.append((conditions(d.posture), phases, d.window, d.cycle, d.within, d.strict))
            owners.append(k)
    return CompiledDefinitions(
        signals, exercises, tuple(d.name for d in definitions), tuple(owners)
    )
