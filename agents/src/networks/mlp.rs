//! A multilayer perceptron of masked linear layers with ReLU between them.

use std::collections::HashSet;

use burn::module::{Module, ParamId};
use burn::tensor::activation::relu;
use burn::tensor::backend::Backend;
use burn::tensor::Tensor;
use sparse_rl_dst::execution::Execution;
use sparse_rl_dst::layers::{MaskedLinear, MaskedLinearConfig};
use sparse_rl_dst::topology::SparseLayer;

/// Sizes of an MLP: `d_in → hidden... → d_out`.
#[derive(Debug, Clone, PartialEq)]
pub struct MlpConfig {
    pub d_in: usize,
    pub hidden: Vec<usize>,
    pub d_out: usize,
    /// ReLU after the last layer too (an encoder feeding another module), not for a Q or policy head.
    pub activate_last: bool,
}

/// Masked linear layers with ReLU between them (and after the last when `activate_last`).
#[derive(Module, Debug)]
pub struct Mlp<B: Backend> {
    pub layers: Vec<MaskedLinear<B>>,
    activate_last: bool,
    /// False for a module under the `dense` policy: its all-ones masks are skipped in the forward pass.
    masked: bool,
}

impl MlpConfig {
    pub fn init<B: Backend>(&self, device: &B::Device) -> Mlp<B> {
        let mut sizes = vec![self.d_in];
        sizes.extend(&self.hidden);
        sizes.push(self.d_out);
        let layers = sizes
            .windows(2)
            .map(|w| MaskedLinearConfig::new(w[0], w[1]).init(device))
            .collect();
        Mlp {
            layers,
            activate_last: self.activate_last,
            masked: true,
        }
    }
}

impl<B: Backend> Mlp<B> {
    /// The forward pass; `dense_grad` routes the dense weight gradient to every weight (topology-update steps).
    pub fn forward<const D: usize>(&self, mut x: Tensor<B, D>, dense_grad: bool) -> Tensor<B, D> {
        let last = self.layers.len() - 1;
        for (i, layer) in self.layers.iter().enumerate() {
            x = if dense_grad {
                layer.forward_dense_grad(x)
            } else {
                layer.forward(x)
            };
            if i < last || self.activate_last {
                x = relu(x);
            }
        }
        x
    }

    /// Whether the forward pass applies the masks; `false` only for modules whose policy keeps them dense.
    pub fn set_masked(&mut self, masked: bool) {
        self.masked = masked;
    }

    /// Sets how every layer multiplies by its weight (the module policy's `execution`).
    pub fn set_execution(&mut self, execution: Execution) {
        for layer in &mut self.layers {
            layer.set_execution(execution);
        }
    }

    pub fn d_out(&self) -> usize {
        self.layers.last().map_or(0, |l| l.d_out())
    }

    /// The sparse layers, in order, for the module's sparsity controller.
    pub fn sparse_layers_mut(&mut self) -> Vec<&mut dyn SparseLayer<B>> {
        self.layers
            .iter_mut()
            .map(|l| l as &mut dyn SparseLayer<B>)
            .collect()
    }

    pub fn sparse_layers(&self) -> Vec<&dyn SparseLayer<B>> {
        self.layers.iter().map(|l| l as &dyn SparseLayer<B>).collect()
    }

    /// (parameters, non-zero parameters), masks not counted.
    pub fn param_counts(&self) -> (usize, usize) {
        super::param_counts(self, &self.mask_ids())
    }

    /// Ids of the masks (not parameters of the model, for counts and target updates).
    pub fn mask_ids(&self) -> HashSet<ParamId> {
        self.layers.iter().map(|l| l.mask.id).collect()
    }
}
