//! FLOP accounting as the DST papers report it.
//!
//! Rules of Evci et al. 2020 (RigL, "Rigging the Lottery", section 4 and appendix H), used by the later
//! DST papers (Graesser et al. 2022; MAST; ADAPT):
//! - forward FLOPs of a layer per example = 2 · active connections (a multiply and an add each) per
//!   output position, plus one add per output for a bias (biases stay dense);
//! - a training step ≈ 3 × forward (forward, gradient w.r.t. activations, gradient w.r.t. weights),
//!   for dense and for static sparse training alike; SET's mask update is negligible;
//! - RigL's update steps need the dense weight gradient: forward `f_S`, activation gradient `f_S`, dense
//!   weight gradient `f_D`. With one update step in every ΔT steps, a step costs on average
//!   `(3 f_S (ΔT − 1) + 2 f_S + f_D) / ΔT` (the paper writes the same count with period ΔT + 1:
//!   `(3 f_S ΔT + 2 f_S + f_D) / (ΔT + 1)`); outside the update window (after the last update) 3 f_S;
//! - SNFS needs the dense gradient every step: `2 f_S + f_D`;
//! - inference = one forward.
//!
//! Costs are per example. FLOPs are linear in each layer's density, so a schedule whose density changes
//! over training (dense-to-sparse, sparse-to-dense, ADAPT's discriminator) is accounted for exactly by
//! passing each layer's time-averaged density.

use crate::error::DstError;
use std::ops::Add;

/// One layer's shape and density for FLOP counting.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LayerSpec {
    /// Inputs feeding one output unit: `n_in` for a linear layer, `c_in · k_h · k_w` for a convolution.
    pub fan_in: usize,
    /// Output units: `n_out`, or output channels.
    pub fan_out: usize,
    /// Outputs of every unit per example: 1 for a linear layer, `h_out · w_out` for a convolution, the
    /// number of time steps for a recurrent gate matrix applied once per step.
    pub positions: usize,
    /// Whether the layer adds a (dense) bias.
    pub bias: bool,
    /// Fraction of the `fan_in · fan_out` connections that are active.
    pub density: f64,
}

impl LayerSpec {
    /// A linear layer `n_in → n_out` with bias.
    pub fn linear(n_in: usize, n_out: usize, density: f64) -> Self {
        Self {
            fan_in: n_in,
            fan_out: n_out,
            positions: 1,
            bias: true,
            density,
        }
    }

    /// A 2-D convolution with bias over an `h_out × w_out` output.
    pub fn conv2d(c_in: usize, c_out: usize, kernel: [usize; 2], output: [usize; 2], density: f64) -> Self {
        Self {
            fan_in: c_in * kernel[0] * kernel[1],
            fan_out: c_out,
            positions: output[0] * output[1],
            bias: true,
            density,
        }
    }

    /// The same layer without a bias.
    pub fn without_bias(self) -> Self {
        Self { bias: false, ..self }
    }

    /// Forward FLOPs per example at this layer's density.
    pub fn forward_flops(&self) -> f64 {
        self.forward_flops_at(self.density)
    }

    /// Forward FLOPs per example of the dense layer.
    pub fn dense_forward_flops(&self) -> f64 {
        self.forward_flops_at(1.0)
    }

    fn forward_flops_at(&self, density: f64) -> f64 {
        let connections = density * (self.fan_in * self.fan_out) as f64;
        let bias = if self.bias { self.fan_out as f64 } else { 0.0 };
        self.positions as f64 * (2.0 * connections + bias)
    }

    fn check(&self, index: usize) -> Result<(), DstError> {
        if self.fan_in == 0 || self.fan_out == 0 || self.positions == 0 {
            return Err(format!(
                "layer {index}: fan_in, fan_out and positions must be ≥ 1, got {} / {} / {}",
                self.fan_in, self.fan_out, self.positions
            )
            .into());
        }
        check_fraction(&format!("layer {index} density"), self.density)
    }
}

/// How a module is trained, for the per-step training cost.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum TrainingMethod {
    /// Dense training: 3 f_D per step (the layers' densities are ignored).
    Dense,
    /// Static sparse masks, SET, or any method whose updates need no dense gradient: 3 f_S.
    Static,
    /// RigL: a dense-gradient update step in every `update_interval` steps during the first
    /// `update_fraction` of training (e.g. 0.75 for the RL defaults), 3 f_S after.
    Rigl {
        /// ΔT, steps between updates.
        update_interval: u64,
        /// Fraction of training steps inside the update window, in [0, 1].
        update_fraction: f64,
    },
    /// SNFS: dense gradient (momentum) every step, 2 f_S + f_D.
    Snfs,
    /// DynaDiag: the soft phase (first `soft_fraction` of training) computes densely, 3 f_D; the frozen
    /// phase 3 f_S.
    DynaDiag {
        /// Fraction of training steps in the soft phase, in [0, 1].
        soft_fraction: f64,
    },
}

/// FLOPs per example of one module (or, summed with `+`, of a whole model).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct FlopReport {
    /// Average training FLOPs per example per step.
    pub train: f64,
    /// Training FLOPs per example per step of the dense module (3 f_D).
    pub train_dense: f64,
    /// Inference (forward) FLOPs per example.
    pub inference: f64,
    /// Inference FLOPs per example of the dense module.
    pub inference_dense: f64,
}

impl FlopReport {
    /// Training FLOPs relative to dense training.
    pub fn train_relative_to_dense(&self) -> f64 {
        self.train / self.train_dense
    }

    /// Inference FLOPs relative to the dense forward.
    pub fn inference_relative_to_dense(&self) -> f64 {
        self.inference / self.inference_dense
    }
}

impl Add for FlopReport {
    type Output = FlopReport;

    fn add(self, other: FlopReport) -> FlopReport {
        FlopReport {
            train: self.train + other.train,
            train_dense: self.train_dense + other.train_dense,
            inference: self.inference + other.inference,
            inference_dense: self.inference_dense + other.inference_dense,
        }
    }
}

/// Training and inference FLOPs of a module made of `layers`, trained by `method`.
pub fn flop_report(layers: &[LayerSpec], method: TrainingMethod) -> Result<FlopReport, DstError> {
    if layers.is_empty() {
        return Err("flop_report: no layers".into());
    }
    for (i, layer) in layers.iter().enumerate() {
        layer.check(i)?;
    }
    let f_dense: f64 = layers.iter().map(LayerSpec::dense_forward_flops).sum();
    let f_sparse: f64 = match method {
        TrainingMethod::Dense => f_dense,
        _ => layers.iter().map(LayerSpec::forward_flops).sum(),
    };
    let train = match method {
        TrainingMethod::Dense | TrainingMethod::Static => 3.0 * f_sparse,
        TrainingMethod::Rigl {
            update_interval,
            update_fraction,
        } => {
            if update_interval == 0 {
                return Err("flop_report: RigL update_interval must be ≥ 1, got 0".into());
            }
            check_fraction("RigL update_fraction", update_fraction)?;
            let dt = update_interval as f64;
            let in_window = (3.0 * f_sparse * (dt - 1.0) + 2.0 * f_sparse + f_dense) / dt;
            update_fraction * in_window + (1.0 - update_fraction) * 3.0 * f_sparse
        }
        TrainingMethod::Snfs => 2.0 * f_sparse + f_dense,
        TrainingMethod::DynaDiag { soft_fraction } => {
            check_fraction("DynaDiag soft_fraction", soft_fraction)?;
            soft_fraction * 3.0 * f_dense + (1.0 - soft_fraction) * 3.0 * f_sparse
        }
    };
    Ok(FlopReport {
        train,
        train_dense: 3.0 * f_dense,
        inference: f_sparse,
        inference_dense: f_dense,
    })
}

fn check_fraction(name: &str, value: f64) -> Result<(), DstError> {
    if (0.0..=1.0).contains(&value) {
        Ok(())
    } else {
        Err(format!("{name} must lie in [0, 1], got {value}").into())
    }
}
