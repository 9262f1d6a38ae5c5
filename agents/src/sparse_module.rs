//! The glue between an agent's modules and the DST engine: one [`ModuleSparsity`] per module (encoder,
//! critic, actor) holds that module's controller, runs its topology updates on the module's masked layers
//! and tells the agent which optimizer moments to reset; plus the FLOP accounting of the whole agent.

use burn::module::AutodiffModule;
use burn::optim::adaptor::OptimizerAdaptor;
use burn::optim::GradientsParams;
use burn::tensor::backend::{AutodiffBackend, Backend};
use rand::Rng;
use serde::{Deserialize, Serialize};
use sparse_rl_dst::controller::SparsityController;
use sparse_rl_dst::evolve::{evolve, init_sparse, NamedLayer};
use sparse_rl_dst::execution::Execution;
use sparse_rl_dst::flops::{flop_report, FlopReport, LayerSpec, TrainingMethod};
use sparse_rl_dst::optim::MomentReset;
use sparse_rl_dst::policy::{PolicyKind, SparsityPolicy};
use sparse_rl_dst::{DstError, LayerShape, SparseGrad, SparseLayer};

use crate::agent::{FlopsRatio, ModuleStats};

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
            policy,
            shapes,
            positions,
            controller,
            topology_change: 0.0,
        })
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
        let mut named: Vec<NamedLayer<'_, B>> = layer_names(&self.name, layers.len())
            .into_iter()
            .zip(layers)
            .collect();
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
        let Some(controller) = self.controller.as_mut() else {
            return Ok(());
        };
        if !controller.wants_update(update as u64) {
            return Ok(());
        }
        let mut named: Vec<NamedLayer<'_, B>> = layer_names(&self.name, layers.len())
            .into_iter()
            .zip(layers)
            .collect();
        let grads = grads.unwrap_or_default();
        let (report, updated) = evolve(controller, update as u64, &mut named, grads, optim.clone(), rng)?;
        *optim = updated;
        self.topology_change = report.topology_change;
        Ok(())
    }

    /// Facts for logs and `summary.json`; `counts` = (parameters, non-zero parameters) of the module.
    pub fn stats(&self, counts: (usize, usize)) -> ModuleStats {
        let density = self
            .controller
            .as_ref()
            .map_or(1.0, SparsityController::current_density);
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

/// `critic.0`, `critic.1`, ...: layer names in reports.
fn layer_names(module: &str, n: usize) -> Vec<String> {
    (0..n).map(|i| format!("{module}.{i}")).collect()
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
