//! Random pruning: a uniform score, so the removed set is a uniform sample of the active weights.
//!
//! Source: Nowak et al., "Fantastic Weights and How to Find Them: Where to Prune in Dynamic Sparse
//! Training", NeurIPS 2023; checked in alooow/fantastic_weights_paper, `sparselearning/pruners.py`.

use rand::Rng;

/// Score of one active weight (remove lowest).
pub fn score<R: Rng + ?Sized>(rng: &mut R) -> f32 {
    rng.random::<f32>()
}
