//! Host kernels on row-major buffers, tiled over the batch: each tile of [`TILE`] rows is transposed into a
//! small feature-major buffer that stays in L1, so every active connection costs a few vector FMAs on
//! contiguous lanes and the partial sums of one output stay in registers. (A whole-matrix transpose before
//! and after each product, the first version, cost as much as the products themselves.)
//!
//! The release build targets baseline x86-64 (SSE2, no FMA), where the compiler splits the 32 lanes into
//! odd pieces, so the two innermost loops also exist as AVX2 + FMA intrinsics, chosen once per call when
//! the CPU has them; the portable loops serve every other CPU and check the intrinsics in the tests.

use std::mem::MaybeUninit;

use super::layout::Compressed;

/// Batch rows per tile: a 256-feature tile is 32 KiB (L1), and the 32 partial sums of one output are four
/// AVX registers, enough independent FMA chains to hide their latency.
const TILE: usize = 32;

/// The lanes of one feature in a tile.
type Lanes = [f32; TILE];

/// `out = Σ_k values[k] · tile[idx[k]]`: one output's partial sums over a tile.
type RowSum = fn(values: &[f32], idx: &[u32], tile: &[f32], out: &mut Lanes);

/// `dw[pos[k]] += ⟨xi, tile[idx[k]]⟩` for the entries of one input.
type RowDots = fn(xi: &Lanes, idx: &[u32], pos: &[u32], tile: &[f32], dw: &mut [f32]);

/// [`RowSum`] and [`RowDots`] over the same entries in one pass, each lane group of `tile` loaded once.
type RowSumDots =
    fn(values: &[f32], idx: &[u32], pos: &[u32], xi: &Lanes, tile: &[f32], out: &mut Lanes, dw: &mut [f32]);

/// `dst[c · dst_stride + r] = src[r · src_stride + c]` for `r < rows`, `c < cols`; writes only, so `dst`
/// may be fresh memory.
type Transpose = fn(
    src: &[f32],
    src_stride: usize,
    dst: &mut [MaybeUninit<f32>],
    dst_stride: usize,
    rows: usize,
    cols: usize,
);

/// The innermost loops for this CPU.
struct Kernels {
    row_sum: RowSum,
    row_dots: RowDots,
    row_sum_dots: RowSumDots,
    transpose: Transpose,
}

/// `y[b, r] = Σ_k values[k] · x[b, idx[k]]` over the entries `k` of row `r` of `layout`: `x` is row-major
/// `[rows, width]`, `y` row-major `[rows, layout rows]`.
pub(crate) fn spmm(layout: &Compressed, values: &[f32], x: &[f32], width: usize) -> Vec<f32> {
    let k = kernels();
    let outputs = layout.ptr.len() - 1;
    let rows = x.len() / width;
    let mut y = Output::new(rows * outputs);
    let mut tile = vec![0.0; width * TILE];
    let mut out_tile = vec![0.0; outputs * TILE];
    for b0 in (0..rows).step_by(TILE) {
        let filled = load_tile(&k, x, width, b0, &mut tile);
        for (out, range) in out_tile.chunks_exact_mut(TILE).zip(layout.rows()) {
            let out: &mut Lanes = out.try_into().expect("TILE lanes");
            (k.row_sum)(&values[range.clone()], &layout.idx[range], &tile, out);
        }
        y.store_tile(&k, &out_tile, b0, outputs, filled);
    }
    y.finish()
}

/// The gradients [`backward`] computes.
#[derive(Debug, Default)]
pub(crate) struct Grads {
    /// `dx = dy · (W ⊙ M)ᵀ`, row-major `[rows, d_in]`.
    pub dx: Option<Vec<f32>>,
    /// The dense-shaped weight gradient, `xᵀ · dy` at the active connections and zero elsewhere.
    pub dw: Option<Vec<f32>>,
}

/// The backward of `y = x · (W ⊙ M)` in one pass over the batch tiles: `dx` when `want_dx`, and `dW`
/// (`dW[i, o] = Σ_b x[b, i] · dy[b, o]` at the active connections, grouped by input in `by_in` with weights
/// `w_in`) when `want_dw`. Each tile of `dy` is transposed once and each lane group read once for both
/// gradients; only `nnz` products per row are computed. `x` is row-major `[rows, d_in]`, `dy` row-major
/// `[rows, d_out]`.
pub(crate) fn backward(
    by_in: &Compressed,
    w_in: &[f32],
    x: &[f32],
    dy: &[f32],
    [d_in, d_out]: [usize; 2],
    [want_dx, want_dw]: [bool; 2],
) -> Grads {
    let k = kernels();
    let rows = dy.len() / d_out;
    let mut dx = want_dx.then(|| Output::new(rows * d_in));
    let mut dw = want_dw.then(|| vec![0.0; d_in * d_out]);
    let (mut xt, mut dyt, mut out_tile) = (
        vec![0.0; d_in * TILE],
        vec![0.0; d_out * TILE],
        vec![0.0; d_in * TILE],
    );
    for b0 in (0..rows).step_by(TILE) {
        let filled = load_tile(&k, dy, d_out, b0, &mut dyt);
        if want_dw {
            load_tile(&k, x, d_in, b0, &mut xt);
        }
        for ((i, range), out) in by_in.rows().enumerate().zip(out_tile.chunks_exact_mut(TILE)) {
            let out: &mut Lanes = out.try_into().expect("TILE lanes");
            let (idx, pos) = (&by_in.idx[range.clone()], &by_in.pos[range.clone()]);
            match dw.as_mut() {
                Some(dw) if want_dx => (k.row_sum_dots)(&w_in[range], idx, pos, lanes(&xt, i), &dyt, out, dw),
                Some(dw) => (k.row_dots)(lanes(&xt, i), idx, pos, &dyt, dw),
                None => (k.row_sum)(&w_in[range], idx, &dyt, out),
            }
        }
        if let Some(dx) = dx.as_mut() {
            dx.store_tile(&k, &out_tile, b0, d_in, filled);
        }
    }
    Grads {
        dx: dx.map(Output::finish),
        dw,
    }
}

/// A row-major `[rows, width]` result filled tile by tile, without zeroing it first: every element is
/// written exactly once by [`Output::store_tile`], so [`Output::finish`] can hand the buffer over.
struct Output {
    buf: Vec<f32>,
    written: usize,
}

impl Output {
    fn new(len: usize) -> Self {
        Self {
            buf: Vec::with_capacity(len),
            written: 0,
        }
    }

    /// Rows `b0..b0 + filled` from the feature-major `out_tile` (`width` features of [`TILE`] lanes).
    fn store_tile(&mut self, k: &Kernels, out_tile: &[f32], b0: usize, width: usize, filled: usize) {
        assert_eq!(self.written, b0 * width, "tiles are stored in order");
        let dst = &mut self.buf.spare_capacity_mut()[b0 * width..(b0 + filled) * width];
        (k.transpose)(out_tile, TILE, dst, width, width, filled);
        self.written = (b0 + filled) * width;
    }

    fn finish(mut self) -> Vec<f32> {
        assert_eq!(self.written, self.buf.capacity(), "every row stored");
        // SAFETY: `store_tile` wrote rows 0..b0 + filled in order (asserted), and the transpose writes every
        // element of the rows it is given; so all `capacity` elements are initialised.
        unsafe { self.buf.set_len(self.written) };
        self.buf
    }
}

/// The innermost loops for this CPU.
fn kernels() -> Kernels {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma") {
        // SAFETY (all three): the CPU has the features the functions are compiled for.
        return Kernels {
            row_sum: |v, i, t, o| unsafe { avx2::row_sum(v, i, t, o) },
            row_dots: |x, i, p, t, d| unsafe { avx2::row_dots(x, i, p, t, d) },
            row_sum_dots: |v, i, p, x, t, o, d| unsafe { avx2::row_sum_dots(v, i, p, x, t, o, d) },
            transpose: |s, ss, d, ds, r, c| unsafe { avx2::transpose(s, ss, d, ds, r, c) },
        };
    }
    Kernels {
        row_sum: portable::row_sum,
        row_dots: portable::row_dots,
        row_sum_dots: portable::row_sum_dots,
        transpose: portable::transpose,
    }
}

/// Rows `b0..b0 + TILE` of the row-major `[rows, width]` buffer `x`, feature-major into `tile`
/// (`tile[c · TILE + j] = x[b0 + j, c]`), rows past the end as zeros; returns the rows filled.
fn load_tile(k: &Kernels, x: &[f32], width: usize, b0: usize, tile: &mut [f32]) -> usize {
    let rows = (x.len() / width - b0).min(TILE);
    (k.transpose)(&x[b0 * width..], width, as_uninit(tile), TILE, rows, width);
    if rows < TILE {
        for c in 0..width {
            tile[c * TILE + rows..(c + 1) * TILE].fill(0.0);
        }
    }
    rows
}

/// `s` as a write-only destination for [`Transpose`].
fn as_uninit(s: &mut [f32]) -> &mut [MaybeUninit<f32>] {
    // SAFETY: same layout; the transposes only ever write initialised `f32`s through it, so `s` stays
    // initialised.
    unsafe { &mut *(s as *mut [f32] as *mut [MaybeUninit<f32>]) }
}

/// The lanes of feature `c` in a tile (panics when `c` is outside it, which also guards the intrinsics).
#[inline(always)]
fn lanes(tile: &[f32], c: usize) -> &Lanes {
    tile[c * TILE..(c + 1) * TILE]
        .try_into()
        .expect("a tile holds TILE lanes per feature")
}

mod portable {
    use std::mem::MaybeUninit;

    use super::{lanes, Lanes, TILE};

    pub(super) fn transpose(
        src: &[f32],
        ss: usize,
        dst: &mut [MaybeUninit<f32>],
        ds: usize,
        rows: usize,
        cols: usize,
    ) {
        for r in 0..rows {
            for (c, &v) in src[r * ss..r * ss + cols].iter().enumerate() {
                dst[c * ds + r].write(v);
            }
        }
    }

    pub(super) fn row_sum(values: &[f32], idx: &[u32], tile: &[f32], out: &mut Lanes) {
        *out = [0.0; TILE];
        for (&w, &c) in values.iter().zip(idx) {
            for (o, &v) in out.iter_mut().zip(lanes(tile, c as usize)) {
                *o += w * v;
            }
        }
    }

    pub(super) fn row_dots(xi: &Lanes, idx: &[u32], pos: &[u32], tile: &[f32], dw: &mut [f32]) {
        for (&o, &p) in idx.iter().zip(pos) {
            let mut acc = [0.0f32; 8];
            for (a, b) in xi.chunks_exact(8).zip(lanes(tile, o as usize).chunks_exact(8)) {
                for j in 0..8 {
                    acc[j] += a[j] * b[j];
                }
            }
            dw[p as usize] += acc.iter().sum::<f32>();
        }
    }

    pub(super) fn row_sum_dots(
        values: &[f32],
        idx: &[u32],
        pos: &[u32],
        xi: &Lanes,
        tile: &[f32],
        out: &mut Lanes,
        dw: &mut [f32],
    ) {
        row_sum(values, idx, tile, out);
        row_dots(xi, idx, pos, tile, dw);
    }
}

#[cfg(target_arch = "x86_64")]
mod avx2 {
    use std::arch::x86_64::*;
    use std::mem::MaybeUninit;

    use super::{lanes, Lanes};

    /// Four 8-lane accumulators = the 32 lanes of a tile.
    #[target_feature(enable = "avx2,fma")]
    pub(super) fn row_sum(values: &[f32], idx: &[u32], tile: &[f32], out: &mut Lanes) {
        let mut acc = [_mm256_setzero_ps(); 4];
        for (&w, &c) in values.iter().zip(idx) {
            let (w, p) = (_mm256_set1_ps(w), lanes(tile, c as usize).as_ptr());
            for (q, a) in acc.iter_mut().enumerate() {
                // SAFETY: `lanes` checked that `p` starts 32 readable f32s; q · 8 + 8 ≤ 32.
                *a = _mm256_fmadd_ps(w, unsafe { _mm256_loadu_ps(p.add(q * 8)) }, *a);
            }
        }
        for (q, a) in acc.into_iter().enumerate() {
            // SAFETY: `out` has 32 f32s; q · 8 + 8 ≤ 32.
            unsafe { _mm256_storeu_ps(out.as_mut_ptr().add(q * 8), a) };
        }
    }

    #[target_feature(enable = "avx2,fma")]
    pub(super) fn row_dots(xi: &Lanes, idx: &[u32], pos: &[u32], tile: &[f32], dw: &mut [f32]) {
        // SAFETY: `xi` has 32 f32s.
        let x: [__m256; 4] = std::array::from_fn(|q| unsafe { _mm256_loadu_ps(xi.as_ptr().add(q * 8)) });
        for (&o, &p) in idx.iter().zip(pos) {
            let t = lanes(tile, o as usize).as_ptr();
            let mut acc = _mm256_setzero_ps();
            for (q, &xq) in x.iter().enumerate() {
                // SAFETY: `lanes` checked that `t` starts 32 readable f32s; q · 8 + 8 ≤ 32.
                acc = _mm256_fmadd_ps(xq, unsafe { _mm256_loadu_ps(t.add(q * 8)) }, acc);
            }
            dw[p as usize] += horizontal_sum(acc);
        }
    }

    /// The two loops above fused: each lane group of `tile` feeds the output's FMA chain and the dot.
    #[target_feature(enable = "avx2,fma")]
    pub(super) fn row_sum_dots(
        values: &[f32],
        idx: &[u32],
        pos: &[u32],
        xi: &Lanes,
        tile: &[f32],
        out: &mut Lanes,
        dw: &mut [f32],
    ) {
        // SAFETY: `xi` has 32 f32s.
        let x: [__m256; 4] = std::array::from_fn(|q| unsafe { _mm256_loadu_ps(xi.as_ptr().add(q * 8)) });
        let mut acc = [_mm256_setzero_ps(); 4];
        for ((&w, &o), &p) in values.iter().zip(idx).zip(pos) {
            let (w, t) = (_mm256_set1_ps(w), lanes(tile, o as usize).as_ptr());
            let mut dot = _mm256_setzero_ps();
            for (q, a) in acc.iter_mut().enumerate() {
                // SAFETY: `lanes` checked that `t` starts 32 readable f32s; q · 8 + 8 ≤ 32.
                let v = unsafe { _mm256_loadu_ps(t.add(q * 8)) };
                *a = _mm256_fmadd_ps(w, v, *a);
                dot = _mm256_fmadd_ps(x[q], v, dot);
            }
            dw[p as usize] += horizontal_sum(dot);
        }
        for (q, a) in acc.into_iter().enumerate() {
            // SAFETY: `out` has 32 f32s; q · 8 + 8 ≤ 32.
            unsafe { _mm256_storeu_ps(out.as_mut_ptr().add(q * 8), a) };
        }
    }

    /// By 8 × 8 blocks in registers (the usual unpack / shuffle / lane-permute network), the edges by
    /// the portable loop.
    #[target_feature(enable = "avx2,fma")]
    pub(super) fn transpose(
        src: &[f32],
        ss: usize,
        dst: &mut [MaybeUninit<f32>],
        ds: usize,
        rows: usize,
        cols: usize,
    ) {
        let (full_r, full_c) = (rows / 8 * 8, cols / 8 * 8);
        for r0 in (0..full_r).step_by(8) {
            for c0 in (0..full_c).step_by(8) {
                // The last row read ends at (r0 + 7) · ss + c0 + 8, the last column written at
                // (c0 + 7) · ds + r0 + 8: checked once per block, so the raw loads and stores below stay inside.
                assert!((r0 + 7) * ss + c0 + 8 <= src.len() && (c0 + 7) * ds + r0 + 8 <= dst.len());
                // SAFETY: in bounds by the assertion above.
                let m: [__m256; 8] =
                    std::array::from_fn(|i| unsafe { _mm256_loadu_ps(src.as_ptr().add((r0 + i) * ss + c0)) });
                let t = transpose_8x8(m);
                for (i, v) in t.into_iter().enumerate() {
                    // SAFETY: in bounds by the assertion above.
                    unsafe { _mm256_storeu_ps(dst.as_mut_ptr().add((c0 + i) * ds + r0).cast(), v) };
                }
            }
        }
        for r in 0..rows {
            let cs = if r < full_r { full_c } else { 0 };
            for c in cs..cols {
                dst[c * ds + r].write(src[r * ss + c]);
            }
        }
    }

    #[target_feature(enable = "avx2,fma")]
    fn transpose_8x8(r: [__m256; 8]) -> [__m256; 8] {
        let t = [
            _mm256_unpacklo_ps(r[0], r[1]),
            _mm256_unpackhi_ps(r[0], r[1]),
            _mm256_unpacklo_ps(r[2], r[3]),
            _mm256_unpackhi_ps(r[2], r[3]),
            _mm256_unpacklo_ps(r[4], r[5]),
            _mm256_unpackhi_ps(r[4], r[5]),
            _mm256_unpacklo_ps(r[6], r[7]),
            _mm256_unpackhi_ps(r[6], r[7]),
        ];
        let u = [
            _mm256_shuffle_ps::<0x44>(t[0], t[2]),
            _mm256_shuffle_ps::<0xEE>(t[0], t[2]),
            _mm256_shuffle_ps::<0x44>(t[1], t[3]),
            _mm256_shuffle_ps::<0xEE>(t[1], t[3]),
            _mm256_shuffle_ps::<0x44>(t[4], t[6]),
            _mm256_shuffle_ps::<0xEE>(t[4], t[6]),
            _mm256_shuffle_ps::<0x44>(t[5], t[7]),
            _mm256_shuffle_ps::<0xEE>(t[5], t[7]),
        ];
        [
            _mm256_permute2f128_ps::<0x20>(u[0], u[4]),
            _mm256_permute2f128_ps::<0x20>(u[1], u[5]),
            _mm256_permute2f128_ps::<0x20>(u[2], u[6]),
            _mm256_permute2f128_ps::<0x20>(u[3], u[7]),
            _mm256_permute2f128_ps::<0x31>(u[0], u[4]),
            _mm256_permute2f128_ps::<0x31>(u[1], u[5]),
            _mm256_permute2f128_ps::<0x31>(u[2], u[6]),
            _mm256_permute2f128_ps::<0x31>(u[3], u[7]),
        ]
    }

    #[target_feature(enable = "avx2,fma")]
    fn horizontal_sum(v: __m256) -> f32 {
        let s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps::<1>(v));
        let s = _mm_add_ps(s, _mm_movehl_ps(s, s));
        _mm_cvtss_f32(_mm_add_ss(s, _mm_shuffle_ps::<1>(s, s)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::execution::CsrLayout;

    #[test]
    fn spmm_and_backward_on_a_small_layer() {
        // [d_in = 2, d_out = 2], active (0,0), (1,0), (1,1); one batch row.
        let l = CsrLayout::from_mask(2, 2, &[1., 0., 1., 1.]);
        let w = [2., 99., 3., 4.];
        let y = spmm(&l.by_out, &l.by_out.gather(&w), &[1., 10.], 2);
        assert_eq!(y, vec![2. + 30., 40.]);
        let g = backward(
            &l.by_in,
            &l.by_in.gather(&w),
            &[1., 10.],
            &[5., 7.],
            [2, 2],
            [true, true],
        );
        assert_eq!(g.dw, Some(vec![5., 0., 50., 70.]));
        // dx = dy · (W ⊙ M)ᵀ: dx[0] = 5·2, dx[1] = 5·3 + 7·4.
        assert_eq!(g.dx, Some(vec![10., 43.]));
    }

    #[test]
    fn products_span_several_tiles_and_a_partial_one() {
        // 70 rows = two full tiles and 6 rows: y[b, 0] = 2·x[b, 1], y[b, 1] = x[b, 0] + x[b, 2].
        let l = CsrLayout::from_mask(3, 2, &[0., 1., 1., 0., 0., 1.]);
        let w = [0., 1., 2., 0., 0., 1.];
        let rows = 70;
        let x: Vec<f32> = (0..rows * 3).map(|v| v as f32).collect();
        let y = spmm(&l.by_out, &l.by_out.gather(&w), &x, 3);
        for b in 0..rows {
            assert_eq!(y[b * 2], 2. * x[b * 3 + 1]);
            assert_eq!(y[b * 2 + 1], x[b * 3] + x[b * 3 + 2]);
        }
        let dy: Vec<f32> = (0..rows * 2).map(|v| (v % 7) as f32).collect();
        let w_in = l.by_in.gather(&w);
        let both = backward(&l.by_in, &w_in, &x, &dy, [3, 2], [true, true]);
        let expect = |i: usize, o: usize| (0..rows).map(|b| x[b * 3 + i] * dy[b * 2 + o]).sum::<f32>();
        let dw = vec![0., expect(0, 1), expect(1, 0), 0., 0., expect(2, 1)];
        assert_eq!(both.dw.as_ref(), Some(&dw));
        let dx = both.dx.as_ref().expect("dx asked for");
        for b in 0..rows {
            assert_eq!(
                &dx[b * 3..b * 3 + 3],
                &[dy[b * 2 + 1], 2. * dy[b * 2], dy[b * 2 + 1]]
            );
        }
        // Asking for one gradient gives the same values as the fused pass, and not the other.
        let dw_only = backward(&l.by_in, &w_in, &x, &dy, [3, 2], [false, true]);
        assert_eq!((dw_only.dx, dw_only.dw.as_ref()), (None, Some(&dw)));
        let dx_only = backward(&l.by_in, &w_in, &x, &dy, [3, 2], [true, false]);
        assert_eq!((dx_only.dx.as_ref(), dx_only.dw), (both.dx.as_ref(), None));
    }

    /// The intrinsics and the portable loops agree (to rounding: FMA rounds once) on random tiles.
    #[cfg(target_arch = "x86_64")]
    #[test]
    fn the_avx2_loops_match_the_portable_ones() {
        if !(std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma")) {
            return;
        }
        let mut seed = 7u32;
        let mut next = move || {
            seed = seed.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            (seed >> 8) as f32 / (1 << 24) as f32 - 0.5
        };
        let tile: Vec<f32> = (0..5 * TILE).map(|_| next()).collect();
        let (values, idx): (Vec<f32>, Vec<u32>) = [4u32, 2, 0].map(|c| (next(), c)).into_iter().unzip();
        let (mut a, mut b) = ([0.0; TILE], [0.0; TILE]);
        portable::row_sum(&values, &idx, &tile, &mut a);
        // SAFETY: the CPU has AVX2 and FMA (checked above).
        unsafe { avx2::row_sum(&values, &idx, &tile, &mut b) };
        for (x, y) in a.iter().zip(&b) {
            assert!((x - y).abs() <= 1e-6, "{a:?} vs {b:?}");
        }
        let xi: Lanes = std::array::from_fn(|_| next());
        let (mut da, mut db) = (vec![0.0; 3], vec![0.0; 3]);
        portable::row_dots(&xi, &idx, &[2, 0, 1], &tile, &mut da);
        // SAFETY: as above.
        unsafe { avx2::row_dots(&xi, &idx, &[2, 0, 1], &tile, &mut db) };
        for (x, y) in da.iter().zip(&db) {
            assert!((x - y).abs() <= 1e-5, "{da:?} vs {db:?}");
        }
        let (mut fa, mut fb) = (vec![0.5; 3], vec![0.5; 3]);
        // SAFETY: as above.
        unsafe { avx2::row_sum_dots(&values, &idx, &[2, 0, 1], &xi, &tile, &mut b, &mut fb) };
        portable::row_sum_dots(&values, &idx, &[2, 0, 1], &xi, &tile, &mut a, &mut fa);
        for (x, y) in a.iter().zip(&b).chain(fa.iter().zip(&fb)) {
            assert!((x - y).abs() <= 1e-5, "{a:?} {fa:?} vs {b:?} {fb:?}");
        }
        // Transposes with full 8 × 8 blocks and ragged edges, inside larger strided buffers.
        for (rows, cols) in [(19, 21), (8, 8), (32, 3), (5, 40)] {
            let src: Vec<f32> = (0..rows * 50).map(|_| next()).collect();
            let (mut ta, mut tb) = (vec![0.0; cols * 40], vec![0.0; cols * 40]);
            portable::transpose(&src, 50, as_uninit(&mut ta), 40, rows, cols);
            // SAFETY: as above.
            unsafe { avx2::transpose(&src, 50, as_uninit(&mut tb), 40, rows, cols) };
            assert_eq!(ta, tb, "{rows} x {cols}");
        }
    }
}
