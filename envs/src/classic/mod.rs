//! Gymnasium 1.4's classic-control environments, ported line by line from
//! `gymnasium/envs/classic_control/*.py`: the same `f64` operations in the same order (so a step matches
//! Gymnasium to ~1e-15), the same rewards, terminations and initial-state ranges. Only the random stream
//! differs from numpy's. Observations are `f32`, as Gymnasium casts them.
//!
//! Every env here errors (never panics) on a bad action or on `step` before `reset` / after a terminal
//! step; [`make`] wraps them in Gymnasium's `make` time limits.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use crate::wrappers::{PixelObservation, TimeLimit};
use crate::{Action, Env, EnvError, Result, Space};

mod acrobot;
mod cartpole;
mod continuous_mountain_car;
mod mountain_car;
mod numpy_scalar;
mod pendulum;

pub use acrobot::Acrobot;
pub use cartpole::CartPole;
pub use continuous_mountain_car::ContinuousMountainCar;
pub use mountain_car::MountainCar;
pub use pendulum::Pendulum;

/// Registered single-agent ids.
pub const IDS: &[&str] = &[
    "CartPole-v1",
    "Acrobot-v1",
    "MountainCar-v0",
    "MountainCarContinuous-v0",
    "Pendulum-v1",
    "CartPolePixels-v1",
];

/// Frames stacked by `CartPolePixels-v1` (enough to read velocities off the picture).
pub const PIXEL_FRAMES: usize = 4;
/// Picture size of `CartPolePixels-v1`: small, for a conv encoder on CPU.
pub const PIXEL_HEIGHT: usize = 40;
pub const PIXEL_WIDTH: usize = 60;

/// Builds a registered classic-control env, wrapped in its time limit (Gymnasium's `max_episode_steps`).
pub fn make(id: &str) -> Option<Box<dyn Env>> {
    let max_episode_steps = match id {
        "CartPole-v1" | "Acrobot-v1" | "CartPolePixels-v1" => 500,
        "MountainCar-v0" | "Pendulum-v1" => 200,
        "MountainCarContinuous-v0" => 999,
        _ => return None,
    };
    if id == "CartPolePixels-v1" {
        let pixels = PixelObservation::new(CartPole::new(), PIXEL_FRAMES, PIXEL_HEIGHT, PIXEL_WIDTH)
            .expect("CartPole renders pixels");
        return Some(Box::new(TimeLimit::new(pixels, max_episode_steps)));
    }
    Some(Box::new(TimeLimit::new(make_unwrapped(id)?, max_episode_steps)))
}

/// One of the five Gymnasium envs without time limit (Gymnasium's `env.unwrapped`), e.g. to replay
/// transitions from arbitrary states.
pub fn make_unwrapped(id: &str) -> Option<Box<dyn Env>> {
    Some(match id {
        CartPole::ID => Box::new(CartPole::new()),
        Acrobot::ID => Box::new(Acrobot::new()),
        MountainCar::ID => Box::new(MountainCar::new()),
        ContinuousMountainCar::ID => Box::new(ContinuousMountainCar::new()),
        Pendulum::ID => Box::new(Pendulum::new()),
        _ => return None,
    })
}

/// The random stream of one env: seeded by `reset(Some(seed))`, from the OS until then (as Gymnasium's
/// `np_random` when no seed was ever given).
#[derive(Debug, Clone)]
pub(crate) struct EnvRng(StdRng);

impl EnvRng {
    pub(crate) fn from_entropy() -> Self {
        Self(StdRng::from_os_rng())
    }

    /// Reseeds on `Some`, continues the stream on `None`.
    pub(crate) fn reseed(&mut self, seed: Option<u64>) {
        if let Some(seed) = seed {
            self.0 = StdRng::seed_from_u64(seed);
        }
    }

    /// Uniform in `[low, high)`, as `np_random.uniform(low, high)`.
    pub(crate) fn uniform(&mut self, low: f64, high: f64) -> f64 {
        self.0.random_range(low..high)
    }
}

/// Whether an episode is running: `step` is refused before the first `reset` and after a terminal step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Episode {
    NotStarted,
    Running,
    Terminated,
}

impl Episode {
    /// Errors unless an episode is running.
    pub(crate) fn check_running(self, id: &str) -> Result<()> {
        match self {
            Episode::Running => Ok(()),
            Episode::NotStarted => Err(EnvError::new(id, "step() before reset(): call reset() first")),
            Episode::Terminated => Err(EnvError::new(
                id,
                "step() after the episode terminated: call reset() first",
            )),
        }
    }
}

/// The index of a `Discrete(n)` action, or the action space's error for anything else.
/// (Checks without building the `Space`, which would allocate on every step.)
pub(crate) fn discrete_action(id: &str, action: &Action, n: usize) -> Result<usize> {
    match action {
        Action::Discrete(a) if *a < n => Ok(*a),
        _ => Err(action_rejection(id, &Space::Discrete { n }, action)),
    }
}

/// The single value of a one-dimensional box action (finite, any magnitude: the env clips it), or the
/// action space's error.
pub(crate) fn scalar_action(id: &str, action: &Action, space: impl FnOnce() -> Space) -> Result<f64> {
    match action {
        Action::Continuous(v) if v.len() == 1 && v[0].is_finite() => Ok(v[0]),
        _ => Err(action_rejection(id, &space(), action)),
    }
}

/// The error `space` gives for `action` (which the caller found invalid).
pub(crate) fn action_rejection(id: &str, space: &Space, action: &Action) -> EnvError {
    match space.check(id, action) {
        Err(e) => e,
        Ok(()) => EnvError::new(id, format!("action {action:?} is not accepted by {space}")),
    }
}

/// Copies an `f64` state of the right length, or errors naming the expected length.
/// Non-finite values are refused too: no dynamics here is defined on them.
pub(crate) fn state_from<const N: usize>(id: &str, state: &[f64]) -> Result<[f64; N]> {
    if let Some(x) = state.iter().find(|x| !x.is_finite()) {
        return Err(EnvError::new(
            id,
            format!("set_state got the non-finite value {x} in {state:?}"),
        ));
    }
    state.try_into().map_err(|_| {
        EnvError::new(
            id,
            format!(
                "set_state got {} values {state:?}, the state has {N}",
                state.len()
            ),
        )
    })
}

/// A bound of a float32 Box, as Gymnasium stores it (rounded to `f32`).
pub(crate) fn f32_bound(x: f64) -> f64 {
    f64::from(x as f32)
}
