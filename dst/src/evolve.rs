//! The agent-side sequence around the controller, for the layers of one module.
//!
//! Initialisation: [`init_sparse`] once after building the network. At an update step (see
//! [`crate::topology::SparseLayer`] for the full order): loss with `forward_dense_grad`, backward,
//! `GradientsParams::from_grads`, `host_grad` of each layer, the optimizer step, then [`evolve`].

use burn::module::AutodiffModule;
use burn::optim::adaptor::OptimizerAdaptor;
use burn::tensor::backend::{AutodiffBackend, Backend};
use rand::Rng;

use crate::adapt::AdaptAction;
use crate::controller::{SparsityController, UpdateReport};
use crate::error::DstError;
use crate::optim::{reset_moments, MomentMask, MomentReset};
use crate::topology::{LayerTopology, SparseLayer};

/// A named mutable layer of a module (the name is owned, so names built on the fly can pair with layers
/// borrowed from a network for longer).
pub type NamedLayer<'a, B> = (String, &'a mut dyn SparseLayer<B>);

/// Sets the initial masks of a module's layers (in forward order) from its controller.
pub fn init_sparse<B: Backend, R: Rng + ?Sized>(
    controller: &mut SparsityController,
    layers: &mut [NamedLayer<'_, B>],
    rng: &mut R,
) -> Result<(), DstError> {
    let mut views: Vec<LayerTopology> = layers.iter().map(|(name, l)| l.topology(name, None)).collect();
    controller.init_masks(&mut views, rng)?;
    for ((_, layer), view) in layers.iter_mut().zip(&views) {
        layer.set_topology(view)?;
    }
    Ok(())
}

/// Runs the controller's update of `step` on a module's layers (after the optimizer step), writes the new
/// topologies back and resets the optimizer moments of every pruned and grown connection. `grads` are
/// the layers' `host_grad`s captured before the optimizer step (empty when the criteria need none).
pub fn evolve<B, O, M, R>(
    controller: &mut SparsityController,
    step: u64,
    layers: &mut [NamedLayer<'_, B>],
    grads: Vec<Option<Vec<f32>>>,
    optim: OptimizerAdaptor<O, M, B>,
    rng: &mut R,
) -> Result<(UpdateReport, OptimizerAdaptor<O, M, B>), DstError>
where
    B: AutodiffBackend,
    O: MomentReset<B::InnerBackend>,
    M: AutodiffModule<B>,
    R: Rng + ?Sized,
{
    change_topology(layers, grads, optim, |views| controller.update(step, views, rng))
}

/// What [`adapt`] returns: the update's report (`None` when nothing changed) and the optimizer with the
/// moments of the changed connections reset.
pub type AdaptResult<O, M, B> = Result<(Option<UpdateReport>, OptimizerAdaptor<O, M, B>), DstError>;

/// Carries out an ADAPT decision ([`AdaptAction`], Wang et al., "Balanced Training for Sparse GANs",
/// NeurIPS 2023) on a module's layers as [`evolve`] does an update: a grow or shrink moves the module
/// to the new density ([`SparsityController::resize`]), a strict-variant step at the cap prunes and
/// regrows ([`SparsityController::regrow`]); `None` when the action changes nothing.
pub fn adapt<B, O, M, R>(
    controller: &mut SparsityController,
    step: u64,
    action: AdaptAction,
    layers: &mut [NamedLayer<'_, B>],
    grads: Vec<Option<Vec<f32>>>,
    optim: OptimizerAdaptor<O, M, B>,
    rng: &mut R,
) -> AdaptResult<O, M, B>
where
    B: AutodiffBackend,
    O: MomentReset<B::InnerBackend>,
    M: AutodiffModule<B>,
    R: Rng + ?Sized,
{
    let (report, optim) = match action {
        AdaptAction::Wait | AdaptAction::Hold => return Ok((None, optim)),
        AdaptAction::Grow { to, .. } | AdaptAction::Shrink { to, .. } => {
            change_topology(layers, grads, optim, |views| {
                controller.resize(step, to, views, rng)
            })?
        }
        AdaptAction::PruneAndRegrow { fraction } => change_topology(layers, grads, optim, |views| {
            controller.regrow(step, fraction, views, rng)
        })?,
    };
    Ok((Some(report), optim))
}

/// Reads the layers' host views (with `grads`), lets `change` edit them, writes the changed layers back
/// and resets the optimizer moments of their pruned and grown connections.
fn change_topology<B, O, M>(
    layers: &mut [NamedLayer<'_, B>],
    mut grads: Vec<Option<Vec<f32>>>,
    optim: OptimizerAdaptor<O, M, B>,
    change: impl FnOnce(&mut [LayerTopology]) -> Result<UpdateReport, DstError>,
) -> Result<(UpdateReport, OptimizerAdaptor<O, M, B>), DstError>
where
    B: AutodiffBackend,
    O: MomentReset<B::InnerBackend>,
    M: AutodiffModule<B>,
{
    grads.resize(layers.len(), None);
    let mut views: Vec<LayerTopology> = layers
        .iter()
        .zip(grads)
        .map(|((name, l), g)| l.topology(name, g))
        .collect();
    let report = change(&mut views)?;
    let mut masks = Vec::with_capacity(layers.len());
    for (((_, layer), view), change) in layers.iter_mut().zip(&views).zip(&report.layers) {
        if change.pruned + change.grown > 0 {
            layer.set_topology(view)?;
            masks.push(MomentMask {
                id: layer.weight_id(),
                layout: layer.param_layout(),
                keep: change.keep.clone(),
            });
        }
    }
    Ok((report, reset_moments(optim, &masks)))
}
