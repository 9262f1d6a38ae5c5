//! TensorBoard scalars: real `events.out.tfevents.*` files (TFRecord framing with masked CRC32C, `Event`
//! protos with `simple_value` summaries) that TensorBoard itself reads. The framing and the summary protos
//! are tensorboard-rs's; the file is written here, because tensorboard-rs's writer thread panics on a
//! write error (a full disk), where a run must stop with an error naming the file.

use std::fs::File;
use std::io::BufWriter;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use protobuf::Message;
use tensorboard_proto::event::Event;
use tensorboard_rs::record_writer::RecordWriter;

/// Scalar logger of one run; the x axis is environment steps.
pub struct Scalars {
    path: PathBuf,
    writer: RecordWriter<BufWriter<File>>,
}

impl Scalars {
    /// Starts a new event file in `dir` (a resumed run adds a second file; TensorBoard merges them).
    pub fn new(dir: &Path) -> Result<Self> {
        let now = wall_time();
        let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
            .map(|h| h.trim().to_string())
            .ok()
            .filter(|h| !h.is_empty())
            .unwrap_or_else(|| "localhost".into());
        // A second writer in the same second and process (an in-process resume) takes the next suffix
        // rather than truncating the first file.
        let mut k = 0;
        let (path, file) = loop {
            let name = format!(
                "events.out.tfevents.{:010}.{host}.{}.{k}",
                now as u64,
                std::process::id()
            );
            let path = dir.join(name);
            match std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(&path)
            {
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => k += 1,
                opened => {
                    break (
                        path.clone(),
                        opened.with_context(|| format!("cannot create {}", path.display()))?,
                    )
                }
            }
        };
        let mut scalars = Self {
            path,
            writer: RecordWriter::new(BufWriter::new(file)),
        };
        let mut event = Event::new();
        event.set_wall_time(now);
        event.set_file_version("brain.Event:2".to_string());
        scalars.write(&event)?;
        scalars.flush()?;
        Ok(scalars)
    }

    pub fn scalar(&mut self, tag: &str, value: f64, step: usize) -> Result<()> {
        let mut event = Event::new();
        event.set_wall_time(wall_time());
        event.set_step(step as i64);
        event.set_summary(tensorboard_rs::summary::scalar(tag, value as f32));
        self.write(&event)
    }

    pub fn flush(&mut self) -> Result<()> {
        self.writer
            .flush()
            .with_context(|| format!("cannot write TensorBoard events to {}", self.path.display()))
    }

    fn write(&mut self, event: &Event) -> Result<()> {
        let bytes = event
            .write_to_bytes()
            .context("cannot encode a TensorBoard event")?;
        self.writer
            .write(&bytes)
            .with_context(|| format!("cannot write TensorBoard events to {}", self.path.display()))
    }
}

fn wall_time() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}
