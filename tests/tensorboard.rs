//! The event files a run writes are real TensorBoard files: TFRecord framing with masked CRC32C around
//! `Event` protos whose summaries hold `simple_value` scalars. Checked by our own parser, and by Python's
//! `tensorboard` package (`EventAccumulator`) where it is installed.

mod common;

use std::collections::BTreeMap;
use std::path::Path;

/// CRC-32C (Castagnoli), bitwise.
fn crc32c(data: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &b in data {
        crc ^= b as u32;
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0x82F6_3B78
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

fn masked_crc(data: &[u8]) -> u32 {
    let c = crc32c(data);
    (c.rotate_right(15)).wrapping_add(0xa282_ead8)
}

/// Splits a TFRecord file into its records, checking both CRCs of each.
fn records(bytes: &[u8]) -> Vec<&[u8]> {
    let mut out = Vec::new();
    let mut at = 0;
    while at < bytes.len() {
        let header = &bytes[at..at + 8];
        let len = u64::from_le_bytes(header.try_into().unwrap()) as usize;
        let len_crc = u32::from_le_bytes(bytes[at + 8..at + 12].try_into().unwrap());
        assert_eq!(len_crc, masked_crc(header), "length CRC at byte {at}");
        let data = &bytes[at + 12..at + 12 + len];
        let data_crc = u32::from_le_bytes(bytes[at + 12 + len..at + 16 + len].try_into().unwrap());
        assert_eq!(data_crc, masked_crc(data), "data CRC at byte {at}");
        out.push(data);
        at += 16 + len;
    }
    out
}

fn varint(b: &[u8], at: &mut usize) -> u64 {
    let mut v = 0u64;
    let mut shift = 0;
    loop {
        let byte = b[*at];
        *at += 1;
        v |= ((byte & 0x7f) as u64) << shift;
        if byte & 0x80 == 0 {
            return v;
        }
        shift += 7;
    }
}

/// Protobuf fields of a message: (field number, wire type, payload bytes or varint value).
fn fields(b: &[u8]) -> Vec<(u64, u64, Vec<u8>, u64)> {
    let mut at = 0;
    let mut out = Vec::new();
    while at < b.len() {
        let key = varint(b, &mut at);
        let (field, wire) = (key >> 3, key & 7);
        match wire {
            0 => out.push((field, wire, Vec::new(), varint(b, &mut at))),
            1 => {
                out.push((field, wire, b[at..at + 8].to_vec(), 0));
                at += 8;
            }
            2 => {
                let len = varint(b, &mut at) as usize;
                out.push((field, wire, b[at..at + len].to_vec(), 0));
                at += len;
            }
            5 => {
                out.push((field, wire, b[at..at + 4].to_vec(), 0));
                at += 4;
            }
            w => panic!("unexpected wire type {w}"),
        }
    }
    out
}

/// tag → [(step, value)] from an event file.
fn scalars(path: &Path) -> BTreeMap<String, Vec<(i64, f32)>> {
    let bytes = std::fs::read(path).unwrap();
    let mut out: BTreeMap<String, Vec<(i64, f32)>> = BTreeMap::new();
    for (i, rec) in records(&bytes).into_iter().enumerate() {
        let event = fields(rec);
        if i == 0 {
            let version = event
                .iter()
                .find(|f| f.0 == 3)
                .expect("first event holds file_version");
            assert!(String::from_utf8_lossy(&version.2).starts_with("brain.Event:"));
            continue;
        }
        let step = event.iter().find(|f| f.0 == 2).map_or(0, |f| f.3 as i64);
        for summary in event.iter().filter(|f| f.0 == 5) {
            for value in fields(&summary.2).into_iter().filter(|f| f.0 == 1) {
                let v = fields(&value.2);
                let tag = String::from_utf8(v.iter().find(|f| f.0 == 1).unwrap().2.clone()).unwrap();
                let x = v.iter().find(|f| f.0 == 2 && f.1 == 5).expect("simple_value");
                out.entry(tag)
                    .or_default()
                    .push((step, f32::from_le_bytes(x.2[..4].try_into().unwrap())));
            }
        }
    }
    out
}

#[test]
fn crc32c_matches_the_standard_check_value() {
    assert_eq!(crc32c(b"123456789"), 0xE306_9283);
}

#[test]
fn a_run_writes_tensorboard_scalars_that_tensorboard_reads() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("run");
    let summary = sparse_rl::run::train(
        common::tiny_dqn(""),
        sparse_rl::run::Start::Fresh { out: out.clone() },
        None,
    )
    .unwrap()
    .unwrap();
    let event_file = std::fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| {
            p.file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with("events.out.tfevents.")
        })
        .expect("an event file");
    let tags = scalars(&event_file);
    for tag in [
        "charts/episodic_return",
        "charts/SPS",
        "charts/epsilon",
        "losses/td_loss",
        "eval/return_mean",
    ] {
        assert!(
            tags.contains_key(tag),
            "missing {tag}; have {:?}",
            tags.keys().collect::<Vec<_>>()
        );
    }
    let returns = &tags["charts/episodic_return"];
    let csv = std::fs::read_to_string(out.join("episodes.csv")).unwrap();
    assert_eq!(returns.len(), csv.lines().count(), "one return per episode");
    let last_eval = tags["eval/return_mean"].last().unwrap();
    assert_eq!(last_eval.0 as usize, summary.total_steps);
    assert!((last_eval.1 as f64 - summary.eval.return_mean).abs() < 1e-3);

    // summary.json's `evaluations`: the count, highest and mean of every logged evaluation.
    let scores: Vec<f64> = tags["eval/return_mean"]
        .iter()
        .map(|(_, v)| f64::from(*v))
        .collect();
    assert!(
        scores.len() >= 3,
        "evaluations at 1000, 2000 and the end: {scores:?}"
    );
    let all = summary.evaluations.expect("a fresh run keeps its evaluations");
    assert_eq!(all.count, scores.len());
    let max = scores.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let mean = scores.iter().sum::<f64>() / scores.len() as f64;
    assert!((all.max - max).abs() < 1e-3, "{} against {max}", all.max);
    assert!((all.mean - mean).abs() < 1e-3, "{} against {mean}", all.mean);

    // The dormant-neuron fraction of each module at every evaluation, the last one in summary.json.
    let eval_steps: Vec<i64> = tags["eval/return_mean"].iter().map(|(s, _)| *s).collect();
    for module in ["encoder", "critic"] {
        let series = &tags[&format!("plasticity/{module}/dormant_fraction")];
        assert_eq!(
            series.iter().map(|(s, _)| *s).collect::<Vec<_>>(),
            eval_steps,
            "{module}"
        );
        assert!(
            series.iter().all(|(_, f)| (0.0..=1.0).contains(f)),
            "{module}: {series:?}"
        );
        let last = summary.modules[module].dormant_fraction.expect("in summary.json");
        assert!((series.last().unwrap().1 as f64 - last).abs() < 1e-6, "{module}");
    }

    // TensorBoard itself, where Python has it.
    let script = format!(
        "from tensorboard.backend.event_processing.event_accumulator import EventAccumulator as E\n\
         a = E({:?}); a.Reload(); s = a.Scalars('charts/episodic_return'); print(len(s), s[-1].value)",
        out.to_str().unwrap()
    );
    match std::process::Command::new("python3")
        .args(["-c", &script])
        .output()
    {
        Ok(o) if o.status.success() => {
            let text = String::from_utf8_lossy(&o.stdout);
            let mut parts = text.split_whitespace();
            let n: usize = parts.next().unwrap().parse().unwrap();
            let last: f32 = parts.next().unwrap().parse().unwrap();
            assert_eq!(n, returns.len());
            assert_eq!(last, returns.last().unwrap().1);
        }
        _ => eprintln!("python3 with tensorboard not available: checked with the built-in parser only"),
    }
}
