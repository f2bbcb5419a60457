//! Exercise and gesture signals and phase state machines over landmark sequences.
//!
//! A `MotionModel` turns each frame of 33 pose landmarks (MediaPipe BlazePose order: x, y
//! normalised to the frame, z, visibility, presence), optionally followed by 21 landmarks of
//! each hand (MediaPipe hand order, left hand first), into named signals in a body frame
//! (origin at the hip centre, y up, unit = torso length, so distance and body size drop out),
//! then drives one `PhaseMachine` per exercise: a cycle of phases, each entered when its
//! conditions hold for a minimum time, one rep per completed cycle. It also keeps, per
//! exercise, how well the recent frames match its posture and how many phase changes the
//! recent window saw: the evidence that recognition scores are built from.
//!
//! Gestures use the same machinery: a phase sequence done within a time limit (a swipe, a
//! nod) instead of a repeated cycle, and postures that need every signal seen.
//!
//! The definitions (which signals, which thresholds) are data, given by the caller.

use std::collections::VecDeque;

use crate::error::ArgumentError;

/// Pose landmarks per frame (BlazePose).
pub const POSE_LANDMARKS: usize = 33;
/// Landmarks per hand (MediaPipe hands).
pub const HAND_LANDMARKS: usize = 21;
/// Index of the left hand's first landmark; the right hand's follow it.
pub const LEFT_HAND: usize = POSE_LANDMARKS;
pub const RIGHT_HAND: usize = POSE_LANDMARKS + HAND_LANDMARKS;
/// Every point a measure may use: the pose, then the left and the right hand.
pub const NUM_LANDMARKS: usize = POSE_LANDMARKS + 2 * HAND_LANDMARKS;
/// x, y, z, visibility, presence.
pub const LANDMARK_FIELDS: usize = 5;
const LEFT_WRIST: usize = 15;
const RIGHT_WRIST: usize = 16;
const LEFT_SHOULDER: usize = 11;
const RIGHT_SHOULDER: usize = 12;
const LEFT_HIP: usize = 23;
const RIGHT_HIP: usize = 24;
/// Limits that keep a definition from asking for unbounded memory or time.
pub const MAX_SIGNALS: usize = 512;
pub const MAX_EXERCISES: usize = 256;
pub const MAX_CONDITIONS: usize = 32;
pub const MAX_PHASES: usize = 16;
pub const MAX_POINTS: usize = NUM_LANDMARKS;
/// Window lengths above this many seconds are refused (the windows hold every frame).
pub const MAX_WINDOW_S: f64 = 60.0;
/// How fast the torso-length estimate follows the body (s): a person does not change size, but
/// foreshortening while bending does, briefly.
const SCALE_TAU_S: f64 = 1.0;
/// Motion is measured over this lag (s): over one frame, landmark jitter would dominate it.
const MOTION_LAG_S: f64 = 0.5;
/// Shortest span of frames motion is measured over.
const MIN_MOTION_LAG_S: f64 = 0.2;
/// A strict posture may go unseen on some frames of its window (a hand the tracker dropped for
/// a frame): it is averaged over the frames it was seen on, or over this fraction of the window
/// if more, unseen frames counting as not matching.
const STRICT_MIN_SEEN: f64 = 0.7;
/// A person unseen for longer than this (s) may not be the one seen before: what was in
/// progress (a rep's phases, smoothers, the recent window) starts afresh.
pub const MAX_GAP_S: f64 = 1.0;
/// The torso's centre moving more than this many torso lengths between two sightings (in the
/// image plane) is another person: the tracker lost one and found another, or jumped to them.
/// A body's centre moves well under one torso length in a frame or two, even jumping.
pub const MAX_JUMP_TORSOS: f64 = 1.5;

/// A point of the skeleton: the mean of one or more landmarks.
#[derive(Debug, Clone, PartialEq)]
pub struct Point(pub Vec<usize>);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Axis {
    X,
    Y,
    Z,
    /// Horizontal, from the right shoulder to the left: the person's left whatever the view
    /// angle (a hand in front of the body does not pass for one at its side).
    Lateral,
}

/// What one side of a signal measures, in the body frame.
#[derive(Debug, Clone, PartialEq)]
pub enum Measure {
    /// The angle at the middle point, in degrees (180 = straight).
    Angle(Point, Point, Point),
    /// A coordinate of `point` minus that of `origin` (the hip centre when None), torso lengths.
    Position(Point, Option<Point>, Axis),
    /// Distance between two points in torso lengths.
    Distance(Point, Point),
    /// Angle of the segment from the first point to the second with the image's up direction,
    /// in degrees: 0 = pointing up, 90 = horizontal, 180 = pointing down.
    Inclination(Point, Point),
    /// Mean speed of the points in the body frame's x-y plane over the last half second, torso
    /// lengths per second.
    Motion(Vec<Point>),
    /// The `axis` component of the unit vector from the first point to the second, in [-1, 1]:
    /// which way a finger or a limb points, whatever its length.
    Direction(Point, Point, Axis),
    /// Distance between the first two points over that between the last two: a scale-free
    /// shape measure (a finger's reach from the wrist over its knuckle's: extended or curled).
    Ratio(Point, Point, Point, Point),
}

/// How the left and right measures make one value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Combine {
    Left,
    Right,
    Mean,
    Min,
    Max,
    /// left - right: the sign tells which side leads, for alternating exercises.
    Diff,
    AbsDiff,
}

impl Combine {
    pub fn parse(name: &str) -> Result<Self, ArgumentError> {
        Ok(match name {
            "left" => Self::Left,
            "right" => Self::Right,
            "mean" => Self::Mean,
            "min" => Self::Min,
            "max" => Self::Max,
            "diff" => Self::Diff,
            "absdiff" => Self::AbsDiff,
            other => {
                return Err(ArgumentError::new(format!(
                    "combine must be left, right, mean, min, max, diff or absdiff; got {other:?}"
                )))
            }
        })
    }

    /// Mean, min and max use the side that is visible when only one is: a body seen from the
    /// side hides the far limbs, and what can be counted is counted.
    fn apply(self, left: f64, right: f64) -> f64 {
        let one_side = |f: fn(f64, f64) -> f64| match (left.is_nan(), right.is_nan()) {
            (true, true) => f64::NAN,
            (true, false) => right,
            (false, true) => left,
            (false, false) => f(left, right),
        };
        match self {
            Self::Left => left,
            Self::Right => right,
            Self::Mean => one_side(|a, b| 0.5 * (a + b)),
            Self::Min => one_side(f64::min),
            Self::Max => one_side(f64::max),
            Self::Diff => left - right,
            Self::AbsDiff => (left - right).abs(),
        }
    }
}

/// One named signal: a measure on each side, combined, optionally differentiated and smoothed.
#[derive(Debug, Clone, PartialEq)]
pub struct SignalSpec {
    pub left: Measure,
    pub right: Measure,
    pub combine: Combine,
    /// Report the time derivative (per second) instead of the value.
    pub rate: bool,
    /// Time constant of an exponential smoother (s); 0 = none.
    pub smoothing: f64,
    /// How far a value may fall back past a threshold before a phase it holds is left.
    pub hysteresis: f64,
    /// Width of the soft threshold used for recognition scores (signal units).
    pub softness: f64,
    /// Time constant (s) of a slow average taken off the value (0 = none): oscillations about
    /// wherever the value rests, for nods and head shakes whatever the view angle.
    pub highpass: f64,
    /// Whether the landmarks' depth (z) counts; false: measured in the image plane. MediaPipe's
    /// z is the network's guess and tilts with the camera's pitch: a camera looking up at an
    /// upright person gives a torso leaning 40-50 degrees in depth.
    pub depth: bool,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Condition {
    pub signal: usize,
    /// true: value > threshold; false: value < threshold.
    pub above: bool,
    pub threshold: f64,
}

impl Condition {
    /// Whether the condition holds, with the threshold moved `slack` in the lenient direction.
    /// None when the signal is unknown (landmarks not visible).
    fn holds(&self, value: f64, slack: f64) -> Option<bool> {
        if value.is_nan() {
            return None;
        }
        Some(if self.above {
            value > self.threshold - slack
        } else {
            value < self.threshold + slack
        })
    }

    /// A soft degree in (0, 1): 0.5 at the threshold, `softness` wide; None when unknown.
    fn degree(&self, value: f64, softness: f64) -> Option<f64> {
        if value.is_nan() {
            return None;
        }
        let margin = if self.above {
            value - self.threshold
        } else {
            self.threshold - value
        };
        Some(1.0 / (1.0 + (-margin / softness.max(1e-9)).exp()))
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Phase {
    pub conditions: Vec<Condition>,
    /// Seconds the conditions must hold before the phase counts as entered (rejects jitter).
    /// The first condition is the key one: it must be seen; the others are guards, skipped on
    /// frames where their landmarks are hidden.
    pub min_duration: f64,
    /// Seconds after which a phase that is not left resets the cycle (a squat held as sitting).
    pub max_duration: f64,
}

/// How a phase machine runs through its phases.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cycle {
    /// Starts at the first phase; one rep on each return to it after all the others.
    Closed,
    /// Sides alternate: starts at any phase; one rep once every phase was entered.
    Alternating,
    /// Starts at the first phase; one event when the last is entered (a swipe).
    Sequence,
    /// Starts at any phase; one event once every phase was entered (back-and-forth swings
    /// that may start either way: a wave, a head shake).
    Swings,
}

impl Cycle {
    pub fn parse(name: &str) -> Result<Self, ArgumentError> {
        Ok(match name {
            "closed" => Self::Closed,
            "alternating" => Self::Alternating,
            "sequence" => Self::Sequence,
            "swings" => Self::Swings,
            other => {
                return Err(ArgumentError::new(format!(
                    "cycle must be closed, alternating, sequence or swings; got {other:?}"
                )))
            }
        })
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct ExerciseSpec {
    /// Conditions every frame of the exercise should meet (soft, for recognition).
    pub posture: Vec<Condition>,
    /// The cycle of phases that makes one rep; empty for held exercises.
    pub phases: Vec<Phase>,
    /// Seconds of recent frames the evidence covers.
    pub window: f64,
    pub cycle: Cycle,
    /// Longest time (s) from the last frame the current phase held to the next phase's start;
    /// beyond it the cycle in progress is dropped (a swipe is fast, a hand drifting is not).
    pub within: f64,
    /// Every posture condition must be seen: a frame with one unknown is unknown, and the
    /// posture's mean counts unknown frames beyond 30% of the window as not matching (a
    /// gesture's hand shape cannot be guessed), where exercises skip hidden guards; and every
    /// condition of a phase must hold through its `min_duration` (see `PhaseMachine::strict`).
    pub strict: bool,
}

/// Whether a phase's conditions hold: one known condition fails (Some(false)); all known ones
/// hold and the first, the phase's key condition, is known (Some(true)); otherwise unknown
/// (None). Guard conditions whose landmarks are hidden for a frame do not block the phase.
fn all_hold(
    conditions: &[Condition],
    values: &[f64],
    slack: impl Fn(usize) -> f64,
) -> Option<bool> {
    let mut key_known = true;
    for (k, c) in conditions.iter().enumerate() {
        match c.holds(values[c.signal], slack(c.signal)) {
            Some(false) => return Some(false),
            None if k == 0 => key_known = false,
            _ => {}
        }
    }
    key_known.then_some(true)
}

/// The general rep counter: a cycle of phases; one rep each time the cycle returns to its first
/// phase after passing through all the others in order (see `Cycle` for the other orders).
///
/// The next phase is entered once its conditions have held for its `min_duration` (all of
/// them on the first frame, then, unless strict, its key condition within its signal's
/// hysteresis) and the current phase has been left, i.e. its conditions failed by more than
/// the signals' hysteresis. A phase held past its `max_duration`, or a next phase not reached
/// `within` seconds of the current one last holding, drops the cycle in progress.
#[derive(Debug, Clone, PartialEq)]
pub struct PhaseMachine {
    phases: Vec<Phase>,
    cycle: Cycle,
    within: f64,
    current: Option<usize>,
    /// Phases entered since the cycle started.
    visited: usize,
    /// Whether the current phase's conditions have failed (with hysteresis) since it was entered.
    left_current: bool,
    /// Stream time the current phase was entered.
    entered_at: f64,
    /// Last stream time the current phase's conditions held (with hysteresis).
    held_at: f64,
    /// The phase about to be entered and since when its conditions hold.
    candidate: Option<(usize, f64)>,
    /// Whether all of a phase's conditions must hold through its `min_duration`, or only its
    /// key condition after the first frame (see `strict`).
    strict: bool,
    reps: u64,
    /// Stream time of each phase entry.
    transitions: VecDeque<f64>,
    rep_times: VecDeque<f64>,
}

impl PhaseMachine {
    pub fn new(phases: Vec<Phase>, cycle: Cycle, within: f64) -> Self {
        Self {
            phases,
            cycle,
            within,
            current: None,
            visited: 0,
            left_current: true,
            entered_at: 0.0,
            held_at: 0.0,
            candidate: None,
            strict: false,
            reps: 0,
            transitions: VecDeque::new(),
            rep_times: VecDeque::new(),
        }
    }

    /// Strict: every condition must hold on every frame up to `min_duration` (a gesture's
    /// hand shape); otherwise all of them on the first frame, then the key condition within its
    /// hysteresis (an exercise's guards flip when a side's landmarks hide for a frame).
    pub fn strict(mut self, strict: bool) -> Self {
        self.strict = strict;
        self
    }

    pub fn reps(&self) -> u64 {
        self.reps
    }

    pub fn current(&self) -> Option<usize> {
        self.current
    }

    pub fn reset(&mut self) {
        *self = Self::new(std::mem::take(&mut self.phases), self.cycle, self.within)
            .strict(self.strict);
    }

    fn drop_cycle(&mut self) {
        self.current = None;
        self.candidate = None;
        self.left_current = true;
        self.visited = 0;
    }

    /// Another person: the cycle in progress and the recent phase changes and reps (the
    /// evidence of what the previous person did) are dropped; the reps counted stay.
    pub fn restart(&mut self) {
        self.drop_cycle();
        self.transitions.clear();
        self.rep_times.clear();
    }

    /// Advances on one frame of signal values at stream time `t`.
    pub fn update(&mut self, values: &[f64], hysteresis: &[f64], t: f64) {
        if self.phases.is_empty() {
            return;
        }
        if let Some(i) = self.current {
            let phase = &self.phases[i];
            match all_hold(&phase.conditions, values, |s| hysteresis[s]) {
                Some(false) => self.left_current = true,
                _ => self.held_at = t,
            }
            let late = |since: f64| since - self.held_at > self.within;
            if t - self.entered_at > phase.max_duration
                || (late(t) && self.candidate.is_none_or(|(_, since)| late(since)))
            {
                self.drop_cycle();
            }
        }
        if !self.left_current {
            self.candidate = None;
            return;
        }
        let n = self.phases.len();
        let candidates = match self.current {
            Some(i) => (i + 1) % n..(i + 1) % n + 1,
            None if matches!(self.cycle, Cycle::Alternating | Cycle::Swings) => 0..n,
            None => 0..1,
        };
        let mut unknown = false;
        let mut holding = None;
        for j in candidates {
            // A phase starts on a frame where all its conditions hold, and (unless strict) is
            // confirmed while its key condition keeps holding within its hysteresis: a knee
            // drive peaks on one frame and stays near it, a glitch of the landmarks falls back.
            let conditions = &self.phases[j].conditions;
            let started = !self.strict && self.candidate.is_some_and(|(c, _)| c == j);
            let holds = if started {
                let key = &conditions[..conditions.len().min(1)];
                all_hold(key, values, |s| hysteresis[s])
            } else {
                all_hold(conditions, values, |_| 0.0)
            };
            match holds {
                Some(true) => {
                    holding = Some(j);
                    break;
                }
                Some(false) => {}
                None => unknown = true,
            }
        }
        let Some(next) = holding else {
            // Unknown (landmarks dropped for a frame): neither confirms nor breaks the candidate.
            if !unknown {
                self.candidate = None;
            }
            return;
        };
        let since = match self.candidate {
            Some((j, since)) if j == next => since,
            _ => t,
        };
        self.candidate = Some((next, since));
        if t - since + 1e-9 < self.phases[next].min_duration {
            return;
        }
        self.visited = if self.current.is_some() {
            self.visited + 1
        } else {
            1
        };
        let done = match self.cycle {
            Cycle::Alternating | Cycle::Swings => self.visited == n,
            Cycle::Closed => next == 0 && self.visited > 1,
            Cycle::Sequence => next == n - 1 && self.visited == n,
        };
        if done {
            self.reps += 1;
            self.rep_times.push_back(t);
            // A closed cycle's return to the first phase starts the next one.
            self.visited = usize::from(self.cycle == Cycle::Closed);
        }
        self.current = Some(next);
        self.left_current = false;
        self.entered_at = t;
        self.held_at = t;
        self.candidate = None;
        self.transitions.push_back(t);
    }

    fn forget_before(&mut self, t: f64) {
        while self.transitions.front().is_some_and(|&s| s < t) {
            self.transitions.pop_front();
        }
        while self.rep_times.front().is_some_and(|&s| s < t) {
            self.rep_times.pop_front();
        }
    }
}

/// Puts each hand on the side of the pose wrist it is at, and its depth on that wrist's.
///
/// The hand tracker's handedness and the pose's sides disagree on mirrored frames (the pose
/// model labels what it sees, the hand tracker is told), and either may be wrong on a frame:
/// where both pose wrists are seen, the hands go to the nearer ones. A hand's z is relative
/// to its own wrist; shifted onto the pose wrist's, hand and face points can be compared in 3-D.
fn attach_hands(raw: &mut [[f64; 3]; NUM_LANDMARKS], seen: &mut [bool; NUM_LANDMARKS]) {
    let hands = [LEFT_HAND, RIGHT_HAND];
    let wrists = [LEFT_WRIST, RIGHT_WRIST];
    let gap = |hand: usize, wrist: usize| -> f64 {
        if seen[hand] && seen[wrist] {
            let d = sub(raw[hand], raw[wrist]);
            (d[0] * d[0] + d[1] * d[1]).sqrt()
        } else {
            f64::NAN
        }
    };
    if seen[LEFT_WRIST] && seen[RIGHT_WRIST] {
        let cost = |a: f64, b: f64| {
            // A missing hand costs nothing wherever it goes.
            (if a.is_nan() { 0.0 } else { a }) + (if b.is_nan() { 0.0 } else { b })
        };
        let keep = cost(gap(LEFT_HAND, LEFT_WRIST), gap(RIGHT_HAND, RIGHT_WRIST));
        let swap = cost(gap(LEFT_HAND, RIGHT_WRIST), gap(RIGHT_HAND, LEFT_WRIST));
        if swap < keep {
            for k in 0..HAND_LANDMARKS {
                raw.swap(LEFT_HAND + k, RIGHT_HAND + k);
                seen.swap(LEFT_HAND + k, RIGHT_HAND + k);
            }
        }
    }
    for (hand, wrist) in hands.into_iter().zip(wrists) {
        if seen[hand] && seen[wrist] {
            let dz = raw[wrist][2] - raw[hand][2];
            for point in &mut raw[hand..hand + HAND_LANDMARKS] {
                point[2] += dz;
            }
        }
    }
}

/// Where the torso was last seen: its ends in the image plane, its length with depth (frame
/// height units).
#[derive(Debug, Clone, Copy)]
struct Sighting {
    t: f64,
    hips: Option<[f64; 2]>,
    shoulders: Option<[f64; 2]>,
    /// Hip centre to shoulder centre with depth: a torso seen end-on (a plank filmed from the
    /// head) is short in the image but not in depth.
    torso: Option<f64>,
}

impl Sighting {
    /// Whether `self`, seen after `before`, is plausibly the same body: seen again within
    /// MAX_GAP_S, and its torso's centre (or the end of it both saw) within MAX_JUMP_TORSOS
    /// torso lengths of where it was. `scale` is the torso length to use when neither
    /// sighting saw a whole torso.
    fn continues(&self, before: &Sighting, scale: Option<f64>) -> bool {
        if self.t - before.t > MAX_GAP_S {
            return false;
        }
        let centre = |s: &Sighting| match (s.hips, s.shoulders) {
            (Some(h), Some(q)) => Some([0.5 * (h[0] + q[0]), 0.5 * (h[1] + q[1])]),
            _ => None,
        };
        let (p, q) = match (centre(before), centre(self)) {
            (Some(p), Some(q)) => (p, q),
            _ => match (before.shoulders, self.shoulders, before.hips, self.hips) {
                (Some(p), Some(q), _, _) | (_, _, Some(p), Some(q)) => (p, q),
                _ => return true,
            },
        };
        let unit = match (before.torso, self.torso) {
            (Some(a), Some(b)) => Some(a.max(b)),
            (a, b) => a.or(b).or(scale),
        };
        let Some(unit) = unit else {
            return true;
        };
        (p[0] - q[0]).hypot(p[1] - q[1]) <= MAX_JUMP_TORSOS * unit
    }
}

/// Per-frame landmarks in the body frame.
#[derive(Clone, Copy)]
struct BodyFrame {
    /// (x, y, z) per landmark, NaN where not visible.
    points: [[f64; 3]; NUM_LANDMARKS],
    /// Unit vector of `Axis::Lateral`.
    lateral: [f64; 3],
}

impl BodyFrame {
    fn point(&self, p: &Point) -> Option<[f64; 3]> {
        let mut sum = [0.0; 3];
        for &i in &p.0 {
            let q = self.points[i];
            if q[0].is_nan() {
                return None;
            }
            for k in 0..3 {
                sum[k] += q[k];
            }
        }
        let n = p.0.len() as f64;
        Some([sum[0] / n, sum[1] / n, sum[2] / n])
    }

    fn component(&self, v: [f64; 3], axis: Axis) -> f64 {
        match axis {
            Axis::X => v[0],
            Axis::Y => v[1],
            Axis::Z => v[2],
            Axis::Lateral => v[0] * self.lateral[0] + v[2] * self.lateral[2],
        }
    }
}

fn sub(a: [f64; 3], b: [f64; 3]) -> [f64; 3] {
    [a[0] - b[0], a[1] - b[1], a[2] - b[2]]
}

fn norm(a: [f64; 3]) -> f64 {
    (a[0] * a[0] + a[1] * a[1] + a[2] * a[2]).sqrt()
}

fn angle_between(a: [f64; 3], b: [f64; 3]) -> f64 {
    let (na, nb) = (norm(a), norm(b));
    if na < 1e-9 || nb < 1e-9 {
        return f64::NAN;
    }
    let cos = (a[0] * b[0] + a[1] * b[1] + a[2] * b[2]) / (na * nb);
    cos.clamp(-1.0, 1.0).acos().to_degrees()
}

/// Evaluates a measure on the current frame; `recent` holds the recent frames (for Motion).
fn measure(m: &Measure, frame: &BodyFrame, recent: &VecDeque<(BodyFrame, f64)>, t: f64) -> f64 {
    let nan = f64::NAN;
    match m {
        Measure::Angle(a, b, c) => match (frame.point(a), frame.point(b), frame.point(c)) {
            (Some(a), Some(b), Some(c)) => angle_between(sub(a, b), sub(c, b)),
            _ => nan,
        },
        Measure::Position(p, origin, axis) => {
            let Some(p) = frame.point(p) else { return nan };
            let o = match origin {
                Some(o) => match frame.point(o) {
                    Some(o) => o,
                    None => return nan,
                },
                None => [0.0; 3],
            };
            frame.component(sub(p, o), *axis)
        }
        Measure::Distance(p, q) => match (frame.point(p), frame.point(q)) {
            (Some(p), Some(q)) => norm(sub(q, p)),
            _ => nan,
        },
        Measure::Inclination(p, q) => match (frame.point(p), frame.point(q)) {
            (Some(p), Some(q)) => angle_between(sub(q, p), [0.0, 1.0, 0.0]),
            _ => nan,
        },
        Measure::Motion(points) => motion(points, recent, t),
        Measure::Direction(p, q, axis) => match (frame.point(p), frame.point(q)) {
            (Some(p), Some(q)) => {
                let d = sub(q, p);
                let n = norm(d);
                if n < 1e-9 {
                    nan
                } else {
                    frame.component(d, *axis) / n
                }
            }
            _ => nan,
        },
        Measure::Ratio(a, b, c, d) => {
            match (
                frame.point(a),
                frame.point(b),
                frame.point(c),
                frame.point(d),
            ) {
                (Some(a), Some(b), Some(c), Some(d)) => {
                    let below = norm(sub(d, c));
                    if below < 1e-9 {
                        nan
                    } else {
                        norm(sub(b, a)) / below
                    }
                }
                _ => nan,
            }
        }
    }
}

/// Mean speed of `points` in the body frame's x-y plane: the mean position over the newer half
/// of the recent frames against that over the older half. Averaging the halves keeps landmark
/// jitter from passing for motion; z (the noisiest coordinate) is left out.
fn motion(points: &[Point], recent: &VecDeque<(BodyFrame, f64)>, t: f64) -> f64 {
    let split = t - MOTION_LAG_S / 2.0;
    let (mut sum, mut n) = (0.0, 0usize);
    for p in points {
        // Per half: sum of x, y and time, and the frame count.
        let mut acc = [[0.0f64; 3]; 2];
        let mut count = [0usize; 2];
        for (frame, s) in recent {
            if let Some(q) = frame.point(p) {
                let half = usize::from(*s >= split);
                acc[half][0] += q[0];
                acc[half][1] += q[1];
                acc[half][2] += s;
                count[half] += 1;
            }
        }
        if count.contains(&0) {
            continue;
        }
        let mean = |half: usize, k: usize| acc[half][k] / count[half] as f64;
        let dt = mean(1, 2) - mean(0, 2);
        if dt < MIN_MOTION_LAG_S / 2.0 {
            continue;
        }
        let (dx, dy) = (mean(1, 0) - mean(0, 0), mean(1, 1) - mean(0, 1));
        sum += (dx * dx + dy * dy).sqrt() / dt;
        n += 1;
    }
    if n == 0 {
        f64::NAN
    } else {
        sum / n as f64
    }
}

/// Where a signal's smoother, high-pass and differentiator stand.
#[derive(Debug, Clone, Copy)]
struct SignalState {
    value: f64,
    /// Last smoothed input and its time, for the rate.
    last: Option<(f64, f64)>,
    /// The high-pass's slow average and when it was last fed.
    baseline: Option<(f64, f64)>,
}

const FRESH_SIGNAL: SignalState = SignalState {
    value: f64::NAN,
    last: None,
    baseline: None,
};

/// Evidence for one exercise over its recent window.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Evidence {
    /// Mean posture degree over frames where it was known; NaN when never known.
    pub posture: f64,
    /// Phase changes in the window (entries after the first) divided by the number of phases,
    /// capped at 1 (1 for held exercises; for sequences 1 once one was done in the window).
    pub cycle: f64,
    /// Fraction of the window's frames on which all signals of the exercise's phases (of its
    /// posture, when held) were known: whether it can be counted.
    pub coverage: f64,
    pub reps: u64,
    /// Reps completed within the window.
    pub recent_reps: usize,
    /// Phase index the exercise is in, or -1.
    pub phase: i64,
}

struct ExerciseState {
    spec: ExerciseSpec,
    machine: PhaseMachine,
    /// (time, posture degree or NaN, all conditions known).
    history: VecDeque<(f64, f64, bool)>,
    signals: Vec<usize>,
}

/// Options of the body frame.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FrameOptions {
    /// Frame width / height: x is normalised to the width, y to the height.
    pub aspect: f64,
    /// Landmarks below this visibility count as not seen.
    pub min_visibility: f64,
    /// Weight of the landmarks' z (MediaPipe's depth, in x's units) in the body frame; 0 = 2-D.
    pub depth_weight: f64,
}

/// Signals and rep machines for a set of exercises, fed frame by frame.
pub struct MotionModel {
    signals: Vec<SignalSpec>,
    options: FrameOptions,
    exercises: Vec<ExerciseState>,
    states: Vec<SignalState>,
    values: Vec<f64>,
    hysteresis: Vec<f64>,
    scale: Option<f64>,
    /// Hip centre minus shoulder centre when last both were seen (frame-height units).
    hip_offset: Option<[f64; 3]>,
    /// The body's left (`Axis::Lateral`) when last both shoulders were seen.
    lateral: Option<[f64; 3]>,
    /// Recent body frames (up to MOTION_LAG_S old), for Motion.
    recent: VecDeque<(BodyFrame, f64)>,
    last_time: Option<f64>,
    /// (time, visible) per frame for the window's landmark visibility.
    visibility: VecDeque<(f64, [bool; NUM_LANDMARKS])>,
    max_window: f64,
    /// Where the torso was last seen: whether the next body seen is the same person.
    sighting: Option<Sighting>,
    /// Bodies seen that did not continue the one before (see `Sighting::continues`).
    people: u64,
    /// Whether any signal is measured in the image plane.
    any_planar: bool,
}

fn check_point(p: &Point) -> Result<(), ArgumentError> {
    if p.0.is_empty() || p.0.len() > MAX_POINTS || p.0.iter().any(|&i| i >= NUM_LANDMARKS) {
        return Err(ArgumentError::new(format!(
            "a point must be 1 to {MAX_POINTS} landmark indices below {NUM_LANDMARKS}, got {:?}",
            p.0
        )));
    }
    Ok(())
}

fn check_measure(m: &Measure) -> Result<(), ArgumentError> {
    match m {
        Measure::Angle(a, b, c) => [a, b, c].into_iter().try_for_each(check_point),
        Measure::Position(p, o, _) => {
            check_point(p)?;
            o.iter().try_for_each(check_point)
        }
        Measure::Distance(p, q) | Measure::Inclination(p, q) => {
            check_point(p)?;
            check_point(q)
        }
        Measure::Direction(p, q, _) => {
            check_point(p)?;
            check_point(q)
        }
        Measure::Ratio(a, b, c, d) => [a, b, c, d].into_iter().try_for_each(check_point),
        Measure::Motion(points) => {
            if points.is_empty() || points.len() > MAX_POINTS {
                return Err(ArgumentError::new(format!(
                    "motion needs 1 to {MAX_POINTS} points, got {}",
                    points.len()
                )));
            }
            points.iter().try_for_each(check_point)
        }
    }
}

fn check_finite(name: &str, value: f64, min: f64, max: f64) -> Result<(), ArgumentError> {
    if !(value.is_finite() || value == f64::INFINITY && max.is_infinite())
        || value < min
        || value > max
    {
        return Err(ArgumentError::new(format!(
            "{name} must be in [{min}, {max}], got {value}"
        )));
    }
    Ok(())
}

fn conditions_signals(conditions: &[Condition], out: &mut Vec<usize>) {
    for c in conditions {
        if !out.contains(&c.signal) {
            out.push(c.signal);
        }
    }
}

impl MotionModel {
    pub fn new(
        signals: Vec<SignalSpec>,
        exercises: Vec<ExerciseSpec>,
        options: FrameOptions,
    ) -> Result<Self, ArgumentError> {
        if signals.len() > MAX_SIGNALS || exercises.len() > MAX_EXERCISES {
            return Err(ArgumentError::new(format!(
                "at most {MAX_SIGNALS} signals and {MAX_EXERCISES} exercises, got {} and {}",
                signals.len(),
                exercises.len()
            )));
        }
        check_finite("aspect", options.aspect, 1e-3, 1e3)?;
        check_finite("min_visibility", options.min_visibility, 0.0, 1.0)?;
        check_finite("depth_weight", options.depth_weight, 0.0, 10.0)?;
        for s in &signals {
            check_measure(&s.left)?;
            check_measure(&s.right)?;
            check_finite("smoothing", s.smoothing, 0.0, MAX_WINDOW_S)?;
            check_finite("hysteresis", s.hysteresis, 0.0, f64::MAX)?;
            check_finite("softness", s.softness, 1e-6, f64::MAX)?;
            check_finite("highpass", s.highpass, 0.0, MAX_WINDOW_S)?;
        }
        let mut states = Vec::with_capacity(exercises.len());
        let mut max_window: f64 = 0.0;
        for e in exercises {
            check_finite("window", e.window, 1e-3, MAX_WINDOW_S)?;
            check_finite("within", e.within, 1e-3, f64::INFINITY)?;
            max_window = max_window.max(e.window);
            if e.phases.len() > MAX_PHASES || e.phases.len() == 1 {
                return Err(ArgumentError::new(format!(
                    "an exercise has no phases (held) or 2 to {MAX_PHASES}, got {}",
                    e.phases.len()
                )));
            }
            let mut used = Vec::new();
            let all = std::iter::once(&e.posture).chain(e.phases.iter().map(|p| &p.conditions));
            for conditions in all {
                if conditions.len() > MAX_CONDITIONS {
                    return Err(ArgumentError::new(format!(
                        "at most {MAX_CONDITIONS} conditions per phase, got {}",
                        conditions.len()
                    )));
                }
                for c in conditions {
                    if c.signal >= signals.len() {
                        return Err(ArgumentError::new(format!(
                            "condition names signal {} of {}",
                            c.signal,
                            signals.len()
                        )));
                    }
                    check_finite("threshold", c.threshold, f64::MIN, f64::MAX)?;
                }
            }
            // Coverage is about counting: the phases' signals (the posture's for held ones).
            if e.phases.is_empty() {
                conditions_signals(&e.posture, &mut used);
            }
            for p in &e.phases {
                conditions_signals(&p.conditions, &mut used);
            }
            for p in &e.phases {
                check_finite("min_duration", p.min_duration, 0.0, MAX_WINDOW_S)?;
                check_finite("max_duration", p.max_duration, 0.0, f64::INFINITY)?;
            }
            states.push(ExerciseState {
                machine: PhaseMachine::new(e.phases.clone(), e.cycle, e.within).strict(e.strict),
                spec: e,
                history: VecDeque::new(),
                signals: used,
            });
        }
        let n = signals.len();
        Ok(Self {
            hysteresis: signals.iter().map(|s| s.hysteresis).collect(),
            any_planar: signals.iter().any(|s| !s.depth),
            signals,
            options,
            exercises: states,
            states: vec![FRESH_SIGNAL; n],
            values: vec![f64::NAN; n],
            scale: None,
            hip_offset: None,
            lateral: None,
            recent: VecDeque::new(),
            last_time: None,
            visibility: VecDeque::new(),
            max_window,
            sighting: None,
            people: 0,
        })
    }

    pub fn num_signals(&self) -> usize {
        self.signals.len()
    }

    pub fn num_exercises(&self) -> usize {
        self.exercises.len()
    }

    /// The signal values of the last frame (NaN where unknown).
    pub fn values(&self) -> &[f64] {
        &self.values
    }

    /// The torso length in frame-height units, once seen.
    pub fn scale(&self) -> Option<f64> {
        self.scale
    }

    pub fn reset(&mut self) {
        for e in &mut self.exercises {
            e.machine.reset();
        }
        self.forget_body();
        self.last_time = None;
        self.visibility.clear();
        self.sighting = None;
        self.people = 0;
    }

    /// How many bodies were seen that did not continue the one before: the first, and each
    /// other person (or the same one after a long gap) since.
    pub fn people(&self) -> u64 {
        self.people
    }

    /// A body that is not the one seen before: everything in progress starts afresh (rep
    /// phases, smoothers, the torso scale, the recent windows), so that no rep is made of two
    /// people's movements; the reps counted stay.
    fn new_person(&mut self) {
        self.people += 1;
        for e in &mut self.exercises {
            e.machine.restart();
        }
        self.forget_body();
    }

    /// What was learnt of the body being followed: recognition history, smoothers, scale,
    /// orientation and the recent window.
    fn forget_body(&mut self) {
        for e in &mut self.exercises {
            e.history.clear();
        }
        self.states.fill(FRESH_SIGNAL);
        self.values.fill(f64::NAN);
        self.scale = None;
        self.hip_offset = None;
        self.lateral = None;
        self.recent.clear();
    }

    /// The landmarks of one frame in the body frame, updating the torso scale; None when the
    /// torso is not seen and no scale is known yet.
    fn body_frame(
        &mut self,
        landmarks: &[f64],
        t: f64,
        dt: f64,
    ) -> (Option<BodyFrame>, [bool; NUM_LANDMARKS]) {
        let o = self.options;
        let mut raw = [[f64::NAN; 3]; NUM_LANDMARKS];
        let mut seen = [false; NUM_LANDMARKS];
        for (i, l) in landmarks.chunks_exact(LANDMARK_FIELDS).enumerate() {
            let finite = l[..3].iter().all(|v| v.is_finite());
            if finite && l[3] >= o.min_visibility && l[4] >= o.min_visibility {
                seen[i] = true;
                // Square units of the frame height; y up.
                raw[i] = [l[0] * o.aspect, -l[1], l[2] * o.aspect * o.depth_weight];
            }
        }
        attach_hands(&mut raw, &mut seen);
        let mid = |a: usize, b: usize| -> Option<[f64; 3]> {
            (seen[a] && seen[b]).then(|| {
                [
                    0.5 * (raw[a][0] + raw[b][0]),
                    0.5 * (raw[a][1] + raw[b][1]),
                    0.5 * (raw[a][2] + raw[b][2]),
                ]
            })
        };
        let hips = mid(LEFT_HIP, RIGHT_HIP);
        let shoulders = mid(LEFT_SHOULDER, RIGHT_SHOULDER);
        if hips.is_some() || shoulders.is_some() {
            let planar = |p: Option<[f64; 3]>| p.map(|p| [p[0], p[1]]);
            let now = Sighting {
                t,
                hips: planar(hips),
                shoulders: planar(shoulders),
                torso: hips.zip(shoulders).map(|(h, s)| norm(sub(s, h))),
            };
            if !self
                .sighting
                .is_some_and(|before| now.continues(&before, self.scale))
            {
                self.new_person();
            }
            self.sighting = Some(now);
        }
        if let (Some(h), Some(s)) = (hips, shoulders) {
            self.hip_offset = Some(sub(h, s));
            let torso = norm(sub(s, h));
            if torso > 1e-6 {
                let alpha = 1.0 - (-dt / SCALE_TAU_S).exp();
                self.scale = Some(match self.scale {
                    Some(scale) if dt > 0.0 => scale + alpha * (torso - scale),
                    _ => torso,
                });
            }
        }
        let Some(scale) = self.scale else {
            return (None, seen);
        };
        // Without hips (a hip dropped for a frame, or the waist out of the frame) the origin is
        // placed where the hips last were relative to the shoulders, or one torso below them as
        // for an upright body: the frame does not jump and upper-body signals keep working.
        let origin = match (hips, shoulders) {
            (Some(h), _) => h,
            (None, Some(s)) => match self.hip_offset {
                Some(o) => [s[0] + o[0], s[1] + o[1], s[2] + o[2]],
                None => [s[0], s[1] - scale, s[2]],
            },
            (None, None) => return (None, seen),
        };
        if seen[LEFT_SHOULDER] && seen[RIGHT_SHOULDER] {
            let d = sub(raw[LEFT_SHOULDER], raw[RIGHT_SHOULDER]);
            let n = d[0].hypot(d[2]);
            if n > 1e-9 {
                self.lateral = Some([d[0] / n, 0.0, d[2] / n]);
            }
        }
        let mut frame = BodyFrame {
            points: [[f64::NAN; 3]; NUM_LANDMARKS],
            // Until shoulders are seen: a body facing the camera, its left on the image's right.
            lateral: self.lateral.unwrap_or([1.0, 0.0, 0.0]),
        };
        for i in 0..NUM_LANDMARKS {
            if seen[i] {
                let d = sub(raw[i], origin);
                frame.points[i] = [d[0] / scale, d[1] / scale, d[2] / scale];
            }
        }
        (Some(frame), seen)
    }

    /// Feeds frames: `landmarks` holds T * 33 * 5 values (the pose; NaN rows for frames
    /// without a person) or T * 75 * 5 (the pose, then the left and the right hand's 21
    /// landmarks, NaN for a hand not tracked), `times` T increasing stream times in seconds.
    pub fn update(&mut self, landmarks: &[f64], times: &[f64]) -> Result<(), ArgumentError> {
        let pose_len = POSE_LANDMARKS * LANDMARK_FIELDS;
        let full_len = NUM_LANDMARKS * LANDMARK_FIELDS;
        let frame_len = if landmarks.len() == times.len() * full_len {
            full_len
        } else {
            pose_len
        };
        if landmarks.len() != times.len() * frame_len {
            return Err(ArgumentError::new(format!(
                "landmarks must hold {pose_len} or {full_len} values per frame for {} frames, \
                 got {}",
                times.len(),
                landmarks.len()
            )));
        }
        let mut last = self.last_time;
        for &t in times {
            if !t.is_finite() || last.is_some_and(|l| t <= l) {
                return Err(ArgumentError::new(format!(
                    "timestamps must be finite and increasing, got {t} after {last:?}"
                )));
            }
            last = Some(t);
        }
        for (k, &t) in times.iter().enumerate() {
            self.update_frame(&landmarks[k * frame_len..(k + 1) * frame_len], t);
        }
        Ok(())
    }

    fn update_frame(&mut self, landmarks: &[f64], t: f64) {
        let dt = self.last_time.map_or(0.0, |l| t - l);
        self.last_time = Some(t);
        let (frame, seen) = self.body_frame(landmarks, t, dt);
        self.visibility.push_back((t, seen));
        while self
            .visibility
            .front()
            .is_some_and(|&(s, _)| s < t - self.max_window)
        {
            self.visibility.pop_front();
        }
        while self
            .recent
            .front()
            .is_some_and(|&(_, s)| t - s > MOTION_LAG_S + 1e-9)
        {
            self.recent.pop_front();
        }
        if let Some(f) = &frame {
            self.recent.push_back((*f, t));
        }
        // The frame without depth, for signals measured in the image plane.
        let planar = frame.filter(|_| self.any_planar).map(|mut f| {
            for p in &mut f.points {
                p[2] = 0.0;
            }
            f
        });
        for (i, spec) in self.signals.iter().enumerate() {
            let frame = if spec.depth { &frame } else { &planar };
            let raw = match frame {
                Some(f) => spec.combine.apply(
                    measure(&spec.left, f, &self.recent, t),
                    measure(&spec.right, f, &self.recent, t),
                ),
                None => f64::NAN,
            };
            let state = &mut self.states[i];
            let mut value = raw;
            if spec.smoothing > 0.0 && !raw.is_nan() {
                let alpha = 1.0 - (-dt / spec.smoothing).exp();
                value = match state.last {
                    Some((v, lt)) if t - lt < 0.5 => v + alpha * (raw - v),
                    _ => raw,
                };
            }
            let mut output = value;
            if spec.highpass > 0.0 && !raw.is_nan() {
                // The average restarts after a gap as long as its time constant.
                let base = match state.baseline {
                    Some((b, bt)) if t - bt < spec.highpass => {
                        let alpha = 1.0 - (-(t - bt) / spec.highpass).exp();
                        b + alpha * (value - b)
                    }
                    _ => value,
                };
                output = value - base;
                state.baseline = Some((base, t));
            }
            if raw.is_nan() {
                state.last = None;
                state.value = f64::NAN;
            } else if spec.rate {
                let rate = match state.last {
                    Some((v, lt)) if t - lt < 0.5 => (value - v) / (t - lt),
                    _ => f64::NAN,
                };
                state.last = Some((value, t));
                state.value = rate;
            } else {
                state.last = Some((value, t));
                state.value = output;
            }
            self.values[i] = state.value;
        }
        for e in &mut self.exercises {
            e.machine.update(&self.values, &self.hysteresis, t);
            let mut degree = f64::INFINITY;
            let mut unseen = false;
            let known = e.signals.iter().all(|&s| !self.values[s].is_nan());
            for c in &e.spec.posture {
                match c.degree(self.values[c.signal], self.signals[c.signal].softness) {
                    Some(d) => degree = degree.min(d),
                    None => unseen = true,
                }
            }
            let degree = if e.spec.strict && e.spec.posture.is_empty() {
                1.0
            } else if e.spec.strict && unseen {
                f64::NAN
            } else if degree.is_infinite() {
                if e.spec.posture.is_empty() && frame_known(&self.values, &e.signals) {
                    1.0
                } else {
                    f64::NAN
                }
            } else {
                degree
            };
            e.history.push_back((t, degree, known));
            let start = t - e.spec.window;
            while e.history.front().is_some_and(|&(s, _, _)| s < start) {
                e.history.pop_front();
            }
            e.machine.forget_before(start);
        }
    }

    /// The evidence for each exercise over its window, in definition order.
    pub fn evidence(&self) -> Vec<Evidence> {
        self.exercises
            .iter()
            .map(|e| {
                let (mut sum, mut n, mut known) = (0.0, 0usize, 0usize);
                for &(_, d, k) in &e.history {
                    if !d.is_nan() {
                        sum += d;
                        n += 1;
                    }
                    known += usize::from(k);
                }
                let frames = e.history.len().max(1);
                // Frames a strict posture was not seen on count against it beyond a few.
                let n = if e.spec.strict {
                    n.max((STRICT_MIN_SEEN * e.history.len() as f64).ceil() as usize)
                } else {
                    n
                };
                let phases = e.spec.phases.len();
                let cycle = if phases == 0 {
                    1.0
                } else if matches!(e.spec.cycle, Cycle::Sequence | Cycle::Swings) {
                    // One whole sequence is the gesture.
                    (e.machine.rep_times.len() as f64).min(1.0)
                } else {
                    // The first entry only says where the cycle started.
                    let changes = e.machine.transitions.len().saturating_sub(1);
                    (changes as f64 / phases as f64).min(1.0)
                };
                Evidence {
                    posture: if n == 0 { f64::NAN } else { sum / n as f64 },
                    cycle,
                    coverage: known as f64 / frames as f64,
                    reps: e.machine.reps(),
                    recent_reps: e.machine.rep_times.len(),
                    phase: e.machine.current().map_or(-1, |p| p as i64),
                }
            })
            .collect()
    }

    /// Per landmark (pose, left hand, right hand), the fraction of frames in the longest window
    /// on which it was seen.
    pub fn landmark_visibility(&self) -> [f64; NUM_LANDMARKS] {
        let mut out = [0.0; NUM_LANDMARKS];
        if self.visibility.is_empty() {
            return out;
        }
        for (_, seen) in &self.visibility {
            for (o, &s) in out.iter_mut().zip(seen) {
                *o += f64::from(u8::from(s));
            }
        }
        let n = self.visibility.len() as f64;
        out.map(|v| v / n)
    }
}

fn frame_known(values: &[f64], signals: &[usize]) -> bool {
    !signals.is_empty() && signals.iter().all(|&s| !values[s].is_nan())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cond(signal: usize, above: bool, threshold: f64) -> Condition {
        Condition {
            signal,
            above,
            threshold,
        }
    }

    fn two_phase(min_duration: f64, max_duration: f64) -> PhaseMachine {
        PhaseMachine::new(
            vec![
                Phase {
                    conditions: vec![cond(0, true, 150.0)],
                    min_duration: 0.0,
                    max_duration: f64::INFINITY,
                },
                Phase {
                    conditions: vec![cond(0, false, 100.0)],
                    min_duration,
                    max_duration,
                },
            ],
            Cycle::Closed,
            f64::INFINITY,
        )
    }

    fn run(machine: &mut PhaseMachine, values: &[f64], hysteresis: f64) {
        for (k, &v) in values.iter().enumerate() {
            machine.update(&[v], &[hysteresis], k as f64 * 0.1);
        }
    }

    #[test]
    fn counts_cycles_back_to_the_first_phase() {
        let mut m = two_phase(0.0, f64::INFINITY);
        run(
            &mut m,
            &[170.0, 90.0, 170.0, 120.0, 90.0, 120.0, 175.0, 90.0],
            0.0,
        );
        assert_eq!(m.reps(), 2);
        assert_eq!(m.current(), Some(1));
    }

    #[test]
    fn starting_mid_cycle_does_not_count() {
        let mut m = two_phase(0.0, f64::INFINITY);
        run(&mut m, &[90.0, 170.0, 90.0], 0.0);
        assert_eq!(m.reps(), 0);
    }

    #[test]
    fn min_duration_rejects_jitter() {
        let mut m = two_phase(0.25, f64::INFINITY);
        // One frame below 100 is noise, not a squat.
        run(&mut m, &[170.0, 90.0, 170.0, 170.0, 90.0, 170.0], 0.0);
        assert_eq!(m.reps(), 0);
        run(&mut m, &[170.0, 90.0, 90.0, 90.0, 90.0, 170.0], 0.0);
        assert_eq!(m.reps(), 1);
    }

    #[test]
    fn a_phase_is_confirmed_on_its_key_condition() {
        // "down": the key (signal 0 < 100, hysteresis 15) and a guard (signal 1 < 0.5), held
        // for 0.1 s: its first frame and the next.
        let machine = |strict: bool| {
            let down = Phase {
                conditions: vec![cond(0, false, 100.0), cond(1, false, 0.5)],
                min_duration: 0.1,
                max_duration: f64::INFINITY,
            };
            let up = Phase {
                conditions: vec![cond(0, true, 150.0)],
                min_duration: 0.0,
                max_duration: f64::INFINITY,
            };
            PhaseMachine::new(vec![up, down], Cycle::Closed, f64::INFINITY).strict(strict)
        };
        let reps = |strict: bool, frames: &[(f64, f64)]| {
            let mut m = machine(strict);
            for (k, &(a, b)) in frames.iter().enumerate() {
                m.update(&[a, b], &[15.0, 0.0], k as f64 * 0.1);
            }
            m.reps()
        };
        // The guard fails on the second frame (its landmark hidden, the other side taken): an
        // exercise's phase holds on, a strict one (a gesture's hand shape) does not.
        let guard_flips = [(170.0, 0.0), (90.0, 0.0), (95.0, 0.9), (170.0, 0.0)];
        assert_eq!(
            (reps(false, &guard_flips), reps(true, &guard_flips)),
            (1, 0)
        );
        // The key falls back within its hysteresis: past the peak of a fast move.
        let peak = [(170.0, 0.0), (90.0, 0.0), (110.0, 0.0), (170.0, 0.0)];
        assert_eq!((reps(false, &peak), reps(true, &peak)), (1, 0));
        // Back at once: a one-frame glitch of the landmarks makes no phase.
        let glitch = [(170.0, 0.0), (90.0, 0.0), (170.0, 0.0), (170.0, 0.0)];
        assert_eq!((reps(false, &glitch), reps(true, &glitch)), (0, 0));
    }

    #[test]
    fn hysteresis_needs_the_phase_left_first() {
        // Overlapping phases ("up" > 150, "down" < 160) with 20 of hysteresis: a value sitting
        // at 155 must not flip between them.
        let mut m = PhaseMachine::new(
            vec![
                Phase {
                    conditions: vec![cond(0, true, 150.0)],
                    min_duration: 0.0,
                    max_duration: f64::INFINITY,
                },
                Phase {
                    conditions: vec![cond(0, false, 160.0)],
                    min_duration: 0.0,
                    max_duration: f64::INFINITY,
                },
            ],
            Cycle::Closed,
            f64::INFINITY,
        );
        run(&mut m, &[155.0; 10], 20.0);
        assert_eq!((m.reps(), m.current()), (0, Some(0)));
        run(&mut m, &[125.0, 185.0, 125.0, 185.0], 20.0);
        assert_eq!(m.reps(), 2);
    }

    #[test]
    fn alternating_cycles_start_on_either_side() {
        // Left (> 0.5) and right (< -0.5) alternately: a rep once both sides were entered, so
        // a mirrored video (right first) counts the same.
        let phases = vec![
            Phase {
                conditions: vec![cond(0, true, 0.5)],
                min_duration: 0.0,
                max_duration: f64::INFINITY,
            },
            Phase {
                conditions: vec![cond(0, false, -0.5)],
                min_duration: 0.0,
                max_duration: f64::INFINITY,
            },
        ];
        for sign in [1.0, -1.0] {
            let mut m = PhaseMachine::new(phases.clone(), Cycle::Alternating, f64::INFINITY);
            let values: Vec<f64> = [0.0, 1.0, 0.0, -1.0, 0.0, 1.0, 0.0, -1.0, 0.0]
                .iter()
                .map(|v| v * sign)
                .collect();
            run(&mut m, &values, 0.0);
            assert_eq!(m.reps(), 2, "sign {sign}");
        }
        let mut closed = PhaseMachine::new(phases, Cycle::Closed, f64::INFINITY);
        run(&mut closed, &[-1.0, 1.0, -1.0, 1.0, -1.0], 0.0);
        assert_eq!(closed.reps(), 1);
    }

    #[test]
    fn hidden_guards_do_not_block_but_a_hidden_key_does() {
        let guarded = |key: f64, guard: f64| {
            let mut m = PhaseMachine::new(
                vec![
                    Phase {
                        conditions: vec![cond(0, true, 150.0), cond(1, false, 30.0)],
                        min_duration: 0.0,
                        max_duration: f64::INFINITY,
                    },
                    Phase {
                        conditions: vec![cond(0, false, 100.0), cond(1, false, 30.0)],
                        min_duration: 0.0,
                        max_duration: f64::INFINITY,
                    },
                ],
                Cycle::Closed,
                f64::INFINITY,
            );
            for (k, v) in [170.0, key, 170.0].into_iter().enumerate() {
                m.update(&[v, guard], &[0.0, 0.0], k as f64 * 0.1);
            }
            m.reps()
        };
        assert_eq!(guarded(90.0, f64::NAN), 1);
        assert_eq!(guarded(90.0, 10.0), 1);
        assert_eq!(guarded(90.0, 50.0), 0);
        assert_eq!(guarded(f64::NAN, 10.0), 0);
    }

    #[test]
    fn motion_is_not_fooled_by_jitter() {
        let options = FrameOptions {
            aspect: 1.0,
            min_visibility: 0.5,
            depth_weight: 1.0,
        };
        let signal = SignalSpec {
            left: Measure::Motion(vec![Point(vec![25]), Point(vec![27])]),
            right: Measure::Motion(vec![Point(vec![26]), Point(vec![28])]),
            ..knee_angle_signal()
        };
        let mut still = MotionModel::new(vec![signal.clone()], vec![], options).unwrap();
        let mut moving = MotionModel::new(vec![signal], vec![], options).unwrap();
        for k in 0..16 {
            // Alternating +-0.005 jitter on the knees: 0.025 torso lengths per frame.
            let jitter = if k % 2 == 0 { 0.005 } else { -0.005 };
            let mut frame = standing_frame(0.0);
            frame[25 * 5] += jitter;
            frame[26 * 5] += jitter;
            still.update(&frame, &[k as f64 / 16.0]).unwrap();
            let mut frame = standing_frame(0.0);
            frame[25 * 5] += 0.05 * k as f64 / 16.0 * 4.0; // knees sweep 0.2 / s = 1 torso / s
            frame[26 * 5] += 0.05 * k as f64 / 16.0 * 4.0;
            moving.update(&frame, &[k as f64 / 16.0]).unwrap();
        }
        assert!(still.values()[0] < 0.1, "{}", still.values()[0]);
        let speed = moving.values()[0];
        // The knees move 1 torso/s and the ankles stand still: a mean of 0.5.
        assert!((speed - 0.5).abs() < 0.05, "{speed}");
    }

    #[test]
    fn max_duration_drops_the_cycle() {
        // Sitting down (a long "down") and standing up later is not a squat.
        let mut m = two_phase(0.0, 1.0);
        let mut values = vec![170.0, 90.0];
        values.extend([90.0; 20]);
        values.push(170.0);
        run(&mut m, &values, 0.0);
        assert_eq!(m.reps(), 0);
    }

    #[test]
    fn unknown_values_neither_confirm_nor_break() {
        let mut m = two_phase(0.2, f64::INFINITY);
        run(&mut m, &[170.0, 90.0, f64::NAN, 90.0, 170.0], 0.0);
        assert_eq!(m.reps(), 1);
    }

    fn standing_frame(knee_bend: f64) -> Vec<f64> {
        // A front view: shoulders above hips, legs straight down, knee pushed forward in z.
        let mut l = vec![0.0; POSE_LANDMARKS * LANDMARK_FIELDS];
        for i in 0..POSE_LANDMARKS {
            l[i * 5 + 3] = 0.1;
            l[i * 5 + 4] = 1.0;
        }
        let mut set = |i: usize, x: f64, y: f64, z: f64| {
            l[i * 5] = x;
            l[i * 5 + 1] = y;
            l[i * 5 + 2] = z;
            l[i * 5 + 3] = 0.99;
        };
        set(11, 0.55, 0.3, 0.0);
        set(12, 0.45, 0.3, 0.0);
        set(23, 0.53, 0.5, 0.0);
        set(24, 0.47, 0.5, 0.0);
        set(25, 0.53, 0.7, -knee_bend);
        set(26, 0.47, 0.7, -knee_bend);
        set(27, 0.53, 0.9, 0.0);
        set(28, 0.47, 0.9, 0.0);
        l
    }

    fn knee_angle_signal() -> SignalSpec {
        let p = |i: usize| Point(vec![i]);
        SignalSpec {
            left: Measure::Angle(p(23), p(25), p(27)),
            right: Measure::Angle(p(24), p(26), p(28)),
            combine: Combine::Mean,
            rate: false,
            smoothing: 0.0,
            hysteresis: 0.0,
            softness: 5.0,
            highpass: 0.0,
            depth: true,
        }
    }

    #[test]
    fn signals_are_scale_free_and_use_depth() {
        let options = FrameOptions {
            aspect: 1.0,
            min_visibility: 0.5,
            depth_weight: 1.0,
        };
        let torso_y = MotionModel::new(
            vec![
                knee_angle_signal(),
                SignalSpec {
                    left: Measure::Position(Point(vec![11, 12]), None, Axis::Y),
                    right: Measure::Position(Point(vec![11, 12]), None, Axis::Y),
                    combine: Combine::Left,
                    ..knee_angle_signal()
                },
            ],
            vec![],
            options,
        );
        let mut model = torso_y.unwrap();
        model.update(&standing_frame(0.2), &[0.0]).unwrap();
        let bent = model.values()[0];
        // 0.2 forward over a 0.2 drop each side: 90 degrees.
        assert!((bent - 90.0).abs() < 1e-9, "{bent}");
        assert!((model.values()[1] - 1.0).abs() < 1e-9);
        model.reset();
        model.update(&standing_frame(0.0), &[0.0]).unwrap();
        assert!((model.values()[0] - 180.0).abs() < 1e-9);
    }

    #[test]
    fn hidden_sides_and_missing_frames() {
        let options = FrameOptions {
            aspect: 1.0,
            min_visibility: 0.5,
            depth_weight: 1.0,
        };
        let mut model = MotionModel::new(vec![knee_angle_signal()], vec![], options).unwrap();
        let mut frame = standing_frame(0.0);
        frame[27 * 5 + 3] = 0.1; // left ankle hidden: the right side carries the mean
        model.update(&frame, &[0.0]).unwrap();
        assert!((model.values()[0] - 180.0).abs() < 1e-9);
        model.update(&vec![f64::NAN; 165], &[0.1]).unwrap();
        assert!(model.values()[0].is_nan());
        assert!(model.update(&frame, &[0.05]).is_err());
        assert!(model.update(&frame[..10], &[0.2]).is_err());
    }

    #[test]
    fn recognition_evidence_and_reps() {
        let mut model = squat_model(2.0);
        let bends = [0.0, 0.3, 0.0, 0.3, 0.0];
        for (k, &b) in bends.iter().enumerate() {
            model.update(&standing_frame(b), &[k as f64 * 0.4]).unwrap();
        }
        let e = model.evidence()[0];
        assert_eq!((e.reps, e.phase), (2, 0));
        assert_eq!(e.cycle, 1.0);
        assert_eq!(e.coverage, 1.0);
        assert_eq!(e.posture, 1.0);
    }

    #[test]
    fn bad_definitions_are_refused() {
        let options = FrameOptions {
            aspect: 1.0,
            min_visibility: 0.5,
            depth_weight: 1.0,
        };
        let mut bad = knee_angle_signal();
        bad.left = Measure::Angle(Point(vec![80]), Point(vec![1]), Point(vec![2]));
        assert!(MotionModel::new(vec![bad], vec![], options).is_err());
        let one_phase = ExerciseSpec {
            posture: vec![],
            phases: vec![two_phase(0.0, 1.0).phases[0].clone()],
            window: 2.0,
            cycle: Cycle::Closed,
            within: f64::INFINITY,
            strict: false,
        };
        assert!(MotionModel::new(vec![knee_angle_signal()], vec![one_phase], options).is_err());
        let wrong_signal = ExerciseSpec {
            posture: vec![cond(3, true, 1.0)],
            phases: vec![],
            window: 2.0,
            cycle: Cycle::Closed,
            within: f64::INFINITY,
            strict: false,
        };
        assert!(MotionModel::new(vec![knee_angle_signal()], vec![wrong_signal], options).is_err());
        assert!(Combine::parse("sum").is_err());
        let aspect = FrameOptions {
            aspect: f64::NAN,
            ..options
        };
        assert!(MotionModel::new(vec![], vec![], aspect).is_err());
    }

    fn sequence(within: f64) -> PhaseMachine {
        // A swipe: the hand right of the body (< -0.3), then left of it (> 0.3).
        PhaseMachine::new(
            vec![
                Phase {
                    conditions: vec![cond(0, false, -0.3)],
                    min_duration: 0.0,
                    max_duration: f64::INFINITY,
                },
                Phase {
                    conditions: vec![cond(0, true, 0.3)],
                    min_duration: 0.0,
                    max_duration: f64::INFINITY,
                },
            ],
            Cycle::Sequence,
            within,
        )
    }

    #[test]
    fn sequences_count_when_done_in_time() {
        // Rest at the start as long as you like; the crossing itself takes 0.2 s.
        let mut m = sequence(0.3);
        run(&mut m, &[-0.5, -0.5, -0.5, -0.5, 0.0, 0.5, 0.5], 0.0);
        assert_eq!(m.reps(), 1);
        // The way back is no swipe; a second one is.
        run(&mut m, &[0.0, -0.5, 0.0, 0.5], 0.0);
        assert_eq!(m.reps(), 2);
        // A slow drift across (0.5 s between the two sides) is none.
        let mut slow = sequence(0.3);
        run(&mut slow, &[-0.5, -0.2, -0.1, 0.0, 0.1, 0.2, 0.5], 0.0);
        assert_eq!(slow.reps(), 0);
        // Starting on the far side does not count.
        let mut wrong = sequence(0.3);
        run(&mut wrong, &[0.5, 0.5, 0.5], 0.0);
        assert_eq!(wrong.reps(), 0);
    }

    #[test]
    fn swings_start_either_way_and_must_be_quick() {
        let side = |above: bool| Phase {
            conditions: vec![cond(0, above, if above { 0.5 } else { -0.5 })],
            min_duration: 0.0,
            max_duration: 0.35,
        };
        let swings = || {
            PhaseMachine::new(
                vec![side(true), side(false), side(true), side(false)],
                Cycle::Swings,
                0.3,
            )
        };
        for sign in [1.0, -1.0] {
            let mut m = swings();
            let values: Vec<f64> = [0.0, 1.0, -1.0, 1.0, -1.0, 0.0]
                .iter()
                .map(|v| v * sign)
                .collect();
            run(&mut m, &values, 0.0);
            assert_eq!(m.reps(), 1, "sign {sign}");
        }
        // Three swings are not enough; slow ones (each side held 0.4 s) are no wave.
        let mut m = swings();
        run(&mut m, &[1.0, -1.0, 1.0, 0.0], 0.0);
        assert_eq!(m.reps(), 0);
        let mut slow = swings();
        let values: Vec<f64> = (0..40)
            .map(|k| if k / 4 % 2 == 0 { 1.0 } else { -1.0 })
            .collect();
        run(&mut slow, &values, 0.0);
        assert_eq!(slow.reps(), 0);
    }

    fn pose_and_hands() -> Vec<f64> {
        let mut l = standing_frame(0.0);
        l.extend(vec![f64::NAN; 2 * HAND_LANDMARKS * LANDMARK_FIELDS]);
        // Pose wrists: left at x 0.6, right at x 0.4, both at y 0.5 and depth 0.1.
        for (i, x) in [(15, 0.6), (16, 0.4)] {
            l[i * 5..i * 5 + 5].copy_from_slice(&[x, 0.5, 0.1, 0.99, 0.99]);
        }
        l
    }

    fn set_hand(l: &mut [f64], block: usize, x: f64, z: f64) {
        // Wrist at (x, 0.5), the index tip (8) straight up 0.1, the rest on the wrist.
        for k in 0..HAND_LANDMARKS {
            let y = if k == 8 { 0.4 } else { 0.5 };
            let i = (block + k) * 5;
            l[i..i + 5].copy_from_slice(&[x, y, z, 1.0, 1.0]);
        }
    }

    #[test]
    fn hands_go_to_the_nearer_pose_wrist_at_its_depth() {
        let options = FrameOptions {
            aspect: 1.0,
            min_visibility: 0.5,
            depth_weight: 1.0,
        };
        let p = |i: usize| Point(vec![i]);
        let signal = |m: Measure| SignalSpec {
            left: m.clone(),
            right: m,
            combine: Combine::Left,
            ..knee_angle_signal()
        };
        let signals = vec![
            // Left hand's wrist x relative to the hip centre; the left index's direction.
            signal(Measure::Position(p(LEFT_HAND), None, Axis::X)),
            signal(Measure::Direction(p(LEFT_HAND), p(LEFT_HAND + 8), Axis::Y)),
            signal(Measure::Position(p(LEFT_HAND + 8), Some(p(15)), Axis::Z)),
            signal(Measure::Ratio(p(LEFT_HAND), p(LEFT_HAND + 8), p(11), p(12))),
        ];
        let mut model = MotionModel::new(signals, vec![], options).unwrap();
        let mut l = pose_and_hands();
        // The tracker put the hand at the left pose wrist in the right hand's block, 0.3 deep.
        set_hand(&mut l, RIGHT_HAND, 0.6, 0.3);
        model.update(&l, &[0.0]).unwrap();
        let v = model.values();
        // Torso 0.2 long: the left wrist 0.1 right of the hip centre is 0.5 torso lengths.
        assert!((v[0] - 0.5).abs() < 1e-9, "{}", v[0]);
        assert!((v[1] - 1.0).abs() < 1e-9, "{}", v[1]);
        assert!(
            v[2].abs() < 1e-9,
            "the hand's depth is the pose wrist's: {}",
            v[2]
        );
        // Index tip 0.1 from the wrist over 0.1 between the shoulders.
        assert!((v[3] - 1.0).abs() < 1e-9, "{}", v[3]);
        // A pose-only frame: no hands, nothing measured on them.
        model.update(&standing_frame(0.0), &[0.1]).unwrap();
        assert!(model.values().iter().all(|v| v.is_nan()));
        assert_eq!(model.landmark_visibility().len(), NUM_LANDMARKS);
        assert!(model.update(&l[..200], &[0.2]).is_err());
    }

    #[test]
    fn highpass_keeps_the_swing_not_the_offset() {
        let options = FrameOptions {
            aspect: 1.0,
            min_visibility: 0.5,
            depth_weight: 1.0,
        };
        let nose_x = SignalSpec {
            left: Measure::Position(Point(vec![0]), Some(Point(vec![11, 12])), Axis::X),
            right: Measure::Position(Point(vec![0]), Some(Point(vec![11, 12])), Axis::X),
            combine: Combine::Left,
            highpass: 0.5,
            ..knee_angle_signal()
        };
        let mut model = MotionModel::new(vec![nose_x], vec![], options).unwrap();
        let (mut low, mut high) = (f64::INFINITY, f64::NEG_INFINITY);
        for k in 0..64 {
            let t = k as f64 / 16.0;
            let mut frame = standing_frame(0.0);
            // Turned away: the nose 0.05 off the shoulders' centre, swinging +-0.02 at 2 Hz.
            frame[0] = 0.55 + 0.02 * (2.0 * std::f64::consts::PI * 2.0 * t).sin();
            frame[1] = 0.2;
            frame[3] = 0.99;
            model.update(&frame, &[t]).unwrap();
            if k >= 32 {
                low = low.min(model.values()[0]);
                high = high.max(model.values()[0]);
            }
        }
        // 0.02 is 0.1 torso lengths: the swing stays, the 0.25 offset goes.
        assert!(high > 0.07 && low < -0.07, "{low} {high}");
        assert!((high + low).abs() < 0.05, "{low} {high}");
    }

    #[test]
    fn strict_postures_need_every_signal_seen() {
        let options = FrameOptions {
            aspect: 1.0,
            min_visibility: 0.5,
            depth_weight: 1.0,
        };
        // Straight knees, and the shoulders a torso above the hips (seen on every frame).
        let held = |strict: bool| ExerciseSpec {
            posture: vec![cond(0, true, 150.0), cond(1, true, 0.5)],
            phases: vec![],
            window: 1.0,
            cycle: Cycle::Closed,
            within: f64::INFINITY,
            strict,
        };
        let shoulders = SignalSpec {
            left: Measure::Position(Point(vec![11, 12]), None, Axis::Y),
            right: Measure::Position(Point(vec![11, 12]), None, Axis::Y),
            combine: Combine::Left,
            softness: 0.1,
            ..knee_angle_signal()
        };
        let mut model = MotionModel::new(
            vec![knee_angle_signal(), shoulders],
            vec![held(false), held(true)],
            options,
        )
        .unwrap();
        model.update(&standing_frame(0.0), &[0.0]).unwrap();
        let mut hidden = standing_frame(0.0);
        for i in [25, 26] {
            hidden[i * 5 + 3] = 0.1;
        }
        model.update(&hidden, &[0.1]).unwrap();
        let e = model.evidence();
        assert!(
            e[0].posture > 0.9,
            "hidden frames are skipped: {}",
            e[0].posture
        );
        assert!(
            (e[1].posture - e[0].posture / 2.0).abs() < 1e-9,
            "strict: half the window unseen counts as not matching"
        );
        // One frame in ten unseen: a strict posture is averaged over the frames seen.
        for k in 2..10 {
            model
                .update(&standing_frame(0.0), &[k as f64 * 0.1])
                .unwrap();
        }
        let e = model.evidence();
        assert!((e[1].posture - e[0].posture).abs() < 1e-9);
        let bad = ExerciseSpec {
            within: 0.0,
            ..held(true)
        };
        assert!(MotionModel::new(vec![knee_angle_signal()], vec![bad], options).is_err());
        assert!(Cycle::parse("loop").is_err());
    }

    #[test]
    fn lateral_follows_the_shoulders() {
        let options = FrameOptions {
            aspect: 1.0,
            min_visibility: 0.5,
            depth_weight: 1.0,
        };
        let across = SignalSpec {
            left: Measure::Position(Point(vec![15]), Some(Point(vec![11, 12])), Axis::Lateral),
            right: Measure::Position(Point(vec![15]), Some(Point(vec![11, 12])), Axis::Lateral),
            combine: Combine::Left,
            ..knee_angle_signal()
        };
        let mut model = MotionModel::new(vec![across], vec![], options).unwrap();
        let mut frame = standing_frame(0.0);
        // Turned 45 degrees: the left shoulder 0.05 deeper; the wrist 0.1 right of the centre
        // and 0.1 nearer (in front of the body) is 0 to the side.
        frame[11 * 5 + 2] = 0.05;
        frame[12 * 5 + 2] = -0.05;
        frame[15 * 5..15 * 5 + 5].copy_from_slice(&[0.6, 0.35, -0.1, 0.99, 0.99]);
        model.update(&frame, &[0.0]).unwrap();
        assert!(model.values()[0].abs() < 1e-9, "{}", model.values()[0]);
        frame[15 * 5 + 2] = 0.1; // 0.1 behind: along the shoulders, sqrt(2) * 0.1 to the left
        model.update(&frame, &[0.1]).unwrap();
        let scale = (0.2f64 * 0.2 + 0.0).sqrt();
        let expected = 0.1 * 2f64.sqrt() / scale;
        assert!(
            (model.values()[0] - expected).abs() < 1e-6,
            "{}",
            model.values()[0]
        );
    }

    /// Squats (two phases of the knee angle) recognised over `window` seconds.
    fn squat_model(window: f64) -> MotionModel {
        let options = FrameOptions {
            aspect: 1.0,
            min_visibility: 0.5,
            depth_weight: 1.0,
        };
        let squat = ExerciseSpec {
            posture: vec![],
            phases: two_phase(0.0, f64::INFINITY).phases,
            window,
            cycle: Cycle::Closed,
            within: f64::INFINITY,
            strict: false,
        };
        MotionModel::new(vec![knee_angle_signal()], vec![squat], options).unwrap()
    }

    /// `standing_frame` moved right by `dx` frame widths.
    fn moved(mut frame: Vec<f64>, dx: f64) -> Vec<f64> {
        for i in 0..POSE_LANDMARKS {
            frame[i * LANDMARK_FIELDS] += dx;
        }
        frame
    }

    #[test]
    fn a_rep_is_made_by_one_person() {
        let lost = vec![f64::NAN; POSE_LANDMARKS * LANDMARK_FIELDS];
        // Up, down, lost for a frame, up again: `dx` away (the torso is 0.2 long).
        let rep = |model: &mut MotionModel, dx: f64, gap: f64| {
            let frames = [standing_frame(0.0), standing_frame(0.3), lost.clone()];
            for (k, f) in frames.iter().enumerate() {
                model.update(f, &[k as f64 * 0.1]).unwrap();
            }
            let up = moved(standing_frame(0.0), dx);
            model.update(&up, &[0.2 + gap]).unwrap();
            model.evidence()[0]
        };
        // The same body, moved a little: the rep counts.
        let mut model = squat_model(4.0);
        assert_eq!((rep(&mut model, 0.05, 0.1).reps, model.people()), (1, 1));
        // A body two torso lengths away is someone else (the tracker lost one person and found
        // another): the first one's squat is not finished by them.
        let mut model = squat_model(4.0);
        let e = rep(&mut model, 0.4, 0.1);
        assert_eq!((e.reps, e.phase, e.cycle, model.people()), (0, 0, 0.0, 2));
        // Theirs count from there.
        model
            .update(&moved(standing_frame(0.3), 0.4), &[0.4])
            .unwrap();
        model
            .update(&moved(standing_frame(0.0), 0.4), &[0.5])
            .unwrap();
        assert_eq!(model.evidence()[0].reps, 1);
        // Nor does the same place after a long gap continue what was in progress.
        let mut model = squat_model(4.0);
        let e = rep(&mut model, 0.0, MAX_GAP_S + 0.1);
        assert_eq!((e.reps, model.people()), (0, 2));
        model.reset();
        assert_eq!(model.people(), 0);
    }

    #[test]
    fn depth_can_be_left_out() {
        let options = FrameOptions {
            aspect: 1.0,
            min_visibility: 0.5,
            depth_weight: 1.0,
        };
        let torso = |depth: bool| SignalSpec {
            left: Measure::Inclination(Point(vec![23, 24]), Point(vec![11, 12])),
            right: Measure::Inclination(Point(vec![23, 24]), Point(vec![11, 12])),
            combine: Combine::Left,
            depth,
            ..knee_angle_signal()
        };
        let mut model = MotionModel::new(vec![torso(true), torso(false)], vec![], options).unwrap();
        // Upright in the picture, the shoulders a torso's length behind the hips by their z.
        let mut frame = standing_frame(0.0);
        frame[11 * LANDMARK_FIELDS + 2] = 0.2;
        frame[12 * LANDMARK_FIELDS + 2] = 0.2;
        model.update(&frame, &[0.0]).unwrap();
        let (with, without) = (model.values()[0], model.values()[1]);
        assert!(
            (with - 45.0).abs() < 1e-9 && without.abs() < 1e-9,
            "{with} {without}"
        );
    }
}
