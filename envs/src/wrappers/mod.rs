//! Gymnasium-style wrappers: each one an [`Env`] around another, one file each.

mod episode_statistics;
mod normalize_observation;
mod pixel_observation;
mod rescale_action;
mod time_limit;

pub use episode_statistics::{EpisodeStatistics, EPISODE_LENGTH, EPISODE_RETURN};
pub use normalize_observation::{NormalizeObservation, RunningMeanStd};
pub use pixel_observation::PixelObservation;
pub use rescale_action::RescaleAction;
pub use time_limit::TimeLimit;

use crate::{Action, Env, Info, Obs, Result, Space, Step};

/// A boxed env is an env, so wrappers compose over `make`'s `Box<dyn Env>` as well as concrete envs.
impl<E: Env + ?Sized> Env for Box<E> {
    fn id(&self) -> &str {
        (**self).id()
    }
    fn observation_space(&self) -> Space {
        (**self).observation_space()
    }
    fn action_space(&self) -> Space {
        (**self).action_space()
    }
    fn reset(&mut self, seed: Option<u64>) -> (Obs, Info) {
        (**self).reset(seed)
    }
    fn step(&mut self, action: &Action) -> Result<Step> {
        (**self).step(action)
    }
    fn state(&self) -> Vec<f64> {
        (**self).state()
    }
    fn set_state(&mut self, state: &[f64]) -> Result<()> {
        (**self).set_state(state)
    }
    fn render(&self) -> String {
        (**self).render()
    }
    fn render_pixels(&self, height: usize, width: usize) -> Option<Vec<f32>> {
        (**self).render_pixels(height, width)
    }
}
