//! Pendulum-v1: the classic inverted-pendulum swing-up; ported from Gymnasium 1.4
//! `classic_control/pendulum.py` (torque clipped to ±2, speed to ±8, cost
//! `angle_normalize(th)² + 0.1 thdot² + 0.001 u²`, never terminates; the time limit truncates).

use std::f64::consts::PI;

use super::{f32_bound, scalar_action, state_from, EnvRng, Episode};
use crate::{Action, Env, Info, Obs, Result, Space, Step};

const MAX_SPEED: f64 = 8.0;
const MAX_TORQUE: f64 = 2.0;
const DT: f64 = 0.05;
const G: f64 = 10.0;
const M: f64 = 1.0;
const L: f64 = 1.0;

/// The pendulum: state `[theta, thetadot]` (theta 0 is upright), action `[torque]`, observation
/// `[cos theta, sin theta, thetadot]`.
#[derive(Debug, Clone)]
pub struct Pendulum {
    state: [f64; 2],
    rng: EnvRng,
    episode: Episode,
}

impl Pendulum {
    pub const ID: &'static str = "Pendulum-v1";

    pub fn new() -> Self {
        Self {
            state: [0.0; 2],
            rng: EnvRng::from_entropy(),
            episode: Episode::NotStarted,
        }
    }

    fn obs(&self) -> Obs {
        let [theta, thetadot] = self.state;
        vec![theta.cos() as f32, theta.sin() as f32, thetadot as f32]
    }
}

impl Default for Pendulum {
    fn default() -> Self {
        Self::new()
    }
}

/// `(x + pi) % (2 pi) - pi` with Python's floored modulo.
fn angle_normalize(x: f64) -> f64 {
    (x + PI).rem_euclid(2.0 * PI) - PI
}

impl Env for Pendulum {
    fn id(&self) -> &str {
        Self::ID
    }

    fn observation_space(&self) -> Space {
        let high = [1.0, 1.0, MAX_SPEED].map(f32_bound).to_vec();
        Space::boxed(high.iter().map(|h| -h).collect(), high)
    }

    fn action_space(&self) -> Space {
        Space::boxed(vec![-MAX_TORQUE], vec![MAX_TORQUE])
    }

    /// Theta uniform in `[-pi, pi)`, thetadot in `[-1, 1)`.
    fn reset(&mut self, seed: Option<u64>) -> (Obs, Info) {
        self.rng.reseed(seed);
        self.state = [self.rng.uniform(-PI, PI), self.rng.uniform(-1.0, 1.0)];
        self.episode = Episode::Running;
        (self.obs(), Info::new())
    }

    /// Torques outside `[-2, 2]` are clipped (a wrong length or a NaN is an error). The torque is taken
    /// as `float32`, the dtype of Gymnasium's action space, so `0.001 * u**2` and `3.0 * u` are `float32`
    /// products as in numpy.
    fn step(&mut self, action: &Action) -> Result<Step> {
        let u = scalar_action(Self::ID, action, || self.action_space())?;
        self.episode.check_running(Self::ID)?;
        let [th, thdot] = self.state;
        let u = (u as f32).clamp(-MAX_TORQUE as f32, MAX_TORQUE as f32);
        let an = angle_normalize(th);
        let costs = an * an + 0.1 * (thdot * thdot) + f64::from(0.001f32 * (u * u));
        let torque_term = f64::from((3.0 / (M * L * L)) as f32 * u);
        let newthdot = thdot + (3.0 * G / (2.0 * L) * th.sin() + torque_term) * DT;
        let newthdot = newthdot.clamp(-MAX_SPEED, MAX_SPEED);
        let newth = th + newthdot * DT;
        self.state = [newth, newthdot];
        Ok(Step {
            obs: self.obs(),
            reward: -costs,
            terminated: false,
            truncated: false,
            info: Info::new(),
        })
    }

    fn state(&self) -> Vec<f64> {
        self.state.to_vec()
    }

    /// Sets `[theta, thetadot]` and makes the env steppable from there.
    fn set_state(&mut self, state: &[f64]) -> Result<()> {
        self.state = state_from(Self::ID, state)?;
        self.episode = Episode::Running;
        Ok(())
    }
}
