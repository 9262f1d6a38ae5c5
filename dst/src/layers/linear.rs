//! The masked fully connected layer `y = x · (W ⊙ M) + b`.

use burn::config::Config;
use burn::module::{Initializer, Module, Param, ParamId};
use burn::tensor::activation::relu;
use burn::tensor::backend::Backend;
use burn::tensor::module::linear;
use burn::tensor::Tensor;

use super::{masked, straight_through};
use crate::error::DstError;
use crate::execution::{sparse_linear, Execution, Fuse, LayoutCache};
use crate::topology::{read_topology, write_topology, LayerShape, LayerTopology, ParamLayout, SparseLayer};

/// Configuration of a [`MaskedLinear`] layer.
#[derive(Config, Debug)]
pub struct MaskedLinearConfig {
    /// Input features.
    pub d_in: usize,
    /// Output features.
    pub d_out: usize,
    /// Whether the layer has a (dense) bias.
    #[config(default = true)]
    pub bias: bool,
}

/// A linear layer whose weight is multiplied by a binary mask. Weight in burn's [d_in, d_out] layout.
#[derive(Module, Debug)]
pub struct MaskedLinear<B: Backend> {
    /// Weight, [d_in, d_out]; inactive entries are kept at exactly zero.
    pub weight: Param<Tensor<B, 2>>,
    /// Dense bias, [d_out].
    pub bias: Option<Param<Tensor<B, 1>>>,
    /// Binary mask, [d_in, d_out]; not trainable, saved in the record.
    pub mask: Param<Tensor<B, 2>>,
    /// How the forward pass multiplies by the weight; set from the module's policy.
    #[module(skip)]
    pub execution: Execution,
    /// The sparse layout of the mask, for the sparse execution.
    #[module(skip)]
    pub layout: LayoutCache,
}

impl MaskedLinearConfig {
    /// A dense-masked layer with PyTorch's default initialisation (Kaiming-uniform with a = √5, i.e.
    /// U(−1/√d_in, 1/√d_in) for weight and bias), as burn's `Linear`.
    pub fn init<B: Backend>(&self, device: &B::Device) -> MaskedLinear<B> {
        self.init_with(&torch_default_init(), device)
    }

    /// A dense-masked layer with weight and bias drawn by `init`.
    pub fn init_with<B: Backend>(&self, init: &Initializer, device: &B::Device) -> MaskedLinear<B> {
        let (d_in, d_out) = (self.d_in, self.d_out);
        let weight = init.init_with([d_in, d_out], Some(d_in), Some(d_out), device);
        let bias = self
            .bias
            .then(|| init.init_with([d_out], Some(d_in), Some(d_out), device));
        let mask = Initializer::Ones
            .init_with([d_in, d_out], None, None, device)
            .set_require_grad(false);
        MaskedLinear {
            weight,
            bias,
            mask,
            execution: Execution::default(),
            layout: LayoutCache::default(),
        }
    }
}

/// PyTorch's default layer initialisation: Kaiming-uniform with gain 1/√3, bound 1/√fan_in.
pub(crate) fn torch_default_init() -> Initializer {
    Initializer::KaimingUniform {
        gain: 1.0 / 3f64.sqrt(),
        fan_out_only: false,
    }
}

impl<B: Backend> MaskedLinear<B> {
    /// `x · (W ⊙ M) + b` for input `[..., d_in]`, with the sparse kernels when the layer's [`Execution`]
    /// (and the backend) selects them, else with the masked-dense product.
    pub fn forward<const D: usize>(&self, x: Tensor<B, D>) -> Tensor<B, D> {
        self.sparse(&x, Fuse::default())
            .unwrap_or_else(|| self.masked_dense(x))
    }

    /// `relu(x · (W ⊙ M) + b)`, for a hidden layer of an MLP whose next layer is masked too. On the
    /// sparse path the bias and ReLU are applied in the kernel and the output is handed on feature-major (a
    /// transposed view that the next sparse layer reads in place; any burn op still accepts it).
    pub fn forward_hidden(&self, x: Tensor<B, 2>) -> Tensor<B, 2> {
        let fuse = Fuse {
            relu: true,
            feature_major: true,
        };
        self.sparse(&x, fuse)
            .unwrap_or_else(|| relu(self.masked_dense(x)))
    }

    /// The sparse path, when the layer's [`Execution`] (and the backend) selects it.
    fn sparse<const D: usize>(&self, x: &Tensor<B, D>, fuse: Fuse) -> Option<Tensor<B, D>> {
        let bias = self.bias.as_ref().map(Param::val);
        let weights = [self.weight.val(), self.mask.val()];
        sparse_linear(x, weights, bias, fuse, self.execution, &self.layout)
    }

    fn masked_dense<const D: usize>(&self, x: Tensor<B, D>) -> Tensor<B, D> {
        let (w, b) = self.effective(false);
        linear(x, w, b)
    }

    /// `x · W + b` without the mask product, for a layer whose mask is all ones and stays so (a module under
    /// the `dense` policy): the same value as [`Self::forward`] without an elementwise product and its
    /// backward per call, so dense baselines pay nothing for the sparse machinery.
    pub fn forward_unmasked<const D: usize>(&self, x: Tensor<B, D>) -> Tensor<B, D> {
        linear(x, self.weight.val(), self.bias.as_ref().map(Param::val))
    }

    /// Same value as [`Self::forward`], but the gradient reaching `W` is the dense gradient (all entries),
    /// for the growth criteria at topology-update steps.
    pub fn forward_dense_grad<const D: usize>(&self, x: Tensor<B, D>) -> Tensor<B, D> {
        let (w, b) = self.effective(true);
        linear(x, w, b)
    }

    /// The effective weight `W ⊙ M` (with `dense_grad`, the straight-through weight of
    /// [`Self::forward_dense_grad`]) and the bias: what the masked-dense products multiply by, and what a
    /// caller applying the layer at every step of a sequence in one graph takes once, so the mask product
    /// is formed, and differentiated, once instead of per step.
    pub(crate) fn effective(&self, dense_grad: bool) -> (Tensor<B, 2>, Option<Tensor<B, 1>>) {
        let (w, m) = (self.weight.val(), self.mask.val());
        let w = if dense_grad {
            straight_through(w, m)
        } else {
            masked(w, m)
        };
        (w, self.bias.as_ref().map(Param::val))
    }

    /// Sets how [`Self::forward`] multiplies by the weight.
    pub fn set_execution(&mut self, execution: Execution) {
        self.execution = execution;
    }

    /// Input features.
    pub fn d_in(&self) -> usize {
        self.weight.shape().dims::<2>()[0]
    }

    /// Output features.
    pub fn d_out(&self) -> usize {
        self.weight.shape().dims::<2>()[1]
    }
}

impl<B: Backend> SparseLayer<B> for MaskedLinear<B> {
    fn shape(&self) -> LayerShape {
        LayerShape::dense(self.d_out(), self.d_in())
    }

    fn weight_id(&self) -> ParamId {
        self.weight.id
    }

    fn param_layout(&self) -> ParamLayout {
        ParamLayout::Transposed {
            rows: self.d_out(),
            cols: self.d_in(),
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
