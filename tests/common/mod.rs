//! Helpers shared by the end-to-end tests.

#![allow(dead_code)] // each test binary uses its own subset

use sparse_rl::config::Config;

/// A small DQN CartPole config that trains in a second or two.
pub fn tiny_dqn(extra: &str) -> Config {
    Config::parse(&tiny_dqn_text(extra), &[]).expect("tiny config is valid")
}

/// The text of [`tiny_dqn`], `extra` appended to its `[dqn]` table.
pub fn tiny_dqn_text(extra: &str) -> String {
    format!(
        "[run]\nalgo = \"dqn\"\nenv = \"CartPole-v1\"\ntotal_steps = 3000\nseed = 3\neval_interval = 1000\n\
         eval_episodes = 2\ncheckpoint_interval = 500\n\
         [dqn]\nlearning_starts = 500\ntrain_frequency = 2\ntarget_network_frequency = 100\nbatch_size = 32\n{extra}"
    )
}

/// A failed CLI call: non-zero exit and a one-line error that names each of `needles`.
pub fn assert_one_line_error(code: i32, err: &str, needles: &[&str]) {
    assert_ne!(code, 0, "exit code must be non-zero; stderr: {err}");
    assert_eq!(err.trim_end().lines().count(), 1, "one line expected, got: {err}");
    for n in needles {
        assert!(err.contains(n), "error should name {n:?}: {err}");
    }
}
