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

/// Accepted ranges (inclusive) of the person: wide enough for any real person, narrow enough
/// that every product in the algorithm stays finite and meaningful.
pub const WEIGHT_KG: (f64, f64) = (10.0, 700.0);
pub const HEIGHT_CM: (f64, f64) = (50.0, 300.0);
pub const AGE_YEARS: (f64, f64) = (0.0, 150.0);
/// Lowest resting metabolic rate accepted (kcal/day); the MET correction divides by it.
pub const MIN_RESTING_METABOLIC_RATE: f64 = 100.0;
/// Longest `smoothing` and `recovery_factor` (seconds); both must also be > 0.
pub const MAX_TIME_CONSTANT_S: f64 = 3600.0;
/// Longest stream time one update may account (seconds): longer gaps are not a video stream.
pub const MAX_DT_S: f64 = 3600.0;
/// Largest MET prediction accepted (the Compendium's highest activities are about 25).
pub const MAX_MET: f64 = 1000.0;
/// Most history entries kept. Only updates closer than `smoothing / MAX_HISTORY` seconds apart
/// reach it; the two oldest entries are then merged into their time-weighted mean.
pub const MAX_HISTORY: usize = 4096;

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
        let ranges = [
            ("weight", self.weight, WEIGHT_KG, "kg"),
            ("height", self.height, HEIGHT_CM, "cm"),
            ("age", self.age, AGE_YEARS, "years"),
        ];
        for (name, value, (low, high), unit) in ranges {
            if !(low..=high).contains(&value) {
                return Err(ArgumentError::new(format!(
                    "{name} must be in [{low}, {high}] {unit}, got {value:?}"
                )));
            }
        }
        for (name, value) in [
            ("smoothing", self.smoothing),
            ("recovery_factor", self.recovery_factor),
        ] {
            if !(value > 0.0 && value <= MAX_TIME_CONSTANT_S) {
                return Err(ArgumentError::new(format!(
                    "{name} must be > 0 and <= {MAX_TIME_CONSTANT_S} seconds, got {value:?}"
                )));
            }
        }
        if self.resting_metabolic_rate() < MIN_RESTING_METABOLIC_RATE {
            return Err(ArgumentError::new(format!(
                "weight={}, height={}, age={} give a resting metabolic rate below {} kcal/day",
                self.weight, self.height, self.age, MIN_RESTING_METABOLIC_RATE
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
        if !(0.0..=MAX_MET).contains(&met) {
            return Err(ArgumentError::new(format!(
                "met must be in [0, {MAX_MET}], got {met:?}"
            )));
        }
        if !(0.0..=MAX_DT_S).contains(&dt) {
            return Err(ArgumentError::new(format!(
                "dt must be in [0, {MAX_DT_S}] seconds, got {dt:?}"
            )));
        }
        let settings = self.settings;
        // The elapsed interval ran at the live MET from before this prediction. An interval of
        // no time weighs nothing in the mean, so it is not kept: repeated dt=0 updates would
        // otherwise grow the history for ever.
        if dt > 0.0 {
            self.history.push_front((dt, settings.correct(self.live)));
            if self.history.len() > MAX_HISTORY {
                let (older_s, older_met) = self.history.pop_back().unwrap_or_default();
                if let Some((seconds, met)) = self.history.back_mut() {
                    let merged_s = *seconds + older_s;
                    *met = (*seconds * *met + older_s * older_met) / merged_s;
                    *seconds = merged_s;
                }
            }
        }
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
    fn zero_dt_updates_keep_no_history_and_change_nothing_but_the_live_met() {
        let mut with_zeros = CalorieAccumulator::new(female_65kg()).unwrap();
        let mut without = CalorieAccumulator::new(female_65kg()).unwrap();
        for step in 0..200 {
            let met = f64::from(step % 7);
            with_zeros.update(met, 0.25).unwrap();
            without.update(met, 0.25).unwrap();
        }
        let before = with_zeros.history.len();
        for _ in 0..100_000 {
            with_zeros.update(3.0, 0.0).unwrap();
        }
        assert_eq!(with_zeros.history.len(), before);
        assert_eq!(
            with_zeros.state().total_calories,
            without.state().total_calories
        );
    }

    #[test]
    fn history_is_bounded_however_small_dt_is() {
        let mut acc = CalorieAccumulator::new(female_65kg()).unwrap();
        for step in 0..3 * MAX_HISTORY {
            acc.update(f64::from(step as u32 % 5), 1e-9).unwrap();
        }
        assert_eq!(acc.history.len(), MAX_HISTORY);
        // Merging keeps the time covered and the time-weighted MET.
        let covered: f64 = acc.history.iter().map(|&(s, _)| s).sum();
        assert!(
            (covered - (INITIAL_HISTORY_SECONDS + 3.0 * MAX_HISTORY as f64 * 1e-9)).abs() < 1e-9
        );
        assert!(acc.state().total_calories.is_finite());
    }

    #[test]
    fn extreme_but_accepted_values_stay_finite() {
        let settings = CalorieSettings {
            weight: WEIGHT_KG.1,
            height: HEIGHT_CM.0,
            age: AGE_YEARS.0,
            gender: Gender::Female,
            smoothing: MAX_TIME_CONSTANT_S,
            recovery_factor: MAX_TIME_CONSTANT_S,
        };
        let mut acc = CalorieAccumulator::new(settings).unwrap();
        for _ in 0..1000 {
            let update = acc.update(MAX_MET, MAX_DT_S).unwrap();
            assert!(update.total_calories.is_finite() && update.total_calories >= 0.0);
        }
        assert!(acc.state().total_calories > 0.0);
    }

    #[test]
    fn out_of_range_values_are_errors() {
        let base = CalorieSettings::default();
        let bad = [
            CalorieSettings {
                weight: 1e308,
                ..base
            },
            CalorieSettings {
                weight: 9.0,
                ..base
            },
            CalorieSettings {
                height: 1e6,
                ..base
            },
            CalorieSettings { age: 151.0, ..base },
            CalorieSettings {
                smoothing: 1e300,
                ..base
            },
            CalorieSettings {
                recovery_factor: 3601.0,
                ..base
            },
            // In range one by one, but no resting metabolism.
            CalorieSettings {
                weight: 10.0,
                height: 50.0,
                age: 100.0,
                ..base
            },
        ];
        for settings in bad {
            assert!(CalorieAccumulator::new(settings).is_err(), "{settings:?}");
        }
        let mut acc = CalorieAccumulator::new(base).unwrap();
        for (met, dt) in [
            (1.0, 1e308),
            (1.0, MAX_DT_S + 1.0),
            (1e308, 0.25),
            (MAX_MET * 2.0, 0.1),
        ] {
            assert!(acc.update(met, dt).is_err());
        }
        assert_eq!(acc.state().total_calories, 0.0);
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
