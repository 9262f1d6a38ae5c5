//! The per-module choice between the masked-dense product and the sparse kernels.

use serde::{Deserialize, Serialize};

/// `auto`'s rule comes from `benches/sparse_execution.rs` (flex, 2 cores, criterion medians): the sparse
/// path packs a layer's active weights at every call, a fixed cost that only enough rows repay, so the
/// density below which it wins grows with the rows of the call. For the 256 × 256 layer: one training step
/// at 256 rows breaks even between densities 0.45 and 0.6 (two runs of the bench), and the forward alone
/// at 256 rows is 1.7× faster sparse at 0.5; at 64 rows the forward is 1.6× slower sparse at 0.5 and 1.4×
/// faster at 0.2; at 16 rows even at 0.2 and 1.8× faster at 0.1; at 4 rows even only at 0.05; at one row
/// dense is faster at every density down to 0.05 (the README's speed section has the table).
///
/// Density at or below which `auto` runs a call of at least [`AUTO_FULL_ROWS`] rows sparse.
pub const AUTO_MAX_DENSITY: f64 = 0.5;

/// Rows from which [`AUTO_MAX_DENSITY`] applies.
pub const AUTO_FULL_ROWS: usize = 256;

/// Density at or below which `auto` runs a call of [`AUTO_MIN_ROWS`] to [`AUTO_FULL_ROWS`] rows sparse.
pub const AUTO_SMALL_BATCH_DENSITY: f64 = 0.2;

/// Rows below which `auto` keeps the dense product at any density (acting and evaluating at batch 1).
pub const AUTO_MIN_ROWS: usize = 16;

/// How a module's masked layers multiply by their weights.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Execution {
    /// `X · (W ⊙ M)` with burn's dense matmul, on every backend. A bare layer's default (targets and
    /// references built outside a module policy stay plain); module policies default to [`Self::Auto`].
    #[default]
    MaskedDense,
    /// The sparse kernels wherever the backend has them (flex), masked-dense elsewhere.
    Sparse,
    /// Sparse where the measurements above found it faster: at most [`AUTO_MAX_DENSITY`] with at least
    /// [`AUTO_FULL_ROWS`] rows, at most [`AUTO_SMALL_BATCH_DENSITY`] with [`AUTO_MIN_ROWS`] or more, never
    /// with fewer; on a backend with the sparse kernels (flex), masked-dense otherwise. A module policy's
    /// default: a sparse module runs where each of its products is faster.
    Auto,
}

impl Execution {
    /// Whether a call with `rows` input rows on a layer of `density` runs the sparse kernels.
    pub fn runs_sparse(self, density: f64, rows: usize) -> bool {
        match self {
            Execution::MaskedDense => false,
            Execution::Sparse => true,
            Execution::Auto if rows >= AUTO_FULL_ROWS => density <= AUTO_MAX_DENSITY,
            Execution::Auto if rows >= AUTO_MIN_ROWS => density <= AUTO_SMALL_BATCH_DENSITY,
            Execution::Auto => false,
        }
    }
}
