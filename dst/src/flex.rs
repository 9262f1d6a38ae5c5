//! Run-time dispatch to the flex backend's host storage for the fast paths (sparse execution, the fused
//! Adam step). Code stays generic over the backend; where `B` is `Flex` (or `Autodiff<Flex>`), checked with
//! `TypeId`, values move across with `Any`, which is checked at run time and needs no `unsafe`; every other
//! backend keeps burn's tensor ops.

use std::any::{Any, TypeId};

use burn::backend::flex::FlexTensor;

/// Whether `A` and `B` are the same type.
pub(crate) fn same<A: 'static, B: 'static>() -> bool {
    TypeId::of::<A>() == TypeId::of::<B>()
}

/// `t` as a `U`, when `T` and `U` are the same type (checked by the caller with [`same`]).
pub(crate) fn cast<T: 'static, U: 'static>(t: T) -> U {
    let mut slot = Some(t);
    (&mut slot as &mut dyn Any)
        .downcast_mut::<Option<U>>()
        .and_then(Option::take)
        .expect("the caller checked the backend type")
}

/// `t` with its values as the whole of its storage, contiguous from offset 0 (copied only when it is a
/// view), so the storage can be read, or written in place, as the values.
pub(crate) fn host(t: FlexTensor) -> FlexTensor {
    if t.layout().contiguous_offsets() == Some((0, t.storage::<f32>().len())) {
        t
    } else {
        t.to_contiguous()
    }
}

/// The f32 values of a tensor passed through [`host`].
pub(crate) fn values(t: &FlexTensor) -> &[f32] {
    t.storage::<f32>()
}
