//! Resetting optimizer moments of pruned and grown connections by editing burn's optimizer record
//! (docs/architecture.md, "burn 0.21"): `to_record()` is a map ParamId → `AdaptorRecord`; `into_state::<D>()`
//! gives the optimizer's state, whose moments are multiplied by a keep mask (1 = connection active before
//! and after the update, 0 = pruned, grown or inactive), then `from_state` and `load_record`.
//!
//! Why: a just-pruned weight keeps its old Adam moments, which would move it off zero at the next step;
//! a grown weight must start with fresh moments (RigL, CHT). With zero weight, zero moments and the zero
//! gradient of the masked forward, an inactive weight stays exactly 0.0 under Adam and AdamW.

use burn::module::{AutodiffModule, ParamId};
use burn::optim::adaptor::OptimizerAdaptor;
use burn::optim::record::AdaptorRecord;
use burn::optim::{Adam, AdamState, AdamW, AdamWState, AdaptiveMomentumState, Optimizer, SimpleOptimizer};
use burn::tensor::backend::{AutodiffBackend, Backend};
use burn::tensor::{Tensor, TensorData};

use crate::error::DstError;
use crate::topology::{tensor_to_vec, ParamLayout, SparseLayer};

mod fused_adam;

pub use fused_adam::FusedAdam;

/// An optimizer whose per-parameter state can be masked element-wise.
pub trait MomentReset<B: Backend>: SimpleOptimizer<B> {
    /// Multiplies every moment of `state` by `keep` (same shape as the parameter).
    fn keep_moments<const D: usize>(state: Self::State<D>, keep: TensorData) -> Self::State<D>;
    /// Every moment tensor of `state` (same shape as the parameter).
    fn moments<const D: usize>(state: &Self::State<D>) -> Vec<Tensor<B, D>>;
}

fn adaptive_moments<B: Backend, const D: usize>(m: &AdaptiveMomentumState<B, D>) -> Vec<Tensor<B, D>> {
    let mut all = vec![m.moment_1.clone(), m.moment_2.clone()];
    all.extend(m.max_moment_2.clone());
    all
}

fn keep_adaptive<B: Backend, const D: usize>(
    mut m: AdaptiveMomentumState<B, D>,
    keep: TensorData,
) -> AdaptiveMomentumState<B, D> {
    let keep = Tensor::<B, D>::from_data(keep, &m.moment_1.device());
    m.moment_1 = m.moment_1 * keep.clone();
    m.moment_2 = m.moment_2 * keep.clone();
    m.max_moment_2 = m.max_moment_2.map(|v| v * keep);
    m
}

impl<B: Backend> MomentReset<B> for Adam {
    fn keep_moments<const D: usize>(state: AdamState<B, D>, keep: TensorData) -> AdamState<B, D> {
        AdamState {
            momentum: keep_adaptive(state.momentum, keep),
        }
    }

    fn moments<const D: usize>(state: &AdamState<B, D>) -> Vec<Tensor<B, D>> {
        adaptive_moments(&state.momentum)
    }
}

impl<B: Backend> MomentReset<B> for FusedAdam {
    fn keep_moments<const D: usize>(state: AdamState<B, D>, keep: TensorData) -> AdamState<B, D> {
        <Adam as MomentReset<B>>::keep_moments(state, keep)
    }

    fn moments<const D: usize>(state: &AdamState<B, D>) -> Vec<Tensor<B, D>> {
        adaptive_moments(&state.momentum)
    }
}

impl<B: Backend> MomentReset<B> for AdamW {
    fn keep_moments<const D: usize>(state: AdamWState<B, D>, keep: TensorData) -> AdamWState<B, D> {
        AdamWState {
            momentum: keep_adaptive(state.momentum, keep),
        }
    }

    fn moments<const D: usize>(state: &AdamWState<B, D>) -> Vec<Tensor<B, D>> {
        adaptive_moments(&state.momentum)
    }
}

/// Which moments of one weight parameter to keep.
#[derive(Debug, Clone, PartialEq)]
pub struct MomentMask {
    /// The weight parameter.
    pub id: ParamId,
    /// Its layout relative to the host view.
    pub layout: ParamLayout,
    /// Host order; `true` = keep the moments (connection active before and after the update).
    pub keep: Vec<bool>,
}

/// Resets the moments of every entry whose `keep` is false; parameters without optimizer state yet are
/// left alone.
pub fn reset_moments<O, M, B>(
    optim: OptimizerAdaptor<O, M, B>,
    masks: &[MomentMask],
) -> OptimizerAdaptor<O, M, B>
where
    O: MomentReset<B::InnerBackend>,
    M: AutodiffModule<B>,
    B: AutodiffBackend,
{
    let mut record = optim.to_record();
    for mask in masks {
        let Some(rec) = record.remove(&mask.id) else {
            continue;
        };
        let ones: Vec<f32> = mask.keep.iter().map(|&k| if k { 1.0 } else { 0.0 }).collect();
        let data = mask.layout.to_param_data(&ones);
        let rec = match mask.layout.dims().len() {
            1 => masked_record::<O, B, 1>(rec, data),
            2 => masked_record::<O, B, 2>(rec, data),
            3 => masked_record::<O, B, 3>(rec, data),
            _ => masked_record::<O, B, 4>(rec, data),
        };
        record.insert(mask.id, rec);
    }
    optim.load_record(record)
}

fn masked_record<O, B, const D: usize>(rec: AdaptorRecord<O, B>, keep: TensorData) -> AdaptorRecord<O, B>
where
    O: MomentReset<B::InnerBackend>,
    B: AutodiffBackend,
{
    AdaptorRecord::from_state(O::keep_moments::<D>(rec.into_state::<D>(), keep))
}

/// Checks the invariant of masked training after an optimizer step: every inactive weight of `layers` is
/// exactly zero, and so is each of its optimizer moments (a parameter without optimizer state yet passes).
/// The error names the layer (`module.i`) and counts the entries that broke it. It reads every weight and
/// the optimizer record, so it is a check for tests and for debugging a method, not for every run.
pub fn check_inactive_zero<O, M, B>(
    module: &str,
    layers: &[&dyn SparseLayer<B>],
    optim: &OptimizerAdaptor<O, M, B>,
) -> Result<(), DstError>
where
    O: MomentReset<B::InnerBackend>,
    M: AutodiffModule<B>,
    B: AutodiffBackend,
{
    let record = optim.to_record();
    for (i, layer) in layers.iter().enumerate() {
        let view = layer.topology(&format!("{module}.{i}"), None);
        let weights = view
            .weight
            .iter()
            .zip(&view.mask)
            .filter(|(&w, &m)| !m && w != 0.0)
            .count();
        let layout = layer.param_layout();
        let inactive = layout.to_param(&view.mask.iter().map(|&m| !m).collect::<Vec<_>>());
        let moments = match record.get(&layer.weight_id()) {
            None => 0,
            Some(rec) => match layout.dims().len() {
                1 => nonzero_moments::<O, B, 1>(rec.clone(), &inactive),
                2 => nonzero_moments::<O, B, 2>(rec.clone(), &inactive),
                3 => nonzero_moments::<O, B, 3>(rec.clone(), &inactive),
                _ => nonzero_moments::<O, B, 4>(rec.clone(), &inactive),
            },
        };
        if weights + moments > 0 {
            return Err(DstError::new(format!(
                "layer `{}`: {weights} inactive weights and {moments} of their optimizer moments are not zero",
                view.name
            )));
        }
    }
    Ok(())
}

/// Moment entries at the `inactive` positions (parameter order) that are not exactly zero.
fn nonzero_moments<O, B, const D: usize>(rec: AdaptorRecord<O, B>, inactive: &[bool]) -> usize
where
    O: MomentReset<B::InnerBackend>,
    B: AutodiffBackend,
{
    O::moments::<D>(&rec.into_state::<D>())
        .into_iter()
        .map(|m| {
            tensor_to_vec(m)
                .iter()
                .zip(inactive)
                .filter(|(&v, &off)| off && v != 0.0)
                .count()
        })
        .sum()
}
