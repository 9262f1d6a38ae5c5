//! QMIX (Rashid et al., ICML 2018) as in EPyMARL (uoe-agents/epymarl, `src/config/algs/qmix.yaml`,
//! `src/learners/q_learner.py`), with MAST's corrections (Hu et al., NeurIPS 2024) and sparse `agent` and
//! `mixer` modules. One file per concept: [`agent_network`], [`mixer`], [`episode_buffer`], [`td_lambda`],
//! [`soft_mellowmax`], [`mast`], [`running_stats`], and the [`learner`] that ties them together.

pub mod agent_network;
pub mod episode_buffer;
pub mod learner;
pub mod mast;
pub mod mixer;
pub mod running_stats;
pub mod soft_mellowmax;
pub mod td_lambda;

use serde::{Deserialize, Serialize};

pub use learner::Qmix;
pub use mast::MastConfig;

use crate::checks::{batch_fits, positive_counts, positive_reals, unit_interval};

/// QMIX hyper-parameters (`[qmix]` table). Defaults are EPyMARL's QMIX config (`qmix.yaml` over
/// `default.yaml`); the last two keys are TD(λ) (pymarl2) and MAST, both off by default.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct QmixConfig {
    /// Adam learning rate (`lr`: 5e-4).
    pub learning_rate: f64,
    /// Adam's ε (torch's 1e-8).
    pub adam_eps: f64,
    pub gamma: f64,
    /// Episodes per batch (32).
    pub batch_size: usize,
    /// Episodes kept (5000).
    pub buffer_size: usize,
    pub epsilon_start: f64,
    pub epsilon_finish: f64,
    /// Env steps over which ε decays linearly (50k).
    pub epsilon_anneal_time: usize,
    /// ε of evaluation episodes (EPyMARL's `evaluation_epsilon`; 0: greedy).
    pub evaluation_epsilon: f64,
    /// Training episodes between hard target-network copies (200).
    pub target_update_interval: usize,
    /// τ of a soft target update `θ' ← τ θ + (1 − τ) θ'` after every training step, in place of the hard
    /// copies (EPyMARL's `target_update_interval_or_tau` when ≤ 1); 0 (the default): hard copies.
    pub target_update_tau: f64,
    /// Global gradient-norm clip (10).
    pub grad_norm_clip: f64,
    /// Next actions chosen by the online network, valued by the target network.
    pub double_q: bool,
    /// Rewards standardised by running statistics before the targets.
    pub standardise_rewards: bool,
    /// Hidden size of the agent network (64).
    pub hidden_dim: usize,
    /// GRU in the agent network (EPyMARL's QMIX: false, an MLP).
    pub use_rnn: bool,
    /// One-hot agent id in the agent input (true).
    pub obs_agent_id: bool,
    /// One-hot last action in the agent input (false).
    pub obs_last_action: bool,
    /// Mixing embedding (32).
    pub mixing_embed_dim: usize,
    /// Hypernetwork depth, 1 or 2 (2).
    pub hypernet_layers: usize,
    /// Hidden size of two-layer hypernetworks (64).
    pub hypernet_embed: usize,
    /// λ of TD(λ) targets; 0 = one-step targets (EPyMARL's QMIX).
    pub td_lambda: f64,
    /// MAST's corrections (`[qmix.mast]`).
    pub mast: MastConfig,
}

impl Default for QmixConfig {
    fn default() -> Self {
        Self {
            learning_rate: 5e-4,
            adam_eps: 1e-8,
            gamma: 0.99,
            batch_size: 32,
            buffer_size: 5000,
            epsilon_start: 1.0,
            epsilon_finish: 0.05,
            epsilon_anneal_time: 50_000,
            evaluation_epsilon: 0.0,
            target_update_interval: 200,
            target_update_tau: 0.0,
            grad_norm_clip: 10.0,
            double_q: true,
            standardise_rewards: true,
            hidden_dim: 64,
            use_rnn: false,
            obs_agent_id: true,
            obs_last_action: false,
            mixing_embed_dim: 32,
            hypernet_layers: 2,
            hypernet_embed: 64,
            td_lambda: 0.0,
            mast: MastConfig::default(),
        }
    }
}

impl QmixConfig {
    /// Checks the values serde cannot; the error names the key.
    pub fn validate(&self) -> Result<(), String> {
        positive_counts(&[
            ("batch_size", self.batch_size),
            ("buffer_size", self.buffer_size),
            ("target_update_interval", self.target_update_interval),
            ("hidden_dim", self.hidden_dim),
            ("mixing_embed_dim", self.mixing_embed_dim),
            ("hypernet_embed", self.hypernet_embed),
        ])?;
        unit_interval(&[
            ("gamma", self.gamma),
            ("epsilon_start", self.epsilon_start),
            ("epsilon_finish", self.epsilon_finish),
            ("evaluation_epsilon", self.evaluation_epsilon),
            ("target_update_tau", self.target_update_tau),
            ("td_lambda", self.td_lambda),
        ])?;
        positive_reals(&[
            ("learning_rate", self.learning_rate),
            ("adam_eps", self.adam_eps),
            ("grad_norm_clip", self.grad_norm_clip),
        ])?;
        if !matches!(self.hypernet_layers, 1 | 2) {
            return Err(format!(
                "hypernet_layers must be 1 or 2, got {}",
                self.hypernet_layers
            ));
        }
        batch_fits(self.batch_size, self.buffer_size)?;
        self.mast.validate()
    }

    /// ε at env step `step`: linear from `epsilon_start` to `epsilon_finish` over `epsilon_anneal_time`.
    pub fn epsilon(&self, step: usize) -> f64 {
        let progress = (step as f64 / self.epsilon_anneal_time.max(1) as f64).min(1.0);
        self.epsilon_start * (1.0 - progress) + self.epsilon_finish * progress
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_epymarls_and_validate() {
        let c = QmixConfig::default();
        assert!(c.validate().is_ok());
        assert_eq!(
            (c.epsilon(0), c.epsilon(25_000), c.epsilon(90_000)),
            (1.0, 0.525, 0.05)
        );
        let bad = QmixConfig {
            hypernet_layers: 3,
            ..QmixConfig::default()
        };
        assert!(bad.validate().unwrap_err().starts_with("hypernet_layers"));
    }
}
