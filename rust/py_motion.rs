//! Python bindings of the motion module (exercise and gesture signals and phase machines).
//! Like lib.rs they only convert and validate Python values; `rtnet.exercises` and
//! `rtnet.gestures` build the specs from their data files.

use numpy::{PyArray1, PyUntypedArray, PyUntypedArrayMethods};
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::PyDict;

use crate::motion::{self, Axis, Combine, Condition, Cycle, Measure, Phase, Point, SignalSpec};
use crate::{float_values, is_float_array, type_name};

/// Most frames one `update` takes.
const MAX_FRAMES: usize = 1 << 16;

/// (kind, points, axis): kind "angle" (3 points), "position" (1 point, or point and origin),
/// "distance", "inclination" and "direction" (2 points), "ratio" (4), "motion" (1 or more); a
/// point is a list of landmark indices whose mean it is; axis "x", "y", "z" or "lateral"
/// (used by "position" and "direction").
type MeasureTuple = (String, Vec<Vec<usize>>, String);
/// (left, right, combine, rate, smoothing, hysteresis, softness, highpass, depth).
type SignalTuple = (
    MeasureTuple,
    MeasureTuple,
    String,
    bool,
    f64,
    f64,
    f64,
    f64,
    bool,
);
/// (signal index, ">" or "<", threshold).
type ConditionTuple = (usize, String, f64);
/// (conditions, min_duration, max_duration).
type PhaseTuple = (Vec<ConditionTuple>, f64, f64);
/// (posture conditions, phases, window, cycle, within, strict): cycle "closed", "alternating"
/// or "sequence".
type ExerciseTuple = (Vec<ConditionTuple>, Vec<PhaseTuple>, f64, String, f64, bool);

fn measure(spec: MeasureTuple) -> PyResult<Measure> {
    let (kind, points, axis) = spec;
    let mut points = points.into_iter().map(Point);
    let mut take = |n: usize| -> PyResult<Vec<Point>> {
        let taken: Vec<Point> = points.by_ref().take(n).collect();
        if taken.len() != n || points.len() != 0 {
            return Err(PyValueError::new_err(format!(
                "a {kind:?} measure takes {n} points"
            )));
        }
        Ok(taken)
    };
    let axis = match axis.as_str() {
        "x" => Axis::X,
        "y" => Axis::Y,
        "z" => Axis::Z,
        "lateral" => Axis::Lateral,
        other => {
            return Err(PyValueError::new_err(format!(
                "axis must be 'x', 'y', 'z' or 'lateral', got {other:?}"
            )))
        }
    };
    Ok(match kind.as_str() {
        "angle" => {
            let [a, b, c]: [Point; 3] = take(3)?.try_into().expect("3 points");
            Measure::Angle(a, b, c)
        }
        "position" => {
            let mut all: Vec<Point> = points.collect();
            if all.is_empty() || all.len() > 2 {
                return Err(PyValueError::new_err(
                    "a \"position\" measure takes a point and an optional origin",
                ));
            }
            let origin = (all.len() == 2).then(|| all.pop().expect("2 points"));
            Measure::Position(all.pop().expect("1 point"), origin, axis)
        }
        "distance" | "inclination" | "direction" => {
            let [p, q]: [Point; 2] = take(2)?.try_into().expect("2 points");
            match kind.as_str() {
                "distance" => Measure::Distance(p, q),
                "inclination" => Measure::Inclination(p, q),
                _ => Measure::Direction(p, q, axis),
            }
        }
        "ratio" => {
            let [a, b, c, d]: [Point; 4] = take(4)?.try_into().expect("4 points");
            Measure::Ratio(a, b, c, d)
        }
        "motion" => Measure::Motion(points.collect()),
        other => {
            return Err(PyValueError::new_err(format!(
                "measure kind must be angle, position, distance, inclination, direction, ratio \
                 or motion, got {other:?}"
            )))
        }
    })
}

fn condition(spec: ConditionTuple) -> PyResult<Condition> {
    let (signal, op, threshold) = spec;
    let above = match op.as_str() {
        ">" => true,
        "<" => false,
        other => {
            return Err(PyValueError::new_err(format!(
                "a condition's operator must be '>' or '<', got {other:?}"
            )))
        }
    };
    Ok(Condition {
        signal,
        above,
        threshold,
    })
}

fn conditions(specs: Vec<ConditionTuple>) -> PyResult<Vec<Condition>> {
    specs.into_iter().map(condition).collect()
}

/// Exercise and gesture signals and phase machines over pose landmarks (33 BlazePose landmarks
/// per frame: x, y normalised to the frame, z, visibility, presence), optionally followed by
/// each hand's 21 landmarks (left hand first).
///
/// `signals` and `exercises` are the compiled exercise definitions (see rtnet.exercises);
/// `aspect` is the frame's width / height, `min_visibility` the visibility and presence below
/// which a landmark counts as not seen, `depth_weight` the weight of z (0 = 2-D only).
#[pyclass(name = "MotionModel", module = "rtnet")]
struct PyMotionModel {
    model: motion::MotionModel,
}

#[pymethods]
impl PyMotionModel {
    #[new]
    #[pyo3(signature = (signals, exercises, *, aspect = 1.0, min_visibility = 0.5, depth_weight = 1.0))]
    fn new(
        signals: Vec<SignalTuple>,
        exercises: Vec<ExerciseTuple>,
        aspect: f64,
        min_visibility: f64,
        depth_weight: f64,
    ) -> PyResult<Self> {
        let signals = signals
            .into_iter()
            .map(
                |(left, right, combine, rate, smoothing, hysteresis, softness, highpass, depth)| {
                    Ok(SignalSpec {
                        left: measure(left)?,
                        right: measure(right)?,
                        combine: Combine::parse(&combine)?,
                        rate,
                        smoothing,
                        hysteresis,
                        softness,
                        highpass,
                        depth,
                    })
                },
            )
            .collect::<PyResult<Vec<_>>>()?;
        let exercises = exercises
            .into_iter()
            .map(|(posture, phases, window, cycle, within, strict)| {
                Ok(motion::ExerciseSpec {
                    posture: conditions(posture)?,
                    phases: phases
                        .into_iter()
                        .map(|(conds, min_duration, max_duration)| {
                            Ok(Phase {
                                conditions: conditions(conds)?,
                                min_duration,
                                max_duration,
                            })
                        })
                        .collect::<PyResult<Vec<_>>>()?,
                    window,
                    cycle: Cycle::parse(&cycle)?,
                    within,
                    strict,
                })
            })
            .collect::<PyResult<Vec<_>>>()?;
        let options = motion::FrameOptions {
            aspect,
            min_visibility,
            depth_weight,
        };
        Ok(Self {
            model: motion::MotionModel::new(signals, exercises, options)?,
        })
    }

    /// Feeds frames: `landmarks` float32/float64 (T, 33, 5) or (33, 5), NaN for frames without
    /// a person, or (T, 75, 5) / (75, 5) with the hands; `times` the T stream times in seconds,
    /// increasing across calls.
    fn update(&mut self, landmarks: &Bound<'_, PyAny>, times: &Bound<'_, PyAny>) -> PyResult<()> {
        if !is_float_array(landmarks, "landmarks")? {
            return Err(PyTypeError::new_err(format!(
                "landmarks must be a float32 or float64 numpy array, got {}",
                type_name(landmarks)
            )));
        }
        let shape = landmarks.cast::<PyUntypedArray>()?.shape().to_vec();
        let points = |n: usize| n == motion::POSE_LANDMARKS || n == motion::NUM_LANDMARKS;
        let frames = match shape[..] {
            [n, motion::LANDMARK_FIELDS] if points(n) => 1,
            [t, n, motion::LANDMARK_FIELDS] if points(n) && t <= MAX_FRAMES => t,
            _ => {
                return Err(PyValueError::new_err(format!(
                    "landmarks must have shape (T, 33, 5) or (T, 75, 5) with T <= {MAX_FRAMES}, \
                     got {shape:?}"
                )))
            }
        };
        let times: Vec<f64> = if is_float_array(times, "times")? {
            float_values(times)?
        } else {
            let len = times.len().map_err(|_| {
                PyTypeError::new_err(format!(
                    "times must be a sequence of floats, got {}",
                    type_name(times)
                ))
            })?;
            if len > MAX_FRAMES {
                return Err(PyValueError::new_err(format!(
                    "times must hold at most {MAX_FRAMES} values, got {len}"
                )));
            }
            times.extract()?
        };
        if times.len() != frames {
            return Err(PyValueError::new_err(format!(
                "times must hold one value per frame ({frames}), got {}",
                times.len()
            )));
        }
        let values = float_values(landmarks)?;
        let model = &mut self.model;
        Ok(landmarks.py().detach(|| model.update(&values, &times))?)
    }

    /// The signal values of the last frame, float64 (S,), NaN where unknown.
    #[getter]
    fn values<'py>(&self, py: Python<'py>) -> Bound<'py, PyArray1<f64>> {
        PyArray1::from_slice(py, self.model.values())
    }

    /// Per exercise over its window: "posture" (mean posture degree, NaN when never known),
    /// "cycle" (phase changes / phases, capped at 1), "coverage" (frames with every signal
    /// known), "reps", "recent_reps" (reps within the window) and "phase" (-1 = none).
    fn evidence<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let evidence = self.model.evidence();
        let out = PyDict::new(py);
        let floats =
            |f: fn(&motion::Evidence) -> f64| PyArray1::from_iter(py, evidence.iter().map(f));
        out.set_item("posture", floats(|e| e.posture))?;
        out.set_item("cycle", floats(|e| e.cycle))?;
        out.set_item("coverage", floats(|e| e.coverage))?;
        let ints =
            |f: fn(&motion::Evidence) -> i64| PyArray1::from_iter(py, evidence.iter().map(f));
        out.set_item("reps", ints(|e| e.reps as i64))?;
        out.set_item("recent_reps", ints(|e| e.recent_reps as i64))?;
        out.set_item("phase", ints(|e| e.phase))?;
        Ok(out)
    }

    /// Per landmark (pose, left hand, right hand: 75), the fraction of recent frames (the
    /// longest window) on which it was seen.
    #[getter]
    fn landmark_visibility<'py>(&self, py: Python<'py>) -> Bound<'py, PyArray1<f64>> {
        PyArray1::from_slice(py, &self.model.landmark_visibility())
    }

    /// The torso length in frame-height units, None before a torso was seen.
    #[getter]
    fn scale(&self) -> Option<f64> {
        self.model.scale()
    }

    /// Bodies seen that did not continue the one before (another person, or one back after a
    /// gap): each started the rep phases and the evidence afresh.
    #[getter]
    fn people(&self) -> u64 {
        self.model.people()
    }

    #[getter]
    fn num_signals(&self) -> usize {
        self.model.num_signals()
    }

    #[getter]
    fn num_exercises(&self) -> usize {
        self.model.num_exercises()
    }

    /// Forgets all frames, reps and evidence.
    fn reset(&mut self) {
        self.model.reset();
    }

    fn __repr__(&self) -> String {
        format!(
            "MotionModel(num_signals={}, num_exercises={})",
            self.model.num_signals(),
            self.model.num_exercises()
        )
    }
}

pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<PyMotionModel>()
}
