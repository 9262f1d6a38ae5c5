//! What a run writes for people and scripts: TensorBoard scalars, the progress bar, `summary.json`; and
//! the scalars read back for a study's learning curves.

pub mod events;
pub mod progress;
pub mod summary;
pub mod tensorboard;
