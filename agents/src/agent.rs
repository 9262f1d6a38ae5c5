//! The interface between an agent and the training loop of the CLI: act, observe, train, report, save.

use std::fmt;
use std::path::Path;

use sparse_rl_dst::inference::Policy;
pub use sparse_rl_dst::module::{FlopsRatio, ModuleStats};
use sparse_rl_envs::Action;

/// A scalar for TensorBoard: tag (`losses/td_loss`...) and value.
pub type Metric = (&'static str, f64);

/// A training step that must stop the run (a NaN/inf loss), with the step it happened at.
#[derive(Debug, Clone, PartialEq)]
pub struct TrainError {
    pub step: usize,
    pub message: String,
}

impl fmt::Display for TrainError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "step {}: {}", self.step, self.message)
    }
}

impl std::error::Error for TrainError {}

/// What every learner, single- or multi-agent, reports and checkpoints: its modules' sparsity, its FLOPs,
/// its whole training state, and its greedy acting network.
pub trait Trainable {
    fn modules(&self) -> Vec<ModuleStats>;
    fn flops(&self) -> FlopsRatio;
    /// Saves everything a resumed run needs (networks, optimizers, masks, replay, RNG) into `dir`.
    fn save(&self, dir: &Path) -> std::io::Result<()>;
    /// Loads what [`Trainable::save`] wrote.
    fn load(&mut self, dir: &Path) -> std::io::Result<()>;
    /// The greedy acting network in plain-Rust inference form (what `sparse-rl export` writes): given the
    /// same inputs, its actions equal the learner's own greedy ones.
    fn policy(&self) -> Result<Policy, String>;
}

/// An off-policy single-agent learner as the training loop drives it.
pub trait Agent: Trainable {
    /// The action for `obs`; `explore` uses the behaviour policy (ε-greedy, stochastic actor), else greedy.
    fn act(&mut self, obs: &[f32], explore: bool, step: usize) -> Action;
    /// Stores a transition in the replay buffer.
    fn observe(&mut self, obs: &[f32], action: &Action, reward: f64, next_obs: &[f32], terminated: bool);
    /// Runs the gradient updates due at env step `step` (none before learning starts) and returns the
    /// metrics to log, or an error that stops the run (non-finite loss).
    fn train(&mut self, step: usize) -> Result<Vec<Metric>, TrainError>;
    /// Each module's fraction of τ-dormant neurons ([`crate::plasticity`], τ = `DORMANT_TAU`) on the most
    /// recent replay transitions; modules without hidden neurons are left out, and all are before the
    /// buffer holds a transition.
    fn dormant_fractions(&self) -> Vec<(&'static str, f64)>;
}
