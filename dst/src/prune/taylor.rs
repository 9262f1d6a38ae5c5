//! First-order Taylor pruning (Molchanov et al. 2019): (w · g)², `taylor_FO` in the reference.
//!
//! Source: Nowak et al., "Fantastic Weights and How to Find Them: Where to Prune in Dynamic Sparse
//! Training", NeurIPS 2023; checked in alooow/fantastic_weights_paper, `sparselearning/pruners.py`.

/// Score of one active weight (remove lowest).
pub fn score(w: f32, g: f32) -> f32 {
    (w * g).powi(2)
}
