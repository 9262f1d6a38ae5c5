//! The per-layer cache of the mask layout.

use std::sync::{Arc, Mutex};

use burn::backend::flex::FlexTensor;

use super::layout::CsrLayout;
use crate::flex::{host, values};

/// The layout of one layer's mask, rebuilt only when the mask changes.
///
/// The key is the mask's own storage rather than a counter bumped by topology updates: masks are also
/// written by module mappers that cannot bump a counter (target networks copy the online mask in
/// `soft_update`, `load_record` replaces it), and a stale layout would silently compute the wrong product.
/// The cache keeps a clone of the mask it was built from (so its storage cannot be freed and reused), a
/// call with the same storage is a hit at the cost of a pointer comparison, and a call with new storage
/// compares the values before rebuilding, so a copied but unchanged mask costs no rebuild either.
/// Clones of a layer (`valid()`, target networks) share the cache.
#[derive(Clone, Debug, Default)]
pub struct LayoutCache {
    state: Arc<Mutex<CacheState>>,
}

#[derive(Debug, Default)]
struct CacheState {
    /// The mask the layout was built from, and the layout.
    entry: Option<(FlexTensor, Arc<CsrLayout>)>,
    /// Layouts built so far.
    rebuilds: usize,
}

impl LayoutCache {
    /// The layout of `mask` (`[d_in, d_out]`), from the cache when the mask has not changed.
    pub(crate) fn layout(&self, mask: FlexTensor, d_in: usize, d_out: usize) -> Arc<CsrLayout> {
        let mask = host(mask);
        let mut state = self.state.lock().expect("layout cache poisoned");
        if let Some((cached, layout)) = &state.entry {
            let (old, new) = (values(cached), values(&mask));
            if std::ptr::eq(old, new) {
                return layout.clone();
            }
            if old == new {
                let layout = layout.clone();
                state.entry = Some((mask, layout.clone()));
                return layout;
            }
        }
        let layout = Arc::new(CsrLayout::from_mask(d_in, d_out, values(&mask)));
        state.rebuilds += 1;
        state.entry = Some((mask, layout.clone()));
        layout
    }

    /// Layouts built so far (shared by the clones of the layer).
    pub fn rebuilds(&self) -> usize {
        self.state.lock().expect("layout cache poisoned").rebuilds
    }
}
