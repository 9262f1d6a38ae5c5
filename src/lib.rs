//! sparse-rl: the CLI's library part (config, run loop, logging, checkpoints, studies), over the `envs`,
//! `dst` and `agents` crates.

pub mod algorithms;
pub mod backend;
pub mod checkpoint;
pub mod config;
pub mod denormals;
pub mod driver;
pub mod export;
pub mod gan_run;
pub mod log;
pub mod marl_run;
pub mod memory;
pub mod run;
pub mod run_dir;
pub mod study;
