//! The encoder module: an MLP for vector observations, a conv net for pixel observations, or the identity
//! when it has no layers (CleanRL's SAC). Its output feeds the critic and actor modules.

use std::collections::HashSet;

use burn::module::{Module, ParamId};
use burn::tensor::backend::Backend;
use burn::tensor::Tensor;
use sparse_rl_dst::execution::Execution;
use sparse_rl_dst::inference::{Activation, InferenceLayer};
use sparse_rl_dst::module::SparseParts;
use sparse_rl_dst::topology::SparseLayer;
use sparse_rl_envs::Space;

use crate::networks::{param_counts, ConvConfig, ConvEncoder, Mlp, MlpConfig};
use crate::plasticity::DormantCount;

/// Which encoder an observation space gets.
#[derive(Debug, Clone, PartialEq)]
pub enum EncoderConfig {
    /// Vector observations: an MLP with ReLU after every layer.
    Mlp(MlpConfig),
    /// Pixel observations `[c, h, w]`: three convolutions and a linear layer.
    Conv(ConvConfig),
    /// No layers: features are the flat observation of this size.
    Identity(usize),
}

impl EncoderConfig {
    /// The encoder for `space`. `hidden`: the MLP's layer sizes (the last is the feature size), or for
    /// pixels one entry, the feature size of the conv encoder.
    pub fn for_space(space: &Space, hidden: &[usize]) -> Result<Self, String> {
        match space {
            Space::Box { shape, .. } if shape.len() == 1 => Ok(match hidden.split_last() {
                None => Self::Identity(shape[0]),
                Some((last, rest)) => Self::Mlp(MlpConfig {
                    d_in: shape[0],
                    hidden: rest.to_vec(),
                    d_out: *last,
                    activate_last: true,
                }),
            }),
            Space::Box { shape, .. } if shape.len() == 3 => {
                let [features] = hidden else {
                    return Err(format!(
                        "encoder_hidden for pixel observations is one feature size, got {hidden:?}"
                    ));
                };
                let config = ConvConfig {
                    input: [shape[0], shape[1], shape[2]],
                    features: *features,
                };
                config.check()?;
                Ok(Self::Conv(config))
            }
            other => Err(format!("no encoder for observation space {other}")),
        }
    }

    pub fn init<B: Backend>(&self, device: &B::Device) -> Encoder<B> {
        let d_in = match self {
            Self::Mlp(c) => c.d_in,
            Self::Conv(c) => c.input.iter().product(),
            Self::Identity(d) => *d,
        };
        Encoder {
            mlp: if let Self::Mlp(c) = self {
                Some(c.init(device))
            } else {
                None
            },
            conv: if let Self::Conv(c) = self {
                Some(c.init(device))
            } else {
                None
            },
            d_in,
        }
    }
}

/// The encoder module (at most one of `mlp` and `conv`; neither is the identity).
#[derive(Module, Debug)]
pub struct Encoder<B: Backend> {
    mlp: Option<Mlp<B>>,
    conv: Option<ConvEncoder<B>>,
    d_in: usize,
}

impl<B: Backend> Encoder<B> {
    /// Flat observations `[batch, obs_dim]` to features `[batch, d_out]`.
    pub fn forward(&self, obs: Tensor<B, 2>, dense_grad: bool) -> Tensor<B, 2> {
        match (&self.mlp, &self.conv) {
            (Some(mlp), _) => mlp.forward(obs, dense_grad),
            (_, Some(conv)) => conv.forward(obs, dense_grad),
            _ => obs,
        }
    }

    /// The τ-dormant neurons of the encoder on the batch `obs` (none for the identity encoder).
    pub fn dormant(&self, obs: Tensor<B, 2>, tau: f64) -> DormantCount {
        match (&self.mlp, &self.conv) {
            (Some(mlp), _) => mlp.dormant(obs, tau),
            (_, Some(conv)) => conv.dormant(obs, tau),
            _ => DormantCount::default(),
        }
    }

    pub fn d_out(&self) -> usize {
        match (&self.mlp, &self.conv) {
            (Some(mlp), _) => mlp.d_out(),
            (_, Some(conv)) => conv.d_out(),
            _ => self.d_in,
        }
    }

    pub fn sparse_layers(&self) -> Vec<&dyn SparseLayer<B>> {
        let mut layers = self.mlp.as_ref().map_or_else(Vec::new, Mlp::sparse_layers);
        layers.extend(
            self.conv
                .as_ref()
                .map_or_else(Vec::new, ConvEncoder::sparse_layers),
        );
        layers
    }

    pub fn sparse_layers_mut(&mut self) -> Vec<&mut dyn SparseLayer<B>> {
        let mut layers = self.mlp.as_mut().map_or_else(Vec::new, Mlp::sparse_layers_mut);
        layers.extend(
            self.conv
                .as_mut()
                .map_or_else(Vec::new, ConvEncoder::sparse_layers_mut),
        );
        layers
    }

    pub fn mask_ids(&self) -> HashSet<ParamId> {
        let mut ids = self.mlp.as_ref().map(Mlp::mask_ids).unwrap_or_default();
        ids.extend(self.conv.as_ref().map(ConvEncoder::mask_ids).unwrap_or_default());
        ids
    }

    /// Output positions per example of each sparse layer (convolutions: output h·w), for FLOP counts.
    pub fn positions(&self) -> Vec<usize> {
        let convs = self.conv.as_ref().map_or_else(Vec::new, |c| {
            let [_, h, w] = c.input_shape();
            ConvConfig {
                input: [0, h, w],
                features: 0,
            }
            .spatial()
            .iter()
            .map(|[h, w]| h * w)
            .chain([1])
            .collect()
        });
        let mlp = self.mlp.as_ref().map_or(0, |m| m.layers.len());
        std::iter::repeat_n(1, mlp).chain(convs).collect()
    }

    /// The encoder's layers in inference form (none for the identity); conv encoders have no plain-Rust
    /// kernel and are refused.
    pub fn inference_layers(&self) -> Result<Vec<(InferenceLayer, Activation)>, String> {
        match (&self.mlp, &self.conv) {
            (Some(mlp), _) => mlp.inference_layers(None),
            (_, Some(_)) => {
                Err("a conv (pixel) encoder has no plain-Rust inference kernel to export to".into())
            }
            _ => Ok(Vec::new()),
        }
    }

    pub fn param_counts(&self) -> (usize, usize) {
        param_counts(self, &self.mask_ids())
    }
}

/// An encoder trained under one module (`encoder`): its one part answers to the module's name. The
/// MLP encoder takes `masked` and `execution`; conv encoders always apply their masks, masked-dense.
impl<B: Backend> SparseParts<B> for Encoder<B> {
    fn part_layers(&self, _name: &str) -> Vec<&dyn SparseLayer<B>> {
        self.sparse_layers()
    }

    fn part_layers_mut(&mut self, _name: &str) -> Vec<&mut dyn SparseLayer<B>> {
        self.sparse_layers_mut()
    }

    fn configure_part(&mut self, name: &str, masked: bool, execution: Execution) {
        if let Some(mlp) = self.mlp.as_mut() {
            mlp.configure_part(name, masked, execution);
        }
    }
}
