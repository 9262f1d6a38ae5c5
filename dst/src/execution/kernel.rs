//! The innermost loops of the sparse products, on batch tiles: [`TILE`] rows of a feature-major activation,
//! so every active connection costs a few vector FMAs on contiguous lanes and the partial sums of one
//! output stay in registers. A tile is either a view into a feature-major activation or a row-major one
//! transposed into a small buffer that stays in L1 ([`load_tile`]); [`super::product`] drives them.
//!
//! The release build targets baseline x86-64 (SSE2, no FMA), where the compiler splits the 32 lanes into
//! odd pieces, so every loop also exists as AVX2 + FMA intrinsics, chosen once per call when the CPU has
//! them; the portable loops serve every other CPU and check the intrinsics in the tests.

use std::mem::MaybeUninit;

use super::layout::Compressed;

/// Batch rows per tile: a 256-feature tile is 32 KiB (L1), and the 32 partial sums of one output are four
/// AVX registers, enough independent FMA chains to hide their latency.
pub(crate) const TILE: usize = 32;

/// The lanes of one feature in a tile.
pub(crate) type Lanes = [f32; TILE];

/// [`TILE`] batch rows of an activation, feature-major: feature `c`'s lanes start at `c · stride`.
#[derive(Clone, Copy)]
pub(crate) struct Tile<'a> {
    pub data: &'a [f32],
    pub stride: usize,
}

impl<'a> Tile<'a> {
    /// A buffer of whole tiles (`stride = TILE`).
    pub fn packed(data: &'a [f32]) -> Self {
        Self { data, stride: TILE }
    }

    /// The lanes of feature `c` (panics when `c` is outside the tile, which also guards the intrinsics).
    #[inline(always)]
    pub fn lanes(&self, c: usize) -> &'a Lanes {
        self.data[c * self.stride..c * self.stride + TILE]
            .try_into()
            .expect("a tile holds TILE lanes per feature")
    }
}

/// [`TILE`] output lanes per feature, written only (so fresh memory can take them): feature `c`'s lanes
/// start at `c · stride`.
pub(crate) struct TileMut<'a> {
    pub data: &'a mut [MaybeUninit<f32>],
    pub stride: usize,
}

impl TileMut<'_> {
    /// The lanes of feature `c` (panics when `c` is outside the tile, which also guards the intrinsics).
    #[inline(always)]
    fn lanes(&mut self, c: usize) -> &mut [MaybeUninit<f32>; TILE] {
        (&mut self.data[c * self.stride..c * self.stride + TILE])
            .try_into()
            .expect("a tile holds TILE lanes per feature")
    }
}

/// What follows a product: a bias per output feature and a ReLU.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Epilogue<'a> {
    pub bias: Option<&'a [f32]>,
    pub relu: bool,
}

/// `out[o] = act(bias[o] + Σ_k values[k] · tile[idx[k]])` over the entries `k` of every row `o` of the
/// layout.
type Sums = fn(rows: &Compressed, values: &[f32], tile: Tile, epilogue: Epilogue, out: TileMut);

/// For every input `i` (row of `by_in`): `dw[pos[k]] += ⟨x[i], dz[idx[k]]⟩` and, when `dx` is given,
/// `dx[i] = Σ_k values[k] · dz[idx[k]]`, each lane group of `dz` loaded once for both.
type SumsDots =
    fn(by_in: &Compressed, values: &[f32], x: Tile, dz: Tile, dx: Option<TileMut>, dw: &mut [f32]);

/// `out[o] = dy[o]` where `y[o] > 0`, else 0, for `o < width`: the gradient through a ReLU with output `y`.
type ReluGrad = fn(dy: Tile, y: Tile, width: usize, out: TileMut);

/// `sums[o] += Σ lanes of tile[o]` for every `o < sums.len()`.
type LaneSums = fn(tile: Tile, sums: &mut [f32]);

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

/// The loops over one batch tile for this CPU: each walks a whole layer, so a call costs one dispatch per
/// tile, not one per feature.
pub(crate) struct Kernels {
    pub sums: Sums,
    pub sums_dots: SumsDots,
    pub relu_grad: ReluGrad,
    pub lane_sums: LaneSums,
    pub transpose: Transpose,
}

/// The innermost loops for this CPU.
pub(crate) fn kernels() -> Kernels {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma") {
        // SAFETY (all five): the CPU has the features the functions are compiled for.
        return Kernels {
            sums: |l, v, t, e, o| unsafe { avx2::sums(l, v, t, e, o) },
            sums_dots: |l, v, x, z, dx, dw| unsafe { avx2::sums_dots(l, v, x, z, dx, dw) },
            relu_grad: |d, y, w, o| unsafe { avx2::relu_grad(d, y, w, o) },
            lane_sums: |t, s| unsafe { avx2::lane_sums(t, s) },
            transpose: |s, ss, d, ds, r, c| unsafe { avx2::transpose(s, ss, d, ds, r, c) },
        };
    }
    Kernels {
        sums: portable::sums,
        sums_dots: portable::sums_dots,
        relu_grad: portable::relu_grad,
        lane_sums: portable::lane_sums,
        transpose: portable::transpose,
    }
}

/// Rows `b0..b0 + TILE` of the row-major `[rows, width]` buffer `x`, feature-major into `tile`
/// (`tile[c · TILE + j] = x[b0 + j, c]`), rows past the end as zeros.
pub(crate) fn load_tile(k: &Kernels, x: &[f32], width: usize, b0: usize, tile: &mut [f32]) {
    let rows = (x.len() / width - b0).min(TILE);
    (k.transpose)(&x[b0 * width..], width, as_uninit(tile), TILE, rows, width);
    if rows < TILE {
        for c in 0..width {
            tile[c * TILE + rows..(c + 1) * TILE].fill(0.0);
        }
    }
}

/// `s` as a write-only destination for [`Transpose`].
pub(crate) fn as_uninit(s: &mut [f32]) -> &mut [MaybeUninit<f32>] {
    // SAFETY: same layout; the transposes only ever write initialised `f32`s through it, so `s` stays
    // initialised.
    unsafe { &mut *(s as *mut [f32] as *mut [MaybeUninit<f32>]) }
}

mod portable {
    use std::mem::MaybeUninit;

    use super::{Compressed, Epilogue, Tile, TileMut, TILE};

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

    pub(super) fn sums(rows: &Compressed, values: &[f32], tile: Tile, epilogue: Epilogue, mut out: TileMut) {
        for (o, range) in rows.rows().enumerate() {
            let mut acc = [epilogue.bias.map_or(0.0, |b| b[o]); TILE];
            for (&w, &c) in values[range.clone()].iter().zip(&rows.idx[range]) {
                for (a, &v) in acc.iter_mut().zip(tile.lanes(c as usize)) {
                    *a += w * v;
                }
            }
            for (dst, a) in out.lanes(o).iter_mut().zip(acc) {
                dst.write(if epilogue.relu { a.max(0.0) } else { a });
            }
        }
    }

    pub(super) fn sums_dots(
        by_in: &Compressed,
        values: &[f32],
        x: Tile,
        dz: Tile,
        mut dx: Option<TileMut>,
        dw: &mut [f32],
    ) {
        for (i, range) in by_in.rows().enumerate() {
            let mut acc = [0.0f32; TILE];
            for ((&w, &o), &p) in values[range.clone()]
                .iter()
                .zip(&by_in.idx[range.clone()])
                .zip(&by_in.pos[range])
            {
                let mut dot = [0.0f32; 8];
                for (q, (a, &v)) in acc.iter_mut().zip(dz.lanes(o as usize)).enumerate() {
                    *a += w * v;
                    dot[q % 8] += x.lanes(i)[q] * v;
                }
                dw[p as usize] += dot.iter().sum::<f32>();
            }
            if let Some(dx) = dx.as_mut() {
                for (dst, a) in dx.lanes(i).iter_mut().zip(acc) {
                    dst.write(a);
                }
            }
        }
    }

    pub(super) fn relu_grad(dy: Tile, y: Tile, width: usize, mut out: TileMut) {
        for o in 0..width {
            for ((dst, &g), &v) in out.lanes(o).iter_mut().zip(dy.lanes(o)).zip(y.lanes(o)) {
                dst.write(if v > 0.0 { g } else { 0.0 });
            }
        }
    }

    pub(super) fn lane_sums(tile: Tile, sums: &mut [f32]) {
        for (o, s) in sums.iter_mut().enumerate() {
            *s += tile.lanes(o).iter().sum::<f32>();
        }
    }
}

#[cfg(target_arch = "x86_64")]
mod avx2 {
    use std::arch::x86_64::*;
    use std::mem::MaybeUninit;

    use super::{Compressed, Epilogue, Lanes, Tile, TileMut, TILE};

    /// The 32 lanes of a tile as four 8-lane vectors.
    #[target_feature(enable = "avx2,fma")]
    fn load(lanes: &Lanes) -> [__m256; 4] {
        // SAFETY: `lanes` holds 32 f32s; q · 8 + 8 ≤ 32.
        std::array::from_fn(|q| unsafe { _mm256_loadu_ps(lanes.as_ptr().add(q * 8)) })
    }

    #[target_feature(enable = "avx2,fma")]
    fn store(v: [__m256; 4], out: &mut [MaybeUninit<f32>; TILE]) {
        for (q, v) in v.into_iter().enumerate() {
            // SAFETY: `out` holds 32 f32s; q · 8 + 8 ≤ 32. Writing through the pointer initialises them.
            unsafe { _mm256_storeu_ps(out.as_mut_ptr().add(q * 8).cast(), v) };
        }
    }

    #[target_feature(enable = "avx2,fma")]
    pub(super) fn sums(rows: &Compressed, values: &[f32], tile: Tile, epilogue: Epilogue, mut out: TileMut) {
        for (o, range) in rows.rows().enumerate() {
            let mut acc = [_mm256_set1_ps(epilogue.bias.map_or(0.0, |b| b[o])); 4];
            for (&w, &c) in values[range.clone()].iter().zip(&rows.idx[range]) {
                let (w, t) = (_mm256_set1_ps(w), load(tile.lanes(c as usize)));
                for (a, t) in acc.iter_mut().zip(t) {
                    *a = _mm256_fmadd_ps(w, t, *a);
                }
            }
            if epilogue.relu {
                acc = acc.map(|a| _mm256_max_ps(a, _mm256_setzero_ps()));
            }
            store(acc, out.lanes(o));
        }
    }

    #[target_feature(enable = "avx2,fma")]
    pub(super) fn sums_dots(
        by_in: &Compressed,
        values: &[f32],
        x: Tile,
        dz: Tile,
        mut dx: Option<TileMut>,
        dw: &mut [f32],
    ) {
        for (i, range) in by_in.rows().enumerate() {
            let xi = load(x.lanes(i));
            let mut acc = [_mm256_setzero_ps(); 4];
            let entries = values[range.clone()]
                .iter()
                .zip(&by_in.idx[range.clone()])
                .zip(&by_in.pos[range]);
            for ((&w, &o), &p) in entries {
                let (w, t) = (_mm256_set1_ps(w), load(dz.lanes(o as usize)));
                let mut dot = _mm256_setzero_ps();
                for q in 0..4 {
                    acc[q] = _mm256_fmadd_ps(w, t[q], acc[q]);
                    dot = _mm256_fmadd_ps(xi[q], t[q], dot);
                }
                dw[p as usize] += horizontal_sum(dot);
            }
            if let Some(dx) = dx.as_mut() {
                store(acc, dx.lanes(i));
            }
        }
    }

    #[target_feature(enable = "avx2,fma")]
    pub(super) fn relu_grad(dy: Tile, y: Tile, width: usize, mut out: TileMut) {
        for o in 0..width {
            let (g, v) = (load(dy.lanes(o)), load(y.lanes(o)));
            let masked = std::array::from_fn(|q| {
                _mm256_and_ps(g[q], _mm256_cmp_ps::<_CMP_GT_OQ>(v[q], _mm256_setzero_ps()))
            });
            store(masked, out.lanes(o));
        }
    }

    #[target_feature(enable = "avx2,fma")]
    pub(super) fn lane_sums(tile: Tile, sums: &mut [f32]) {
        for (o, s) in sums.iter_mut().enumerate() {
            let v = load(tile.lanes(o));
            *s += horizontal_sum(_mm256_add_ps(
                _mm256_add_ps(v[0], v[1]),
                _mm256_add_ps(v[2], v[3]),
            ));
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

    /// The intrinsics and the portable loops agree (to rounding: FMA rounds once) on random tiles of a
    /// random layer, with bias and ReLU, in both layouts of the input (packed tile and strided view).
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
        let (d_in, d_out) = (5, 4);
        let mask: Vec<f32> = (0..d_in * d_out).map(|_| f32::from(next() > -0.2)).collect();
        let l = CsrLayout::from_mask(d_in, d_out, &mask);
        let w: Vec<f32> = (0..d_in * d_out).map(|_| next()).collect();
        let (w_out, w_in) = (l.by_out.gather(&w), l.by_in.gather(&w));
        let x: Vec<f32> = (0..d_in * 40).map(|_| next()).collect();
        let dz: Vec<f32> = (0..d_out * TILE).map(|_| next()).collect();
        let bias: Vec<f32> = (0..d_out).map(|_| next()).collect();
        let close = |a: &[f32], b: &[f32], what: &str| {
            for (x, y) in a.iter().zip(b) {
                assert!((x - y).abs() <= 1e-5, "{what}: {a:?} vs {b:?}");
            }
        };
        let ep = Epilogue {
            bias: Some(&bias),
            relu: true,
        };
        for tile in [Tile::packed(&x[..d_in * TILE]), Tile { data: &x, stride: 40 }] {
            let (mut a, mut b) = (vec![0.0; d_out * TILE], vec![0.0; d_out * TILE]);
            portable::sums(
                &l.by_out,
                &w_out,
                tile,
                ep,
                TileMut {
                    data: as_uninit(&mut a),
                    stride: TILE,
                },
            );
            // SAFETY: the CPU has AVX2 and FMA (checked above).
            unsafe {
                avx2::sums(
                    &l.by_out,
                    &w_out,
                    tile,
                    ep,
                    TileMut {
                        data: as_uninit(&mut b),
                        stride: TILE,
                    },
                )
            };
            close(&a, &b, "sums");
            assert!(
                a.contains(&0.0) && a.iter().any(|&v| v > 0.0),
                "ReLU exercised: {a:?}"
            );

            let (mut xa, mut xb) = (vec![0.0; d_in * TILE], vec![0.0; d_in * TILE]);
            let (mut da, mut db) = (vec![0.5; d_in * d_out], vec![0.5; d_in * d_out]);
            let dzt = Tile::packed(&dz);
            fn out(v: &mut [f32]) -> Option<TileMut<'_>> {
                Some(TileMut {
                    data: as_uninit(v),
                    stride: TILE,
                })
            }
            portable::sums_dots(&l.by_in, &w_in, tile, dzt, out(&mut xa), &mut da);
            // SAFETY: as above.
            unsafe { avx2::sums_dots(&l.by_in, &w_in, tile, dzt, out(&mut xb), &mut db) };
            close(&xa, &xb, "dx");
            close(&da, &db, "dw");

            let (mut ga, mut gb) = (vec![0.0; d_out * TILE], vec![0.0; d_out * TILE]);
            portable::relu_grad(
                dzt,
                Tile::packed(&a),
                d_out,
                TileMut {
                    data: as_uninit(&mut ga),
                    stride: TILE,
                },
            );
            // SAFETY: as above.
            unsafe {
                avx2::relu_grad(
                    dzt,
                    Tile::packed(&a),
                    d_out,
                    TileMut {
                        data: as_uninit(&mut gb),
                        stride: TILE,
                    },
                )
            };
            assert_eq!(ga, gb);
            let (mut sa, mut sb) = (vec![1.0; d_out], vec![1.0; d_out]);
            portable::lane_sums(dzt, &mut sa);
            // SAFETY: as above.
            unsafe { avx2::lane_sums(dzt, &mut sb) };
            close(&sa, &sb, "lane sums");
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
