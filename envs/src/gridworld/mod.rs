//! Multi-agent gridworlds (filled in by the gridworld work).

use crate::MultiAgentEnv;

/// Registered multi-agent ids.
pub fn ids() -> Vec<String> {
    Vec::new()
}

/// Builds a registered gridworld.
pub fn make(_id: &str) -> Option<Box<dyn MultiAgentEnv>> {
    None
}
