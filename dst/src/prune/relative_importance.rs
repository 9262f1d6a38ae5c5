//! CHT's relative importance `ri` (Zhang et al., "Epitopological learning and Cannistraci-Hebb network
//! shape intelligence brain-inspired theory for ultra-sparse advantage in deep learning", ICLR 2024;
//! biomedical-cybernetics/Cannistraci-Hebb-training `mlp_and_cnn/dst_scheduler.py`):
//! ri_ij = |w_ij| / Σ_k(|w_kj| + 1e-5) + |w_ij| / Σ_k(|w_ik| + 1e-5), the weight normalised by its input
//! node's total (column j) and its output node's total (row i), over active links.

use crate::topology::LayerTopology;

/// The additive constant of the reference.
const EPS: f32 = 1e-5;

/// `ri` for every entry of the layer (0 for inactive entries).
pub fn scores(layer: &LayerTopology) -> Vec<f32> {
    let cols = layer.cols();
    let mut row_sum = vec![0f32; layer.rows()];
    let mut col_sum = vec![0f32; cols];
    for (i, w) in layer.weight.iter().enumerate().filter(|&(i, _)| layer.mask[i]) {
        row_sum[i / cols] += w.abs() + EPS;
        col_sum[i % cols] += w.abs() + EPS;
    }
    let score = |(i, w): (usize, &f32)| {
        if layer.mask[i] {
            w.abs() / col_sum[i % cols] + w.abs() / row_sum[i / cols]
        } else {
            0.0
        }
    };
    layer.weight.iter().enumerate().map(score).collect()
}
