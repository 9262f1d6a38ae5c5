//! Geometry of DynaDiag's (wrapped) diagonals, shared by the burn layer and the plain-Rust kernel.
//!
//! Convention of the authors' code (horizon-research/DynaDiag, `MLP/linear_softmax.py`,
//! `get_mask_pseudo_diagonal_torch` and `_precompute_diag_indices`): a weight with `m = out` rows and
//! `n = in` columns has `P = max(m, n)` candidate diagonals of length `D = min(m, n)`. Element `t` of
//! diagonal `p` sits at row `(t + p) mod m`, column `t` when `m ≥ n`, and at row `t`, column
//! `(t + p) mod n` when `m < n`. The `P` diagonals partition the matrix (`P · D = m · n`).

use crate::error::DstError;

/// The diagonal geometry of one `[out × in]` weight.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DiagonalPattern {
    out_features: usize,
    in_features: usize,
}

impl DiagonalPattern {
    /// The geometry of a weight with `out_features` rows and `in_features` columns.
    pub fn new(out_features: usize, in_features: usize) -> Result<Self, DstError> {
        if out_features == 0 || in_features == 0 {
            return Err(format!(
                "diagonal layer needs out_features ≥ 1 and in_features ≥ 1, got out_features = \
                 {out_features}, in_features = {in_features}"
            )
            .into());
        }
        Ok(Self {
            out_features,
            in_features,
        })
    }

    /// Rows of the weight (`m`).
    pub fn out_features(&self) -> usize {
        self.out_features
    }

    /// Columns of the weight (`n`).
    pub fn in_features(&self) -> usize {
        self.in_features
    }

    /// Number of candidate diagonals `P = max(m, n)`.
    pub fn num_diagonals(&self) -> usize {
        self.out_features.max(self.in_features)
    }

    /// Length of every diagonal `D = min(m, n)`.
    pub fn diagonal_len(&self) -> usize {
        self.out_features.min(self.in_features)
    }

    /// True when the offset runs along the rows (`m ≥ n`), false when it runs along the columns.
    pub fn offsets_rows(&self) -> bool {
        self.out_features >= self.in_features
    }

    /// Active diagonals for a target density: `K = max(1, ⌈density · m · n / D⌉)`, capped at `P`.
    /// (docs/methods.md; the authors' `TempSoftmaxDiagLinear` computes `⌈int((1 − s) · m · n) / D⌉`.)
    pub fn active_for_density(&self, density: f64) -> Result<usize, DstError> {
        if !(density > 0.0 && density <= 1.0) {
            return Err(format!("diagonal density must lie in (0, 1], got density = {density}").into());
        }
        let total = (self.out_features * self.in_features) as f64;
        // The small slack keeps e.g. 0.1 · 100 · 100 / 100 = 10.000000000000002 from rounding up to 11.
        let k = (density * total / self.diagonal_len() as f64 - 1e-9).ceil() as usize;
        Ok(k.clamp(1, self.num_diagonals()))
    }

    /// `(row, column)` of element `t` of diagonal `p`.
    pub fn position(&self, p: usize, t: usize) -> (usize, usize) {
        if self.offsets_rows() {
            ((t + p) % self.out_features, t)
        } else {
            (t, (t + p) % self.in_features)
        }
    }

    /// Row-major `[m × n]` boolean mask of the given diagonals.
    pub fn dense_mask(&self, diagonals: &[usize]) -> Vec<bool> {
        let mut mask = vec![false; self.out_features * self.in_features];
        for &p in diagonals {
            for t in 0..self.diagonal_len() {
                let (r, c) = self.position(p, t);
                mask[r * self.in_features + c] = true;
            }
        }
        mask
    }

    /// Scatter diagonal values `values[k · D + t]` of `diagonals[k]` into a row-major `[m × n]` weight
    /// (zero elsewhere).
    pub fn to_dense(&self, diagonals: &[usize], values: &[f32]) -> Vec<f32> {
        let d = self.diagonal_len();
        assert_eq!(
            values.len(),
            diagonals.len() * d,
            "one row of D values per diagonal"
        );
        let mut weight = vec![0.0; self.out_features * self.in_features];
        for (k, &p) in diagonals.iter().enumerate() {
            for t in 0..d {
                let (r, c) = self.position(p, t);
                weight[r * self.in_features + c] = values[k * d + t];
            }
        }
        weight
    }

    /// Check that every id names a distinct diagonal below `P`.
    pub fn check_diagonals(&self, diagonals: &[usize]) -> Result<(), DstError> {
        let mut seen = vec![false; self.num_diagonals()];
        for &p in diagonals {
            if p >= self.num_diagonals() {
                return Err(format!("diagonal id {p} out of range (P = {})", self.num_diagonals()).into());
            }
            if std::mem::replace(&mut seen[p], true) {
                return Err(format!("diagonal id {p} listed twice").into());
            }
        }
        Ok(())
    }
}
