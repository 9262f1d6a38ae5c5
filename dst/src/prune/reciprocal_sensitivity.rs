//! Reciprocal sensitivity pruning: |w| / (|g| + ε), ε = 1e-8 (`reciprocal_sensitivity_fixed_pruning`).
//!
//! Source: Nowak et al., "Fantastic Weights and How to Find Them: Where to Prune in Dynamic Sparse
//! Training", NeurIPS 2023; checked in alooow/fantastic_weights_paper, `sparselearning/pruners.py`.

/// Score of one active weight (remove lowest).
pub fn score(w: f32, g: f32) -> f32 {
    w.abs() / (g.abs() + super::sensitivity::EPS)
}
