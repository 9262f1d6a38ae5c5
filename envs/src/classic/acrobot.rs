//! Acrobot-v1: Sutton (1996), "Generalization in reinforcement learning: successful examples using sparse
//! coarse coding", with the dynamics of Sutton & Barto's book; ported from Gymnasium 1.4
//! `classic_control/acrobot.py` (RK4 over one 0.2 s step, `wrap` of the angles, `bound` of the velocities).

use std::f64::consts::PI;

use super::{discrete_action, f32_bound, state_from, EnvRng, Episode};
use crate::{Action, Env, Info, Obs, Result, Space, Step};

const DT: f64 = 0.2;
const LINK_LENGTH_1: f64 = 1.0;
const LINK_MASS_1: f64 = 1.0;
const LINK_MASS_2: f64 = 1.0;
const LINK_COM_POS_1: f64 = 0.5;
const LINK_COM_POS_2: f64 = 0.5;
const LINK_MOI: f64 = 1.0;
const MAX_VEL_1: f64 = 4.0 * PI;
const MAX_VEL_2: f64 = 9.0 * PI;
const AVAIL_TORQUE: [f64; 3] = [-1.0, 0.0, 1.0];
const G: f64 = 9.8;

/// The two-link acrobot: state `[theta1, theta2, dtheta1, dtheta2]`, actions torque -1, 0, +1 on the
/// second joint; observation `[cos t1, sin t1, cos t2, sin t2, dt1, dt2]`.
#[derive(Debug, Clone)]
pub struct Acrobot {
    state: [f64; 4],
    rng: EnvRng,
    episode: Episode,
}

impl Acrobot {
    pub const ID: &'static str = "Acrobot-v1";

    pub fn new() -> Self {
        Self {
            state: [0.0; 4],
            rng: EnvRng::from_entropy(),
            episode: Episode::NotStarted,
        }
    }

    fn obs(&self) -> Obs {
        let [t1, t2, dt1, dt2] = self.state;
        let (s1, c1) = t1.sin_cos();
        let (s2, c2) = t2.sin_cos();
        [c1, s1, c2, s2, dt1, dt2].iter().map(|&x| x as f32).collect()
    }

    fn terminal(&self) -> bool {
        let [t1, t2, ..] = self.state;
        -t1.cos() - (t2 + t1).cos() > 1.0
    }
}

impl Default for Acrobot {
    fn default() -> Self {
        Self::new()
    }
}

/// The equations of motion ("book" variant) of `AcrobotEnv._dsdt`; `s[4]` is the torque.
fn dsdt(s: &[f64; 5]) -> [f64; 5] {
    let (m1, m2, l1) = (LINK_MASS_1, LINK_MASS_2, LINK_LENGTH_1);
    let (lc1, lc2) = (LINK_COM_POS_1, LINK_COM_POS_2);
    let (i1, i2) = (LINK_MOI, LINK_MOI);
    let [theta1, theta2, dtheta1, dtheta2, a] = *s;
    let (sin2, cos2) = theta2.sin_cos();
    let d1 = m1 * (lc1 * lc1) + m2 * (l1 * l1 + lc2 * lc2 + 2.0 * l1 * lc2 * cos2) + i1 + i2;
    let d2 = m2 * (lc2 * lc2 + l1 * lc2 * cos2) + i2;
    let phi2 = m2 * lc2 * G * (theta1 + theta2 - PI / 2.0).cos();
    let phi1 = -m2 * l1 * lc2 * (dtheta2 * dtheta2) * sin2 - 2.0 * m2 * l1 * lc2 * dtheta2 * dtheta1 * sin2
        + (m1 * lc1 + m2 * l1) * G * (theta1 - PI / 2.0).cos()
        + phi2;
    let ddtheta2 = (a + d2 / d1 * phi1 - m2 * l1 * lc2 * (dtheta1 * dtheta1) * sin2 - phi2)
        / (m2 * (lc2 * lc2) + i2 - (d2 * d2) / d1);
    let ddtheta1 = -(d2 * ddtheta2 + phi1) / d1;
    [dtheta1, dtheta2, ddtheta1, ddtheta2, 0.0]
}

/// One classical Runge-Kutta step of length `dt` (Gymnasium's `rk4` over `t = [0, dt]`).
fn rk4(y0: [f64; 5], dt: f64) -> [f64; 5] {
    let dt2 = dt / 2.0;
    let shifted = |k: &[f64; 5], h: f64| -> [f64; 5] { std::array::from_fn(|j| y0[j] + h * k[j]) };
    let k1 = dsdt(&y0);
    let k2 = dsdt(&shifted(&k1, dt2));
    let k3 = dsdt(&shifted(&k2, dt2));
    let k4 = dsdt(&shifted(&k3, dt));
    std::array::from_fn(|j| y0[j] + dt / 6.0 * (k1[j] + 2.0 * k2[j] + 2.0 * k3[j] + k4[j]))
}

/// Wraps `x` into `[m, M]` by whole periods, as Gymnasium's `wrap` (loops, not a modulo, so the rounding
/// matches). Beyond a million periods, where the loops would crawl (or never end), a modulo instead.
fn wrap(mut x: f64, m: f64, big_m: f64) -> f64 {
    let diff = big_m - m;
    if !x.is_finite() || (x - m).abs() >= 1e6 * diff {
        return m + (x - m).rem_euclid(diff);
    }
    while x > big_m {
        x -= diff;
    }
    while x < m {
        x += diff;
    }
    x
}

/// `min(max(x, m), M)`, Gymnasium's `bound`.
fn bound(x: f64, m: f64, big_m: f64) -> f64 {
    x.max(m).min(big_m)
}

impl Env for Acrobot {
    fn id(&self) -> &str {
        Self::ID
    }

    fn observation_space(&self) -> Space {
        let high = [1.0, 1.0, 1.0, 1.0, MAX_VEL_1, MAX_VEL_2].map(f32_bound).to_vec();
        Space::boxed(high.iter().map(|h| -h).collect(), high)
    }

    fn action_space(&self) -> Space {
        Space::Discrete { n: 3 }
    }

    /// Every state variable uniform in `[-0.1, 0.1)`, rounded to `f32` as Gymnasium's `.astype(float32)`.
    fn reset(&mut self, seed: Option<u64>) -> (Obs, Info) {
        self.rng.reseed(seed);
        self.state = std::array::from_fn(|_| f32_bound(self.rng.uniform(-0.1, 0.1)));
        self.episode = Episode::Running;
        (self.obs(), Info::new())
    }

    fn step(&mut self, action: &Action) -> Result<Step> {
        let action = discrete_action(Self::ID, action, 3)?;
        self.episode.check_running(Self::ID)?;
        let [t1, t2, dt1, dt2] = self.state;
        let ns = rk4([t1, t2, dt1, dt2, AVAIL_TORQUE[action]], DT);
        self.state = [
            wrap(ns[0], -PI, PI),
            wrap(ns[1], -PI, PI),
            bound(ns[2], -MAX_VEL_1, MAX_VEL_1),
            bound(ns[3], -MAX_VEL_2, MAX_VEL_2),
        ];
        let terminated = self.terminal();
        if terminated {
            self.episode = Episode::Terminated;
        }
        Ok(Step {
            obs: self.obs(),
            reward: if terminated { 0.0 } else { -1.0 },
            terminated,
            truncated: false,
            info: Info::new(),
        })
    }

    fn state(&self) -> Vec<f64> {
        self.state.to_vec()
    }

    /// Sets `[theta1, theta2, dtheta1, dtheta2]` and makes the env steppable from there.
    fn set_state(&mut self, state: &[f64]) -> Result<()> {
        self.state = state_from(Self::ID, state)?;
        self.episode = Episode::Running;
        Ok(())
    }
}
