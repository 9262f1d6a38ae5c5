//! The interface between a cooperative multi-agent learner (QMIX, MAST) and the CLI's multi-agent training
//! loop: act on a joint observation, record the episode, train at its end, report, save.

use sparse_rl_envs::MaObs;

use crate::agent::{Metric, TrainError, Trainable};

/// A multi-agent learner trained episode by episode (PyMARL's episode runner).
pub trait MarlAgent: Trainable {
    /// Starts an episode (training or evaluation): clears recurrent state and last actions.
    fn begin_episode(&mut self);
    /// Starts an evaluation episode: as [`MarlAgent::begin_episode`], and seeds the ε draws of evaluation
    /// acting with `seed`, so an evaluation is reproducible and never draws from training's random stream.
    fn begin_evaluation(&mut self, seed: u64);
    /// One action per agent among its available ones: ε-greedy, with ε at env step `step` when `explore`,
    /// else the evaluation ε (greedy unless the algorithm sets one).
    fn act(&mut self, obs: &MaObs, explore: bool, step: usize) -> Vec<usize>;
    /// Records a step of the current training episode: the observation acted on, the joint action and the
    /// team reward.
    fn observe(&mut self, obs: &MaObs, actions: &[usize], reward: f64);
    /// Ends the training episode with its last observation (`terminated`: not by the time limit), stores it
    /// and runs the gradient updates due at env step `step`; returns metrics to log, or an error that stops
    /// the run (non-finite loss).
    fn end_episode(&mut self, last: &MaObs, terminated: bool, step: usize)
        -> Result<Vec<Metric>, TrainError>;
}
