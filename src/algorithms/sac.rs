//! SAC (`run.algo = "sac"`, table `[sac]`): CleanRL's `sac_continuous_action.py` on an env with continuous
//! actions; the modules `encoder`, `critic` (both Q networks) and `actor`.

use anyhow::Result;
use sparse_rl_agents::agent::Agent;
use sparse_rl_agents::replay::ReplayBuffer;
use sparse_rl_agents::sac::{Sac as SacAgent, SacConfig};
use sparse_rl_envs::Env;

use super::{resolve_table, single_agent, single_agent_env, table, Algorithm};
use crate::config::Config;
use crate::memory::{networks, replay, Need};
use crate::run::{EpisodicLearner, SingleAgentLearner};

pub(super) struct Sac;

impl Algorithm for Sac {
    fn name(&self) -> &'static str {
        "sac"
    }

    fn modules(&self) -> &'static [&'static str] {
        &["encoder", "critic", "actor"]
    }

    fn check_env(&self, config: &Config) -> Result<()> {
        single_agent_env(config, false)
    }

    fn resolve(&self, config: &Config) -> Result<toml::Table> {
        resolve_table(config, SacConfig::validate)
    }

    fn memory(&self, config: &Config) -> Result<Vec<Need>> {
        let c: SacConfig = table(config)?;
        let env = sparse_rl_envs::make(&config.run.env)?;
        let (obs, act) = (env.observation_space().flat_dim(), env.action_space().flat_dim());
        let features = c.encoder_hidden.last().copied().unwrap_or(obs);
        let encoder = [&[obs][..], &c.encoder_hidden].concat();
        let critic = c
            .critic_network
            .layer_sizes(features.saturating_add(act), &c.hidden, 1);
        let actor = c
            .actor_network
            .layer_sizes(features, &c.hidden, act.saturating_mul(2));
        Ok(vec![
            networks(
                "sac.encoder_hidden, sac.hidden",
                &[encoder, critic.clone(), critic, actor],
            ),
            replay(
                "sac.buffer_size",
                ReplayBuffer::full_bytes(c.buffer_size, obs, act),
            ),
        ])
    }

    fn learner(&self, config: &Config) -> Result<Box<EpisodicLearner>> {
        Ok(Box::new(SingleAgentLearner::new(config)?))
    }

    fn build_agent(&self, config: &Config, env: &dyn Env) -> Result<Box<dyn Agent>> {
        single_agent!(SacAgent, config, env)
    }
}
