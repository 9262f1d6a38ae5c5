//! GAN training with a sparse generator and a sparse discriminator, each an MLP of masked layers with its
//! own sparsity policy (modules `generator` and `discriminator`), and optionally ADAPT's discriminator
//! density controller (Wang et al., "Balanced Training for Sparse GANs", NeurIPS 2023).
//!
//! One iteration, as in the authors' `train` (YiteWang/ADAPT, `sparselearning/gan_functions.py`): a
//! discriminator step on a real and a generated batch, then a generator step with the non-saturating loss
//! (Goodfellow et al. 2014), each followed by its module's topology update; every `sample_interval`
//! iterations the balance ratio's three means are measured with D after its step, G before and after
//! its step on the same z; every ΔT iterations ADAPT may move D's density. The balance ratio is measured
//! in every mode, so static and RigL runs log it too.

use std::path::Path;

use burn::module::AutodiffModule;
use burn::optim::adaptor::OptimizerAdaptor;
use burn::tensor::activation::relu;
use burn::tensor::backend::AutodiffBackend;
use burn::tensor::{ElementConversion, Tensor};
use rand::{Rng, SeedableRng};
use rand_distr::StandardNormal;
use serde::{Deserialize, Serialize};
use sparse_rl_dst::adapt::{AdaptConfig, AdaptController, AdaptVariant, BalanceRatio, BalanceSample};
use sparse_rl_dst::inference::Policy;
use sparse_rl_dst::module::{flops_ratio, ModuleGroup, SparseModule};
use sparse_rl_dst::policy::{PolicyKind, SparsityPolicy};
use sparse_rl_dst::FusedAdam;

use super::metrics::ModeCoverage;
use super::mixture::Mixture;
use crate::agent::{FlopsRatio, Metric, ModuleStats, TrainError, Trainable};
use crate::checks::{positive_counts, positive_reals, positive_widths, unit_interval};
use crate::networks::{Mlp, MlpConfig};
use crate::persist;
use crate::tensors::{matrix, to_vec};

/// GAN hyper-parameters (`[gan]` table). Sizes, batch, Adam's β₁ and the 2-D latent are PacGAN's
/// synthetic-data setup (fjxmlzn/PacGAN configs: batch 100, lr 1e-4, β₁ 0.8, z ∈ R², 2,500 evaluation
/// samples), with smaller hidden layers (PacGAN: 400 for G, 200 maxout for D) for CPU runs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct GanConfig {
    /// Dimension of the generator's N(0, I) input.
    pub latent_dim: usize,
    /// Hidden sizes of the generator (ReLU).
    pub generator_hidden: Vec<usize>,
    /// Hidden sizes of the discriminator (ReLU).
    pub discriminator_hidden: Vec<usize>,
    /// Real and generated samples per step.
    pub batch_size: usize,
    /// Adam step size of both networks.
    pub learning_rate: f64,
    pub beta1: f64,
    pub beta2: f64,
    pub adam_eps: f64,
    /// Generated samples per evaluation (VEEGAN and PacGAN: 2,500).
    pub eval_samples: usize,
    /// `none`: each module follows its policy; `adapt`: ADAPT's controller sets D's density.
    pub balance: Balance,
    /// Balance-ratio measurement and ADAPT's controller; the paper's relaxed variant when left out.
    pub adapt: Option<AdaptConfig>,
}

/// Whether ADAPT controls the discriminator's density.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Balance {
    /// Densities as the policies say (static sparse, RigL, ...); the balance ratio is only logged.
    None,
    /// ADAPT: D's density follows the balance ratio; D's policy must be `static`.
    Adapt,
}

impl Default for GanConfig {
    fn default() -> Self {
        Self {
            latent_dim: 2,
            generator_hidden: vec![128, 128],
            discriminator_hidden: vec![128, 128],
            batch_size: 100,
            learning_rate: 1e-4,
            beta1: 0.8,
            beta2: 0.999,
            adam_eps: 1e-8,
            eval_samples: 2500,
            balance: Balance::None,
            adapt: None,
        }
    }
}

impl GanConfig {
    /// The ADAPT settings of a run of `total_steps` iterations: the given ones (their `total_steps` filled
    /// in) or the paper's relaxed variant.
    pub fn adapt_config(&self, total_steps: usize) -> AdaptConfig {
        let mut config = self
            .adapt
            .clone()
            .unwrap_or_else(|| AdaptConfig::paper(AdaptVariant::Relaxed, total_steps as u64));
        config.total_steps = total_steps as u64;
        config
    }

    /// Checks the values serde cannot, with the run length and the discriminator's policy; the error
    /// names the key (relative to `[gan]`, or the sparsity table).
    pub fn validate(&self, total_steps: usize, discriminator: &SparsityPolicy) -> Result<(), String> {
        positive_counts(&[
            ("latent_dim", self.latent_dim),
            ("batch_size", self.batch_size),
            ("eval_samples", self.eval_samples),
        ])?;
        positive_reals(&[("learning_rate", self.learning_rate), ("adam_eps", self.adam_eps)])?;
        unit_interval(&[("beta1", self.beta1), ("beta2", self.beta2)])?;
        positive_widths(&[
            ("generator_hidden", &self.generator_hidden),
            ("discriminator_hidden", &self.discriminator_hidden),
        ])?;
        if let Some(a) = &self.adapt {
            if a.total_steps != 0 && a.total_steps != total_steps as u64 {
                return Err(format!(
                    "adapt.total_steps = {} differs from run.total_steps = {total_steps}; leave it out",
                    a.total_steps
                ));
            }
        }
        let adapt = self.adapt_config(total_steps);
        adapt.validate()?;
        if self.balance == Balance::Adapt {
            if discriminator.kind != PolicyKind::Static {
                return Err(format!(
                    "balance = \"adapt\" needs sparsity.discriminator.kind = \"static\" (ADAPT alone changes \
                     D's topology), got {:?}",
                    discriminator.kind
                ));
            }
            AdaptController::new(adapt, discriminator.density)
                .map_err(|e| format!("{e} (sparsity.discriminator.density)"))?;
        }
        Ok(())
    }
}

type GanOptim<B> = OptimizerAdaptor<FusedAdam, Mlp<B>, B>;

/// A fresh Adam state with the config's settings.
fn adam<B: AutodiffBackend>(config: &GanConfig) -> GanOptim<B> {
    FusedAdam::new(config.adam_eps as f32)
        .with_betas(config.beta1 as f32, config.beta2 as f32)
        .init()
}

/// A GAN being trained on backend `B`.
pub struct Gan<B: AutodiffBackend> {
    config: GanConfig,
    data: Mixture,
    generator: Mlp<B>,
    discriminator: Mlp<B>,
    g_optim: GanOptim<B>,
    d_optim: GanOptim<B>,
    /// The module `generator`, trained by `g_optim`.
    g_module: ModuleGroup,
    /// The module `discriminator`, trained by `d_optim`.
    d_module: ModuleGroup,
    balance: BalanceRatio,
    adapt: AdaptConfig,
    controller: Option<AdaptController>,
    rng: rand_pcg::Pcg64Mcg,
    seed: u64,
    device: B::Device,
}

/// Losses of one iteration.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StepLosses {
    pub g_loss: f64,
    pub d_loss: f64,
}

impl<B: AutodiffBackend> Gan<B> {
    /// Builds the networks and their masks; `policies(module)` gives each module's sparsity policy.
    pub fn new(
        config: GanConfig,
        data: Mixture,
        policies: impl Fn(&str) -> SparsityPolicy,
        total_steps: usize,
        seed: u64,
        device: B::Device,
    ) -> Result<Self, String> {
        let (g_policy, d_policy) = (policies("generator"), policies("discriminator"));
        config.validate(total_steps, &d_policy)?;
        let _seeded = crate::seeding::seed_backend::<B>(&device, seed);
        let mut rng = rand_pcg::Pcg64Mcg::seed_from_u64(seed ^ 0x06a4_0001);
        let mlp = |d_in, hidden: &[usize], d_out| {
            MlpConfig {
                d_in,
                hidden: hidden.to_vec(),
                d_out,
                activate_last: false,
            }
            .init::<B>(&device)
        };
        let mut generator = mlp(config.latent_dim, &config.generator_hidden, 2);
        let mut discriminator = mlp(2, &config.discriminator_hidden, 1);
        let module = |name, policy, net: &Mlp<B>| -> Result<ModuleGroup, String> {
            let module = SparseModule::new(name, policy, &net.sparse_layers(), total_steps)?;
            Ok(ModuleGroup::new(vec![module]))
        };
        let mut g_module = module("generator", g_policy, &generator)?;
        let mut d_module = module("discriminator", d_policy.clone(), &discriminator)?;
        g_module.init(&mut generator, &mut rng)?;
        d_module.init(&mut discriminator, &mut rng)?;
        // Every parameter drawn now, under the backend's seed lock: one left to burn's lazy initialisation
        // would be drawn at its first use, from whatever another thread's seed left, and each `valid()`
        // copy of it would draw its own.
        crate::target::materialize(&generator);
        crate::target::materialize(&discriminator);
        let adapt = config.adapt_config(total_steps);
        let controller = match config.balance {
            Balance::None => None,
            Balance::Adapt => Some(AdaptController::new(adapt.clone(), d_policy.density)?),
        };
        Ok(Self {
            g_optim: adam(&config),
            d_optim: adam(&config),
            balance: BalanceRatio::new(adapt.queue_len)?,
            adapt,
            controller,
            config,
            data,
            generator,
            discriminator,
            g_module,
            d_module,
            rng,
            seed,
            device,
        })
    }

    fn latent(&mut self, n: usize) -> Tensor<B, 2> {
        let d = self.config.latent_dim;
        let z: Vec<f32> = (0..n * d).map(|_| self.rng.sample(StandardNormal)).collect();
        matrix(&z, n, d, &self.device)
    }

    /// Whether iteration `step` (counted from 1) ends with an ADAPT decision that may grow D by the
    /// gradient, so D's step must keep its dense gradient.
    fn adapt_needs_grad(&self, step: usize) -> bool {
        self.controller.is_some()
            && self.d_module.module("discriminator").policy().uses_grad()
            && (step as u64).is_multiple_of(self.adapt.update_interval())
    }

    /// One iteration (D step, G step, balance ratio, topology updates, ADAPT); `step` counts from 1.
    pub fn train_step(&mut self, step: usize) -> Result<StepLosses, TrainError> {
        let n = self.config.batch_size;
        let lr = self.config.learning_rate;
        let fail = |message: String| TrainError { step, message };
        let topology_error = |e: sparse_rl_dst::DstError| TrainError {
            step,
            message: e.to_string(),
        };

        // Discriminator: log σ(D(x)) + log(1 − σ(D(G(z)))), G held fixed.
        let d_dense = self
            .d_module
            .dense_grads()
            .force("discriminator", self.adapt_needs_grad(step));
        let real_host = self.data.sample(n, &mut self.rng);
        let real = matrix::<B>(&real_host, n, 2, &self.device);
        let z = self.latent(n);
        let fake = Tensor::from_inner(self.generator.valid().forward(z.inner(), false));
        let dense = d_dense.get("discriminator");
        let d_loss = softplus(self.discriminator.forward(real.clone(), dense).neg()).mean()
            + softplus(self.discriminator.forward(fake, dense)).mean();
        let d_loss_value = finite("discriminator loss", d_loss.clone()).map_err(fail)?;
        let discriminator = self.discriminator.clone();
        let (discriminator, mut d_grads) =
            self.d_module
                .optimize(discriminator, d_loss, &d_dense, lr, &mut self.d_optim, |_, g| g);
        self.discriminator = discriminator;
        self.d_module
            .after_step(
                &mut self.discriminator,
                d_grads.clone(),
                &mut self.d_optim,
                &mut self.rng,
            )
            .map_err(topology_error)?;

        // Generator: the non-saturating loss −log σ(D(G(z))), D after its step.
        let g_dense = self.g_module.dense_grads();
        let z = self.latent(n);
        let logits = self
            .discriminator
            .forward(self.generator.forward(z.clone(), g_dense.get("generator")), false);
        let fake_before = mean(logits.clone().inner());
        let g_loss = softplus(logits.neg()).mean();
        let g_loss_value = finite("generator loss", g_loss.clone()).map_err(fail)?;
        let generator = self.generator.clone();
        let (generator, g_grads) =
            self.g_module
                .optimize(generator, g_loss, &g_dense, lr, &mut self.g_optim, |_, g| g);
        self.generator = generator;
        if (step as u64).is_multiple_of(self.adapt.sample_interval) {
            let d = self.discriminator.valid();
            let fake_after = d.forward(self.generator.valid().forward(z.inner(), false), false);
            self.balance.push(BalanceSample {
                real: mean(d.forward(real.inner(), false)),
                fake_before,
                fake_after: mean(fake_after),
            });
        }
        self.g_module
            .after_step(&mut self.generator, g_grads, &mut self.g_optim, &mut self.rng)
            .map_err(topology_error)?;

        if let Some(controller) = self.controller.as_mut() {
            let action = controller.decide(step as u64, &self.balance);
            self.d_module
                .module_mut("discriminator")
                .adapt(
                    action,
                    self.discriminator.sparse_layers_mut(),
                    d_grads.take("discriminator"),
                    &mut self.d_optim,
                    &mut self.rng,
                )
                .map_err(topology_error)?;
        }
        Ok(StepLosses {
            g_loss: g_loss_value,
            d_loss: d_loss_value,
        })
    }

    /// The balance ratio over the queued samples (`None` before the first).
    pub fn balance_ratio(&self) -> Option<f64> {
        self.balance.value()
    }

    /// `n` generated samples, row-major `[n, 2]`, from latents fixed by the run seed (every evaluation
    /// of a run sees the same z).
    pub fn samples(&self, n: usize) -> Vec<f32> {
        let mut rng = rand_pcg::Pcg64Mcg::seed_from_u64(self.seed.wrapping_mul(1_000_003).wrapping_add(17));
        let d = self.config.latent_dim;
        let z: Vec<f32> = (0..n * d).map(|_| rng.sample(StandardNormal)).collect();
        to_vec(
            self.generator
                .valid()
                .forward(matrix(&z, n, d, &self.device), false),
        )
    }

    /// Mode coverage of `eval_samples` generated samples.
    pub fn evaluate(&self) -> ModeCoverage {
        ModeCoverage::measure(&self.data, &self.samples(self.config.eval_samples))
    }

    /// Scalars for TensorBoard: balance ratio and D's ADAPT target density.
    pub fn metrics(&self) -> Vec<Metric> {
        let mut out = Vec::new();
        if let Some(br) = self.balance_ratio().filter(|b| b.is_finite()) {
            out.push(("adapt/balance_ratio", br));
        }
        if let Some(c) = &self.controller {
            out.push(("adapt/discriminator_density", c.density()));
        }
        out
    }
}

impl<B: AutodiffBackend> Trainable for Gan<B> {
    fn modules(&self) -> Vec<ModuleStats> {
        vec![
            self.g_module
                .module("generator")
                .stats(self.generator.param_counts()),
            self.d_module
                .module("discriminator")
                .stats(self.discriminator.param_counts()),
        ]
    }

    fn flops(&self) -> FlopsRatio {
        flops_ratio(self.g_module.modules().iter().chain(self.d_module.modules()))
    }

    /// Both networks with their masks, both Adam states, and in `gan.json` the sampling RNG, the two
    /// modules (clocks, controllers), the balance-ratio queue and ADAPT's controller: a resumed run draws
    /// the same batches and takes the same topology decisions as the uninterrupted one.
    fn save(&self, dir: &Path) -> std::io::Result<()> {
        persist::save_module(&self.generator, &dir.join("generator"))?;
        persist::save_module(&self.discriminator, &dir.join("discriminator"))?;
        persist::save_optim::<B, _, _>(&self.g_optim, &dir.join("g_optim"))?;
        persist::save_optim::<B, _, _>(&self.d_optim, &dir.join("d_optim"))?;
        let modules: Vec<&SparseModule> = self
            .g_module
            .modules()
            .iter()
            .chain(self.d_module.modules())
            .collect();
        let state = (&self.rng, modules, &self.balance, &self.controller);
        persist::save_json(&dir.join(STATE_FILE), &state)
    }

    fn load(&mut self, dir: &Path) -> std::io::Result<()> {
        let d = &self.device;
        self.generator = persist::load_module(self.generator.clone(), &dir.join("generator"), d)?;
        self.discriminator = persist::load_module(self.discriminator.clone(), &dir.join("discriminator"), d)?;
        let g = std::mem::replace(&mut self.g_optim, adam(&self.config));
        self.g_optim = persist::load_optim::<B, _, _>(g, &dir.join("g_optim"), d)?;
        let o = std::mem::replace(&mut self.d_optim, adam(&self.config));
        self.d_optim = persist::load_optim::<B, _, _>(o, &dir.join("d_optim"), d)?;
        let modules: Vec<SparseModule>;
        (self.rng, modules, self.balance, self.controller) = persist::load_json(&dir.join(STATE_FILE))?;
        for group in [&mut self.g_module, &mut self.d_module] {
            group.restore(&modules).map_err(std::io::Error::other)?;
        }
        Ok(())
    }

    fn policy(&self) -> Result<Policy, String> {
        Err("a GAN's generator is not an acting policy: export writes the RL algorithms' policies".into())
    }
}

/// Where a checkpoint keeps the GAN's state besides its networks and optimizers.
const STATE_FILE: &str = "gan.json";

/// log(1 + eˣ), computed as max(x, 0) + log1p(e^−|x|) so that large logits do not overflow.
fn softplus<B: AutodiffBackend>(x: Tensor<B, 2>) -> Tensor<B, 2> {
    relu(x.clone()) + x.abs().neg().exp().log1p()
}

fn mean<B: burn::tensor::backend::Backend>(x: Tensor<B, 2>) -> f64 {
    x.mean().into_scalar().elem::<f64>()
}

/// The value of a scalar loss, or an error naming it when it is NaN or infinite.
fn finite<B: AutodiffBackend>(name: &str, loss: Tensor<B, 1>) -> Result<f64, String> {
    let v = loss.into_scalar().elem::<f64>();
    if v.is_finite() {
        Ok(v)
    } else {
        Err(format!("GAN {name} is {v}"))
    }
}
