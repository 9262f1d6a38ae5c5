//! The sparse layer `y = act(x · (W ⊙ M) + b)` and its backward, driven tile by tile over the batch.
//!
//! Activations come and go in one of two host layouts ([`Host`]). Row-major is what every burn op makes;
//! each tile of it is transposed into an L1 buffer before the products and transposed back after. Between
//! two sparse layers of an MLP that round trip is pure overhead (it cost as much as the products),
//! so a hidden layer can hand its output on feature-major ([`Host::FeatureMajor`]): the next layer reads
//! its tiles in place, the bias and ReLU are applied to the output lanes while they are in registers, and
//! the gradient flowing back between the two layers stays feature-major too.

use std::mem::MaybeUninit;

pub(crate) use super::kernel::Epilogue;
use super::kernel::{as_uninit, kernels, load_tile, Kernels, Tile, TileMut, TILE};
use super::layout::Compressed;

/// A `[rows, width]` activation in a host buffer.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Host<'a> {
    /// Row-major.
    RowMajor(&'a [f32]),
    /// Feature-major: value `(b, c)` at `c · stride + b`, `stride` ≥ rows rounded up to [`TILE`], zeros in
    /// the padding lanes up to that round number.
    FeatureMajor { data: &'a [f32], stride: usize },
}

impl<'a> Host<'a> {
    /// The scratch [`Host::tile`] needs for a `width`-feature activation: a tile buffer when row-major,
    /// nothing when feature-major.
    fn scratch(&self, width: usize) -> Vec<f32> {
        match self {
            Host::RowMajor(_) => vec![0.0; width * TILE],
            Host::FeatureMajor { .. } => Vec::new(),
        }
    }

    /// Rows `b0..b0 + TILE` as a tile: in place when feature-major, else transposed into `scratch`
    /// (`width · TILE` values).
    fn tile<'s>(&self, k: &Kernels, width: usize, b0: usize, scratch: &'s mut [f32]) -> Tile<'s>
    where
        'a: 's,
    {
        match *self {
            Host::RowMajor(x) => {
                load_tile(k, x, width, b0, scratch);
                Tile::packed(scratch)
            }
            Host::FeatureMajor { data, stride } => Tile {
                data: &data[b0..],
                stride,
            },
        }
    }
}

/// The lane stride of a feature-major activation of `rows` rows: whole tiles plus one cache line. A stride
/// of a power of two (256 rows = 1 KiB) would map every feature's lanes to the same few L1 sets; the extra
/// line spreads them. (A precaution: at batch 256 the two strides measured within noise of each other.)
pub(crate) fn feature_stride(rows: usize) -> usize {
    rows.div_ceil(TILE) * TILE + 16
}

/// Where a product's `[rows, width]` result goes, one tile of output lanes at a time. Neither kind is
/// zeroed first: the kernels write every lane of every feature of each tile, [`Sink::end_tile`] zeroes
/// the lanes past the last row and [`Sink::finish`] the rest of the padding.
enum Sink {
    RowMajor {
        out: Vec<f32>,
        tile: Vec<f32>,
        width: usize,
    },
    FeatureMajor {
        data: Vec<f32>,
        stride: usize,
        width: usize,
        rows: usize,
        /// Rows written so far.
        done: usize,
    },
}

/// A finished result: its values and, when feature-major, the lane stride.
pub(crate) struct Result {
    pub values: Vec<f32>,
    pub stride: Option<usize>,
}

impl Sink {
    fn new(rows: usize, width: usize, feature_major: bool) -> Self {
        if feature_major {
            let stride = feature_stride(rows);
            Sink::FeatureMajor {
                data: Vec::with_capacity(width * stride),
                stride,
                width,
                rows,
                done: 0,
            }
        } else {
            Sink::RowMajor {
                out: Vec::with_capacity(rows * width),
                tile: vec![0.0; width * TILE],
                width,
            }
        }
    }

    /// Where the kernels write the tile at `b0`.
    fn target(&mut self, b0: usize) -> TileMut<'_> {
        match self {
            Sink::RowMajor { tile, .. } => TileMut {
                data: as_uninit(tile),
                stride: TILE,
            },
            Sink::FeatureMajor { data, stride, .. } => TileMut {
                data: &mut data.spare_capacity_mut()[b0..],
                stride: *stride,
            },
        }
    }

    /// Ends the tile at `b0` (its `width` features all written by a kernel).
    fn end_tile(&mut self, k: &Kernels, b0: usize) {
        match self {
            Sink::RowMajor { out, tile, width } => {
                let (w, rows) = (*width, out.capacity() / *width);
                let filled = (rows - b0).min(TILE);
                assert_eq!(out.len(), b0 * w, "tiles are stored in order");
                (k.transpose)(
                    tile,
                    TILE,
                    &mut out.spare_capacity_mut()[..filled * w],
                    w,
                    w,
                    filled,
                );
                // SAFETY: the transpose wrote all `filled · w` elements after `out.len()`, inside the
                // capacity reserved in `new`.
                unsafe { out.set_len((b0 + filled) * w) };
            }
            Sink::FeatureMajor {
                data,
                stride,
                width,
                rows,
                done,
            } => {
                assert_eq!(*done, b0, "tiles are stored in order");
                let filled = (*rows - b0).min(TILE);
                let spare = data.spare_capacity_mut();
                for c in 0..*width {
                    spare[c * *stride + b0 + filled..c * *stride + b0 + TILE].fill(MaybeUninit::new(0.0));
                }
                *done = b0 + filled;
            }
        }
    }

    fn finish(self) -> Result {
        match self {
            Sink::RowMajor { out, .. } => {
                assert_eq!(out.len(), out.capacity(), "every row stored");
                Result {
                    values: out,
                    stride: None,
                }
            }
            Sink::FeatureMajor {
                mut data,
                stride,
                width,
                rows,
                done,
            } => {
                assert_eq!(done, rows, "every tile stored");
                let padded = rows.div_ceil(TILE) * TILE;
                let spare = data.spare_capacity_mut();
                for c in 0..width {
                    spare[c * stride + padded..(c + 1) * stride].fill(MaybeUninit::new(0.0));
                }
                // SAFETY: every feature's lanes `0..padded` were written tile by tile (the kernels write
                // all TILE lanes of all `width` features, `end_tile` the lanes past the last row; `done`
                // checks every tile came), and `padded..stride` just above.
                unsafe { data.set_len(width * stride) };
                Result {
                    values: data,
                    stride: Some(stride),
                }
            }
        }
    }
}

/// `y[b, o] = act(Σ_k values[k] · x[b, idx[k]] + bias[o])` over the entries `k` of output `o` in
/// `by_out`, for `rows` rows of `x` (`d_in` wide); `y` feature-major when `feature_major`.
pub(crate) fn forward(
    by_out: &Compressed,
    values: &[f32],
    x: Host,
    rows: usize,
    d_in: usize,
    epilogue: Epilogue,
    feature_major: bool,
) -> Result {
    let k = kernels();
    let d_out = by_out.ptr.len() - 1;
    let mut y = Sink::new(rows, d_out, feature_major);
    let mut scratch = x.scratch(d_in);
    for b0 in (0..rows).step_by(TILE) {
        let tile = x.tile(&k, d_in, b0, &mut scratch);
        (k.sums)(by_out, values, tile, epilogue, y.target(b0));
        y.end_tile(&k, b0);
    }
    y.finish()
}

/// The gradients [`backward`] computes.
pub(crate) struct Grads {
    /// `dx = dz · (W ⊙ M)ᵀ`, in the layout asked for.
    pub dx: Option<Result>,
    /// The dense-shaped weight gradient, `xᵀ · dz` at the active connections and zero elsewhere.
    pub dw: Option<Vec<f32>>,
    /// `Σ_b dz[b, o]`.
    pub db: Option<Vec<f32>>,
}

/// Which gradients [`backward`] computes.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Wanted {
    /// `dx`, and whether feature-major.
    pub dx: Option<bool>,
    pub dw: bool,
    pub db: bool,
}

/// The backward of [`forward`]: with `dz = dy ⊙ [y > 0]` when the forward applied ReLU (`y` its output)
/// and `dz = dy` otherwise, the gradients `wanted` in one pass over the batch tiles. Each tile of `dz` is
/// read once for all of them, and `dx` and `dW` come from the same lane loads; only `nnz` products per
/// row are computed. `by_in` groups the active connections by input, `w_in` their weights.
#[allow(clippy::too_many_arguments)] // the two layouts and the shape are all needed; a struct would only rename them
pub(crate) fn backward(
    by_in: &Compressed,
    w_in: &[f32],
    x: Host,
    relu_output: Option<Host>,
    dy: Host,
    rows: usize,
    [d_in, d_out]: [usize; 2],
    wanted: Wanted,
) -> Grads {
    let k = kernels();
    let mut dx = wanted.dx.map(|fm| Sink::new(rows, d_in, fm));
    let mut dw = wanted.dw.then(|| vec![0.0; d_in * d_out]);
    let mut db = wanted.db.then(|| vec![0.0; d_out]);
    // Scratch tiles, only for what has to be transposed or masked.
    let mut x_s = if wanted.dw { x.scratch(d_in) } else { Vec::new() };
    let mut dy_s = dy.scratch(d_out);
    let mut y_s = relu_output.map_or_else(Vec::new, |y| y.scratch(d_out));
    let mut dz_s = vec![0.0; if relu_output.is_some() { d_out * TILE } else { 0 }];
    for b0 in (0..rows).step_by(TILE) {
        let dyt = dy.tile(&k, d_out, b0, &mut dy_s);
        let dz = match relu_output {
            Some(y) => {
                let yt = y.tile(&k, d_out, b0, &mut y_s);
                let out = TileMut {
                    data: as_uninit(&mut dz_s),
                    stride: TILE,
                };
                (k.relu_grad)(dyt, yt, d_out, out);
                Tile::packed(&dz_s)
            }
            None => dyt,
        };
        if let Some(db) = db.as_mut() {
            // Lanes past the last row are zero in both layouts.
            (k.lane_sums)(dz, db);
        }
        match (dw.as_mut(), dx.as_mut()) {
            (Some(dw), dx) => {
                let xt = x.tile(&k, d_in, b0, &mut x_s);
                (k.sums_dots)(by_in, w_in, xt, dz, dx.map(|s| s.target(b0)), dw);
            }
            (None, Some(dx)) => (k.sums)(by_in, w_in, dz, Epilogue::default(), dx.target(b0)),
            (None, None) => {}
        }
        if let Some(dx) = dx.as_mut() {
            dx.end_tile(&k, b0);
        }
    }
    Grads {
        dx: dx.map(Sink::finish),
        dw,
        db,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::execution::CsrLayout;

    /// A row-major `[rows, width]` copy of a feature-major buffer.
    fn row_major(data: &[f32], stride: usize, rows: usize, width: usize) -> Vec<f32> {
        let mut out = vec![0.0; rows * width];
        (kernels().transpose)(data, stride, as_uninit(&mut out), width, width, rows);
        out
    }

    const NONE: Epilogue = Epilogue {
        bias: None,
        relu: false,
    };

    #[test]
    fn forward_and_backward_on_a_small_layer() {
        // [d_in = 2, d_out = 2], active (0,0), (1,0), (1,1); one batch row.
        let l = CsrLayout::from_mask(2, 2, &[1., 0., 1., 1.]);
        let w = [2., 99., 3., 4.];
        let y = forward(
            &l.by_out,
            &l.by_out.gather(&w),
            Host::RowMajor(&[1., 10.]),
            1,
            2,
            NONE,
            false,
        );
        assert_eq!(y.values, vec![2. + 30., 40.]);
        let wanted = Wanted {
            dx: Some(false),
            dw: true,
            db: true,
        };
        let x = Host::RowMajor(&[1., 10.]);
        let g = backward(
            &l.by_in,
            &l.by_in.gather(&w),
            x,
            None,
            Host::RowMajor(&[5., 7.]),
            1,
            [2, 2],
            wanted,
        );
        assert_eq!(g.dw, Some(vec![5., 0., 50., 70.]));
        // dx = dy · (W ⊙ M)ᵀ: dx[0] = 5·2, dx[1] = 5·3 + 7·4.
        assert_eq!(g.dx.map(|r| r.values), Some(vec![10., 43.]));
        assert_eq!(g.db, Some(vec![5., 7.]));
    }

    /// 70 rows (two full tiles and 6 rows) through both layouts, with bias and ReLU: the feature-major
    /// result is the row-major one transposed with zero padding, and the backward gives the same
    /// gradients from either layout, each equal to a direct computation.
    #[test]
    fn both_layouts_agree_across_full_and_partial_tiles() {
        // y[b, 0] = relu(2·x[b, 1] − 60), y[b, 1] = relu(x[b, 0] + x[b, 2] − 60).
        let l = CsrLayout::from_mask(3, 2, &[0., 1., 1., 0., 0., 1.]);
        let w = [0., 1., 2., 0., 0., 1.];
        let rows = 70;
        let x: Vec<f32> = (0..rows * 3).map(|v| (v % 50) as f32).collect();
        let bias = [-60., -60.];
        let ep = Epilogue {
            bias: Some(&bias),
            relu: true,
        };
        let w_out = l.by_out.gather(&w);
        let rm = forward(&l.by_out, &w_out, Host::RowMajor(&x), rows, 3, ep, false);
        let fm = forward(&l.by_out, &w_out, Host::RowMajor(&x), rows, 3, ep, true);
        let stride = fm.stride.expect("feature-major");
        assert_eq!(stride, feature_stride(rows));
        for b in 0..rows {
            let expect = [
                (2. * x[b * 3 + 1] - 60f32).max(0.),
                (x[b * 3] + x[b * 3 + 2] - 60f32).max(0.),
            ];
            assert_eq!(&rm.values[b * 2..b * 2 + 2], &expect);
        }
        assert_eq!(row_major(&fm.values, stride, rows, 2), rm.values);
        assert!(fm.values[rows..stride]
            .iter()
            .chain(&fm.values[stride + rows..])
            .all(|&v| v == 0.0));

        let dy: Vec<f32> = (0..rows * 2).map(|v| (v % 7) as f32 - 3.).collect();
        let mut dy_fm = vec![0.0; 2 * stride];
        for b in 0..rows {
            for o in 0..2 {
                dy_fm[o * stride + b] = dy[b * 2 + o];
            }
        }
        let dz = |b: usize, o: usize| {
            if rm.values[b * 2 + o] > 0. {
                dy[b * 2 + o]
            } else {
                0.
            }
        };
        let wanted = |fm| Wanted {
            dx: Some(fm),
            dw: true,
            db: true,
        };
        let w_in = l.by_in.gather(&w);
        let grads = |y: Host, dy: Host, wanted: Wanted| {
            backward(
                &l.by_in,
                &w_in,
                Host::RowMajor(&x),
                Some(y),
                dy,
                rows,
                [3, 2],
                wanted,
            )
        };
        let from_rm = grads(Host::RowMajor(&rm.values), Host::RowMajor(&dy), wanted(false));
        let y_fm = Host::FeatureMajor {
            data: &fm.values,
            stride,
        };
        let dy_host = Host::FeatureMajor { data: &dy_fm, stride };
        let from_fm = grads(y_fm, dy_host, wanted(true));
        let expect_dw = |i: usize, o: usize| (0..rows).map(|b| x[b * 3 + i] * dz(b, o)).sum::<f32>();
        let dw = vec![0., expect_dw(0, 1), expect_dw(1, 0), 0., 0., expect_dw(2, 1)];
        assert_eq!(from_rm.dw.as_ref(), Some(&dw));
        assert_eq!(from_fm.dw.as_ref(), Some(&dw));
        let db: Vec<f32> = (0..2).map(|o| (0..rows).map(|b| dz(b, o)).sum()).collect();
        assert_eq!((from_rm.db.as_ref(), from_fm.db.as_ref()), (Some(&db), Some(&db)));
        let dx_rm = from_rm.dx.expect("dx").values;
        for b in 0..rows {
            assert_eq!(&dx_rm[b * 3..b * 3 + 3], &[dz(b, 1), 2. * dz(b, 0), dz(b, 1)]);
        }
        let dx_fm = from_fm.dx.expect("dx");
        assert_eq!(row_major(&dx_fm.values, stride, rows, 3), dx_rm);
        // Asking for fewer gradients gives the same values.
        let only_dw = Wanted {
            dx: None,
            dw: true,
            db: false,
        };
        let g = grads(y_fm, dy_host, only_dw);
        assert!(g.dx.is_none() && g.db.is_none());
        assert_eq!(g.dw, Some(dw));
    }
}
