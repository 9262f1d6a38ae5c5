//! SAC for continuous actions as CleanRL's `sac_continuous_action.py` (Haarnoja et al. 2018): twin critics
//! with Polyak-averaged targets, a tanh-squashed Gaussian actor updated every `policy_frequency` steps
//! (that many times, TD3-style), and automatic entropy tuning toward −|A|. MST modules: an optional encoder
//! (trained by the critic loss; the actor reads its features detached, as SAC-AE and DrQ do), the critic
//! (both Q networks) and the actor, each with its own sparsity policy.

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
use sparse_rl_dst::inference::{Policy, PolicyInput, PolicyOutput, SparseMlp};
use sparse_rl_dst::policy::SparsityPolicy;
use sparse_rl_dst::FusedAdam;
use sparse_rl_envs::{Action, Space};

use crate::agent::{Agent, FlopsRatio, Metric, ModuleStats, TrainError};
use crate::checks::{batch_fits, positive_counts, positive_reals, positive_widths, unit_interval};
use crate::encoder::{Encoder, EncoderConfig};
use crate::networks::{Mlp, MlpConfig};
use crate::persist;
use crate::plasticity::{self, DormantCount, DORMANT_BATCH, DORMANT_TAU};
use crate::replay::{Batch, ReplayBuffer, Transition};
use crate::sparse_module::{multiples_between, ModuleSparsity};
use crate::target::soft_update;
use crate::tensors::{matrix, to_vec, vector};

const LOG_STD_MIN: f64 = -5.0;
const LOG_STD_MAX: f64 = 2.0;

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
    /// Hidden sizes of each Q network and of the actor (CleanRL: 256, 256).
    pub hidden: Vec<usize>,
    pub adam_eps: f64,
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
        if self.hidden.is_empty() {
            return Err("hidden must name at least one layer".into());
        }
        positive_widths(&[("encoder_hidden", &self.encoder_hidden), ("hidden", &self.hidden)])?;
        batch_fits(self.batch_size, self.buffer_size)
    }
}

/// The twin Q networks: the critic module.
#[derive(Module, Debug)]
pub struct Critic<B: Backend> {
    pub q1: Mlp<B>,
    pub q2: Mlp<B>,
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

    fn critic_layers_mut(&mut self) -> Vec<&mut dyn sparse_rl_dst::SparseLayer<B>> {
        let mut l = self.critic.q1.sparse_layers_mut();
        l.extend(self.critic.q2.sparse_layers_mut());
        l
    }

    fn critic_layers(&self) -> Vec<&dyn sparse_rl_dst::SparseLayer<B>> {
        let mut l = self.critic.q1.sparse_layers();
        l.extend(self.critic.q2.sparse_layers());
        l
    }
}

/// The entropy temperature, learned in log space.
#[derive(Module, Debug)]
pub struct Temperature<B: Backend> {
    pub log_alpha: Param<Tensor<B, 1>>,
}

/// The encoder and actor without autodiff, for acting.
type Acting<C> = (Encoder<C>, Mlp<C>);

/// A SAC agent on backend `B`.
pub struct Sac<B: AutodiffBackend> {
    config: SacConfig,
    qnets: QNets<B>,
    target: QNets<B::InnerBackend>,
    actor: Mlp<B>,
    acting: Option<Acting<B::InnerBackend>>,
    temperature: Temperature<B>,
    q_optim: OptimizerAdaptor<FusedAdam, QNets<B>, B>,
    actor_optim: OptimizerAdaptor<FusedAdam, Mlp<B>, B>,
    alpha_optim: OptimizerAdaptor<FusedAdam, Temperature<B>, B>,
    /// encoder, critic, actor; each counts its own gradient steps.
    sparsity: [ModuleSparsity; 3],
    replay: ReplayBuffer,
    batch: Batch,
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
        let mlp = |d_in, d_out| MlpConfig {
            d_in,
            hidden: config.hidden.clone(),
            d_out,
            activate_last: false,
        };
        let critic = Critic {
            q1: mlp(feat + act_dim, 1).init(&device),
            q2: mlp(feat + act_dim, 1).init(&device),
        };
        let mut qnets = QNets { encoder, critic };
        let mut actor = mlp(feat, 2 * act_dim).init::<B>(&device);
        let policy = |m: &str| policies.get(m).cloned().unwrap_or_else(SparsityPolicy::dense);
        // The critic (and encoder) steps at every env step after `learning_starts`; the actor takes
        // `policy_frequency` steps at every `policy_frequency`-th of those env steps.
        let total = total_steps.saturating_sub(config.learning_starts);
        let pf = config.policy_frequency;
        let actor_total = pf * multiples_between(config.learning_starts, total_steps, pf);
        let mut sparsity = [
            ModuleSparsity::new(
                "encoder",
                policy("encoder"),
                &qnets.encoder.sparse_layers(),
                total,
            )?
            .with_positions(qnets.encoder.positions()),
            ModuleSparsity::new("critic", policy("critic"), &qnets.critic_layers(), total)?,
            ModuleSparsity::new("actor", policy("actor"), &actor.sparse_layers(), actor_total)?,
        ];
        sparsity[0].init(qnets.encoder.sparse_layers_mut(), &mut rng)?;
        sparsity[1].init(qnets.critic_layers_mut(), &mut rng)?;
        sparsity[2].init(actor.sparse_layers_mut(), &mut rng)?;
        qnets.encoder.set_masked(!sparsity[0].is_dense());
        qnets.critic.q1.set_masked(!sparsity[1].is_dense());
        qnets.critic.q2.set_masked(!sparsity[1].is_dense());
        actor.set_masked(!sparsity[2].is_dense());
        qnets.encoder.set_execution(sparsity[0].execution());
        qnets.critic.q1.set_execution(sparsity[1].execution());
        qnets.critic.q2.set_execution(sparsity[1].execution());
        actor.set_execution(sparsity[2].execution());
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
            sparsity,
            replay: ReplayBuffer::new(config.buffer_size, obs_space.flat_dim(), act_dim),
            batch: Batch::default(),
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

    /// Squashed Gaussian sample: actions in env units `[n, act]` and log π `[n]`, with noise from our RNG
    /// (deterministic and checkpointable).
    fn sample<C: Backend>(
        &mut self,
        actor: &Mlp<C>,
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

    fn alpha(&self) -> f64 {
        self.temperature.log_alpha.val().into_scalar().elem::<f64>().exp()
    }

    fn gradient_step(&mut self, step: usize) -> Result<Vec<Metric>, TrainError> {
        let dense = [0, 1].map(|m| self.sparsity[m].needs_dense_grad());
        self.replay
            .sample_into(self.config.batch_size, &mut self.rng, &mut self.batch);
        let batch = std::mem::take(&mut self.batch);
        let (n, a) = (batch.size, self.act_dim());
        let alpha = self.alpha();
        let gamma = self.config.gamma;

        // Critic target with the current actor on the next observations, no gradient.
        let next = matrix::<B::InnerBackend>(&batch.next_obs, n, self.obs_dim, &self.device);
        let actor_inner = self.actor.valid();
        let next_features_actor = self.qnets.encoder.valid().forward(next.clone(), false);
        let (next_action, next_log_pi) = self.sample(&actor_inner, next_features_actor, false);
        let next_features = self.target.encoder.forward(next, false);
        let [t1, t2] = self.target.q(next_features, next_action, false);
        let min_next = t1.min_pair(t2).reshape([n]) - next_log_pi * alpha;
        let not_done = vector::<B::InnerBackend>(&batch.terminated, &self.device).neg() + 1.0;
        let rewards = vector::<B::InnerBackend>(&batch.rewards, &self.device);
        let y = Tensor::<B, 1>::from_inner(rewards + not_done * min_next * gamma);

        let obs = matrix::<B>(&batch.obs, n, self.obs_dim, &self.device);
        let actions = matrix::<B>(&batch.actions, n, a, &self.device);
        let features = self.qnets.encoder.forward(obs.clone(), dense[0]);
        let [q1, q2] = self.qnets.q(features, actions, dense[1]);
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
        let mut grads = GradientsParams::from_grads((qf1_loss + qf2_loss).backward(), &self.qnets);
        let enc_grads =
            self.sparsity[0].take_grads(&self.qnets.encoder.sparse_layers(), &mut grads, dense[0]);
        let critic_grads = self.sparsity[1].take_grads(&self.qnets.critic_layers(), &mut grads, dense[1]);
        self.qnets = self.q_optim.step(self.config.q_lr, self.qnets.clone(), grads);
        let (layers, optim, rng) = (
            self.qnets.encoder.sparse_layers_mut(),
            &mut self.q_optim,
            &mut self.rng,
        );
        self.sparsity[0]
            .after_step(layers, enc_grads, optim, rng)
            .map_err(te(step))?;
        let (layers, optim, rng) = (self.qnets.critic_layers_mut(), &mut self.q_optim, &mut self.rng);
        self.sparsity[1]
            .after_step(layers, critic_grads, optim, rng)
            .map_err(te(step))?;

        let mut metrics = vec![("losses/qf1_loss", l1), ("losses/qf2_loss", l2)];
        if step.is_multiple_of(100) {
            metrics.push(("losses/qf1_values", scalar(&q1.mean())));
        }
        if step.is_multiple_of(self.config.policy_frequency) {
            for _ in 0..self.config.policy_frequency {
                let actor_loss = self.actor_step(step, &batch.obs)?;
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
        let dense = self.sparsity[2].needs_dense_grad();
        let n = obs.len() / self.obs_dim;
        let obs = matrix::<B>(obs, n, self.obs_dim, &self.device);
        let features = self.qnets.encoder.forward(obs, false).detach();
        let (action, log_pi) = {
            let actor = self.actor.clone();
            self.sample(&actor, features.clone(), dense)
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
        let mut grads = GradientsParams::from_grads(actor_loss.backward(), &self.actor);
        let actor_grads = self.sparsity[2].take_grads(&self.actor.sparse_layers(), &mut grads, dense);
        self.actor = self
            .actor_optim
            .step(self.config.policy_lr, self.actor.clone(), grads);
        let (layers, optim, rng) = (
            self.actor.sparse_layers_mut(),
            &mut self.actor_optim,
            &mut self.rng,
        );
        self.sparsity[2]
            .after_step(layers, actor_grads, optim, rng)
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
        if explore && step < self.config.learning_starts {
            let a = self
                .low
                .iter()
                .zip(&self.high)
                .map(|(&l, &h)| self.rng.random_range(l..=h))
                .collect();
            return Action::Continuous(a);
        }
        let (encoder, actor) = self
            .acting
            .get_or_insert_with(|| (self.qnets.encoder.valid(), self.actor.valid()));
        let features = encoder.forward(matrix(obs, 1, self.obs_dim, &self.device), false);
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

    fn modules(&self) -> Vec<ModuleStats> {
        let (c1, c2) = (
            self.qnets.critic.q1.param_counts(),
            self.qnets.critic.q2.param_counts(),
        );
        vec![
            self.sparsity[0].stats(self.qnets.encoder.param_counts()),
            self.sparsity[1].stats((c1.0 + c2.0, c1.1 + c2.1)),
            self.sparsity[2].stats(self.actor.param_counts()),
        ]
    }

    fn dormant_fractions(&self) -> Vec<(&'static str, f64)> {
        let mut batch = Batch::default();
        self.replay.recent_into(DORMANT_BATCH, &mut batch);
        if batch.size == 0 {
            return Vec::new();
        }
        let (qnets, actor) = (self.qnets.valid(), self.actor.valid());
        let obs = matrix::<B::InnerBackend>(&batch.obs, batch.size, self.obs_dim, &self.device);
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

    fn flops(&self) -> FlopsRatio {
        crate::sparse_module::flops_ratio(&self.sparsity)
    }

    fn save(&self, dir: &Path) -> std::io::Result<()> {
        persist::save_module(&self.qnets, &dir.join("qnets"))?;
        persist::save_module(&self.target, &dir.join("target"))?;
        persist::save_module(&self.actor, &dir.join("actor"))?;
        persist::save_module(&self.temperature, &dir.join("temperature"))?;
        persist::save_optim::<B, _, _>(&self.q_optim, &dir.join("q_optim"))?;
        persist::save_optim::<B, _, _>(&self.actor_optim, &dir.join("actor_optim"))?;
        persist::save_optim::<B, _, _>(&self.alpha_optim, &dir.join("alpha_optim"))?;
        persist::save_json(&dir.join("agent.json"), &(&self.rng, &self.sparsity))?;
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
        (self.rng, self.sparsity) = persist::load_json(&dir.join("agent.json"))?;
        self.replay = persist::load_replay(&dir.join("replay.bin"), &self.replay)?;
        self.acting = None;
        Ok(())
    }

    fn policy(&self) -> Result<Policy, String> {
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
