//! Target networks: Polyak averaging `θ' ← τ θ + (1 − τ) θ'` (τ = 1 is a hard copy), with masks copied,
//! never averaged, so the target uses the online topology (METHODS: "Target networks copy the online mask").

use std::collections::{HashMap, HashSet};

use burn::module::{Module, ModuleMapper, ModuleVisitor, Param, ParamId};
use burn::tensor::backend::Backend;
use burn::tensor::Tensor;

/// Returns the target moved toward `online` (same architecture, same parameter ids: `online.valid()` of the
/// module the target was first copied from). Parameters in `copied` (the masks) are copied exactly.
pub fn soft_update<B: Backend, M: Module<B>>(
    target: M,
    online: &M,
    tau: f64,
    copied: &HashSet<ParamId>,
) -> M {
    if tau >= 1.0 {
        return online.clone();
    }
    let mut collect = Collect::<B> {
        values: HashMap::new(),
    };
    online.visit(&mut collect);
    let mut blend = Blend {
        values: collect.values,
        tau,
        copied,
    };
    target.map(&mut blend)
}

/// Initialises every parameter of `module` now. burn initialises parameters lazily, and each clone (or
/// `valid()` copy) of an uninitialised parameter would draw its own values: a target network must start as
/// an exact copy.
pub fn materialize<B: Backend, M: Module<B>>(module: &M) {
    struct Touch;
    impl<B: Backend> ModuleVisitor<B> for Touch {
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<B, D>>) {
            let _ = param.val();
        }
    }
    module.visit(&mut Touch);
}

struct Collect<B: Backend> {
    values: HashMap<ParamId, Tensor<B, 1>>,
}

impl<B: Backend> ModuleVisitor<B> for Collect<B> {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<B, D>>) {
        self.values.insert(param.id, param.val().flatten(0, D - 1));
    }
}

struct Blend<'a, B: Backend> {
    values: HashMap<ParamId, Tensor<B, 1>>,
    tau: f64,
    copied: &'a HashSet<ParamId>,
}

impl<B: Backend> ModuleMapper<B> for Blend<'_, B> {
    fn map_float<const D: usize>(&mut self, param: Param<Tensor<B, D>>) -> Param<Tensor<B, D>> {
        let (id, old, mapper) = param.consume();
        let online = self
            .values
            .remove(&id)
            .expect("target and online networks share parameter ids")
            .reshape(old.shape());
        let new = if self.copied.contains(&id) {
            online
        } else {
            online * self.tau + old * (1.0 - self.tau)
        };
        Param::from_mapped_value(id, new, mapper)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::backend::NdArray;
    use sparse_rl_dst::layers::MaskedLinearConfig;

    #[test]
    fn polyak_blends_weights_and_copies_masks() {
        let device = Default::default();
        let _seeded = crate::seeding::seed_backend::<NdArray>(&device, 0);
        let online = MaskedLinearConfig::new(3, 2).init::<NdArray>(&device);
        materialize(&online);
        let target = online.clone();
        let shifted = online.clone().map(&mut Shift);
        let copied: HashSet<ParamId> = [shifted.mask.id].into();
        let updated = soft_update(target.clone(), &shifted, 0.25, &copied);
        let w = |m: &sparse_rl_dst::layers::MaskedLinear<NdArray>| crate::tensors::to_vec(m.weight.val());
        for ((u, t), s) in w(&updated).iter().zip(w(&target)).zip(w(&shifted)) {
            assert!((u - (0.25 * s + 0.75 * t)).abs() < 1e-6);
        }
        assert_eq!(
            crate::tensors::to_vec(updated.mask.val()),
            crate::tensors::to_vec(shifted.mask.val())
        );
    }

    /// Adds 1 to every float parameter (mask included), keeping ids.
    struct Shift;
    impl<B: Backend> ModuleMapper<B> for Shift {
        fn map_float<const D: usize>(&mut self, param: Param<Tensor<B, D>>) -> Param<Tensor<B, D>> {
            let (id, t, mapper) = param.consume();
            Param::from_mapped_value(id, t + 1.0, mapper)
        }
    }
}
