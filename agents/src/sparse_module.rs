//! The glue between an agent's modules and the DST engine: one [`ModuleSparsity`] per module (encoder,
//! critic, actor) holds that module's controller, runs its topology updates on the module's masked layers
//! and tells the agent which optimizer moments to reset; plus the FLOP accounting of the whole agent.

use burn::module::AutodiffModule;
use burn::optim::adaptor::OptimizerAdaptor;
use burn::optim::GradientsParams;
use burn::tensor::backend::{AutodiffBackend, Backend};
use rand::Rng;
use serde::{Deserialize, Serialize};
use sparse_rl_dst::adapt::AdaptAction;
use sparse_rl_dst::controller::{SparsityController, UpdateReport};
use sparse_rl_dst::diagonal::DiagonalLinear;
use sparse_rl_dst::evolve::{adapt, evolve, init_sparse, NamedLayer};
use sparse_rl_dst::execution::Execution;
use sparse_rl_dst::flops::{flop_report, FlopReport, LayerSpec, TrainingMethod};
use sparse_rl_dst::optim::reset_moments;
use sparse_rl_dst::optim::MomentReset;
use sparse_rl_dst::policy::{PolicyKind, SparsityPolicy, Structure};
use sparse_rl_dst::{DstError, LayerShape, SparseGrad, SparseLayer};

use crate::agent::{FlopsRatio, ModuleStats};
use crate::dynadiag::{DiagonalSchedule, DiagonalStep};
use crate::networks::Mlp;

/// One module's sparsity: its policy, its controller (none for a module without layers), and the
/// fraction of connections replaced at the last update.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ModuleSparsity {
    name: String,
    policy: SparsityPolicy,
    shapes: Vec<LayerShape>,
    /// Output positions per example of each layer (convolutions: h·w), for FLOP counts.
    positions: Vec<usize>,
    controller: Option<SparsityController>,
    /// DynaDiag's schedule, for a module of diagonal layers (`structure = "diagonal"`).
    #[serde(default)]
    diagonal: Option<DiagonalSchedule>,
    /// Diagonal layers: (weights, stored weights) per layer, for densities and FLOPs.
    #[serde(default)]
    diagonal_sizes: Vec<(LayerShape, usize)>,
    #[serde(default)]
    total_updates: usize,
    topology_change: f64,
}

impl ModuleSparsity {
    /// A module whose layers (in forward order) are `layers`, trained for `total_updates` gradient steps.
    pub fn new<B: Backend>(
        name: &str,
        policy: SparsityPolicy,
        layers: &[&dyn SparseLayer<B>],
        total_updates: usize,
    ) -> Result<Self, String> {
        let shapes: Vec<LayerShape> = layers.iter().map(|l| l.shape()).collect();
        let diagonal = policy.structure == Structure::Diagonal;
        if diagonal && !shapes.is_empty() {
            return Err(format!(
                "sparsity.{name}: structure = \"diagonal\" is not available for this module (so far: DQN's critic)"
            ));
        }
        let controller = if shapes.is_empty() {
            None
        } else {
            let c = SparsityController::new(&policy, &shapes, total_updates.max(1) as u64)
                .map_err(|e| format!("sparsity.{name}: {e}"))?;
            Some(c)
        };
        let positions = vec![1; shapes.len()];
        Ok(Self {
            name: name.to_string(),
            diagonal: diagonal.then(|| DiagonalSchedule::new(&policy, total_updates)),
            diagonal_sizes: Vec::new(),
            total_updates,
            policy,
            shapes,
            positions,
            controller,
            topology_change: 0.0,
        })
    }

    /// The module of MLP `mlp` (masked or, for `structure = "diagonal"`, diagonal layers) trained for
    /// `total_updates` gradient steps.
    pub fn for_mlp<B: Backend>(
        name: &str,
        policy: SparsityPolicy,
        mlp: &Mlp<B>,
        total_updates: usize,
    ) -> Result<Self, String> {
        let mut module = Self::new(name, policy, &mlp.sparse_layers(), total_updates)?;
        module.diagonal_sizes = mlp
            .diagonal_layers()
            .iter()
            .map(|l: &&DiagonalLinear<B>| {
                let pattern = l.pattern();
                let shape = LayerShape::dense(pattern.out_features(), pattern.in_features());
                (shape, l.num_active() * pattern.diagonal_len())
            })
            .collect();
        Ok(module)
    }

    /// Sets the output positions per example of each layer (convolutions), for FLOP counts.
    pub fn with_positions(mut self, positions: Vec<usize>) -> Self {
        assert_eq!(positions.len(), self.shapes.len(), "one position count per layer");
        self.positions = positions;
        self
    }

    /// Sets the initial masks of the module's layers.
    pub fn init<B: Backend>(
        &mut self,
        layers: Vec<&mut dyn SparseLayer<B>>,
        rng: &mut impl Rng,
    ) -> Result<(), String> {
        let Some(controller) = self.controller.as_mut() else {
            return Ok(());
        };
        let mut named = named_layers(&self.name, layers);
        init_sparse(controller, &mut named, rng).map_err(|e| format!("sparsity.{}: {e}", self.name))
    }

    /// Whether the module's policy keeps it dense for good (its masks can be skipped in the forward pass).
    pub fn is_dense(&self) -> bool {
        self.policy.is_dense()
    }

    /// How the module's masked layers compute.
    pub fn execution(&self) -> Execution {
        self.policy.execution
    }

    /// Whether gradient step `update` is a topology update that needs the dense weight gradient.
    pub fn needs_dense_grad(&self, update: usize) -> bool {
        self.controller
            .as_ref()
            .is_some_and(|c| c.needs_dense_grad(update as u64))
    }

    /// Runs the topology update of gradient step `update`, if it is one, on the module's layers (after the
    /// optimizer step, as RigL) and resets the optimizer moments of the changed connections. `grads` are
    /// the layers' dense host gradients when [`Self::needs_dense_grad`] said so.
    pub fn update<B, O, M>(
        &mut self,
        update: usize,
        layers: Vec<&mut dyn SparseLayer<B>>,
        grads: Option<Vec<Option<Vec<f32>>>>,
        optim: &mut OptimizerAdaptor<O, M, B>,
        rng: &mut impl Rng,
    ) -> Result<(), DstError>
    where
        B: AutodiffBackend,
        O: MomentReset<B::InnerBackend>,
        M: AutodiffModule<B>,
    {
        if !self
            .controller
            .as_ref()
            .is_some_and(|c| c.wants_update(update as u64))
        {
            return Ok(());
        }
        self.change_topology(layers, grads, optim, |controller, named, grads, optim| {
            let (report, optim) = evolve(controller, update as u64, named, grads, optim, rng)?;
            Ok((Some(report), optim))
        })
    }

    /// DynaDiag's step `update` on the diagonal layers of `mlp` (none for other modules), after the
    /// optimizer step: anneal, freeze, drop and regrow, with the optimizer moments of changed diagonals
    /// reset.
    pub fn update_diagonal<B, O, M>(
        &mut self,
        update: usize,
        mlp: Mlp<B>,
        optim: &mut OptimizerAdaptor<O, M, B>,
        rng: &mut impl Rng,
    ) -> Result<Mlp<B>, DstError>
    where
        B: AutodiffBackend,
        O: MomentReset<B::InnerBackend>,
        M: AutodiffModule<B>,
    {
        let Some(schedule) = self.diagonal.as_ref() else {
            return Ok(mlp);
        };
        let mut step = DiagonalStep::default();
        let mut changed = (0, 0);
        let mlp = mlp
            .map_diagonal(|l| schedule.step(update as u64, l, &mut step, &mut changed, rng))
            .map_err(|e| DstError::new(format!("sparsity.{}: {e}", self.name)))?;
        if changed.1 > 0 {
            self.topology_change = changed.0 as f64 / changed.1 as f64;
        }
        if !step.moments.is_empty() {
            *optim = reset_moments(optim.clone(), &step.moments);
        }
        Ok(mlp)
    }

    /// Carries out ADAPT's decision `action` (Wang et al., "Balanced Training for Sparse GANs", NeurIPS
    /// 2023) on the module's layers after the optimizer step of gradient step `update`, resetting the
    /// optimizer moments of the changed connections; `grads` as for [`Self::update`], needed when the
    /// policy's grow criterion reads the gradient.
    pub fn adapt<B, O, M>(
        &mut self,
        update: usize,
        action: AdaptAction,
        layers: Vec<&mut dyn SparseLayer<B>>,
        grads: Option<Vec<Option<Vec<f32>>>>,
        optim: &mut OptimizerAdaptor<O, M, B>,
        rng: &mut impl Rng,
    ) -> Result<(), DstError>
    where
        B: AutodiffBackend,
        O: MomentReset<B::InnerBackend>,
        M: AutodiffModule<B>,
    {
        self.change_topology(layers, grads, optim, |controller, named, grads, optim| {
            adapt(controller, update as u64, action, named, grads, optim, rng)
        })
    }

    /// The shared frame of [`Self::update`] and [`Self::adapt`]: names the layers, lets `change` move the
    /// topology through the controller (returning the report, `None` when nothing changed, and the optimizer
    /// with the changed connections' moments reset), then keeps that optimizer and records the change.
    /// A module without a controller (no layers) does nothing.
    fn change_topology<B, O, M>(
        &mut self,
        layers: Vec<&mut dyn SparseLayer<B>>,
        grads: Option<Vec<Option<Vec<f32>>>>,
        optim: &mut OptimizerAdaptor<O, M, B>,
        change: impl FnOnce(
            &mut SparsityController,
            &mut [NamedLayer<'_, B>],
            Vec<Option<Vec<f32>>>,
            OptimizerAdaptor<O, M, B>,
        ) -> Result<(Option<UpdateReport>, OptimizerAdaptor<O, M, B>), DstError>,
    ) -> Result<(), DstError>
    where
        B: AutodiffBackend,
        O: MomentReset<B::InnerBackend>,
        M: AutodiffModule<B>,
    {
        let Some(controller) = self.controller.as_mut() else {
            return Ok(());
        };
        let mut named = named_layers(&self.name, layers);
        let (report, updated) = change(controller, &mut named, grads.unwrap_or_default(), optim.clone())?;
        *optim = updated;
        if let Some(report) = report {
            self.topology_change = report.topology_change;
        }
        Ok(())
    }

    /// The module's sparsity policy.
    pub fn policy(&self) -> &SparsityPolicy {
        &self.policy
    }

    /// Facts for logs and `summary.json`; `counts` = (parameters, non-zero parameters) of the module.
    pub fn stats(&self, counts: (usize, usize)) -> ModuleStats {
        let density = match &self.controller {
            Some(c) => c.current_density(),
            None if !self.diagonal_sizes.is_empty() => {
                let (all, stored) = self
                    .diagonal_sizes
                    .iter()
                    .fold((0, 0), |(a, s), (shape, n)| (a + shape.len(), s + n));
                stored as f64 / all as f64
            }
            None => 1.0,
        };
        ModuleStats {
            name: self.name.clone(),
            policy: policy_name(self.policy.kind).to_string(),
            density,
            params: counts.0,
            nonzero: counts.1,
            topology_change: self.topology_change,
        }
    }

    /// Per-example training and inference FLOPs of the module (RigL's accounting, `dst::flops`).
    fn flops(&self) -> Option<FlopReport> {
        if let Some(schedule) = &self.diagonal {
            return self.diagonal_flops(schedule);
        }
        let controller = self.controller.as_ref()?;
        let layers: Vec<LayerSpec> = self
            .shapes
            .iter()
            .zip(controller.active_counts())
            .zip(&self.positions)
            .map(|((s, &a), &positions)| LayerSpec {
                fan_in: s.cols,
                fan_out: s.rows,
                positions,
                bias: true,
                density: a as f64 / s.len() as f64,
            })
            .collect();
        let p = &self.policy;
        let method = match p.kind {
            PolicyKind::Dense => TrainingMethod::Dense,
            PolicyKind::SparseToSparse if p.uses_grad() => TrainingMethod::Rigl {
                update_interval: p.update_interval,
                update_fraction: p.update_end - p.update_start,
            },
            _ => TrainingMethod::Static,
        };
        flop_report(&layers, method).ok()
    }
}

impl ModuleSparsity {
    /// Diagonal layers train at dense cost in the soft phase (the weight is built densely) and at their
    /// stored density once frozen; inference runs frozen.
    fn diagonal_flops(&self, schedule: &DiagonalSchedule) -> Option<FlopReport> {
        let layers: Vec<LayerSpec> = self
            .diagonal_sizes
            .iter()
            .map(|(s, stored)| LayerSpec::linear(s.cols, s.rows, *stored as f64 / s.len() as f64))
            .collect();
        let mut report = flop_report(&layers, TrainingMethod::Static).ok()?;
        let soft = schedule.soft_fraction(self.total_updates);
        report.train = soft * report.train_dense + (1.0 - soft) * report.train;
        Some(report)
    }
}

/// The module's layers named `critic.0`, `critic.1`, ... for reports.
fn named_layers<'a, B: Backend>(
    module: &str,
    layers: Vec<&'a mut dyn SparseLayer<B>>,
) -> Vec<NamedLayer<'a, B>> {
    layers
        .into_iter()
        .enumerate()
        .map(|(i, l)| (format!("{module}.{i}"), l))
        .collect()
}

/// The policy kind as the config spells it.
pub fn policy_name(kind: PolicyKind) -> &'static str {
    match kind {
        PolicyKind::Dense => "dense",
        PolicyKind::Static => "static",
        PolicyKind::SparseToSparse => "sparse-to-sparse",
        PolicyKind::DenseToSparse => "dense-to-sparse",
        PolicyKind::SparseToDense => "sparse-to-dense",
    }
}

/// The dense weight gradients of `layers` (host order), read before the optimizer consumes `grads`.
pub fn host_grads<B: AutodiffBackend>(
    layers: &[&dyn SparseLayer<B>],
    grads: &GradientsParams,
) -> Vec<Option<Vec<f32>>> {
    layers.iter().map(|l| l.host_grad(grads)).collect()
}

/// Training and inference FLOPs of all modules together, relative to the same agent dense. For the
/// gradual kinds the current densities stand in for the time average (an approximation).
pub fn flops_ratio(modules: &[ModuleSparsity]) -> FlopsRatio {
    let total = modules
        .iter()
        .filter_map(ModuleSparsity::flops)
        .fold(FlopReport::default(), |a, b| a + b);
    if total.train_dense == 0.0 {
        return FlopsRatio {
            train: 1.0,
            inference: 1.0,
        };
    }
    FlopsRatio {
        train: total.train_relative_to_dense(),
        inference: total.inference_relative_to_dense(),
    }
}
