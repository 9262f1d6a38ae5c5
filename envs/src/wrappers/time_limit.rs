//! Gymnasium's `TimeLimit`: truncates an episode after `max_episode_steps` steps.

use crate::{Action, Env, EnvError, Info, Obs, Result, Space, Step};

/// Sets `truncated` on the `max_episode_steps`-th step of an episode (also when that step terminates,
/// as Gymnasium does) and refuses further steps until `reset`.
#[derive(Debug, Clone)]
pub struct TimeLimit<E> {
    env: E,
    max_episode_steps: usize,
    elapsed_steps: usize,
    truncated: bool,
}

impl<E: Env> TimeLimit<E> {
    pub fn new(env: E, max_episode_steps: usize) -> Self {
        Self {
            env,
            max_episode_steps,
            elapsed_steps: 0,
            truncated: false,
        }
    }

    pub fn max_episode_steps(&self) -> usize {
        self.max_episode_steps
    }

    /// Steps taken in the current episode.
    pub fn elapsed_steps(&self) -> usize {
        self.elapsed_steps
    }

    pub fn inner(&self) -> &E {
        &self.env
    }
}

impl<E: Env> Env for TimeLimit<E> {
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
        self.elapsed_steps = 0;
        self.truncated = false;
        self.env.reset(seed)
    }

    fn step(&mut self, action: &Action) -> Result<Step> {
        if self.truncated {
            return Err(EnvError::new(
                self.env.id(),
                format!(
                    "step() after the episode was truncated at the time limit of {} steps: call reset() first",
                    self.max_episode_steps
                ),
            ));
        }
        let mut step = self.env.step(action)?;
        self.elapsed_steps += 1;
        if self.elapsed_steps >= self.max_episode_steps {
            step.truncated = true;
            self.truncated = true;
        }
        Ok(step)
    }

    fn state(&self) -> Vec<f64> {
        self.env.state()
    }
    /// Sets the inner env's physical state; the step count of the episode is kept.
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
