//! Python bindings of the landmark networks' kernels (conv, depthwise, resample): float32 NHWC
//! maps of one image, (1, H, W, C) and C-contiguous, the layout a channels-last PyTorch tensor
//! has once permuted to NHWC. Like lib.rs they only convert and validate Python values; the
//! work runs with the GIL released, on the calling thread and a rayon pool of helper threads.

use std::sync::{Arc, Mutex};

use numpy::{
    PyArray4, PyArrayDescrMethods, PyArrayDyn, PyArrayMethods, PyReadonlyArrayDyn, PyUntypedArray,
    PyUntypedArrayMethods, ToPyArray,
};
use pyo3::exceptions::{PyRuntimeError, PyTypeError, PyValueError};
use pyo3::prelude::*;

use crate::conv::{self, Padding};
use crate::depthwise::Depthwise;
use crate::program;
use crate::simd::Kernel;
use crate::type_name;

/// Held while a program runs (see `PyKernelProgram::run`).
static RUNNING: Mutex<()> = Mutex::new(());

/// The kernels' threads: the thread count, and the pool of the threads that help the calling
/// one (none for one thread), rebuilt when the count changes.
type Helpers = (usize, Option<Arc<rayon::ThreadPool>>);
static HELPERS: Mutex<Option<Helpers>> = Mutex::new(None);

fn helpers(threads: usize) -> PyResult<Option<Arc<rayon::ThreadPool>>> {
    let mut slot = HELPERS
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    if let Some((n, pool)) = slot.as_ref() {
        if *n == threads {
            return Ok(pool.clone());
        }
    }
    let pool = if threads > 1 {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads - 1)
            .thread_name(|i| format!("rtnet-kernel-{}", i + 1))
            .build()
            .map_err(|err| {
                PyRuntimeError::new_err(format!("cannot start kernel threads: {err}"))
            })?;
        Some(Arc::new(pool))
    } else {
        None
    };
    *slot = Some((threads, pool.clone()));
    Ok(pool)
}

/// The helpers for the last `set_kernel_threads`, else for the CPUs available.
fn current_helpers() -> PyResult<Option<Arc<rayon::ThreadPool>>> {
    let threads = {
        let slot = HELPERS
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        slot.as_ref().map(|(n, _)| *n)
    };
    helpers(threads.unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get())))
}

/// Sets how many threads the convolution kernels use (PyTorch's `torch.get_num_threads()` is
/// what the networks pass); cheap when unchanged.
#[pyfunction]
fn set_kernel_threads(threads: usize) -> PyResult<()> {
    if threads == 0 || threads > 1024 {
        return Err(PyValueError::new_err(format!(
            "threads must be between 1 and 1024, got {threads}"
        )));
    }
    helpers(threads).map(|_| ())
}

/// The code the kernels run on this CPU: "avx512", "avx2+fma" or "portable" (the same results,
/// at different speeds).
#[pyfunction]
fn kernel_instructions() -> &'static str {
    Kernel::best().name()
}

/// A float32 (1, H, W, C) C-contiguous array: its view and (H, W, C).
pub(crate) struct Nhwc<'py> {
    array: PyReadonlyArrayDyn<'py, f32>,
    pub height: usize,
    pub width: usize,
    pub channels: usize,
}

impl<'py> Nhwc<'py> {
    pub(crate) fn new(value: &Bound<'py, PyAny>, name: &str) -> PyResult<Self> {
        let array = value.cast::<PyUntypedArray>().map_err(|_| {
            PyTypeError::new_err(format!(
                "{name} must be a numpy.ndarray of float32, got {}",
                type_name(value)
            ))
        })?;
        if !array.dtype().is_equiv_to(&numpy::dtype::<f32>(value.py())) {
            return Err(PyTypeError::new_err(format!(
                "{name} must have dtype float32, got {}",
                array.dtype()
            )));
        }
        let &[1, height, width, channels] = array.shape() else {
            return Err(PyValueError::new_err(format!(
                "{name} must have shape (1, H, W, C), got {:?}",
                array.shape()
            )));
        };
        let array = array.cast::<PyArrayDyn<f32>>()?.try_readonly()?;
        if !array.is_c_contiguous() {
            return Err(PyValueError::new_err(format!(
                "{name} must be C-contiguous"
            )));
        }
        Ok(Self {
            array,
            height,
            width,
            channels,
        })
    }

    pub(crate) fn values(&self) -> &[f32] {
        self.array.as_slice().expect("checked C-contiguous")
    }
}

fn padding(values: (usize, usize, usize, usize)) -> Padding {
    let (top, bottom, left, right) = values;
    Padding {
        top,
        bottom,
        left,
        right,
    }
}

/// Weight (out, in, k, k) and bias (out) as float32 vectors with their shape.
fn weights(
    weight: &Bound<'_, PyAny>,
    bias: &Bound<'_, PyAny>,
) -> PyResult<(Vec<f32>, Vec<f32>, [usize; 4])> {
    let weight = crate::py_tracking::f32_array(weight, "weight")?;
    let bias = crate::py_tracking::f32_array(bias, "bias")?;
    let &[out, channels, kh, kw] = weight.shape() else {
        return Err(PyValueError::new_err(format!(
            "weight must have shape (out, in, k, k), got {:?}",
            weight.shape()
        )));
    };
    if kh != kw || bias.shape() != [out] {
        return Err(PyValueError::new_err(format!(
            "weight must be square (out, in, k, k) and bias (out,), got {:?} and {:?}",
            weight.shape(),
            bias.shape()
        )));
    }
    let weight_values = weight.as_array().iter().copied().collect();
    let bias_values = bias.as_array().iter().copied().collect();
    Ok((weight_values, bias_values, [out, channels, kh, kw]))
}

/// A PReLU's slopes, a float32 (channels,) array.
fn slopes(value: &Bound<'_, PyAny>) -> PyResult<Vec<f32>> {
    let slopes = crate::py_tracking::f32_array(value, "slopes")?;
    if slopes.ndim() != 1 {
        return Err(PyValueError::new_err(format!(
            "slopes must have shape (channels,), got {:?}",
            slopes.shape()
        )));
    }
    Ok(slopes.as_array().iter().copied().collect())
}

/// A landmark network's fast path: kernel steps recorded once, then run on each image in one
/// call (see program.rs). Maps are numbered: 0 is the image, each step returns the map it writes.
#[pyclass(name = "KernelProgram", module = "rtnet._core")]
struct PyKernelProgram {
    program: program::Program,
}

#[pymethods]
impl PyKernelProgram {
    /// A program whose input is a (1, height, width, channels) image.
    #[new]
    fn new(height: usize, width: usize, channels: usize) -> PyResult<Self> {
        Ok(Self {
            program: program::Program::new(height, width, channels)?,
        })
    }

    /// A convolution (groups = 1), `weight` (out, in, k, k) and `bias` (out,) float32 as
    /// PyTorch holds them, `padding` (top, bottom, left, right) zero rows and columns:
    /// relu6?(conv(input)), then + residual and relu6? again. Each output is the bias plus
    /// fused multiply-adds in (tap row, tap column, channel) order, as XNNPACK sums.
    #[pyo3(
        signature = (weight, bias, input, *, stride = 1, padding = (0, 0, 0, 0), relu6 = false,
                     residual = None, residual_relu6 = false),
        text_signature = "(self, /, weight, bias, input, *, stride=1, padding=(0, 0, 0, 0), \
                          relu6=False, residual=None, residual_relu6=False)"
    )]
    #[allow(clippy::too_many_arguments)]
    fn conv(
        &mut self,
        weight: &Bound<'_, PyAny>,
        bias: &Bound<'_, PyAny>,
        input: usize,
        stride: usize,
        padding: (usize, usize, usize, usize),
        relu6: bool,
        residual: Option<usize>,
        residual_relu6: bool,
    ) -> PyResult<usize> {
        let (weight, bias, [out, channels, k, _]) = weights(weight, bias)?;
        let conv = conv::Conv::new(
            &weight,
            &bias,
            channels,
            out,
            k,
            stride,
            self::padding(padding),
        )?;
        Ok(self
            .program
            .conv(conv, input, relu6, residual, residual_relu6)?)
    }

    /// A depthwise convolution, `weight` (channels, 1, k, k): relu6?(conv(input)).
    #[pyo3(
        signature = (weight, bias, input, *, stride = 1, padding = (0, 0, 0, 0), relu6 = false),
        text_signature = "(self, /, weight, bias, input, *, stride=1, padding=(0, 0, 0, 0), \
                          relu6=False)"
    )]
    fn depthwise(
        &mut self,
        weight: &Bound<'_, PyAny>,
        bias: &Bound<'_, PyAny>,
        input: usize,
        stride: usize,
        padding: (usize, usize, usize, usize),
        relu6: bool,
    ) -> PyResult<usize> {
        let (weight, bias, [_, one, k, _]) = weights(weight, bias)?;
        if one != 1 {
            return Err(PyValueError::new_err(format!(
                "a depthwise weight has shape (channels, 1, k, k), got {one} inputs per channel"
            )));
        }
        let depthwise = Depthwise::new(&weight, &bias, k, stride, self::padding(padding))?;
        Ok(self.program.depthwise(depthwise, input, relu6)?)
    }

    /// Bilinear resize to twice the size, TFLite's half-pixel centres.
    fn upsample2x(&mut self, input: usize) -> PyResult<usize> {
        Ok(self.program.upsample2x(input)?)
    }

    /// 2x2 max pooling, stride 2.
    fn max_pool2x2(&mut self, input: usize) -> PyResult<usize> {
        Ok(self.program.max_pool2x2(input)?)
    }

    /// TFLite's DEPTH_TO_SPACE ("DCR" order) by `block`.
    fn depth_to_space(&mut self, input: usize, block: usize) -> PyResult<usize> {
        Ok(self.program.depth_to_space(input, block)?)
    }

    /// TFLite's PRELU, `slopes` (channels,) float32: x * slope where x is negative, else x.
    fn prelu(&mut self, input: usize, slopes: &Bound<'_, PyAny>) -> PyResult<usize> {
        Ok(self.program.prelu(input, &self::slopes(slopes)?)?)
    }

    /// prelu(a + b) in one pass, `slopes` as for `prelu`.
    fn add_prelu(&mut self, a: usize, b: usize, slopes: &Bound<'_, PyAny>) -> PyResult<usize> {
        Ok(self.program.add_prelu(a, b, &self::slopes(slopes)?)?)
    }

    /// `extra` zero channels after each pixel's channels.
    fn pad_channels(&mut self, input: usize, extra: usize) -> PyResult<usize> {
        Ok(self.program.pad_channels(input, extra)?)
    }

    /// The mean of each channel over all pixels, a (1, 1, 1, channels) map: summed in pixel
    /// order, then scaled by 1 / pixels, as XNNPACK's MEAN.
    fn mean(&mut self, input: usize) -> PyResult<usize> {
        Ok(self.program.mean(input)?)
    }

    /// a + b, then clamped to [0, 6] if `relu6`.
    #[pyo3(signature = (a, b, *, relu6 = false))]
    fn add(&mut self, a: usize, b: usize, relu6: bool) -> PyResult<usize> {
        Ok(self.program.add(a, b, relu6)?)
    }

    /// (height, width, channels) of a map.
    fn shape(&self, map: usize) -> PyResult<(usize, usize, usize)> {
        Ok(self.program.shape(map)?)
    }

    /// Declares the maps `run` returns; plans the maps' memory.
    fn finish(&mut self, outputs: Vec<usize>) -> PyResult<()> {
        Ok(self.program.finish(&outputs)?)
    }

    /// Float32 values the maps' memory holds.
    #[getter]
    fn memory(&self) -> usize {
        self.program.memory()
    }

    /// Runs the steps on `image` (1, H, W, C) with the GIL released; returns the finished
    /// outputs, new (1, h, w, c) arrays.
    fn run<'py>(&mut self, image: &Bound<'py, PyAny>) -> PyResult<Vec<Bound<'py, PyArray4<f32>>>> {
        let py = image.py();
        let input = Nhwc::new(image, "image")?;
        let (h, w, c) = self.program.shape(0)?;
        if (input.height, input.width, input.channels) != (h, w, c) {
            return Err(PyValueError::new_err(format!(
                "image must have shape (1, {h}, {w}, {c}), got (1, {}, {}, {})",
                input.height, input.width, input.channels
            )));
        }
        let helpers = current_helpers()?;
        let values = input.values();
        let program = &mut self.program;
        py.detach(|| {
            // One program at a time on the helpers: two runs waiting for each other at their
            // barriers, each holding a helper the other needs, would never finish.
            let _turn = RUNNING
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            program.run(values, helpers.as_deref())
        })?;
        self.program
            .outputs()
            .map(|(values, (h, w, c))| {
                let array = numpy::ndarray::ArrayView4::from_shape((1, h, w, c), values)
                    .expect("a map holds its shape's values");
                Ok(array.to_pyarray(py))
            })
            .collect()
    }
}

pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<PyKernelProgram>()?;
    m.add_function(wrap_pyfunction!(set_kernel_threads, m)?)?;
    m.add_function(wrap_pyfunction!(kernel_instructions, m)?)?;
    Ok(())
}
