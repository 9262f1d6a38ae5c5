//! Random growth (SET: Mocanu et al., "Scalable training of artificial neural networks with adaptive
//! sparse connectivity inspired by network science", Nature Communications 2018): every inactive
//! connection has the same score, so the top-k's random tie-break draws them uniformly.

use crate::topology::LayerTopology;

/// All-zero scores.
pub fn scores(layer: &LayerTopology) -> Vec<f32> {
    vec![0.0; layer.mask.len()]
}
