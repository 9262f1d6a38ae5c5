//! Plain-Rust kernel of a frozen DynaDiag layer: K diagonals stored as `K × D` values plus K offsets.
//!
//! Along a wrapped diagonal both the row and the column advance by one per element, except where the
//! offset side wraps around. Each diagonal is therefore split (once, at construction) into at most two
//! runs in which `y[r0 + j] += v[t0 + j] · x[c0 + j]`: contiguous loops the compiler vectorises
//! (docs/methods.md, "Kernel (ours)"). With feature-major activations the same holds for any batch size,
//! element `j` touching the contiguous block `[j · batch, (j + 1) · batch)`.

use super::{bias_or_zeros, fill_bias, InferenceLinear};
use crate::diagonal::{DiagonalLinear, DiagonalPattern, Phase};
use crate::error::DstError;
use burn::tensor::backend::Backend;

/// A contiguous stretch of one diagonal: elements `t0 .. t0 + len` at rows `r0 ..` and columns `c0 ..`.
#[derive(Clone, Copy, Debug, PartialEq)]
struct Run {
    value_start: usize,
    len: usize,
    row: usize,
    col: usize,
}

/// A frozen diagonal layer ready for inference.
#[derive(Clone, Debug, PartialEq)]
pub struct DiagonalInference {
    pattern: DiagonalPattern,
    /// Diagonal ids (offsets), K entries.
    pub offsets: Vec<usize>,
    /// Values `[K × D]` row-major, row k belonging to `offsets[k]`.
    pub values: Vec<f32>,
    /// Bias, `out_features` entries.
    pub bias: Vec<f32>,
    runs: Vec<Run>,
}

impl DiagonalInference {
    /// Build from a `[out × in]` geometry, distinct diagonal ids and their `[K × D]` values.
    pub fn new(
        out_features: usize,
        in_features: usize,
        offsets: Vec<usize>,
        values: Vec<f32>,
        bias: Option<&[f32]>,
    ) -> Result<Self, DstError> {
        let pattern = DiagonalPattern::new(out_features, in_features)?;
        pattern.check_diagonals(&offsets)?;
        let d = pattern.diagonal_len();
        if values.len() != offsets.len() * d {
            return Err(format!(
                "diagonal values have {} entries, expected K · D = {} · {d}",
                values.len(),
                offsets.len()
            )
            .into());
        }
        let runs = offsets
            .iter()
            .enumerate()
            .flat_map(|(k, &p)| runs_of(&pattern, k, p))
            .collect();
        Ok(Self {
            pattern,
            offsets,
            values,
            bias: bias_or_zeros(bias, out_features)?,
            runs,
        })
    }

    /// Export a frozen [`DiagonalLinear`].
    pub fn from_layer<B: Backend>(layer: &DiagonalLinear<B>) -> Result<Self, DstError> {
        if layer.phase() != Phase::Frozen {
            return Err("diagonal export: freeze the layer first (the soft phase is dense)".into());
        }
        let pattern = layer.pattern();
        let bias: Option<Vec<f32>> = layer
            .bias
            .as_ref()
            .map(|b| b.val().into_data().iter::<f32>().collect());
        Self::new(
            pattern.out_features(),
            pattern.in_features(),
            layer.selection(),
            layer.stored_values(),
            bias.as_deref(),
        )
    }

    /// The diagonal geometry.
    pub fn pattern(&self) -> DiagonalPattern {
        self.pattern
    }
}

/// Split diagonal `p` (row `k` of the values) where its offset side wraps.
fn runs_of(pattern: &DiagonalPattern, k: usize, p: usize) -> Vec<Run> {
    let d = pattern.diagonal_len();
    let wrap_at = if pattern.offsets_rows() {
        pattern.out_features()
    } else {
        pattern.in_features()
    };
    let first = d.min(wrap_at - p);
    let mut runs = vec![];
    for (t0, len) in [(0, first), (first, d - first)] {
        if len > 0 {
            let (row, col) = pattern.position(p, t0);
            runs.push(Run {
                value_start: k * d + t0,
                len,
                row,
                col,
            });
        }
    }
    runs
}

impl InferenceLinear for DiagonalInference {
    fn in_features(&self) -> usize {
        self.pattern.in_features()
    }

    fn out_features(&self) -> usize {
        self.pattern.out_features()
    }

    fn forward_feature_major(&self, x: &[f32], batch: usize, y: &mut [f32]) {
        fill_bias(&self.bias, batch, y);
        for run in &self.runs {
            let v = &self.values[run.value_start..run.value_start + run.len];
            let xs = &x[run.col * batch..(run.col + run.len) * batch];
            let ys = &mut y[run.row * batch..(run.row + run.len) * batch];
            if batch == 1 {
                for ((yi, xi), vi) in ys.iter_mut().zip(xs).zip(v) {
                    *yi += vi * xi;
                }
            } else {
                for ((y_block, x_block), &vi) in ys.chunks_exact_mut(batch).zip(xs.chunks_exact(batch)).zip(v)
                {
                    super::axpy(vi, x_block, y_block);
                }
            }
        }
    }
}
