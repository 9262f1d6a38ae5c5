//! Compressed sparse row (CSR) export of an unstructured sparse layer.

use super::{axpy, bias_or_zeros, fill_bias, HostMasked, InferenceLinear};
use crate::error::DstError;
use burn::tensor::backend::Backend;
use burn::tensor::Tensor;

/// A sparse `[rows × cols]` layer in CSR form: the active weights of row `r` are
/// `values[indptr[r]..indptr[r + 1]]` at columns `indices[..]` (ascending). The fields are private to the
/// crate: the batch-1 kernel reads inputs without bounds checks, so only the checking constructors make one.
/// Beside the CSR arrays (what a policy file stores) it keeps the same weights [`Sliced`] for batch 1.
#[derive(Clone, Debug, PartialEq)]
pub struct CsrLinear {
    /// Output features.
    pub(crate) rows: usize,
    /// Input features.
    pub(crate) cols: usize,
    /// Row starts, `rows + 1` entries.
    pub(crate) indptr: Vec<u32>,
    /// Column of every stored weight.
    pub(crate) indices: Vec<u32>,
    /// Stored weights.
    pub(crate) values: Vec<f32>,
    /// Bias, `rows` entries.
    pub(crate) bias: Vec<f32>,
    /// The weights again, eight rows at a time, for the batch-1 kernel (derived from the CSR arrays).
    by_slices: Sliced,
}

/// Rows in a slice of [`Sliced`]: one AVX register of `f32`.
const SLICE: usize = 8;

/// The weights in sliced ELLPACK form (SELL-8-σ): the rows sorted by their number of weights, longest
/// first, then in slices of eight, each slice padded to its longest row and stored column by column:
/// entry `j` of the slice's eight rows side by side, a padding entry being weight 0 at column 0. Sorting
/// keeps the padding to the few rows where the lengths step down (unsorted, a random 10%-dense 256-wide
/// layer pads about a quarter). A batch-1 product then runs eight rows at once, a step (an entry of
/// each) being eight input loads and one FMA, and stores eight outputs without the horizontal sum per row
/// that CSR's rows need (at density 0.1 a 256-wide row holds about 26 weights, so that sum is a large
/// share of a row's work).
#[derive(Clone, Debug, PartialEq)]
struct Sliced {
    /// The row each sorted position holds: slice `s`, lane `l` computes row `order[8s + l]`.
    order: Vec<u32>,
    /// Where each slice's entries start, in units of eight: `rows.div_ceil(8) + 1` entries.
    starts: Vec<u32>,
    /// Columns, eight per step.
    columns: Vec<u32>,
    /// Weights, eight per step.
    values: Vec<f32>,
}

impl Sliced {
    fn of(indptr: &[u32], indices: &[u32], values: &[f32]) -> Self {
        let rows = indptr.len() - 1;
        let len = |r: u32| indptr[r as usize + 1] - indptr[r as usize];
        let mut order: Vec<u32> = (0..rows as u32).collect();
        order.sort_by_key(|&r| std::cmp::Reverse(len(r)));
        let mut sliced = Self {
            order,
            starts: vec![0],
            columns: Vec::new(),
            values: Vec::new(),
        };
        for first in (0..rows).step_by(SLICE) {
            let ranges: Vec<_> = sliced.order[first..(first + SLICE).min(rows)]
                .iter()
                .map(|&r| indptr[r as usize] as usize..indptr[r as usize + 1] as usize)
                .collect();
            let width = ranges.iter().map(|r| r.len()).max().unwrap_or(0);
            for j in 0..width {
                for lane in 0..SLICE {
                    let k = ranges.get(lane).filter(|r| j < r.len()).map(|r| r.start + j);
                    sliced.columns.push(k.map_or(0, |k| indices[k]));
                    sliced.values.push(k.map_or(0.0, |k| values[k]));
                }
            }
            sliced.starts.push((sliced.values.len() / SLICE) as u32);
        }
        sliced
    }

    /// Writes the eight `sums` of the slice whose first sorted position is `first` to their rows of `y`,
    /// each plus its bias (a last, partial slice writes only its real rows).
    fn store(&self, first: usize, sums: [f32; SLICE], bias: &[f32], y: &mut [f32]) {
        let last = (first + SLICE).min(self.order.len());
        for (&r, a) in self.order[first..last].iter().zip(sums) {
            y[r as usize] = bias[r as usize] + a;
        }
    }
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
        if cols > i32::MAX as usize || rows * cols > u32::MAX as usize {
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
        Self::from_parts(rows, cols, indptr, indices, values, bias_or_zeros(bias, rows)?)
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
        if cols > i32::MAX as usize {
            return Err(format!("CSR: {cols} columns, more than the kernels index (2^31 - 1)").into());
        }
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
        let by_slices = Sliced::of(&indptr, &indices, &values);
        Ok(Self {
            rows,
            cols,
            indptr,
            indices,
            values,
            bias,
            by_slices,
        })
    }

    /// Export a masked burn layer in burn's Linear layout: `weight` and `mask` `[d_in, d_out]` (mask
    /// entries ≠ 0 are active), `bias [d_out]`.
    pub fn from_burn<B: Backend>(
        weight: Tensor<B, 2>,
        mask: Tensor<B, 2>,
        bias: Option<Tensor<B, 1>>,
    ) -> Result<Self, DstError> {
        let h = HostMasked::from_burn(weight, mask, bias)?;
        Self::from_dense(h.rows, h.cols, &h.weight, &h.mask, h.bias.as_deref())
    }

    /// Row starts, `rows + 1` entries from 0 to the number of stored weights.
    pub fn indptr(&self) -> &[u32] {
        &self.indptr
    }

    /// The column of every stored weight, ascending within a row.
    pub fn indices(&self) -> &[u32] {
        &self.indices
    }

    /// The stored weights.
    pub fn values(&self) -> &[f32] {
        &self.values
    }

    /// The bias, one entry per row.
    pub fn bias(&self) -> &[f32] {
        &self.bias
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
        if batch == 1 {
            #[cfg(target_arch = "x86_64")]
            if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma") {
                // SAFETY: the CPU has AVX2 and FMA; construction guarantees the slices' columns are below
                // `cols` (≤ i32::MAX) and their steps cover `rows`, and the caller passes `cols` inputs and
                // `rows` outputs.
                unsafe { avx2::forward(self, x, y) };
                return;
            }
            self.forward_one(x, y);
            return;
        }
        let rows = self.indptr.windows(2).map(|w| w[0] as usize..w[1] as usize);
        fill_bias(&self.bias, batch, y);
        for (out_row, range) in y.chunks_exact_mut(batch).zip(rows) {
            for (&w, &c) in self.values[range.clone()].iter().zip(&self.indices[range]) {
                let c = c as usize;
                axpy(w, &x[c * batch..(c + 1) * batch], out_row);
            }
        }
    }
}

impl CsrLinear {
    /// The batch-1 product on the sliced weights, eight rows at a time: `avx2::forward`'s order of sums,
    /// without its fused multiply-adds.
    fn forward_one(&self, x: &[f32], y: &mut [f32]) {
        let Sliced {
            starts,
            columns,
            values,
            ..
        } = &self.by_slices;
        for (slice, first) in (0..self.rows).step_by(SLICE).enumerate() {
            let mut acc = [0.0f32; SLICE];
            let steps = starts[slice] as usize * SLICE..starts[slice + 1] as usize * SLICE;
            let (cs, vs) = (&columns[steps.clone()], &values[steps]);
            for (c, v) in cs.chunks_exact(SLICE).zip(vs.chunks_exact(SLICE)) {
                for lane in 0..SLICE {
                    acc[lane] += v[lane] * x[c[lane] as usize];
                }
            }
            self.by_slices.store(first, acc, &self.bias, y);
        }
    }
}

#[cfg(target_arch = "x86_64")]
mod avx2 {
    use std::arch::x86_64::*;

    use super::{CsrLinear, Sliced, SLICE};

    /// The batch-1 forward `y[r] = bias[r] + Σ_k values[k] · x[indices[k]]` on the sliced weights: per
    /// step of a slice, eight scalar loads of inputs put side by side and one FMA into the slice's eight
    /// sums. Not AVX2's gather: on AMD's Zen cores it is microcoded, and this kernel with it took 1.5×
    /// as long at density 0.1 (`dst/benches/inference.rs`, 11.5 against 7.8 µs on a Zen 3 EPYC).
    ///
    /// # Safety
    /// The CPU must support AVX2 and FMA, `layer` must come from the checking constructors (its slices'
    /// columns below `layer.cols` ≤ i32::MAX), `x` must hold `layer.cols` values and `y` `layer.rows`.
    #[target_feature(enable = "avx2,fma")]
    pub(super) unsafe fn forward(layer: &CsrLinear, x: &[f32], y: &mut [f32]) {
        let Sliced {
            starts,
            columns,
            values,
            ..
        } = &layer.by_slices;
        debug_assert!(columns.iter().all(|&c| (c as usize) < x.len()));
        for (slice, first) in (0..layer.rows).step_by(SLICE).enumerate() {
            let mut acc = _mm256_setzero_ps();
            for step in starts[slice] as usize..starts[slice + 1] as usize {
                // The eight columns, two per 8-byte load; each input one scalar load.
                let pairs = columns.as_ptr().add(step * SLICE).cast::<u64>();
                let [p0, p1, p2, p3] = [0, 1, 2, 3].map(|i| pairs.add(i).read_unaligned());
                let lo = |p: u64| *x.get_unchecked(p as u32 as usize);
                let hi = |p: u64| *x.get_unchecked((p >> 32) as usize);
                let xs = _mm256_set_ps(hi(p3), lo(p3), hi(p2), lo(p2), hi(p1), lo(p1), hi(p0), lo(p0));
                acc = _mm256_fmadd_ps(_mm256_loadu_ps(values.as_ptr().add(step * SLICE)), xs, acc);
            }
            let mut sums = [0.0f32; SLICE];
            _mm256_storeu_ps(sums.as_mut_ptr(), acc);
            layer.by_slices.store(first, sums, &layer.bias, y);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The portable batch-1 kernel (the one a CPU without AVX2 runs) against the product written out,
    /// on 19 rows (two full slices and a partial one) of uneven lengths, an empty row among them.
    #[test]
    fn portable_batch_one_matches_the_dense_product() {
        let (rows, cols) = (19, 13);
        let weight: Vec<f32> = (0..rows * cols)
            .map(|i| ((i * 37 % 23) as f32 - 11.0) / 7.0)
            .collect();
        let mask: Vec<bool> = (0..rows * cols)
            .map(|i| i / cols != 5 && (i * 7 + i / cols) % 3 != 0)
            .collect();
        let bias: Vec<f32> = (0..rows).map(|r| r as f32 * 0.25 - 2.0).collect();
        let layer = CsrLinear::from_dense(rows, cols, &weight, &mask, Some(&bias)).unwrap();
        let x: Vec<f32> = (0..cols).map(|c| (c as f32 - 6.0) / 3.0).collect();
        let mut y = vec![f32::NAN; rows];
        layer.forward_one(&x, &mut y);
        for r in 0..rows {
            let expected: f32 = bias[r]
                + (0..cols)
                    .filter(|&c| mask[r * cols + c])
                    .map(|c| weight[r * cols + c] * x[c])
                    .sum::<f32>();
            assert!(
                (y[r] - expected).abs() <= 1e-5 * (1.0 + expected.abs()),
                "row {r}: {} vs {expected}",
                y[r]
            );
        }
        assert_eq!(y[5], bias[5], "the empty row is its bias");
    }
}
