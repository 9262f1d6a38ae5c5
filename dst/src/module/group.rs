//! The modules one optimizer trains together (DQN's encoder and Q head, SAC's encoder and critic, QMIX's
//! agent network and mixer) and their gradient step, written once for every algorithm.

use burn::module::AutodiffModule;
use burn::optim::adaptor::OptimizerAdaptor;
use burn::optim::{GradientsParams, Optimizer};
use burn::tensor::backend::{AutodiffBackend, Backend};
use burn::tensor::Tensor;
use rand::Rng;
use serde::{Deserialize, Serialize};

use super::{HostGrads, SparseModule};
use crate::execution::Execution;
use crate::optim::MomentReset;
use crate::{DstError, SparseLayer};

/// A network made of named parts, each trained under the [`SparseModule`] of the same name: DQN's Q
/// network has the parts `encoder` and `critic`; SAC's Q networks `encoder` and `critic` (both Q
/// networks together); a part may have no masked layers (an encoder of no layers, a dense LayerNorm).
pub trait SparseParts<B: Backend> {
    /// The masked layers of part `name`, in forward order.
    fn part_layers(&self, name: &str) -> Vec<&dyn SparseLayer<B>>;
    /// The masked layers of part `name`, in forward order, to change.
    fn part_layers_mut(&mut self, name: &str) -> Vec<&mut dyn SparseLayer<B>>;
    /// How part `name` computes: `masked` is false for a part dense for good (its forward skips the
    /// masks), `execution` chooses masked-dense or sparse kernels.
    fn configure_part(&mut self, name: &str, masked: bool, execution: Execution);
}

/// What a [`SparseParts`] implementation answers to a part name it does not have: a misspelt name in
/// the algorithm's code, never a user's input (config tables are checked against the modules' names).
pub fn no_part(name: &str) -> ! {
    panic!("the network has no part named {name:?}")
}

/// Whether each module's next forward must compute the dense weight gradient (straight-through), by
/// module name: what the group's schedules ask for, plus what the caller forces (ADAPT's decision).
#[derive(Debug, Clone, PartialEq)]
pub struct DenseGrads(Vec<(String, bool)>);

impl DenseGrads {
    /// The flag of module `name`.
    ///
    /// # Panics
    /// When the group has no module `name` (a misspelt part name in the algorithm's code).
    pub fn get(&self, name: &str) -> bool {
        self.0
            .iter()
            .find(|(n, _)| n == name)
            .unwrap_or_else(|| panic!("no sparse module named {name:?}"))
            .1
    }

    /// The same flags with module `name`'s set when `dense` holds.
    pub fn force(mut self, name: &str, dense: bool) -> Self {
        if dense {
            match self.0.iter_mut().find(|(n, _)| n == name) {
                Some(flag) => flag.1 = true,
                None => panic!("no sparse module named {name:?}"),
            }
        }
        self
    }
}

/// The host gradients each module's topology update reads, taken from one backward pass before the
/// optimizer consumed it (`None` for a module whose update reads none).
#[derive(Debug, Clone, Default)]
pub struct StepGrads(Vec<(String, Option<HostGrads>)>);

impl StepGrads {
    /// Takes the gradients of module `name` out (`None` when its update reads none, or once taken).
    pub fn take(&mut self, name: &str) -> Option<HostGrads> {
        self.0
            .iter_mut()
            .find(|(n, _)| n == name)
            .and_then(|(_, g)| g.take())
    }
}

/// The modules one optimizer trains, each governing the network part of its name.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ModuleGroup {
    modules: Vec<SparseModule>,
}

impl ModuleGroup {
    /// A group of modules with distinct names.
    ///
    /// # Panics
    /// When two modules share a name.
    pub fn new(modules: Vec<SparseModule>) -> Self {
        for (i, m) in modules.iter().enumerate() {
            assert!(
                modules[..i].iter().all(|o| o.name() != m.name()),
                "two sparse modules named {:?}",
                m.name()
            );
        }
        Self { modules }
    }

    /// Sets the initial masks of every part of `net` and how each part computes (masked or not, its
    /// execution), from its module's policy.
    pub fn init<B: Backend, N: SparseParts<B>>(
        &mut self,
        net: &mut N,
        rng: &mut impl Rng,
    ) -> Result<(), DstError> {
        for module in &mut self.modules {
            module.init(net.part_layers_mut(module.name()), rng)?;
            net.configure_part(module.name(), !module.is_dense(), module.execution());
        }
        Ok(())
    }

    /// Replaces each module by the one of the same name in `saved` (the modules a checkpoint lists, of
    /// this group and maybe others); an error names a module `saved` lacks.
    pub fn restore(&mut self, saved: &[SparseModule]) -> Result<(), DstError> {
        for module in &mut self.modules {
            *module = saved
                .iter()
                .find(|s| s.name() == module.name())
                .cloned()
                .ok_or_else(|| DstError::new(format!("the saved modules have no {:?}", module.name())))?;
        }
        Ok(())
    }

    /// The modules, in the group's order.
    pub fn modules(&self) -> &[SparseModule] {
        &self.modules
    }

    /// Module `name`.
    ///
    /// # Panics
    /// When the group has no module `name`.
    pub fn module(&self, name: &str) -> &SparseModule {
        self.modules
            .iter()
            .find(|m| m.name() == name)
            .unwrap_or_else(|| panic!("no sparse module named {name:?}"))
    }

    /// Module `name`, to change (ADAPT's decisions, DynaDiag's schedule).
    ///
    /// # Panics
    /// When the group has no module `name`.
    pub fn module_mut(&mut self, name: &str) -> &mut SparseModule {
        self.modules
            .iter_mut()
            .find(|m| m.name() == name)
            .unwrap_or_else(|| panic!("no sparse module named {name:?}"))
    }

    /// Which modules' next forward must be dense: a topology update that reads the dense gradient is
    /// due right after their next step.
    pub fn dense_grads(&self) -> DenseGrads {
        DenseGrads(
            self.modules
                .iter()
                .map(|m| (m.name().to_string(), m.needs_dense_grad()))
                .collect(),
        )
    }

    /// Backward of `loss` through `net`, each module's host gradients taken (the dense ones where `dense`
    /// says the forward was dense), the gradients left masked to the active connections, `clip` applied
    /// to them (the identity, or a gradient-norm clip), then the optimizer step at rate `lr`. Returns the
    /// updated network and the gradients [`Self::after_step`] reads.
    pub fn optimize<B, O, M>(
        &self,
        net: M,
        loss: Tensor<B, 1>,
        dense: &DenseGrads,
        lr: f64,
        optim: &mut OptimizerAdaptor<O, M, B>,
        clip: impl FnOnce(&M, GradientsParams) -> GradientsParams,
    ) -> (M, StepGrads)
    where
        B: AutodiffBackend,
        O: MomentReset<B::InnerBackend>,
        M: AutodiffModule<B> + SparseParts<B>,
    {
        let mut grads = GradientsParams::from_grads(loss.backward(), &net);
        let host = self
            .modules
            .iter()
            .map(|m| {
                let layers = net.part_layers(m.name());
                let taken = m.take_grads(&layers, &mut grads, dense.get(m.name()));
                (m.name().to_string(), taken)
            })
            .collect();
        let grads = clip(&net, grads);
        (optim.step(lr, net, grads), StepGrads(host))
    }

    /// After the optimizer step of [`Self::optimize`]: each module counts the step and runs the topology
    /// update due at it on its part of `net`, resetting the optimizer moments of the changed connections.
    /// Consumes the step's gradients (a caller that reads them afterwards, as ADAPT's decision does,
    /// keeps a clone).
    pub fn after_step<B, O, M>(
        &mut self,
        net: &mut M,
        mut grads: StepGrads,
        optim: &mut OptimizerAdaptor<O, M, B>,
        rng: &mut impl Rng,
    ) -> Result<(), DstError>
    where
        B: AutodiffBackend,
        O: MomentReset<B::InnerBackend>,
        M: AutodiffModule<B> + SparseParts<B>,
    {
        for module in &mut self.modules {
            let layers = net.part_layers_mut(module.name());
            module.after_step(layers, grads.take(module.name()), optim, rng)?;
        }
        Ok(())
    }

    /// [`Self::optimize`] then [`Self::after_step`]: one whole gradient step of the group's modules.
    pub fn step<B, O, M>(
        &mut self,
        net: M,
        loss: Tensor<B, 1>,
        dense: &DenseGrads,
        lr: f64,
        optim: &mut OptimizerAdaptor<O, M, B>,
        rng: &mut impl Rng,
    ) -> Result<M, DstError>
    where
        B: AutodiffBackend,
        O: MomentReset<B::InnerBackend>,
        M: AutodiffModule<B> + SparseParts<B>,
    {
        let (mut net, grads) = self.optimize(net, loss, dense, lr, optim, |_, g| g);
        self.after_step(&mut net, grads, optim, rng)?;
        Ok(net)
    }
}
