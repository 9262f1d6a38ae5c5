//! MountainCarContinuous-v0: Moore (1990), with a continuous force; ported from Gymnasium 1.4
//! `classic_control/continuous_mountain_car.py` (force clipped to [-1, 1], reward +100 at the goal minus
//! 0.1 * action², where the action is the unclipped one).
//!
//! Gymnasium stores this env's state as a `float32` array after each step (not after `reset`) and its
//! action space is `float32`, so parts of a step run in `float32`; [`Num`] reproduces that typing.

use super::mountain_car::mountain_car_observation_space;
use super::numpy_scalar::Num::{self, Py, F32, F64};
use super::{f32_bound, scalar_action, state_from, EnvRng, Episode};
use crate::{Action, Env, Info, Obs, Result, Space, Step};

const MIN_ACTION: f64 = -1.0;
const MAX_ACTION: f64 = 1.0;
const MIN_POSITION: f64 = -1.2;
const MAX_POSITION: f64 = 0.6;
const MAX_SPEED: f64 = 0.07;
const GOAL_POSITION: f64 = 0.45;
const GOAL_VELOCITY: f64 = 0.0;
const POWER: f64 = 0.0015;

/// The car in the valley with a continuous force: state `[position, velocity]`, action `[force]`.
#[derive(Debug, Clone)]
pub struct ContinuousMountainCar {
    state: [f64; 2],
    /// Whether Gymnasium would hold the state as `float32` (after a step) or `float64` (after `reset`
    /// or `set_state`, i.e. assigning a float64 array to `env.unwrapped.state`).
    state_is_f32: bool,
    rng: EnvRng,
    episode: Episode,
}

impl ContinuousMountainCar {
    pub const ID: &'static str = "MountainCarContinuous-v0";

    pub fn new() -> Self {
        Self {
            state: [0.0; 2],
            state_is_f32: false,
            rng: EnvRng::from_entropy(),
            episode: Episode::NotStarted,
        }
    }

    fn obs(&self) -> Obs {
        self.state.iter().map(|&x| x as f32).collect()
    }

    fn state_num(&self, i: usize) -> Num {
        if self.state_is_f32 {
            F32(self.state[i] as f32)
        } else {
            F64(self.state[i])
        }
    }
}

impl Default for ContinuousMountainCar {
    fn default() -> Self {
        Self::new()
    }
}

impl Env for ContinuousMountainCar {
    fn id(&self) -> &str {
        Self::ID
    }

    fn observation_space(&self) -> Space {
        mountain_car_observation_space()
    }

    fn action_space(&self) -> Space {
        Space::boxed(vec![MIN_ACTION], vec![MAX_ACTION])
    }

    /// Position uniform in `[-0.6, -0.4)`, velocity 0.
    fn reset(&mut self, seed: Option<u64>) -> (Obs, Info) {
        self.rng.reseed(seed);
        self.state = [self.rng.uniform(-0.6, -0.4), 0.0];
        self.state_is_f32 = false;
        self.episode = Episode::Running;
        (self.obs(), Info::new())
    }

    /// Actions outside `[-1, 1]` are clipped (a wrong length or a NaN is an error). The action is taken
    /// as `float32`, the dtype of Gymnasium's action space.
    fn step(&mut self, action: &Action) -> Result<Step> {
        let action = scalar_action(Self::ID, action, || self.action_space())?;
        self.episode.check_running(Self::ID)?;
        // The statements of Gymnasium's `step`, each typed as numpy types it.
        let mut position = self.state_num(0);
        let mut velocity = self.state_num(1);
        let action = F32(action as f32);
        let force = action.py_max(Py(MIN_ACTION)).py_min(Py(MAX_ACTION));
        let gravity_term = Py(0.0025) * Py((Py(3.0) * position).value().cos());
        velocity = velocity + (force * Py(POWER) - gravity_term);
        if velocity.gt(Py(MAX_SPEED)) {
            velocity = Py(MAX_SPEED);
        }
        if velocity.lt(Py(-MAX_SPEED)) {
            velocity = Py(-MAX_SPEED);
        }
        position = position + velocity;
        if position.gt(Py(MAX_POSITION)) {
            position = Py(MAX_POSITION);
        }
        if position.lt(Py(MIN_POSITION)) {
            position = Py(MIN_POSITION);
        }
        if position.eq(Py(MIN_POSITION)) && velocity.lt(Py(0.0)) {
            velocity = Py(0.0);
        }
        let terminated = position.ge(Py(GOAL_POSITION)) && velocity.ge(Py(GOAL_VELOCITY));
        let a = action.value();
        let reward = (if terminated { 100.0 } else { 0.0 }) - a * a * 0.1;
        self.state = [f32_bound(position.value()), f32_bound(velocity.value())];
        self.state_is_f32 = true;
        if terminated {
            self.episode = Episode::Terminated;
        }
        Ok(Step {
            obs: self.obs(),
            reward,
            terminated,
            truncated: false,
            info: Info::new(),
        })
    }

    fn state(&self) -> Vec<f64> {
        self.state.to_vec()
    }

    /// Sets `[position, velocity]` (as a float64 array) and makes the env steppable from there.
    fn set_state(&mut self, state: &[f64]) -> Result<()> {
        self.state = state_from(Self::ID, state)?;
        self.state_is_f32 = false;
        self.episode = Episode::Running;
        Ok(())
    }
}
