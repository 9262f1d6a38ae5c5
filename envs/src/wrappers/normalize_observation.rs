//! Gymnasium's `NormalizeObservation`: observations scaled by a running mean and variance, the scheme of
//! OpenAI baselines' `RunningMeanStd` (Chan et al.'s parallel variance update, batch size 1 here).

use crate::{Action, Env, EnvError, Info, Obs, Result, Space, Step};

/// Running mean and (population) variance per observation dimension. Starts as Gymnasium's: mean 0,
/// variance 1, count 1e-4. Kept in `f64` (Gymnasium keeps `float32`).
#[derive(Debug, Clone, PartialEq)]
pub struct RunningMeanStd {
    pub mean: Vec<f64>,
    pub var: Vec<f64>,
    pub count: f64,
}

impl RunningMeanStd {
    pub fn new(dim: usize) -> Self {
        Self {
            mean: vec![0.0; dim],
            var: vec![1.0; dim],
            count: 1e-4,
        }
    }

    /// Folds in one sample (`update_mean_var_count_from_moments` with batch count 1, batch variance 0).
    pub fn update(&mut self, x: &[f32]) {
        let tot_count = self.count + 1.0;
        for ((mean, var), &x) in self.mean.iter_mut().zip(&mut self.var).zip(x) {
            let delta = f64::from(x) - *mean;
            *mean += delta / tot_count;
            let m2 = *var * self.count + delta * delta * self.count / tot_count;
            *var = m2 / tot_count;
        }
        self.count = tot_count;
    }

    /// `(x - mean) / sqrt(var + epsilon)`, as `f32`.
    pub fn normalize(&self, x: &[f32], epsilon: f64) -> Obs {
        x.iter()
            .zip(self.mean.iter().zip(&self.var))
            .map(|(&x, (mean, var))| ((f64::from(x) - mean) / (var + epsilon).sqrt()) as f32)
            .collect()
    }
}

/// Normalises every observation (also the one from `reset`) and, while `update_running_mean` is on,
/// updates the statistics with it first. Turn it off for evaluation, and copy the training statistics
/// over with [`NormalizeObservation::set_running_mean_std`].
#[derive(Debug, Clone)]
pub struct NormalizeObservation<E> {
    env: E,
    rms: RunningMeanStd,
    epsilon: f64,
    update_running_mean: bool,
}

impl<E: Env> NormalizeObservation<E> {
    /// Gymnasium's default `epsilon` is 1e-8; it must be positive.
    pub fn new(env: E, epsilon: f64) -> Result<Self> {
        if epsilon.is_nan() || epsilon <= 0.0 {
            return Err(EnvError::new(
                env.id(),
                format!("NormalizeObservation epsilon must be positive, got {epsilon}"),
            ));
        }
        let dim = env.observation_space().flat_dim();
        Ok(Self {
            env,
            rms: RunningMeanStd::new(dim),
            epsilon,
            update_running_mean: true,
        })
    }

    pub fn update_running_mean(&self) -> bool {
        self.update_running_mean
    }

    /// Freezes (`false`) or resumes (`true`) the statistics.
    pub fn set_update_running_mean(&mut self, on: bool) {
        self.update_running_mean = on;
    }

    pub fn running_mean_std(&self) -> &RunningMeanStd {
        &self.rms
    }

    /// Replaces the statistics, e.g. with a training env's; errors on a dimension mismatch.
    pub fn set_running_mean_std(&mut self, rms: RunningMeanStd) -> Result<()> {
        let dim = self.rms.mean.len();
        if rms.mean.len() != dim || rms.var.len() != dim {
            return Err(EnvError::new(
                self.env.id(),
                format!(
                    "running statistics of dimension {}/{} do not fit observations of dimension {dim}",
                    rms.mean.len(),
                    rms.var.len()
                ),
            ));
        }
        self.rms = rms;
        Ok(())
    }

    pub fn inner(&self) -> &E {
        &self.env
    }

    fn observation(&mut self, obs: &[f32]) -> Obs {
        if self.update_running_mean {
            self.rms.update(obs);
        }
        self.rms.normalize(obs, self.epsilon)
    }
}

impl<E: Env> Env for NormalizeObservation<E> {
    fn id(&self) -> &str {
        self.env.id()
    }

    /// Unbounded, as Gymnasium's.
    fn observation_space(&self) -> Space {
        let shape = match self.env.observation_space() {
            Space::Box { shape, .. } => shape,
            Space::Discrete { .. } => vec![1],
        };
        let n: usize = shape.iter().product();
        Space::Box {
            low: vec![f64::NEG_INFINITY; n],
            high: vec![f64::INFINITY; n],
            shape,
        }
    }

    fn action_space(&self) -> Space {
        self.env.action_space()
    }

    fn reset(&mut self, seed: Option<u64>) -> (Obs, Info) {
        let (obs, info) = self.env.reset(seed);
        (self.observation(&obs), info)
    }

    fn step(&mut self, action: &Action) -> Result<Step> {
        let mut step = self.env.step(action)?;
        step.obs = self.observation(&step.obs);
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
