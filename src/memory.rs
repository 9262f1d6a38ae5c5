//! The memory a run will need, checked before anything is allocated: a size that overflows, or a replay
//! buffer or networks that cannot fit in the memory this machine has available, is a one-line error
//! naming the key, not a "capacity overflow" panic or an allocator abort hours into a run.
//!
//! The estimate is deliberately simple: every network as a chain of dense layers (widths from the config
//! and the env's sizes), times the copies training keeps of each parameter; the replay buffer at its full
//! capacity.

use anyhow::{bail, Result};

use crate::config::Config;

/// Copies of each parameter during training: the weights, their gradient, Adam's two moments, the
/// target network's copy and the mask.
const COPIES_PER_PARAMETER: usize = 6;
const GIB: f64 = (1u64 << 30) as f64;

/// What one part of a run needs, in bytes (`None`: the size overflows), and the config keys that set it.
pub struct Need {
    pub what: &'static str,
    pub keys: String,
    pub bytes: Option<usize>,
}

/// Checks `config` (validated) against the memory available now.
pub fn check(config: &Config) -> Result<()> {
    check_against(config, available_bytes())
}

/// Checks `config` against `available` bytes (`None`: unknown, so only overflow is checked).
pub fn check_against(config: &Config, available: Option<usize>) -> Result<()> {
    let needs = config.algorithm().memory(config)?;
    for need in &needs {
        let Some(bytes) = need.bytes else {
            bail!(
                "{}: the {} would need more memory than can be addressed",
                need.keys,
                need.what
            );
        };
        if let Some(avail) = available {
            if bytes > avail {
                bail!(
                    "{}: the {} would need {:.1} GiB, more than the {:.1} GiB of memory available",
                    need.keys,
                    need.what,
                    bytes as f64 / GIB,
                    avail as f64 / GIB
                );
            }
        }
    }
    let total = needs.iter().try_fold(0usize, |acc, n| acc.checked_add(n.bytes?));
    if let (Some(total), Some(avail)) = (total, available) {
        if total > avail {
            let keys: Vec<&str> = needs.iter().map(|n| n.keys.as_str()).collect();
            bail!(
                "{}: the run would need {:.1} GiB in all, more than the {:.1} GiB of memory available",
                keys.join(", "),
                total as f64 / GIB,
                avail as f64 / GIB
            );
        }
    }
    Ok(())
}

/// The networks of `chains` (layer widths, input first), named by the config keys that set them.
pub(crate) fn networks(keys: &str, chains: &[Vec<usize>]) -> Need {
    let params = chains.iter().try_fold(0usize, |acc, chain| {
        chain.windows(2).try_fold(acc, |acc, w| {
            let layer = w[0].checked_mul(w[1])?.checked_add(w[1])?;
            acc.checked_add(layer)
        })
    });
    Need {
        what: "networks (weights with their gradients, Adam moments, target copy and masks)",
        keys: keys.into(),
        bytes: params.and_then(|p| p.checked_mul(4 * COPIES_PER_PARAMETER)),
    }
}

/// A replay buffer of `bytes` when full, sized by config key `key`.
pub(crate) fn replay(key: &str, bytes: Option<usize>) -> Need {
    Need {
        what: "replay buffer (full)",
        keys: key.into(),
        bytes,
    }
}

/// `MemAvailable` of `/proc/meminfo` (Linux); `None` elsewhere.
fn available_bytes() -> Option<usize> {
    let text = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = text.lines().find(|l| l.starts_with("MemAvailable:"))?;
    let kib: usize = line.split_whitespace().nth(1)?.parse().ok()?;
    kib.checked_mul(1024)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dqn(sets: &[&str]) -> Config {
        let text = "[run]\nalgo = \"dqn\"\nenv = \"CartPole-v1\"\ntotal_steps = 1000\n";
        let sets: Vec<String> = sets.iter().map(|s| s.to_string()).collect();
        Config::parse(text, &sets).unwrap().resolved().unwrap()
    }

    #[test]
    fn overflowing_or_oversized_runs_name_the_key() {
        let err = check_against(&dqn(&["dqn.buffer_size=9223372036854775807"]), None).unwrap_err();
        assert!(err.to_string().starts_with("dqn.buffer_size"), "{err}");
        let err = check_against(&dqn(&["dqn.head_hidden=[1099511627776]"]), Some(1 << 34)).unwrap_err();
        assert!(
            err.to_string().contains("dqn.head_hidden") && err.to_string().contains("GiB"),
            "{err}"
        );
        // CartPole's replay at 10,000 transitions: 11 floats each, 440,000 bytes.
        assert!(check_against(&dqn(&[]), Some(1 << 20)).is_ok());
        let err = check_against(&dqn(&["dqn.buffer_size=100000"]), Some(1 << 20)).unwrap_err();
        assert!(err.to_string().contains("replay buffer"), "{err}");
    }
}
