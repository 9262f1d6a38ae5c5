//! A trained acting network with what turns observations into its input and its output into actions: the
//! object an exported policy file holds ([`super::policy_file`] reads and writes it).

use burn::tensor::backend::Backend;
use burn::tensor::Tensor;

use super::{Activation, CsrLinear, DenseLinear, HostMasked, InferenceLayer, MlpBuffers, SparseMlp};
use crate::error::DstError;

/// Above this fraction of active weights a masked layer is stored dense. CSR keeps a 4-byte column index
/// beside every 4-byte value, so it is the smaller form up to density 0.5, but at batch 1 (acting) its
/// scattered input reads cost more per weight than the dense row dot products: in
/// `dst/benches/inference.rs` (three 256 × 256 layers) CSR's time is about 60 µs × density against
/// dense's 26 µs, equal near 0.44. Up to 0.4 CSR is both smaller and faster; above it dense is faster,
/// which acting needs.
pub const CSR_MAX_DENSITY: f64 = 0.4;

/// How an observation becomes the network's input.
#[derive(Clone, Debug, PartialEq)]
pub enum PolicyInput {
    /// One agent: the network's input is the observation.
    Single { obs_dim: usize },
    /// Agents sharing one network (QMIX's agent network), run as a batch of `n_agents` rows: agent `i`'s
    /// row is its observation, then the one-hot of its last action over `last_action` actions (when
    /// `Some`; all zeros at an episode's first step), then the one-hot of `i` over `n_agents` (when
    /// `agent_id`).
    Agents {
        n_agents: usize,
        obs_dim: usize,
        last_action: Option<usize>,
        agent_id: bool,
    },
}

impl PolicyInput {
    /// Width of one row of network input.
    pub fn row_width(&self) -> usize {
        match *self {
            Self::Single { obs_dim } => obs_dim,
            Self::Agents {
                n_agents,
                obs_dim,
                last_action,
                agent_id,
            } => obs_dim + last_action.unwrap_or(0) + if agent_id { n_agents } else { 0 },
        }
    }

    /// Rows per forward pass (agents acting together).
    pub fn rows(&self) -> usize {
        match *self {
            Self::Single { .. } => 1,
            Self::Agents { n_agents, .. } => n_agents,
        }
    }
}

/// How the network's output becomes an action.
#[derive(Clone, Debug, PartialEq)]
pub enum PolicyOutput {
    /// The outputs are Q values: the action is the argmax (the first of equal maxima, as the agents pick).
    Argmax { n_actions: usize },
    /// The outputs are a squashed Gaussian's means: action `j` is `tanh(out[j]) · scale[j] + bias[j]`
    /// (SAC's greedy action).
    TanhAffine { scale: Vec<f32>, bias: Vec<f32> },
}

impl PolicyOutput {
    /// Network outputs per row.
    pub fn width(&self) -> usize {
        match self {
            Self::Argmax { n_actions } => *n_actions,
            Self::TanhAffine { scale, .. } => scale.len(),
        }
    }
}

/// A single agent's action.
#[derive(Clone, Debug, PartialEq)]
pub enum PolicyAction {
    Discrete(usize),
    Continuous(Vec<f32>),
}

/// An exported acting network.
#[derive(Clone, Debug, PartialEq)]
pub struct Policy {
    pub input: PolicyInput,
    pub network: SparseMlp,
    pub output: PolicyOutput,
}

/// Reusable buffers for [`Policy::act`] and [`Policy::act_agents`]: acting allocates nothing else.
#[derive(Clone, Debug)]
pub struct PolicyScratch {
    buffers: MlpBuffers,
    input: Vec<f32>,
    output: Vec<f32>,
}

impl Policy {
    /// Checks that the input, network and output agree in width.
    pub fn new(input: PolicyInput, network: SparseMlp, output: PolicyOutput) -> Result<Self, DstError> {
        if network.in_features() != input.row_width() {
            return Err(format!(
                "policy: the network takes {} inputs but the observation layout gives {}",
                network.in_features(),
                input.row_width()
            )
            .into());
        }
        if network.out_features() != output.width() {
            return Err(format!(
                "policy: the network gives {} outputs but the action map reads {}",
                network.out_features(),
                output.width()
            )
            .into());
        }
        if let PolicyOutput::TanhAffine { scale, bias } = &output {
            if scale.len() != bias.len() {
                return Err(
                    format!("policy: {} action scales but {} offsets", scale.len(), bias.len()).into(),
                );
            }
        }
        Ok(Self {
            input,
            network,
            output,
        })
    }

    /// Buffers sized for this policy.
    pub fn scratch(&self) -> PolicyScratch {
        let rows = self.input.rows();
        PolicyScratch {
            buffers: self.network.buffers(rows),
            input: vec![0.0; rows * self.input.row_width()],
            output: vec![0.0; rows * self.output.width()],
        }
    }

    /// The action of a single agent for `obs`.
    pub fn act(&self, obs: &[f32], scratch: &mut PolicyScratch) -> Result<PolicyAction, DstError> {
        let PolicyInput::Single { obs_dim } = self.input else {
            return Err("policy: a multi-agent policy acts through act_agents".into());
        };
        if obs.len() != obs_dim {
            return Err(format!("policy: observation of {} numbers, expected {obs_dim}", obs.len()).into());
        }
        scratch.input.copy_from_slice(obs);
        self.network
            .forward(&scratch.input, 1, &mut scratch.buffers, &mut scratch.output)?;
        Ok(match &self.output {
            PolicyOutput::Argmax { .. } => {
                PolicyAction::Discrete(argmax(&scratch.output, None).expect("a network has outputs"))
            }
            PolicyOutput::TanhAffine { scale, bias } => PolicyAction::Continuous(
                scratch
                    .output
                    .iter()
                    .zip(scale.iter().zip(bias))
                    .map(|(&m, (&s, &b))| m.tanh() * s + b)
                    .collect(),
            ),
        })
    }

    /// Greedy actions of all agents: `obs` holds the agents' observations one after another, `available`
    /// (if any) flags each agent's allowed actions likewise, `last_actions` the previous step's actions
    /// (`None` at an episode's first step).
    pub fn act_agents(
        &self,
        obs: &[f32],
        available: Option<&[bool]>,
        last_actions: Option<&[usize]>,
        scratch: &mut PolicyScratch,
    ) -> Result<Vec<usize>, DstError> {
        let PolicyInput::Agents {
            n_agents,
            obs_dim,
            last_action,
            agent_id,
        } = self.input
        else {
            return Err("policy: a single-agent policy acts through act".into());
        };
        let n_actions = self.output.width();
        if obs.len() != n_agents * obs_dim {
            return Err(format!(
                "policy: {} observation numbers, expected {n_agents} agents × {obs_dim}",
                obs.len()
            )
            .into());
        }
        if available.is_some_and(|a| a.len() != n_agents * n_actions) {
            return Err(format!("policy: availability needs {n_agents} × {n_actions} flags").into());
        }
        if let Some(last) = last_actions {
            if last.len() != n_agents || last.iter().any(|&a| a >= n_actions) {
                return Err(format!(
                    "policy: last actions {last:?} are not {n_agents} actions below {n_actions}"
                )
                .into());
            }
        }
        let width = self.input.row_width();
        for (i, row) in scratch.input.chunks_exact_mut(width).enumerate() {
            row.fill(0.0);
            row[..obs_dim].copy_from_slice(&obs[i * obs_dim..(i + 1) * obs_dim]);
            let mut at = obs_dim;
            if let Some(k) = last_action {
                if let Some(last) = last_actions {
                    row[at + last[i]] = 1.0;
                }
                at += k;
            }
            if agent_id {
                row[at + i] = 1.0;
            }
        }
        self.network.forward(
            &scratch.input,
            n_agents,
            &mut scratch.buffers,
            &mut scratch.output,
        )?;
        scratch
            .output
            .chunks_exact(n_actions)
            .enumerate()
            .map(|(i, q)| {
                argmax(q, available.map(|a| &a[i * n_actions..(i + 1) * n_actions]))
                    .ok_or_else(|| format!("policy: agent {i} has no available action").into())
            })
            .collect()
    }
}

/// Index of the largest value (the first of equal maxima, as the agents choose) among the allowed ones
/// (all when `allowed` is `None`); `None` when nothing is allowed.
fn argmax(values: &[f32], allowed: Option<&[bool]>) -> Option<usize> {
    let mut best: Option<usize> = None;
    for (i, &v) in values.iter().enumerate() {
        if allowed.is_none_or(|a| a[i]) && best.is_none_or(|b| v > values[b]) {
            best = Some(i);
        }
    }
    best
}

/// The inference form of a masked layer given row-major `[rows × cols]` weight and mask: CSR up to
/// [`CSR_MAX_DENSITY`], else dense with the inactive weights zeroed.
pub fn masked_layer(
    rows: usize,
    cols: usize,
    weight: &[f32],
    mask: &[bool],
    bias: Option<&[f32]>,
) -> Result<InferenceLayer, DstError> {
    let active = mask.iter().filter(|&&m| m).count();
    if (active as f64) <= CSR_MAX_DENSITY * mask.len() as f64 {
        return CsrLinear::from_dense(rows, cols, weight, mask, bias).map(InferenceLayer::Csr);
    }
    if weight.len() != mask.len() {
        return Err(format!(
            "masked layer: {} weights but {} mask entries",
            weight.len(),
            mask.len()
        )
        .into());
    }
    let masked = weight
        .iter()
        .zip(mask)
        .map(|(&w, &m)| if m { w } else { 0.0 })
        .collect();
    DenseLinear::new(rows, cols, masked, bias).map(InferenceLayer::Dense)
}

/// [`masked_layer`] of a masked burn layer in burn's Linear layout: `weight` and `mask` `[d_in, d_out]`
/// (mask entries ≠ 0 are active), `bias [d_out]`.
pub fn masked_layer_from_burn<B: Backend>(
    weight: Tensor<B, 2>,
    mask: Tensor<B, 2>,
    bias: Option<Tensor<B, 1>>,
) -> Result<InferenceLayer, DstError> {
    let h = HostMasked::from_burn(weight, mask, bias)?;
    masked_layer(h.rows, h.cols, &h.weight, &h.mask, h.bias.as_deref())
}

/// The activation after layer `i` of `n`: ReLU between layers, and after the last one only when
/// `activate_last` (an encoder feeding another module).
pub fn mlp_activation(i: usize, n: usize, activate_last: bool) -> Activation {
    if i + 1 < n || activate_last {
        Activation::Relu
    } else {
        Activation::Identity
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dense(rows: usize, cols: usize, w: Vec<f32>, b: &[f32]) -> InferenceLayer {
        InferenceLayer::Dense(DenseLinear::new(rows, cols, w, Some(b)).unwrap())
    }

    #[test]
    fn argmax_takes_the_first_maximum_among_the_allowed() {
        assert_eq!(argmax(&[1.0, 3.0, 3.0, 2.0], None), Some(1));
        assert_eq!(
            argmax(&[1.0, 3.0, 3.0, 2.0], Some(&[true, false, true, true])),
            Some(2)
        );
        assert_eq!(argmax(&[1.0, 3.0], Some(&[false, false])), None);
    }

    #[test]
    fn continuous_actions_squash_and_rescale_the_means() {
        // out = [0.5·x0, -x1]: means before tanh.
        let net = SparseMlp::new(vec![(
            dense(2, 2, vec![0.5, 0.0, 0.0, -1.0], &[0.0, 0.0]),
            Activation::Identity,
        )])
        .unwrap();
        let output = PolicyOutput::TanhAffine {
            scale: vec![2.0, 1.0],
            bias: vec![0.0, 0.5],
        };
        let policy = Policy::new(PolicyInput::Single { obs_dim: 2 }, net, output).unwrap();
        let mut s = policy.scratch();
        let PolicyAction::Continuous(a) = policy.act(&[1.0, 0.3], &mut s).unwrap() else {
            panic!("continuous policy gave a discrete action")
        };
        assert!((a[0] - 0.5f32.tanh() * 2.0).abs() < 1e-7);
        assert!((a[1] - ((-0.3f32).tanh() + 0.5)).abs() < 1e-7);
    }

    #[test]
    fn agents_rows_hold_observation_last_action_and_id() {
        // Identity network over obs(1) + last action one-hot(2) + id one-hot(2) → 5 "Q values".
        let eye: Vec<f32> = (0..25).map(|i| f32::from(u8::from(i % 6 == 0))).collect();
        let net = SparseMlp::new(vec![(dense(5, 5, eye, &[0.0; 5]), Activation::Identity)]).unwrap();
        let input = PolicyInput::Agents {
            n_agents: 2,
            obs_dim: 1,
            last_action: Some(2),
            agent_id: true,
        };
        let policy = Policy::new(input, net, PolicyOutput::Argmax { n_actions: 5 }).unwrap();
        let mut s = policy.scratch();
        // Observations 0: the argmax is the largest one-hot entry, the first of the two ones.
        let acts = policy
            .act_agents(&[0.0, 0.0], None, Some(&[1, 0]), &mut s)
            .unwrap();
        assert_eq!(acts, [2, 1]);
        // No last action: only the id is set.
        let acts = policy.act_agents(&[0.0, 0.0], None, None, &mut s).unwrap();
        assert_eq!(acts, [3, 4]);
        assert!(policy.act_agents(&[0.0], None, None, &mut s).is_err());
        assert!(policy.act(&[0.0], &mut s).is_err());
    }

    #[test]
    fn widths_must_agree() {
        let net = SparseMlp::new(vec![(dense(2, 3, vec![0.0; 6], &[0.0; 2]), Activation::Identity)]).unwrap();
        let err = Policy::new(
            PolicyInput::Single { obs_dim: 4 },
            net.clone(),
            PolicyOutput::Argmax { n_actions: 2 },
        );
        assert!(err.unwrap_err().0.contains("takes 3 inputs"));
        let err = Policy::new(
            PolicyInput::Single { obs_dim: 3 },
            net,
            PolicyOutput::Argmax { n_actions: 3 },
        );
        assert!(err.unwrap_err().0.contains("gives 2 outputs"));
    }

    #[test]
    fn masked_layers_are_csr_when_sparse_and_dense_with_zeros_otherwise() {
        let w = [1.0, 2.0, 3.0, 4.0];
        let sparse = masked_layer(2, 2, &w, &[true, false, false, false], None).unwrap();
        assert!(matches!(sparse, InferenceLayer::Csr(ref c) if c.nnz() == 1));
        let half = masked_layer(2, 2, &w, &[true, false, false, true], None).unwrap();
        // 0.5 > CSR_MAX_DENSITY: dense.
        assert_eq!(
            half,
            InferenceLayer::Dense(DenseLinear::new(2, 2, vec![1.0, 0.0, 0.0, 4.0], None).unwrap())
        );
    }
}
