//! Moving average of the last `window` probability vectors, with top-k selection.

use std::collections::VecDeque;

use crate::error::ArgumentError;

/// Most inputs a Smoother averages: more than a few minutes of steps is no longer smoothing.
pub const MAX_WINDOW: usize = 10_000;
/// Most classes in a probability vector.
pub const MAX_CLASSES: usize = 100_000;
/// Most values the history may hold (`window * num_classes`): 128 MiB of f64.
pub const MAX_HISTORY_VALUES: usize = 1 << 24;

#[derive(Debug, Clone)]
pub struct Smoother {
    window: usize,
    num_classes: usize,
    /// The last `window` inputs, oldest first.
    history: VecDeque<Vec<f64>>,
    smoothed: Option<Vec<f64>>,
}

impl Smoother {
    pub fn new(window: usize, num_classes: usize) -> Result<Self, ArgumentError> {
        if !(1..=MAX_WINDOW).contains(&window) {
            return Err(ArgumentError::new(format!(
                "window must be in 1..={MAX_WINDOW}, got {window}"
            )));
        }
        if !(1..=MAX_CLASSES).contains(&num_classes) {
            return Err(ArgumentError::new(format!(
                "num_classes must be in 1..={MAX_CLASSES}, got {num_classes}"
            )));
        }
        if window
            .checked_mul(num_classes)
            .is_none_or(|values| values > MAX_HISTORY_VALUES)
        {
            return Err(ArgumentError::new(format!(
                "window * num_classes must be <= {MAX_HISTORY_VALUES}, got {window} * {num_classes}"
            )));
        }
        Ok(Self {
            window,
            num_classes,
            // Grows as inputs arrive: nothing is reserved from the arguments.
            history: VecDeque::new(),
            smoothed: None,
        })
    }

    pub fn window(&self) -> usize {
        self.window
    }

    pub fn num_classes(&self) -> usize {
        self.num_classes
    }

    /// Adds one probability vector; returns the mean of the last `window` (fewer at the start).
    pub fn update(&mut self, probs: Vec<f64>) -> Result<&[f64], ArgumentError> {
        if probs.len() != self.num_classes {
            return Err(ArgumentError::new(format!(
                "probs must have {} values, got {}",
                self.num_classes,
                probs.len()
            )));
        }
        if self.history.len() == self.window {
            self.history.pop_front();
        }
        self.history.push_back(probs);
        let count = self.history.len() as f64;
        let mut mean = vec![0.0; self.num_classes];
        for probs in &self.history {
            mean.iter_mut().zip(probs).for_each(|(m, p)| *m += p);
        }
        mean.iter_mut().for_each(|m| *m /= count);
        Ok(self.smoothed.insert(mean))
    }

    /// The smoothed vector after the last update, if any.
    pub fn smoothed(&self) -> Option<&[f64]> {
        self.smoothed.as_deref()
    }

    /// The `k` largest smoothed values as (class index, value), largest first; ties keep the
    /// lower index first.
    pub fn topk(&self, k: usize) -> Result<Vec<(usize, f64)>, ArgumentError> {
        if k == 0 || k > self.num_classes {
            return Err(ArgumentError::new(format!(
                "k must be in 1..={}, got {k}",
                self.num_classes
            )));
        }
        let smoothed = self.smoothed().ok_or_else(|| {
            ArgumentError::new("no probabilities yet: call update() before topk()")
        })?;
        let mut ranked: Vec<(usize, f64)> = smoothed.iter().copied().enumerate().collect();
        // total_cmp ranks NaN above every number, so a NaN input shows up rather than hiding.
        ranked.sort_by(|a, b| b.1.total_cmp(&a.1));
        ranked.truncate(k);
        Ok(ranked)
    }

    pub fn reset(&mut self) {
        self.history.clear();
        self.smoothed = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn averages_the_last_window_inputs() {
        let mut smoother = Smoother::new(2, 3).unwrap();
        assert_eq!(
            smoother.update(vec![1.0, 0.0, 0.0]).unwrap(),
            [1.0, 0.0, 0.0]
        );
        assert_eq!(
            smoother.update(vec![0.0, 1.0, 0.0]).unwrap(),
            [0.5, 0.5, 0.0]
        );
        assert_eq!(
            smoother.update(vec![0.0, 0.0, 1.0]).unwrap(),
            [0.0, 0.5, 0.5]
        );
    }

    #[test]
    fn topk_orders_by_value_then_index() {
        let mut smoother = Smoother::new(1, 4).unwrap();
        smoother.update(vec![0.1, 0.4, 0.1, 0.4]).unwrap();
        assert_eq!(smoother.topk(3).unwrap(), [(1, 0.4), (3, 0.4), (0, 0.1)]);
        assert!(smoother.topk(0).is_err());
        assert!(smoother.topk(5).is_err());
    }

    #[test]
    fn reset_and_argument_errors() {
        let mut smoother = Smoother::new(3, 2).unwrap();
        assert!(smoother.topk(1).is_err());
        smoother.update(vec![1.0, 0.0]).unwrap();
        smoother.reset();
        assert!(smoother.smoothed().is_none());
        assert_eq!(smoother.update(vec![0.0, 1.0]).unwrap(), [0.0, 1.0]);
        assert!(smoother.update(vec![1.0]).is_err());
        assert!(Smoother::new(0, 2).is_err());
        assert!(Smoother::new(2, 0).is_err());
    }

    #[test]
    fn sizes_beyond_the_limits_are_errors_not_allocations() {
        for (window, num_classes) in [
            (MAX_WINDOW + 1, 3),
            (1_000_000_000_000, 3),
            (1 << 62, 3),
            (usize::MAX, usize::MAX),
            (3, MAX_CLASSES + 1),
            (MAX_WINDOW, MAX_CLASSES),
        ] {
            let message = Smoother::new(window, num_classes).unwrap_err().0;
            assert!(message.contains("must be"), "{message}");
        }
        let largest = Smoother::new(MAX_WINDOW, MAX_HISTORY_VALUES / MAX_WINDOW).unwrap();
        assert_eq!(largest.window(), MAX_WINDOW);
    }
}
