//! SAC for continuous actions as CleanRL's `sac_continuous_action.py` (Haarnoja et al. 2018): twin critics
//! with Polyak-averaged targets, a tanh-squashed Gaussian actor updated every `policy_frequency` steps
//! (that many times, TD3-style), and automatic entropy tuning toward −|A|. MST modules: an optional encoder
//! (trained by the critic loss; the actor reads its features detached, as SAC-AE and DrQ do), the critic
//! (both Q networks) and the actor, each with its own sparsity policy and its own architecture (the plain
//! MLP, or SimBa's residual network with observation normalisation for the scaling experiments).

use std::borrow::Cow;
use std::collections::{BTreeMap, HashSet};
use std::f64::consts::PI;
use std::path::Path;

use burn::module::{AutodiffModule, Module, Param, ParamId};
use burn::optim::adaptor::OptimizerAdaptor;
use burn::optim::{GradientsParams, Optimizer};
use burn::tensor::backend::{AutodiffBackend, Backend};
use burn::tensor::{ElementConversion, Tensor};
use rand::{Rng, SeedableRng};
use rand_distr::StandardNormal;
use serde::{Deserialize, Serialize};
use sparse_rl_dst::execution::Execution;
use sparse_rl_dst::inference::{Policy, PolicyInput, PolicyOutput, SparseMlp};
use sparse_rl_dst::module::{
    flops_ratio, multiples_between, no_part, ModuleGroup, SparseModule, SparseParts,
};
use sparse_rl_dst::policy::SparsityPolicy;
use sparse_rl_dst::{FusedAdam, SparseLayer};
use sparse_rl_envs::wrappers::RunningMeanStd;
use sparse_rl_envs::{Action, Space};

use crate::agent::{Agent, FlopsRatio, Metric, ModuleStats, TrainError, Trainable};
use crate::checks::{batch_fits, positive_counts, positive_reals, positive_widths, unit_interval};
use crate::encoder::{Encoder, EncoderConfig};
use crate::networks::{Architecture, Network};
use crate::persist;
use crate::plasticity::{self, DormantCount, DORMANT_BATCH, DORMANT_TAU};
use crate::replay::{Batch, ReplayBuffer, Transition};
use crate::target::soft_update;
use crate::tensors::{matrix, to_vec, vector};

const LOG_STD_MIN: f64 = -5.0;
const LOG_STD_MAX: f64 = 2.0;
/// `(x − mean) / √(var + ε)`: Gymnasium's and SimBa's ε.
const OBS_NORM_EPS: f64 = 1e-8;

/// SAC hyper-parameters (`[sac]` table); defaults are CleanRL's `sac_continuous_action.py`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SacConfig {
    pub buffer_size: usize,
    pub gamma: f64,
    pub tau: f64,
    pub batch_size: usize,
    pub learning_starts: usize,
    pub policy_lr: f64,
    pub q_lr: f64,
    /// The actor (and α) is updated every this many steps, this many times (delayed, TD3-style).
    pub policy_frequency: usize,
    pub target_network_frequency: usize,
    /// Entropy coefficient when `autotune` is off, and its initial value otherwise... CleanRL starts the
    /// tuned α at 1.0 (log α = 0), which is what `autotune` does here.
    pub alpha: f64,
    pub autotune: bool,
    /// Encoder hidden sizes; empty (CleanRL) feeds observations straight to critic and actor.
    pub encoder_hidden: Vec<usize>,
    /// Hidden sizes of each Q network and of the actor (CleanRL: 256, 256): one layer per entry for an
    /// MLP, one residual block of that width per entry for SimBa.
    pub hidden: Vec<usize>,
    pub adam_eps: f64,
    /// Standardise observations by their running mean and variance before every network (SimBa's
    /// RSNorm, Gymnasium's `RunningMeanStd`, ε = 1e-8), updated with each observation the agent acts on in
    /// training and frozen in evaluation. Off in CleanRL.
    pub normalize_observations: bool,
    /// The Q networks' architecture: `mlp` (CleanRL) or `simba`.
    pub critic_network: Architecture,
    /// The actor's architecture: `mlp` (CleanRL) or `simba`.
    pub actor_network: Architecture,
}

impl Default for SacConfig {
    fn default() -> Self {
        Self {
            buffer_size: 1_000_000,
            gamma: 0.99,
            tau: 0.005,
            batch_size: 256,
            learning_starts: 5_000,
            policy_lr: 3e-4,
            q_lr: 1e-3,
            policy_frequency: 2,
            target_network_frequency: 1,
            alpha: 0.2,
            autotune: true,
            encoder_hidden: Vec::new(),
            hidden: vec![256, 256],
            adam_eps: 1e-8,
            normalize_observations: false,
            critic_network: Architecture::Mlp,
            actor_network: Architecture::Mlp,
        }
    }
}

impl SacConfig {
    pub fn validate(&self) -> Result<(), String> {
        positive_counts(&[
            ("buffer_size", self.buffer_size),
            ("batch_size", self.batch_size),
            ("policy_frequency", self.policy_frequency),
            ("target_network_frequency", self.target_network_frequency),
        ])?;
        unit_interval(&[("gamma", self.gamma), ("tau", self.tau)])?;
        positive_reals(&[
            ("policy_lr", self.policy_lr),
            ("q_lr", self.q_lr),
            ("alpha", self.alpha),
            ("adam_eps", self.adam_eps),
        ])?;
        self.critic_network.check(&self.hidden)?;
        self.actor_network.check(&self.hidden)?;
        positive_widths(&[("encoder_hidden", &self.encoder_hidden), ("hidden", &self.hidden)])?;
        batch_fits(self.batch_size, self.buffer_size)
    }
}

/// The twin Q networks: the critic module.
#[derive(Module, Debug)]
pub struct Critic<B: Backend> {
    pub q1: Network<B>,
    pub q2: Network<B>,
}

/// What the critic optimizer trains: the encoder and the critic.
#[derive(Module, Debug)]
pub struct QNets<B: Backend> {
    pub encoder: Encoder<B>,
    pub critic: Critic<B>,
}

impl<B: Backend> QNets<B> {
    fn q(&self, features: Tensor<B, 2>, actions: Tensor<B, 2>, dense: bool) -> [Tensor<B, 2>; 2] {
        let x = Tensor::cat(vec![features, actions], 1);
        [
            self.critic.q1.forward(x.clone(), dense),
            self.critic.q2.forward(x, dense),
        ]
    }

    fn mask_ids(&self) -> HashSet<ParamId> {
        let mut ids = self.encoder.mask_ids();
        ids.extend(self.critic.q1.mask_ids());
        ids.extend(self.critic.q2.mask_ids());
        ids
    }
}

/// The parts `encoder` and `critic` (both Q networks, one module).
impl<B: Backend> SparseParts<B> for QNets<B> {
    fn part_layers(&self, name: &str) -> Vec<&dyn SparseLayer<B>> {
        match name {
            "encoder" => self.encoder.sparse_layers(),
            "critic" => {
                let mut layers = self.critic.q1.sparse_layers();
                layers.extend(self.critic.q2.sparse_layers());
                layers
            }
            _ => no_part(name),
        }
    }

    fn part_layers_mut(&mut self, name: &str) -> Vec<&mut dyn SparseLayer<B>> {
        match name {
            "encoder" => self.encoder.sparse_layers_mut(),
            "critic" => {
                let mut layers = self.critic.q1.sparse_layers_mut();
                layers.extend(self.critic.q2.sparse_layers_mut());
                layers
            }
            _ => no_part(name),
        }
    }

    fn configure_part(&mut self, name: &str, masked: bool, execution: Execution) {
        match name {
            "encoder" => self.encoder.configure_part(name, masked, execution),
            "critic" => {
                self.critic.q1.configure_part(name, masked, execution);
                self.critic.q2.configure_part(name, masked, execution);
            }
            _ => no_part(name),
        }
    }
}

/// The entropy temperature, learned in log space.
#[derive(Module, Debug)]
pub struct Temperature<B: Backend> {
    pub log_alpha: Param<Tensor<B, 1>>,
}

/// The encoder and actor without autodiff, for acting.
type Acting<C> = (Encoder<C>, Network<C>);

/// A SAC agent on backend `B`.
pub struct Sac<B: AutodiffBackend> {
    config: SacConfig,
    qnets: QNets<B>,
    target: QNets<B::InnerBackend>,
    actor: Network<B>,
    acting: Option<Acting<B::InnerBackend>>,
    temperature: Temperature<B>,
    q_optim: OptimizerAdaptor<FusedAdam, QNets<B>, B>,
    actor_optim: OptimizerAdaptor<FusedAdam, Network<B>, B>,
    alpha_optim: OptimizerAdaptor<FusedAdam, Temperature<B>, B>,
    /// The modules `encoder` and `critic`, trained by `q_optim`; each counts its own gradient steps.
    q_modules: ModuleGroup,
    /// The module `actor`, trained by `actor_optim`.
    actor_module: ModuleGroup,
    replay: ReplayBuffer,
    batch: Batch,
    /// The running observation statistics, when `normalize_observations` is on; the replay buffer keeps
    /// raw observations, normalised with the current statistics when sampled (as SimBa does).
    obs_norm: Option<RunningMeanStd>,
    rng: rand_pcg::Pcg64Mcg,
    obs_dim: usize,
    low: Vec<f64>,
    high: Vec<f64>,
    /// Scale and offset mapping tanh's (−1, 1) onto the action box, computed once.
    action_scale: Vec<f32>,
    action_bias: Vec<f32>,
    device: B::Device,
}

impl<B: AutodiffBackend> Sac<B> {
    pub fn new(
        config: SacConfig,
        policies: &BTreeMap<String, SparsityPolicy>,
        obs_space: &Space,
        action_space: &Space,
        total_steps: usize,
        seed: u64,
        device: B::Device,
    ) -> Result<Self, String> {
        config.validate()?;
        let Space::Box { low, high, .. } = action_space.clone() else {
            return Err(format!(
                "SAC needs a continuous (Box) action space, got {action_space}"
            ));
        };
        let act_dim = low.len();
        let _seeded = crate::seeding::seed_backend::<B>(&device, seed);
        let mut rng = rand_pcg::Pcg64Mcg::seed_from_u64(seed ^ 0x5ac);
        let encoder = EncoderConfig::for_space(obs_space, &config.encoder_hidden)?.init::<B>(&device);
        let feat = encoder.d_out();
        let q = || {
            config
                .critic_network
                .init(feat + act_dim, &config.hidden, 1, &device)
        };
        let critic = Critic { q1: q()?, q2: q()? };
        let mut qnets = QNets { encoder, critic };
        let mut actor = config
            .actor_network
            .init::<B>(feat, &config.hidden, 2 * act_dim, &device)?;
        let policy = |m: &str| policies.get(m).cloned().unwrap_or_else(SparsityPolicy::dense);
        // The critic (and encoder) steps at every env step after `learning_starts`; the actor takes
        // `policy_frequency` steps at every `policy_frequency`-th of those env steps.
        let total = total_steps.saturating_sub(config.learning_starts);
        let pf = config.policy_frequency;
        let actor_total = pf * multiples_between(config.learning_starts, total_steps, pf);
        let mut q_modules = ModuleGroup::new(vec![
            SparseModule::new(
                "encoder",
                policy("encoder"),
                &qnets.encoder.sparse_layers(),
                total,
            )?
            .with_positions(qnets.encoder.positions()),
            SparseModule::new("critic", policy("critic"), &qnets.part_layers("critic"), total)?,
        ]);
        let mut actor_module = ModuleGroup::new(vec![SparseModule::new(
            "actor",
            policy("actor"),
            &actor.sparse_layers(),
            actor_total,
        )?]);
        q_modules.init(&mut qnets, &mut rng)?;
        actor_module.init(&mut actor, &mut rng)?;
        crate::target::materialize(&qnets);
        crate::target::materialize(&actor);
        let log_alpha = if config.autotune {
            0.0
        } else {
            config.alpha.ln() as f32
        };
        let temperature = Temperature {
            log_alpha: Param::from_tensor(vector::<B>(&[log_alpha], &device)),
        };
        let adam = || FusedAdam::new(config.adam_eps as f32);
        Ok(Self {
            target: qnets.valid(),
            qnets,
            actor,
            acting: None,
            temperature,
            q_optim: adam().init(),
            actor_optim: adam().init(),
            alpha_optim: adam().init(),
            q_modules,
            actor_module,
            replay: ReplayBuffer::new(config.buffer_size, obs_space.flat_dim(), act_dim),
            batch: Batch::default(),
            obs_norm: config
                .normalize_observations
                .then(|| RunningMeanStd::new(obs_space.flat_dim())),
            rng,
            obs_dim: obs_space.flat_dim(),
            action_scale: low
                .iter()
                .zip(&high)
                .map(|(l, h)| ((h - l) / 2.0) as f32)
                .collect(),
            action_bias: low
                .iter()
                .zip(&high)
                .map(|(l, h)| ((h + l) / 2.0) as f32)
                .collect(),
            low,
            high,
            config,
            device,
        })
    }

    fn act_dim(&self) -> usize {
        self.low.len()
    }

    /// Observations (rows of `obs_dim`) as the networks see them: standardised by the running statistics
    /// when `normalize_observations` is on, else as they are.
    fn normalized<'a>(&self, obs: &'a [f32]) -> Cow<'a, [f32]> {
        match &self.obs_norm {
            None => Cow::Borrowed(obs),
            Some(rms) => Cow::Owned(
                obs.chunks_exact(self.obs_dim)
                    .flat_map(|row| rms.normalize(row, OBS_NORM_EPS))
                    .collect(),
            ),
        }
    }

    /// Squashed Gaussian sample: actions in env units `[n, act]` and log π `[n]`, with noise from our RNG
    /// (deterministic and checkpointable).
    fn sample<C: Backend>(
        &mut self,
        actor: &Network<C>,
        features: Tensor<C, 2>,
        dense: bool,
    ) -> (Tensor<C, 2>, Tensor<C, 1>) {
        let n = features.dims()[0];
        let a = self.act_dim();
        let out = actor.forward(features, dense);
        let mean = out.clone().slice([0..n, 0..a]);
        let log_std = out.slice([0..n, a..2 * a]).tanh();
        let log_std = (log_std + 1.0) * (0.5 * (LOG_STD_MAX - LOG_STD_MIN)) + LOG_STD_MIN;
        let noise: Vec<f32> = (0..n * a)
            .map(|_| self.rng.sample::<f32, _>(StandardNormal))
            .collect();
        let eps = matrix::<C>(&noise, n, a, &mean.device());
        let x = mean + log_std.clone().exp() * eps.clone();
        let y = x.tanh();
        let scale_t = matrix::<C>(&self.action_scale, 1, a, &y.device());
        let bias_t = matrix::<C>(&self.action_bias, 1, a, &y.device());
        let log_prob = eps.powf_scalar(2.0) * (-0.5)
            - log_std
            - 0.5 * (2.0 * PI).ln()
            - (scale_t.clone() * (y.clone().powf_scalar(2.0).neg() + 1.0) + 1e-6).log();
        let action = y * scale_t + bias_t;
        (action, log_prob.sum_dim(1).reshape([n]))
    }

    /// Every module: `encoder`, `critic` (trained by `q_optim`), `actor` (by `actor_optim`).
    fn sparse_modules(&self) -> impl Iterator<Item = &SparseModule> {
        self.q_modules.modules().iter().chain(self.actor_module.modules())
    }

    fn alpha(&self) -> f64 {
        self.temperature.log_alpha.val().into_scalar().elem::<f64>().exp()
    }

    fn gradient_step(&mut self, step: usize) -> Result<Vec<Metric>, TrainError> {
        let dense = self.q_modules.dense_grads();
        self.replay
            .sample_into(self.config.batch_size, &mut self.rng, &mut self.batch);
        let batch = std::mem::take(&mut self.batch);
        let (n, a) = (batch.size, self.act_dim());
        let alpha = self.alpha();
        let gamma = self.config.gamma;

        // Critic target with the current actor on the next observations, no gradient.
        let next =
            matrix::<B::InnerBackend>(&self.normalized(&batch.next_obs), n, self.obs_dim, &self.device);
        let actor_inner = self.actor.valid();
        let next_features_actor = self.qnets.encoder.valid().forward(next.clone(), false);
        let (next_action, next_log_pi) = self.sample(&actor_inner, next_features_actor, false);
        let next_features = self.target.encoder.forward(next, false);
        let [t1, t2] = self.target.q(next_features, next_action, false);
        let min_next = t1.min_pair(t2).reshape([n]) - next_log_pi * alpha;
        let not_done = vector::<B::InnerBackend>(&batch.terminated, &self.device).neg() + 1.0;
        let rewards = vector::<B::InnerBackend>(&batch.rewards, &self.device);
        let y = Tensor::<B, 1>::from_inner(rewards + not_done * min_next * gamma);

        let batch_obs = self.normalized(&batch.obs);
        let obs = matrix::<B>(&batch_obs, n, self.obs_dim, &self.device);
        let actions = matrix::<B>(&batch.actions, n, a, &self.device);
        let features = self.qnets.encoder.forward(obs.clone(), dense.get("encoder"));
        let [q1, q2] = self.qnets.q(features, actions, dense.get("critic"));
        let q1 = q1.reshape([n]);
        let qf1_loss = (q1.clone() - y.clone()).powf_scalar(2.0).mean();
        let qf2_loss = (q2.reshape([n]) - y).powf_scalar(2.0).mean();
        let (l1, l2) = (scalar(&qf1_loss), scalar(&qf2_loss));
        if !(l1.is_finite() && l2.is_finite()) {
            return Err(TrainError {
                step,
                message: format!("SAC critic loss is {l1} / {l2}"),
            });
        }
        let qnets = self.qnets.clone();
        self.qnets = self
            .q_modules
            .step(
                qnets,
                qf1_loss + qf2_loss,
                &dense,
                self.config.q_lr,
                &mut self.q_optim,
                &mut self.rng,
            )
            .map_err(te(step))?;

        let mut metrics = vec![("losses/qf1_loss", l1), ("losses/qf2_loss", l2)];
        if step.is_multiple_of(100) {
            metrics.push(("losses/qf1_values", scalar(&q1.mean())));
        }
        if step.is_multiple_of(self.config.policy_frequency) {
            for _ in 0..self.config.policy_frequency {
                let actor_loss = self.actor_step(step, &batch_obs)?;
                metrics.push(("losses/actor_loss", actor_loss));
            }
            metrics.push(("losses/alpha", self.alpha()));
        }
        if step.is_multiple_of(self.config.target_network_frequency) {
            let ids = self.qnets.mask_ids();
            self.target = soft_update(self.target.clone(), &self.qnets.valid(), self.config.tau, &ids);
        }
        self.batch = batch;
        self.acting = None;
        Ok(metrics)
    }

    /// One actor update (and one α update when tuning), on the batch's observations.
    fn actor_step(&mut self, step: usize, obs: &[f32]) -> Result<f64, TrainError> {
        let dense = self.actor_module.dense_grads();
        let n = obs.len() / self.obs_dim;
        let obs = matrix::<B>(obs, n, self.obs_dim, &self.device);
        let features = self.qnets.encoder.forward(obs, false).detach();
        let (action, log_pi) = {
            let actor = self.actor.clone();
            self.sample(&actor, features.clone(), dense.get("actor"))
        };
        // The critic only passes the gradient on to the actions: without weight gradients it costs a
        // third less in the backward pass.
        let [q1, q2] = self.qnets.clone().no_grad().q(features.clone(), action, false);
        let min_q = q1.min_pair(q2).reshape([n]);
        let actor_loss = (log_pi * self.alpha() - min_q).mean();
        let value = scalar(&actor_loss);
        if !value.is_finite() {
            return Err(TrainError {
                step,
                message: format!("SAC actor loss is {value}"),
            });
        }
        let actor = self.actor.clone();
        self.actor = self
            .actor_module
            .step(
                actor,
                actor_loss,
                &dense,
                self.config.policy_lr,
                &mut self.actor_optim,
                &mut self.rng,
            )
            .map_err(te(step))?;
        if self.config.autotune {
            let actor_inner = self.actor.valid();
            let (_, log_pi) = self.sample(&actor_inner, features.inner(), false);
            let target_entropy = -(self.act_dim() as f64);
            let log_pi = Tensor::<B, 1>::from_inner(log_pi + target_entropy);
            let alpha_loss = (self.temperature.log_alpha.val().exp().neg() * log_pi).mean();
            let grads = GradientsParams::from_grads(alpha_loss.backward(), &self.temperature);
            self.temperature = self
                .alpha_optim
                .step(self.config.q_lr, self.temperature.clone(), grads);
        }
        Ok(value)
    }
}

/// A topology error as a training error at `step`.
fn te(step: usize) -> impl Fn(sparse_rl_dst::DstError) -> TrainError {
    move |e| TrainError {
        step,
        message: e.to_string(),
    }
}

fn scalar<C: Backend>(t: &Tensor<C, 1>) -> f64 {
    t.clone().into_scalar().elem::<f64>()
}

impl<B: AutodiffBackend> Agent for Sac<B> {
    fn act(&mut self, obs: &[f32], explore: bool, step: usize) -> Action {
        if let (true, Some(rms)) = (explore, &mut self.obs_norm) {
            rms.update(obs);
        }
        if explore && step < self.config.learning_starts {
            let a = self
                .low
                .iter()
                .zip(&self.high)
                .map(|(&l, &h)| self.rng.random_range(l..=h))
                .collect();
            return Action::Continuous(a);
        }
        let obs = self.normalized(obs);
        let (encoder, actor) = self
            .acting
            .get_or_insert_with(|| (self.qnets.encoder.valid(), self.actor.valid()));
        let features = encoder.forward(matrix(&obs, 1, self.obs_dim, &self.device), false);
        let actor = actor.clone();
        let action = if explore {
            self.sample(&actor, features, false).0
        } else {
            let a = self.act_dim();
            let mean = actor.forward(features, false).slice([0..1, 0..a]).tanh();
            mean * matrix(&self.action_scale, 1, a, &self.device)
                + matrix(&self.action_bias, 1, a, &self.device)
        };
        Action::Continuous(to_vec(action).into_iter().map(f64::from).collect())
    }

    fn observe(&mut self, obs: &[f32], action: &Action, reward: f64, next_obs: &[f32], terminated: bool) {
        let Action::Continuous(a) = action else {
            panic!("SAC observed a discrete action")
        };
        let a: Vec<f32> = a.iter().map(|&x| x as f32).collect();
        self.replay.push(Transition {
            obs,
            action: &a,
            reward: reward as f32,
            next_obs,
            terminated,
        });
    }

    fn train(&mut self, step: usize) -> Result<Vec<Metric>, TrainError> {
        if step <= self.config.learning_starts {
            return Ok(Vec::new());
        }
        self.gradient_step(step)
    }

    fn dormant_fractions(&self) -> Vec<(&'static str, f64)> {
        let mut batch = Batch::default();
        self.replay.recent_into(DORMANT_BATCH, &mut batch);
        if batch.size == 0 {
            return Vec::new();
        }
        let (qnets, actor) = (self.qnets.valid(), self.actor.valid());
        let obs = self.normalized(&batch.obs);
        let obs = matrix::<B::InnerBackend>(&obs, batch.size, self.obs_dim, &self.device);
        let actions = matrix::<B::InnerBackend>(&batch.actions, batch.size, self.act_dim(), &self.device);
        let encoder = qnets.encoder.dormant(obs.clone(), DORMANT_TAU);
        let features = qnets.encoder.forward(obs, false);
        let mut critic = DormantCount::default();
        let x = Tensor::cat(vec![features.clone(), actions], 1);
        for q in [&qnets.critic.q1, &qnets.critic.q2] {
            critic += q.dormant(x.clone(), DORMANT_TAU);
        }
        let actor = actor.dormant(features, DORMANT_TAU);
        plasticity::fractions([("encoder", encoder), ("critic", critic), ("actor", actor)])
    }
}

impl<B: AutodiffBackend> Trainable for Sac<B> {
    fn modules(&self) -> Vec<ModuleStats> {
        let (c1, c2) = (
            self.qnets.critic.q1.param_counts(),
            self.qnets.critic.q2.param_counts(),
        );
        vec![
            self.q_modules
                .module("encoder")
                .stats(self.qnets.encoder.param_counts()),
            self.q_modules.module("critic").stats((c1.0 + c2.0, c1.1 + c2.1)),
            self.actor_module.module("actor").stats(self.actor.param_counts()),
        ]
    }

    fn flops(&self) -> FlopsRatio {
        flops_ratio(self.sparse_modules())
    }

    fn save(&self, dir: &Path) -> std::io::Result<()> {
        persist::save_module(&self.qnets, &dir.join("qnets"))?;
        persist::save_module(&self.target, &dir.join("target"))?;
        persist::save_module(&self.actor, &dir.join("actor"))?;
        persist::save_module(&self.temperature, &dir.join("temperature"))?;
        persist::save_optim::<B, _, _>(&self.q_optim, &dir.join("q_optim"))?;
        persist::save_optim::<B, _, _>(&self.actor_optim, &dir.join("actor_optim"))?;
        persist::save_optim::<B, _, _>(&self.alpha_optim, &dir.join("alpha_optim"))?;
        // One list of the modules, encoder, critic, actor, whichever optimizer trains them.
        let modules: Vec<&SparseModule> = self.sparse_modules().collect();
        persist::save_json(&dir.join("agent.json"), &(&self.rng, modules))?;
        if let Some(rms) = &self.obs_norm {
            persist::save_json(&dir.join(OBS_NORM_FILE), &SavedStats::of(rms))?;
        }
        persist::save_replay(&self.replay, &dir.join("replay.bin"))
    }

    fn load(&mut self, dir: &Path) -> std::io::Result<()> {
        let d = &self.device;
        self.qnets = persist::load_module(self.qnets.clone(), &dir.join("qnets"), d)?;
        self.target = persist::load_module(self.target.clone(), &dir.join("target"), d)?;
        self.actor = persist::load_module(self.actor.clone(), &dir.join("actor"), d)?;
        self.temperature = persist::load_module(self.temperature.clone(), &dir.join("temperature"), d)?;
        let adam = FusedAdam::new(self.config.adam_eps as f32);
        let q = std::mem::replace(&mut self.q_optim, adam.init());
        self.q_optim = persist::load_optim::<B, _, _>(q, &dir.join("q_optim"), d)?;
        let p = std::mem::replace(&mut self.actor_optim, adam.init());
        self.actor_optim = persist::load_optim::<B, _, _>(p, &dir.join("actor_optim"), d)?;
        let t = std::mem::replace(&mut self.alpha_optim, adam.init());
        self.alpha_optim = persist::load_optim::<B, _, _>(t, &dir.join("alpha_optim"), d)?;
        let modules: Vec<SparseModule>;
        (self.rng, modules) = persist::load_json(&dir.join("agent.json"))?;
        for group in [&mut self.q_modules, &mut self.actor_module] {
            group.restore(&modules).map_err(std::io::Error::other)?;
        }
        if let Some(rms) = &mut self.obs_norm {
            let saved: SavedStats = persist::load_json(&dir.join(OBS_NORM_FILE))?;
            *rms = saved.into_stats(self.obs_dim, &dir.join(OBS_NORM_FILE))?;
        }
        self.replay = persist::load_replay(&dir.join("replay.bin"), &self.replay)?;
        self.acting = None;
        Ok(())
    }

    fn policy(&self) -> Result<Policy, String> {
        if self.obs_norm.is_some() {
            return Err(
                "sac.normalize_observations: the policy format holds no observation statistics, so \
                        this actor cannot be exported"
                    .into(),
            );
        }
        let mut layers = self.qnets.encoder.inference_layers()?;
        layers.extend(self.actor.inference_layers(Some(self.act_dim()))?);
        let input = PolicyInput::Single {
            obs_dim: self.obs_dim,
        };
        let output = PolicyOutput::TanhAffine {
            scale: self.action_scale.clone(),
            bias: self.action_bias.clone(),
        };
        Ok(Policy::new(input, SparseMlp::new(layers)?, output)?)
    }
}

/// Where a checkpoint keeps the running observation statistics.
const OBS_NORM_FILE: &str = "obs_norm.json";

/// The running observation statistics as a checkpoint holds them: `f64` bit patterns, so that a resumed run
/// normalises exactly as the uninterrupted one.
#[derive(Serialize, Deserialize)]
struct SavedStats {
    mean: Vec<u64>,
    var: Vec<u64>,
    count: u64,
}

impl SavedStats {
    fn of(rms: &RunningMeanStd) -> Self {
        let bits = |v: &[f64]| v.iter().map(|x| x.to_bits()).collect();
        Self {
            mean: bits(&rms.mean),
            var: bits(&rms.var),
            count: rms.count.to_bits(),
        }
    }

    fn into_stats(self, dim: usize, path: &Path) -> std::io::Result<RunningMeanStd> {
        if self.mean.len() != dim || self.var.len() != dim {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                format!(
                    "{}: statistics of {} and {} dimensions, the observation has {dim}",
                    path.display(),
                    self.mean.len(),
                    self.var.len()
                ),
            ));
        }
        let floats = |v: Vec<u64>| v.into_iter().map(f64::from_bits).collect();
        Ok(RunningMeanStd {
            mean: floats(self.mean),
            var: floats(self.var),
            count: f64::from_bits(self.count),
        })
    }
}

#[cfg(test)]
mod tests {
    use burn::backend::{Autodiff, Flex};
    use sparse_rl_envs::Env;

    use super::*;

    type B = Autodiff<Flex>;

    fn agent(config: SacConfig, env: &dyn Env) -> Sac<B> {
        let (obs, act) = (env.observation_space(), env.action_space());
        Sac::new(config, &BTreeMap::new(), &obs, &act, 1000, 7, Default::default()).unwrap()
    }

    fn normalizing() -> SacConfig {
        SacConfig {
            hidden: vec![8],
            batch_size: 4,
            buffer_size: 100,
            learning_starts: 10,
            normalize_observations: true,
            ..SacConfig::default()
        }
    }

    /// Acts on `n` observations of Pendulum in training (updating the statistics), with a greedy action
    /// on an evaluation observation after each (which must not); returns the training observations.
    fn act_on(sac: &mut Sac<B>, env: &mut dyn Env, n: usize) -> Vec<Vec<f32>> {
        let (mut obs, _) = env.reset(Some(1));
        let mut seen = Vec::new();
        for step in 1..=n {
            let action = sac.act(&obs, true, step);
            sac.act(&[0.5, -0.5, 3.0], false, step);
            seen.push(obs.clone());
            let s = env.step(&action).unwrap();
            sac.observe(&obs, &action, s.reward, &s.obs, s.terminated);
            sac.train(step).unwrap();
            obs = s.obs;
        }
        seen
    }

    #[test]
    fn observation_statistics_are_those_of_the_training_observations() {
        let mut env = sparse_rl_envs::make("Pendulum-v1").unwrap();
        let mut sac = agent(normalizing(), env.as_mut());
        let seen = act_on(&mut sac, env.as_mut(), 40);
        let rms = sac.obs_norm.clone().unwrap();
        // Gymnasium's prior (mean 0, variance 1, weight 1e-4) pooled with the samples' own moments.
        let (n, prior) = (seen.len() as f64, 1e-4);
        for d in 0..3 {
            let xs: Vec<f64> = seen.iter().map(|o| f64::from(o[d])).collect();
            let mean = xs.iter().sum::<f64>() / n;
            let m2 = xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>();
            let want_mean = mean * n / (n + prior);
            let want_var = (prior + m2 + mean * mean * prior * n / (n + prior)) / (n + prior);
            assert!((rms.mean[d] - want_mean).abs() < 1e-9, "mean[{d}]");
            assert!((rms.var[d] - want_var).abs() < 1e-9, "var[{d}]");
        }
        assert!((rms.count - (n + prior)).abs() < 1e-9);
        // What the networks see: each row standardised by those statistics.
        let row = [0.25f32, -0.75, 1.5];
        let seen_by_nets = sac.normalized(&row).into_owned();
        for d in 0..3 {
            let want = (f64::from(row[d]) - rms.mean[d]) / (rms.var[d] + 1e-8).sqrt();
            let got = f64::from(seen_by_nets[d]);
            assert!(
                (got - want).abs() <= 1e-6 * want.abs().max(1.0),
                "{got} vs {want}"
            );
        }
        let plain = agent(
            SacConfig {
                normalize_observations: false,
                ..normalizing()
            },
            env.as_ref(),
        );
        assert_eq!(plain.normalized(&row).as_ref(), &row);
    }

    #[test]
    fn a_checkpoint_restores_the_statistics_exactly_and_export_is_refused() {
        let mut env = sparse_rl_envs::make("Pendulum-v1").unwrap();
        let mut sac = agent(normalizing(), env.as_mut());
        act_on(&mut sac, env.as_mut(), 25);
        let dir = tempfile::tempdir().unwrap();
        sac.save(dir.path()).unwrap();
        let mut fresh = agent(normalizing(), env.as_ref());
        assert_ne!(fresh.obs_norm, sac.obs_norm);
        fresh.load(dir.path()).unwrap();
        assert_eq!(fresh.obs_norm, sac.obs_norm);
        let obs = [0.1f32, 0.9, -2.0];
        assert_eq!(fresh.act(&obs, false, 30), sac.act(&obs, false, 30));
        let err = sac.policy().unwrap_err();
        assert!(err.contains("normalize_observations"), "{err}");
        // A checkpoint of another observation size is refused, naming the file.
        let mut other = agent(normalizing(), env.as_ref());
        other.obs_dim = 2;
        let err = other.load(dir.path()).unwrap_err().to_string();
        assert!(err.contains(OBS_NORM_FILE), "{err}");
    }

    #[test]
    fn a_simba_actor_is_refused_by_export() {
        let env = sparse_rl_envs::make("Pendulum-v1").unwrap();
        let config = SacConfig {
            actor_network: Architecture::Simba,
            ..normalizing()
        };
        let sac = agent(
            SacConfig {
                normalize_observations: false,
                ..config
            },
            env.as_ref(),
        );
        let err = sac.policy().unwrap_err();
        assert!(err.contains("SimBa"), "{err}");
    }
}
