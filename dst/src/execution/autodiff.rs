//! The sparse product as one burn operation: a forward on the flex backend's host storage and a custom
//! backward registered with burn-autodiff (the `Backward` trait with `prepare(..).compute_bound()
//! .stateful()`, the pattern of burn-autodiff's own `float_matmul`), so the layers keep burn's tensor API
//! and the agents need no change.
//!
//! Layers are generic over the backend; the sparse path needs the concrete flex tensors. Rather than a
//! backend-extension trait (a new bound on every agent, network and test), [`sparse_linear`] checks for
//! `Flex` and `Autodiff<Flex>` at run time ([`crate::flex`]); other backends keep the masked-dense product.

use std::sync::{Arc, Once};

use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::{CheckpointStrategy, NoCheckpointing};
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
use burn::backend::flex::FlexTensor;
use burn::backend::{Autodiff, Flex};
use burn::tensor::backend::Backend;
use burn::tensor::ops::FloatTensor;
use burn::tensor::{Tensor, TensorData, TensorPrimitive};

use super::kernel::{backward, spmm};
use super::{CsrLayout, Execution, LayoutCache};
use crate::flex::{cast, same};

/// `x · (W ⊙ M)` for `x [..., d_in]` with the sparse kernels, or `None` when `mode` (or the backend) keeps
/// the masked-dense product. The bias is the caller's.
pub(crate) fn sparse_linear<B: Backend, const D: usize>(
    x: &Tensor<B, D>,
    weight: Tensor<B, 2>,
    mask: Tensor<B, 2>,
    mode: Execution,
    cache: &LayoutCache,
) -> Option<Tensor<B, D>> {
    if mode == Execution::MaskedDense {
        return None;
    }
    let dims = x.dims();
    let [d_in, d_out] = weight.dims();
    let rows = dims[..D - 1].iter().product();
    let x2 = x.clone().reshape([rows, d_in]);
    let y = if same::<B, Autodiff<Flex>>() {
        let [x2, weight, mask] = [x2, weight, mask].map(cast::<_, Tensor<Autodiff<Flex>, 2>>);
        let layout = cache.layout(primitive(mask).primitive, d_in, d_out);
        if !mode.runs_sparse(layout.density(), rows) {
            return None;
        }
        let y = tracked_product::<NoCheckpointing>(primitive(x2), primitive(weight), layout);
        cast::<_, Tensor<B, 2>>(Tensor::<Autodiff<Flex>, 2>::from_primitive(
            TensorPrimitive::Float(y),
        ))
    } else if same::<B, Flex>() {
        let [x2, weight, mask] = [x2, weight, mask].map(cast::<_, Tensor<Flex, 2>>);
        let layout = cache.layout(primitive(mask), d_in, d_out);
        if !mode.runs_sparse(layout.density(), rows) {
            return None;
        }
        let (y, _) = product(primitive(x2), primitive(weight), &layout);
        cast::<_, Tensor<B, 2>>(Tensor::<Flex, 2>::from_primitive(TensorPrimitive::Float(y)))
    } else {
        static NOTICE: Once = Once::new();
        NOTICE.call_once(|| eprintln!("note: sparse execution needs the flex backend; using masked-dense"));
        return None;
    };
    let mut out = dims;
    out[D - 1] = d_out;
    Some(y.reshape(out))
}

fn primitive<B: Backend>(t: Tensor<B, 2>) -> FloatTensor<B> {
    t.into_primitive().tensor()
}

/// `t` with contiguous storage (free when it already is).
pub(super) fn host(t: FlexTensor) -> FlexTensor {
    if t.is_contiguous() {
        t
    } else {
        t.to_contiguous()
    }
}

/// The f32 values of a contiguous flex tensor.
pub(super) fn values(t: &FlexTensor) -> &[f32] {
    t.as_slice::<f32>().expect("contiguous f32 tensor")
}

fn tensor(values: Vec<f32>, shape: [usize; 2]) -> FlexTensor {
    FlexTensor::from_data(TensorData::new(values, shape))
}

/// What the backward needs from the forward.
#[derive(Debug)]
struct Saved {
    layout: Arc<CsrLayout>,
    /// The input `[rows, d_in]`, contiguous (shares the forward's storage).
    x: FlexTensor,
    /// The weights of the active connections, grouped by input.
    w_in: Vec<f32>,
}

/// `y = x · (W ⊙ M)` on the host: returns `y [rows, d_out]` and the contiguous input.
fn product(x: FlexTensor, weight: FlexTensor, layout: &CsrLayout) -> (FlexTensor, FlexTensor) {
    let (x, weight) = (host(x), host(weight));
    let rows = values(&x).len() / layout.d_in;
    let w_out = layout.by_out.gather(values(&weight));
    let y = spmm(&layout.by_out, &w_out, values(&x), layout.d_in);
    (tensor(y, [rows, layout.d_out]), x)
}

/// The sparse product as a node of burn's autodiff graph with parents `x` and `W`.
fn tracked_product<C: CheckpointStrategy>(
    x: FloatTensor<Autodiff<Flex, C>>,
    weight: FloatTensor<Autodiff<Flex, C>>,
    layout: Arc<CsrLayout>,
) -> FloatTensor<Autodiff<Flex, C>> {
    let (y, x_host) = product(x.primitive.clone(), weight.primitive.clone(), &layout);
    match SparseMatmul
        .prepare::<C>([x.node.clone(), weight.node.clone()])
        .compute_bound()
        .stateful()
    {
        OpsKind::Tracked(prep) => {
            let w_in = layout.by_in.gather(values(&host(weight.primitive)));
            let saved = Saved {
                layout,
                x: x_host,
                w_in,
            };
            prep.finish(Arc::new(saved), y)
        }
        OpsKind::UnTracked(prep) => prep.finish(y),
    }
}

/// The backward of `y = x · (W ⊙ M)`: `dx = dy · (W ⊙ M)ᵀ` and `dW = xᵀ · dy` at the active connections
/// (zero elsewhere, the dense shape the optimizer steps), each costing `nnz · rows` products.
#[derive(Debug)]
struct SparseMatmul;

impl Backward<Flex, 2> for SparseMatmul {
    type State = Arc<Saved>;

    fn backward(self, ops: Ops<Self::State, 2>, grads: &mut Gradients, _: &mut Checkpointer) {
        let s = ops.state;
        let l = &s.layout;
        let dy = host(grads.consume::<Flex>(&ops.node));
        let rows = values(&dy).len() / l.d_out;
        let [x_node, w_node] = ops.parents;
        let want = [x_node.is_some(), w_node.is_some()];
        let g = backward(
            &l.by_in,
            &s.w_in,
            values(&s.x),
            values(&dy),
            [l.d_in, l.d_out],
            want,
        );
        if let (Some(node), Some(dx)) = (x_node, g.dx) {
            grads.register::<Flex>(node.id, tensor(dx, [rows, l.d_in]));
        }
        if let (Some(node), Some(dw)) = (w_node, g.dw) {
            grads.register::<Flex>(node.id, tensor(dw, [l.d_in, l.d_out]));
        }
    }
}
