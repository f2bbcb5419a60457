//! Landmark smoothing with the one-euro filter, as MediaPipe's LandmarksSmoothingCalculator
//! (`one_euro_filter` options) does: every coordinate of every landmark is filtered on its own,
//! the sampling frequency comes from the timestamps, and the velocity is scaled by the inverse
//! of the object's size so that smoothing does not depend on how far the person stands.
//!
//! MediaPipe keeps the filter state in float; this keeps it in f64.

use std::f64::consts::PI;

use crate::error::ArgumentError;

/// Most landmarks and values per landmark accepted.
pub const MAX_LANDMARKS: usize = 100_000;
pub const MAX_DIMS: usize = 64;

/// An exponential low-pass filter that remembers its last raw input.
#[derive(Debug, Clone, Default)]
struct LowPass {
    last: Option<(f64, f64)>,
}

impl LowPass {
    fn apply(&mut self, value: f64, alpha: f64) -> f64 {
        let result = match self.last {
            Some((_, stored)) => alpha * value + (1.0 - alpha) * stored,
            None => value,
        };
        self.last = Some((value, result));
        result
    }

    fn last_raw(&self) -> Option<f64> {
        self.last.map(|(raw, _)| raw)
    }
}

/// The filter's constants (MediaPipe's OneEuroFilter options).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct OneEuroParams {
    /// Hz, used until two timestamps give the real rate.
    pub frequency: f64,
    pub min_cutoff: f64,
    pub beta: f64,
    pub derivate_cutoff: f64,
}

impl Default for OneEuroParams {
    /// MediaPipe's defaults.
    fn default() -> Self {
        Self {
            frequency: 30.0,
            min_cutoff: 1.0,
            beta: 0.0,
            derivate_cutoff: 1.0,
        }
    }
}

impl OneEuroParams {
    pub fn validate(&self) -> Result<(), ArgumentError> {
        let positive = [
            ("frequency", self.frequency),
            ("min_cutoff", self.min_cutoff),
            ("derivate_cutoff", self.derivate_cutoff),
        ];
        for (name, value) in positive {
            if !(value.is_finite() && value > 0.0) {
                return Err(ArgumentError::new(format!(
                    "{name} must be finite and > 0, got {value:?}"
                )));
            }
        }
        if !(self.beta.is_finite() && self.beta >= 0.0) {
            return Err(ArgumentError::new(format!(
                "beta must be finite and >= 0, got {:?}",
                self.beta
            )));
        }
        Ok(())
    }
}

/// One-euro filter of one value.
#[derive(Debug, Clone)]
pub struct OneEuroFilter {
    params: OneEuroParams,
    frequency: f64,
    x: LowPass,
    dx: LowPass,
    last_time: Option<f64>,
}

impl OneEuroFilter {
    pub fn new(params: OneEuroParams) -> Self {
        Self {
            params,
            frequency: params.frequency,
            x: LowPass::default(),
            dx: LowPass::default(),
            last_time: None,
        }
    }

    fn alpha(&self, cutoff: f64) -> f64 {
        let te = 1.0 / self.frequency;
        let tau = 1.0 / (2.0 * PI * cutoff);
        1.0 / (1.0 + tau / te)
    }

    /// Filters `value` at `timestamp` seconds. A timestamp not after the previous one returns
    /// the value unfiltered and leaves the state alone, as MediaPipe does.
    pub fn apply(&mut self, timestamp: f64, value_scale: f64, value: f64) -> f64 {
        if let Some(last) = self.last_time {
            if last >= timestamp {
                return value;
            }
            self.frequency = 1.0 / (timestamp - last);
        }
        self.last_time = Some(timestamp);
        let dvalue = self
            .x
            .last_raw()
            .map_or(0.0, |raw| (value - raw) * value_scale * self.frequency);
        let edvalue = self
            .dx
            .apply(dvalue, self.alpha(self.params.derivate_cutoff));
        let cutoff = self.params.min_cutoff + self.params.beta * edvalue.abs();
        self.x.apply(value, self.alpha(cutoff))
    }
}

/// Smooths a set of landmarks (N rows of x, y[, z, more...]) over time; x, y and z are filtered
/// and further columns (visibility, presence) pass through.
#[derive(Debug, Clone)]
pub struct LandmarkSmoother {
    params: OneEuroParams,
    min_allowed_object_scale: f64,
    disable_value_scaling: bool,
    /// One filter per filtered value, row-major; empty until the first update or after reset.
    filters: Vec<OneEuroFilter>,
    rows: usize,
    dims: usize,
}

impl LandmarkSmoother {
    pub fn new(
        params: OneEuroParams,
        min_allowed_object_scale: f64,
        disable_value_scaling: bool,
    ) -> Result<Self, ArgumentError> {
        params.validate()?;
        if !(min_allowed_object_scale.is_finite() && min_allowed_object_scale >= 0.0) {
            return Err(ArgumentError::new(format!(
                "min_allowed_object_scale must be finite and >= 0, got {min_allowed_object_scale:?}"
            )));
        }
        Ok(Self {
            params,
            min_allowed_object_scale,
            disable_value_scaling,
            filters: Vec::new(),
            rows: 0,
            dims: 0,
        })
    }

    pub fn params(&self) -> OneEuroParams {
        self.params
    }

    pub fn min_allowed_object_scale(&self) -> f64 {
        self.min_allowed_object_scale
    }

    pub fn disable_value_scaling(&self) -> bool {
        self.disable_value_scaling
    }

    /// Forgets the past: the next landmarks start a new track (of any size).
    pub fn reset(&mut self) {
        self.filters.clear();
        self.rows = 0;
        self.dims = 0;
    }

    /// Filters `landmarks` (rows x dims, row-major) at `timestamp` seconds, in place.
    /// `object_scale` defaults to the mean of the x and y extents of the landmarks; below
    /// `min_allowed_object_scale` the landmarks pass unfiltered.
    pub fn apply(
        &mut self,
        landmarks: &mut [f64],
        rows: usize,
        dims: usize,
        timestamp: f64,
        object_scale: Option<f64>,
    ) -> Result<(), ArgumentError> {
        if !(1..=MAX_LANDMARKS).contains(&rows) || !(2..=MAX_DIMS).contains(&dims) {
            return Err(ArgumentError::new(format!(
                "landmarks must be (N, D) with 1 <= N <= {MAX_LANDMARKS} and 2 <= D <= \
                 {MAX_DIMS}, got ({rows}, {dims})"
            )));
        }
        if Some(landmarks.len()) != rows.checked_mul(dims) {
            return Err(ArgumentError::new(
                "landmarks length does not match its shape",
            ));
        }
        if !self.filters.is_empty() && (rows, dims) != (self.rows, self.dims) {
            return Err(ArgumentError::new(format!(
                "landmarks must keep the shape ({}, {}) of the track, got ({rows}, {dims}); \
                 reset() to start another",
                self.rows, self.dims
            )));
        }
        if !timestamp.is_finite() {
            return Err(ArgumentError::new(format!(
                "timestamp must be finite, got {timestamp:?}"
            )));
        }
        if landmarks.iter().any(|v| !v.is_finite()) {
            return Err(ArgumentError::new("landmarks must be finite"));
        }
        if let Some(scale) = object_scale {
            if !(scale.is_finite() && scale >= 0.0) {
                return Err(ArgumentError::new(format!(
                    "object_scale must be finite and >= 0, got {scale:?}"
                )));
            }
        }
        let filtered = dims.min(3);
        if self.filters.is_empty() {
            self.filters = vec![OneEuroFilter::new(self.params); rows * filtered];
            (self.rows, self.dims) = (rows, dims);
        }
        let value_scale = if self.disable_value_scaling {
            1.0
        } else {
            let scale = object_scale.unwrap_or_else(|| bounding_box_scale(landmarks, dims));
            if scale < self.min_allowed_object_scale {
                return Ok(());
            }
            1.0 / scale
        };
        for (row, filters) in landmarks
            .chunks_exact_mut(dims)
            .zip(self.filters.chunks_exact_mut(filtered))
        {
            for (value, filter) in row.iter_mut().zip(filters) {
                *value = filter.apply(timestamp, value_scale, *value);
            }
        }
        Ok(())
    }
}

/// MediaPipe's GetObjectScale: the mean of the width and height of the landmarks' bounding box.
fn bounding_box_scale(landmarks: &[f64], dims: usize) -> f64 {
    let extent = |column: usize| {
        let values = landmarks.chunks_exact(dims).map(|row| row[column]);
        let (min, max) = values.fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
            (lo.min(v), hi.max(v))
        });
        max - min
    };
    (extent(0) + extent(1)) / 2.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_value_passes_then_a_still_value_stays_and_a_step_is_smoothed() {
        let params = OneEuroParams::default();
        let mut filter = OneEuroFilter::new(params);
        assert_eq!(filter.apply(0.0, 1.0, 5.0), 5.0);
        assert_eq!(filter.apply(0.1, 1.0, 5.0), 5.0);
        // Step to 6 at 10 Hz: dx = 10, edx = alpha_d * 10, cutoff = 1 (beta 0).
        let alpha = |cutoff: f64, freq: f64| 1.0 / (1.0 + freq / (2.0 * PI * cutoff));
        let out = filter.apply(0.2, 1.0, 6.0);
        assert!((out - (5.0 + alpha(1.0, 10.0))).abs() < 1e-12);
        // Not after the last timestamp: unfiltered, state kept.
        assert_eq!(filter.apply(0.2, 1.0, 100.0), 100.0);
    }

    #[test]
    fn landmark_smoother_scales_velocity_by_object_size() {
        let params = OneEuroParams {
            beta: 10.0,
            ..OneEuroParams::default()
        };
        // The same motion relative to a 10x larger object is filtered the same way.
        let run = |size: f64| {
            let mut smoother = LandmarkSmoother::new(params, 1e-6, false).unwrap();
            let mut out = vec![];
            for step in 0..5 {
                let shift = size * 0.1 * step as f64;
                let mut landmarks = vec![shift, 0.0, shift + size, size];
                smoother
                    .apply(&mut landmarks, 2, 2, step as f64 / 30.0, None)
                    .unwrap();
                out.push(landmarks[0] / size);
            }
            out
        };
        let (small, large) = (run(1.0), run(10.0));
        for (a, b) in small.iter().zip(&large) {
            assert!((a - b).abs() < 1e-12);
        }
    }

    #[test]
    fn shape_changes_need_a_reset_and_tiny_objects_pass_through() {
        let mut smoother = LandmarkSmoother::new(OneEuroParams::default(), 0.5, false).unwrap();
        let mut two = vec![0.0, 0.0, 1.0, 1.0];
        smoother.apply(&mut two, 2, 2, 0.0, None).unwrap();
        let mut three = vec![0.0; 6];
        assert!(smoother.apply(&mut three, 3, 2, 1.0, None).is_err());
        smoother.reset();
        smoother.apply(&mut three, 3, 2, 1.0, None).unwrap();
        // Scale 0 < 0.5: as is.
        let mut moved = vec![5.0; 6];
        smoother.apply(&mut moved, 3, 2, 2.0, None).unwrap();
        assert_eq!(moved, vec![5.0; 6]);
        let mut nan = vec![f64::NAN, 0.0];
        assert!(smoother.apply(&mut nan, 1, 2, 3.0, None).is_err());
        assert!(LandmarkSmoother::new(
            OneEuroParams {
                min_cutoff: 0.0,
                ..OneEuroParams::default()
            },
            0.0,
            false
        )
        .is_err());
    }
}
