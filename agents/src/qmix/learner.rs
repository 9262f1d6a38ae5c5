//! The QMIX learner (EPyMARL's `QLearner` with its episode runner and ε-greedy action selector): acts
//! ε-greedily over available actions, stores whole episodes, and after each training episode (once the
//! buffer holds a batch) takes one gradient step on a batch of episodes: Q_tot of the taken actions against
//! targets built from the target network (double-Q max or Soft Mellowmax per agent, mixed by the target
//! mixer, one-step / TD(λ) / hybrid), loss = mean squared TD error over real steps, Adam with a global
//! gradient-norm clip; the target network is a hard copy every `target_update_interval` episodes, by
//! PyMARL's rule (below), or a soft update after every training step (`target_update_tau`). The `agent`
//! and `mixer` modules each follow their own sparsity policy (MAST: both RigL-style), each on its own clock
//! of gradient steps.

use std::collections::{BTreeMap, HashSet};
use std::path::Path;

use burn::module::{AutodiffModule, Module, ModuleVisitor, Param, ParamId};
use burn::optim::adaptor::OptimizerAdaptor;
use burn::optim::GradientsParams;
use burn::tensor::backend::{AutodiffBackend, Backend};
use burn::tensor::{ElementConversion, Int, Tensor, TensorData};
use rand::{Rng, SeedableRng};
use sparse_rl_dst::execution::Execution;
use sparse_rl_dst::inference::{Policy, PolicyInput, PolicyOutput, SparseMlp};
use sparse_rl_dst::module::{flops_ratio, no_part, ModuleGroup, SparseModule, SparseParts};
use sparse_rl_dst::policy::SparsityPolicy;
use sparse_rl_dst::{DstError, FusedAdam, SparseLayer};
use sparse_rl_envs::MaObs;

use super::agent_network::{AgentNetwork, AgentNetworkConfig};
use super::episode_buffer::{EpisodeBatch, EpisodeBuffer, EpisodeRecorder, EpisodeShape};
use super::mixer::{Mixer, MixerConfig};
use super::running_stats::RunningMeanStd;
use super::soft_mellowmax::soft_mellowmax;
use super::td_lambda::td_lambda_targets;
use super::QmixConfig;
use crate::agent::{FlopsRatio, Metric, ModuleStats, TrainError, Trainable};
use crate::marl::MarlAgent;
use crate::networks::param_counts;
use crate::persist;
use crate::target::soft_update;
use crate::tensors::{matrix, to_vec, vector};

/// The trained networks: the shared agent network and the mixer (one optimizer over both, as EPyMARL).
#[derive(Module, Debug)]
pub struct QmixNet<B: Backend> {
    pub agent: AgentNetwork<B>,
    pub mixer: Mixer<B>,
}

/// The parts `agent` and `mixer`.
impl<B: Backend> SparseParts<B> for QmixNet<B> {
    fn part_layers(&self, name: &str) -> Vec<&dyn SparseLayer<B>> {
        match name {
            "agent" => self.agent.sparse_layers(),
            "mixer" => self.mixer.sparse_layers(),
            _ => no_part(name),
        }
    }

    fn part_layers_mut(&mut self, name: &str) -> Vec<&mut dyn SparseLayer<B>> {
        match name {
            "agent" => self.agent.sparse_layers_mut(),
            "mixer" => self.mixer.sparse_layers_mut(),
            _ => no_part(name),
        }
    }

    fn configure_part(&mut self, name: &str, masked: bool, execution: Execution) {
        match name {
            "agent" => self.agent.configure(masked, execution),
            "mixer" => self.mixer.configure(masked, execution),
            _ => no_part(name),
        }
    }
}

impl<B: Backend> QmixNet<B> {
    /// Ids of both modules' masks (copied, never averaged, by a soft target update).
    fn mask_ids(&self) -> HashSet<ParamId> {
        let mut ids = self.agent.mask_ids();
        ids.extend(self.mixer.mask_ids());
        ids
    }
}

type QmixOptim<B> = OptimizerAdaptor<FusedAdam, QmixNet<B>, B>;

/// What the learner keeps between episodes besides networks and replay (saved as JSON in checkpoints).
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
struct Counters {
    rng: rand_pcg::Pcg64Mcg,
    /// Training episodes stored.
    episodes: usize,
    /// The episode number (episodes before the one just stored) of the last target copy.
    last_target_update_episode: usize,
    rewards: RunningMeanStd,
    /// The modules `agent` and `mixer`, trained by one optimizer; `sparsity` in `agent.json`.
    #[serde(rename = "sparsity")]
    modules: ModuleGroup,
}

/// A QMIX / MAST learner on backend `B`.
pub struct Qmix<B: AutodiffBackend> {
    config: QmixConfig,
    online: QmixNet<B>,
    target: QmixNet<B::InnerBackend>,
    /// The online agent network without autodiff, for acting; rebuilt after each update.
    acting: Option<AgentNetwork<B::InnerBackend>>,
    optim: QmixOptim<B>,
    state: Counters,
    buffer: EpisodeBuffer,
    recorder: EpisodeRecorder,
    shape: EpisodeShape,
    /// Recurrent state of the agents in the current episode.
    hidden: Option<Tensor<B::InnerBackend, 2>>,
    last_actions: Option<Vec<usize>>,
    /// The ε draws of evaluation episodes, seeded per episode ([`MarlAgent::begin_evaluation`]).
    eval_rng: rand_pcg::Pcg64Mcg,
    device: B::Device,
}

impl<B: AutodiffBackend> Qmix<B> {
    /// Builds the learner for an env of `shape` with `episode_limit` steps; `policies` maps `agent` /
    /// `mixer` to their sparsity policies (absent: dense).
    pub fn new(
        config: QmixConfig,
        policies: &BTreeMap<String, SparsityPolicy>,
        shape: EpisodeShape,
        episode_limit: usize,
        total_steps: usize,
        seed: u64,
        device: B::Device,
    ) -> Result<Self, String> {
        config.validate()?;
        let _seeded = crate::seeding::seed_backend::<B>(&device, seed);
        let mut rng = rand_pcg::Pcg64Mcg::seed_from_u64(seed ^ 0x0a1c_0001);
        let mut online = QmixNet {
            agent: AgentNetworkConfig {
                d_in: input_dim(&config, shape),
                hidden: config.hidden_dim,
                n_actions: shape.n_actions,
                recurrent: config.use_rnn,
            }
            .init::<B>(&device),
            mixer: MixerConfig {
                n_agents: shape.n_agents,
                state_dim: shape.state_dim,
                embed: config.mixing_embed_dim,
                hypernet_layers: config.hypernet_layers,
                hypernet_embed: config.hypernet_embed,
            }
            .init::<B>(&device),
        };
        let policy = |m: &str| policies.get(m).cloned().unwrap_or_else(SparsityPolicy::dense);
        // One gradient step per training episode once the buffer holds a batch; episodes at the time limit
        // give the planned total (solved episodes end early, so a run takes a few more steps and the
        // schedules, which count the modules' own steps, end a little early in env steps).
        let total_updates = (total_steps / episode_limit.max(1)).saturating_sub(config.batch_size - 1);
        let agent_layers = online.agent.sparse_layers();
        // The agent network runs once per agent for each env step: n_agents positions per example.
        let positions = vec![shape.n_agents; agent_layers.len()];
        let mut modules = ModuleGroup::new(vec![
            SparseModule::new("agent", policy("agent"), &agent_layers, total_updates)?
                .with_positions(positions),
            SparseModule::new(
                "mixer",
                policy("mixer"),
                &online.mixer.sparse_layers(),
                total_updates,
            )?,
        ]);
        modules.init(&mut online, &mut rng)?;
        crate::target::materialize(&online);
        Ok(Self {
            target: online.valid(),
            acting: None,
            online,
            optim: adam(&config),
            state: Counters {
                rng,
                episodes: 0,
                last_target_update_episode: 0,
                rewards: RunningMeanStd::default(),
                modules,
            },
            buffer: EpisodeBuffer::new(config.buffer_size, shape),
            recorder: EpisodeRecorder::new(),
            shape,
            hidden: None,
            last_actions: None,
            eval_rng: rand_pcg::Pcg64Mcg::seed_from_u64(0),
            config,
            device,
        })
    }

    /// Network inputs of one step, `[n_agents, d_in]`: observation, [one-hot last action], [one-hot id].
    fn push_inputs(&self, out: &mut Vec<f32>, obs: &[f32], last_actions: Option<&[usize]>) {
        let s = self.shape;
        for (i, o) in obs.chunks(s.obs_dim).enumerate() {
            out.extend_from_slice(o);
            if self.config.obs_last_action {
                let last = last_actions.map(|a| a[i]);
                out.extend((0..s.n_actions).map(|a| f32::from(u8::from(last == Some(a)))));
            }
            if self.config.obs_agent_id {
                out.extend((0..s.n_agents).map(|j| f32::from(u8::from(i == j))));
            }
        }
    }

    /// Inputs of a whole batch, `[B, T + 1, n_agents, d_in]` (the last action at t = 0 is none).
    fn batch_inputs(&self, batch: &EpisodeBatch) -> Vec<f32> {
        let s = self.shape;
        let (t1, step_obs) = (batch.t_len + 1, s.n_agents * s.obs_dim);
        let mut out = Vec::with_capacity(batch.size * t1 * s.n_agents * input_dim(&self.config, s));
        for b in 0..batch.size {
            for t in 0..t1 {
                let obs = &batch.obs[(b * t1 + t) * step_obs..(b * t1 + t + 1) * step_obs];
                let last: Option<Vec<usize>> = (t > 0).then(|| {
                    let k = (b * batch.t_len + t - 1) * s.n_agents;
                    batch.actions[k..k + s.n_agents]
                        .iter()
                        .map(|&a| a as usize)
                        .collect()
                });
                self.push_inputs(&mut out, obs, last.as_deref());
            }
        }
        out
    }

    /// Per agent and step, the value of the next state that the target uses, `[B·(T + 1), n_agents]`:
    /// Soft Mellowmax of the target Q over available actions, or the target Q of the online network's
    /// greedy action (double-Q), or the target's own max.
    fn next_values(&self, target_q: &[f32], online_q: &[f32], avail: &[f32]) -> Vec<f32> {
        let (a, mast) = (self.shape.n_actions, &self.config.mast);
        target_q
            .chunks(a)
            .zip(online_q.chunks(a))
            .zip(avail.chunks(a))
            .map(|((tq, oq), av)| {
                let ok: Vec<bool> = av.iter().map(|&x| x > 0.5).collect();
                if mast.soft_mellowmax {
                    soft_mellowmax(tq, &ok, mast.omega, mast.alpha) as f32
                } else if self.config.double_q {
                    tq[argmax_available(oq, &ok)]
                } else {
                    tq[argmax_available(tq, &ok)]
                }
            })
            .collect()
    }

    fn gradient_step(&mut self, step: usize) -> Result<Vec<Metric>, TrainError> {
        let c = &self.config;
        let s = self.shape;
        let dense = self.state.modules.dense_grads();
        let indices = self
            .buffer
            .sample_indices(c.batch_size, c.mast.sampler(), &mut self.state.rng);
        let batch = self.buffer.batch(&indices);
        let (bs, t, n, na) = (batch.size, batch.t_len, s.n_agents, s.n_actions);
        let inputs = self.batch_inputs(&batch);
        let d_in = inputs.len() / (bs * (t + 1) * n);
        let x = Tensor::<B, 4>::from_data(TensorData::new(inputs, [bs, t + 1, n, d_in]), &self.device);
        let states = matrix::<B>(&batch.state, bs * (t + 1), s.state_dim, &self.device);

        // Targets, without gradient.
        let q_online = self.online.agent.forward_episodes(x.clone(), dense.get("agent"));
        let target_q = to_vec(self.target.agent.forward_episodes(x.clone().inner(), false));
        let values = self.next_values(&target_q, &to_vec(q_online.clone().inner()), &batch.avail);
        let q_next = self.target.mixer.forward(
            matrix(&values, bs * (t + 1), n, &self.device),
            states.clone().inner(),
            false,
        );
        let rewards = if c.standardise_rewards {
            self.state.rewards.update(&batch.rewards);
            self.state.rewards.standardise(&batch.rewards)
        } else {
            batch.rewards.clone()
        };
        let lambda = c.mast.lambda_at(step, c.td_lambda);
        let targets = td_lambda_targets(
            &rewards,
            &batch.terminated,
            &batch.filled,
            &to_vec(q_next),
            t,
            c.gamma,
            lambda,
        );

        // Q_tot of the taken actions at steps 0..T.
        let actions: Vec<i64> = batch.actions.iter().map(|&a| a as i64).collect();
        let actions = Tensor::<B, 4, Int>::from_data(TensorData::new(actions, [bs, t, n, 1]), &self.device);
        let q_taken = q_online
            .slice([0..bs, 0..t, 0..n, 0..na])
            .gather(3, actions)
            .reshape([bs * t, n]);
        let states_t = states
            .reshape([bs, t + 1, s.state_dim])
            .slice([0..bs, 0..t, 0..s.state_dim])
            .reshape([bs * t, s.state_dim]);
        let q_tot = self.online.mixer.forward(q_taken, states_t, dense.get("mixer"));
        let mask = vector::<B>(&batch.filled, &self.device);
        let real_steps = batch.filled.iter().sum::<f32>().max(1.0);
        let td = (q_tot.clone() - vector::<B>(&targets, &self.device)) * mask;
        let loss = td.powf_scalar(2.0).sum() / real_steps;
        let loss_value = loss.clone().into_scalar().elem::<f64>();
        if !loss_value.is_finite() {
            return Err(TrainError {
                step,
                message: format!("QMIX TD loss is {loss_value}"),
            });
        }
        let mut grad_norm = 0.0;
        let clip = |net: &QmixNet<B>, grads| {
            let (grads, norm) = clip_grad_norm(net, grads, c.grad_norm_clip);
            grad_norm = norm;
            grads
        };
        let st = &mut self.state;
        let online = self.online.clone();
        let (online, grads) =
            st.modules
                .optimize(online, loss, &dense, c.learning_rate, &mut self.optim, clip);
        self.online = online;
        st.modules
            .after_step(&mut self.online, grads, &mut self.optim, &mut st.rng)
            .map_err(|e: DstError| TrainError {
                step,
                message: e.to_string(),
            })?;
        self.acting = None;
        let q_mean = q_tot.sum().into_scalar().elem::<f64>() / (bs * t) as f64;
        Ok(vec![
            ("losses/td_loss", loss_value),
            ("losses/q_values", q_mean),
            ("losses/grad_norm", grad_norm),
            ("losses/td_lambda", lambda),
        ])
    }

    /// The target update after a training step: soft with `target_update_tau` > 0 (EPyMARL's
    /// `_update_targets_soft`), else PyMARL's hard copy when due: after the training step, copy when
    /// `episode_num - last_target_update_episode >= target_update_interval`, where `episode_num` counts the
    /// episodes run before this one (the runner increments it after training), so the first copy follows
    /// episode `target_update_interval + 1`.
    fn update_target(&mut self) {
        let tau = self.config.target_update_tau;
        if tau > 0.0 {
            let masks = self.online.mask_ids();
            self.target = soft_update(self.target.clone(), &self.online.valid(), tau, &masks);
            return;
        }
        let episode_num = self.state.episodes - 1;
        let last = self.state.last_target_update_episode;
        if target_copy_due(episode_num, last, self.config.target_update_interval) {
            self.target = self.online.valid();
            self.state.last_target_update_episode = episode_num;
        }
    }
}

/// PyMARL's condition for the hard target copy after a training step:
/// `(episode_num - last_target_update_episode) / target_update_interval >= 1.0`.
fn target_copy_due(episode_num: usize, last: usize, interval: usize) -> bool {
    (episode_num - last) as f64 / interval as f64 >= 1.0
}

/// Index of the largest value among available actions (the first on ties).
fn argmax_available(q: &[f32], avail: &[bool]) -> usize {
    (0..q.len())
        .filter(|&a| avail[a])
        .fold(None, |best: Option<usize>, a| match best {
            Some(b) if q[b] >= q[a] => Some(b),
            _ => Some(a),
        })
        .expect("at least one available action")
}

/// Width of the agent network's input.
fn input_dim(c: &QmixConfig, s: EpisodeShape) -> usize {
    s.obs_dim + if c.obs_last_action { s.n_actions } else { 0 } + if c.obs_agent_id { s.n_agents } else { 0 }
}

fn adam<B: AutodiffBackend>(c: &QmixConfig) -> QmixOptim<B> {
    FusedAdam::new(c.adam_eps as f32).init()
}

/// Scales all gradients by min(1, max_norm / ‖g‖) with ‖g‖ the norm over every parameter together, as
/// torch's `clip_grad_norm_` in EPyMARL (burn's own clipping works per tensor). Returns the norm before.
fn clip_grad_norm<B: AutodiffBackend, M: AutodiffModule<B>>(
    module: &M,
    mut grads: GradientsParams,
    max_norm: f64,
) -> (GradientsParams, f64) {
    struct SquaredNorm<'a> {
        grads: &'a GradientsParams,
        total: f64,
    }
    impl<B: AutodiffBackend> ModuleVisitor<B> for SquaredNorm<'_> {
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<B, D>>) {
            if let Some(g) = self.grads.get::<B::InnerBackend, D>(param.id) {
                self.total += g.powf_scalar(2.0).sum().into_scalar().elem::<f64>();
            }
        }
    }
    struct Scale<'a> {
        grads: &'a mut GradientsParams,
        factor: f64,
    }
    impl<B: AutodiffBackend> ModuleVisitor<B> for Scale<'_> {
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<B, D>>) {
            if let Some(g) = self.grads.remove::<B::InnerBackend, D>(param.id) {
                self.grads.register(param.id, g * self.factor);
            }
        }
    }
    let mut norm = SquaredNorm {
        grads: &grads,
        total: 0.0,
    };
    module.visit(&mut norm);
    let total = norm.total.sqrt();
    if total > max_norm {
        let mut scale = Scale {
            grads: &mut grads,
            factor: max_norm / (total + 1e-6),
        };
        module.visit(&mut scale);
    }
    (grads, total)
}

impl<B: AutodiffBackend> MarlAgent for Qmix<B> {
    fn begin_episode(&mut self) {
        self.hidden = None;
        self.last_actions = None;
    }

    fn begin_evaluation(&mut self, seed: u64) {
        self.begin_episode();
        self.eval_rng = rand_pcg::Pcg64Mcg::seed_from_u64(seed);
    }

    fn act(&mut self, obs: &MaObs, explore: bool, step: usize) -> Vec<usize> {
        let s = self.shape;
        let flat: Vec<f32> = obs.obs.iter().flatten().copied().collect();
        let mut inputs = Vec::new();
        self.push_inputs(&mut inputs, &flat, self.last_actions.as_deref());
        let net = self.acting.get_or_insert_with(|| self.online.agent.valid());
        let x = matrix(&inputs, s.n_agents, inputs.len() / s.n_agents, &self.device);
        let (q, hidden) = net.step(x, self.hidden.take(), false);
        self.hidden = hidden;
        let q = to_vec(q);
        let (epsilon, rng) = if explore {
            (self.config.epsilon(step), &mut self.state.rng)
        } else {
            (self.config.evaluation_epsilon, &mut self.eval_rng)
        };
        let actions: Vec<usize> = q
            .chunks(s.n_actions)
            .zip(&obs.avail_actions)
            .map(|(q, avail)| {
                if epsilon > 0.0 && rng.random::<f64>() < epsilon {
                    let choices: Vec<usize> = (0..s.n_actions).filter(|&a| avail[a]).collect();
                    choices[rng.random_range(0..choices.len())]
                } else {
                    argmax_available(q, avail)
                }
            })
            .collect();
        self.last_actions = Some(actions.clone());
        actions
    }

    fn observe(&mut self, obs: &MaObs, actions: &[usize], reward: f64) {
        self.recorder.push(obs, actions, reward);
    }

    fn end_episode(
        &mut self,
        last: &MaObs,
        terminated: bool,
        step: usize,
    ) -> Result<Vec<Metric>, TrainError> {
        let episode = std::mem::take(&mut self.recorder).finish(last, terminated);
        self.buffer.push(episode);
        self.state.episodes += 1;
        let mut metrics = vec![("charts/epsilon", self.config.epsilon(step))];
        if self.buffer.len() >= self.config.batch_size {
            metrics.extend(self.gradient_step(step)?);
            self.update_target();
        }
        Ok(metrics)
    }
}

impl<B: AutodiffBackend> Trainable for Qmix<B> {
    fn modules(&self) -> Vec<ModuleStats> {
        let modules = &self.state.modules;
        vec![
            modules
                .module("agent")
                .stats(param_counts(&self.online.agent, &self.online.agent.mask_ids())),
            modules
                .module("mixer")
                .stats(param_counts(&self.online.mixer, &self.online.mixer.mask_ids())),
        ]
    }

    fn flops(&self) -> FlopsRatio {
        flops_ratio(self.state.modules.modules())
    }

    fn save(&self, dir: &Path) -> std::io::Result<()> {
        persist::save_module(&self.online, &dir.join("online"))?;
        persist::save_module(&self.target, &dir.join("target"))?;
        persist::save_optim::<B, _, _>(&self.optim, &dir.join("optim"))?;
        persist::save_json(&dir.join("agent.json"), &self.state)?;
        let mut w = std::io::BufWriter::new(std::fs::File::create(dir.join("episodes.bin"))?);
        self.buffer.write_to(&mut w)?;
        std::io::Write::flush(&mut w)
    }

    fn load(&mut self, dir: &Path) -> std::io::Result<()> {
        self.online = persist::load_module(self.online.clone(), &dir.join("online"), &self.device)?;
        self.target = persist::load_module(self.target.clone(), &dir.join("target"), &self.device)?;
        let optim = std::mem::replace(&mut self.optim, adam(&self.config));
        self.optim = persist::load_optim::<B, _, _>(optim, &dir.join("optim"), &self.device)?;
        self.state = persist::load_json(&dir.join("agent.json"))?;
        let mut r = std::io::BufReader::new(std::fs::File::open(dir.join("episodes.bin"))?);
        self.buffer = EpisodeBuffer::read_from(&mut r, &self.buffer).map_err(|e| {
            std::io::Error::new(e.kind(), format!("{}: {e}", dir.join("episodes.bin").display()))
        })?;
        self.acting = None;
        self.begin_episode();
        Ok(())
    }

    fn policy(&self) -> Result<Policy, String> {
        let (s, c) = (self.shape, &self.config);
        let input = PolicyInput::Agents {
            n_agents: s.n_agents,
            obs_dim: s.obs_dim,
            last_action: c.obs_last_action.then_some(s.n_actions),
            agent_id: c.obs_agent_id,
        };
        let network = SparseMlp::new(self.online.agent.inference_layers()?)?;
        let output = PolicyOutput::Argmax {
            n_actions: s.n_actions,
        };
        Ok(Policy::new(input, network, output)?)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use burn::backend::{Autodiff, NdArray};
    use burn::module::{AutodiffModule, Module, ModuleVisitor, Param};
    use burn::tensor::backend::Backend;
    use burn::tensor::Tensor;
    use sparse_rl_envs::make_multi_agent;

    use super::{target_copy_due, EpisodeShape, Qmix, QmixConfig};
    use crate::marl::MarlAgent;

    /// Every float parameter of `module`, masks included, in visit order.
    fn flat<B: Backend, M: Module<B>>(module: &M) -> Vec<f32> {
        struct Flat(Vec<f32>);
        impl<B: Backend> ModuleVisitor<B> for Flat {
            fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<B, D>>) {
                self.0
                    .extend(crate::tensors::to_vec(param.val().flatten::<1>(0, D - 1)));
            }
        }
        let mut out = Flat(Vec::new());
        module.visit(&mut out);
        out.0
    }

    /// With `target_update_tau`, every training step moves the target to τ·online + (1 − τ)·target (masks
    /// included: they are ones on both sides here); episodes before the buffer holds a batch leave it alone.
    #[test]
    fn soft_target_follows_every_training_step() {
        let mut env = make_multi_agent("Foraging-5x5-2p-1f").unwrap();
        let shape = EpisodeShape {
            n_agents: env.n_agents(),
            obs_dim: env.obs_dim(),
            state_dim: env.state_dim(),
            n_actions: env.n_actions(),
        };
        let config = QmixConfig {
            batch_size: 2,
            buffer_size: 8,
            hidden_dim: 8,
            mixing_embed_dim: 4,
            hypernet_embed: 8,
            target_update_tau: 0.2,
            ..QmixConfig::default()
        };
        let limit = env.episode_limit();
        let device = Default::default();
        let mut agent =
            Qmix::<Autodiff<NdArray>>::new(config, &BTreeMap::new(), shape, limit, 4000, 5, device).unwrap();
        let mut step = 0;
        for episode in 0..4u64 {
            let mut obs = env.reset(Some(episode));
            agent.begin_episode();
            let (last, terminated) = loop {
                let actions = agent.act(&obs, true, step);
                let s = env.step(&actions).unwrap();
                agent.observe(&obs, &actions, s.team_reward);
                step += 1;
                if s.terminated || s.truncated {
                    break (s.obs, s.terminated);
                }
                obs = s.obs;
            };
            let before = flat(&agent.target);
            agent.end_episode(&last, terminated, step).unwrap();
            let after = flat(&agent.target);
            if episode == 0 {
                assert_eq!(after, before, "no training step yet, no target update");
                continue;
            }
            let online = flat(&agent.online.valid());
            for ((a, b), o) in after.iter().zip(&before).zip(&online) {
                assert!((a - (0.2 * o + 0.8 * b)).abs() < 1e-6, "{a} vs 0.2·{o} + 0.8·{b}");
            }
            assert_ne!(after, before, "episode {episode}: the target moved");
        }
    }

    /// The episodes after which the target is copied, training from episode `first_train` on (the buffer
    /// then holds a batch), as PyMARL's runner and learner count them: the learner sees `episode_num` =
    /// episodes run before the current one.
    fn copies(first_train: usize, interval: usize, episodes: usize) -> Vec<usize> {
        let mut last = 0;
        let mut out = Vec::new();
        for episode in first_train..=episodes {
            if target_copy_due(episode - 1, last, interval) {
                last = episode - 1;
                out.push(episode);
            }
        }
        out
    }

    #[test]
    fn target_copies_follow_pymarls_episode_count() {
        // EPyMARL's QMIX: batch 32, interval 200: copies after episodes 201, 401, 601 (not 200, 400).
        assert_eq!(copies(32, 200, 700), vec![201, 401, 601]);
        // Training starts after the interval has passed: the first copy comes with the first training
        // step, then one interval later.
        assert_eq!(copies(32, 10, 60), vec![32, 42, 52]);
    }
}
