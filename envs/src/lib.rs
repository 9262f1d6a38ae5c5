//! Environments for sparse-rl, pure Rust and free of burn.
//!
//! - Single-agent classic control with Gymnasium 1.x dynamics ([`Env`], [`make`]).
//! - Any installed Gymnasium env by `gym:<id>`, through a Python worker process ([`gym`], cargo feature
//!   `gym`).
//! - Multi-agent gridworlds with a parallel API ([`MultiAgentEnv`], [`make_multi_agent`]).
//! - For one's own agents: vector envs with Gymnasium's same-step autoreset ([`SyncVectorEnv`],
//!   [`ParallelVectorEnv`]) and Gymnasium's wrappers ([`wrappers`]); the CLI's agents act on one env at a
//!   time and use only the time limit and pixel wrappers. `examples/vector_rollouts.rs` puts them together.

mod env;
mod error;
mod multi_agent;
mod space;

pub use env::{Env, Info, Obs, Step};
pub use error::{EnvError, Result};
pub use multi_agent::{MaObs, MaStep, MultiAgentEnv};
pub use space::{Action, Space};
pub use vector::{AutoResetStep, ParallelVectorEnv, SyncVectorEnv, VectorEnv};

pub mod classic;
pub mod gridworld;
#[cfg(feature = "gym")]
pub mod gym;
mod registry;
pub mod vector;
pub mod wrappers;

pub use registry::{is_multi_agent, make, make_multi_agent, registered, EnvSpec, GYM_PREFIX};
