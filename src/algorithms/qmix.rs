//! QMIX and MAST (`run.algo = "qmix"`, table `[qmix]` with `[qmix.mast]`): PyMARL/EPyMARL's QMIX on a
//! multi-agent gridworld; the modules `agent` (the shared agent network) and `mixer`.

use anyhow::{bail, Result};
use sparse_rl_agents::marl::MarlAgent;
use sparse_rl_agents::qmix::episode_buffer::EpisodeShape;
use sparse_rl_agents::qmix::QmixConfig;
use sparse_rl_envs::MultiAgentEnv;

use super::{policies, resolve_table, table, Algorithm};
use crate::backend::on_backend;
use crate::config::Config;
use crate::marl_run::MultiAgentLearner;
use crate::memory::{networks, replay, Need};
use crate::run::EpisodicLearner;

pub(super) struct Qmix;

impl Algorithm for Qmix {
    fn name(&self) -> &'static str {
        "qmix"
    }

    fn modules(&self) -> &'static [&'static str] {
        &["agent", "mixer"]
    }

    fn check_env(&self, config: &Config) -> Result<()> {
        let env = &config.run.env;
        if !sparse_rl_envs::is_multi_agent(env) {
            bail!(
                "run.env: run.algo = \"qmix\" needs a multi-agent env, {env} is not one (`sparse-rl envs` lists them)"
            );
        }
        Ok(())
    }

    fn resolve(&self, config: &Config) -> Result<toml::Table> {
        resolve_table(config, QmixConfig::validate)
    }

    fn memory(&self, config: &Config) -> Result<Vec<Need>> {
        let c: QmixConfig = table(config)?;
        let env = sparse_rl_envs::make_multi_agent(&config.run.env)?;
        let (agents, obs, state, acts) = (env.n_agents(), env.obs_dim(), env.state_dim(), env.n_actions());
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
        Ok(vec![
            networks(
                "qmix.hidden_dim, qmix.mixing_embed_dim, qmix.hypernet_embed",
                &chains,
            ),
            replay("qmix.buffer_size", bytes),
        ])
    }

    fn learner(&self, config: &Config) -> Result<Box<EpisodicLearner>> {
        Ok(Box::new(MultiAgentLearner::new(config)?))
    }

    fn build_marl_agent(&self, config: &Config, env: &dyn MultiAgentEnv) -> Result<Box<dyn MarlAgent>> {
        let (run, c, policies) = (&config.run, table::<QmixConfig>(config)?, policies(config));
        let shape = EpisodeShape {
            n_agents: env.n_agents(),
            obs_dim: env.obs_dim(),
            state_dim: env.state_dim(),
            n_actions: env.n_actions(),
        };
        on_backend!(run.backend, |B, device| {
            let agent = sparse_rl_agents::qmix::Qmix::<B>::new(
                c,
                &policies,
                shape,
                env.episode_limit(),
                run.total_steps,
                run.seed,
                device,
            )
            .map_err(anyhow::Error::msg)?;
            Ok(Box::new(agent) as Box<dyn MarlAgent>)
        })
    }
}
