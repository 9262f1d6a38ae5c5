//! The memory a run will need, checked before anything is allocated: a size that overflows, or a replay
//! buffer or networks that cannot fit in the memory this machine has available, is a one-line error
//! naming the key, not a "capacity overflow" panic or an allocator abort hours into a run.
//!
//! The estimate is deliberately simple: every network as a chain of dense layers (widths from the config
//! and the env's sizes), times the copies training keeps of each parameter; the replay buffer at its full
//! capacity.

use anyhow::{bail, Result};
use sparse_rl_agents::replay::ReplayBuffer;

use crate::config::{Algo, Config};

/// Copies of each parameter during training: the weights, their gradient, Adam's two moments, the
/// target network's copy and the mask.
const COPIES_PER_PARAMETER: usize = 6;
const GIB: f64 = (1u64 << 30) as f64;

/// What one part of a run needs, in bytes (`None`: the size overflows), and the config keys that set it.
struct Need {
    what: &'static str,
    keys: String,
    bytes: Option<usize>,
}

/// Checks `config` (validated) against the memory available now.
pub fn check(config: &Config) -> Result<()> {
    check_against(config, available_bytes())
}

/// Checks `config` against `available` bytes (`None`: unknown, so only overflow is checked).
pub fn check_against(config: &Config, available: Option<usize>) -> Result<()> {
    let needs = needs(config)?;
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

fn needs(config: &Config) -> Result<Vec<Need>> {
    let run = &config.run;
    Ok(match run.algo {
        Algo::Dqn => {
            let c = config.dqn.clone().unwrap_or_default();
            let env = sparse_rl_envs::make(&run.env)?;
            let (obs, actions) = (env.observation_space().flat_dim(), env.action_space().flat_dim());
            let n_actions = match env.action_space() {
                sparse_rl_envs::Space::Discrete { n } => n,
                other => other.flat_dim(),
            };
            let chain = [&[obs][..], &c.encoder_hidden, &c.head_hidden, &[n_actions]].concat();
            vec![
                networks("dqn.encoder_hidden, dqn.head_hidden", &[chain]),
                replay(
                    "dqn.buffer_size",
                    ReplayBuffer::full_bytes(c.buffer_size, obs, actions),
                ),
            ]
        }
        Algo::Sac => {
            let c = config.sac.clone().unwrap_or_default();
            let env = sparse_rl_envs::make(&run.env)?;
            let (obs, act) = (env.observation_space().flat_dim(), env.action_space().flat_dim());
            let features = c.encoder_hidden.last().copied().unwrap_or(obs);
            let encoder = [&[obs][..], &c.encoder_hidden].concat();
            let critic = c
                .critic_network
                .layer_sizes(features.saturating_add(act), &c.hidden, 1);
            let actor = c
                .actor_network
                .layer_sizes(features, &c.hidden, act.saturating_mul(2));
            vec![
                networks(
                    "sac.encoder_hidden, sac.hidden",
                    &[encoder, critic.clone(), critic, actor],
                ),
                replay(
                    "sac.buffer_size",
                    ReplayBuffer::full_bytes(c.buffer_size, obs, act),
                ),
            ]
        }
        Algo::Qmix => {
            let c = config.qmix.clone().unwrap_or_default();
            let env = sparse_rl_envs::make_multi_agent(&run.env)?;
            let (agents, obs, state, acts) =
                (env.n_agents(), env.obs_dim(), env.state_dim(), env.n_actions());
            let d_in = obs.saturating_add(agents).saturating_add(acts);
            let h = c.hidden_dim;
            let (embed, hyper) = (c.mixing_embed_dim, c.hypernet_embed);
            let chains = vec![
                vec![d_in, h, h.saturating_mul(3), acts],
                vec![state, hyper, embed.saturating_mul(agents)],
                vec![state, hyper, embed],
                vec![state, embed, 1],
            ];
            // Per step: observations, availability and actions of every agent, the state and the reward.
            let per_step = agents
                .checked_mul(obs.saturating_add(acts).saturating_add(1))
                .and_then(|x| x.checked_add(state)?.checked_add(1));
            let bytes = per_step
                .and_then(|p| p.checked_mul(env.episode_limit() + 1))
                .and_then(|e| e.checked_mul(c.buffer_size))
                .and_then(|b| b.checked_mul(4));
            vec![
                networks(
                    "qmix.hidden_dim, qmix.mixing_embed_dim, qmix.hypernet_embed",
                    &chains,
                ),
                replay("qmix.buffer_size", bytes),
            ]
        }
        Algo::Gan => {
            let c = config.gan.clone().unwrap_or_default();
            let generator = [&[c.latent_dim][..], &c.generator_hidden, &[2]].concat();
            let discriminator = [&[2][..], &c.discriminator_hidden, &[1]].concat();
            let widest = generator.iter().chain(&discriminator).copied().max().unwrap_or(1);
            // Activations of a batch through both networks, kept for the backward pass.
            let activations = c
                .batch_size
                .checked_mul(widest)
                .and_then(|x| x.checked_mul(generator.len() + discriminator.len()))
                .and_then(|x| x.checked_mul(4 * 4));
            vec![
                networks(
                    "gan.generator_hidden, gan.discriminator_hidden",
                    &[generator, discriminator],
                ),
                Need {
                    what: "batch activations",
                    keys: "gan.batch_size".into(),
                    bytes: activations,
                },
            ]
        }
    })
}

fn networks(keys: &str, chains: &[Vec<usize>]) -> Need {
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

fn replay(key: &str, bytes: Option<usize>) -> Need {
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
        Config::parse(text, &sets).unwrap().resolved()
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
