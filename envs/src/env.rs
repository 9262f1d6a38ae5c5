//! The single-agent API (Gymnasium's `reset` / `step`), shared by every env and wrapper.

use std::collections::BTreeMap;

use crate::{Action, Result, Space};

/// Observations are `f32`, as Gymnasium returns them; the physical state stays `f64` (see [`Env::state`]).
pub type Obs = Vec<f32>;

/// Extra per-step facts, e.g. `episode_return` and `episode_length` set by the episode-statistics wrapper.
pub type Info = BTreeMap<String, f64>;

/// The result of one `step`.
#[derive(Debug, Clone, PartialEq)]
pub struct Step {
    pub obs: Obs,
    pub reward: f64,
    /// The MDP reached a terminal state (no bootstrapping past it).
    pub terminated: bool,
    /// The episode was cut (time limit): bootstrapping past it is still right.
    pub truncated: bool,
    pub info: Info,
}

/// A single-agent environment with Gymnasium 1.x semantics.
pub trait Env: Send {
    /// The registered id, e.g. `CartPole-v1`.
    fn id(&self) -> &str;
    fn observation_space(&self) -> Space;
    fn action_space(&self) -> Space;
    /// Starts an episode. `Some(seed)` reseeds the env's RNG, `None` continues its stream.
    fn reset(&mut self, seed: Option<u64>) -> (Obs, Info);
    /// Advances one step. Errors on an action outside the action space or a step after the episode ended.
    fn step(&mut self, action: &Action) -> Result<Step>;
    /// The physical state (Gymnasium's `env.unwrapped.state`), in `f64`.
    fn state(&self) -> Vec<f64>;
    /// Sets the physical state; errors on a wrong length.
    fn set_state(&mut self, state: &[f64]) -> Result<()>;
    /// A text picture of the current state, for terminals.
    fn render(&self) -> String {
        format!("{} state {:?}", self.id(), self.state())
    }
    /// A grayscale picture of the current state: `height * width` values in `[0, 1]`, row-major from the
    /// top row. `None` for envs that cannot draw themselves; the pixel-observation wrapper needs `Some`.
    fn render_pixels(&self, _height: usize, _width: usize) -> Option<Vec<f32>> {
        None
    }
}
