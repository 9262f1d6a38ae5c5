//! An MLP of exported layers with activations between, run with caller-provided buffers.

use super::{CsrLinear, DenseLinear, DiagonalInference, InferenceLinear};
use crate::error::DstError;

/// Elementwise activation applied after a layer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Activation {
    /// No activation (typically the output layer).
    Identity,
    /// `max(0, x)`.
    Relu,
    /// `tanh(x)`.
    Tanh,
}

impl Activation {
    fn apply(self, values: &mut [f32]) {
        match self {
            Activation::Identity => {}
            Activation::Relu => values.iter_mut().for_each(|v| *v = v.max(0.0)),
            Activation::Tanh => values.iter_mut().for_each(|v| *v = v.tanh()),
        }
    }
}

/// One exported layer.
#[derive(Clone, Debug, PartialEq)]
pub enum InferenceLayer {
    /// Dense reference.
    Dense(DenseLinear),
    /// Unstructured sparse.
    Csr(CsrLinear),
    /// Frozen DynaDiag.
    Diagonal(DiagonalInference),
}

impl InferenceLayer {
    fn kernel(&self) -> &dyn InferenceLinear {
        match self {
            InferenceLayer::Dense(l) => l,
            InferenceLayer::Csr(l) => l,
            InferenceLayer::Diagonal(l) => l,
        }
    }
}

/// Layers with the activation that follows each.
#[derive(Clone, Debug, PartialEq)]
pub struct SparseMlp {
    layers: Vec<(InferenceLayer, Activation)>,
}

/// Scratch space for [`SparseMlp::forward`]: two ping-pong activation buffers sized for `max_batch`.
#[derive(Clone, Debug)]
pub struct MlpBuffers {
    max_batch: usize,
    front: Vec<f32>,
    back: Vec<f32>,
}

impl SparseMlp {
    /// Chain layers; each layer's input width must equal the previous layer's output width.
    pub fn new(layers: Vec<(InferenceLayer, Activation)>) -> Result<Self, DstError> {
        if layers.is_empty() {
            return Err("SparseMlp needs at least one layer".into());
        }
        for (i, pair) in layers.windows(2).enumerate() {
            let (out, next_in) = (
                pair[0].0.kernel().out_features(),
                pair[1].0.kernel().in_features(),
            );
            if out != next_in {
                return Err(format!(
                    "SparseMlp: layer {i} has {out} outputs but layer {} takes {next_in} inputs",
                    i + 1
                )
                .into());
            }
        }
        Ok(Self { layers })
    }

    /// The layers with the activation after each.
    pub fn layers(&self) -> &[(InferenceLayer, Activation)] {
        &self.layers
    }

    /// Input features of the first layer.
    pub fn in_features(&self) -> usize {
        self.layers[0].0.kernel().in_features()
    }

    /// Output features of the last layer.
    pub fn out_features(&self) -> usize {
        self.layers[self.layers.len() - 1].0.kernel().out_features()
    }

    /// Buffers for batches up to `max_batch`.
    pub fn buffers(&self, max_batch: usize) -> MlpBuffers {
        let widest = self
            .layers
            .iter()
            .map(|(l, _)| l.kernel().in_features().max(l.kernel().out_features()))
            .max()
            .unwrap_or(0);
        MlpBuffers {
            max_batch,
            front: vec![0.0; widest * max_batch],
            back: vec![0.0; widest * max_batch],
        }
    }

    /// Forward a row-major `[batch × in]` input into a row-major `[batch × out]` output. Allocation-free.
    pub fn forward(
        &self,
        input: &[f32],
        batch: usize,
        buffers: &mut MlpBuffers,
        output: &mut [f32],
    ) -> Result<(), DstError> {
        let (n_in, n_out) = (self.in_features(), self.out_features());
        if batch == 0 || batch > buffers.max_batch {
            return Err(format!("SparseMlp: batch = {batch} outside 1..={}", buffers.max_batch).into());
        }
        if input.len() != batch * n_in || output.len() != batch * n_out {
            return Err(format!(
                "SparseMlp: input has {} and output {} entries, expected {batch} · {n_in} and {batch} · {n_out}",
                input.len(),
                output.len()
            ).into());
        }
        transpose(input, batch, n_in, &mut buffers.front[..batch * n_in]);
        for (layer, activation) in &self.layers {
            let kernel = layer.kernel();
            let (x, y) = (
                &buffers.front[..kernel.in_features() * batch],
                &mut buffers.back[..kernel.out_features() * batch],
            );
            kernel.forward_feature_major(x, batch, y);
            activation.apply(y);
            std::mem::swap(&mut buffers.front, &mut buffers.back);
        }
        transpose(&buffers.front[..n_out * batch], n_out, batch, output);
        Ok(())
    }
}

/// Transpose a row-major `[rows × cols]` matrix into `out` (`[cols × rows]`).
fn transpose(x: &[f32], rows: usize, cols: usize, out: &mut [f32]) {
    if rows == 1 || cols == 1 {
        out.copy_from_slice(x);
        return;
    }
    for r in 0..rows {
        for c in 0..cols {
            out[c * rows + r] = x[r * cols + c];
        }
    }
}
