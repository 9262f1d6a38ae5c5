//! DynaDiag: diagonally structured dynamic sparse training (Tyagi et al., ICML 2025, arXiv 2506.11449).
//!
//! [`DiagonalPattern`] is the geometry (which matrix entries belong to which diagonal),
//! [`DiagonalLinear`] the burn layer with its soft and frozen phases and diagonal-level prune and
//! regrow, [`TemperatureSchedule`] the cosine anneal that ends in the frozen phase, and
//! [`DiagonalSchedule`] the training schedule of a module of diagonal layers (anneal, freeze, then drop and
//! regrow under the module's policy). The plain-Rust
//! inference kernel of a frozen layer is [`crate::inference::DiagonalInference`].

mod layer;
mod pattern;
mod phase;
mod schedule;
mod training;

pub use layer::{DiagonalLinear, DiagonalLinearConfig, DiagonalRegrow, DiagonalUpdate};
pub use pattern::DiagonalPattern;
pub use phase::{Phase, PhaseState};
pub use schedule::TemperatureSchedule;
pub use training::{DiagonalSchedule, DiagonalStep};
