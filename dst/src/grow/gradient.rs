//! Gradient growth (RigL: Evci et al., "Rigging the Lottery: Making All Tickets Winners", ICML 2020):
//! the largest |∂L/∂(W ⊙ M)| among inactive connections on the current batch. The dense gradient comes
//! from the layer's `forward_dense_grad` at update steps (docs/architecture.md, "burn 0.21").

use crate::error::DstError;
use crate::topology::LayerTopology;

/// |g| of every entry.
pub fn scores(layer: &LayerTopology) -> Result<Vec<f32>, DstError> {
    let g = layer.grad.as_ref().ok_or_else(|| {
        DstError::new(format!(
            "grow = \"gradient\" needs the dense gradient of layer `{}` (use forward_dense_grad)",
            layer.name
        ))
    })?;
    Ok(g.iter().map(|g| g.abs()).collect())
}
