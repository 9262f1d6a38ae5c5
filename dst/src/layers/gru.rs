//! A masked GRU cell (QMIX agents), PyTorch `GRUCell` equations:
//! r = σ(x W_ir + b_ir + h W_hr + b_hr), z = σ(x W_iz + b_iz + h W_hz + b_hz),
//! n = tanh(x W_in + b_in + r ⊙ (h W_hn + b_hn)), h' = (1 − z) ⊙ n + z ⊙ h.
//! The input and hidden gate matrices are two masked layers, [d_in → 3H] and [H → 3H] with the gates in
//! PyTorch's order (r | z | n); each is one [`SparseLayer`] (a 3H × n mask is the three gate masks
//! stacked), so ERK sees two layers. All weights and biases start at U(−1/√H, 1/√H) as in PyTorch.

use burn::config::Config;
use burn::module::{Initializer, Module};
use burn::tensor::activation::{sigmoid, tanh};
use burn::tensor::backend::Backend;
use burn::tensor::Tensor;

use super::linear::{MaskedLinear, MaskedLinearConfig};
use crate::topology::SparseLayer;

/// Configuration of a [`MaskedGruCell`].
#[derive(Config, Debug)]
pub struct MaskedGruCellConfig {
    /// Input features.
    pub d_in: usize,
    /// Hidden size H.
    pub d_hidden: usize,
}

/// A GRU cell with masked input and hidden gate matrices (dense biases).
#[derive(Module, Debug)]
pub struct MaskedGruCell<B: Backend> {
    /// Input gates, [d_in → 3H].
    pub input: MaskedLinear<B>,
    /// Hidden gates, [H → 3H].
    pub hidden: MaskedLinear<B>,
}

impl MaskedGruCellConfig {
    /// A dense-masked cell with PyTorch's initialisation.
    pub fn init<B: Backend>(&self, device: &B::Device) -> MaskedGruCell<B> {
        let k = 1.0 / (self.d_hidden as f64).sqrt();
        let init = Initializer::Uniform { min: -k, max: k };
        let h3 = 3 * self.d_hidden;
        MaskedGruCell {
            input: MaskedLinearConfig::new(self.d_in, h3).init_with(&init, device),
            hidden: MaskedLinearConfig::new(self.d_hidden, h3).init_with(&init, device),
        }
    }
}

impl<B: Backend> MaskedGruCell<B> {
    /// One step: input [batch, d_in], hidden [batch, H] → new hidden [batch, H].
    pub fn forward(&self, x: Tensor<B, 2>, h: Tensor<B, 2>) -> Tensor<B, 2> {
        let (gi, gh) = (self.input.forward(x), self.hidden.forward(h.clone()));
        gates(gi, gh, h)
    }

    /// Same value, dense gradients to both gate matrices (topology-update steps).
    pub fn forward_dense_grad(&self, x: Tensor<B, 2>, h: Tensor<B, 2>) -> Tensor<B, 2> {
        let (gi, gh) = (
            self.input.forward_dense_grad(x),
            self.hidden.forward_dense_grad(h.clone()),
        );
        gates(gi, gh, h)
    }

    /// The two masked matrices, input first.
    pub fn sparse_layers(&self) -> [&dyn SparseLayer<B>; 2] {
        [&self.input, &self.hidden]
    }

    /// The two masked matrices, mutable, input first.
    pub fn sparse_layers_mut(&mut self) -> [&mut dyn SparseLayer<B>; 2] {
        [&mut self.input, &mut self.hidden]
    }
}

fn gates<B: Backend>(gi: Tensor<B, 2>, gh: Tensor<B, 2>, h: Tensor<B, 2>) -> Tensor<B, 2> {
    let [i_r, i_z, i_n]: [Tensor<B, 2>; 3] = gi.chunk(3, 1).try_into().expect("3H splits into three gates");
    let [h_r, h_z, h_n]: [Tensor<B, 2>; 3] = gh.chunk(3, 1).try_into().expect("3H splits into three gates");
    let r = sigmoid(i_r + h_r);
    let z = sigmoid(i_z + h_z);
    let n = tanh(i_n + r * h_n);
    (z.ones_like() - z.clone()) * n + z * h
}
