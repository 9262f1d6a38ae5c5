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
use burn::tensor::module::linear;
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

    /// A whole sequence from a zero hidden state: one input `[N, d_in]` per step → one hidden state
    /// `[N, H]` per step, the values of calling [`Self::forward`] step by step. Both masked gate matrices
    /// are formed once for the sequence rather than per step (QMIX unrolls each training batch over its
    /// episodes' 50–100 steps). The inputs come one tensor per step, not as slices of one tensor: the
    /// backward of a slice of a tracked tensor writes a zero tensor of the whole sequence's size per step.
    /// `dense_grad`: dense gradients to both gate matrices, as [`Self::forward_dense_grad`].
    pub fn forward_sequence(&self, xs: Vec<Tensor<B, 2>>, dense_grad: bool) -> Vec<Tensor<B, 2>> {
        let (wi, bi) = self.input.effective(dense_grad);
        let (wh, bh) = self.hidden.effective(dense_grad);
        let mut h: Option<Tensor<B, 2>> = None;
        let mut hs = Vec::with_capacity(xs.len());
        for x in xs {
            let prev = h.unwrap_or_else(|| Tensor::zeros([x.dims()[0], wh.dims()[0]], &x.device()));
            let gi = linear(x, wi.clone(), bi.clone());
            let gh = linear(prev.clone(), wh.clone(), bh.clone());
            let next = gates(gi, gh, prev);
            hs.push(next.clone());
            h = Some(next);
        }
        hs
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

#[cfg(test)]
mod tests {
    use burn::backend::{Autodiff, NdArray};
    use burn::tensor::{Distribution, Tensor};

    use super::*;

    type B = Autodiff<NdArray>;

    /// Hidden states and the gradients of both gate matrices for a loss over all hidden states, computed by
    /// `forward_sequence` or by stepping `forward`.
    fn run(cell: &MaskedGruCell<B>, x: &Tensor<B, 3>, sequence: bool, dense_grad: bool) -> Vec<Vec<f32>> {
        let [n, t, d] = x.dims();
        let x = x.clone().require_grad();
        let hs: Tensor<B, 3> = if sequence {
            let xs = (0..t).map(|k| x.clone().slice([0..n, k..k + 1, 0..d]).reshape([n, d]));
            Tensor::stack(cell.forward_sequence(xs.collect(), dense_grad), 1)
        } else {
            let mut h = Tensor::<B, 2>::zeros([n, 4], &x.device());
            let mut hs = Vec::new();
            for k in 0..t {
                let xk = x.clone().slice([0..n, k..k + 1, 0..d]).reshape([n, d]);
                h = if dense_grad {
                    cell.forward_dense_grad(xk, h)
                } else {
                    cell.forward(xk, h)
                };
                hs.push(h.clone());
            }
            Tensor::stack(hs, 1)
        };
        let values = hs.clone().into_data().to_vec().unwrap();
        let grads = (hs.clone() * hs).sum().backward();
        let g = |w: &MaskedLinear<B>| w.weight.val().grad(&grads).unwrap().into_data().to_vec().unwrap();
        vec![values, g(&cell.input), g(&cell.hidden)]
    }

    #[test]
    fn a_sequence_equals_stepping_the_cell_in_values_and_gradients() {
        let device = Default::default();
        let mut cell = MaskedGruCellConfig::new(3, 4).init::<B>(&device);
        // A third of each gate matrix masked off.
        for layer in cell.sparse_layers_mut() {
            let mut topology = layer.topology("gru", None);
            topology.mask = (0..topology.mask.len()).map(|i| i % 3 != 1).collect();
            layer.set_topology(&topology).unwrap();
        }
        let x = Tensor::<B, 3>::random([2, 5, 3], Distribution::Normal(0.0, 1.0), &device);
        for dense_grad in [false, true] {
            let sequence = run(&cell, &x, true, dense_grad);
            let stepped = run(&cell, &x, false, dense_grad);
            for (a, b) in sequence.iter().flatten().zip(stepped.iter().flatten()) {
                assert!((a - b).abs() < 1e-5, "{a} vs {b} (dense_grad {dense_grad})");
            }
            // The hidden matrix's masked-off weights get gradient only on the straight-through path.
            let off = cell.hidden.topology("gru", None).mask;
            let layout = cell.hidden.param_layout();
            let host_grad = layout.to_host(&sequence[2]);
            let off_grad = host_grad.iter().zip(&off).any(|(g, on)| !on && *g != 0.0);
            assert_eq!(off_grad, dense_grad);
        }
    }
}
