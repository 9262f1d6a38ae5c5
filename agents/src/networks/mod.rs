//! The networks of the agents, each split into the modules that MST gives their own sparsity policy:
//! an encoder (vector: [`Mlp`], pixels: [`ConvEncoder`]), a critic and an actor (an [`Mlp`] or a [`Simba`]
//! network, by the module's [`Architecture`]).

pub mod architecture;
pub mod conv;
pub mod mlp;
pub mod simba;

use std::collections::HashSet;

use burn::module::{Module, ModuleVisitor, Param, ParamId};
use burn::tensor::backend::Backend;
use burn::tensor::Tensor;

pub use architecture::{Architecture, Network};
pub use conv::{ConvConfig, ConvEncoder};
pub use mlp::{Mlp, MlpConfig};
pub use simba::{Simba, SimbaConfig};

/// (parameters, non-zero parameters) of `module`, not counting its masks: for `summary.json`.
pub fn param_counts<B: Backend, M: Module<B>>(module: &M, masks: &HashSet<ParamId>) -> (usize, usize) {
    struct Count<'a> {
        masks: &'a HashSet<ParamId>,
        params: usize,
        nonzero: usize,
    }
    impl<B: Backend> ModuleVisitor<B> for Count<'_> {
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<B, D>>) {
            if !self.masks.contains(&param.id) {
                let values = crate::tensors::to_vec(param.val());
                self.params += values.len();
                self.nonzero += values.iter().filter(|&&v| v != 0.0).count();
            }
        }
    }
    let mut count = Count {
        masks,
        params: 0,
        nonzero: 0,
    };
    module.visit(&mut count);
    (count.params, count.nonzero)
}
