//! Python bindings of the tracking modules (MediaPipe's pose and hand pipelines): the rotated
//! crop into a model tensor, SSD anchors, detection decoding and weighted NMS, and the one-euro
//! landmark smoother. Like lib.rs they only convert and validate Python values.

use numpy::ndarray::{Array2, Array3, ArrayView2, ArrayView3, Axis, Ix2};
use numpy::{
    IntoPyArray, PyArray1, PyArray2, PyArray3, PyArrayDescrMethods, PyArrayDyn, PyArrayMethods,
    PyReadonlyArrayDyn, PyUntypedArray, PyUntypedArrayMethods,
};
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;

use crate::preprocess::{self, ChannelOrder};
use crate::{
    anchors, channel_order, count, crop, detection, float_values, frame_array, is_float_array,
    one_euro, type_name, Int,
};

/// A sequence argument of at most `max` items, its length checked before anything is copied
/// (a `range` claims any length without the memory behind it).
fn short_list<'py, T>(value: &Bound<'py, PyAny>, name: &str, max: usize) -> PyResult<Vec<T>>
where
    T: for<'a> FromPyObject<'a, 'py>,
{
    let wrong_type = || {
        PyTypeError::new_err(format!(
            "{name} must be a sequence of numbers, got {}",
            type_name(value)
        ))
    };
    if value.is_instance_of::<pyo3::types::PyString>() {
        return Err(wrong_type());
    }
    let len = value.len().map_err(|_| wrong_type())?;
    if len > max {
        return Err(PyValueError::new_err(format!(
            "{name} must hold at most {max} values, got {len}"
        )));
    }
    value.extract::<Vec<T>>().map_err(|_| wrong_type())
}

/// A float32 array of any shape and strides, or a TypeError naming the argument.
pub(crate) fn f32_array<'py>(
    value: &Bound<'py, PyAny>,
    name: &str,
) -> PyResult<PyReadonlyArrayDyn<'py, f32>> {
    let array = value.cast::<PyUntypedArray>().map_err(|_| {
        PyTypeError::new_err(format!(
            "{name} must be a numpy.ndarray of float32, got {}",
            type_name(value)
        ))
    })?;
    let dtype = array.dtype();
    if !dtype.is_equiv_to(&numpy::dtype::<f32>(value.py())) {
        return Err(PyTypeError::new_err(format!(
            "{name} must have dtype float32, got {dtype}"
        )));
    }
    Ok(array.cast::<PyArrayDyn<f32>>()?.try_readonly()?)
}

/// `array` as a 2-D view (rows, columns), after dropping leading axes of length 1 beyond 2.
fn matrix_view<'a>(
    array: &'a PyReadonlyArrayDyn<'_, f32>,
    name: &str,
    expected: &str,
) -> PyResult<ArrayView2<'a, f32>> {
    let view = array.as_array();
    let shape = view.shape().to_vec();
    let leading = shape.len().saturating_sub(2);
    if shape.len() < 2 || shape[..leading].iter().any(|&n| n != 1) {
        return Err(PyValueError::new_err(format!(
            "{name} must have shape {expected}, got {shape:?}"
        )));
    }
    let (rows, columns) = (shape[leading], shape[leading + 1]);
    view.into_shape_with_order((rows, columns))
        .or_else(|_| {
            // Leading axes of 1 with odd strides: take the single index along each.
            let mut view = array.as_array();
            for _ in 0..leading {
                view = view.index_axis_move(Axis(0), 0);
            }
            view.into_dimensionality::<Ix2>()
        })
        .map_err(|err| PyValueError::new_err(format!("{name}: {err}")))
}

/// A rotated rectangle (center_x, center_y, width, height, rotation), pixels and radians.
type RectTuple = (f64, f64, f64, f64, f64);

fn rotated_rect(rect: RectTuple) -> crop::RotatedRect {
    let (center_x, center_y, width, height, rotation) = rect;
    crop::RotatedRect {
        center_x,
        center_y,
        width,
        height,
        rotation,
    }
}

fn matrix_array<'py>(py: Python<'py>, m: [[f64; 3]; 2]) -> Bound<'py, PyArray2<f64>> {
    Array2::from_shape_fn((2, 3), |(r, c)| m[r][c]).into_pyarray(py)
}

/// Crops a rotated rectangle of a BGR uint8 frame (H, W, 3) straight into a model's input
/// tensor `out` (float32, C-contiguous): bilinear, black (`border="zero"`) or the nearest edge
/// pixel (`"replicate"`) outside the frame, uint8 values mapped
/// linearly from [0, 255] to `value_range`, as MediaPipe's ImageToTensorCalculator. The rect's
/// corners map to the output's corners. Returns the 2x3 matrix from output pixels to frame
/// pixels. The GIL is released while cropping.
#[pyfunction(name = "crop_to_tensor")]
#[pyo3(
    signature = (
        frame, rect, out, *, layout = "nhwc", channels = "rgb", value_range = (0.0, 1.0),
        border = "zero"
    ),
    text_signature = "(frame, rect, out, *, layout='nhwc', channels='rgb', \
                      value_range=(0.0, 1.0), border='zero')"
)]
fn py_crop_to_tensor<'py>(
    frame: &Bound<'py, PyAny>,
    rect: RectTuple,
    out: &Bound<'py, PyAny>,
    layout: &str,
    channels: &str,
    value_range: (f32, f32),
    border: &str,
) -> PyResult<Bound<'py, PyArray2<f64>>> {
    let py = frame.py();
    let order = channel_order(channels)?;
    let border = match border {
        "zero" => crop::Border::Zero,
        "replicate" => crop::Border::Replicate,
        other => {
            return Err(PyValueError::new_err(format!(
                "border must be 'zero' or 'replicate', got {other:?}"
            )))
        }
    };
    let layout = match layout {
        "nhwc" => crop::Layout::Nhwc,
        "nchw" => crop::Layout::Nchw,
        other => {
            return Err(PyValueError::new_err(format!(
                "layout must be 'nhwc' or 'nchw', got {other:?}"
            )))
        }
    };
    let frame = frame_array(frame)?;
    let out_array = out.cast::<PyUntypedArray>().map_err(|_| {
        PyTypeError::new_err(format!(
            "out must be a numpy.ndarray of float32, got {}",
            type_name(out)
        ))
    })?;
    if !out_array.dtype().is_equiv_to(&numpy::dtype::<f32>(py)) {
        return Err(PyTypeError::new_err(format!(
            "out must have dtype float32, got {}",
            out_array.dtype()
        )));
    }
    let shape = out_array.shape().to_vec();
    let expected = match layout {
        crop::Layout::Nhwc => "(1, H, W, 3) or (H, W, 3)",
        crop::Layout::Nchw => "(1, 3, H, W) or (3, H, W)",
    };
    let sides = match (layout, shape.as_slice()) {
        (crop::Layout::Nhwc, &[1, h, w, 3] | &[h, w, 3]) => Some((h, w)),
        (crop::Layout::Nchw, &[1, 3, h, w] | &[3, h, w]) => Some((h, w)),
        _ => None,
    };
    let Some((out_height, out_width)) = sides else {
        return Err(PyValueError::new_err(format!(
            "out must have shape {expected} for layout {layout:?}, got {shape:?}"
        )));
    };
    let mut out = out_array
        .cast::<PyArrayDyn<f32>>()?
        .try_readwrite()
        .map_err(|err| PyValueError::new_err(format!("out must be writable: {err}")))?;
    let slice = out.as_slice_mut().map_err(|_| {
        PyValueError::new_err("out must be C-contiguous (np.empty or torch.empty(...).numpy())")
    })?;
    let rect = rotated_rect(rect);
    let view = frame.as_array();
    let options = crop::CropOptions {
        border,
        layout,
        order,
        range: value_range,
    };
    let m = py.detach(|| crop::crop_into(view, &rect, slice, out_height, out_width, &options))?;
    Ok(matrix_array(py, m))
}

/// The 2x3 matrix from output pixels (u, v) of a `width` x `height` crop of `rect` to frame
/// pixels, as `crop_to_tensor` returns it: `[x, y] = m[:, :2] @ [u, v] + m[:, 2]`.
#[pyfunction(name = "crop_matrix")]
fn py_crop_matrix(
    py: Python<'_>,
    rect: RectTuple,
    width: Int,
    height: Int,
) -> PyResult<Bound<'_, PyArray2<f64>>> {
    let width = count("width", &width, crop::MAX_OUTPUT_SIDE)?;
    let height = count("height", &height, crop::MAX_OUTPUT_SIDE)?;
    let rect = rotated_rect(rect);
    // Validated as a crop would be, with a 1x1 frame standing in.
    let pixel = [0u8; 3];
    let frame = ArrayView3::from_shape((1, 1, 3), &pixel)
        .map_err(|err| PyValueError::new_err(err.to_string()))?;
    let options = crop::CropOptions {
        border: crop::Border::Zero,
        layout: crop::Layout::Nhwc,
        order: ChannelOrder::Bgr,
        range: (0.0, 1.0),
    };
    let mut scratch = vec![0.0f32; 3];
    crop::crop_into(frame, &rect, &mut scratch, 1, 1, &options)?;
    Ok(matrix_array(py, crop::crop_matrix(&rect, width, height)))
}

/// SSD anchors as MediaPipe's SsdAnchorsCalculator: float32 (N, 4) rows of (x_center,
/// y_center, width, height), normalised to the input; one layer per stride.
#[pyfunction(name = "ssd_anchors")]
#[pyo3(signature = (
    *, input_width, input_height, strides, min_scale, max_scale, anchor_offset_x = 0.5,
    anchor_offset_y = 0.5, aspect_ratios = None, reduce_boxes_in_lowest_layer = false,
    interpolated_scale_aspect_ratio = 1.0, fixed_anchor_size = false
))]
#[allow(clippy::too_many_arguments)]
fn py_ssd_anchors<'py>(
    py: Python<'py>,
    input_width: Int,
    input_height: Int,
    strides: &Bound<'py, PyAny>,
    min_scale: f32,
    max_scale: f32,
    anchor_offset_x: f32,
    anchor_offset_y: f32,
    aspect_ratios: Option<&Bound<'py, PyAny>>,
    reduce_boxes_in_lowest_layer: bool,
    interpolated_scale_aspect_ratio: f32,
    fixed_anchor_size: bool,
) -> PyResult<Bound<'py, PyArray2<f32>>> {
    let strides: Vec<Int> = short_list(strides, "strides", anchors::MAX_LAYERS)?;
    let strides = strides
        .iter()
        .map(|stride| count("strides", stride, anchors::MAX_INPUT_SIDE))
        .collect::<PyResult<Vec<usize>>>()?;
    let aspect_ratios = match aspect_ratios {
        Some(ratios) => short_list(ratios, "aspect_ratios", anchors::MAX_LAYERS)?,
        None => vec![1.0],
    };
    let options = anchors::AnchorOptions {
        input_width: count("input_width", &input_width, anchors::MAX_INPUT_SIDE)?,
        input_height: count("input_height", &input_height, anchors::MAX_INPUT_SIDE)?,
        min_scale,
        max_scale,
        anchor_offset_x,
        anchor_offset_y,
        strides,
        aspect_ratios,
        reduce_boxes_in_lowest_layer,
        interpolated_scale_aspect_ratio,
        fixed_anchor_size,
    };
    let anchors = anchors::ssd_anchors(&options)?;
    let table = Array2::from_shape_fn((anchors.len(), 4), |(i, k)| {
        let a = &anchors[i];
        [a.x_center, a.y_center, a.width, a.height][k]
    });
    Ok(table.into_pyarray(py))
}

/// Detections as arrays: scores (M,), boxes (M, 4) as (xmin, ymin, xmax, ymax), keypoints
/// (M, K, 2) as (x, y); all float32 and normalised to the model input.
type DetectionArrays<'py> = (
    Bound<'py, PyArray1<f32>>,
    Bound<'py, PyArray2<f32>>,
    Bound<'py, PyArray3<f32>>,
);

fn detection_arrays<'py>(
    py: Python<'py>,
    detections: &[detection::Detection],
    keypoints: usize,
) -> DetectionArrays<'py> {
    let scores = PyArray1::from_iter(py, detections.iter().map(|d| d.score));
    let boxes = Array2::from_shape_fn((detections.len(), 4), |(i, k)| {
        let d = &detections[i];
        [d.xmin, d.ymin, d.xmax, d.ymax][k]
    });
    let points = Array3::from_shape_fn((detections.len(), keypoints, 2), |(i, k, c)| {
        detections[i].keypoints[k][c]
    });
    (scores, boxes.into_pyarray(py), points.into_pyarray(py))
}

/// Decodes an SSD detector's raw outputs as MediaPipe's TensorsToDetectionsCalculator (one
/// class, 2 values per keypoint): `raw_boxes` float32 (N, num_coords) (a leading batch axis of
/// 1 is allowed), `raw_scores` float32 (N,) or (N, 1) (likewise), `anchors` float32 (N, 4) from
/// `ssd_anchors`. Returns the detections scoring >= `min_score_thresh`, in anchor order.
#[pyfunction(name = "decode_detections")]
#[pyo3(
    signature = (
        raw_boxes, raw_scores, anchors, *, num_keypoints, x_scale, y_scale, w_scale, h_scale,
        box_coord_offset = Int::from(0), keypoint_coord_offset = Int::from(4),
        reverse_output_order = true, apply_exponential_on_box_size = false, sigmoid_score = true,
        score_clipping_thresh = None, min_score_thresh = None
    ),
    text_signature = "(raw_boxes, raw_scores, anchors, *, num_keypoints, x_scale, y_scale, \
                      w_scale, h_scale, box_coord_offset=0, keypoint_coord_offset=4, \
                      reverse_output_order=True, apply_exponential_on_box_size=False, \
                      sigmoid_score=True, score_clipping_thresh=None, min_score_thresh=None)"
)]
#[allow(clippy::too_many_arguments)]
fn py_decode_detections<'py>(
    raw_boxes: &Bound<'py, PyAny>,
    raw_scores: &Bound<'py, PyAny>,
    anchors: &Bound<'py, PyAny>,
    num_keypoints: Int,
    x_scale: f32,
    y_scale: f32,
    w_scale: f32,
    h_scale: f32,
    box_coord_offset: Int,
    keypoint_coord_offset: Int,
    reverse_output_order: bool,
    apply_exponential_on_box_size: bool,
    sigmoid_score: bool,
    score_clipping_thresh: Option<f32>,
    min_score_thresh: Option<f32>,
) -> PyResult<DetectionArrays<'py>> {
    let py = raw_boxes.py();
    let offset = |name: &str, value: &Int| -> PyResult<usize> {
        value
            .value
            .and_then(|n| usize::try_from(n).ok())
            .filter(|&n| n <= detection::MAX_COORDS)
            .ok_or_else(|| {
                PyValueError::new_err(format!(
                    "{name} must be in 0..={}, got {}",
                    detection::MAX_COORDS,
                    value.text
                ))
            })
    };
    let num_keypoints = offset("num_keypoints", &num_keypoints)?;
    let anchors_array = f32_array(anchors, "anchors")?;
    let anchor_rows = matrix_view(&anchors_array, "anchors", "(N, 4)")?;
    if anchor_rows.ncols() != 4 || anchor_rows.nrows() > anchors::MAX_ANCHORS {
        return Err(PyValueError::new_err(format!(
            "anchors must have shape (N, 4) with N <= {}, got {:?}",
            anchors::MAX_ANCHORS,
            anchor_rows.shape()
        )));
    }
    let anchor_list: Vec<anchors::Anchor> = anchor_rows
        .rows()
        .into_iter()
        .map(|row| anchors::Anchor {
            x_center: row[0],
            y_center: row[1],
            width: row[2],
            height: row[3],
        })
        .collect();
    if anchor_list.iter().any(|a| {
        ![a.x_center, a.y_center, a.width, a.height]
            .iter()
            .all(|v| v.is_finite())
    }) {
        return Err(PyValueError::new_err("anchors must be finite"));
    }
    let n = anchor_list.len();
    let boxes_array = f32_array(raw_boxes, "raw_boxes")?;
    let boxes = matrix_view(&boxes_array, "raw_boxes", "(N, num_coords)")?;
    if boxes.nrows() != n || boxes.ncols() > detection::MAX_COORDS {
        return Err(PyValueError::new_err(format!(
            "raw_boxes must have shape ({n}, num_coords) with num_coords <= {} for {n} anchors, \
             got {:?}",
            detection::MAX_COORDS,
            boxes.shape()
        )));
    }
    let scores_array = f32_array(raw_scores, "raw_scores")?;
    let scores_view = scores_array.as_array();
    let score_count = scores_view.len();
    let score_shape_ok = match scores_view.shape() {
        [rows] | [rows, 1] | [1, rows, 1] | [1, rows] => *rows == n,
        _ => false,
    };
    if !score_shape_ok || score_count != n {
        return Err(PyValueError::new_err(format!(
            "raw_scores must have shape ({n},) or ({n}, 1) for {n} anchors, got {:?}",
            scores_view.shape()
        )));
    }
    let scores: Vec<f32> = scores_view.iter().copied().collect();
    let flat: Vec<f32> = boxes.iter().copied().collect();
    let options = detection::DecodeOptions {
        num_coords: boxes.ncols(),
        box_coord_offset: offset("box_coord_offset", &box_coord_offset)?,
        keypoint_coord_offset: offset("keypoint_coord_offset", &keypoint_coord_offset)?,
        num_keypoints,
        x_scale,
        y_scale,
        w_scale,
        h_scale,
        reverse_output_order,
        apply_exponential_on_box_size,
        sigmoid_score,
        score_clipping_thresh,
        min_score_thresh,
    };
    let found = detection::decode(&flat, &scores, &anchor_list, &options)?;
    Ok(detection_arrays(py, &found, num_keypoints))
}

/// MediaPipe's weighted non-maximum suppression (NonMaxSuppressionCalculator, algorithm
/// WEIGHTED, overlap INTERSECTION_OVER_UNION) over detections as `decode_detections` returns
/// them. Returns the merged detections, best first, in the same three arrays.
#[pyfunction(name = "weighted_nms")]
#[pyo3(signature = (scores, boxes, keypoints, *, min_suppression_threshold = 0.3))]
fn py_weighted_nms<'py>(
    scores: &Bound<'py, PyAny>,
    boxes: &Bound<'py, PyAny>,
    keypoints: &Bound<'py, PyAny>,
    min_suppression_threshold: f32,
) -> PyResult<DetectionArrays<'py>> {
    let py = scores.py();
    let (scores, boxes, keypoints) = (
        f32_array(scores, "scores")?,
        f32_array(boxes, "boxes")?,
        f32_array(keypoints, "keypoints")?,
    );
    let (scores, boxes, keypoints) = (scores.as_array(), boxes.as_array(), keypoints.as_array());
    let m = scores.len();
    let shapes_ok = scores.ndim() == 1
        && boxes.shape() == [m, 4]
        && keypoints.ndim() == 3
        && keypoints.shape()[0] == m
        && keypoints.shape()[2] == 2
        && keypoints.shape()[1] <= detection::MAX_KEYPOINTS
        && m <= anchors::MAX_ANCHORS;
    if !shapes_ok {
        return Err(PyValueError::new_err(format!(
            "expected scores (M,), boxes (M, 4) and keypoints (M, K, 2) with M <= {} and K <= \
             {}, got {:?}, {:?} and {:?}",
            anchors::MAX_ANCHORS,
            detection::MAX_KEYPOINTS,
            scores.shape(),
            boxes.shape(),
            keypoints.shape()
        )));
    }
    let k = keypoints.shape()[1];
    if scores
        .iter()
        .chain(boxes.iter())
        .chain(keypoints.iter())
        .any(|v| !v.is_finite())
    {
        return Err(PyValueError::new_err(
            "scores, boxes and keypoints must be finite",
        ));
    }
    let detections: Vec<detection::Detection> = (0..m)
        .map(|i| detection::Detection {
            score: scores[i],
            xmin: boxes[[i, 0]],
            ymin: boxes[[i, 1]],
            xmax: boxes[[i, 2]],
            ymax: boxes[[i, 3]],
            keypoints: (0..k)
                .map(|j| [keypoints[[i, j, 0]], keypoints[[i, j, 1]]])
                .collect(),
        })
        .collect();
    let merged = detection::weighted_nms(&detections, min_suppression_threshold)?;
    Ok(detection_arrays(py, &merged, k))
}

/// Smooths landmarks over time with MediaPipe's one-euro filter (LandmarksSmoothingCalculator
/// with `one_euro_filter`): x, y and z of each landmark filtered on their own, frequency from
/// the timestamps, velocity scaled by 1 / object scale.
#[pyclass(name = "LandmarkSmoother", module = "rtnet._core")]
struct PyLandmarkSmoother {
    smoother: one_euro::LandmarkSmoother,
}

#[pymethods]
impl PyLandmarkSmoother {
    #[new]
    #[pyo3(signature = (
        min_cutoff = 1.0, beta = 0.0, derivate_cutoff = 1.0, *, frequency = 30.0,
        min_allowed_object_scale = 1e-6, disable_value_scaling = false
    ))]
    fn new(
        min_cutoff: f64,
        beta: f64,
        derivate_cutoff: f64,
        frequency: f64,
        min_allowed_object_scale: f64,
        disable_value_scaling: bool,
    ) -> PyResult<Self> {
        let params = one_euro::OneEuroParams {
            frequency,
            min_cutoff,
            beta,
            derivate_cutoff,
        };
        Ok(Self {
            smoother: one_euro::LandmarkSmoother::new(
                params,
                min_allowed_object_scale,
                disable_value_scaling,
            )?,
        })
    }

    /// Filters `landmarks`, float32/float64 (N, D) with D >= 2 (x, y, then z; further columns
    /// pass through), at `timestamp` seconds; returns float32 (N, D). With `image_size`
    /// (width, height) the landmarks are normalised and filtered in pixels (z scaled like x),
    /// as MediaPipe's NORM_LANDMARKS input. `object_scale` (in the filtered units) replaces the
    /// landmarks' bounding-box size.
    #[pyo3(signature = (landmarks, timestamp, *, image_size = None, object_scale = None))]
    fn apply<'py>(
        &mut self,
        landmarks: &Bound<'py, PyAny>,
        timestamp: f64,
        image_size: Option<(Int, Int)>,
        object_scale: Option<f64>,
    ) -> PyResult<Bound<'py, PyArray2<f32>>> {
        let py = landmarks.py();
        if !is_float_array(landmarks, "landmarks")? {
            return Err(PyTypeError::new_err(format!(
                "landmarks must be a float32 or float64 numpy array, got {}",
                type_name(landmarks)
            )));
        }
        let array = landmarks.cast::<PyUntypedArray>()?;
        let (rows, dims) = match array.shape() {
            &[rows, dims]
                if (1..=one_euro::MAX_LANDMARKS).contains(&rows)
                    && (2..=one_euro::MAX_DIMS).contains(&dims) =>
            {
                (rows, dims)
            }
            shape => {
                return Err(PyValueError::new_err(format!(
                    "landmarks must have shape (N, D) with 1 <= N <= {} and 2 <= D <= {}, got \
                     {shape:?}",
                    one_euro::MAX_LANDMARKS,
                    one_euro::MAX_DIMS
                )))
            }
        };
        let scale = match &image_size {
            Some((width, height)) => {
                let width = count("image width", width, preprocess::MAX_FRAME_SIDE)?;
                let height = count("image height", height, preprocess::MAX_FRAME_SIDE)?;
                [width as f64, height as f64, width as f64]
            }
            None => [1.0; 3],
        };
        let mut values = float_values(landmarks)?;
        for row in values.chunks_exact_mut(dims) {
            row.iter_mut().zip(scale).for_each(|(v, s)| *v *= s);
        }
        self.smoother
            .apply(&mut values, rows, dims, timestamp, object_scale)?;
        for row in values.chunks_exact_mut(dims) {
            row.iter_mut().zip(scale).for_each(|(v, s)| *v /= s);
        }
        let out = Array2::from_shape_fn((rows, dims), |(r, c)| values[r * dims + c] as f32);
        Ok(out.into_pyarray(py))
    }

    /// Forgets the track: the next landmarks (of any N) start afresh, as after a lost target.
    fn reset(&mut self) {
        self.smoother.reset();
    }

    #[getter]
    fn min_cutoff(&self) -> f64 {
        self.smoother.params().min_cutoff
    }

    #[getter]
    fn beta(&self) -> f64 {
        self.smoother.params().beta
    }

    #[getter]
    fn derivate_cutoff(&self) -> f64 {
        self.smoother.params().derivate_cutoff
    }

    #[getter]
    fn frequency(&self) -> f64 {
        self.smoother.params().frequency
    }

    fn __repr__(&self) -> String {
        let p = self.smoother.params();
        format!(
            "LandmarkSmoother(min_cutoff={:?}, beta={:?}, derivate_cutoff={:?}, frequency={:?}, \
             min_allowed_object_scale={:?}, disable_value_scaling={})",
            p.min_cutoff,
            p.beta,
            p.derivate_cutoff,
            p.frequency,
            self.smoother.min_allowed_object_scale(),
            if self.smoother.disable_value_scaling() {
                "True"
            } else {
                "False"
            }
        )
    }
}

/// Adds the tracking classes and functions to the `_core` module.
pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<PyLandmarkSmoother>()?;
    m.add_function(wrap_pyfunction!(py_crop_to_tensor, m)?)?;
    m.add_function(wrap_pyfunction!(py_crop_matrix, m)?)?;
    m.add_function(wrap_pyfunction!(py_ssd_anchors, m)?)?;
    m.add_function(wrap_pyfunction!(py_decode_detections, m)?)?;
    m.add_function(wrap_pyfunction!(py_weighted_nms, m)?)?;
    Ok(())
}
