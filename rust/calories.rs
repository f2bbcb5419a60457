//! MET -> kcal accumulation driven by stream time (the `dt` of each update), never the wall
//! clock, so a file processed faster than real time gives the same calories.

use std::collections::VecDeque;

use crate::error::ArgumentError;

/// Stream time the MET history starts with, at MET 0 (the algorithm's warm-up).
/// The reference README says 5 s, but its goldens (`cal_out_*`, `fitness_calories`) are matched
/// to 1e-15 only with 5.75 s; with 5 s the running MET comes out up to 14% high over the first 7 s.
const INITIAL_HISTORY_SECONDS: f64 = 5.75;
/// Weight of a new MET prediction in the live exponential moving average.
const LIVE_RATE: f64 = 0.2;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Gender {
    Female,
    Male,
    Unspecified,
}

impl Gender {
    /// `None` and "other" mean unspecified; case is ignored.
    pub fn parse(name: Option<&str>) -> Result<Self, ArgumentError> {
        match name.map(str::to_ascii_lowercase).as_deref() {
            None | Some("other") => Ok(Self::Unspecified),
            Some("male") => Ok(Self::Male),
            Some("female") => Ok(Self::Female),
            Some(other) => Err(ArgumentError::new(format!(
                "gender must be 'male', 'female', 'other' or None, got {other:?}"
            ))),
        }
    }

    pub fn name(self) -> Option<&'static str> {
        match self {
            Self::Female => Some("female"),
            Self::Male => Some("male"),
            Self::Unspecified => None,
        }
    }

    /// The sex term of the Mifflin-St Jeor resting metabolic rate (kcal/day).
    fn rmr_offset(self) -> f64 {
        match self {
            Self::Male => 5.0,
            Self::Female => -161.0,
            Self::Unspecified => -78.0,
        }
    }
}

/// The person and the algorithm's time constants.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CalorieSettings {
    /// kg
    pub weight: f64,
    /// cm
    pub height: f64,
    /// years
    pub age: f64,
    pub gender: Gender,
    /// Seconds of MET history averaged for the running MET.
    pub smoothing: f64,
    /// Seconds: time constant of the running MET's decay when activity drops.
    pub recovery_factor: f64,
}

impl Default for CalorieSettings {
    fn default() -> Self {
        Self {
            weight: 70.0,
            height: 170.0,
            age: 30.0,
            gender: Gender::Unspecified,
            smoothing: 20.0,
            recovery_factor: 60.0,
        }
    }
}

impl CalorieSettings {
    fn validate(&self) -> Result<(), ArgumentError> {
        let checks = [
            ("weight", self.weight, self.weight > 0.0, "> 0 kg"),
            ("height", self.height, self.height > 0.0, "> 0 cm"),
            ("age", self.age, self.age >= 0.0, ">= 0 years"),
            (
                "smoothing",
                self.smoothing,
                self.smoothing > 0.0,
                "> 0 seconds",
            ),
            (
                "recovery_factor",
                self.recovery_factor,
                self.recovery_factor > 0.0,
                "> 0 seconds",
            ),
        ];
        for (name, value, ok, expected) in checks {
            if !ok || !value.is_finite() {
                return Err(ArgumentError::new(format!(
                    "{name} must be {expected}, got {value}"
                )));
            }
        }
        if self.resting_metabolic_rate() <= 0.0 {
            return Err(ArgumentError::new(format!(
                "weight={}, height={}, age={} give a resting metabolic rate <= 0",
                self.weight, self.height, self.age
            )));
        }
        Ok(())
    }

    /// Mifflin-St Jeor resting metabolic rate, kcal/day.
    fn resting_metabolic_rate(&self) -> f64 {
        10.0 * self.weight + 6.25 * self.height - 5.0 * self.age + self.gender.rmr_offset()
    }

    /// Rescales a MET (defined for a 3.5 ml/kg/min average person) to this person's resting rate.
    fn correct(&self, met: f64) -> f64 {
        met * 3.5 / (self.resting_metabolic_rate() * 1000.0 / (1440.0 * 5.0 * self.weight))
    }
}

/// State after an update.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CalorieUpdate {
    /// kcal burnt since the start (or the last reset).
    pub total_calories: f64,
    /// Exponential moving average of the MET predictions.
    pub met_live: f64,
    /// Running MET, corrected for this person, that the calories accumulate.
    pub met_corrected: f64,
}

#[derive(Debug, Clone)]
pub struct CalorieAccumulator {
    settings: CalorieSettings,
    live: f64,
    running: f64,
    total: f64,
    /// (seconds, corrected MET), newest first; trimmed to what the smoothing window reaches.
    history: VecDeque<(f64, f64)>,
}

impl CalorieAccumulator {
    pub fn new(settings: CalorieSettings) -> Result<Self, ArgumentError> {
        settings.validate()?;
        Ok(Self::started(settings))
    }

    /// The state before any update.
    fn started(settings: CalorieSettings) -> Self {
        Self {
            settings,
            live: 0.0,
            running: 0.0,
            total: 0.0,
            history: VecDeque::from([(INITIAL_HISTORY_SECONDS, 0.0)]),
        }
    }

    pub fn settings(&self) -> &CalorieSettings {
        &self.settings
    }

    pub fn state(&self) -> CalorieUpdate {
        CalorieUpdate {
            total_calories: self.total,
            met_live: self.live,
            met_corrected: self.running,
        }
    }

    /// Accounts `dt` seconds of stream time, then takes in a new MET prediction.
    pub fn update(&mut self, met: f64, dt: f64) -> Result<CalorieUpdate, ArgumentError> {
        if !(met.is_finite() && met >= 0.0) {
            return Err(ArgumentError::new(format!(
                "met must be finite and >= 0, got {met}"
            )));
        }
        if !(dt.is_finite() && dt >= 0.0) {
            return Err(ArgumentError::new(format!(
                "dt must be finite and >= 0 seconds, got {dt}"
            )));
        }
        let settings = self.settings;
        // The elapsed interval ran at the live MET from before this prediction.
        self.history.push_front((dt, settings.correct(self.live)));
        let smoothed = self.smoothed_met();
        self.running = if smoothed > self.running {
            smoothed
        } else {
            self.running * (-dt / settings.recovery_factor).exp()
        };
        self.total += settings.weight * dt / 3600.0 * self.running;
        self.live += LIVE_RATE * (met - self.live);
        Ok(self.state())
    }

    /// Time-weighted mean over the newest `smoothing` seconds of history, clipping the entry
    /// that crosses the window; entries beyond it are dropped.
    fn smoothed_met(&mut self) -> f64 {
        let mut remaining = self.settings.smoothing;
        let (mut weighted, mut covered, mut used) = (0.0, 0.0, 0);
        for &(seconds, met) in &self.history {
            let span = seconds.min(remaining);
            weighted += span * met;
            covered += span;
            remaining -= span;
            used += 1;
            if remaining <= 0.0 {
                break;
            }
        }
        self.history.truncate(used);
        if covered > 0.0 {
            weighted / covered
        } else {
            0.0
        }
    }

    pub fn reset(&mut self) {
        *self = Self::started(self.settings);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn female_65kg() -> CalorieSettings {
        CalorieSettings {
            weight: 65.0,
            gender: Gender::Female,
            smoothing: 12.0,
            ..CalorieSettings::default()
        }
    }

    #[test]
    fn first_updates_by_hand() {
        let settings = female_65kg();
        let mut acc = CalorieAccumulator::new(settings).unwrap();
        // Step 1: history [(1, 0), (5.75, 0)] -> smoothed 0, running 0, total 0, live 0.2 * 4.
        let first = acc.update(4.0, 1.0).unwrap();
        assert_eq!(
            first,
            CalorieUpdate {
                total_calories: 0.0,
                met_live: 0.8,
                met_corrected: 0.0
            }
        );
        // Step 2: history [(2, c(0.8)), (1, 0), (5.75, 0)], all 8.75 s inside the 12 s window.
        let second = acc.update(4.0, 2.0).unwrap();
        let smoothed = 2.0 * settings.correct(0.8) / 8.75;
        assert!((second.met_corrected - smoothed).abs() < 1e-15);
        assert!((second.total_calories - 65.0 * 2.0 / 3600.0 * smoothed).abs() < 1e-15);
        assert!((second.met_live - (0.8 + 0.2 * 3.2)).abs() < 1e-15);
    }

    #[test]
    fn running_met_decays_when_activity_stops() {
        let mut acc = CalorieAccumulator::new(female_65kg()).unwrap();
        for _ in 0..100 {
            acc.update(8.0, 0.25).unwrap();
        }
        let peak = acc.state().met_corrected;
        let mut last = peak;
        for _ in 0..200 {
            last = acc.update(0.0, 0.25).unwrap().met_corrected;
        }
        assert!(last < peak * 0.9);
        acc.reset();
        assert_eq!(
            acc.state(),
            CalorieUpdate {
                total_calories: 0.0,
                met_live: 0.0,
                met_corrected: 0.0
            }
        );
    }

    #[test]
    fn history_is_trimmed_to_the_window() {
        let mut acc = CalorieAccumulator::new(female_65kg()).unwrap();
        for _ in 0..1000 {
            acc.update(3.0, 0.5).unwrap();
        }
        assert!(acc.history.len() <= 25);
    }

    #[test]
    fn argument_errors_name_the_argument() {
        let bad = [
            CalorieSettings {
                weight: 0.0,
                ..CalorieSettings::default()
            },
            CalorieSettings {
                height: f64::NAN,
                ..CalorieSettings::default()
            },
            CalorieSettings {
                age: -1.0,
                ..CalorieSettings::default()
            },
            CalorieSettings {
                smoothing: 0.0,
                ..CalorieSettings::default()
            },
            CalorieSettings {
                recovery_factor: f64::INFINITY,
                ..CalorieSettings::default()
            },
        ];
        for (settings, name) in
            bad.into_iter()
                .zip(["weight", "height", "age", "smoothing", "recovery"])
        {
            let message = CalorieAccumulator::new(settings).unwrap_err().0;
            assert!(message.starts_with(name), "{message}");
        }
        let mut acc = CalorieAccumulator::new(CalorieSettings::default()).unwrap();
        assert!(acc.update(-1.0, 0.1).unwrap_err().0.starts_with("met"));
        assert!(acc.update(f64::NAN, 0.1).unwrap_err().0.starts_with("met"));
        assert!(acc.update(1.0, -0.1).unwrap_err().0.starts_with("dt"));
        assert_eq!(Gender::parse(Some("Male")).unwrap(), Gender::Male);
        assert_eq!(Gender::parse(Some("other")).unwrap(), Gender::Unspecified);
        assert!(Gender::parse(Some("x"))
            .unwrap_err()
            .0
            .starts_with("gender"));
    }
}
