//! The sparse layer as one burn operation: a forward on the flex backend's host storage and a custom
//! backward registered with burn-autodiff (the `Backward` trait with `prepare(..).compute_bound()
//! .stateful()`, the pattern of burn-autodiff's own `float_matmul`), so the layers keep burn's tensor API
//! and the agents need no change.
//!
//! Layers are generic over the backend; the sparse path needs the concrete flex tensors. Rather than a
//! backend-extension trait (a new bound on every agent, network and test), [`sparse_linear`] checks for
//! `Flex` and `Autodiff<Flex>` at run time ([`crate::flex`]); other backends keep the masked-dense product.
//!
//! A feature-major output ([`Fuse::feature_major`]) is a burn tensor of the logical shape `[rows, d_out]`
//! whose strides are `[1, stride]`: a transposed view, valid for every burn op, that the next sparse layer
//! reads without a transpose (see [`super::product`]).

use std::sync::{Arc, Once};

use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::NoCheckpointing;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
use burn::backend::autodiff::NodeId;
use burn::backend::flex::{FlexTensor, Layout};
use burn::backend::{Autodiff, Flex};
use burn::tensor::backend::Backend;
use burn::tensor::ops::FloatTensor;
use burn::tensor::{Shape, Tensor, TensorData, TensorPrimitive};

use super::kernel::TILE;
use super::product::{self, Epilogue, Host, Wanted};
use super::{CsrLayout, Execution, LayoutCache};
use crate::flex::{cast, host, same, values};

/// What the sparse layer call fuses after the product.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Fuse {
    /// ReLU after the bias.
    pub relu: bool,
    /// Hand the output on feature-major (2-D inputs only), for a next layer that is sparse too.
    pub feature_major: bool,
}

/// `act(x · (W ⊙ M) + b)` for `x [..., d_in]` with the sparse kernels, or `None` when `mode` (or the
/// backend) keeps the masked-dense product.
pub(crate) fn sparse_linear<B: Backend, const D: usize>(
    x: &Tensor<B, D>,
    [weight, mask]: [Tensor<B, 2>; 2],
    bias: Option<Tensor<B, 1>>,
    fuse: Fuse,
    mode: Execution,
    cache: &LayoutCache,
) -> Option<Tensor<B, D>> {
    if mode == Execution::MaskedDense {
        return None;
    }
    let dims = x.dims();
    let [d_in, d_out] = weight.dims();
    let rows = dims[..D - 1].iter().product();
    // A 2-D input is passed as it is: reshaping a feature-major view would copy it row-major.
    let x2: Tensor<B, 2> = if D == 2 {
        cast(x.clone())
    } else {
        x.clone().reshape([rows, d_in])
    };
    let fuse = Fuse {
        feature_major: fuse.feature_major && D == 2,
        ..fuse
    };
    let y = if same::<B, Autodiff<Flex>>() {
        let [x2, weight, mask] = [x2, weight, mask].map(cast::<_, Tensor<Autodiff<Flex>, 2>>);
        let layout = cache.layout(primitive(mask).primitive, d_in, d_out);
        if !mode.runs_sparse(layout.density(), rows) {
            return None;
        }
        let bias = bias.map(|b| cast::<_, Tensor<Autodiff<Flex>, 1>>(b).into_primitive().tensor());
        let y = tracked(primitive(x2), primitive(weight), bias, layout, fuse);
        cast::<_, Tensor<B, 2>>(Tensor::<Autodiff<Flex>, 2>::from_primitive(
            TensorPrimitive::Float(y),
        ))
    } else if same::<B, Flex>() {
        let [x2, weight, mask] = [x2, weight, mask].map(cast::<_, Tensor<Flex, 2>>);
        let layout = cache.layout(primitive(mask), d_in, d_out);
        if !mode.runs_sparse(layout.density(), rows) {
            return None;
        }
        let bias = bias.map(|b| cast::<_, Tensor<Flex, 1>>(b).into_primitive().tensor());
        let weight = host(primitive(weight));
        let (y, _) = layer_forward(primitive(x2), &weight, bias.as_ref(), &layout, fuse);
        cast::<_, Tensor<B, 2>>(Tensor::<Flex, 2>::from_primitive(TensorPrimitive::Float(
            y.tensor,
        )))
    } else {
        static NOTICE: Once = Once::new();
        NOTICE.call_once(|| eprintln!("note: sparse execution needs the flex backend; using masked-dense"));
        return None;
    };
    if D == 2 {
        return Some(cast(y));
    }
    let mut out = dims;
    out[D - 1] = d_out;
    Some(y.reshape(out))
}

fn primitive<B: Backend>(t: Tensor<B, 2>) -> FloatTensor<B> {
    t.into_primitive().tensor()
}

/// The lane stride of a feature-major `[rows, width]` tensor (strides `[1, s]`: this module's outputs, or
/// any transposed view), if `t` is one the kernels can read in place: every feature's lanes up to `rows`
/// rounded up to a whole tile lie inside the storage, and those past `rows` are zero (checked, so a view
/// into a larger buffer cannot leak its neighbours into a gradient).
fn feature_major_stride(t: &FlexTensor, rows: usize, width: usize) -> Option<usize> {
    let l = t.layout();
    let [1, s] = *l.strides() else { return None };
    let (s, padded) = (s.max(0) as usize, rows.div_ceil(TILE) * TILE);
    let data = t.storage::<f32>();
    let fits = l.start_offset() == 0 && s > 1 && s >= padded && data.len() >= (width - 1) * s + padded;
    let zero_padding =
        || padded == rows || (0..width).all(|c| data[c * s + rows..c * s + padded].iter().all(|&v| v == 0.0));
    (fits && zero_padding()).then_some(s)
}

/// A `[rows, width]` flex tensor in a layout the kernels read, with its lane stride when feature-major:
/// the layout is found once per tensor, not at every use.
#[derive(Debug, Clone)]
struct HostTensor {
    tensor: FlexTensor,
    stride: Option<usize>,
}

impl HostTensor {
    /// `t` kept when feature-major, else made contiguous row-major.
    fn new(t: FlexTensor, rows: usize, width: usize) -> Self {
        match feature_major_stride(&t, rows, width) {
            Some(stride) => Self {
                tensor: t,
                stride: Some(stride),
            },
            None => Self {
                tensor: host(t),
                stride: None,
            },
        }
    }

    /// A product's result as a `[rows, width]` tensor.
    fn from_result(r: product::Result, rows: usize, width: usize) -> Self {
        let tensor = match r.stride {
            None => FlexTensor::from_data(TensorData::new(r.values, [rows, width])),
            Some(stride) => {
                let layout = Layout::new(Shape::new([rows, width]), vec![1, stride as isize], 0);
                FlexTensor::from_data(TensorData::new(r.values, [width * stride])).with_layout(layout)
            }
        };
        Self {
            tensor,
            stride: r.stride,
        }
    }

    fn view(&self) -> Host<'_> {
        match self.stride {
            Some(stride) => Host::FeatureMajor {
                data: self.tensor.storage::<f32>(),
                stride,
            },
            None => Host::RowMajor(values(&self.tensor)),
        }
    }
}

/// The forward on the host: returns `y [rows, d_out]` and the input in its kernel layout.
fn layer_forward(
    x: FlexTensor,
    weight: &FlexTensor,
    bias: Option<&FlexTensor>,
    layout: &CsrLayout,
    fuse: Fuse,
) -> (HostTensor, HostTensor) {
    let rows = x.layout().shape()[0];
    let x = HostTensor::new(x, rows, layout.d_in);
    let bias = bias.map(|b| host(b.clone()));
    let w_out = layout.by_out.gather(values(weight));
    let epilogue = Epilogue {
        bias: bias.as_ref().map(values),
        relu: fuse.relu,
    };
    let y = product::forward(
        &layout.by_out,
        &w_out,
        x.view(),
        rows,
        layout.d_in,
        epilogue,
        fuse.feature_major,
    );
    (HostTensor::from_result(y, rows, layout.d_out), x)
}

/// What the backward needs from the forward.
#[derive(Debug)]
struct Saved {
    layout: Arc<CsrLayout>,
    /// The input `[rows, d_in]` in its kernel layout (shares the forward's storage).
    x: HostTensor,
    /// The output, when the forward applied ReLU (its positive entries pass the gradient).
    relu_output: Option<HostTensor>,
    /// The weights of the active connections, grouped by input.
    w_in: Vec<f32>,
}

/// The sparse layer as a node of burn's autodiff graph with parents `x`, `W` and, when present, `b`.
fn tracked(
    x: FloatTensor<Autodiff<Flex>>,
    weight: FloatTensor<Autodiff<Flex>>,
    bias: Option<FloatTensor<Autodiff<Flex>>>,
    layout: Arc<CsrLayout>,
    fuse: Fuse,
) -> FloatTensor<Autodiff<Flex>> {
    let w_host = host(weight.primitive);
    let (y, x_host) = layer_forward(
        x.primitive.clone(),
        &w_host,
        bias.as_ref().map(|b| &b.primitive),
        &layout,
        fuse,
    );
    let saved = || Saved {
        w_in: layout.by_in.gather(values(&w_host)),
        relu_output: fuse.relu.then(|| y.clone()),
        x: x_host,
        layout: layout.clone(),
    };
    // Two arities (with and without a bias parent); burn's node type cannot be named outside its crate.
    macro_rules! record {
        ($nodes:expr) => {
            match SparseLinear
                .prepare::<NoCheckpointing>($nodes)
                .compute_bound()
                .stateful()
            {
                OpsKind::Tracked(prep) => prep.finish(Arc::new(saved()), y.tensor),
                OpsKind::UnTracked(prep) => prep.finish(y.tensor),
            }
        };
    }
    match bias {
        Some(b) => record!([x.node, weight.node, b.node]),
        None => record!([x.node, weight.node]),
    }
}

/// The backward of `y = act(x · (W ⊙ M) + b)`: `dx` (in the input's layout), `dW` at the active
/// connections (zero elsewhere, the dense shape the optimizer steps) and `db`, each costing `nnz · rows`
/// products or less.
#[derive(Debug)]
struct SparseLinear;

impl<const N: usize> Backward<Flex, N> for SparseLinear {
    type State = Arc<Saved>;

    fn backward(self, ops: Ops<Self::State, N>, grads: &mut Gradients, _: &mut Checkpointer) {
        let s = ops.state;
        let l = &s.layout;
        let rows = s.x.tensor.layout().shape()[0];
        let dy = HostTensor::new(grads.consume::<Flex>(&ops.node), rows, l.d_out);
        let node = |i: usize| ops.parents.get(i).and_then(|p| p.as_ref()).map(|n| n.id);
        let (x_id, w_id, b_id): (Option<NodeId>, _, _) = (node(0), node(1), node(2));
        let wanted = Wanted {
            dx: x_id.map(|_| s.x.stride.is_some()),
            dw: w_id.is_some(),
            db: b_id.is_some(),
        };
        let g = product::backward(
            &l.by_in,
            &s.w_in,
            s.x.view(),
            s.relu_output.as_ref().map(HostTensor::view),
            dy.view(),
            rows,
            [l.d_in, l.d_out],
            wanted,
        );
        if let (Some(id), Some(dx)) = (x_id, g.dx) {
            grads.register::<Flex>(id, HostTensor::from_result(dx, rows, l.d_in).tensor);
        }
        if let (Some(id), Some(dw)) = (w_id, g.dw) {
            grads.register::<Flex>(id, FlexTensor::from_data(TensorData::new(dw, [l.d_in, l.d_out])));
        }
        if let (Some(id), Some(db)) = (b_id, g.db) {
            grads.register::<Flex>(id, FlexTensor::from_data(TensorData::new(db, [l.d_out])));
        }
    }
}
