//! The QMIX agent network (Rashid et al. 2018; EPyMARL's `RNNAgent`, `src/modules/agents/rnn_agent.py`):
//! one network shared by all agents (parameter sharing), fed each agent's observation with its one-hot id
//! (and optionally its last action), so agents can still act differently.
//!
//! fc1 (→ H) → ReLU → GRU cell (H) or, with `use_rnn = false` (EPyMARL's default), Linear (H → H) → ReLU
//! → fc2 (→ Q per action). All weight matrices are masked layers of the `agent` module; the GRU's input and
//! hidden gate matrices are two of them.

use burn::module::Module;
use burn::tensor::backend::Backend;
use burn::tensor::Tensor;
use sparse_rl_dst::execution::Execution;
use sparse_rl_dst::inference::{Activation, InferenceLayer};
use sparse_rl_dst::layers::{MaskedGruCell, MaskedGruCellConfig};
use sparse_rl_dst::topology::SparseLayer;

use crate::networks::{Mlp, MlpConfig};

/// Sizes of the agent network.
#[derive(Debug, Clone, PartialEq)]
pub struct AgentNetworkConfig {
    /// Observation + one-hot id (+ one-hot last action).
    pub d_in: usize,
    /// H (EPyMARL's `hidden_dim`: 64).
    pub hidden: usize,
    pub n_actions: usize,
    /// GRU cell between fc1 and fc2 (else a ReLU linear layer).
    pub recurrent: bool,
}

/// The shared agent network.
#[derive(Module, Debug)]
pub struct AgentNetwork<B: Backend> {
    /// Without GRU the whole fc1 → Linear → fc2 stack; with GRU, fc1 and its ReLU.
    body: Mlp<B>,
    gru: Option<MaskedGruCell<B>>,
    /// fc2 after the GRU.
    head: Option<Mlp<B>>,
    hidden: usize,
}

impl AgentNetworkConfig {
    pub fn init<B: Backend>(&self, device: &B::Device) -> AgentNetwork<B> {
        let h = self.hidden;
        let mlp = |d_in, hidden: Vec<usize>, d_out, activate_last| MlpConfig {
            d_in,
            hidden,
            d_out,
            activate_last,
        };
        if self.recurrent {
            AgentNetwork {
                body: mlp(self.d_in, vec![], h, true).init(device),
                gru: Some(MaskedGruCellConfig::new(h, h).init(device)),
                head: Some(mlp(h, vec![], self.n_actions, false).init(device)),
                hidden: h,
            }
        } else {
            AgentNetwork {
                body: mlp(self.d_in, vec![h, h], self.n_actions, false).init(device),
                gru: None,
                head: None,
                hidden: h,
            }
        }
    }
}

impl<B: Backend> AgentNetwork<B> {
    /// One step for `[N, d_in]` inputs (N = agents × episodes) and, with a GRU, hidden states `[N, H]`
    /// (`None`: zeros, an episode start). Returns Q `[N, n_actions]` and the new hidden state.
    pub fn step(
        &self,
        x: Tensor<B, 2>,
        h: Option<Tensor<B, 2>>,
        dense_grad: bool,
    ) -> (Tensor<B, 2>, Option<Tensor<B, 2>>) {
        let x = self.body.forward(x, dense_grad);
        let (Some(gru), Some(head)) = (&self.gru, &self.head) else {
            return (x, None);
        };
        let h = h.unwrap_or_else(|| x.zeros_like().slice([0..x.dims()[0], 0..self.hidden]));
        let h = if dense_grad {
            gru.forward_dense_grad(x, h)
        } else {
            gru.forward(x, h)
        };
        (head.forward(h.clone(), dense_grad), Some(h))
    }

    /// The feed-forward network in inference form; a GRU network is refused (no plain-Rust GRU kernel).
    pub fn inference_layers(&self) -> Result<Vec<(InferenceLayer, Activation)>, String> {
        if self.gru.is_some() {
            return Err(
                "a recurrent (GRU) agent network has no plain-Rust inference kernel to export to".into(),
            );
        }
        self.body.inference_layers(None)
    }

    /// Q values of whole episodes: inputs `[B, T, n_agents, d_in]` → `[B, T, n_agents, n_actions]`, the
    /// hidden state starting at zero at t = 0. With a GRU, fc1 and the cell run step by step on the inputs'
    /// time slices (the inputs carry no gradient, so slicing them costs no backward) and fc2 once on all
    /// steps.
    pub fn forward_episodes(&self, x: Tensor<B, 4>, dense_grad: bool) -> Tensor<B, 4> {
        let [b, t, n, d] = x.dims();
        let (Some(gru), Some(head)) = (&self.gru, &self.head) else {
            let (q, _) = self.step(x.reshape([b * t * n, d]), None, dense_grad);
            let a = q.dims()[1];
            return q.reshape([b, t, n, a]);
        };
        // [B, T, n, d] → [B·n, T, d]: one row per agent of each episode, stepped through time.
        let x = x.swap_dims(1, 2).reshape([b * n, t, d]);
        let xs = (0..t)
            .map(|k| {
                let xk = x.clone().slice([0..b * n, k..k + 1, 0..d]).reshape([b * n, d]);
                self.body.forward(xk, dense_grad)
            })
            .collect();
        let hs: Tensor<B, 3> = Tensor::stack(gru.forward_sequence(xs, dense_grad), 1);
        let q = head.forward(hs.reshape([b * n * t, self.hidden]), dense_grad);
        let a = q.dims()[1];
        q.reshape([b, n, t, a]).swap_dims(1, 2)
    }

    /// The masked layers in forward order, for the `agent` module's sparsity controller.
    pub fn sparse_layers(&self) -> Vec<&dyn SparseLayer<B>> {
        let mut layers = self.body.sparse_layers();
        if let Some(gru) = &self.gru {
            layers.extend(gru.sparse_layers());
        }
        layers.extend(self.head.as_ref().map_or_else(Vec::new, Mlp::sparse_layers));
        layers
    }

    pub fn sparse_layers_mut(&mut self) -> Vec<&mut dyn SparseLayer<B>> {
        let mut layers = self.body.sparse_layers_mut();
        if let Some(gru) = &mut self.gru {
            layers.extend(gru.sparse_layers_mut());
        }
        layers.extend(self.head.as_mut().map_or_else(Vec::new, Mlp::sparse_layers_mut));
        layers
    }

    /// How the `agent` module computes: its MLP layers take `masked` and `execution`; the GRU cell's
    /// gates always apply their masks, masked-dense (no sparse recurrent kernel).
    pub fn configure(&mut self, masked: bool, execution: Execution) {
        let head = self.head.iter_mut();
        for mlp in std::iter::once(&mut self.body).chain(head) {
            mlp.set_masked(masked);
            mlp.set_execution(execution);
        }
    }

    /// Ids of the masks, for parameter counts.
    pub fn mask_ids(&self) -> std::collections::HashSet<burn::module::ParamId> {
        let mut ids = self.body.mask_ids();
        if let Some(gru) = &self.gru {
            ids.extend([gru.input.mask.id, gru.hidden.mask.id]);
        }
        ids.extend(self.head.as_ref().map(Mlp::mask_ids).unwrap_or_default());
        ids
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::backend::NdArray;
    use burn::tensor::Distribution;

    /// The episode forward of the GRU network equals stepping it by hand, carrying the hidden state.
    #[test]
    fn episode_forward_carries_the_hidden_state_per_agent() {
        let device = Default::default();
        let _seeded = crate::seeding::seed_backend::<NdArray>(&device, 0);
        let net = AgentNetworkConfig {
            d_in: 5,
            hidden: 8,
            n_actions: 3,
            recurrent: true,
        }
        .init::<NdArray>(&device);
        let x = Tensor::<NdArray, 4>::random([2, 4, 3, 5], Distribution::Normal(0.0, 1.0), &device);
        let all = crate::tensors::to_vec(net.forward_episodes(x.clone(), false));
        // Episode 1, agent 2, stepped alone.
        let mut h = None;
        for t in 0..4 {
            let xt = x.clone().slice([1..2, t..t + 1, 2..3, 0..5]).reshape([1, 5]);
            let (q, h_next) = net.step(xt, h, false);
            h = h_next;
            let q = crate::tensors::to_vec(q);
            let offset = ((4 + t) * 3 + 2) * 3;
            for (a, b) in q.iter().zip(&all[offset..offset + 3]) {
                assert!(
                    (a - b).abs() < 1e-5,
                    "t {t}: {q:?} vs {:?}",
                    &all[offset..offset + 3]
                );
            }
        }
        assert_eq!(
            net.sparse_layers().len(),
            4,
            "fc1, GRU input and hidden gates, fc2"
        );
    }
}
