//! Gymnasium's `RecordEpisodeStatistics`: the return and length of each episode, reported in the info of
//! its last step (CleanRL logs them as `charts/episodic_return` and `charts/episodic_length`).

use crate::{Action, Env, Info, Obs, Result, Space, Step};

/// Info key of the undiscounted episode return, set on the step that ends an episode.
pub const EPISODE_RETURN: &str = "episode_return";
/// Info key of the episode length in steps, set on the step that ends an episode.
pub const EPISODE_LENGTH: &str = "episode_length";

/// Adds [`EPISODE_RETURN`] and [`EPISODE_LENGTH`] to the info of a step that terminates or truncates.
#[derive(Debug, Clone)]
pub struct EpisodeStatistics<E> {
    env: E,
    episode_return: f64,
    episode_length: usize,
}

impl<E: Env> EpisodeStatistics<E> {
    pub fn new(env: E) -> Self {
        Self {
            env,
            episode_return: 0.0,
            episode_length: 0,
        }
    }

    pub fn inner(&self) -> &E {
        &self.env
    }
}

impl<E: Env> Env for EpisodeStatistics<E> {
    fn id(&self) -> &str {
        self.env.id()
    }
    fn observation_space(&self) -> Space {
        self.env.observation_space()
    }
    fn action_space(&self) -> Space {
        self.env.action_space()
    }

    fn reset(&mut self, seed: Option<u64>) -> (Obs, Info) {
        self.episode_return = 0.0;
        self.episode_length = 0;
        self.env.reset(seed)
    }

    fn step(&mut self, action: &Action) -> Result<Step> {
        let mut step = self.env.step(action)?;
        self.episode_return += step.reward;
        self.episode_length += 1;
        if step.terminated || step.truncated {
            step.info.insert(EPISODE_RETURN.to_string(), self.episode_return);
            step.info
                .insert(EPISODE_LENGTH.to_string(), self.episode_length as f64);
        }
        Ok(step)
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
