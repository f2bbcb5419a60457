//! Python bindings (`rtnet._core`) over the plain Rust core modules.
//!
//! Bindings only convert and validate Python values; the algorithms live in the modules below.
//! Frame work runs with the GIL released.

pub mod anchors;
pub mod calories;
pub mod conv;
pub mod crop;
pub mod depthwise;
pub mod detection;
pub mod elementwise;
pub mod error;
pub mod motion;
pub mod one_euro;
pub mod preprocess;
pub mod program;
mod py_conv;
mod py_motion;
mod py_tracking;
pub mod reps;
pub mod resample;
pub mod ring;
pub mod simd;
pub mod smoothing;

use numpy::ndarray::{Array3, Array4};
use numpy::{
    IntoPyArray, PyArray1, PyArray3, PyArray4, PyArrayDescrMethods, PyArrayDyn, PyArrayMethods,
    PyReadonlyArray3, PyUntypedArray, PyUntypedArrayMethods,
};
use pyo3::exceptions::{PyOverflowError, PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::PyDict;

use crate::error::ArgumentError;
use crate::preprocess::{ChannelOrder, CHANNELS, FRAME_LEN, SIZE};

impl From<ArgumentError> for PyErr {
    fn from(err: ArgumentError) -> Self {
        PyValueError::new_err(err.0)
    }
}

/// An int argument of any size. Python ints are unbounded: those beyond i64 keep their text so
/// that the range check names the argument and the value (not an OverflowError).
#[derive(Debug, Clone)]
pub(crate) struct Int {
    pub(crate) value: Option<i64>,
    pub(crate) text: String,
}

impl From<i64> for Int {
    fn from(value: i64) -> Self {
        Self {
            value: Some(value),
            text: value.to_string(),
        }
    }
}

impl<'a, 'py> FromPyObject<'a, 'py> for Int {
    type Error = PyErr;

    fn extract(obj: Borrowed<'a, 'py, PyAny>) -> PyResult<Self> {
        match obj.extract::<i64>() {
            Ok(value) => Ok(value.into()),
            Err(err) if err.is_instance_of::<PyOverflowError>(obj.py()) => Ok(Self {
                value: None,
                text: obj.str()?.to_string(),
            }),
            Err(err) => Err(err),
        }
    }
}

/// A count argument in `1..=max`; anything else is a ValueError naming the argument and limit.
pub(crate) fn count(name: &str, value: &Int, max: usize) -> PyResult<usize> {
    value
        .value
        .and_then(|n| usize::try_from(n).ok())
        .filter(|n| (1..=max).contains(n))
        .ok_or_else(|| {
            PyValueError::new_err(format!("{name} must be in 1..={max}, got {}", value.text))
        })
}

pub(crate) fn type_name(value: &Bound<'_, PyAny>) -> String {
    value
        .get_type()
        .name()
        .map(|name| name.to_string())
        .unwrap_or_else(|_| "?".into())
}

/// The `channels` argument: "rgb" or "bgr".
pub(crate) fn channel_order(channels: &str) -> PyResult<ChannelOrder> {
    match channels {
        "rgb" => Ok(ChannelOrder::Rgb),
        "bgr" => Ok(ChannelOrder::Bgr),
        other => Err(PyValueError::new_err(format!(
            "channels must be 'rgb' or 'bgr', got {other:?}"
        ))),
    }
}

fn channel_name(order: ChannelOrder) -> &'static str {
    match order {
        ChannelOrder::Rgb => "rgb",
        ChannelOrder::Bgr => "bgr",
    }
}

/// Borrows a BGR uint8 (H, W, 3) array of any strides, or says clearly what is wrong with it.
pub(crate) fn frame_array<'py>(frame: &Bound<'py, PyAny>) -> PyResult<PyReadonlyArray3<'py, u8>> {
    let array = frame.cast::<PyUntypedArray>().map_err(|_| {
        PyTypeError::new_err(format!(
            "frame must be a numpy.ndarray of uint8, got {}",
            type_name(frame)
        ))
    })?;
    let dtype = array.dtype();
    if !dtype.is_equiv_to(&numpy::dtype::<u8>(frame.py())) {
        return Err(PyTypeError::new_err(format!(
            "frame must have dtype uint8, got {dtype}"
        )));
    }
    if array.ndim() != 3 {
        return Err(PyValueError::new_err(format!(
            "frame must have shape (H, W, 3), got {:?}",
            array.shape()
        )));
    }
    Ok(array.cast::<PyArray3<u8>>()?.try_readonly()?)
}

/// Whether `value` is a numpy array of float32 or float64; a TypeError for other arrays.
pub(crate) fn is_float_array(value: &Bound<'_, PyAny>, name: &str) -> PyResult<bool> {
    let Ok(array) = value.cast::<PyUntypedArray>() else {
        return Ok(false);
    };
    let dtype = array.dtype();
    let py = value.py();
    if dtype.is_equiv_to(&numpy::dtype::<f64>(py)) || dtype.is_equiv_to(&numpy::dtype::<f32>(py)) {
        Ok(true)
    } else {
        Err(PyTypeError::new_err(format!(
            "{name} must have dtype float32 or float64, got {dtype}"
        )))
    }
}

/// Most values of a `met` array (the MET head outputs one).
const MAX_MET_VALUES: usize = 1 << 20;

/// The mean of a float32/float64 array of 1 to `MAX_MET_VALUES` values, any shape and strides.
fn float_mean(array: &Bound<'_, PyAny>, name: &str) -> PyResult<f64> {
    let len = array.cast::<PyUntypedArray>()?.len();
    if !(1..=MAX_MET_VALUES).contains(&len) {
        return Err(PyValueError::new_err(format!(
            "{name} must be an array of 1 to {MAX_MET_VALUES} values, got {len}"
        )));
    }
    let sum: f64 = if let Ok(array) = array.cast::<PyArrayDyn<f64>>() {
        array.try_readonly()?.as_array().iter().sum()
    } else {
        let array = array.cast::<PyArrayDyn<f32>>()?;
        array
            .try_readonly()?
            .as_array()
            .iter()
            .map(|&v| f64::from(v))
            .sum()
    };
    Ok(sum / len as f64)
}

/// A float32/float64 array of any shape and strides, as f64 values in logical order.
pub(crate) fn float_values(array: &Bound<'_, PyAny>) -> PyResult<Vec<f64>> {
    if let Ok(array) = array.cast::<PyArrayDyn<f64>>() {
        return Ok(array.try_readonly()?.as_array().iter().copied().collect());
    }
    let array = array.cast::<PyArrayDyn<f32>>()?;
    Ok(array
        .try_readonly()?
        .as_array()
        .iter()
        .copied()
        .map(f64::from)
        .collect())
}

/// Longer probability vectors are refused before they are copied (a broadcast array or a
/// `range` can claim any length without the memory behind it).
fn check_probs_len(len: usize) -> PyResult<()> {
    if len > smoothing::MAX_CLASSES {
        return Err(PyValueError::new_err(format!(
            "probs must have at most {} values, got {len}",
            smoothing::MAX_CLASSES
        )));
    }
    Ok(())
}

/// A probability vector: a 1-D float32/float64 array or a sequence of numbers.
fn probability_vector(probs: &Bound<'_, PyAny>) -> PyResult<Vec<f64>> {
    if is_float_array(probs, "probs")? {
        let array = probs.cast::<PyUntypedArray>()?;
        let ndim = array.ndim();
        if ndim != 1 {
            return Err(PyValueError::new_err(format!(
                "probs must be 1-D, got {ndim} dimensions"
            )));
        }
        check_probs_len(array.len())?;
        return float_values(probs);
    }
    if let Ok(len) = probs.len() {
        if !probs.is_instance_of::<pyo3::types::PyString>() {
            check_probs_len(len)?;
        }
    }
    probs.extract::<Vec<f64>>().map_err(|_| {
        PyTypeError::new_err(format!(
            "probs must be a 1-D float numpy array or a sequence of floats, got {}",
            type_name(probs)
        ))
    })
}

/// Preprocesses one BGR uint8 frame (H, W, 3) into the network input: float32 (3, 256, 256),
/// channels in `channels` order ("rgb" or "bgr"), scaled to [0, 1], letterboxed to a centred
/// black square and resized like OpenCV's INTER_LINEAR.
#[pyfunction(name = "preprocess")]
#[pyo3(signature = (frame, *, channels = "rgb"))]
fn py_preprocess<'py>(
    frame: &Bound<'py, PyAny>,
    channels: &str,
) -> PyResult<Bound<'py, PyArray3<f32>>> {
    let order = channel_order(channels)?;
    let frame = frame_array(frame)?;
    let view = frame.as_array();
    let planes = frame.py().detach(|| {
        let mut planes = vec![0.0f32; FRAME_LEN];
        preprocess::preprocess_into(view, &mut planes, order).map(|()| planes)
    })?;
    let planes = Array3::from_shape_vec((CHANNELS, SIZE, SIZE), planes)
        .map_err(|err| PyValueError::new_err(err.to_string()))?;
    Ok(planes.into_pyarray(frame.py()))
}

/// The 256x256 BGR uint8 frame (256, 256, 3) the network sees before RGB conversion and scaling:
/// `frame` padded to a centred black square and resized like OpenCV's INTER_LINEAR.
#[pyfunction(name = "letterbox")]
fn py_letterbox<'py>(frame: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyArray3<u8>>> {
    let frame = frame_array(frame)?;
    let view = frame.as_array();
    let pixels = frame.py().detach(|| preprocess::letterbox(view))?;
    let pixels = Array3::from_shape_vec((SIZE, SIZE, CHANNELS), pixels)
        .map_err(|err| PyValueError::new_err(err.to_string()))?;
    Ok(pixels.into_pyarray(frame.py()))
}

/// The last `capacity` preprocessed frames, ready to hand to the network as one clip.
///
/// `push(frame)` preprocesses a BGR uint8 (H, W, 3) frame (any size, any strides) straight into
/// the ring; `clip()` returns the frames held, oldest first, as a fresh C-contiguous float32
/// array (N, 3, 256, 256) that `torch.from_numpy` takes without copying. `channels` is the
/// channel order written: "rgb" (default) or "bgr" (OpenCV's, which the SenseKit networks take).
#[pyclass(name = "FrameRing", module = "rtnet")]
struct PyFrameRing {
    ring: ring::FrameRing,
}

#[pymethods]
impl PyFrameRing {
    #[new]
    #[pyo3(
        signature = (capacity = Int::from(4), *, channels = "rgb"),
        text_signature = "(capacity=4, *, channels='rgb')"
    )]
    fn new(capacity: Int, channels: &str) -> PyResult<Self> {
        let order = channel_order(channels)?;
        let capacity = count("capacity", &capacity, ring::MAX_CAPACITY)?;
        Ok(Self {
            ring: ring::FrameRing::new(capacity, order)?,
        })
    }

    /// Channel order of the frames written: "rgb" or "bgr".
    #[getter]
    fn channels(&self) -> &'static str {
        channel_name(self.ring.order())
    }

    /// Preprocesses `frame` (BGR uint8, shape (H, W, 3)) into the next slot, replacing the
    /// oldest frame once the ring is full. The GIL is released meanwhile.
    fn push(&mut self, frame: &Bound<'_, PyAny>) -> PyResult<()> {
        let frame = frame_array(frame)?;
        let view = frame.as_array();
        let ring = &mut self.ring;
        Ok(frame.py().detach(|| ring.push(view))?)
    }

    /// The frames held, oldest first: float32 (N, 3, 256, 256), N = min(pushes, capacity).
    /// Raises ValueError when the ring is empty.
    fn clip<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyArray4<f32>>> {
        let ring = &self.ring;
        let frames = py.detach(|| ring.clip())?;
        let clip = Array4::from_shape_vec((ring.len(), CHANNELS, SIZE, SIZE), frames)
            .map_err(|err| PyValueError::new_err(err.to_string()))?;
        Ok(clip.into_pyarray(py))
    }

    /// Forgets all frames.
    fn reset(&mut self) {
        self.ring.reset();
    }

    /// Most frames the ring holds.
    #[getter]
    fn capacity(&self) -> usize {
        self.ring.capacity()
    }

    fn __len__(&self) -> usize {
        self.ring.len()
    }

    fn __repr__(&self) -> String {
        format!(
            "FrameRing(capacity={}, channels='{}', len={})",
            self.ring.capacity(),
            channel_name(self.ring.order()),
            self.ring.len()
        )
    }
}

/// Top-k class indices and their smoothed values.
type TopK<'py> = (Bound<'py, PyArray1<i64>>, Bound<'py, PyArray1<f32>>);

/// Moving average of the last `window` probability vectors (fewer at the start), with top-k.
#[pyclass(name = "Smoother", module = "rtnet")]
struct PySmoother {
    smoother: smoothing::Smoother,
}

#[pymethods]
impl PySmoother {
    #[new]
    fn new(window: Int, num_classes: Int) -> PyResult<Self> {
        let window = count("window", &window, smoothing::MAX_WINDOW)?;
        let num_classes = count("num_classes", &num_classes, smoothing::MAX_CLASSES)?;
        Ok(Self {
            smoother: smoothing::Smoother::new(window, num_classes)?,
        })
    }

    /// Adds one probability vector (`num_classes` floats); returns the smoothed vector (float32).
    fn update<'py>(
        &mut self,
        py: Python<'py>,
        probs: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyArray1<f32>>> {
        let smoothed = self.smoother.update(probability_vector(probs)?)?;
        Ok(PyArray1::from_iter(py, smoothed.iter().map(|&v| v as f32)))
    }

    /// The `k` largest smoothed values after the last update: (indices int64, values float32),
    /// largest first. Raises ValueError before the first update or for k outside 1..num_classes.
    fn topk<'py>(&self, py: Python<'py>, k: Int) -> PyResult<TopK<'py>> {
        let top = self
            .smoother
            .topk(count("k", &k, self.smoother.num_classes())?)?;
        let indices = PyArray1::from_iter(py, top.iter().map(|&(i, _)| i as i64));
        let values = PyArray1::from_iter(py, top.iter().map(|&(_, v)| v as f32));
        Ok((indices, values))
    }

    /// Forgets all inputs.
    fn reset(&mut self) {
        self.smoother.reset();
    }

    /// Inputs averaged.
    #[getter]
    fn window(&self) -> usize {
        self.smoother.window()
    }

    /// Length of each probability vector.
    #[getter]
    fn num_classes(&self) -> usize {
        self.smoother.num_classes()
    }

    fn __repr__(&self) -> String {
        format!(
            "Smoother(window={}, num_classes={})",
            self.smoother.window(),
            self.smoother.num_classes()
        )
    }
}

/// Counts jumping jacks and squats from the 5-class rep head (labels.json `reps` order).
///
/// Each exercise has two positions; a position is entered when its class probability exceeds
/// `threshold`, and a rep counts on the return to the first position.
#[pyclass(name = "RepCounter", module = "rtnet")]
struct PyRepCounter {
    counter: reps::RepCounter,
}

#[pymethods]
impl PyRepCounter {
    #[new]
    #[pyo3(signature = (threshold = 0.4))]
    fn new(threshold: f64) -> PyResult<Self> {
        Ok(Self {
            counter: reps::RepCounter::new(threshold)?,
        })
    }

    /// Feeds one output of the rep head: 5 probabilities.
    fn update(&mut self, probs: &Bound<'_, PyAny>) -> PyResult<()> {
        Ok(self.counter.update(&probability_vector(probs)?)?)
    }

    /// Sets both counts back to zero.
    fn reset(&mut self) {
        self.counter.reset();
    }

    #[getter]
    fn threshold(&self) -> f64 {
        self.counter.threshold()
    }

    #[getter]
    fn jumping_jacks(&self) -> u64 {
        self.counter.jumping_jacks()
    }

    #[getter]
    fn squats(&self) -> u64 {
        self.counter.squats()
    }

    /// {"jumping_jacks": n, "squats": n}
    #[getter]
    fn counts<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let counts = PyDict::new(py);
        counts.set_item("jumping_jacks", self.counter.jumping_jacks())?;
        counts.set_item("squats", self.counter.squats())?;
        Ok(counts)
    }

    fn __repr__(&self) -> String {
        format!(
            "RepCounter(threshold={:?}, jumping_jacks={}, squats={})",
            self.counter.threshold(),
            self.counter.jumping_jacks(),
            self.counter.squats()
        )
    }
}

/// Calorie state after an update.
#[pyclass(name = "CalorieUpdate", module = "rtnet", frozen, get_all)]
struct PyCalorieUpdate {
    /// kcal burnt since the start (or the last reset).
    total_calories: f64,
    /// Exponential moving average of the MET predictions.
    met_live: f64,
    /// Running MET, corrected for the person, that the calories accumulate.
    met_corrected: f64,
}

impl From<calories::CalorieUpdate> for PyCalorieUpdate {
    fn from(update: calories::CalorieUpdate) -> Self {
        Self {
            total_calories: update.total_calories,
            met_live: update.met_live,
            met_corrected: update.met_corrected,
        }
    }
}

#[pymethods]
impl PyCalorieUpdate {
    fn __repr__(&self) -> String {
        format!(
            "CalorieUpdate(total_calories={:?}, met_live={:?}, met_corrected={:?})",
            self.total_calories, self.met_live, self.met_corrected
        )
    }
}

/// Turns MET predictions into kcal burnt, driven by stream time: each `update(met, dt)` accounts
/// `dt` seconds of video, so a file processed faster than real time gives the same calories.
///
/// weight in kg, height in cm, age in years, gender 'male', 'female' or None/'other';
/// smoothing and recovery_factor in seconds.
#[pyclass(name = "CalorieAccumulator", module = "rtnet")]
struct PyCalorieAccumulator {
    accumulator: calories::CalorieAccumulator,
}

#[pymethods]
impl PyCalorieAccumulator {
    #[new]
    #[pyo3(signature = (
        weight = 70.0, height = 170.0, age = 30.0, gender = None, smoothing = 20.0,
        recovery_factor = 60.0
    ))]
    fn new(
        weight: f64,
        height: f64,
        age: f64,
        gender: Option<&str>,
        smoothing: f64,
        recovery_factor: f64,
    ) -> PyResult<Self> {
        let settings = calories::CalorieSettings {
            weight,
            height,
            age,
            gender: calories::Gender::parse(gender)?,
            smoothing,
            recovery_factor,
        };
        Ok(Self {
            accumulator: calories::CalorieAccumulator::new(settings)?,
        })
    }

    /// Accounts `dt` seconds of stream time since the previous prediction, then takes in `met`
    /// (a float, or a float numpy array such as the MET head's (1,) output: its mean is used).
    fn update(&mut self, met: &Bound<'_, PyAny>, dt: f64) -> PyResult<PyCalorieUpdate> {
        let met = if is_float_array(met, "met")? {
            float_mean(met, "met")?
        } else {
            met.extract::<f64>().map_err(|_| {
                PyTypeError::new_err(format!(
                    "met must be a float or a float numpy array, got {}",
                    type_name(met)
                ))
            })?
        };
        Ok(self.accumulator.update(met, dt)?.into())
    }

    /// Back to zero calories and MET, keeping the person and settings.
    fn reset(&mut self) {
        self.accumulator.reset();
    }

    /// kcal burnt since the start (or the last reset).
    #[getter]
    fn total_calories(&self) -> f64 {
        self.accumulator.state().total_calories
    }

    /// Exponential moving average of the MET predictions.
    #[getter]
    fn met_live(&self) -> f64 {
        self.accumulator.state().met_live
    }

    /// Running MET, corrected for the person, that the calories accumulate.
    #[getter]
    fn met_corrected(&self) -> f64 {
        self.accumulator.state().met_corrected
    }

    fn __repr__(&self) -> String {
        let s = self.accumulator.settings();
        let gender = s
            .gender
            .name()
            .map_or("None".into(), |name| format!("'{name}'"));
        format!(
            "CalorieAccumulator(weight={:?}, height={:?}, age={:?}, gender={gender}, \
             smoothing={:?}, recovery_factor={:?}, total_calories={:?})",
            s.weight,
            s.height,
            s.age,
            s.smoothing,
            s.recovery_factor,
            self.accumulator.state().total_calories
        )
    }
}

#[pymodule]
fn _core(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<PyFrameRing>()?;
    m.add_class::<PySmoother>()?;
    m.add_class::<PyRepCounter>()?;
    m.add_class::<PyCalorieAccumulator>()?;
    m.add_class::<PyCalorieUpdate>()?;
    m.add_function(wrap_pyfunction!(py_preprocess, m)?)?;
    m.add_function(wrap_pyfunction!(py_letterbox, m)?)?;
    py_tracking::register(m)?;
    py_motion::register(m)?;
    py_conv::register(m)?;
    Ok(())
}
