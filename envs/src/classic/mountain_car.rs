//! MountainCar-v0: Moore (1990), "Efficient memory-based learning for robot control"; ported from
//! Gymnasium 1.4 `classic_control/mountain_car.py` (velocity clipped to ±0.07, position to [-1.2, 0.6],
//! velocity zeroed on hitting the left wall, reward -1 per step).

use super::{discrete_action, f32_bound, state_from, EnvRng, Episode};
use crate::{Action, Env, Info, Obs, Result, Space, Step};

const MIN_POSITION: f64 = -1.2;
const MAX_POSITION: f64 = 0.6;
const MAX_SPEED: f64 = 0.07;
const GOAL_POSITION: f64 = 0.5;
const GOAL_VELOCITY: f64 = 0.0;
const FORCE: f64 = 0.001;
const GRAVITY: f64 = 0.0025;

/// The car in the valley: state `[position, velocity]`, actions 0 (accelerate left), 1 (none), 2 (right).
#[derive(Debug, Clone)]
pub struct MountainCar {
    state: [f64; 2],
    rng: EnvRng,
    episode: Episode,
}

impl MountainCar {
    pub const ID: &'static str = "MountainCar-v0";

    pub fn new() -> Self {
        Self {
            state: [0.0; 2],
            rng: EnvRng::from_entropy(),
            episode: Episode::NotStarted,
        }
    }

    fn obs(&self) -> Obs {
        self.state.iter().map(|&x| x as f32).collect()
    }
}

impl Default for MountainCar {
    fn default() -> Self {
        Self::new()
    }
}

/// The observation box of both mountain cars.
pub(super) fn mountain_car_observation_space() -> Space {
    Space::boxed(
        vec![f32_bound(MIN_POSITION), f32_bound(-MAX_SPEED)],
        vec![f32_bound(MAX_POSITION), f32_bound(MAX_SPEED)],
    )
}

impl Env for MountainCar {
    fn id(&self) -> &str {
        Self::ID
    }

    fn observation_space(&self) -> Space {
        mountain_car_observation_space()
    }

    fn action_space(&self) -> Space {
        Space::Discrete { n: 3 }
    }

    /// Position uniform in `[-0.6, -0.4)`, velocity 0.
    fn reset(&mut self, seed: Option<u64>) -> (Obs, Info) {
        self.rng.reseed(seed);
        self.state = [self.rng.uniform(-0.6, -0.4), 0.0];
        self.episode = Episode::Running;
        (self.obs(), Info::new())
    }

    fn step(&mut self, action: &Action) -> Result<Step> {
        let action = discrete_action(Self::ID, action, 3)?;
        self.episode.check_running(Self::ID)?;
        let [mut position, mut velocity] = self.state;
        velocity += (action as f64 - 1.0) * FORCE + (3.0 * position).cos() * -GRAVITY;
        velocity = velocity.clamp(-MAX_SPEED, MAX_SPEED);
        position += velocity;
        position = position.clamp(MIN_POSITION, MAX_POSITION);
        if position == MIN_POSITION && velocity < 0.0 {
            velocity = 0.0;
        }
        let terminated = position >= GOAL_POSITION && velocity >= GOAL_VELOCITY;
        self.state = [position, velocity];
        if terminated {
            self.episode = Episode::Terminated;
        }
        Ok(Step {
            obs: self.obs(),
            reward: -1.0,
            terminated,
            truncated: false,
            info: Info::new(),
        })
    }

    fn state(&self) -> Vec<f64> {
        self.state.to_vec()
    }

    /// Sets `[position, velocity]` and makes the env steppable from there.
    fn set_state(&mut self, state: &[f64]) -> Result<()> {
        self.state = state_from(Self::ID, state)?;
        self.episode = Episode::Running;
        Ok(())
    }
}
