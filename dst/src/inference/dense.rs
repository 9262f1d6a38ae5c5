//! Dense reference layer in plain Rust.

use super::{axpy, bias_or_zeros, burn_weight_to_row_major, fill_bias, InferenceLinear};
use crate::error::DstError;
use burn::tensor::backend::Backend;
use burn::tensor::Tensor;

/// Dense `[out × in]` layer, row-major weight.
#[derive(Clone, Debug, PartialEq)]
pub struct DenseLinear {
    rows: usize,
    cols: usize,
    weight: Vec<f32>,
    bias: Vec<f32>,
}

impl DenseLinear {
    /// From a row-major `[rows × cols]` weight (rows = out features) and an optional bias.
    pub fn new(rows: usize, cols: usize, weight: Vec<f32>, bias: Option<&[f32]>) -> Result<Self, DstError> {
        if weight.len() != rows * cols {
            return Err(format!(
                "dense weight has {} entries, expected rows · cols = {rows} · {cols}",
                weight.len()
            )
            .into());
        }
        Ok(Self {
            rows,
            cols,
            weight,
            bias: bias_or_zeros(bias, rows)?,
        })
    }

    /// The row-major `[out × in]` weight.
    pub fn weight(&self) -> &[f32] {
        &self.weight
    }

    /// The bias, one entry per output.
    pub fn bias(&self) -> &[f32] {
        &self.bias
    }

    /// From burn tensors in burn's Linear layout (`weight [d_in, d_out]`, `bias [d_out]`).
    pub fn from_burn<B: Backend>(weight: Tensor<B, 2>, bias: Option<Tensor<B, 1>>) -> Result<Self, DstError> {
        let (rows, cols, weight) = burn_weight_to_row_major(weight);
        let bias: Option<Vec<f32>> = bias.map(|b| b.into_data().iter::<f32>().collect());
        Self::new(rows, cols, weight, bias.as_deref())
    }
}

impl InferenceLinear for DenseLinear {
    fn in_features(&self) -> usize {
        self.cols
    }

    fn out_features(&self) -> usize {
        self.rows
    }

    fn forward_feature_major(&self, x: &[f32], batch: usize, y: &mut [f32]) {
        if batch == 1 {
            for ((out, w_row), b) in y
                .iter_mut()
                .zip(self.weight.chunks_exact(self.cols))
                .zip(&self.bias)
            {
                *out = b + dot(w_row, x);
            }
            return;
        }
        fill_bias(&self.bias, batch, y);
        for (out_row, w_row) in y.chunks_exact_mut(batch).zip(self.weight.chunks_exact(self.cols)) {
            for (&w, x_row) in w_row.iter().zip(x.chunks_exact(batch)) {
                axpy(w, x_row, out_row);
            }
        }
    }
}

/// Dot product with 8 independent accumulators, so the compiler can vectorise without reassociating.
fn dot(a: &[f32], b: &[f32]) -> f32 {
    let mut acc = [0.0f32; 8];
    let (a_chunks, b_chunks) = (a.chunks_exact(8), b.chunks_exact(8));
    let tail: f32 = a_chunks
        .remainder()
        .iter()
        .zip(b_chunks.remainder())
        .map(|(x, y)| x * y)
        .sum();
    for (ca, cb) in a_chunks.zip(b_chunks) {
        for i in 0..8 {
            acc[i] += ca[i] * cb[i];
        }
    }
    acc.iter().sum::<f32>() + tail
}
