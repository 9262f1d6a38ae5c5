//! DQN as CleanRL's `dqn.py` (Mnih et al. 2015): uniform replay, a target network updated every
//! `target_network_frequency` steps by Polyak averaging with `tau` (1.0 = copy), linear ε decay, MSE or Huber
//! TD loss, and the double-DQN target (van Hasselt et al. 2016) as an option. The Q-network is an encoder
//! module and a Q-head ("critic") module, each with its own sparsity policy (MST).

use std::collections::{BTreeMap, HashSet};
use std::path::Path;

use burn::module::{AutodiffModule, Module, ParamId};
use burn::optim::adaptor::OptimizerAdaptor;
use burn::tensor::backend::{AutodiffBackend, Backend};
use burn::tensor::Tensor;
use rand::{Rng, SeedableRng};
use serde::{Deserialize, Serialize};
use sparse_rl_dst::execution::Execution;
use sparse_rl_dst::inference::{Policy, PolicyInput, PolicyOutput, SparseMlp};
use sparse_rl_dst::module::{
    flops_ratio, multiples_between, no_part, DiagonalLayers, ModuleGroup, SparseModule, SparseParts,
};
use sparse_rl_dst::policy::{SparsityPolicy, Structure};
use sparse_rl_dst::{FusedAdam, SparseLayer};
use sparse_rl_envs::{Action, Space};

use crate::agent::{Agent, FlopsRatio, Metric, ModuleStats, TrainError, Trainable};
use crate::checks::{batch_fits, positive_counts, positive_reals, positive_widths, unit_interval};
use crate::encoder::{Encoder, EncoderConfig};
use crate::networks::{Mlp, MlpConfig};
use crate::persist;
use crate::plasticity::{self, DORMANT_BATCH, DORMANT_TAU};
use crate::replay::{Batch, ReplayBuffer, Transition};
use crate::target::soft_update;
use crate::tensors::{argmax_rows, index_column, matrix, to_vec, vector};

/// DQN hyper-parameters (`[dqn]` table); defaults are CleanRL's `dqn.py`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DqnConfig {
    pub learning_rate: f64,
    pub buffer_size: usize,
    pub gamma: f64,
    /// Target update rate: 1.0 copies the online network every `target_network_frequency` steps.
    pub tau: f64,
    pub target_network_frequency: usize,
    pub batch_size: usize,
    pub start_e: f64,
    pub end_e: f64,
    /// Fraction of `run.total_steps` over which ε decays linearly from `start_e` to `end_e`.
    pub exploration_fraction: f64,
    pub learning_starts: usize,
    /// One gradient step every this many env steps.
    pub train_frequency: usize,
    /// `mse` (CleanRL) or `huber` (smooth L1, δ = 1, as SB3).
    pub loss: TdLoss,
    pub double_q: bool,
    /// Hidden sizes of the encoder module (CleanRL's first layer: 120).
    pub encoder_hidden: Vec<usize>,
    /// Hidden sizes of the Q head (CleanRL's second layer: 84).
    pub head_hidden: Vec<usize>,
    /// Adam's ε (torch's default 1e-8; burn's own default would be 1e-5).
    pub adam_eps: f64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TdLoss {
    Mse,
    Huber,
}

impl Default for DqnConfig {
    fn default() -> Self {
        Self {
            learning_rate: 2.5e-4,
            buffer_size: 10_000,
            gamma: 0.99,
            tau: 1.0,
            target_network_frequency: 500,
            batch_size: 128,
            start_e: 1.0,
            end_e: 0.05,
            exploration_fraction: 0.5,
            learning_starts: 10_000,
            train_frequency: 10,
            loss: TdLoss::Mse,
            double_q: false,
            encoder_hidden: vec![120],
            head_hidden: vec![84],
            adam_eps: 1e-8,
        }
    }
}

impl DqnConfig {
    /// Checks the values serde cannot; the error names the key.
    pub fn validate(&self) -> Result<(), String> {
        positive_counts(&[
            ("buffer_size", self.buffer_size),
            ("batch_size", self.batch_size),
            ("train_frequency", self.train_frequency),
            ("target_network_frequency", self.target_network_frequency),
        ])?;
        unit_interval(&[
            ("gamma", self.gamma),
            ("tau", self.tau),
            ("start_e", self.start_e),
            ("end_e", self.end_e),
            ("exploration_fraction", self.exploration_fraction),
        ])?;
        positive_reals(&[("learning_rate", self.learning_rate), ("adam_eps", self.adam_eps)])?;
        if self.encoder_hidden.is_empty() {
            return Err("encoder_hidden must name at least one layer".into());
        }
        positive_widths(&[
            ("encoder_hidden", &self.encoder_hidden),
            ("head_hidden", &self.head_hidden),
        ])?;
        batch_fits(self.batch_size, self.buffer_size)
    }
}

/// The Q-network: encoder module, then the Q head (the DQN "critic").
#[derive(Module, Debug)]
pub struct QNetwork<B: Backend> {
    pub encoder: Encoder<B>,
    pub head: Mlp<B>,
}

impl<B: Backend> QNetwork<B> {
    pub fn forward(&self, obs: Tensor<B, 2>, dense_grad: [bool; 2]) -> Tensor<B, 2> {
        self.head
            .forward(self.encoder.forward(obs, dense_grad[0]), dense_grad[1])
    }

    fn mask_ids(&self) -> HashSet<ParamId> {
        let mut ids: HashSet<ParamId> = self.encoder.mask_ids();
        ids.extend(self.head.mask_ids());
        ids
    }
}

/// The parts `encoder` and `critic` (the Q head).
impl<B: Backend> SparseParts<B> for QNetwork<B> {
    fn part_layers(&self, name: &str) -> Vec<&dyn SparseLayer<B>> {
        match name {
            "encoder" => self.encoder.sparse_layers(),
            "critic" => self.head.sparse_layers(),
            _ => no_part(name),
        }
    }

    fn part_layers_mut(&mut self, name: &str) -> Vec<&mut dyn SparseLayer<B>> {
        match name {
            "encoder" => self.encoder.sparse_layers_mut(),
            "critic" => self.head.sparse_layers_mut(),
            _ => no_part(name),
        }
    }

    fn configure_part(&mut self, name: &str, masked: bool, execution: Execution) {
        match name {
            "encoder" => self.encoder.configure_part(name, masked, execution),
            "critic" => self.head.configure_part(name, masked, execution),
            _ => no_part(name),
        }
    }
}

type DqnOptim<B> = OptimizerAdaptor<FusedAdam, QNetwork<B>, B>;

/// A DQN agent on backend `B`.
pub struct Dqn<B: AutodiffBackend> {
    config: DqnConfig,
    online: QNetwork<B>,
    target: QNetwork<B::InnerBackend>,
    /// The online network without autodiff, for acting; rebuilt after each update.
    acting: Option<QNetwork<B::InnerBackend>>,
    optim: DqnOptim<B>,
    /// The modules `encoder` and `critic` (the Q head), trained by `optim`.
    modules: ModuleGroup,
    replay: ReplayBuffer,
    batch: Batch,
    rng: rand_pcg::Pcg64Mcg,
    obs_dim: usize,
    n_actions: usize,
    total_steps: usize,
    device: B::Device,
}

impl<B: AutodiffBackend> Dqn<B> {
    /// Builds the agent; `policies` maps `encoder` / `critic` to their sparsity policies.
    pub fn new(
        config: DqnConfig,
        policies: &BTreeMap<String, SparsityPolicy>,
        obs_space: &Space,
        action_space: &Space,
        total_steps: usize,
        seed: u64,
        device: B::Device,
    ) -> Result<Self, String> {
        config.validate()?;
        let Space::Discrete { n: n_actions } = *action_space else {
            return Err(format!("DQN needs a discrete action space, got {action_space}"));
        };
        let _seeded = crate::seeding::seed_backend::<B>(&device, seed);
        let mut rng = rand_pcg::Pcg64Mcg::seed_from_u64(seed ^ 0x05ee_dd07);
        let encoder = EncoderConfig::for_space(obs_space, &config.encoder_hidden)?.init::<B>(&device);
        let policy = |m: &str| policies.get(m).cloned().unwrap_or_else(SparsityPolicy::dense);
        if policy("critic").structure == Structure::Diagonal && config.tau < 1.0 {
            return Err(
                "sparsity.critic: structure = \"diagonal\" needs hard target copies (dqn.tau = 1)".into(),
            );
        }
        let head = MlpConfig {
            d_in: encoder.d_out(),
            hidden: config.head_hidden.clone(),
            d_out: n_actions,
            activate_last: false,
        }
        .init_for::<B>(&policy("critic"), &device)?;
        let mut online = QNetwork { encoder, head };
        let total_updates = multiples_between(config.learning_starts, total_steps, config.train_frequency);
        let mut modules = ModuleGroup::new(vec![
            SparseModule::new(
                "encoder",
                policy("encoder"),
                &online.encoder.sparse_layers(),
                total_updates,
            )?
            .with_positions(online.encoder.positions()),
            SparseModule::with_diagonal(
                "critic",
                policy("critic"),
                &online.head.sparse_layers(),
                &online.head.diagonal_layers(),
                total_updates,
            )?,
        ]);
        modules.init(&mut online, &mut rng)?;
        crate::target::materialize(&online);
        let optim = FusedAdam::new(config.adam_eps as f32).init();
        Ok(Self {
            target: online.valid(),
            acting: None,
            online,
            optim,
            modules,
            replay: ReplayBuffer::new(config.buffer_size, obs_space.flat_dim(), 1),
            batch: Batch::default(),
            rng,
            obs_dim: obs_space.flat_dim(),
            n_actions,
            total_steps,
            config,
            device,
        })
    }

    /// ε at env step `step`: linear from `start_e` to `end_e` over `exploration_fraction · total_steps`.
    pub fn epsilon(&self, step: usize) -> f64 {
        let c = &self.config;
        let duration = c.exploration_fraction * self.total_steps as f64;
        let slope = (c.end_e - c.start_e) / duration.max(1.0);
        (slope * step as f64 + c.start_e).max(c.end_e)
    }

    fn greedy(&mut self, obs: &[f32]) -> usize {
        let net = self.acting.get_or_insert_with(|| self.online.valid());
        let q = net.forward(matrix(obs, 1, self.obs_dim, &self.device), [false; 2]);
        argmax_rows(&to_vec(q), self.n_actions)[0]
    }

    fn gradient_step(&mut self, step: usize) -> Result<Vec<Metric>, TrainError> {
        let c = &self.config;
        let dense = self.modules.dense_grads();
        self.replay
            .sample_into(c.batch_size, &mut self.rng, &mut self.batch);
        let b = &self.batch;
        let n = b.size;
        let obs = matrix::<B>(&b.obs, n, self.obs_dim, &self.device);
        let next = matrix::<B::InnerBackend>(&b.next_obs, n, self.obs_dim, &self.device);
        let next_q = self.target.forward(next.clone(), [false; 2]);
        let next_value = if c.double_q {
            let online = self.acting.get_or_insert_with(|| self.online.valid());
            let best = online.forward(next, [false; 2]).argmax(1);
            next_q.gather(1, best)
        } else {
            next_q.max_dim(1)
        }
        .reshape([n]);
        let rewards = vector::<B::InnerBackend>(&b.rewards, &self.device);
        let not_done = vector::<B::InnerBackend>(&b.terminated, &self.device).neg() + 1.0;
        let td_target = rewards + next_value * not_done * c.gamma;
        let td_target = Tensor::<B, 1>::from_inner(td_target);
        let q_all = self
            .online
            .forward(obs, [dense.get("encoder"), dense.get("critic")]);
        let q = q_all
            .clone()
            .gather(1, index_column::<B>(&b.actions, &self.device))
            .reshape([n]);
        let diff = q.clone() - td_target;
        let loss = match c.loss {
            TdLoss::Mse => diff.powf_scalar(2.0).mean(),
            TdLoss::Huber => {
                let abs = diff.clone().abs();
                let quadratic = abs.clone().clamp_max(1.0);
                (quadratic.clone().powf_scalar(2.0) * 0.5 + (abs - quadratic)).mean()
            }
        };
        let loss_value = loss.clone().into_scalar().elem::<f64>();
        if !loss_value.is_finite() {
            return Err(TrainError {
                step,
                message: format!("DQN TD loss is {loss_value}"),
            });
        }
        let topology_error = |e: sparse_rl_dst::DstError| TrainError {
            step,
            message: e.to_string(),
        };
        let online = self.online.clone();
        self.online = self
            .modules
            .step(
                online,
                loss,
                &dense,
                c.learning_rate,
                &mut self.optim,
                &mut self.rng,
            )
            .map_err(topology_error)?;
        let head = self.online.head.clone();
        self.online.head = self
            .modules
            .module_mut("critic")
            .update_diagonal(head, &mut self.optim, &mut self.rng)
            .map_err(topology_error)?;
        self.acting = None;
        let mut metrics = vec![("losses/td_loss", loss_value)];
        if step.is_multiple_of(100) {
            metrics.push(("losses/q_values", q.mean().into_scalar().elem::<f64>()));
        }
        Ok(metrics)
    }
}

use burn::tensor::ElementConversion;

impl<B: AutodiffBackend> Agent for Dqn<B> {
    fn act(&mut self, obs: &[f32], explore: bool, step: usize) -> Action {
        if explore && self.rng.random::<f64>() < self.epsilon(step) {
            return Action::Discrete(self.rng.random_range(0..self.n_actions));
        }
        Action::Discrete(self.greedy(obs))
    }

    fn observe(&mut self, obs: &[f32], action: &Action, reward: f64, next_obs: &[f32], terminated: bool) {
        let Action::Discrete(a) = action else {
            panic!("DQN observed a continuous action")
        };
        self.replay.push(Transition {
            obs,
            action: &[*a as f32],
            reward: reward as f32,
            next_obs,
            terminated,
        });
    }

    fn train(&mut self, step: usize) -> Result<Vec<Metric>, TrainError> {
        let c = &self.config;
        let (train, update_target) = (
            step.is_multiple_of(c.train_frequency),
            step.is_multiple_of(c.target_network_frequency),
        );
        let mut metrics = Vec::new();
        if step > c.learning_starts {
            if train {
                metrics = self.gradient_step(step)?;
            }
            if update_target {
                let ids = self.online.mask_ids();
                self.target = soft_update(self.target.clone(), &self.online.valid(), self.config.tau, &ids);
            }
        }
        if step.is_multiple_of(100) {
            metrics.push(("charts/epsilon", self.epsilon(step)));
        }
        Ok(metrics)
    }

    fn dormant_fractions(&self) -> Vec<(&'static str, f64)> {
        let mut batch = Batch::default();
        self.replay.recent_into(DORMANT_BATCH, &mut batch);
        if batch.size == 0 {
            return Vec::new();
        }
        let net = self.online.valid();
        let obs = matrix::<B::InnerBackend>(&batch.obs, batch.size, self.obs_dim, &self.device);
        let encoder = net.encoder.dormant(obs.clone(), DORMANT_TAU);
        let head = net.head.dormant(net.encoder.forward(obs, false), DORMANT_TAU);
        plasticity::fractions([("encoder", encoder), ("critic", head)])
    }
}

impl<B: AutodiffBackend> Trainable for Dqn<B> {
    fn modules(&self) -> Vec<ModuleStats> {
        vec![
            self.modules
                .module("encoder")
                .stats(self.online.encoder.param_counts()),
            self.modules
                .module("critic")
                .stats(self.online.head.param_counts()),
        ]
    }

    fn flops(&self) -> FlopsRatio {
        flops_ratio(self.modules.modules())
    }

    fn save(&self, dir: &Path) -> std::io::Result<()> {
        persist::save_module(&self.online, &dir.join("online"))?;
        persist::save_module(&self.target, &dir.join("target"))?;
        persist::save_optim::<B, _, _>(&self.optim, &dir.join("optim"))?;
        persist::save_json(&dir.join("agent.json"), &(&self.rng, &self.modules))?;
        persist::save_replay(&self.replay, &dir.join("replay.bin"))
    }

    fn load(&mut self, dir: &Path) -> std::io::Result<()> {
        self.online = persist::load_module(self.online.clone(), &dir.join("online"), &self.device)?;
        self.target = persist::load_module(self.target.clone(), &dir.join("target"), &self.device)?;
        let fresh = FusedAdam::new(self.config.adam_eps as f32).init();
        let optim = std::mem::replace(&mut self.optim, fresh);
        self.optim = persist::load_optim::<B, _, _>(optim, &dir.join("optim"), &self.device)?;
        (self.rng, self.modules) = persist::load_json(&dir.join("agent.json"))?;
        self.replay = persist::load_replay(&dir.join("replay.bin"), &self.replay)?;
        self.acting = None;
        Ok(())
    }

    fn policy(&self) -> Result<Policy, String> {
        let mut layers = self.online.encoder.inference_layers()?;
        layers.extend(self.online.head.inference_layers(None)?);
        let input = PolicyInput::Single {
            obs_dim: self.obs_dim,
        };
        let output = PolicyOutput::Argmax {
            n_actions: self.n_actions,
        };
        Ok(Policy::new(input, SparseMlp::new(layers)?, output)?)
    }
}
