//! CartPole-v1: Barto, Sutton & Anderson (1983), "Neuronlike adaptive elements that can solve difficult
//! learning control problems"; ported from Gymnasium 1.4 `classic_control/cartpole.py` (Euler integrator,
//! reward +1 on every step including the terminal one).

use std::f64::consts::PI;

use super::{discrete_action, f32_bound, state_from, EnvRng, Episode};
use crate::{Action, Env, Info, Obs, Result, Space, Step};

const GRAVITY: f64 = 9.8;
const MASSCART: f64 = 1.0;
const MASSPOLE: f64 = 0.1;
const TOTAL_MASS: f64 = MASSPOLE + MASSCART;
/// Half the pole's length.
const LENGTH: f64 = 0.5;
const POLEMASS_LENGTH: f64 = MASSPOLE * LENGTH;
const FORCE_MAG: f64 = 10.0;
/// Seconds between state updates.
const TAU: f64 = 0.02;
const THETA_THRESHOLD_RADIANS: f64 = 12.0 * 2.0 * PI / 360.0;
const X_THRESHOLD: f64 = 2.4;

/// The cart-pole: state `[x, x_dot, theta, theta_dot]`, actions 0 (push left) and 1 (push right).
#[derive(Debug, Clone)]
pub struct CartPole {
    state: [f64; 4],
    rng: EnvRng,
    episode: Episode,
}

impl CartPole {
    pub const ID: &'static str = "CartPole-v1";

    pub fn new() -> Self {
        Self {
            state: [0.0; 4],
            rng: EnvRng::from_entropy(),
            episode: Episode::NotStarted,
        }
    }

    fn obs(&self) -> Obs {
        self.state.iter().map(|&x| x as f32).collect()
    }
}

impl Default for CartPole {
    fn default() -> Self {
        Self::new()
    }
}

impl Env for CartPole {
    fn id(&self) -> &str {
        Self::ID
    }

    fn observation_space(&self) -> Space {
        let high = [
            X_THRESHOLD * 2.0,
            f64::INFINITY,
            THETA_THRESHOLD_RADIANS * 2.0,
            f64::INFINITY,
        ]
        .map(f32_bound)
        .to_vec();
        Space::boxed(high.iter().map(|h| -h).collect(), high)
    }

    fn action_space(&self) -> Space {
        Space::Discrete { n: 2 }
    }

    /// Every state variable uniform in `[-0.05, 0.05)`.
    fn reset(&mut self, seed: Option<u64>) -> (Obs, Info) {
        self.rng.reseed(seed);
        self.state = std::array::from_fn(|_| self.rng.uniform(-0.05, 0.05));
        self.episode = Episode::Running;
        (self.obs(), Info::new())
    }

    fn step(&mut self, action: &Action) -> Result<Step> {
        let action = discrete_action(Self::ID, action, 2)?;
        self.episode.check_running(Self::ID)?;
        let [mut x, mut x_dot, mut theta, mut theta_dot] = self.state;
        let force = if action == 1 { FORCE_MAG } else { -FORCE_MAG };
        let costheta = theta.cos();
        let sintheta = theta.sin();
        let temp = (force + POLEMASS_LENGTH * (theta_dot * theta_dot) * sintheta) / TOTAL_MASS;
        let thetaacc = (GRAVITY * sintheta - costheta * temp)
            / (LENGTH * (4.0 / 3.0 - MASSPOLE * (costheta * costheta) / TOTAL_MASS));
        let xacc = temp - POLEMASS_LENGTH * thetaacc * costheta / TOTAL_MASS;
        // Euler, as Gymnasium's default `kinematics_integrator`.
        x += TAU * x_dot;
        x_dot += TAU * xacc;
        theta += TAU * theta_dot;
        theta_dot += TAU * thetaacc;
        self.state = [x, x_dot, theta, theta_dot];
        let terminated = !(-X_THRESHOLD..=X_THRESHOLD).contains(&x)
            || !(-THETA_THRESHOLD_RADIANS..=THETA_THRESHOLD_RADIANS).contains(&theta);
        if terminated {
            self.episode = Episode::Terminated;
        }
        Ok(Step {
            obs: self.obs(),
            reward: 1.0,
            terminated,
            truncated: false,
            info: Info::new(),
        })
    }

    fn state(&self) -> Vec<f64> {
        self.state.to_vec()
    }

    /// Sets `[x, x_dot, theta, theta_dot]` and makes the env steppable from there.
    fn set_state(&mut self, state: &[f64]) -> Result<()> {
        self.state = state_from(Self::ID, state)?;
        self.episode = Episode::Running;
        Ok(())
    }

    /// Gymnasium's picture scaled to `height x width`: the 4.8 m track spans the width, the cart (value
    /// 1.0) sits a quarter up from the bottom, the pole (value 0.5) leans by `theta` from the axle.
    fn render_pixels(&self, height: usize, width: usize) -> Option<Vec<f32>> {
        // Gymnasium draws on 600 x 400 pixels; keep its proportions.
        let (w, h) = (width as f64, height as f64);
        let scale = w / (X_THRESHOLD * 2.0);
        let cart_half_w = w * 25.0 / 600.0;
        let cart_half_h = h * 15.0 / 400.0;
        let pole_half_w = (w * 5.0 / 600.0).max(0.5);
        let pole_len = scale * (2.0 * LENGTH);
        let cart_x = self.state[0] * scale + w / 2.0;
        let cart_y = h * 100.0 / 400.0;
        let axle_y = cart_y + cart_half_h / 2.0;
        let (sin_t, cos_t) = self.state[2].sin_cos();
        let mut pixels = vec![0.0f32; height * width];
        for (row, line) in pixels.chunks_mut(width).enumerate() {
            // Pixel centres, with y pointing up as in Gymnasium's drawing before its final flip.
            let y = h - (row as f64 + 0.5);
            for (col, px) in line.iter_mut().enumerate() {
                let x = col as f64 + 0.5;
                let (dx, dy) = (x - cart_x, y - axle_y);
                let along = dx * sin_t + dy * cos_t;
                let across = dx * cos_t - dy * sin_t;
                if (x - cart_x).abs() <= cart_half_w && (y - cart_y).abs() <= cart_half_h {
                    *px = 1.0;
                } else if (-pole_half_w..=pole_len - pole_half_w).contains(&along)
                    && across.abs() <= pole_half_w
                {
                    *px = 0.5;
                }
            }
        }
        Some(pixels)
    }
}
