//! sparse-rl: the CLI's library part (config, run loop, logging, checkpoints), over the `envs`, `dst` and
//! `agents` crates.

pub mod backend;
pub mod checkpoint;
pub mod config;
pub mod log;
pub mod marl_run;
pub mod run;
