//! Adam as one pass over each parameter on the flex backend.
//!
//! burn's `Adam` builds the step from 13 tensor ops (moment updates, bias corrections, square root,
//! division, learning rate), each a pass over the parameter with a fresh buffer. On a 90 %-sparse agent
//! running the sparse kernels, those passes over the dense-shaped weights cost about as much as the sparse
//! products themselves. [`FusedAdam`] computes the same f32 operations in the same order in one
//! loop over the host buffers, so its results are those of burn's `Adam` to the bit (tested), and keeps
//! burn's `AdamState`, so checkpoints and moment resets ([`super::MomentReset`]) are unchanged. Every other
//! backend runs burn's `Adam`.

use burn::backend::Flex;
use burn::module::AutodiffModule;
use burn::optim::adaptor::OptimizerAdaptor;
use burn::optim::{Adam, AdamConfig, AdamState, AdaptiveMomentumState, LearningRate, SimpleOptimizer};
use burn::tensor::backend::{AutodiffBackend, Backend};
use burn::tensor::{Tensor, TensorPrimitive};

use crate::flex::{cast, host, same};

/// Adam without weight decay or AMSGrad (the configuration every agent here uses), fused on flex.
#[derive(Clone)]
pub struct FusedAdam {
    beta_1: f32,
    beta_2: f32,
    epsilon: f32,
    /// burn's Adam with the same settings, for the other backends.
    fallback: Adam,
}

impl FusedAdam {
    /// Adam with β₁ = 0.9, β₂ = 0.999 (burn's and PyTorch's defaults) and the given ε.
    pub fn new(epsilon: f32) -> Self {
        Self::with(0.9, 0.999, epsilon)
    }

    /// This optimizer with other decay rates of the moments.
    pub fn with_betas(self, beta_1: f32, beta_2: f32) -> Self {
        Self::with(beta_1, beta_2, self.epsilon)
    }

    fn with(beta_1: f32, beta_2: f32, epsilon: f32) -> Self {
        let fallback = AdamConfig::new()
            .with_beta_1(beta_1)
            .with_beta_2(beta_2)
            .with_epsilon(epsilon)
            .build();
        Self {
            beta_1,
            beta_2,
            epsilon,
            fallback,
        }
    }

    /// The optimizer of module `M`, as `AdamConfig::init` makes burn's.
    pub fn init<B: AutodiffBackend, M: AutodiffModule<B>>(&self) -> OptimizerAdaptor<Self, M, B> {
        OptimizerAdaptor::from(self.clone())
    }

    /// One step on host buffers: the moments and the weight in place, as burn's `AdaptiveMomentum` and
    /// `Adam::step` compute them (`time` is the step count after this step).
    fn step_host(&self, lr: f32, time: usize, w: &mut [f32], g: &[f32], m: &mut [f32], v: &mut [f32]) {
        let (b1, b2) = (self.beta_1, self.beta_2);
        let (f1, f2) = (1.0 - b1, 1.0 - b2);
        let t = time as i32;
        let bias_correction2_sqrt = (1.0 - b2.powi(t)).sqrt();
        let combined = bias_correction2_sqrt / (1.0 - b1.powi(t));
        let eps = self.epsilon * bias_correction2_sqrt;
        for (((w, &g), m), v) in w.iter_mut().zip(g).zip(m.iter_mut()).zip(v.iter_mut()) {
            *m = *m * b1 + g * f1;
            *v = *v * b2 + g * g * f2;
            *w -= (*m * combined) / (v.sqrt() + eps) * lr;
        }
    }

    fn step_flex<const D: usize>(
        &self,
        lr: LearningRate,
        tensor: Tensor<Flex, D>,
        grad: Tensor<Flex, D>,
        state: Option<AdamState<Flex, D>>,
    ) -> (Tensor<Flex, D>, AdamState<Flex, D>) {
        // burn's first step sets each moment to `g · (1 − β)`: the update from −0.0, which adds nothing even
        // to a zero of either sign (from +0.0, a −0.0 product would turn into +0.0).
        let zeros = || Tensor::full(tensor.shape(), -0.0, &tensor.device());
        let (time, m, v) = match state {
            Some(s) => (s.momentum.time, s.momentum.moment_1, s.momentum.moment_2),
            None => (0, zeros(), zeros()),
        };
        let [mut w, g, mut m, mut v] = [tensor, grad, m, v].map(|t| host(t.into_primitive().tensor()));
        let time = time + 1;
        self.step_host(
            lr as f32,
            time,
            w.storage_mut(),
            g.storage(),
            m.storage_mut(),
            v.storage_mut(),
        );
        let [w, m, v] = [w, m, v].map(|t| Tensor::from_primitive(TensorPrimitive::Float(t)));
        (w, AdamState::new(AdaptiveMomentumState::new(time, m, v)))
    }
}

impl<B: Backend> SimpleOptimizer<B> for FusedAdam {
    type State<const D: usize> = AdamState<B, D>;

    fn step<const D: usize>(
        &self,
        lr: LearningRate,
        tensor: Tensor<B, D>,
        grad: Tensor<B, D>,
        state: Option<Self::State<D>>,
    ) -> (Tensor<B, D>, Option<Self::State<D>>) {
        if !same::<B, Flex>() {
            return self.fallback.step(lr, tensor, grad, state);
        }
        let (w, s) = self.step_flex::<D>(lr, cast(tensor), cast(grad), state.map(cast));
        (cast(w), Some(cast(s)))
    }

    fn to_device<const D: usize>(state: Self::State<D>, device: &B::Device) -> Self::State<D> {
        <Adam as SimpleOptimizer<B>>::to_device(state, device)
    }
}

#[cfg(test)]
mod tests {
    use burn::backend::NdArray;
    use burn::tensor::{Distribution, TensorData};

    use super::*;

    fn random<B: Backend>(seed: u64, shape: [usize; 2]) -> Tensor<B, 2> {
        B::seed(&Default::default(), seed);
        Tensor::random(shape, Distribution::Normal(0.0, 1.0), &Default::default())
    }

    /// Several steps from no state, with some gradients exactly zero (inactive connections): weights and
    /// both moments equal burn's `Adam` to the bit on flex, and the fallback is burn's `Adam` elsewhere.
    #[test]
    fn equals_burns_adam_to_the_bit() {
        let fused = FusedAdam::new(1e-8);
        let adam = AdamConfig::new().with_epsilon(1e-8).build();
        let shape = [7, 13];
        let w0: Tensor<Flex, 2> = random(1, shape);
        let (mut a, mut b) = ((w0.clone(), None), (w0, None));
        for step in 0..5 {
            let keep = random::<Flex>(10 + step, shape).greater_elem(0.3).float();
            let g = random::<Flex>(20 + step, shape) * keep;
            let (w, s) = SimpleOptimizer::<Flex>::step(&fused, 1e-3, a.0, g.clone(), a.1);
            a = (w, s);
            let (w, s) = adam.step(1e-3, b.0, g, b.1);
            b = (w, s);
        }
        let data = |t: &Tensor<Flex, 2>| t.to_data();
        let (sa, sb) = (a.1.expect("state"), b.1.expect("state"));
        assert_eq!(data(&a.0), data(&b.0));
        assert_eq!(data(&sa.momentum.moment_1), data(&sb.momentum.moment_1));
        assert_eq!(data(&sa.momentum.moment_2), data(&sb.momentum.moment_2));
        assert_eq!(sa.momentum.time, 5);

        let w: Tensor<NdArray, 2> =
            Tensor::from_data(TensorData::new(vec![1.0f32, -2.0], [1, 2]), &Default::default());
        let g = w.clone() * 0.5;
        let (fw, _) = SimpleOptimizer::<NdArray>::step(&fused, 0.1, w.clone(), g.clone(), None);
        let (bw, _) = adam.step(0.1, w, g, None);
        assert_eq!(fw.to_data(), bw.to_data());
    }
}
