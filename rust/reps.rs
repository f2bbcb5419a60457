//! Rep counting from the 5-class rep head: a two-position hysteresis counter per exercise.

use crate::error::ArgumentError;

/// Classes of the `reps` head, in labels.json order.
pub const NUM_REP_CLASSES: usize = 5;
const SQUAT_HIGH: usize = 1;
const SQUAT_LOW: usize = 2;
const ARMS_DOWN: usize = 3;
const ARMS_UP: usize = 4;

/// Counts one rep each time the exercise goes from position 0 to position 1 and back,
/// a position being entered when its class probability exceeds the threshold.
#[derive(Debug, Clone, PartialEq)]
struct TwoPositionCounter {
    /// Class index of position 0 and position 1.
    classes: [usize; 2],
    in_position_1: bool,
    count: u64,
}

impl TwoPositionCounter {
    fn new(position_0: usize, position_1: usize) -> Self {
        Self {
            classes: [position_0, position_1],
            in_position_1: false,
            count: 0,
        }
    }

    fn reset(&mut self) {
        self.in_position_1 = false;
        self.count = 0;
    }

    fn update(&mut self, probs: &[f64], threshold: f64) {
        if !self.in_position_1 && probs[self.classes[1]] > threshold {
            self.in_position_1 = true;
        } else if self.in_position_1 && probs[self.classes[0]] > threshold {
            self.in_position_1 = false;
            self.count += 1;
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct RepCounter {
    threshold: f64,
    jumping_jacks: TwoPositionCounter,
    squats: TwoPositionCounter,
}

impl RepCounter {
    pub fn new(threshold: f64) -> Result<Self, ArgumentError> {
        if !(0.0..=1.0).contains(&threshold) {
            return Err(ArgumentError::new(format!(
                "threshold must be a probability in [0, 1], got {threshold}"
            )));
        }
        Ok(Self {
            threshold,
            jumping_jacks: TwoPositionCounter::new(ARMS_DOWN, ARMS_UP),
            squats: TwoPositionCounter::new(SQUAT_HIGH, SQUAT_LOW),
        })
    }

    pub fn threshold(&self) -> f64 {
        self.threshold
    }

    /// Feeds one output of the rep head (5 probabilities in labels.json `reps` order).
    pub fn update(&mut self, probs: &[f64]) -> Result<(), ArgumentError> {
        if probs.len() != NUM_REP_CLASSES {
            return Err(ArgumentError::new(format!(
                "probs must have {NUM_REP_CLASSES} values (the reps head), got {}",
                probs.len()
            )));
        }
        self.jumping_jacks.update(probs, self.threshold);
        self.squats.update(probs, self.threshold);
        Ok(())
    }

    pub fn jumping_jacks(&self) -> u64 {
        self.jumping_jacks.count
    }

    pub fn squats(&self) -> u64 {
        self.squats.count
    }

    pub fn reset(&mut self) {
        self.jumping_jacks.reset();
        self.squats.reset();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn probs(class: usize) -> [f64; 5] {
        let mut p = [0.0; 5];
        p[class] = 0.9;
        p
    }

    #[test]
    fn counts_a_rep_on_return_to_position_0() {
        let mut counter = RepCounter::new(0.4).unwrap();
        for class in [ARMS_DOWN, ARMS_UP, ARMS_UP, 0, ARMS_DOWN, ARMS_UP] {
            counter.update(&probs(class)).unwrap();
        }
        assert_eq!((counter.jumping_jacks(), counter.squats()), (1, 0));
        for class in [SQUAT_LOW, SQUAT_HIGH, SQUAT_LOW, SQUAT_HIGH, ARMS_DOWN] {
            counter.update(&probs(class)).unwrap();
        }
        assert_eq!((counter.jumping_jacks(), counter.squats()), (2, 2));
    }

    #[test]
    fn threshold_is_strict() {
        let mut counter = RepCounter::new(0.9).unwrap();
        for class in [ARMS_UP, ARMS_DOWN] {
            counter.update(&probs(class)).unwrap();
        }
        assert_eq!(counter.jumping_jacks(), 0);
    }

    #[test]
    fn reset_and_argument_errors() {
        let mut counter = RepCounter::new(0.4).unwrap();
        for class in [SQUAT_LOW, SQUAT_HIGH] {
            counter.update(&probs(class)).unwrap();
        }
        counter.reset();
        assert_eq!(counter.squats(), 0);
        assert!(counter.update(&[0.5; 4]).is_err());
        assert!(RepCounter::new(f64::NAN).is_err());
        assert!(RepCounter::new(1.5).is_err());
    }
}
