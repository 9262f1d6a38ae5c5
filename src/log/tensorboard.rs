//! TensorBoard scalars through tensorboard-rs: real `events.out.tfevents.*` files (TFRecord framing with
//! masked CRC32C, `Event` protos with `simple_value` summaries) that TensorBoard itself reads.

use std::path::Path;

use tensorboard_rs::summary_writer::SummaryWriter;

/// Scalar logger of one run; the x axis is environment steps.
pub struct Scalars {
    writer: SummaryWriter,
}

impl Scalars {
    /// Starts a new event file in `dir` (a resumed run adds a second file; TensorBoard merges them).
    pub fn new(dir: &Path) -> Self {
        Self {
            writer: SummaryWriter::new(dir),
        }
    }

    pub fn scalar(&mut self, tag: &str, value: f64, step: usize) {
        self.writer.add_scalar(tag, value as f32, step);
    }

    pub fn flush(&mut self) {
        self.writer.flush();
    }
}
