//! The multi-agent parallel API (PettingZoo-parallel style) that QMIX trains on: per-agent observations,
//! a global state for centralised training, available-action masks and a team reward.

use std::collections::BTreeMap;

use crate::Result;

/// What `reset` and `step` show the agents.
#[derive(Debug, Clone, PartialEq)]
pub struct MaObs {
    /// One observation per agent, each `obs_dim` long.
    pub obs: Vec<Vec<f32>>,
    /// The global state, `state_dim` long (for the mixer).
    pub state: Vec<f32>,
    /// Per agent, which of the `n_actions` actions are available.
    pub avail_actions: Vec<Vec<bool>>,
}

/// The result of one joint step.
#[derive(Debug, Clone, PartialEq)]
pub struct MaStep {
    pub obs: MaObs,
    /// Per-agent rewards, as the underlying game gives them.
    pub rewards: Vec<f64>,
    /// The cooperative team reward (sum of the per-agent rewards).
    pub team_reward: f64,
    pub terminated: bool,
    pub truncated: bool,
    pub info: BTreeMap<String, f64>,
}

/// A cooperative multi-agent environment with simultaneous moves.
pub trait MultiAgentEnv: Send {
    fn id(&self) -> &str;
    fn n_agents(&self) -> usize;
    fn n_actions(&self) -> usize;
    fn obs_dim(&self) -> usize;
    fn state_dim(&self) -> usize;
    /// The episode time limit in steps.
    fn episode_limit(&self) -> usize;
    fn reset(&mut self, seed: Option<u64>) -> MaObs;
    /// One action index per agent. Errors on a wrong count, an index out of range, an unavailable action
    /// or a step after the episode ended.
    fn step(&mut self, actions: &[usize]) -> Result<MaStep>;
    /// Whether the last episode was solved (all food collected / all prey captured).
    fn solved(&self) -> bool;
    /// An ASCII picture of the grid.
    fn render(&self) -> String;
}
