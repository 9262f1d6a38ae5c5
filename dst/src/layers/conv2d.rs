//! The masked 2-D convolution (pixel encoders): `conv2d(x, W ⊙ M) + b`, weight [out, in, kh, kw]. The
//! host view's row is an output channel, its columns the in · kh · kw inputs of that channel; ERK adds
//! kh + kw (Evci et al. 2020).

use burn::config::Config;
use burn::module::{Initializer, Module, Param, ParamId};
use burn::tensor::backend::Backend;
use burn::tensor::module::conv2d;
use burn::tensor::ops::ConvOptions;
use burn::tensor::Tensor;

use super::linear::torch_default_init;
use super::{masked, straight_through};
use crate::error::DstError;
use crate::topology::{read_topology, write_topology, LayerShape, LayerTopology, ParamLayout, SparseLayer};

/// Configuration of a [`MaskedConv2d`].
#[derive(Config, Debug)]
pub struct MaskedConv2dConfig {
    /// `[in, out]` channels.
    pub channels: [usize; 2],
    /// `[kh, kw]`.
    pub kernel_size: [usize; 2],
    /// Stride.
    #[config(default = "[1, 1]")]
    pub stride: [usize; 2],
    /// Zero padding on each side.
    #[config(default = "[0, 0]")]
    pub padding: [usize; 2],
    /// Whether the layer has a (dense) bias.
    #[config(default = true)]
    pub bias: bool,
}

/// A 2-D convolution whose kernel is multiplied by a binary mask.
#[derive(Module, Debug)]
pub struct MaskedConv2d<B: Backend> {
    /// Kernel, [out, in, kh, kw]; inactive entries are kept at exactly zero.
    pub weight: Param<Tensor<B, 4>>,
    /// Dense bias, [out].
    pub bias: Option<Param<Tensor<B, 1>>>,
    /// Binary mask, [out, in, kh, kw]; not trainable, saved in the record.
    pub mask: Param<Tensor<B, 4>>,
    /// Stride.
    pub stride: [usize; 2],
    /// Padding.
    pub padding: [usize; 2],
}

impl MaskedConv2dConfig {
    /// A dense-masked convolution with PyTorch's default initialisation, U(−1/√fan_in, 1/√fan_in),
    /// fan_in = in · kh · kw.
    pub fn init<B: Backend>(&self, device: &B::Device) -> MaskedConv2d<B> {
        let [c_in, c_out] = self.channels;
        let [kh, kw] = self.kernel_size;
        let shape = [c_out, c_in, kh, kw];
        let (fan_in, fan_out) = (c_in * kh * kw, c_out * kh * kw);
        let init = torch_default_init();
        let weight = init.init_with(shape, Some(fan_in), Some(fan_out), device);
        let bias = self
            .bias
            .then(|| init.init_with([c_out], Some(fan_in), Some(fan_out), device));
        let mask = Initializer::Ones
            .init_with(shape, None, None, device)
            .set_require_grad(false);
        MaskedConv2d {
            weight,
            bias,
            mask,
            stride: self.stride,
            padding: self.padding,
        }
    }
}

impl<B: Backend> MaskedConv2d<B> {
    fn conv(&self, x: Tensor<B, 4>, weight: Tensor<B, 4>) -> Tensor<B, 4> {
        let options = ConvOptions::new(self.stride, self.padding, [1, 1], 1);
        conv2d(x, weight, self.bias.as_ref().map(Param::val), options)
    }

    /// Convolution with `W ⊙ M` of input [batch, in, h, w].
    pub fn forward(&self, x: Tensor<B, 4>) -> Tensor<B, 4> {
        self.conv(x, masked(self.weight.val(), self.mask.val()))
    }

    /// Same value, dense gradient to `W` (see [`super::MaskedLinear::forward_dense_grad`]).
    pub fn forward_dense_grad(&self, x: Tensor<B, 4>) -> Tensor<B, 4> {
        self.conv(x, straight_through(self.weight.val(), self.mask.val()))
    }

    fn dims(&self) -> [usize; 4] {
        self.weight.shape().dims::<4>()
    }
}

impl<B: Backend> SparseLayer<B> for MaskedConv2d<B> {
    fn shape(&self) -> LayerShape {
        let [o, i, kh, kw] = self.dims();
        LayerShape {
            rows: o,
            cols: i * kh * kw,
            kernel: Some([kh, kw]),
        }
    }

    fn weight_id(&self) -> ParamId {
        self.weight.id
    }

    fn param_layout(&self) -> ParamLayout {
        ParamLayout::RowMajor {
            dims: self.dims().to_vec(),
        }
    }

    fn topology(&self, name: &str, grad: Option<Vec<f32>>) -> LayerTopology {
        read_topology(
            &self.weight,
            &self.mask,
            &self.param_layout(),
            self.shape(),
            name,
            grad,
        )
    }

    fn set_topology(&mut self, topology: &LayerTopology) -> Result<(), DstError> {
        let layout = self.param_layout();
        let shape = self.shape();
        write_topology(&mut self.weight, &mut self.mask, &layout, shape, topology)
    }
}
