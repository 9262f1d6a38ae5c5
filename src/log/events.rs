//! Reads scalars back from a run's TensorBoard event files (the learning curves of a study): TFRecord
//! records (length, masked CRC-32C of the length, data, masked CRC-32C of the data) holding `Event` protos.
//! A resumed run has one file per process and repeats the steps after its checkpoint: the later file wins.

use std::path::Path;

use anyhow::{bail, Context, Result};
use protobuf::Message;
use tensorboard_proto::event::Event;

/// `(step, value)` of every scalar `tag` in the event files of `run_dir`, by step (one value per step).
pub fn read_scalars(run_dir: &Path, tag: &str) -> Result<Vec<(u64, f64)>> {
    let mut files: Vec<_> = std::fs::read_dir(run_dir)
        .with_context(|| format!("cannot list {}", run_dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with("events.out.tfevents."))
        })
        .collect();
    // File names start with the creation time (10 digits): in name order, later processes come last.
    files.sort();
    let mut by_step = std::collections::BTreeMap::new();
    for file in files {
        let bytes = std::fs::read(&file).with_context(|| format!("cannot read {}", file.display()))?;
        for record in records(&bytes).with_context(|| format!("TensorBoard file {}", file.display()))? {
            let event = Event::parse_from_bytes(record).with_context(|| format!("{}", file.display()))?;
            for v in event.get_summary().get_value() {
                if v.get_tag() == tag {
                    by_step.insert(event.get_step().max(0) as u64, f64::from(v.get_simple_value()));
                }
            }
        }
    }
    Ok(by_step.into_iter().collect())
}

/// The data of each record; a record cut short at the end (a run killed while writing) is left out.
fn records(bytes: &[u8]) -> Result<Vec<&[u8]>> {
    let mut out = Vec::new();
    let mut at = 0;
    while at + 12 <= bytes.len() {
        let len = u64::from_le_bytes(bytes[at..at + 8].try_into().expect("8 bytes"));
        let len_crc = u32::from_le_bytes(bytes[at + 8..at + 12].try_into().expect("4 bytes"));
        if len_crc != masked_crc32c(&bytes[at..at + 8]) {
            bail!("bad length checksum at byte {at}");
        }
        let Some(end) = usize::try_from(len).ok().and_then(|l| (at + 12).checked_add(l)) else {
            bail!("bad record length at byte {at}");
        };
        if end + 4 > bytes.len() {
            break;
        }
        let data = &bytes[at + 12..end];
        let data_crc = u32::from_le_bytes(bytes[end..end + 4].try_into().expect("4 bytes"));
        if data_crc != masked_crc32c(data) {
            bail!("bad data checksum at byte {at}");
        }
        out.push(data);
        at = end + 4;
    }
    Ok(out)
}

fn masked_crc32c(data: &[u8]) -> u32 {
    tensorboard_rs::masked_crc32c::masked_crc32c(data)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::log::tensorboard::Scalars;

    #[test]
    fn scalars_written_are_read_back_and_a_later_file_wins() {
        let dir = tempfile::tempdir().unwrap();
        let mut first = Scalars::new(dir.path()).unwrap();
        for (step, v) in [(10, 1.0), (20, 2.0), (30, 3.0)] {
            first.scalar("eval/return_mean", v, step).unwrap();
            first.scalar("other", -v, step).unwrap();
        }
        first.flush().unwrap();
        drop(first);
        let mut resumed = Scalars::new(dir.path()).unwrap();
        resumed.scalar("eval/return_mean", 2.5, 20).unwrap();
        resumed.flush().unwrap();
        drop(resumed);
        let got = read_scalars(dir.path(), "eval/return_mean").unwrap();
        assert_eq!(got, vec![(10, 1.0), (20, 2.5), (30, 3.0)]);
        assert!(read_scalars(dir.path(), "none").unwrap().is_empty());
    }
}
