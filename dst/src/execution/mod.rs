//! Sparse execution of masked linear layers on the CPU: `Y = X · (W ⊙ M)` and its backward computed over the
//! active connections only, so a 90 %-sparse layer costs about a tenth of the dense products
//! instead of a dense product plus a mask product.
//!
//! The layout ([`CsrLayout`]) is built from the mask and cached per layer ([`LayoutCache`]); the kernels
//! ([`kernel`]) work on feature-major batch tiles, driven layer by layer by [`product`], which also fuses
//! the bias and ReLU and keeps an MLP's hidden activations feature-major between sparse layers;
//! [`autodiff`] wires them into burn's autodiff as one custom operation with its own backward
//! (burn-autodiff's `Backward` trait, as `float_matmul` is). The path
//! exists for the `flex` backend (the project's default CPU backend, whose tensors expose their host
//! storage); every other backend keeps the masked-dense product ([`Execution`]).

mod autodiff;
mod cache;
mod kernel;
mod layout;
mod mode;
mod product;

pub use cache::LayoutCache;
pub use layout::{Compressed, CsrLayout};
pub use mode::{Execution, AUTO_FULL_ROWS, AUTO_MAX_DENSITY, AUTO_MIN_ROWS, AUTO_SMALL_BATCH_DENSITY};

pub(crate) use autodiff::{sparse_linear, Fuse};
