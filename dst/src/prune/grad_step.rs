//! Grad-step pruning: the magnitude after one SGD step, |w − γ g|, γ = 1 (`grad_step_pruning_fixed`).
//!
//! Source: Nowak et al., "Fantastic Weights and How to Find Them: Where to Prune in Dynamic Sparse
//! Training", NeurIPS 2023; checked in alooow/fantastic_weights_paper, `sparselearning/pruners.py`.

/// γ of the reference code.
pub const GAMMA: f32 = 1.0;

/// Score of one active weight (remove lowest).
pub fn score(w: f32, g: f32) -> f32 {
    (w - GAMMA * g).abs()
}
