//! A sparse module: a named part of a network (encoder, critic, actor, agent, mixer, generator,
//! discriminator) with its own sparsity policy, its controller (none for a module without layers), its
//! clock and its FLOP accounting. [`ModuleGroup`] holds the modules one optimizer trains together and is
//! the one place where their gradient step happens.
//!
//! Each module owns its clock: it counts its own gradient steps, and its schedule (update every
//! `update_interval` of them, from `update_start` to `update_end` of its planned steps) runs on that
//! count, whatever the algorithm's step pattern (SAC's delayed actor, DQN's train frequency, QMIX's one
//! step per episode). One gradient step of a module, in order:
//! 1. [`SparseModule::needs_dense_grad`] says whether the forward must be `dense` (straight-through);
//! 2. backward, `GradientsParams::from_grads`;
//! 3. [`SparseModule::take_grads`]: the host gradients the update will read, and the gradients left for
//!    the optimizer masked to the active connections (so neither the optimizer nor a gradient-norm clip
//!    ever sees an inactive entry);
//! 4. the optimizer step;
//! 5. [`SparseModule::after_step`]: counts the step and runs the topology update due at it.
//!
//! [`ModuleGroup::optimize`] and [`ModuleGroup::after_step`] run steps 2 to 5 for every module of a group.

mod group;

pub use group::{no_part, DenseGrads, ModuleGroup, SparseParts, StepGrads};

use burn::module::AutodiffModule;
use burn::optim::adaptor::OptimizerAdaptor;
use burn::optim::GradientsParams;
use burn::tensor::backend::{AutodiffBackend, Backend};
use rand::Rng;
use serde::{Deserialize, Serialize};

use crate::adapt::AdaptAction;
use crate::controller::{SparsityController, UpdateReport};
use crate::diagonal::{DiagonalLinear, DiagonalSchedule, DiagonalStep};
use crate::evolve::{adapt, evolve, init_sparse, NamedLayer};
use crate::execution::Execution;
use crate::flops::{flop_report, FlopReport, LayerSpec, TrainingMethod};
use crate::optim::{check_inactive_zero, reset_moments, MomentReset};
use crate::policy::{PolicyKind, SparsityPolicy, Structure};
use crate::{DstError, LayerShape, SparseGrad, SparseLayer};

/// Per-module sparsity facts for logs and `summary.json`.
#[derive(Debug, Clone, PartialEq)]
pub struct ModuleStats {
    pub name: String,
    pub policy: String,
    /// Fraction of the module's sparsifiable weights that are active.
    pub density: f64,
    /// All parameters of the module (weights and biases).
    pub params: usize,
    /// Parameters that are non-zero (active weights and biases).
    pub nonzero: usize,
    /// Fraction of the module's connections replaced at the last topology update.
    pub topology_change: f64,
    /// Gradient steps the module has taken (the clock of its schedule).
    pub gradient_steps: usize,
    /// Topology updates the module has carried out.
    pub topology_updates: usize,
}

/// Training and inference FLOPs relative to the dense network of the same shape.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FlopsRatio {
    pub train: f64,
    pub inference: f64,
}

/// The host weight gradients of a module's layers, one entry per layer (`None` for a layer whose
/// gradient the update does not read).
pub type HostGrads = Vec<Option<Vec<f32>>>;

/// A network whose diagonal layers (DynaDiag) the module's schedule steps: a network is moved through
/// the schedule by value, since a diagonal layer changes phase by being rebuilt.
pub trait DiagonalLayers<B: Backend>: Sized {
    /// The diagonal layers, in forward order.
    fn diagonal_layers(&self) -> Vec<&DiagonalLinear<B>>;
    /// The network with each diagonal layer replaced by `step(layer)`, the others unchanged.
    fn map_diagonal<E>(
        self,
        step: impl FnMut(DiagonalLinear<B>) -> Result<DiagonalLinear<B>, E>,
    ) -> Result<Self, E>;
}

/// One module's sparsity: its policy, its controller (none for a module without layers), and the
/// fraction of connections replaced at the last update.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SparseModule {
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
    /// Gradient steps the module is planned to take (its schedule's 100%).
    #[serde(default)]
    total_updates: usize,
    /// Gradient steps taken: the module's clock.
    #[serde(default)]
    steps: usize,
    /// Topology updates carried out.
    #[serde(default)]
    topology_updates: usize,
    topology_change: f64,
}

impl SparseModule {
    /// A module whose masked layers (in forward order) are `layers`, trained for `total_updates` gradient
    /// steps.
    pub fn new<B: Backend>(
        name: &str,
        policy: SparsityPolicy,
        layers: &[&dyn SparseLayer<B>],
        total_updates: usize,
    ) -> Result<Self, DstError> {
        let shapes: Vec<LayerShape> = layers.iter().map(|l| l.shape()).collect();
        let diagonal = policy.structure == Structure::Diagonal;
        if diagonal && !shapes.is_empty() {
            return Err(DstError::new(format!(
                "sparsity.{name}: structure = \"diagonal\" is not available for this module (so far: DQN's critic)"
            )));
        }
        let controller = if shapes.is_empty() {
            None
        } else {
            let c = SparsityController::new(&policy, &shapes, total_updates.max(1) as u64)
                .map_err(|e| DstError::new(format!("sparsity.{name}: {e}")))?;
            check_schedule_fires(name, &policy, &c, total_updates)?;
            Some(c)
        };
        let positions = vec![1; shapes.len()];
        Ok(Self {
            name: name.to_string(),
            diagonal: diagonal.then(|| DiagonalSchedule::new(&policy, total_updates)),
            diagonal_sizes: Vec::new(),
            total_updates,
            steps: 0,
            topology_updates: 0,
            policy,
            shapes,
            positions,
            controller,
            topology_change: 0.0,
        })
    }

    /// The module of a network with masked layers `layers` and diagonal layers `diagonal` (a network
    /// built for `structure = "diagonal"` has only the latter), trained for `total_updates` gradient steps.
    pub fn with_diagonal<B: Backend>(
        name: &str,
        policy: SparsityPolicy,
        layers: &[&dyn SparseLayer<B>],
        diagonal: &[&DiagonalLinear<B>],
        total_updates: usize,
    ) -> Result<Self, DstError> {
        let mut module = Self::new(name, policy, layers, total_updates)?;
        module.diagonal_sizes = diagonal
            .iter()
            .map(|l| {
                let pattern = l.pattern();
                let shape = LayerShape::dense(pattern.out_features(), pattern.in_features());
                (shape, l.num_active() * pattern.diagonal_len())
            })
            .collect();
        Ok(module)
    }

    /// The module's name, as the config's `sparsity.<name>` table and the network's part.
    pub fn name(&self) -> &str {
        &self.name
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
    ) -> Result<(), DstError> {
        let Some(controller) = self.controller.as_mut() else {
            return Ok(());
        };
        let mut named = named_layers(&self.name, layers);
        init_sparse(controller, &mut named, rng)
            .map_err(|e| DstError::new(format!("sparsity.{}: {e}", self.name)))
    }

    /// Whether the module's policy keeps it dense for good (its masks can be skipped in the forward pass).
    pub fn is_dense(&self) -> bool {
        self.policy.is_dense()
    }

    /// How the module's masked layers compute.
    pub fn execution(&self) -> Execution {
        self.policy.execution
    }

    /// Whether the module's next gradient step must compute the dense weight gradient (`forward_dense_grad`):
    /// a topology update that reads it is due right after that step.
    pub fn needs_dense_grad(&self) -> bool {
        self.controller
            .as_ref()
            .is_some_and(|c| c.needs_dense_grad(self.steps as u64 + 1))
    }

    /// Gradient steps the module has taken (its clock).
    pub fn steps(&self) -> usize {
        self.steps
    }

    /// The host gradients of the module's `layers` that the update after this step reads (`None` when it
    /// reads none), taken from `grads` before the optimizer step. After a `dense` forward
    /// ([`Self::needs_dense_grad`], or a caller's own reason such as ADAPT's decision) the dense gradient
    /// is returned and the one left in `grads` is masked to the active connections.
    pub fn take_grads<B: AutodiffBackend>(
        &self,
        layers: &[&dyn SparseLayer<B>],
        grads: &mut GradientsParams,
        dense: bool,
    ) -> Option<HostGrads> {
        if dense {
            return Some(layers.iter().map(|l| l.take_dense_grad(grads)).collect());
        }
        // A running pruning score of a gradient criterion reads every step's gradient; the masked one
        // serves, since only active connections are scored.
        self.controller
            .as_ref()
            .is_some_and(SparsityController::needs_step_grad)
            .then(|| host_grads(layers, grads))
    }

    /// After the module's optimizer step: counts the step, folds it into the running pruning score when
    /// the policy keeps one (`score_beta > 0`), and runs the topology update due at it on the module's
    /// layers (after the optimizer step, as RigL), resetting the optimizer moments of the changed
    /// connections. `grads` are what [`Self::take_grads`] returned. With the policy's `check_invariant`,
    /// then checks that every inactive weight and its moments are exactly zero.
    pub fn after_step<B, O, M>(
        &mut self,
        mut layers: Vec<&mut dyn SparseLayer<B>>,
        grads: Option<HostGrads>,
        optim: &mut OptimizerAdaptor<O, M, B>,
        rng: &mut impl Rng,
    ) -> Result<(), DstError>
    where
        B: AutodiffBackend,
        O: MomentReset<B::InnerBackend>,
        M: AutodiffModule<B>,
    {
        self.steps += 1;
        let step = self.steps as u64;
        if let Some(controller) = self.controller.as_mut().filter(|c| c.needs_step_scores()) {
            let step_grads = grads.clone().unwrap_or_default();
            let views: Vec<_> = layers
                .iter()
                .enumerate()
                .map(|(i, l)| {
                    l.topology(
                        &format!("{}.{i}", self.name),
                        step_grads.get(i).cloned().flatten(),
                    )
                })
                .collect();
            controller.observe_step(&views, rng)?;
        }
        if self.controller.as_ref().is_some_and(|c| c.wants_update(step)) {
            let views = layers
                .iter_mut()
                .map(|l| -> &mut dyn SparseLayer<B> { &mut **l })
                .collect();
            self.change_topology(views, grads, optim, |controller, named, grads, optim| {
                let (report, optim) = evolve(controller, step, named, grads, optim, rng)?;
                Ok((Some(report), optim))
            })?;
            self.topology_updates += 1;
        }
        self.check_invariant(&layers, optim)
    }

    /// The policy's `check_invariant`: every inactive weight of `layers` and its moments are zero.
    fn check_invariant<B, O, M>(
        &self,
        layers: &[&mut dyn SparseLayer<B>],
        optim: &OptimizerAdaptor<O, M, B>,
    ) -> Result<(), DstError>
    where
        B: AutodiffBackend,
        O: MomentReset<B::InnerBackend>,
        M: AutodiffModule<B>,
    {
        if !self.policy.check_invariant || self.controller.is_none() {
            return Ok(());
        }
        let shared: Vec<&dyn SparseLayer<B>> = layers.iter().map(|l| &**l as &dyn SparseLayer<B>).collect();
        check_inactive_zero(&self.name, &shared, optim).map_err(|e| {
            DstError::new(format!(
                "sparsity.{}: after gradient step {}: {e}",
                self.name, self.steps
            ))
        })
    }

    /// DynaDiag's schedule on the diagonal layers of `net` (none for other modules) at the module's clock,
    /// after [`Self::after_step`]: anneal, freeze, drop and regrow, with the optimizer moments of changed
    /// diagonals reset.
    pub fn update_diagonal<B, O, M, N>(
        &mut self,
        net: N,
        optim: &mut OptimizerAdaptor<O, M, B>,
        rng: &mut impl Rng,
    ) -> Result<N, DstError>
    where
        B: AutodiffBackend,
        O: MomentReset<B::InnerBackend>,
        M: AutodiffModule<B>,
        N: DiagonalLayers<B>,
    {
        let Some(schedule) = self.diagonal.as_ref() else {
            return Ok(net);
        };
        let mut step = DiagonalStep::default();
        let mut changed = (0, 0);
        let net = net
            .map_diagonal(|l| schedule.step(self.steps as u64, l, &mut step, &mut changed, rng))
            .map_err(|e| DstError::new(format!("sparsity.{}: {e}", self.name)))?;
        if changed.1 > 0 {
            self.topology_change = changed.0 as f64 / changed.1 as f64;
            self.topology_updates += 1;
        }
        if !step.moments.is_empty() {
            *optim = reset_moments(optim.clone(), &step.moments);
        }
        Ok(net)
    }

    /// Carries out ADAPT's decision `action` (Wang et al., "Balanced Training for Sparse GANs", NeurIPS
    /// 2023) on the module's layers after [`Self::after_step`], resetting the optimizer moments of the
    /// changed connections; `grads` as for [`Self::after_step`] (the step's forward must have been dense
    /// when the policy's grow criterion reads the gradient).
    pub fn adapt<B, O, M>(
        &mut self,
        action: AdaptAction,
        layers: Vec<&mut dyn SparseLayer<B>>,
        grads: Option<HostGrads>,
        optim: &mut OptimizerAdaptor<O, M, B>,
        rng: &mut impl Rng,
    ) -> Result<(), DstError>
    where
        B: AutodiffBackend,
        O: MomentReset<B::InnerBackend>,
        M: AutodiffModule<B>,
    {
        let step = self.steps as u64;
        let changes = !matches!(action, AdaptAction::Wait | AdaptAction::Hold);
        self.change_topology(layers, grads, optim, |controller, named, grads, optim| {
            adapt(controller, step, action, named, grads, optim, rng)
        })?;
        if changes {
            self.topology_updates += 1;
        }
        Ok(())
    }

    /// The shared frame of [`Self::after_step`] and [`Self::adapt`]: names the layers, lets `change` move the
    /// topology through the controller (returning the report, `None` when nothing changed, and the optimizer
    /// with the changed connections' moments reset), then keeps that optimizer and records the change.
    /// A module without a controller (no layers) does nothing.
    fn change_topology<B, O, M>(
        &mut self,
        layers: Vec<&mut dyn SparseLayer<B>>,
        grads: Option<HostGrads>,
        optim: &mut OptimizerAdaptor<O, M, B>,
        change: impl FnOnce(
            &mut SparsityController,
            &mut [NamedLayer<'_, B>],
            HostGrads,
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
            gradient_steps: self.steps,
            topology_updates: self.topology_updates,
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

impl SparseModule {
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

/// A gradual kind (dense-to-sparse, sparse-to-dense) whose schedule holds no topology update in the
/// module's planned steps would never leave its start density: an error naming the keys, before training.
fn check_schedule_fires(
    name: &str,
    policy: &SparsityPolicy,
    controller: &SparsityController,
    total_updates: usize,
) -> Result<(), DstError> {
    let gradual = matches!(policy.kind, PolicyKind::DenseToSparse | PolicyKind::SparseToDense);
    if gradual && controller.schedule().last_update().is_none() {
        return Err(DstError::new(format!(
            "sparsity.{name}: kind = \"{}\" never reaches its density: update_interval = {} leaves no \
             topology update between update_start = {} and update_end = {} of the module's {total_updates} \
             gradient steps (lower update_interval or train longer)",
            policy_name(policy.kind),
            policy.update_interval,
            policy.update_start,
            policy.update_end,
        )));
    }
    Ok(())
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

/// How many multiples of `k` lie in `(after, up_to]`: the gradient steps of a module trained at every
/// `k`-th env step once `after` steps have passed, in a run of `up_to` steps.
pub fn multiples_between(after: usize, up_to: usize, k: usize) -> usize {
    let k = k.max(1);
    (up_to / k).saturating_sub(after.min(up_to) / k)
}

/// The policy kind as the config spells it.
fn policy_name(kind: PolicyKind) -> &'static str {
    match kind {
        PolicyKind::Dense => "dense",
        PolicyKind::Static => "static",
        PolicyKind::SparseToSparse => "sparse-to-sparse",
        PolicyKind::DenseToSparse => "dense-to-sparse",
        PolicyKind::SparseToDense => "sparse-to-dense",
    }
}

/// The dense weight gradients of `layers` (host order), read before the optimizer consumes `grads`.
fn host_grads<B: AutodiffBackend>(layers: &[&dyn SparseLayer<B>], grads: &GradientsParams) -> HostGrads {
    layers.iter().map(|l| l.host_grad(grads)).collect()
}

/// Training and inference FLOPs of all modules together, relative to the same network dense. For the
/// gradual kinds the current densities stand in for the time average (an approximation).
pub fn flops_ratio<'a>(modules: impl IntoIterator<Item = &'a SparseModule>) -> FlopsRatio {
    let total = modules
        .into_iter()
        .filter_map(SparseModule::flops)
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
