//! Picks the burn backend at run time (`run.backend`) and builds the agent on it.

use std::collections::BTreeMap;

use anyhow::{bail, Result};
use burn::tensor::backend::AutodiffBackend;
use sparse_rl_agents::agent::Agent;
use sparse_rl_agents::dqn::Dqn;
use sparse_rl_agents::marl::MarlAgent;
use sparse_rl_agents::qmix::episode_buffer::EpisodeShape;
use sparse_rl_agents::qmix::Qmix;
use sparse_rl_agents::sac::Sac;
use sparse_rl_envs::{Env, MultiAgentEnv};

use sparse_rl_dst::policy::SparsityPolicy;

use crate::config::{modules_of, Algo, Config};

/// Evaluates `$body` with the type `$B` bound to the autodiff backend that `$name` (a [`BackendName`])
/// names and `$device` to that backend's default device: one match for every caller. A macro, because
/// Rust has no closures generic over a type.
macro_rules! on_backend {
    ($name:expr, |$B:ident, $device:ident| $body:expr) => {
        match $name {
            $crate::config::BackendName::Flex => {
                type $B = burn::backend::Autodiff<burn::backend::Flex>;
                let $device = Default::default();
                $body
            }
            $crate::config::BackendName::Ndarray => {
                type $B = burn::backend::Autodiff<burn::backend::NdArray>;
                let $device = Default::default();
                $body
            }
            #[cfg(feature = "cuda")]
            $crate::config::BackendName::Cuda => {
                type $B = burn::backend::Autodiff<burn::backend::Cuda>;
                let $device = Default::default();
                $body
            }
            #[cfg(not(feature = "cuda"))]
            $crate::config::BackendName::Cuda => Err(anyhow::anyhow!(
                "run.backend = \"cuda\" needs the `cuda` cargo feature (rejected by validation)"
            )),
        }
    };
}
pub(crate) use on_backend;

/// The agent the config asks for, on the backend it names.
pub fn build_agent(config: &Config, env: &dyn Env) -> Result<Box<dyn Agent>> {
    on_backend!(config.run.backend, |B, device| build::<B>(config, env, device))
}

/// The multi-agent learner (QMIX / MAST) the config asks for, on the backend it names.
pub fn build_marl_agent(config: &Config, env: &dyn MultiAgentEnv) -> Result<Box<dyn MarlAgent>> {
    on_backend!(config.run.backend, |B, device| build_qmix::<B>(
        config, env, device
    ))
}

fn build_qmix<B: AutodiffBackend>(
    config: &Config,
    env: &dyn MultiAgentEnv,
    device: B::Device,
) -> Result<Box<dyn MarlAgent>>
where
    B::InnerBackend: 'static,
{
    let shape = EpisodeShape {
        n_agents: env.n_agents(),
        obs_dim: env.obs_dim(),
        state_dim: env.state_dim(),
        n_actions: env.n_actions(),
    };
    let agent = Qmix::<B>::new(
        config.qmix.clone().unwrap_or_default(),
        &policies(config),
        shape,
        env.episode_limit(),
        config.run.total_steps,
        config.run.seed,
        device,
    )
    .map_err(anyhow::Error::msg)?;
    Ok(Box::new(agent))
}

/// The sparsity policy of each module of the run's algorithm (dense where the config names none).
fn policies(config: &Config) -> BTreeMap<String, SparsityPolicy> {
    modules_of(config.run.algo)
        .iter()
        .map(|m| (m.to_string(), config.policy(m)))
        .collect()
}

fn build<B: AutodiffBackend>(config: &Config, env: &dyn Env, device: B::Device) -> Result<Box<dyn Agent>>
where
    B::InnerBackend: 'static,
{
    let run = &config.run;
    let policies = policies(config);
    let obs_space = env.observation_space();
    let action_space = env.action_space();
    Ok(match run.algo {
        Algo::Dqn => Box::new(
            Dqn::<B>::new(
                config.dqn.clone().unwrap_or_default(),
                &policies,
                &obs_space,
                &action_space,
                run.total_steps,
                run.seed,
                device,
            )
            .map_err(anyhow::Error::msg)?,
        ),
        Algo::Sac => Box::new(
            Sac::<B>::new(
                config.sac.clone().unwrap_or_default(),
                &policies,
                &obs_space,
                &action_space,
                run.total_steps,
                run.seed,
                device,
            )
            .map_err(anyhow::Error::msg)?,
        ),
        Algo::Gan => bail!("run.algo = \"gan\" trains a GAN, not an RL agent"),
        Algo::Qmix => bail!("run.algo = \"qmix\" is a multi-agent learner: see `build_marl_agent`"),
    })
}
