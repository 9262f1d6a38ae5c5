//! Plain-Rust inference of trained (sparse) MLPs: no burn, no allocation in the hot path.
//!
//! A trained layer is exported to [`DenseLinear`] (the reference), [`CsrLinear`] (unstructured masks) or
//! [`DiagonalInference`] (a frozen DynaDiag layer), and a [`SparseMlp`] chains them with activations.
//! Kernels work on feature-major activations (`x[feature · batch + b]`): with batch 1 that is the plain
//! vector, and with batch B every weight touches a contiguous run of B values, which the compiler
//! vectorises. Buffers come from the caller ([`MlpBuffers`]), sized once for the largest batch.
//!
//! A [`Policy`] adds what turns observations into the network's input and its outputs into actions; it is
//! what `sparse-rl export` writes (`policy_file.rs`, docs/policy_format.md) and what acts from the file.

mod csr;
mod dense;
mod diagonal;
mod mlp;
mod policy;
mod policy_file;

pub use csr::CsrLinear;
pub use dense::DenseLinear;
pub use diagonal::DiagonalInference;
pub use mlp::{Activation, InferenceLayer, MlpBuffers, SparseMlp};
pub use policy::{
    masked_layer, masked_layer_from_burn, mlp_activation, Policy, PolicyAction, PolicyInput, PolicyOutput,
    PolicyScratch, CSR_MAX_DENSITY,
};
pub use policy_file::{MAGIC, VERSION};

use crate::error::DstError;
use burn::tensor::backend::Backend;
use burn::tensor::Tensor;

/// A linear map on feature-major activations.
pub trait InferenceLinear {
    /// Input features.
    fn in_features(&self) -> usize;
    /// Output features.
    fn out_features(&self) -> usize;
    /// `y[r · batch + b] = bias[r] + Σ_c W[r, c] · x[c · batch + b]`, with `x.len() = in · batch` and
    /// `y.len() = out · batch` (checked by the caller, [`SparseMlp::forward`]).
    fn forward_feature_major(&self, x: &[f32], batch: usize, y: &mut [f32]);
}

/// Check a bias length, or make a zero bias.
fn bias_or_zeros(bias: Option<&[f32]>, out_features: usize) -> Result<Vec<f32>, DstError> {
    match bias {
        Some(b) if b.len() != out_features => Err(format!(
            "bias has {} entries, expected out_features = {out_features}",
            b.len()
        )
        .into()),
        Some(b) => Ok(b.to_vec()),
        None => Ok(vec![0.0; out_features]),
    }
}

/// Fill every output row with its bias: `y[r · batch .. (r + 1) · batch] = bias[r]`.
fn fill_bias(bias: &[f32], batch: usize, y: &mut [f32]) {
    for (row, &b) in y.chunks_exact_mut(batch).zip(bias) {
        row.fill(b);
    }
}

/// `y += a · x`, elementwise over equal-length slices (vectorised by the compiler).
#[inline(always)]
pub(crate) fn axpy(a: f32, x: &[f32], y: &mut [f32]) {
    for (yi, xi) in y.iter_mut().zip(x) {
        *yi += a * xi;
    }
}

/// A masked burn layer read to the host: row-major `[rows × cols]` weight and mask (rows = outputs).
struct HostMasked {
    rows: usize,
    cols: usize,
    weight: Vec<f32>,
    mask: Vec<bool>,
    bias: Option<Vec<f32>>,
}

impl HostMasked {
    /// From burn's Linear layout: `weight` and `mask` `[d_in, d_out]` (mask entries ≠ 0 are active),
    /// `bias [d_out]`.
    fn from_burn<B: Backend>(
        weight: Tensor<B, 2>,
        mask: Tensor<B, 2>,
        bias: Option<Tensor<B, 1>>,
    ) -> Result<Self, DstError> {
        if weight.dims() != mask.dims() {
            return Err(format!(
                "export: weight {:?} and mask {:?} differ in shape",
                weight.dims(),
                mask.dims()
            )
            .into());
        }
        let (rows, cols, weight) = burn_weight_to_row_major(weight);
        let (_, _, mask) = burn_weight_to_row_major(mask);
        Ok(Self {
            rows,
            cols,
            weight,
            mask: mask.iter().map(|&m| m != 0.0).collect(),
            bias: bias.map(|b| b.into_data().iter::<f32>().collect()),
        })
    }
}

/// Read a burn weight in burn's Linear layout `[d_in, d_out]` into a row-major `[d_out × d_in]` host array.
fn burn_weight_to_row_major<B: Backend>(weight: Tensor<B, 2>) -> (usize, usize, Vec<f32>) {
    let [d_in, d_out] = weight.dims();
    let host: Vec<f32> = weight.transpose().into_data().iter::<f32>().collect();
    (d_out, d_in, host)
}
