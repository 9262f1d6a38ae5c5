//! The networks of the agents, each split into the modules that MST gives their own sparsity policy:
//! an encoder (vector: [`Mlp`], pixels: [`ConvEncoder`]), a critic and an actor.

pub mod mlp;

pub use mlp::{Mlp, MlpConfig};
