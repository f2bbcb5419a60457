//! Moving average of the last `window` probability vectors, with top-k selection.

use std::collections::VecDeque;

use crate::error::ArgumentError;

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
        if window == 0 {
            return Err(ArgumentError::new("window must be >= 1, got 0"));
        }
        if num_classes == 0 {
            return Err(ArgumentError::new("num_classes must be >= 1, got 0"));
        }
        Ok(Self {
            window,
            num_classes,
            history: VecDeque::with_capacity(window),
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
}
