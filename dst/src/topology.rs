//! The backend-agnostic host view of one sparse layer and the trait every masked layer implements.
//!
//! Criteria, schedules and the controller work on [`LayerTopology`]: plain `Vec`s in the
//! [n_out × n_in] row-major orientation of docs/methods.md (row = output neuron / channel, column = input
//! neuron, or input channel × kh × kw for a convolution). Layers convert between that view and their burn
//! parameters through [`ParamLayout`], so no criterion ever depends on a backend.

use burn::module::{Param, ParamId};
use burn::optim::GradientsParams;
use burn::tensor::backend::{AutodiffBackend, Backend};
use burn::tensor::{Tensor, TensorData};

use crate::error::DstError;

/// The shape of one sparse weight matrix as the topology code sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct LayerShape {
    /// Output neurons (or output channels).
    pub rows: usize,
    /// Inputs per output: input neurons, or input channels × kh × kw.
    pub cols: usize,
    /// `[kh, kw]` for a convolution, `None` for a fully connected matrix (ERK adds kh + kw).
    pub kernel: Option<[usize; 2]>,
}

impl LayerShape {
    /// A fully connected [rows × cols] matrix.
    pub fn dense(rows: usize, cols: usize) -> Self {
        Self {
            rows,
            cols,
            kernel: None,
        }
    }

    /// Number of weights.
    pub fn len(&self) -> usize {
        self.rows * self.cols
    }

    /// Whether the matrix has no weight at all.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Input neurons or input channels (columns divided by the kernel area).
    pub fn fan_in_nodes(&self) -> usize {
        match self.kernel {
            Some([kh, kw]) => self.cols / (kh * kw).max(1),
            None => self.cols,
        }
    }
}

/// One sparse layer on the host: weights, mask and (at update steps) the dense gradient, all
/// [rows × cols] row-major.
#[derive(Debug, Clone, PartialEq)]
pub struct LayerTopology {
    /// A name for reports (e.g. `critic.fc1`).
    pub name: String,
    /// Shape of the matrix.
    pub shape: LayerShape,
    /// Weight values; inactive entries are exactly zero.
    pub weight: Vec<f32>,
    /// `true` = active connection.
    pub mask: Vec<bool>,
    /// Gradient of the loss w.r.t. the effective weight, when the step computed one: dense at topology
    /// updates that read it, the masked gradient at the other steps of a running pruning score
    /// (`score_beta > 0`, where only active entries count).
    pub grad: Option<Vec<f32>>,
}

impl LayerTopology {
    /// A fully dense layer with the given weights (mask all ones), mainly for tests and tools.
    pub fn from_dense(name: impl Into<String>, shape: LayerShape, weight: Vec<f32>) -> Self {
        let mask = vec![true; weight.len()];
        Self {
            name: name.into(),
            shape,
            weight,
            mask,
            grad: None,
        }
    }

    /// Output neurons.
    pub fn rows(&self) -> usize {
        self.shape.rows
    }

    /// Inputs per output neuron.
    pub fn cols(&self) -> usize {
        self.shape.cols
    }

    /// Number of active connections.
    pub fn active(&self) -> usize {
        self.mask.iter().filter(|&&m| m).count()
    }

    /// Active connections over all connections.
    pub fn density(&self) -> f64 {
        if self.mask.is_empty() {
            return 1.0;
        }
        self.active() as f64 / self.mask.len() as f64
    }

    /// Sets every inactive weight to exactly zero.
    pub fn zero_inactive(&mut self) {
        for (w, &m) in self.weight.iter_mut().zip(&self.mask) {
            if !m {
                *w = 0.0;
            }
        }
    }

    /// Checks that the vectors match the shape.
    pub fn check(&self) -> Result<(), DstError> {
        let n = self.shape.len();
        let grad_ok = self.grad.as_ref().is_none_or(|g| g.len() == n);
        if self.weight.len() != n || self.mask.len() != n || !grad_ok {
            return Err(DstError::new(format!(
                "layer `{}`: shape {}x{} needs {n} entries, got weight {}, mask {}, grad {:?}",
                self.name,
                self.shape.rows,
                self.shape.cols,
                self.weight.len(),
                self.mask.len(),
                self.grad.as_ref().map(Vec::len)
            )));
        }
        Ok(())
    }
}

/// How a layer's burn weight parameter is laid out relative to the host [rows × cols] view.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ParamLayout {
    /// burn's Linear layout: the parameter is [cols, rows] (= [d_in, d_out]), the transpose of the view.
    Transposed { rows: usize, cols: usize },
    /// The parameter's first dimension is the row, the rest flattened row-major is the column
    /// (a convolution's [out, in, kh, kw]).
    RowMajor { dims: Vec<usize> },
}

impl ParamLayout {
    /// The parameter's dimensions.
    pub fn dims(&self) -> Vec<usize> {
        match self {
            Self::Transposed { rows, cols } => vec![*cols, *rows],
            Self::RowMajor { dims } => dims.clone(),
        }
    }

    /// Reorders parameter-order values into the host view.
    pub fn to_host<T: Copy>(&self, values: &[T]) -> Vec<T> {
        match self {
            Self::Transposed { rows, cols } => transpose(values, *cols, *rows),
            Self::RowMajor { .. } => values.to_vec(),
        }
    }

    /// Reorders host-view values into parameter order.
    pub fn to_param<T: Copy>(&self, values: &[T]) -> Vec<T> {
        match self {
            Self::Transposed { rows, cols } => transpose(values, *rows, *cols),
            Self::RowMajor { .. } => values.to_vec(),
        }
    }

    /// Host-view values as tensor data in parameter order and shape.
    pub fn to_param_data(&self, values: &[f32]) -> TensorData {
        TensorData::new(self.to_param(values), self.dims())
    }
}

/// Transposes a row-major [r × c] matrix.
fn transpose<T: Copy>(values: &[T], r: usize, c: usize) -> Vec<T> {
    let mut out = Vec::with_capacity(values.len());
    for j in 0..c {
        out.extend((0..r).map(|i| values[i * c + j]));
    }
    out
}

/// Reads a float tensor into a host `Vec<f32>`.
pub fn tensor_to_vec<B: Backend, const D: usize>(tensor: Tensor<B, D>) -> Vec<f32> {
    tensor
        .into_data()
        .convert::<f32>()
        .into_vec::<f32>()
        .expect("float tensor data converted to f32 reads back as f32")
}

/// A masked layer that the DST controller can read and rewrite. Implemented by every masked layer type
/// (one implementation per weight matrix; a GRU cell exposes its two gate matrices as two layers).
///
/// The update step of a module, in order:
/// 1. loss with `forward_dense_grad`, `backward`, `GradientsParams::from_grads`;
/// 2. [`SparseGrad::take_dense_grad`] of each layer (before the optimizer step consumes the gradients;
///    it leaves the masked gradient for the optimizer);
/// 3. the optimizer step; 4. `topology(name, grad)` of each layer (weights after the step, as RigL);
/// 5. `SparsityController::observe_step` when it keeps a running score, then `SparsityController::update`;
/// 6. `set_topology`; 7. [`crate::optim::reset_moments`].
pub trait SparseLayer<B: Backend> {
    /// Shape of the host view.
    fn shape(&self) -> LayerShape;
    /// Id of the weight parameter (the key of its gradient and optimizer state).
    fn weight_id(&self) -> ParamId;
    /// Layout of the weight parameter relative to the host view.
    fn param_layout(&self) -> ParamLayout;
    /// Host copy of weights and mask, with the given host gradient attached.
    fn topology(&self, name: &str, grad: Option<Vec<f32>>) -> LayerTopology;
    /// Replaces weights and mask by the host view's (inactive weights are written as zero).
    fn set_topology(&mut self, topology: &LayerTopology) -> Result<(), DstError>;
}

/// Reading a layer's weight gradient from burn's gradients into the host view.
pub trait SparseGrad<B: AutodiffBackend>: SparseLayer<B> {
    /// The gradient of the weight in host order, if the backward pass produced one.
    fn host_grad(&self, grads: &GradientsParams) -> Option<Vec<f32>> {
        let layout = self.param_layout();
        let id = self.weight_id();
        let values = match layout.dims().len() {
            1 => grads.get::<B::InnerBackend, 1>(id).map(tensor_to_vec),
            2 => grads.get::<B::InnerBackend, 2>(id).map(tensor_to_vec),
            3 => grads.get::<B::InnerBackend, 3>(id).map(tensor_to_vec),
            4 => grads.get::<B::InnerBackend, 4>(id).map(tensor_to_vec),
            _ => None,
        }?;
        Some(layout.to_host(&values))
    }

    /// The dense gradient of the weight in host order (as [`SparseGrad::host_grad`]), leaving in `grads`
    /// only the gradient of the active entries. After a `forward_dense_grad` pass the gradient burn hands
    /// on is dense: the growth criterion reads it here, while the optimizer (and any gradient clipping
    /// before it) must see the masked one, or inactive weights and their moments would leave zero.
    fn take_dense_grad(&self, grads: &mut GradientsParams) -> Option<Vec<f32>> {
        let layout = self.param_layout();
        let keep = layout.to_param(&self.topology("", None).mask);
        let id = self.weight_id();
        let values = match layout.dims().len() {
            1 => mask_grad::<B, 1>(grads, id, &keep),
            2 => mask_grad::<B, 2>(grads, id, &keep),
            3 => mask_grad::<B, 3>(grads, id, &keep),
            4 => mask_grad::<B, 4>(grads, id, &keep),
            _ => None,
        }?;
        Some(layout.to_host(&values))
    }
}

impl<B: AutodiffBackend, L: SparseLayer<B> + ?Sized> SparseGrad<B> for L {}

/// Replaces the gradient of parameter `id` by its entries where `keep` (parameter order) and returns the
/// values it had.
fn mask_grad<B: AutodiffBackend, const D: usize>(
    grads: &mut GradientsParams,
    id: ParamId,
    keep: &[bool],
) -> Option<Vec<f32>> {
    let grad = grads.remove::<B::InnerBackend, D>(id)?;
    let (device, shape) = (grad.device(), grad.shape());
    let values = tensor_to_vec(grad);
    let masked: Vec<f32> = values
        .iter()
        .zip(keep)
        .map(|(&g, &k)| if k { g } else { 0.0 })
        .collect();
    let masked = Tensor::<B::InnerBackend, D>::from_data(TensorData::new(masked, shape), &device);
    grads.register(id, masked);
    Some(values)
}

/// Builds the host view from a weight and mask parameter pair (shared by the layer types).
pub(crate) fn read_topology<B: Backend, const D: usize>(
    weight: &Param<Tensor<B, D>>,
    mask: &Param<Tensor<B, D>>,
    layout: &ParamLayout,
    shape: LayerShape,
    name: &str,
    grad: Option<Vec<f32>>,
) -> LayerTopology {
    let weight = layout.to_host(&tensor_to_vec(weight.val()));
    let mask = layout
        .to_host(&tensor_to_vec(mask.val()))
        .into_iter()
        .map(|m| m > 0.5)
        .collect();
    LayerTopology {
        name: name.to_string(),
        shape,
        weight,
        mask,
        grad,
    }
}

/// Writes a host view into a weight and mask parameter pair, keeping the parameter ids.
pub(crate) fn write_topology<B: Backend, const D: usize>(
    weight: &mut Param<Tensor<B, D>>,
    mask: &mut Param<Tensor<B, D>>,
    layout: &ParamLayout,
    shape: LayerShape,
    topology: &LayerTopology,
) -> Result<(), DstError> {
    topology.check()?;
    if topology.shape.rows != shape.rows || topology.shape.cols != shape.cols {
        return Err(DstError::new(format!(
            "layer `{}`: topology is {}x{} but the layer is {}x{}",
            topology.name, topology.shape.rows, topology.shape.cols, shape.rows, shape.cols
        )));
    }
    let device = weight.val().device();
    let values: Vec<f32> = topology
        .weight
        .iter()
        .zip(&topology.mask)
        .map(|(&w, &m)| if m { w } else { 0.0 })
        .collect();
    let ones: Vec<f32> = topology.mask.iter().map(|&m| if m { 1.0 } else { 0.0 }).collect();
    let w = Tensor::<B, D>::from_data(layout.to_param_data(&values), &device);
    let m = Tensor::<B, D>::from_data(layout.to_param_data(&ones), &device);
    *weight = Param::initialized(weight.id, w.require_grad());
    *mask = Param::initialized(mask.id, m.set_require_grad(false));
    Ok(())
}
