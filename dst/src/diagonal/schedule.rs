//! DynaDiag's temperature anneal: a cosine from 5.0 to 0.05 over the soft phase, then freeze.
//!
//! The authors' `TemperatureScheduler` (horizon-research/DynaDiag, `MLP/mlp.py`, scheme `cosine`) computes
//! `T = T_min + ½ (T_max − T_min)(1 + cos(π · progress))`; the paper anneals 5.0 → 0.05 over the first
//! part of training (their example: 30 of 100 epochs) and then freezes the top-K diagonals. Here the
//! progress is counted in gradient steps.

use super::phase::Phase;

/// Cosine temperature anneal followed by the frozen phase.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct TemperatureSchedule {
    /// Temperature at step 0.
    pub start: f32,
    /// Temperature at the end of the anneal.
    pub end: f32,
    /// Steps of the soft phase; the layer freezes at this step.
    pub anneal_steps: u64,
}

impl TemperatureSchedule {
    /// The paper's anneal 5.0 → 0.05 over `anneal_steps` steps.
    pub fn paper(anneal_steps: u64) -> Self {
        Self {
            start: 5.0,
            end: 0.05,
            anneal_steps,
        }
    }

    /// The phase at a step: soft with the cosine temperature before `anneal_steps`, frozen from then on.
    pub fn phase_at(&self, step: u64) -> Phase {
        if step >= self.anneal_steps {
            return Phase::Frozen;
        }
        let progress = step as f64 / self.anneal_steps as f64;
        let cosine = crate::schedule::cosine_decay(progress);
        let temperature = self.end as f64 + (self.start as f64 - self.end as f64) * cosine;
        Phase::Soft {
            temperature: temperature as f32,
        }
    }
}
