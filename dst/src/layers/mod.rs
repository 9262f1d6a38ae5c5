//! Masked layers: a dense weight `W`, a binary mask `M` (a non-trainable `Param`, so it is saved with the
//! module) and the forward pass with `W ⊙ M`. Biases stay dense.

pub mod conv2d;
pub mod gru;
pub mod linear;

pub use conv2d::{MaskedConv2d, MaskedConv2dConfig};
pub use gru::{MaskedGruCell, MaskedGruCellConfig};
pub use linear::{MaskedLinear, MaskedLinearConfig};

use burn::tensor::backend::Backend;
use burn::tensor::Tensor;

/// The effective weight `W ⊙ M`: inactive weights receive exactly zero gradient.
pub(crate) fn masked<B: Backend, const D: usize>(weight: Tensor<B, D>, mask: Tensor<B, D>) -> Tensor<B, D> {
    weight * mask
}

/// The straight-through effective weight of docs/architecture.md ("burn 0.21"): its value is `W ⊙ M`, but the
/// gradient reaching `W` is the dense gradient of the effective weight (RigL's growth signal), because
/// `W − detach(W)` is zero in value and the identity in the backward pass.
pub(crate) fn straight_through<B: Backend, const D: usize>(
    weight: Tensor<B, D>,
    mask: Tensor<B, D>,
) -> Tensor<B, D> {
    let inactive = mask.ones_like() - mask.clone();
    weight.clone() * mask + (weight.clone() - weight.detach()) * inactive
}
