//! The architecture a module is built as: the plain MLP or SimBa's residual network, chosen per module in
//! the config. Both read one list of hidden sizes, so width and depth are the same keys for either: an MLP
//! has one layer per entry, a SimBa network one residual block per entry (all entries equal, since the
//! residual stream keeps one width).

use std::collections::HashSet;

use burn::module::{Module, ParamId};
use burn::tensor::backend::Backend;
use burn::tensor::Tensor;
use serde::{Deserialize, Serialize};
use sparse_rl_dst::execution::Execution;
use sparse_rl_dst::inference::{Activation, InferenceLayer};
use sparse_rl_dst::module::SparseParts;
use sparse_rl_dst::topology::SparseLayer;

use super::{Mlp, MlpConfig, Simba, SimbaConfig};
use crate::plasticity::DormantCount;

/// How a module's network is built.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Architecture {
    /// Linear layers with ReLU between them, one per hidden size.
    #[default]
    Mlp,
    /// SimBa: embedding, one residual LayerNorm block per hidden size, final LayerNorm ([`Simba`]).
    Simba,
}

impl Architecture {
    /// Checks that `hidden` describes a network of this architecture; the error names the sizes.
    pub fn check(self, hidden: &[usize]) -> Result<(), String> {
        match (self, hidden) {
            (_, []) => Err("hidden must name at least one layer".into()),
            (Self::Simba, [width, rest @ ..]) if rest.iter().any(|w| w != width) => Err(format!(
                "hidden = {hidden:?}: a SimBa network has one width (its residual stream), one entry \
                 per block, e.g. [{width}, {width}]"
            )),
            _ => Ok(()),
        }
    }

    /// The sizes its linear layers chain through, `d_in` first and `d_out` last: the hidden sizes for an
    /// MLP; for SimBa the width, then the inner and residual widths of every block (its weights are those
    /// of an MLP over these sizes). Saturates, for estimates of sizes that may not fit.
    pub fn layer_sizes(self, d_in: usize, hidden: &[usize], d_out: usize) -> Vec<usize> {
        let mut sizes = vec![d_in];
        match self {
            Self::Mlp => sizes.extend(hidden),
            Self::Simba => {
                let width = hidden.first().copied().unwrap_or(0);
                sizes.push(width);
                for _ in hidden {
                    sizes.extend([width.saturating_mul(super::simba::EXPANSION), width]);
                }
            }
        }
        sizes.push(d_out);
        sizes
    }

    /// A network `d_in → hidden → d_out` of this architecture (no activation after the output).
    pub fn init<B: Backend>(
        self,
        d_in: usize,
        hidden: &[usize],
        d_out: usize,
        device: &B::Device,
    ) -> Result<Network<B>, String> {
        self.check(hidden)?;
        Ok(match self {
            Self::Mlp => Network::Mlp(
                MlpConfig {
                    d_in,
                    hidden: hidden.to_vec(),
                    d_out,
                    activate_last: false,
                }
                .init(device),
            ),
            Self::Simba => Network::Simba(
                SimbaConfig {
                    d_in,
                    width: hidden[0],
                    blocks: hidden.len(),
                    d_out,
                }
                .init(device),
            ),
        })
    }
}

/// A critic or actor network of either architecture.
// burn's Module derive has no Box impl, and a network is a handful of values moved only with its module.
#[allow(clippy::large_enum_variant)]
#[derive(Module, Debug)]
pub enum Network<B: Backend> {
    Mlp(Mlp<B>),
    Simba(Simba<B>),
}

impl<B: Backend> Network<B> {
    /// The forward pass of a batch `[n, d_in]`; `dense_grad` routes the dense weight gradient to every
    /// weight of the masked layers (topology-update steps).
    pub fn forward(&self, x: Tensor<B, 2>, dense_grad: bool) -> Tensor<B, 2> {
        match self {
            Self::Mlp(n) => n.forward(x, dense_grad),
            Self::Simba(n) => n.forward(x, dense_grad),
        }
    }

    /// The τ-dormant neurons on the batch `x` ([`crate::plasticity`]).
    pub fn dormant(&self, x: Tensor<B, 2>, tau: f64) -> DormantCount {
        match self {
            Self::Mlp(n) => n.dormant(x, tau),
            Self::Simba(n) => n.dormant(x, tau),
        }
    }

    pub fn set_masked(&mut self, masked: bool) {
        match self {
            Self::Mlp(n) => n.set_masked(masked),
            Self::Simba(n) => n.set_masked(masked),
        }
    }

    pub fn set_execution(&mut self, execution: Execution) {
        match self {
            Self::Mlp(n) => n.set_execution(execution),
            Self::Simba(n) => n.set_execution(execution),
        }
    }

    pub fn sparse_layers_mut(&mut self) -> Vec<&mut dyn SparseLayer<B>> {
        match self {
            Self::Mlp(n) => n.sparse_layers_mut(),
            Self::Simba(n) => n.sparse_layers_mut(),
        }
    }

    pub fn sparse_layers(&self) -> Vec<&dyn SparseLayer<B>> {
        match self {
            Self::Mlp(n) => n.sparse_layers(),
            Self::Simba(n) => n.sparse_layers(),
        }
    }

    pub fn mask_ids(&self) -> HashSet<ParamId> {
        match self {
            Self::Mlp(n) => n.mask_ids(),
            Self::Simba(n) => n.mask_ids(),
        }
    }

    /// (parameters, non-zero parameters), masks not counted.
    pub fn param_counts(&self) -> (usize, usize) {
        match self {
            Self::Mlp(n) => n.param_counts(),
            Self::Simba(n) => n.param_counts(),
        }
    }

    /// The layers in the policy file's form ([`Mlp::inference_layers`]); a SimBa network has none (the
    /// format holds chains of linear layers, not residual blocks with LayerNorm).
    pub fn inference_layers(
        &self,
        last_outputs: Option<usize>,
    ) -> Result<Vec<(InferenceLayer, Activation)>, String> {
        match self {
            Self::Mlp(n) => n.inference_layers(last_outputs),
            Self::Simba(_) => Err(
                "a SimBa network (residual blocks with LayerNorm) cannot be exported: the policy format \
                 holds chains of linear layers"
                    .into(),
            ),
        }
    }
}

/// A network trained under one module (SAC's actor): its one part answers to the module's name.
impl<B: Backend> SparseParts<B> for Network<B> {
    fn part_layers(&self, _name: &str) -> Vec<&dyn SparseLayer<B>> {
        self.sparse_layers()
    }

    fn part_layers_mut(&mut self, _name: &str) -> Vec<&mut dyn SparseLayer<B>> {
        self.sparse_layers_mut()
    }

    fn configure_part(&mut self, _name: &str, masked: bool, execution: Execution) {
        self.set_masked(masked);
        self.set_execution(execution);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn simba_takes_one_width_and_one_block_per_entry() {
        assert!(Architecture::Simba.check(&[64, 64, 64]).is_ok());
        assert!(Architecture::Mlp.check(&[64, 32]).is_ok());
        let err = Architecture::Simba.check(&[64, 32]).unwrap_err();
        assert!(err.contains("[64, 32]") && err.contains("one width"), "{err}");
        assert!(Architecture::Mlp.check(&[]).is_err());
        let net = Architecture::Simba
            .init::<burn::backend::Flex>(3, &[8, 8, 8], 2, &Default::default())
            .unwrap();
        let Network::Simba(simba) = net else {
            panic!("not a SimBa network")
        };
        assert_eq!(simba.blocks.len(), 3);
        assert_eq!(simba.embed.d_out(), 8);
        // Its layers chain 3 → 8 → (32 → 8) × 3 → 2: the weights an estimate of its size counts.
        let sizes = Architecture::Simba.layer_sizes(3, &[8, 8, 8], 2);
        assert_eq!(sizes, [3, 8, 32, 8, 32, 8, 32, 8, 2]);
        let chain: usize = sizes.windows(2).map(|w| w[0] * w[1] + w[1]).sum();
        let norms = 4 * 2 * 8;
        assert_eq!(simba.param_counts().0, chain + norms);
        assert_eq!(Architecture::Mlp.layer_sizes(3, &[8, 5], 2), [3, 8, 5, 2]);
    }
}
