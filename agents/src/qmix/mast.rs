//! MAST's value-learning corrections (Hu et al., "Value-Based Deep Multi-Agent RL with Dynamic Sparse
//! Training", NeurIPS 2024, arXiv 2409.19391; no public code), each switchable on its own so that the
//! ablation runs from the config alone. The sparse networks themselves are the `agent` and `mixer` module
//! policies (RigL-style topology updates) of the `[sparsity]` table.
//!
//! - Hybrid TD(λ) target ("the Soft Mellowmax Operator with a hybrid TD(λ) schema", abstract): the schema
//!   is not published in code; the same group's RLx2 switches from 1-step to multi-step targets after a
//!   delay (`nstep if step >= delay_nstep else 1`). Our reading: 1-step targets before env step T₀, TD(λ)
//!   after ([`MastConfig::lambda_at`]).
//! - Soft Mellowmax ([`super::soft_mellowmax`]) in place of the max over next actions in the target.
//! - Dual replay: a small buffer of the most recent episodes and the large one, each batch mixing both in a
//!   fixed ratio ([`super::episode_buffer::Sampler::Hybrid`]). Sizes and ratio are not published: the
//!   defaults below are ours.

use serde::{Deserialize, Serialize};

use super::episode_buffer::Sampler;
use crate::checks::{positive_counts, positive_reals, unit_interval};

/// The `[qmix.mast]` table; every correction is off by default (plain QMIX).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MastConfig {
    /// Hybrid TD(λ): 1-step targets before `hybrid_switch_step`, TD(`lambda`) after.
    pub hybrid_target: bool,
    /// T₀, in env steps (ours: 100k, a tenth of a 1M-step run).
    pub hybrid_switch_step: usize,
    /// λ after T₀ (0.6 as pymarl2's TD(λ)).
    pub lambda: f64,
    /// Soft Mellowmax over next actions in the target instead of the (double-Q) max.
    pub soft_mellowmax: bool,
    /// ω of Soft Mellowmax (MAST: 5 or 10).
    pub omega: f64,
    /// α of Soft Mellowmax's softmax weights (not given by MAST; ours: 1; 0 gives mellowmax).
    pub alpha: f64,
    /// Dual replay: part of each batch from the most recent episodes.
    pub dual_replay: bool,
    /// Episodes in the small (recent) buffer (ours: 200, one target-update period).
    pub recent_capacity: usize,
    /// Share of each batch drawn from the small buffer (ours: 0.5).
    pub recent_fraction: f64,
}

impl Default for MastConfig {
    fn default() -> Self {
        Self {
            hybrid_target: false,
            hybrid_switch_step: 100_000,
            lambda: 0.6,
            soft_mellowmax: false,
            omega: 10.0,
            alpha: 1.0,
            dual_replay: false,
            recent_capacity: 200,
            recent_fraction: 0.5,
        }
    }
}

impl MastConfig {
    /// Every correction on, with the defaults above.
    pub fn all() -> Self {
        Self {
            hybrid_target: true,
            soft_mellowmax: true,
            dual_replay: true,
            ..Self::default()
        }
    }

    /// Checks the values serde cannot; the error names the key (relative to `qmix.`).
    pub fn validate(&self) -> Result<(), String> {
        let prefixed = |e: String| format!("mast.{e}");
        unit_interval(&[("lambda", self.lambda), ("recent_fraction", self.recent_fraction)])
            .map_err(prefixed)?;
        positive_reals(&[("omega", self.omega)]).map_err(prefixed)?;
        positive_counts(&[("recent_capacity", self.recent_capacity)]).map_err(prefixed)?;
        if !(self.alpha.is_finite() && self.alpha >= 0.0) {
            return Err(format!(
                "mast.alpha must be a finite number >= 0, got {}",
                self.alpha
            ));
        }
        Ok(())
    }

    /// λ of the target at env step `step`: the hybrid schema when on, else QMIX's own `td_lambda`.
    pub fn lambda_at(&self, step: usize, td_lambda: f64) -> f64 {
        match (self.hybrid_target, step < self.hybrid_switch_step) {
            (true, true) => 0.0,
            (true, false) => self.lambda,
            (false, _) => td_lambda,
        }
    }

    /// How batches are drawn.
    pub fn sampler(&self) -> Sampler {
        if self.dual_replay {
            Sampler::Hybrid {
                recent: self.recent_capacity,
                recent_fraction: self.recent_fraction,
            }
        } else {
            Sampler::Uniform
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_correction_switches_on_its_own() {
        let off = MastConfig::default();
        assert_eq!((off.lambda_at(0, 0.3), off.sampler()), (0.3, Sampler::Uniform));
        let hybrid = MastConfig {
            hybrid_target: true,
            hybrid_switch_step: 500,
            ..MastConfig::default()
        };
        assert_eq!(
            (hybrid.lambda_at(499, 0.3), hybrid.lambda_at(500, 0.3)),
            (0.0, 0.6)
        );
        assert_eq!(hybrid.sampler(), Sampler::Uniform);
        let dual = MastConfig {
            dual_replay: true,
            ..MastConfig::default()
        };
        assert_eq!(dual.lambda_at(0, 0.0), 0.0);
        assert!(matches!(dual.sampler(), Sampler::Hybrid { recent: 200, .. }));
    }

    #[test]
    fn bad_values_name_their_key() {
        let bad = MastConfig {
            recent_fraction: 1.5,
            ..MastConfig::all()
        };
        assert!(bad
            .validate()
            .unwrap_err()
            .to_string()
            .contains("mast.recent_fraction"));
        let bad = MastConfig {
            omega: 0.0,
            ..MastConfig::all()
        };
        assert!(bad.validate().unwrap_err().to_string().contains("mast.omega"));
        assert!(MastConfig::all().validate().is_ok());
    }
}
