//! A multilayer perceptron of sparse linear layers with ReLU between them: masked layers (unstructured
//! sparsity) or, for a module whose policy asks for `structure = "diagonal"`, DynaDiag's diagonal layers.

use std::collections::HashSet;

use burn::module::{Module, ParamId};
use burn::tensor::activation::relu;
use burn::tensor::backend::Backend;
use burn::tensor::Tensor;
use sparse_rl_dst::diagonal::{DiagonalLinear, DiagonalLinearConfig};
use sparse_rl_dst::execution::Execution;
use sparse_rl_dst::inference::{self, Activation, DiagonalInference, InferenceLayer};
use sparse_rl_dst::layers::{MaskedLinear, MaskedLinearConfig};
use sparse_rl_dst::module::{DiagonalLayers, SparseParts};
use sparse_rl_dst::policy::{SparsityPolicy, Structure};
use sparse_rl_dst::topology::SparseLayer;

use crate::plasticity::DormantCount;

/// Sizes of an MLP: `d_in → hidden... → d_out`.
#[derive(Debug, Clone, PartialEq)]
pub struct MlpConfig {
    pub d_in: usize,
    pub hidden: Vec<usize>,
    pub d_out: usize,
    /// ReLU after the last layer too (an encoder feeding another module), not for a Q or policy head.
    pub activate_last: bool,
}

/// One layer of an [`Mlp`].
#[derive(Module, Debug)]
pub enum LinearLayer<B: Backend> {
    /// `x · (W ⊙ M) + b`, any mask.
    Masked(MaskedLinear<B>),
    /// A union of wrapped diagonals (DynaDiag).
    Diagonal(DiagonalLinear<B>),
}

/// Sparse linear layers with ReLU between them (and after the last when `activate_last`).
#[derive(Module, Debug)]
pub struct Mlp<B: Backend> {
    pub layers: Vec<LinearLayer<B>>,
    activate_last: bool,
    /// False for a module under the `dense` policy: its all-ones masks are skipped in the forward pass.
    masked: bool,
}

impl MlpConfig {
    /// Masked layers (dense masks until the module's sparsity controller sets them).
    pub fn init<B: Backend>(&self, device: &B::Device) -> Mlp<B> {
        let layers = self
            .sizes()
            .windows(2)
            .map(|w| LinearLayer::Masked(MaskedLinearConfig::new(w[0], w[1]).init(device)))
            .collect();
        self.with_layers(layers)
    }

    /// The layers `policy` asks for: diagonal layers at the policy's density for
    /// `structure = "diagonal"`, else masked layers as [`Self::init`].
    pub fn init_for<B: Backend>(
        &self,
        policy: &SparsityPolicy,
        device: &B::Device,
    ) -> Result<Mlp<B>, String> {
        if policy.structure != Structure::Diagonal {
            return Ok(self.init(device));
        }
        let layers = self
            .sizes()
            .windows(2)
            .map(|w| {
                DiagonalLinearConfig::new(w[0], w[1])
                    .with_density(policy.density)
                    .init(device)
                    .map(LinearLayer::Diagonal)
            })
            .collect::<Result<_, _>>()?;
        Ok(self.with_layers(layers))
    }

    fn sizes(&self) -> Vec<usize> {
        let mut sizes = vec![self.d_in];
        sizes.extend(&self.hidden);
        sizes.push(self.d_out);
        sizes
    }

    fn with_layers<B: Backend>(&self, layers: Vec<LinearLayer<B>>) -> Mlp<B> {
        Mlp {
            layers,
            activate_last: self.activate_last,
            masked: true,
        }
    }
}

impl<B: Backend> LinearLayer<B> {
    /// The layer's output; `masked = false` skips an all-ones mask, `dense_grad` routes the dense weight
    /// gradient to a masked layer's inactive weights (diagonal layers get their gradient from their own
    /// parameterisation and ignore both).
    fn forward(&self, x: Tensor<B, 2>, masked: bool, dense_grad: bool) -> Tensor<B, 2> {
        match self {
            Self::Masked(l) => masked_forward(l, x, masked, dense_grad),
            Self::Diagonal(l) => l.forward(x),
        }
    }

    fn d_out(&self) -> usize {
        match self {
            Self::Masked(l) => l.d_out(),
            Self::Diagonal(l) => l.pattern().out_features(),
        }
    }
}

/// A masked layer's output: the dense weight gradient on topology-update steps (`dense_grad`), the masked
/// product, or for a module whose masks stay all ones (`masked = false`) the plain product.
pub(crate) fn masked_forward<B: Backend>(
    layer: &MaskedLinear<B>,
    x: Tensor<B, 2>,
    masked: bool,
    dense_grad: bool,
) -> Tensor<B, 2> {
    if dense_grad {
        layer.forward_dense_grad(x)
    } else if masked {
        layer.forward(x)
    } else {
        layer.forward_unmasked(x)
    }
}

impl<B: Backend> Mlp<B> {
    /// The forward pass of a batch `[n, d_in]`; `dense_grad` routes the dense weight gradient to every
    /// weight of the masked layers (topology-update steps).
    pub fn forward(&self, mut x: Tensor<B, 2>, dense_grad: bool) -> Tensor<B, 2> {
        let last = self.layers.len() - 1;
        for (i, layer) in self.layers.iter().enumerate() {
            let next_masked = matches!(self.layers.get(i + 1), Some(LinearLayer::Masked(_)));
            x = match layer {
                // Hidden layer feeding another masked one: bias and ReLU fused, and on the sparse path
                // the activation stays feature-major between the two (no transposes).
                LinearLayer::Masked(l) if self.masked && !dense_grad && next_masked => l.forward_hidden(x),
                _ => {
                    let y = layer.forward(x, self.masked, dense_grad);
                    if i < last || self.activate_last {
                        relu(y)
                    } else {
                        y
                    }
                }
            };
        }
        x
    }

    /// The τ-dormant neurons of the layers followed by a ReLU, on the batch `x` ([`crate::plasticity`]).
    pub fn dormant(&self, mut x: Tensor<B, 2>, tau: f64) -> DormantCount {
        let last = self.layers.len() - 1;
        let mut count = DormantCount::default();
        for (i, layer) in self.layers.iter().enumerate() {
            x = layer.forward(x, self.masked, false);
            if i < last || self.activate_last {
                x = relu(x);
                count += DormantCount::of_layer(&crate::tensors::to_vec(x.clone()), layer.d_out(), tau);
            }
        }
        count
    }

    /// Whether the forward pass applies the masks; `false` only for modules whose policy keeps them dense.
    pub fn set_masked(&mut self, masked: bool) {
        self.masked = masked;
    }

    /// Sets how every masked layer multiplies by its weight (the module policy's `execution`); diagonal
    /// layers have their own frozen-phase kernel.
    pub fn set_execution(&mut self, execution: Execution) {
        for layer in &mut self.layers {
            if let LinearLayer::Masked(l) = layer {
                l.set_execution(execution);
            }
        }
    }

    pub fn d_out(&self) -> usize {
        self.layers.last().map_or(0, LinearLayer::d_out)
    }

    /// The masked layers, in order, for the module's sparsity controller.
    pub fn sparse_layers_mut(&mut self) -> Vec<&mut dyn SparseLayer<B>> {
        self.layers
            .iter_mut()
            .filter_map(|l| match l {
                LinearLayer::Masked(l) => Some(l as &mut dyn SparseLayer<B>),
                LinearLayer::Diagonal(_) => None,
            })
            .collect()
    }

    pub fn sparse_layers(&self) -> Vec<&dyn SparseLayer<B>> {
        self.layers
            .iter()
            .filter_map(|l| match l {
                LinearLayer::Masked(l) => Some(l as &dyn SparseLayer<B>),
                LinearLayer::Diagonal(_) => None,
            })
            .collect()
    }

    /// The layers in plain-Rust inference form with their activations (masked layers as CSR or dense by
    /// density, diagonal layers as frozen diagonals); `last_outputs` keeps only the first outputs of the
    /// last layer (SAC's actor: the means, not the log-std rows).
    pub fn inference_layers(
        &self,
        last_outputs: Option<usize>,
    ) -> Result<Vec<(InferenceLayer, Activation)>, String> {
        let n = self.layers.len();
        self.layers
            .iter()
            .enumerate()
            .map(|(i, layer)| {
                let keep = if i + 1 == n { last_outputs } else { None };
                let exported = match layer {
                    LinearLayer::Masked(l) => {
                        let (d_in, rows) = (l.d_in(), keep.unwrap_or(l.d_out()));
                        inference::masked_layer_from_burn(
                            l.weight.val().slice([0..d_in, 0..rows]),
                            l.mask.val().slice([0..d_in, 0..rows]),
                            l.bias.as_ref().map(|b| b.val().slice(0..rows)),
                        )?
                    }
                    LinearLayer::Diagonal(_) if keep.is_some() => {
                        return Err("a diagonal output layer cannot drop outputs for export".into())
                    }
                    LinearLayer::Diagonal(l) => InferenceLayer::Diagonal(DiagonalInference::from_layer(l)?),
                };
                Ok((exported, inference::mlp_activation(i, n, self.activate_last)))
            })
            .collect()
    }

    /// (parameters, non-zero parameters), masks not counted.
    pub fn param_counts(&self) -> (usize, usize) {
        super::param_counts(self, &self.mask_ids())
    }

    /// Ids of the masks (not parameters of the model, for counts and target updates).
    pub fn mask_ids(&self) -> HashSet<ParamId> {
        self.layers
            .iter()
            .filter_map(|l| match l {
                LinearLayer::Masked(l) => Some(l.mask.id),
                LinearLayer::Diagonal(_) => None,
            })
            .collect()
    }
}

/// The DynaDiag schedule of the module steps the network's diagonal layers.
impl<B: Backend> DiagonalLayers<B> for Mlp<B> {
    fn diagonal_layers(&self) -> Vec<&DiagonalLinear<B>> {
        self.layers
            .iter()
            .filter_map(|l| match l {
                LinearLayer::Diagonal(l) => Some(l),
                LinearLayer::Masked(_) => None,
            })
            .collect()
    }

    fn map_diagonal<E>(
        self,
        mut step: impl FnMut(DiagonalLinear<B>) -> Result<DiagonalLinear<B>, E>,
    ) -> Result<Self, E> {
        let layers = self
            .layers
            .into_iter()
            .map(|l| match l {
                LinearLayer::Diagonal(d) => step(d).map(LinearLayer::Diagonal),
                masked => Ok(masked),
            })
            .collect::<Result<_, _>>()?;
        Ok(Self { layers, ..self })
    }
}

/// An MLP trained under one module (a Q head, a generator): its one part answers to the module's name.
impl<B: Backend> SparseParts<B> for Mlp<B> {
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
