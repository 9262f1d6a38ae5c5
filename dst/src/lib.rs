//! The dynamic sparse training engine: knows nothing of RL.
//!
//! Masked layers ([`layers`]) keep a dense weight and a binary mask; the [`controller`] reads them as
//! backend-agnostic [`topology::LayerTopology`] host views, applies a module's [`policy`] (layer
//! [`density`], [`topology_init`], [`schedule`], [`prune`] and [`grow`] criteria) and the layers take
//! the result back; [`optim`] resets the optimizer moments of changed connections. [`evolve`] runs that
//! whole sequence on a set of layers; a [`module`] (encoder, critic, actor...) owns a network part's
//! policy, clock and gradient step.
//! [`execution`] runs masked linear layers with sparse kernels on the CPU, so sparsity saves wall-clock time.

pub mod adapt;
pub mod controller;
pub mod density;
pub mod diagonal;
pub mod error;
pub mod evolve;
pub mod execution;
mod flex;
pub mod flops;
pub mod grow;
pub mod inference;
pub mod layers;
pub mod module;
pub mod optim;
pub mod policy;
pub mod prune;
pub mod schedule;
pub mod select;
pub mod topology;
pub mod topology_init;

pub use controller::{LayerUpdate, SparsityController, UpdateReport};
pub use error::DstError;
pub use evolve::evolve;
pub use layers::{MaskedLinear, MaskedLinearConfig};
pub use optim::{check_inactive_zero, reset_moments, FusedAdam, MomentMask, MomentReset};
pub use policy::{PolicyKind, SparsityPolicy};
pub use topology::{LayerShape, LayerTopology, ParamLayout, SparseGrad, SparseLayer};
