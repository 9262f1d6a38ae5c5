//! The agent-side sequence around the controller, for the layers of one module.
//!
//! Initialisation: [`init_sparse`] once after building the network. At an update step (see
//! [`crate::topology::SparseLayer`] for the full order): loss with `forward_dense_grad`, backward,
//! `GradientsParams::from_grads`, `host_grad` of each layer, the optimizer step, then [`evolve`].

use burn::module::AutodiffModule;
use burn::optim::adaptor::OptimizerAdaptor;
use burn::tensor::backend::{AutodiffBackend, Backend};
use rand::Rng;

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
    mut grads: Vec<Option<Vec<f32>>>,
    optim: OptimizerAdaptor<O, M, B>,
    rng: &mut R,
) -> Result<(UpdateReport, OptimizerAdaptor<O, M, B>), DstError>
where
    B: AutodiffBackend,
    O: MomentReset<B::InnerBackend>,
    M: AutodiffModule<B>,
    R: Rng + ?Sized,
{
    grads.resize(layers.len(), None);
    let mut views: Vec<LayerTopology> = layers
        .iter()
        .zip(grads)
        .map(|((name, l), g)| l.topology(name, g))
        .collect();
    let report = controller.update(step, &mut views, rng)?;
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
