//! Gymnasium's `RescaleAction` with target `[-1, 1]`: the agent acts in `[-1, 1]^d` (a tanh policy, as in
//! SAC) and the env receives the affine image in its own box.

use crate::classic::action_rejection;
use crate::{Action, Env, EnvError, Info, Obs, Result, Space, Step};

/// Maps `a` in `[-1, 1]` to `low + (a + 1) (high - low) / 2`. Values outside `[-1, 1]` map outside the
/// box and are left to the env (Pendulum and MountainCarContinuous clip); a wrong length or a NaN is an
/// error.
#[derive(Debug, Clone)]
pub struct RescaleAction<E> {
    env: E,
    low: Vec<f64>,
    high: Vec<f64>,
}

impl<E: Env> RescaleAction<E> {
    /// Errors unless the env's action space is a box with finite bounds.
    pub fn new(env: E) -> Result<Self> {
        match env.action_space() {
            Space::Box { low, high, .. } if low.iter().chain(&high).all(|x| x.is_finite()) => {
                Ok(Self { env, low, high })
            }
            space => Err(EnvError::new(
                env.id(),
                format!("RescaleAction needs a bounded Box action space, the env has {space}"),
            )),
        }
    }

    pub fn inner(&self) -> &E {
        &self.env
    }

    /// The env's action for the agent's `a` in `[-1, 1]`.
    fn rescale(&self, a: &[f64]) -> Vec<f64> {
        a.iter()
            .zip(self.low.iter().zip(&self.high))
            .map(|(a, (low, high))| low + (a + 1.0) * (high - low) / 2.0)
            .collect()
    }
}

impl<E: Env> Env for RescaleAction<E> {
    fn id(&self) -> &str {
        self.env.id()
    }
    fn observation_space(&self) -> Space {
        self.env.observation_space()
    }

    fn action_space(&self) -> Space {
        Space::boxed(vec![-1.0; self.low.len()], vec![1.0; self.low.len()])
    }

    fn reset(&mut self, seed: Option<u64>) -> (Obs, Info) {
        self.env.reset(seed)
    }

    fn step(&mut self, action: &Action) -> Result<Step> {
        match action {
            Action::Continuous(a) if a.len() == self.low.len() && a.iter().all(|x| x.is_finite()) => {
                self.env.step(&Action::Continuous(self.rescale(a)))
            }
            _ => Err(action_rejection(self.env.id(), &self.action_space(), action)),
        }
    }

    fn state(&self) -> Vec<f64> {
        self.env.state()
    }
    fn set_state(&mut self, state: &[f64]) -> Result<()> {
        self.env.set_state(state)
    }
    fn render(&self) -> String {
        self.env.render()
    }
    fn render_pixels(&self, height: usize, width: usize) -> Option<Vec<f32>> {
        self.env.render_pixels(height, width)
    }
}
