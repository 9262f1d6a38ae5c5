//! DynaDiag's training schedule for a module of diagonal layers (Tyagi et al., "Dynamic Sparse Training of
//! Diagonally Sparse Networks", ICML 2025; docs/methods.md, "Diagonal structured sparsity").
//!
//! The layers themselves ([`DiagonalLinear`]) hold the soft and frozen phases and the diagonal-level prune
//! and regrow; this schedule says which applies at each gradient step: the soft-selection temperature
//! anneals by a cosine from 5.0 to 0.05 until `anneal_end` of training, the top-K diagonals then freeze,
//! and a `sparse-to-sparse` module drops and regrows diagonals every `update_interval` steps until
//! `update_end`, with the policy's drop fraction and schedule.

use serde::{Deserialize, Serialize};

use super::{DiagonalLinear, DiagonalRegrow, Phase, TemperatureSchedule};
use crate::grow::GrowCriterion;
use crate::policy::{DropSchedule, PolicyKind, SparsityPolicy};
use crate::{MomentMask, ParamLayout};

/// When a module's diagonal layers anneal, freeze and evolve, in gradient steps.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DiagonalSchedule {
    /// Soft phase length; the layers freeze at this step.
    anneal_updates: u64,
    /// Whether frozen layers drop and regrow diagonals (`sparse-to-sparse`) or stay fixed (`static`).
    evolve: bool,
    interval: u64,
    /// Last step with a drop-and-regrow.
    end_update: u64,
    drop_fraction: f64,
    cosine: bool,
    /// Regrow at random (`grow = "random"`) rather than by frozen diagonal score.
    random_regrow: bool,
}

/// What one step did to a module's diagonal layers.
#[derive(Debug, Default)]
pub struct DiagonalStep {
    /// Optimizer moments to keep (per layer's value matrix): set at freezing and at drop-and-regrow.
    pub moments: Vec<MomentMask>,
    /// Diagonals replaced over diagonals stored, when the step dropped and regrew.
    pub topology_change: Option<f64>,
}

impl DiagonalSchedule {
    /// The schedule of `policy` (validated for `structure = "diagonal"`) over `total_updates` steps.
    pub fn new(policy: &SparsityPolicy, total_updates: usize) -> Self {
        let at = |fraction: f64| (fraction * total_updates as f64).round() as u64;
        Self {
            anneal_updates: at(policy.anneal_end).max(1),
            evolve: policy.kind == PolicyKind::SparseToSparse,
            interval: policy.update_interval,
            end_update: at(policy.update_end),
            drop_fraction: policy.drop_fraction,
            cosine: policy.drop_schedule == DropSchedule::Cosine,
            random_regrow: policy.grow == GrowCriterion::Random,
        }
    }

    /// Fraction of training spent in the soft phase (dense compute), for FLOP counts.
    pub fn soft_fraction(&self, total_updates: usize) -> f64 {
        (self.anneal_updates as f64 / total_updates.max(1) as f64).min(1.0)
    }

    /// The phase of gradient step `update`.
    pub fn phase(&self, update: u64) -> Phase {
        TemperatureSchedule::paper(self.anneal_updates).phase_at(update)
    }

    /// The drop fraction if `update` is a drop-and-regrow step: every `interval` steps after freezing,
    /// up to `end_update`, cosine-decayed from `drop_fraction` to 0 over that span (RigL's schedule).
    pub fn drop_at(&self, update: u64) -> Option<f64> {
        let since = update.checked_sub(self.anneal_updates)?;
        if !self.evolve || since == 0 || update > self.end_update || !since.is_multiple_of(self.interval) {
            return None;
        }
        let span = self.end_update.saturating_sub(self.anneal_updates).max(1) as f64;
        let decay = if self.cosine {
            crate::schedule::cosine_decay(since as f64 / span)
        } else {
            1.0
        };
        Some(self.drop_fraction * decay)
    }

    /// Moves `layer` to the phase of `update` and drops and regrows its diagonals when due. Moments are
    /// kept only for diagonals stored before and after (a dropped or regrown diagonal starts from zero
    /// value and fresh moments, as RigL's grown weights).
    pub fn step<B: burn::tensor::backend::Backend>(
        &self,
        update: u64,
        layer: DiagonalLinear<B>,
        out: &mut DiagonalStep,
        changed: &mut (usize, usize),
        rng: &mut impl rand::Rng,
    ) -> Result<DiagonalLinear<B>, String> {
        let was_frozen = layer.phase() == Phase::Frozen;
        let mut layer = layer.enter(self.phase(update))?;
        let mut grown = Vec::new();
        if layer.phase() == Phase::Frozen {
            if let Some(fraction) = self.drop_at(update) {
                let regrow = if self.random_regrow {
                    DiagonalRegrow::Random
                } else {
                    DiagonalRegrow::Score
                };
                let (evolved, update) = layer.prune_and_regrow(fraction, regrow, rng)?;
                layer = evolved;
                changed.0 += update.grown.len();
                changed.1 += layer.num_active();
                grown = update.grown;
            }
            if !was_frozen || !grown.is_empty() {
                out.moments.push(moment_mask(&layer, &grown));
            }
        }
        Ok(layer)
    }
}

/// Keep the moments of the stored diagonals that were not just grown.
fn moment_mask<B: burn::tensor::backend::Backend>(layer: &DiagonalLinear<B>, grown: &[usize]) -> MomentMask {
    let pattern = layer.pattern();
    let d = pattern.diagonal_len();
    let mut keep = layer.values_mask();
    for &p in grown {
        keep[p * d..(p + 1) * d].fill(false);
    }
    MomentMask {
        id: layer.values.id,
        layout: ParamLayout::RowMajor {
            dims: vec![pattern.num_diagonals(), d],
        },
        keep,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn schedule(kind: PolicyKind) -> DiagonalSchedule {
        let policy = SparsityPolicy {
            kind,
            update_interval: 100,
            ..SparsityPolicy::default()
        };
        DiagonalSchedule::new(&policy, 1000)
    }

    #[test]
    fn anneals_then_freezes_at_anneal_end() {
        let s = schedule(PolicyKind::SparseToSparse);
        let Phase::Soft { temperature: t0 } = s.phase(0) else {
            panic!("soft at the start")
        };
        let Phase::Soft { temperature: t1 } = s.phase(299) else {
            panic!("still soft before anneal_end = 0.3")
        };
        assert!((t0 - 5.0).abs() < 1e-6 && t1 < 0.06, "{t0} {t1}");
        assert_eq!(s.phase(300), Phase::Frozen);
    }

    #[test]
    fn drops_every_interval_after_freezing_until_update_end() {
        let s = schedule(PolicyKind::SparseToSparse);
        let steps: Vec<u64> = (0..=1000).filter(|&u| s.drop_at(u).is_some()).collect();
        assert_eq!(steps, vec![400, 500, 600, 700]);
        let (first, last) = (s.drop_at(400).unwrap(), s.drop_at(700).unwrap());
        assert!(first < 0.1 && first > last && last >= 0.0, "{first} {last}");
        assert!(schedule(PolicyKind::Static).drop_at(400).is_none());
    }
}
