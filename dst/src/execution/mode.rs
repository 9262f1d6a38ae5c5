//! The per-module choice between the masked-dense product and the sparse kernels.

use serde::{Deserialize, Serialize};

/// Densities at or below which `auto` runs a layer sparse, from `benches/sparse_execution.rs` (one training
/// step of the 4-256-256-1 critic at batch 256 on flex, 2 cores, criterion medians). Two runs of that bench
/// (their figures are in the README's speed section) put the crossover between densities 0.45 and 0.6; at
/// 0.5 the two paths are within 20% of each other either way, while below 0.4 sparse won by 2× or more in
/// both.
pub const AUTO_MAX_DENSITY: f64 = 0.5;

/// Rows (batch × positions) below which `auto` keeps the dense product: with a handful of rows the
/// fixed cost of the host round trip (transposes, a new tensor) outweighs the saved products.
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
    /// Sparse when the layer's density is at most [`AUTO_MAX_DENSITY`] and the call has at least
    /// [`AUTO_MIN_ROWS`] rows, on a backend with the sparse kernels (flex); masked-dense otherwise. A
    /// module policy's default: a sparse module runs where each of its products is faster.
    Auto,
}

impl Execution {
    /// Whether a call with `rows` input rows on a layer of `density` runs the sparse kernels.
    pub fn runs_sparse(self, density: f64, rows: usize) -> bool {
        match self {
            Execution::MaskedDense => false,
            Execution::Sparse => true,
            Execution::Auto => density <= AUTO_MAX_DENSITY && rows >= AUTO_MIN_ROWS,
        }
    }
}
