//! The encoder module: an MLP for vector observations, or the identity when it has no layers (CleanRL's
//! SAC). Its output feeds the critic and actor modules.

use std::collections::HashSet;

use burn::module::{Module, ParamId};
use burn::tensor::backend::Backend;
use burn::tensor::Tensor;
use sparse_rl_dst::topology::SparseLayer;
use sparse_rl_envs::Space;

use crate::networks::{Mlp, MlpConfig};

/// Which encoder an observation space gets.
#[derive(Debug, Clone, PartialEq)]
pub enum EncoderConfig {
    /// Vector observations: an MLP with ReLU after every layer.
    Mlp(MlpConfig),
    /// No layers: features are the flat observation of this size.
    Identity(usize),
}

impl EncoderConfig {
    /// The encoder for `space` with the given hidden sizes (the last is the feature size).
    pub fn for_space(space: &Space, hidden: &[usize]) -> Result<Self, String> {
        match space {
            Space::Box { shape, .. } if shape.len() == 1 => Ok(match hidden.split_last() {
                None => Self::Identity(shape[0]),
                Some((last, rest)) => {
                    Self::Mlp(MlpConfig { d_in: shape[0], hidden: rest.to_vec(), d_out: *last, activate_last: true })
                }
            }),
            other => Err(format!("no encoder for observation space {other}")),
        }
    }

    pub fn init<B: Backend>(&self, device: &B::Device) -> Encoder<B> {
        match self {
            Self::Mlp(c) => Encoder { mlp: Some(c.init(device)), d_in: c.d_in },
            Self::Identity(d) => Encoder { mlp: None, d_in: *d },
        }
    }
}

/// The encoder module.
#[derive(Module, Debug)]
pub struct Encoder<B: Backend> {
    mlp: Option<Mlp<B>>,
    d_in: usize,
}

impl<B: Backend> Encoder<B> {
    /// Flat observations `[batch, obs_dim]` to features `[batch, d_out]`.
    pub fn forward(&self, obs: Tensor<B, 2>, dense_grad: bool) -> Tensor<B, 2> {
        match &self.mlp {
            Some(mlp) => mlp.forward(obs, dense_grad),
            None => obs,
        }
    }

    pub fn d_out(&self) -> usize {
        self.mlp.as_ref().map_or(self.d_in, Mlp::d_out)
    }

    pub fn sparse_layers(&self) -> Vec<&dyn SparseLayer<B>> {
        self.mlp.as_ref().map_or_else(Vec::new, Mlp::sparse_layers)
    }

    pub fn sparse_layers_mut(&mut self) -> Vec<&mut dyn SparseLayer<B>> {
        self.mlp.as_mut().map_or_else(Vec::new, Mlp::sparse_layers_mut)
    }

    pub fn mask_ids(&self) -> HashSet<ParamId> {
        self.mlp.iter().flat_map(|m| m.layers.iter().map(|l| l.mask.id)).collect()
    }

    pub fn param_counts(&self) -> (usize, usize) {
        self.mlp.as_ref().map_or((0, 0), Mlp::param_counts)
    }
}
