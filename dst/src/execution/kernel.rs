//! Host kernels on feature-major buffers (`x[feature · batch + b]`): every active connection touches a
//! contiguous run of `batch` values, which the compiler vectorises, as in [`crate::inference`].

use super::layout::Compressed;
use crate::inference::axpy;

/// Rows and columns per block of [`transpose`]: 16 × 16 f32 = 1 KiB, a few cache lines per side.
const BLOCK: usize = 16;

/// `y[r] = Σ_k values[k] · x[idx[k]]` over the entries of row `r` of `layout`, rows of `batch` values.
pub(crate) fn spmm(layout: &Compressed, values: &[f32], x: &[f32], batch: usize) -> Vec<f32> {
    let rows = layout.ptr.len() - 1;
    let mut y = vec![0.0; rows * batch];
    for (out, range) in y.chunks_exact_mut(batch).zip(layout.rows()) {
        for (&w, &c) in values[range.clone()].iter().zip(&layout.idx[range]) {
            let c = c as usize;
            axpy(w, &x[c * batch..(c + 1) * batch], out);
        }
    }
    y
}

/// The dense-shaped weight gradient with `dW[i, o] = ⟨xt[i], dyt[o]⟩` at the active connections (grouped by
/// input in `by_in`) and zero elsewhere: only `nnz` dot products are computed.
pub(crate) fn masked_outer(
    by_in: &Compressed,
    xt: &[f32],
    dyt: &[f32],
    batch: usize,
    len: usize,
) -> Vec<f32> {
    let mut dw = vec![0.0; len];
    for (i, range) in by_in.rows().enumerate() {
        let xi = &xt[i * batch..(i + 1) * batch];
        for (&o, &p) in by_in.idx[range.clone()].iter().zip(&by_in.pos[range]) {
            let o = o as usize;
            dw[p as usize] = dot(xi, &dyt[o * batch..(o + 1) * batch]);
        }
    }
    dw
}

/// `⟨a, b⟩` with eight independent accumulators, so the compiler keeps them in one vector register.
fn dot(a: &[f32], b: &[f32]) -> f32 {
    let mut acc = [0.0f32; 8];
    let (ca, cb) = (a.chunks_exact(8), b.chunks_exact(8));
    let tail: f32 = ca
        .remainder()
        .iter()
        .zip(cb.remainder())
        .map(|(x, y)| x * y)
        .sum();
    for (x, y) in ca.zip(cb) {
        for j in 0..8 {
            acc[j] += x[j] * y[j];
        }
    }
    acc.iter().sum::<f32>() + tail
}

/// The transpose of a row-major `[rows, cols]` matrix, by square blocks so that reads and writes both stay
/// within a few cache lines.
pub(crate) fn transpose(src: &[f32], rows: usize, cols: usize) -> Vec<f32> {
    debug_assert_eq!(src.len(), rows * cols);
    let mut dst = vec![0.0; rows * cols];
    for r0 in (0..rows).step_by(BLOCK) {
        for c0 in (0..cols).step_by(BLOCK) {
            for r in r0..(r0 + BLOCK).min(rows) {
                for c in c0..(c0 + BLOCK).min(cols) {
                    dst[c * rows + r] = src[r * cols + c];
                }
            }
        }
    }
    dst
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::execution::CsrLayout;

    #[test]
    fn transpose_of_a_non_square_matrix() {
        let src: Vec<f32> = (0..6).map(|v| v as f32).collect();
        assert_eq!(transpose(&src, 2, 3), vec![0., 3., 1., 4., 2., 5.]);
    }

    #[test]
    fn spmm_and_masked_outer_on_a_small_layer() {
        // [d_in = 2, d_out = 2], active (0,0), (1,0), (1,1); batch 1 so feature-major = plain vectors.
        let l = CsrLayout::from_mask(2, 2, &[1., 0., 1., 1.]);
        let w = [2., 99., 3., 4.];
        let y = spmm(&l.by_out, &l.by_out.gather(&w), &[1., 10.], 1);
        assert_eq!(y, vec![2. + 30., 40.]);
        let dw = masked_outer(&l.by_in, &[1., 10.], &[5., 7.], 1, 4);
        assert_eq!(dw, vec![5., 0., 50., 70.]);
    }
}
