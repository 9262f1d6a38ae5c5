//! DQN (`run.algo = "dqn"`, table `[dqn]`): CleanRL's `dqn.py` on an env with discrete actions; the
//! modules `encoder` and `critic` (the Q head).

use anyhow::Result;
use sparse_rl_agents::agent::Agent;
use sparse_rl_agents::dqn::{Dqn as DqnAgent, DqnConfig};
use sparse_rl_agents::replay::ReplayBuffer;
use sparse_rl_envs::{Env, Space};

use super::{resolve_table, single_agent, single_agent_env, table, Algorithm};
use crate::config::Config;
use crate::memory::{networks, replay, Need};
use crate::run::{EpisodicLearner, SingleAgentLearner};

pub(super) struct Dqn;

impl Algorithm for Dqn {
    fn name(&self) -> &'static str {
        "dqn"
    }

    fn modules(&self) -> &'static [&'static str] {
        &["encoder", "critic"]
    }

    fn check_env(&self, config: &Config) -> Result<()> {
        single_agent_env(config, true)
    }

    fn resolve(&self, config: &Config) -> Result<toml::Table> {
        resolve_table(config, DqnConfig::validate)
    }

    fn memory(&self, config: &Config) -> Result<Vec<Need>> {
        let c: DqnConfig = table(config)?;
        let env = sparse_rl_envs::make(&config.run.env)?;
        let (obs, actions) = (env.observation_space().flat_dim(), env.action_space().flat_dim());
        let n_actions = match env.action_space() {
            Space::Discrete { n } => n,
            other => other.flat_dim(),
        };
        let chain = [&[obs][..], &c.encoder_hidden, &c.head_hidden, &[n_actions]].concat();
        Ok(vec![
            networks("dqn.encoder_hidden, dqn.head_hidden", &[chain]),
            replay(
                "dqn.buffer_size",
                ReplayBuffer::full_bytes(c.buffer_size, obs, actions),
            ),
        ])
    }

    fn learner(&self, config: &Config) -> Result<Box<EpisodicLearner>> {
        Ok(Box::new(SingleAgentLearner::new(config)?))
    }

    fn build_agent(&self, config: &Config, env: &dyn Env) -> Result<Box<dyn Agent>> {
        single_agent!(DqnAgent, config, env)
    }
}
