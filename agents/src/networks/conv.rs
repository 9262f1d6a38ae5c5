//! A small convolutional encoder of masked convolutions for pixel observations (stacked grayscale frames,
//! e.g. `CartPolePixels-v1`'s [4, 40, 60]), sized for the CPU: three convolutions and a linear layer.

use std::collections::HashSet;

use burn::module::{Module, ParamId};
use burn::tensor::activation::relu;
use burn::tensor::backend::Backend;
use burn::tensor::Tensor;
use sparse_rl_dst::layers::{MaskedConv2d, MaskedConv2dConfig, MaskedLinear, MaskedLinearConfig};
use sparse_rl_dst::SparseLayer;

use crate::plasticity::DormantCount;

/// Kernel, stride and output channels of each convolution.
const LAYERS: [(usize, usize, usize); 3] = [(5, 2, 16), (3, 2, 32), (3, 1, 32)];

/// Shape of the conv encoder: input `[c, h, w]` and the feature size of its final linear layer.
#[derive(Debug, Clone, PartialEq)]
pub struct ConvConfig {
    pub input: [usize; 3],
    pub features: usize,
}

impl ConvConfig {
    /// Output `[h, w]` of every convolution, in order.
    pub fn spatial(&self) -> Vec<[usize; 2]> {
        let [_, mut h, mut w] = self.input;
        LAYERS
            .iter()
            .map(|&(k, s, _)| {
                h = (h - k) / s + 1;
                w = (w - k) / s + 1;
                [h, w]
            })
            .collect()
    }

    /// Checks that the image is large enough for the three convolutions.
    pub fn check(&self) -> Result<(), String> {
        let [_, h, w] = self.input;
        let mut size = [h, w];
        for &(k, s, _) in &LAYERS {
            if size[0] < k || size[1] < k {
                return Err(format!(
                    "pixel observation {:?} is too small for the conv encoder",
                    self.input
                ));
            }
            size = [(size[0] - k) / s + 1, (size[1] - k) / s + 1];
        }
        Ok(())
    }

    pub fn init<B: Backend>(&self, device: &B::Device) -> ConvEncoder<B> {
        let mut c_in = self.input[0];
        let convs = LAYERS
            .iter()
            .map(|&(k, s, c_out)| {
                let conv = MaskedConv2dConfig::new([c_in, c_out], [k, k])
                    .with_stride([s, s])
                    .init(device);
                c_in = c_out;
                conv
            })
            .collect();
        let [h, w] = *self.spatial().last().expect("three convolutions");
        let fc = MaskedLinearConfig::new(c_in * h * w, self.features).init(device);
        ConvEncoder {
            convs,
            fc,
            input: self.input,
        }
    }
}

/// Masked convolutions with ReLU, flattened into a masked linear layer with ReLU.
#[derive(Module, Debug)]
pub struct ConvEncoder<B: Backend> {
    pub convs: Vec<MaskedConv2d<B>>,
    pub fc: MaskedLinear<B>,
    input: [usize; 3],
}

impl<B: Backend> ConvEncoder<B> {
    /// Flat pixels `[batch, c·h·w]` to features `[batch, features]`.
    pub fn forward(&self, obs: Tensor<B, 2>, dense_grad: bool) -> Tensor<B, 2> {
        let n = obs.dims()[0];
        let [c, h, w] = self.input;
        let mut x = obs.reshape([n, c, h, w]);
        for conv in &self.convs {
            x = relu(if dense_grad {
                conv.forward_dense_grad(x)
            } else {
                conv.forward(x)
            });
        }
        let x = x.flatten(1, 3);
        relu(if dense_grad {
            self.fc.forward_dense_grad(x)
        } else {
            self.fc.forward(x)
        })
    }

    /// The τ-dormant neurons ([`crate::plasticity`]) on the batch `obs`: each conv layer's channels
    /// (averaged over positions too) and the units of the final dense layer.
    pub fn dormant(&self, obs: Tensor<B, 2>, tau: f64) -> DormantCount {
        let n = obs.dims()[0];
        let [c, h, w] = self.input;
        let mut x = obs.reshape([n, c, h, w]);
        let mut count = DormantCount::default();
        for conv in &self.convs {
            x = relu(conv.forward(x));
            let [n, c, h, w] = x.dims();
            let per_channel = x.clone().swap_dims(1, 3).reshape([n * w * h, c]);
            count += DormantCount::of_layer(&crate::tensors::to_vec(per_channel), c, tau);
        }
        let y: Tensor<B, 2> = relu(self.fc.forward(x.flatten(1, 3)));
        count += DormantCount::of_layer(&crate::tensors::to_vec(y), self.fc.d_out(), tau);
        count
    }

    pub fn d_out(&self) -> usize {
        self.fc.d_out()
    }

    /// The `[c, h, w]` input shape.
    pub fn input_shape(&self) -> [usize; 3] {
        self.input
    }

    pub fn sparse_layers(&self) -> Vec<&dyn SparseLayer<B>> {
        let mut l: Vec<&dyn SparseLayer<B>> = self.convs.iter().map(|c| c as &dyn SparseLayer<B>).collect();
        l.push(&self.fc);
        l
    }

    pub fn sparse_layers_mut(&mut self) -> Vec<&mut dyn SparseLayer<B>> {
        let mut l: Vec<&mut dyn SparseLayer<B>> = self
            .convs
            .iter_mut()
            .map(|c| c as &mut dyn SparseLayer<B>)
            .collect();
        l.push(&mut self.fc);
        l
    }

    /// Ids of the masks.
    pub fn mask_ids(&self) -> HashSet<ParamId> {
        self.convs
            .iter()
            .map(|c| c.mask.id)
            .chain([self.fc.mask.id])
            .collect()
    }
}
