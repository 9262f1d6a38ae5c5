//! `DiagonalLinear`: the DynaDiag layer (Tyagi et al., "Dynamic Sparse Training of Diagonally Sparse
//! Networks", ICML 2025, arXiv 2506.11449), after the authors' `TempSoftmaxDiagLinear`
//! (horizon-research/DynaDiag, `MLP/linear_softmax.py`).
//!
//! Parameters: diagonal values `V [P × D]`, diagonal scores `α [P]` and a bias. Two phases:
//! - soft: `a = clamp(K · softmax(α / T), 0, 1)` and the weight at diagonal `p`, element `t` is
//!   `a_p · V[p, t]`; α learns through `a`. The weight is built densely (a permutation gather of the
//!   scaled values), so this phase costs a dense matmul, as in the authors' code.
//! - frozen: the top-K diagonals by α are fixed and α stops learning. The forward gathers the input
//!   columns of the K stored diagonals (`select`), multiplies by their values and adds the products into
//!   the output rows (`select_assign` with `Add`); burn's autodiff then gives gradients only to the K
//!   stored rows of `V` (the backward of `select` adds them into a zero `[P × D]` gradient).

use super::pattern::DiagonalPattern;
use super::phase::{Phase, PhaseState};
use crate::error::DstError;
use burn::config::Config;
use burn::module::{Module, Param};
use burn::tensor::activation::softmax;
use burn::tensor::backend::Backend;
use burn::tensor::{Distribution, IndexingUpdateOp, Int, Tensor, TensorData};
use rand::Rng;

/// Configuration of a [`DiagonalLinear`] layer.
#[derive(Config, Debug)]
pub struct DiagonalLinearConfig {
    /// Input features (columns of the weight, `n`).
    pub d_input: usize,
    /// Output features (rows of the weight, `m`).
    pub d_output: usize,
    /// Target density; the layer keeps `K = max(1, ⌈density · m · n / D⌉)` diagonals.
    #[config(default = 0.1)]
    pub density: f64,
    /// Whether the layer has a bias (zero-initialised, as in the authors' code).
    #[config(default = true)]
    pub bias: bool,
    /// Softmax temperature at the start of the soft phase (the paper's anneal starts at 5.0).
    #[config(default = 5.0)]
    pub initial_temperature: f32,
}

impl DiagonalLinearConfig {
    /// Build the layer in its soft phase.
    ///
    /// `V` is uniform in `±1/√D` (PyTorch's `kaiming_uniform_(a = √5)` on the `[P × D]` tensor, as the
    /// authors initialise it), `α = 1/P`, the bias zero.
    pub fn init<B: Backend>(&self, device: &B::Device) -> Result<DiagonalLinear<B>, DstError> {
        let pattern = DiagonalPattern::new(self.d_output, self.d_input)?;
        let k = pattern.active_for_density(self.density)?;
        check_temperature(self.initial_temperature)?;
        let (p, d) = (pattern.num_diagonals(), pattern.diagonal_len());
        let bound = 1.0 / (d as f64).sqrt();
        let values = Tensor::<B, 2>::random([p, d], Distribution::Uniform(-bound, bound), device);
        let scores = Tensor::<B, 1>::full([p], 1.0 / p as f32, device);
        let bias = self
            .bias
            .then(|| Param::from_tensor(Tensor::zeros([self.d_output], device)));
        // Placeholder until `freeze` picks the top-K by score.
        let selection = int_tensor::<B>(&(0..k).collect::<Vec<_>>(), device);
        Ok(DiagonalLinear {
            values: Param::from_tensor(values),
            scores: Param::from_tensor(scores),
            bias,
            selection: Param::initialized(burn::module::ParamId::new(), selection),
            dense_index: int_tensor::<B>(&dense_gather_index(&pattern), device),
            phase: PhaseState::new(Phase::Soft {
                temperature: self.initial_temperature,
            }),
            out_features: self.d_output,
            in_features: self.d_input,
            active: k,
        })
    }
}

/// A linear layer whose weight is a union of K wrapped diagonals (DynaDiag). Input `[batch, d_input]`,
/// output `[batch, d_output]`.
#[derive(Module, Debug)]
pub struct DiagonalLinear<B: Backend> {
    /// Diagonal values `V [P × D]`; row `p` is diagonal `p` (see [`DiagonalPattern`]).
    pub values: Param<Tensor<B, 2>>,
    /// Diagonal scores `α [P]`, learned in the soft phase only.
    pub scores: Param<Tensor<B, 1>>,
    /// Bias `[d_output]`.
    pub bias: Option<Param<Tensor<B, 1>>>,
    /// The K stored diagonal ids of the frozen phase, ascending (saved with the module).
    selection: Param<Tensor<B, 1, Int>>,
    /// `dense_index[c · m + r] = p · D + t` for the element `(r, c)` of diagonal `p`, element `t`: gathers
    /// the `[n × m]` weight (burn's Linear layout) from the flattened scaled values. Fixed by the shape.
    dense_index: Tensor<B, 1, Int>,
    phase: PhaseState<B>,
    out_features: usize,
    in_features: usize,
    active: usize,
}

/// How [`DiagonalLinear::prune_and_regrow`] picks the diagonals to add.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DiagonalRegrow {
    /// The highest frozen scores α among the diagonals that were inactive before the update.
    Score,
    /// Uniformly at random among the diagonals that were inactive before the update.
    Random,
}

/// What a diagonal-level topology update changed (for resetting optimizer moments of these rows of `V`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DiagonalUpdate {
    /// Diagonals removed, ascending.
    pub pruned: Vec<usize>,
    /// Diagonals added (values start at zero), ascending.
    pub grown: Vec<usize>,
}

impl<B: Backend> DiagonalLinear<B> {
    /// The diagonal geometry of the weight.
    pub fn pattern(&self) -> DiagonalPattern {
        DiagonalPattern::new(self.out_features, self.in_features).expect("checked at init")
    }

    /// Number of active diagonals K.
    pub fn num_active(&self) -> usize {
        self.active
    }

    /// The current phase.
    pub fn phase(&self) -> Phase {
        self.phase.phase
    }

    /// The stored diagonal ids (meaningful once frozen), ascending.
    pub fn selection(&self) -> Vec<usize> {
        self.selection
            .val()
            .into_data()
            .iter::<i64>()
            .map(|v| v as usize)
            .collect()
    }

    /// Set the soft-phase temperature (see [`TemperatureSchedule`](super::TemperatureSchedule)).
    pub fn set_temperature(mut self, temperature: f32) -> Result<Self, DstError> {
        check_temperature(temperature)?;
        if self.phase.phase == Phase::Frozen {
            return Err("set_temperature: the diagonal layer is already frozen".into());
        }
        self.phase = PhaseState::new(Phase::Soft { temperature });
        Ok(self)
    }

    /// Move to the phase a [`TemperatureSchedule`](super::TemperatureSchedule) gives for the current step:
    /// set the temperature while soft, freeze once frozen.
    pub fn enter(self, phase: Phase) -> Result<Self, DstError> {
        match phase {
            Phase::Soft { temperature } => self.set_temperature(temperature),
            Phase::Frozen => Ok(self.freeze()),
        }
    }

    /// End the soft phase: keep the top-K diagonals by α (ties to the lower id), zero the values of the
    /// others so that inactive weights are exactly zero, and stop α from learning (the frozen forward
    /// does not use it). Freezing a frozen layer changes nothing.
    pub fn freeze(mut self) -> Self {
        if self.phase.phase == Phase::Frozen {
            return self;
        }
        let scores = host_f32(self.scores.val());
        let mut order: Vec<usize> = (0..scores.len()).collect();
        order.sort_by(|&a, &b| scores[b].total_cmp(&scores[a]).then(a.cmp(&b)));
        let mut chosen = order[..self.active].to_vec();
        chosen.sort_unstable();
        self.phase = PhaseState::new(Phase::Frozen);
        self.store_selection(&chosen, &[])
    }

    /// The effective weight as a row-major `[d_output × d_input]` host array: `a_p · V[p, t]` in the soft
    /// phase, the stored diagonals in the frozen phase.
    pub fn dense_weight(&self) -> Vec<f32> {
        let pattern = self.pattern();
        let (p, d) = (pattern.num_diagonals(), pattern.diagonal_len());
        match self.phase.phase {
            Phase::Soft { temperature } => {
                let gate = host_f32(self.soft_gate(temperature));
                let values = host_f32(self.values.val());
                let scaled: Vec<f32> = (0..p * d).map(|i| gate[i / d] * values[i]).collect();
                pattern.to_dense(&(0..p).collect::<Vec<_>>(), &scaled)
            }
            Phase::Frozen => {
                let selection = self.selection();
                pattern.to_dense(&selection, &self.stored_values())
            }
        }
    }

    /// Values of the stored diagonals, `[K × D]` row-major in the order of [`selection`](Self::selection).
    pub fn stored_values(&self) -> Vec<f32> {
        let selected = self.values.val().select(0, self.selection.val());
        host_f32(selected)
    }

    /// Row mask of `V` (`[P × D]` row-major, true on stored diagonals): multiply optimizer moments of `V`
    /// by it after a topology update so that stale moments never move an inactive value.
    pub fn values_mask(&self) -> Vec<bool> {
        let d = self.pattern().diagonal_len();
        let mut rows = vec![false; self.pattern().num_diagonals()];
        for p in self.selection() {
            rows[p] = true;
        }
        rows.iter().flat_map(|&on| std::iter::repeat_n(on, d)).collect()
    }

    /// Forward `[batch, d_input] → [batch, d_output]`.
    pub fn forward(&self, input: Tensor<B, 2>) -> Tensor<B, 2> {
        let output = match self.phase.phase {
            Phase::Soft { temperature } => self.forward_soft(input, temperature),
            Phase::Frozen => self.forward_frozen(input),
        };
        match &self.bias {
            Some(bias) => output + bias.val().unsqueeze_dim(0),
            None => output,
        }
    }

    /// Diagonal-level drop and regrow in the frozen phase, keeping K exact: drop the
    /// `⌈fraction · K⌉` stored diagonals of lowest L2 norm of their values (capped at the `P − K`
    /// diagonals available to regrow), then add as many among the diagonals that were inactive before
    /// the update (so a just-dropped diagonal is not re-added at once), by score or at random. Dropped
    /// and grown diagonals get zero values (RigL-style zero init); reset their optimizer moments.
    pub fn prune_and_regrow(
        self,
        fraction: f64,
        regrow: DiagonalRegrow,
        rng: &mut impl Rng,
    ) -> Result<(Self, DiagonalUpdate), DstError> {
        if self.phase.phase != Phase::Frozen {
            return Err("prune_and_regrow: freeze the diagonal layer first".into());
        }
        if !(0.0..=1.0).contains(&fraction) {
            return Err(
                format!("prune_and_regrow: fraction must lie in [0, 1], got fraction = {fraction}").into(),
            );
        }
        let pattern = self.pattern();
        let (p, d) = (pattern.num_diagonals(), pattern.diagonal_len());
        let selection = self.selection();
        let inactive: Vec<usize> = (0..p).filter(|q| selection.binary_search(q).is_err()).collect();
        let n = ((fraction * self.active as f64).ceil() as usize).min(inactive.len());
        let values = host_f32(self.values.val());
        let norm = |q: usize| values[q * d..(q + 1) * d].iter().map(|v| v * v).sum::<f32>();
        let mut by_norm = selection.clone();
        by_norm.sort_by(|&a, &b| norm(a).total_cmp(&norm(b)).then(a.cmp(&b)));
        let mut pruned = by_norm[..n].to_vec();
        let mut grown = match regrow {
            DiagonalRegrow::Score => {
                let scores = host_f32(self.scores.val());
                let mut by_score = inactive;
                by_score.sort_by(|&a, &b| scores[b].total_cmp(&scores[a]).then(a.cmp(&b)));
                by_score[..n].to_vec()
            }
            DiagonalRegrow::Random => rand::seq::index::sample(rng, inactive.len(), n)
                .into_iter()
                .map(|i| inactive[i])
                .collect(),
        };
        pruned.sort_unstable();
        grown.sort_unstable();
        let mut chosen: Vec<usize> = selection
            .into_iter()
            .filter(|q| pruned.binary_search(q).is_err())
            .chain(grown.clone())
            .collect();
        chosen.sort_unstable();
        let layer = self.store_selection(&chosen, &grown);
        Ok((layer, DiagonalUpdate { pruned, grown }))
    }

    /// `a = clamp(K · softmax(α / T), 0, 1)`, shape `[P]`.
    fn soft_gate(&self, temperature: f32) -> Tensor<B, 1> {
        let logits = self.scores.val().div_scalar(temperature);
        softmax(logits, 0).mul_scalar(self.active as f32).clamp(0.0, 1.0)
    }

    fn forward_soft(&self, input: Tensor<B, 2>, temperature: f32) -> Tensor<B, 2> {
        let scaled = self.values.val() * self.soft_gate(temperature).unsqueeze_dim(1);
        let [p, d] = scaled.dims();
        let weight = scaled
            .reshape([p * d])
            .select(0, self.dense_index.clone())
            .reshape([self.in_features, self.out_features]);
        input.matmul(weight)
    }

    fn forward_frozen(&self, input: Tensor<B, 2>) -> Tensor<B, 2> {
        let [batch, _] = input.dims();
        let (rows, cols) = self.stored_indices();
        let stored = self.values.val().select(0, self.selection.val());
        let [k, d] = stored.dims();
        let products = input.select(1, cols) * stored.reshape([1, k * d]);
        Tensor::zeros([batch, self.out_features], &products.device()).select_assign(
            1,
            rows,
            products,
            IndexingUpdateOp::Add,
        )
    }

    /// Flattened `[K · D]` row and column of every stored element, computed on the device from the
    /// selection (no host round trip, and never stale after loading a record).
    fn stored_indices(&self) -> (Tensor<B, 1, Int>, Tensor<B, 1, Int>) {
        let pattern = self.pattern();
        let d = pattern.diagonal_len();
        let offsets = self.selection.val();
        let k = offsets.dims()[0];
        let device = offsets.device();
        let along = Tensor::<B, 1, Int>::arange(0..d as i64, &device)
            .reshape([1, d])
            .repeat_dim(0, k);
        let shifted = offsets.reshape([k, 1]) + along.clone();
        let (rows, cols) = if pattern.offsets_rows() {
            (shifted.remainder_scalar(self.out_features as i64), along)
        } else {
            (along, shifted.remainder_scalar(self.in_features as i64))
        };
        (rows.reshape([k * d]), cols.reshape([k * d]))
    }

    /// Store a new selection; zero the values of every diagonal outside it and of `zeroed`.
    fn store_selection(mut self, chosen: &[usize], zeroed: &[usize]) -> Self {
        let pattern = self.pattern();
        let mut keep = vec![0.0f32; pattern.num_diagonals()];
        for &q in chosen {
            keep[q] = 1.0;
        }
        for &q in zeroed {
            keep[q] = 0.0;
        }
        let device = self.values.val().device();
        let keep = Tensor::<B, 1>::from_data(TensorData::new(keep, [pattern.num_diagonals()]), &device);
        self.values = self.values.map(|v| {
            let require_grad = v.is_require_grad();
            (v * keep.unsqueeze_dim(1))
                .detach()
                .set_require_grad(require_grad)
        });
        self.selection = self.selection.map(|_| int_tensor::<B>(chosen, &device));
        debug_assert_eq!(chosen.len(), self.active);
        self
    }
}

fn check_temperature(temperature: f32) -> Result<(), DstError> {
    if temperature.is_finite() && temperature > 0.0 {
        Ok(())
    } else {
        Err(format!("diagonal temperature must be finite and > 0, got temperature = {temperature}").into())
    }
}

/// `index[c · m + r] = p · D + t` over all elements `(r, c)` of all diagonals (a permutation of `m · n`).
fn dense_gather_index(pattern: &DiagonalPattern) -> Vec<usize> {
    let m = pattern.out_features();
    let d = pattern.diagonal_len();
    let mut index = vec![0; pattern.out_features() * pattern.in_features()];
    for p in 0..pattern.num_diagonals() {
        for t in 0..d {
            let (r, c) = pattern.position(p, t);
            index[c * m + r] = p * d + t;
        }
    }
    index
}

fn int_tensor<B: Backend>(values: &[usize], device: &B::Device) -> Tensor<B, 1, Int> {
    let data: Vec<i64> = values.iter().map(|&v| v as i64).collect();
    Tensor::from_data(TensorData::new(data, [values.len()]), device)
}

fn host_f32<B: Backend, const D: usize>(tensor: Tensor<B, D>) -> Vec<f32> {
    tensor.into_data().iter::<f32>().collect()
}
