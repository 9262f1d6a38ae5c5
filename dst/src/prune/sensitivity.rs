//! Sensitivity pruning: |g| / (|w| + ε), ε = 1e-8 (`sensitivity_pruning`; its "+1" only separates active
//! from inactive entries, which this engine never mixes).
//!
//! Source: Nowak et al., "Fantastic Weights and How to Find Them: Where to Prune in Dynamic Sparse
//! Training", NeurIPS 2023; checked in alooow/fantastic_weights_paper, `sparselearning/pruners.py`.

/// ε of the reference code.
pub const EPS: f32 = 1e-8;

/// Score of one active weight (remove lowest).
pub fn score(w: f32, g: f32) -> f32 {
    g.abs() / (w.abs() + EPS)
}
