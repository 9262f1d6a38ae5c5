//! Picks the burn backend at run time (`run.backend`) and builds the agent on it.

use std::collections::BTreeMap;

use anyhow::{bail, Result};
use burn::backend::{Autodiff, Flex, NdArray};
use burn::tensor::backend::AutodiffBackend;
use sparse_rl_agents::agent::Agent;
use sparse_rl_agents::dqn::Dqn;
use sparse_rl_agents::marl::MarlAgent;
use sparse_rl_agents::qmix::episode_buffer::EpisodeShape;
use sparse_rl_agents::qmix::Qmix;
use sparse_rl_agents::sac::Sac;
use sparse_rl_envs::{Env, MultiAgentEnv};

use sparse_rl_dst::policy::SparsityPolicy;

use crate::config::{modules_of, Algo, BackendName, Config};

/// Work generic over the autodiff backend, run by [`with_backend`] on the backend a config names.
pub trait OnBackend {
    type Output;
    fn run<B: AutodiffBackend>(self, device: B::Device) -> Result<Self::Output>
    where
        B::InnerBackend: 'static;
}

/// Runs `work` on the backend `name`, on its default device.
pub fn with_backend<W: OnBackend>(name: BackendName, work: W) -> Result<W::Output> {
    match name {
        BackendName::Flex => work.run::<Autodiff<Flex>>(Default::default()),
        BackendName::Ndarray => work.run::<Autodiff<NdArray>>(Default::default()),
        #[cfg(feature = "cuda")]
        BackendName::Cuda => work.run::<Autodiff<burn::backend::Cuda>>(Default::default()),
        #[cfg(not(feature = "cuda"))]
        BackendName::Cuda => {
            bail!("run.backend = \"cuda\" needs the `cuda` cargo feature (rejected by validation)")
        }
    }
}

/// The agent the config asks for, on the backend it names.
pub fn build_agent(config: &Config, env: &dyn Env) -> Result<Box<dyn Agent>> {
    struct BuildAgent<'a>(&'a Config, &'a dyn Env);
    impl OnBackend for BuildAgent<'_> {
        type Output = Box<dyn Agent>;
        fn run<B: AutodiffBackend>(self, device: B::Device) -> Result<Box<dyn Agent>>
        where
            B::InnerBackend: 'static,
        {
            build::<B>(self.0, self.1, device)
        }
    }
    with_backend(config.run.backend, BuildAgent(config, env))
}

/// The multi-agent learner (QMIX / MAST) the config asks for, on the backend it names.
pub fn build_marl_agent(config: &Config, env: &dyn MultiAgentEnv) -> Result<Box<dyn MarlAgent>> {
    struct BuildQmix<'a>(&'a Config, &'a dyn MultiAgentEnv);
    impl OnBackend for BuildQmix<'_> {
        type Output = Box<dyn MarlAgent>;
        fn run<B: AutodiffBackend>(self, device: B::Device) -> Result<Box<dyn MarlAgent>>
        where
            B::InnerBackend: 'static,
        {
            build_qmix::<B>(self.0, self.1, device)
        }
    }
    with_backend(config.run.backend, BuildQmix(config, env))
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
