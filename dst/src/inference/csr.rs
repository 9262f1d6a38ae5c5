//! Compressed sparse row (CSR) export of an unstructured sparse layer.

use super::{axpy, bias_or_zeros, burn_weight_to_row_major, fill_bias, InferenceLinear};
use crate::error::DstError;
use burn::tensor::backend::Backend;
use burn::tensor::Tensor;

/// A sparse `[rows × cols]` layer in CSR form: the active weights of row `r` are
/// `values[indptr[r]..indptr[r + 1]]` at columns `indices[..]` (ascending).
#[derive(Clone, Debug, PartialEq)]
pub struct CsrLinear {
    /// Output features.
    pub rows: usize,
    /// Input features.
    pub cols: usize,
    /// Row starts, `rows + 1` entries.
    pub indptr: Vec<u32>,
    /// Column of every stored weight.
    pub indices: Vec<u32>,
    /// Stored weights.
    pub values: Vec<f32>,
    /// Bias, `rows` entries.
    pub bias: Vec<f32>,
}

impl CsrLinear {
    /// Export the active weights (mask true, whatever their value) of a row-major `[rows × cols]` weight.
    pub fn from_dense(
        rows: usize,
        cols: usize,
        weight: &[f32],
        mask: &[bool],
        bias: Option<&[f32]>,
    ) -> Result<Self, DstError> {
        if weight.len() != rows * cols || mask.len() != rows * cols {
            return Err(format!(
                "CSR export: weight has {} and mask {} entries, expected rows · cols = {rows} · {cols}",
                weight.len(),
                mask.len()
            )
            .into());
        }
        if cols > u32::MAX as usize || rows * cols > u32::MAX as usize {
            return Err(format!("CSR export: {rows} × {cols} does not fit u32 indices").into());
        }
        let mut indptr = Vec::with_capacity(rows + 1);
        let (mut indices, mut values) = (Vec::new(), Vec::new());
        indptr.push(0);
        for r in 0..rows {
            for c in 0..cols {
                if mask[r * cols + c] {
                    indices.push(c as u32);
                    values.push(weight[r * cols + c]);
                }
            }
            indptr.push(values.len() as u32);
        }
        Ok(Self {
            rows,
            cols,
            indptr,
            indices,
            values,
            bias: bias_or_zeros(bias, rows)?,
        })
    }

    /// From stored parts (a file's), checking that they form a CSR matrix: `rows + 1` non-decreasing row
    /// starts from 0 to `nnz`, ascending columns below `cols` in each row, `rows` biases.
    pub fn from_parts(
        rows: usize,
        cols: usize,
        indptr: Vec<u32>,
        indices: Vec<u32>,
        values: Vec<f32>,
        bias: Vec<f32>,
    ) -> Result<Self, DstError> {
        let nnz = values.len();
        if indptr.len() != rows + 1 || indptr[0] != 0 || indptr[rows] as usize != nnz || indices.len() != nnz
        {
            return Err(format!(
                "CSR: {} row starts ending at {:?} for {rows} rows and {nnz} values with {} columns",
                indptr.len(),
                indptr.last(),
                indices.len()
            )
            .into());
        }
        for (r, w) in indptr.windows(2).enumerate() {
            if w[0] > w[1] {
                return Err(format!("CSR: row {r} starts at {} after its end {}", w[0], w[1]).into());
            }
            let row = &indices[w[0] as usize..w[1] as usize];
            if let Some(&c) = row.iter().find(|&&c| c as usize >= cols) {
                return Err(format!("CSR: row {r} has column {c}, beyond {cols} columns").into());
            }
            if row.windows(2).any(|p| p[0] >= p[1]) {
                return Err(format!("CSR: row {r}'s columns are not ascending").into());
            }
        }
        if bias.len() != rows {
            return Err(format!("CSR: {} biases for {rows} rows", bias.len()).into());
        }
        Ok(Self {
            rows,
            cols,
            indptr,
            indices,
            values,
            bias,
        })
    }

    /// Export a masked burn layer in burn's Linear layout: `weight` and `mask` `[d_in, d_out]` (mask
    /// entries ≠ 0 are active), `bias [d_out]`.
    pub fn from_burn<B: Backend>(
        weight: Tensor<B, 2>,
        mask: Tensor<B, 2>,
        bias: Option<Tensor<B, 1>>,
    ) -> Result<Self, DstError> {
        if weight.dims() != mask.dims() {
            return Err(format!(
                "CSR export: weight {:?} and mask {:?} differ in shape",
                weight.dims(),
                mask.dims()
            )
            .into());
        }
        let (rows, cols, weight) = burn_weight_to_row_major(weight);
        let (_, _, mask) = burn_weight_to_row_major(mask);
        let mask: Vec<bool> = mask.iter().map(|&m| m != 0.0).collect();
        let bias: Option<Vec<f32>> = bias.map(|b| b.into_data().iter::<f32>().collect());
        Self::from_dense(rows, cols, &weight, &mask, bias.as_deref())
    }

    /// Number of stored weights.
    pub fn nnz(&self) -> usize {
        self.values.len()
    }
}

impl InferenceLinear for CsrLinear {
    fn in_features(&self) -> usize {
        self.cols
    }

    fn out_features(&self) -> usize {
        self.rows
    }

    fn forward_feature_major(&self, x: &[f32], batch: usize, y: &mut [f32]) {
        let rows = self.indptr.windows(2).map(|w| w[0] as usize..w[1] as usize);
        if batch == 1 {
            for ((out, range), b) in y.iter_mut().zip(rows).zip(&self.bias) {
                *out = b + gather_dot(&self.values[range.clone()], &self.indices[range], x);
            }
            return;
        }
        fill_bias(&self.bias, batch, y);
        for (out_row, range) in y.chunks_exact_mut(batch).zip(rows) {
            for (&w, &c) in self.values[range.clone()].iter().zip(&self.indices[range]) {
                let c = c as usize;
                axpy(w, &x[c * batch..(c + 1) * batch], out_row);
            }
        }
    }
}

/// `Σ_k values[k] · x[indices[k]]` with four accumulators to shorten the dependency chain.
fn gather_dot(values: &[f32], indices: &[u32], x: &[f32]) -> f32 {
    let mut acc = [0.0f32; 4];
    let (v_chunks, i_chunks) = (values.chunks_exact(4), indices.chunks_exact(4));
    let tail: f32 = v_chunks
        .remainder()
        .iter()
        .zip(i_chunks.remainder())
        .map(|(v, &i)| v * x[i as usize])
        .sum();
    for (v, i) in v_chunks.zip(i_chunks) {
        for j in 0..4 {
            acc[j] += v[j] * x[i[j] as usize];
        }
    }
    acc.iter().sum::<f32>() + tail
}
