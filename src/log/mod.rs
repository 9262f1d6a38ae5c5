//! What a run writes for people and scripts: TensorBoard scalars, the progress bar, `summary.json`.

pub mod progress;
pub mod summary;
pub mod tensorboard;
