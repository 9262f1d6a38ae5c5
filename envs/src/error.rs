//! The one error type of the crate: a message that names the environment and the bad value.

use std::fmt;

/// An environment refused a call (bad action, unknown id, step after the episode ended...).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnvError {
    message: String,
}

impl EnvError {
    /// An error whose message starts with the env id, e.g. `CartPole-v1: action 3 is outside Discrete(2)`.
    pub fn new(env: &str, message: impl fmt::Display) -> Self {
        Self {
            message: format!("{env}: {message}"),
        }
    }
}

impl fmt::Display for EnvError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for EnvError {}

pub type Result<T> = std::result::Result<T, EnvError>;
