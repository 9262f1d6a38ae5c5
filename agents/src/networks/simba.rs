//! SimBa's network (Lee et al. 2024, "SimBa: Simplicity Bias for Scaling Up Parameters in Deep
//! Reinforcement Learning"): a linear embedding to the residual stream's width, residual feed-forward blocks
//! `x ← x + W₂·relu(W₁·LayerNorm(x))` whose inner layer is four times as wide, a final LayerNorm and the
//! output layer. The blocks give a linear path from input to output and the LayerNorms bound the features'
//! scale: what lets a wider or deeper network keep learning where a plain MLP degrades.
//!
//! Initialisation as the authors' code: orthogonal (gain 1) embedding and output weights, He-normal block
//! weights, zero biases. SimBa's third part, running observation normalisation, belongs to the agent (it
//! is shared by the actor and the critic): SAC's `normalize_observations`.
//!
//! Every linear layer is a masked layer, so a module's sparsity policy (density, ERK, prune and regrow)
//! covers all of them as it covers an MLP's; the LayerNorms' scales and shifts stay dense.

use std::collections::HashSet;

use burn::module::{Initializer, Module, Param, ParamId};
use burn::nn::{LayerNorm, LayerNormConfig};
use burn::tensor::activation::relu;
use burn::tensor::backend::Backend;
use burn::tensor::Tensor;
use sparse_rl_dst::execution::Execution;
use sparse_rl_dst::layers::{MaskedLinear, MaskedLinearConfig};
use sparse_rl_dst::topology::SparseLayer;

use super::mlp::masked_forward;
use crate::plasticity::DormantCount;

/// The inner layer of a block is this many times the residual stream's width (SimBa's choice).
pub const EXPANSION: usize = 4;

/// Sizes of a [`Simba`] network: `d_in → width → blocks × (width → 4·width → width) → d_out`.
#[derive(Debug, Clone, PartialEq)]
pub struct SimbaConfig {
    pub d_in: usize,
    pub width: usize,
    pub blocks: usize,
    pub d_out: usize,
}

/// `x + outer(relu(inner(LayerNorm(x))))`.
#[derive(Module, Debug)]
pub struct ResidualBlock<B: Backend> {
    pub norm: LayerNorm<B>,
    pub inner: MaskedLinear<B>,
    pub outer: MaskedLinear<B>,
}

/// Embedding, residual blocks, final LayerNorm, output layer.
#[derive(Module, Debug)]
pub struct Simba<B: Backend> {
    pub embed: MaskedLinear<B>,
    pub blocks: Vec<ResidualBlock<B>>,
    pub norm: LayerNorm<B>,
    pub head: MaskedLinear<B>,
    /// False for a module under the `dense` policy: its all-ones masks are skipped in the forward pass.
    masked: bool,
}

impl SimbaConfig {
    pub fn init<B: Backend>(&self, device: &B::Device) -> Simba<B> {
        let orthogonal = Initializer::Orthogonal { gain: 1.0 };
        // He-normal: std √(2 / fan_in).
        let he = Initializer::KaimingNormal {
            gain: 2f64.sqrt(),
            fan_out_only: false,
        };
        let (w, inner) = (self.width, EXPANSION * self.width);
        Simba {
            embed: linear(self.d_in, w, &orthogonal, device),
            blocks: (0..self.blocks)
                .map(|_| ResidualBlock {
                    norm: LayerNormConfig::new(w).init(device),
                    inner: linear(w, inner, &he, device),
                    outer: linear(inner, w, &he, device),
                })
                .collect(),
            norm: LayerNormConfig::new(w).init(device),
            head: linear(w, self.d_out, &orthogonal, device),
            masked: true,
        }
    }
}

/// A dense-masked layer with its weight drawn by `init` and a zero bias.
fn linear<B: Backend>(d_in: usize, d_out: usize, init: &Initializer, device: &B::Device) -> MaskedLinear<B> {
    let mut layer = MaskedLinearConfig::new(d_in, d_out).init::<B>(device);
    layer.weight = init.init_with([d_in, d_out], Some(d_in), Some(d_out), device);
    layer.bias = Some(Param::from_tensor(Tensor::zeros([d_out], device)));
    layer
}

impl<B: Backend> Simba<B> {
    /// The forward pass of a batch `[n, d_in]`; `dense_grad` routes the dense weight gradient to every
    /// weight of the masked layers (topology-update steps).
    pub fn forward(&self, x: Tensor<B, 2>, dense_grad: bool) -> Tensor<B, 2> {
        let layer = |l: &MaskedLinear<B>, x| masked_forward(l, x, self.masked, dense_grad);
        let mut x = layer(&self.embed, x);
        for block in &self.blocks {
            let h = block.norm.forward(x.clone());
            // Inner layer feeding the outer one: bias and ReLU fused, feature-major on the sparse path.
            let h = if self.masked && !dense_grad {
                block.inner.forward_hidden(h)
            } else {
                relu(layer(&block.inner, h))
            };
            x = x + layer(&block.outer, h);
        }
        layer(&self.head, self.norm.forward(x))
    }

    /// The τ-dormant neurons on the batch `x`: the blocks' inner ReLU units, the only neurons followed by
    /// an activation ([`crate::plasticity`]).
    pub fn dormant(&self, x: Tensor<B, 2>, tau: f64) -> DormantCount {
        let layer = |l: &MaskedLinear<B>, x| masked_forward(l, x, self.masked, false);
        let mut x = layer(&self.embed, x);
        let mut count = DormantCount::default();
        for block in &self.blocks {
            let h = relu(layer(&block.inner, block.norm.forward(x.clone())));
            count += DormantCount::of_layer(&crate::tensors::to_vec(h.clone()), block.inner.d_out(), tau);
            x = x + layer(&block.outer, h);
        }
        count
    }

    /// Whether the forward pass applies the masks; `false` only for modules whose policy keeps them dense.
    pub fn set_masked(&mut self, masked: bool) {
        self.masked = masked;
    }

    pub fn set_execution(&mut self, execution: Execution) {
        self.linear_layers_mut()
            .into_iter()
            .for_each(|l| l.set_execution(execution));
    }

    /// Every linear layer in forward order: embedding, each block's inner and outer, output.
    fn linear_layers(&self) -> Vec<&MaskedLinear<B>> {
        let blocks = self.blocks.iter().flat_map(|b| [&b.inner, &b.outer]);
        std::iter::once(&self.embed)
            .chain(blocks)
            .chain([&self.head])
            .collect()
    }

    fn linear_layers_mut(&mut self) -> Vec<&mut MaskedLinear<B>> {
        let blocks = self.blocks.iter_mut().flat_map(|b| [&mut b.inner, &mut b.outer]);
        std::iter::once(&mut self.embed)
            .chain(blocks)
            .chain([&mut self.head])
            .collect()
    }

    /// The masked layers, in forward order, for the module's sparsity controller.
    pub fn sparse_layers_mut(&mut self) -> Vec<&mut dyn SparseLayer<B>> {
        self.linear_layers_mut()
            .into_iter()
            .map(|l| l as &mut dyn SparseLayer<B>)
            .collect()
    }

    pub fn sparse_layers(&self) -> Vec<&dyn SparseLayer<B>> {
        self.linear_layers()
            .into_iter()
            .map(|l| l as &dyn SparseLayer<B>)
            .collect()
    }

    /// Ids of the masks (not parameters of the model, for counts and target updates).
    pub fn mask_ids(&self) -> HashSet<ParamId> {
        self.linear_layers().into_iter().map(|l| l.mask.id).collect()
    }

    /// (parameters, non-zero parameters), masks not counted.
    pub fn param_counts(&self) -> (usize, usize) {
        super::param_counts(self, &self.mask_ids())
    }
}

#[cfg(test)]
mod tests {
    use burn::backend::{Autodiff, Flex};
    use burn::module::AutodiffModule;
    use burn::tensor::TensorData;

    use super::*;
    use crate::tensors::to_vec;

    type B = Autodiff<Flex>;

    /// A row-major host copy of a layer: weight `[d_in][d_out]` times its mask, bias.
    fn host(l: &MaskedLinear<B>) -> (Vec<Vec<f32>>, Vec<f32>) {
        let (d_in, d_out) = (l.d_in(), l.d_out());
        let w = to_vec(l.weight.val().inner());
        let m = to_vec(l.mask.val().inner());
        let rows = (0..d_in)
            .map(|i| (0..d_out).map(|j| w[i * d_out + j] * m[i * d_out + j]).collect())
            .collect();
        (rows, to_vec(l.bias.as_ref().unwrap().val().inner()))
    }

    fn apply(l: &MaskedLinear<B>, x: &[f32]) -> Vec<f32> {
        let (w, b) = host(l);
        let mut y = b;
        for (xi, row) in x.iter().zip(&w) {
            for (yj, wij) in y.iter_mut().zip(row) {
                *yj += xi * wij;
            }
        }
        y
    }

    /// LayerNorm with burn's defaults (ε = 1e-5, biased variance), at its initial γ = 1, β = 0.
    fn layer_norm(x: &[f32]) -> Vec<f32> {
        let n = x.len() as f32;
        let mean = x.iter().sum::<f32>() / n;
        let var = x.iter().map(|v| (v - mean).powi(2)).sum::<f32>() / n;
        x.iter().map(|v| (v - mean) / (var + 1e-5).sqrt()).collect()
    }

    /// One row through the network, computed on the host from the definition.
    fn reference(net: &Simba<B>, x: &[f32]) -> Vec<f32> {
        let mut x = apply(&net.embed, x);
        for block in &net.blocks {
            let h: Vec<f32> = apply(&block.inner, &layer_norm(&x))
                .into_iter()
                .map(|v| v.max(0.0))
                .collect();
            x = x
                .iter()
                .zip(apply(&block.outer, &h))
                .map(|(a, b)| a + b)
                .collect();
        }
        apply(&net.head, &layer_norm(&x))
    }

    fn random_masks(net: &mut Simba<B>) {
        let device = Default::default();
        for (k, layer) in net.linear_layers_mut().into_iter().enumerate() {
            let (d_in, d_out) = (layer.d_in(), layer.d_out());
            let mask: Vec<f32> = (0..d_in * d_out)
                .map(|i| f32::from((i * 7 + k) % 3 != 0))
                .collect();
            layer.mask = Param::from_tensor(Tensor::from_data(TensorData::new(mask, [d_in, d_out]), &device))
                .set_require_grad(false);
        }
    }

    #[test]
    fn the_forward_pass_is_embedding_residual_blocks_layer_norm_and_head() {
        let config = SimbaConfig {
            d_in: 5,
            width: 6,
            blocks: 2,
            d_out: 3,
        };
        let mut net = config.init::<B>(&Default::default());
        random_masks(&mut net);
        let rows = [[0.3f32, -1.2, 2.0, 0.0, 0.7], [1.5, 0.2, -0.4, -2.2, 0.9]];
        let x = Tensor::<B, 2>::from_data(TensorData::new(rows.concat(), [2, 5]), &Default::default());
        for dense_grad in [false, true] {
            let y = to_vec(net.forward(x.clone(), dense_grad).inner());
            for (r, row) in rows.iter().enumerate() {
                let want = reference(&net, row);
                for (got, want) in y[r * 3..r * 3 + 3].iter().zip(&want) {
                    assert!((got - want).abs() < 1e-4, "row {r}: {got} vs {want}");
                }
            }
        }
    }

    #[test]
    fn every_linear_layer_is_a_sparse_layer_and_biases_start_at_zero() {
        let net = SimbaConfig {
            d_in: 4,
            width: 8,
            blocks: 3,
            d_out: 2,
        }
        .init::<B>(&Default::default());
        let shapes: Vec<[usize; 2]> = net
            .linear_layers()
            .iter()
            .map(|l| [l.d_in(), l.d_out()])
            .collect();
        let mut want = vec![[4, 8]];
        want.extend([[8, 32], [32, 8]].repeat(3));
        want.push([8, 2]);
        assert_eq!(shapes, want);
        assert_eq!(net.sparse_layers().len(), 8);
        assert_eq!(net.mask_ids().len(), 8);
        for l in net.linear_layers() {
            assert!(to_vec(l.bias.as_ref().unwrap().val().inner())
                .iter()
                .all(|&b| b == 0.0));
        }
        // Weights and biases of 8 layers plus γ and β of 4 LayerNorms; masks not counted.
        let weights: usize = want.iter().map(|[a, b]| a * b + b).sum();
        assert_eq!(net.param_counts().0, weights + 4 * 2 * 8);
        // The orthogonal embedding: its 4 rows of length 8 are orthonormal.
        let w = to_vec(net.valid().embed.weight.val());
        for i in 0..4 {
            for j in 0..4 {
                let dot: f32 = (0..8).map(|k| w[i * 8 + k] * w[j * 8 + k]).sum();
                let want = if i == j { 1.0 } else { 0.0 };
                assert!((dot - want).abs() < 1e-4, "rows {i}, {j}: {dot}");
            }
        }
    }
}
