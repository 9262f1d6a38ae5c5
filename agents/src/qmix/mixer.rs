//! The monotonic QMIX mixer (Rashid et al., "QMIX: Monotonic Value Function Factorisation for Deep
//! Multi-Agent RL", ICML 2018; EPyMARL's `QMixer`, `src/modules/mixers/qmix.py`):
//!
//! Q_tot = w_finalᵀ ELU(W₁ᵀ Q + b₁) + V(s), with W₁ = |hyper_w1(s)| (n_agents × embed), w_final =
//! |hyper_w_final(s)| (embed), b₁ = hyper_b1(s), V(s) = Linear → ReLU → Linear. The absolute values make
//! every mixing weight non-negative, so ∂Q_tot/∂Q_a ≥ 0 and the greedy joint action decomposes into the
//! agents' own greedy actions. Hypernetworks have one layer or two (`hypernet_layers`, hidden
//! `hypernet_embed`); all their weight matrices are masked layers of the `mixer` module.

use burn::module::Module;
use burn::tensor::activation::elu;
use burn::tensor::backend::Backend;
use burn::tensor::Tensor;
use sparse_rl_dst::execution::Execution;
use sparse_rl_dst::topology::SparseLayer;

use crate::networks::{Mlp, MlpConfig};

/// Sizes of the mixer (EPyMARL: embed 32, two hypernetwork layers of 64).
#[derive(Debug, Clone, PartialEq)]
pub struct MixerConfig {
    pub n_agents: usize,
    pub state_dim: usize,
    /// `mixing_embed_dim`.
    pub embed: usize,
    /// 1 or 2.
    pub hypernet_layers: usize,
    /// Hidden size of two-layer hypernetworks.
    pub hypernet_embed: usize,
}

/// The mixer: four hypernetworks conditioned on the global state.
#[derive(Module, Debug)]
pub struct Mixer<B: Backend> {
    hyper_w1: Mlp<B>,
    hyper_b1: Mlp<B>,
    hyper_w_final: Mlp<B>,
    value: Mlp<B>,
    n_agents: usize,
    embed: usize,
}

impl MixerConfig {
    pub fn init<B: Backend>(&self, device: &B::Device) -> Mixer<B> {
        let s = self.state_dim;
        let hyper = if self.hypernet_layers == 2 {
            vec![self.hypernet_embed]
        } else {
            vec![]
        };
        let mlp = |hidden: Vec<usize>, d_out| {
            MlpConfig {
                d_in: s,
                hidden,
                d_out,
                activate_last: false,
            }
            .init(device)
        };
        Mixer {
            hyper_w1: mlp(hyper.clone(), self.embed * self.n_agents),
            hyper_b1: mlp(vec![], self.embed),
            hyper_w_final: mlp(hyper, self.embed),
            value: mlp(vec![self.embed], 1),
            n_agents: self.n_agents,
            embed: self.embed,
        }
    }
}

impl<B: Backend> Mixer<B> {
    /// Q_tot `[N]` of the agents' chosen Q values `[N, n_agents]` in states `[N, state_dim]`.
    pub fn forward(&self, qs: Tensor<B, 2>, states: Tensor<B, 2>, dense_grad: bool) -> Tensor<B, 1> {
        let [n, _] = qs.dims();
        let (agents, embed) = (self.n_agents, self.embed);
        let w1 = self
            .hyper_w1
            .forward(states.clone(), dense_grad)
            .abs()
            .reshape([n, agents, embed]);
        let b1 = self
            .hyper_b1
            .forward(states.clone(), dense_grad)
            .reshape([n, 1, embed]);
        let hidden = elu(qs.reshape([n, 1, agents]).matmul(w1) + b1, 1.0);
        let w_final = self
            .hyper_w_final
            .forward(states.clone(), dense_grad)
            .abs()
            .reshape([n, embed, 1]);
        let v = self.value.forward(states, dense_grad).reshape([n, 1, 1]);
        (hidden.matmul(w_final) + v).reshape([n])
    }

    /// The masked layers, for the `mixer` module's sparsity controller.
    pub fn sparse_layers(&self) -> Vec<&dyn SparseLayer<B>> {
        [&self.hyper_w1, &self.hyper_b1, &self.hyper_w_final, &self.value]
            .into_iter()
            .flat_map(Mlp::sparse_layers)
            .collect()
    }

    /// How the `mixer` module's hypernetworks compute.
    pub fn configure(&mut self, masked: bool, execution: Execution) {
        for mlp in [
            &mut self.hyper_w1,
            &mut self.hyper_b1,
            &mut self.hyper_w_final,
            &mut self.value,
        ] {
            mlp.set_masked(masked);
            mlp.set_execution(execution);
        }
    }

    pub fn sparse_layers_mut(&mut self) -> Vec<&mut dyn SparseLayer<B>> {
        [
            &mut self.hyper_w1,
            &mut self.hyper_b1,
            &mut self.hyper_w_final,
            &mut self.value,
        ]
        .into_iter()
        .flat_map(Mlp::sparse_layers_mut)
        .collect()
    }

    /// Ids of the masks, for parameter counts.
    pub fn mask_ids(&self) -> std::collections::HashSet<burn::module::ParamId> {
        [&self.hyper_w1, &self.hyper_b1, &self.hyper_w_final, &self.value]
            .into_iter()
            .flat_map(Mlp::mask_ids)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::backend::{Autodiff, NdArray};
    use burn::tensor::Distribution;

    type B = Autodiff<NdArray>;

    /// ∂Q_tot/∂Q_a ≥ 0 for every agent, state and input (monotonicity), and the mixer is not trivially
    /// flat: some derivative is strictly positive.
    #[test]
    fn q_tot_is_monotonic_in_every_agent_q() {
        let device = Default::default();
        let _seeded = crate::seeding::seed_backend::<B>(&device, 0);
        for hypernet_layers in [1, 2] {
            let mixer = MixerConfig {
                n_agents: 3,
                state_dim: 6,
                embed: 8,
                hypernet_layers,
                hypernet_embed: 16,
            }
            .init::<B>(&device);
            let qs = Tensor::<B, 2>::random([64, 3], Distribution::Normal(0.0, 3.0), &device).require_grad();
            let states = Tensor::<B, 2>::random([64, 6], Distribution::Normal(0.0, 2.0), &device);
            let grads = mixer.forward(qs.clone(), states, false).sum().backward();
            let d = crate::tensors::to_vec(qs.grad(&grads).expect("Q has a gradient"));
            assert!(d.iter().all(|&g| g >= 0.0), "negative ∂Q_tot/∂Q_a: {d:?}");
            assert!(d.iter().any(|&g| g > 0.0));
        }
    }
}
