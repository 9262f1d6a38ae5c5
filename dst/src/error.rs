//! The error type of the DST engine: every message names the key or layer and the bad value.

use std::fmt;

/// An invalid policy, a shape mismatch between a layer and its host view, or an unusable layer set.
#[derive(Debug, Clone, PartialEq)]
pub struct DstError(pub String);

impl DstError {
    /// Builds an error from any message.
    pub fn new(message: impl Into<String>) -> Self {
        Self(message.into())
    }
}

impl fmt::Display for DstError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for DstError {}

impl From<String> for DstError {
    fn from(message: String) -> Self {
        Self(message)
    }
}

impl From<&str> for DstError {
    fn from(message: &str) -> Self {
        Self(message.into())
    }
}

/// The agents' config checks speak `String`: `?` on a `DstError` there keeps its message.
impl From<DstError> for String {
    fn from(e: DstError) -> Self {
        e.0
    }
}
