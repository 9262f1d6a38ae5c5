//! DynaDiag layer: geometry, both phases against a masked dense layer (forward and gradients), freezing,
//! diagonal-level prune and regrow, the temperature schedule and the saved phase.

use burn::backend::{Autodiff, Flex, NdArray};
use burn::module::Module;
use burn::record::{FullPrecisionSettings, NamedMpkBytesRecorder, Recorder};
use burn::tensor::backend::{AutodiffBackend, Backend};
use burn::tensor::{Distribution, Tensor, TensorData};
use proptest::prelude::*;
use rand::rngs::StdRng;
use rand::SeedableRng;
use sparse_rl_dst::diagonal::{
    DiagonalLinear, DiagonalLinearConfig, DiagonalPattern, DiagonalRegrow, Phase, TemperatureSchedule,
};

type Nd = Autodiff<NdArray>;
type Fx = Autodiff<Flex>;

fn host<B: Backend, const D: usize>(t: Tensor<B, D>) -> Vec<f32> {
    t.into_data().iter::<f32>().collect()
}

fn close(a: &[f32], b: &[f32], tol: f32) -> Result<(), String> {
    if a.len() != b.len() {
        return Err(format!("lengths {} vs {}", a.len(), b.len()));
    }
    for (i, (x, y)) in a.iter().zip(b).enumerate() {
        if (x - y).abs() > tol * (1.0 + y.abs()) {
            return Err(format!("entry {i}: {x} vs {y}"));
        }
    }
    Ok(())
}

/// A layer with random scores (so that the frozen selection is not simply the first K ids) and bias.
fn random_layer<B: Backend>(m: usize, n: usize, density: f64, device: &B::Device) -> DiagonalLinear<B> {
    let mut layer = DiagonalLinearConfig::new(n, m)
        .with_density(density)
        .init::<B>(device)
        .unwrap();
    let p = layer.pattern().num_diagonals();
    layer.scores = layer
        .scores
        .map(|_| Tensor::random([p], Distribution::Uniform(0.0, 1.0), device).require_grad());
    layer.bias = layer
        .bias
        .map(|b| b.map(|_| Tensor::random([m], Distribution::Uniform(-1.0, 1.0), device).require_grad()));
    layer
}

/// Soft gate a_p = clamp(K · softmax(α / T), 0, 1) computed on the host, independently of the layer.
fn soft_gate(scores: &[f32], k: usize, temperature: f32) -> Vec<f32> {
    let max = scores.iter().cloned().fold(f32::MIN, f32::max);
    let exp: Vec<f64> = scores
        .iter()
        .map(|s| (((s - max) / temperature) as f64).exp())
        .collect();
    let total: f64 = exp.iter().sum();
    exp.iter()
        .map(|e| ((k as f64 * e / total) as f32).clamp(0.0, 1.0))
        .collect()
}

/// Compare the layer's forward and the gradients of V and x with a masked dense layer carrying the same
/// effective weight: y = x (W ⊙ M)ᵀ + b with W, M built on the host from the diagonal geometry.
fn check_against_masked_dense<B: AutodiffBackend>(
    layer: &DiagonalLinear<B>,
    batch: usize,
    device: &B::Device,
) -> Result<(), String> {
    let pattern = layer.pattern();
    let (m, n) = (pattern.out_features(), pattern.in_features());
    let (p, d) = (pattern.num_diagonals(), pattern.diagonal_len());
    let values = host(layer.values.val());
    // Per-diagonal scale of the effective weight: the soft gate, or 1 on the stored diagonals.
    let scale: Vec<f32> = match layer.phase() {
        Phase::Soft { temperature } => soft_gate(&host(layer.scores.val()), layer.num_active(), temperature),
        Phase::Frozen => {
            let mut s = vec![0.0; p];
            layer.selection().into_iter().for_each(|q| s[q] = 1.0);
            s
        }
    };
    let mut weight = vec![0.0f32; m * n];
    let mut mask = vec![0.0f32; m * n];
    for q in 0..p {
        for t in 0..d {
            let (r, c) = pattern.position(q, t);
            weight[r * n + c] = values[q * d + t];
            mask[r * n + c] = scale[q];
        }
    }
    let x_data = Tensor::<B, 2>::random([batch, n], Distribution::Uniform(-1.0, 1.0), device).into_data();
    let probe = Tensor::<B, 2>::random([batch, m], Distribution::Uniform(-1.0, 1.0), device);

    // The layer.
    let x = Tensor::<B, 2>::from_data(x_data.clone(), device).require_grad();
    let y = layer.forward(x.clone());
    let grads = (y.clone() * probe.clone()).sum().backward();
    let grad_v = host(layer.values.grad(&grads).ok_or("no gradient reached V")?);
    let grad_x = host(x.grad(&grads).unwrap());

    // The masked dense reference.
    let w = Tensor::<B, 2>::from_data(TensorData::new(weight, [m, n]), device).require_grad();
    let mask_t = Tensor::<B, 2>::from_data(TensorData::new(mask.clone(), [m, n]), device);
    let xr = Tensor::<B, 2>::from_data(x_data, device).require_grad();
    let bias = layer.bias.as_ref().map(|b| b.val().detach().unsqueeze_dim(0));
    let mut yr = xr.clone().matmul((w.clone() * mask_t).transpose());
    if let Some(b) = bias {
        yr = yr + b;
    }
    let grads_r = (yr.clone() * probe).sum().backward();
    let grad_w = host(w.grad(&grads_r).unwrap());
    let grad_xr = host(xr.grad(&grads_r).unwrap());
    // dV[q, t] = d(loss)/dW[r, c] at the element of diagonal q, which already carries the scale.
    let mut grad_v_ref = vec![0.0f32; p * d];
    for q in 0..p {
        for t in 0..d {
            let (r, c) = pattern.position(q, t);
            grad_v_ref[q * d + t] = grad_w[r * n + c];
        }
    }
    close(&host(y), &host(yr), 1e-5).map_err(|e| format!("forward: {e}"))?;
    close(&grad_v, &grad_v_ref, 1e-5).map_err(|e| format!("grad V: {e}"))?;
    close(&grad_x, &grad_xr, 1e-5).map_err(|e| format!("grad x: {e}"))?;
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    #[test]
    fn diagonals_partition_the_matrix(m in 1usize..40, n in 1usize..40) {
        let pattern = DiagonalPattern::new(m, n).unwrap();
        prop_assert_eq!(pattern.num_diagonals() * pattern.diagonal_len(), m * n);
        let mut hits = vec![0u32; m * n];
        for p in 0..pattern.num_diagonals() {
            let mut short_side = vec![false; pattern.diagonal_len()];
            for t in 0..pattern.diagonal_len() {
                let (r, c) = pattern.position(p, t);
                hits[r * n + c] += 1;
                // Each diagonal touches every row (m < n) or column (m ≥ n) of the short side once.
                let s = if m >= n { c } else { r };
                prop_assert!(!short_side[s]);
                short_side[s] = true;
            }
        }
        prop_assert!(hits.iter().all(|&h| h == 1));
    }

    #[test]
    fn frozen_phase_matches_masked_dense(
        m in 1usize..20, n in 1usize..20, density in 0.05f64..1.0, batch in 1usize..5,
    ) {
        let device = Default::default();
        let layer = random_layer::<Nd>(m, n, density, &device).freeze();
        prop_assert_eq!(layer.selection().len(), layer.num_active());
        check_against_masked_dense(&layer, batch, &device).map_err(TestCaseError::fail)?;
    }

    #[test]
    fn soft_phase_matches_masked_dense(
        m in 1usize..16, n in 1usize..16, density in 0.05f64..1.0, temperature in 0.05f32..5.0,
    ) {
        let device = Default::default();
        let layer = random_layer::<Nd>(m, n, density, &device).set_temperature(temperature).unwrap();
        check_against_masked_dense(&layer, 3, &device).map_err(TestCaseError::fail)?;
    }
}

#[test]
fn frozen_phase_matches_masked_dense_on_flex() {
    let device = Default::default();
    for (m, n) in [(12, 5), (5, 12), (8, 8)] {
        let layer = random_layer::<Fx>(m, n, 0.3, &device).freeze();
        check_against_masked_dense(&layer, 4, &device).unwrap();
    }
}

#[test]
fn active_diagonals_follow_the_density() {
    let square = DiagonalPattern::new(100, 100).unwrap();
    assert_eq!(square.active_for_density(0.1).unwrap(), 10);
    // 0.1 · 256 · 17 / 17 = 25.6 → 26.
    assert_eq!(
        DiagonalPattern::new(256, 17)
            .unwrap()
            .active_for_density(0.1)
            .unwrap(),
        26
    );
    // At least one diagonal, at most P.
    assert_eq!(square.active_for_density(1e-6).unwrap(), 1);
    assert_eq!(square.active_for_density(1.0).unwrap(), 100);
    assert!(square
        .active_for_density(0.0)
        .unwrap_err()
        .to_string()
        .contains("density"));
    assert!(DiagonalPattern::new(0, 3)
        .unwrap_err()
        .to_string()
        .contains("out_features = 0"));
}

#[test]
fn freeze_keeps_the_top_k_scores_and_zeroes_the_rest() {
    let device = Default::default();
    let mut layer = DiagonalLinearConfig::new(6, 6)
        .with_density(0.5)
        .init::<Nd>(&device)
        .unwrap();
    assert_eq!(layer.num_active(), 3);
    let scores = [0.1f32, 0.9, 0.3, 0.8, 0.2, 0.7];
    layer.scores = layer
        .scores
        .map(|_| Tensor::from_floats(scores, &device).require_grad());
    let layer = layer.freeze();
    assert_eq!(layer.phase(), Phase::Frozen);
    assert_eq!(layer.selection(), vec![1, 3, 5]);
    let values = host(layer.values.val());
    for q in [0, 2, 4] {
        assert!(
            values[q * 6..(q + 1) * 6].iter().all(|&v| v == 0.0),
            "diagonal {q} not zeroed"
        );
    }
    assert!(values[6..12].iter().any(|&v| v != 0.0));
    let mask = layer.values_mask();
    assert_eq!(mask.iter().filter(|&&b| b).count(), 18);
    assert!(layer
        .set_temperature(1.0)
        .unwrap_err()
        .to_string()
        .contains("frozen"));
}

#[test]
fn frozen_forward_gives_no_gradient_to_the_scores() {
    let device = Default::default();
    let layer = random_layer::<Nd>(7, 4, 0.5, &device).freeze();
    let x = Tensor::<Nd, 2>::random([2, 4], Distribution::Uniform(-1.0, 1.0), &device);
    let grads = layer.forward(x).sum().backward();
    assert!(layer.scores.grad(&grads).is_none());
    // While soft, the scores learn.
    let soft = random_layer::<Nd>(7, 4, 0.5, &device);
    let x = Tensor::<Nd, 2>::random([2, 4], Distribution::Uniform(-1.0, 1.0), &device);
    let grads = (soft.forward(x).powi_scalar(2)).sum().backward();
    assert!(host(soft.scores.grad(&grads).unwrap())
        .iter()
        .any(|g| g.abs() > 0.0));
}

#[test]
fn prune_and_regrow_keeps_k_and_follows_norms_and_scores() {
    let device = Default::default();
    // 8 × 8, K = 4 of P = 8.
    let mut layer = DiagonalLinearConfig::new(8, 8)
        .with_density(0.5)
        .init::<Nd>(&device)
        .unwrap();
    let scores = [0.9f32, 0.8, 0.7, 0.6, 0.5, 0.1, 0.4, 0.3];
    layer.scores = layer
        .scores
        .map(|_| Tensor::from_floats(scores, &device).require_grad());
    let layer = layer.freeze();
    assert_eq!(layer.selection(), vec![0, 1, 2, 3]);
    // Give diagonal q of the selection the norm (q + 1): diagonals 0 and 1 are the weakest.
    let mut values = vec![0.0f32; 64];
    for q in 0..4 {
        values[q * 8..(q + 1) * 8].fill((q + 1) as f32);
    }
    let mut layer = layer;
    layer.values = layer
        .values
        .map(|_| Tensor::from_data(TensorData::new(values, [8, 8]), &device).require_grad());
    let mut rng = StdRng::seed_from_u64(7);
    let (scored, update) = layer
        .clone()
        .prune_and_regrow(0.5, DiagonalRegrow::Score, &mut rng)
        .unwrap();
    assert_eq!(update.pruned, vec![0, 1]);
    // Highest scores among the previously inactive 4..8: 4 (0.5) and 6 (0.4).
    assert_eq!(update.grown, vec![4, 6]);
    assert_eq!(scored.selection(), vec![2, 3, 4, 6]);
    let v = host(scored.values.val());
    for q in [0, 1, 4, 6] {
        assert!(
            v[q * 8..(q + 1) * 8].iter().all(|&x| x == 0.0),
            "diagonal {q} should be zero"
        );
    }
    assert!(v[16..24].iter().all(|&x| x == 3.0));

    let (random, update) = layer
        .clone()
        .prune_and_regrow(0.25, DiagonalRegrow::Random, &mut rng)
        .unwrap();
    assert_eq!(update.pruned, vec![0]);
    assert_eq!(update.grown.len(), 1);
    assert!(
        update.grown[0] >= 4,
        "regrown from the previously inactive diagonals"
    );
    assert_eq!(random.selection().len(), 4);

    // At most P − K diagonals can be replaced.
    let (_, all) = layer
        .clone()
        .prune_and_regrow(1.0, DiagonalRegrow::Score, &mut rng)
        .unwrap();
    assert_eq!((all.pruned.len(), all.grown.len()), (4, 4));
    assert!(layer
        .clone()
        .prune_and_regrow(1.5, DiagonalRegrow::Score, &mut rng)
        .unwrap_err()
        .to_string()
        .contains("1.5"));
    let soft = DiagonalLinearConfig::new(8, 8).init::<Nd>(&device).unwrap();
    assert!(soft
        .prune_and_regrow(0.1, DiagonalRegrow::Score, &mut rng)
        .unwrap_err()
        .to_string()
        .contains("freeze"));
}

#[test]
fn the_record_restores_phase_and_selection() {
    let device = Default::default();
    let trained = random_layer::<NdArray>(9, 5, 0.4, &device).freeze();
    let fresh = DiagonalLinearConfig::new(5, 9)
        .with_density(0.4)
        .init::<NdArray>(&device)
        .unwrap();
    assert!(matches!(fresh.phase(), Phase::Soft { .. }));
    // Through bytes, as a checkpoint would go.
    let recorder = NamedMpkBytesRecorder::<FullPrecisionSettings>::new();
    let bytes = Recorder::<NdArray>::record(&recorder, trained.clone().into_record(), ()).unwrap();
    let loaded = fresh.load_record(Recorder::<NdArray>::load(&recorder, bytes, &device).unwrap());
    assert_eq!(loaded.phase(), Phase::Frozen);
    assert_eq!(loaded.selection(), trained.selection());
    let x = Tensor::<NdArray, 2>::random([3, 5], Distribution::Uniform(-1.0, 1.0), &device);
    close(&host(loaded.forward(x.clone())), &host(trained.forward(x)), 0.0).unwrap();

    let soft = random_layer::<NdArray>(9, 5, 0.4, &device)
        .set_temperature(0.7)
        .unwrap();
    let reloaded = trained.load_record(soft.into_record());
    assert_eq!(reloaded.phase(), Phase::Soft { temperature: 0.7 });
}

#[test]
fn temperature_anneals_by_a_cosine_then_freezes() {
    let schedule = TemperatureSchedule::paper(1000);
    assert_eq!(schedule.phase_at(0), Phase::Soft { temperature: 5.0 });
    // Halfway: 0.05 + 4.95 · ½ = 2.525.
    match schedule.phase_at(500) {
        Phase::Soft { temperature } => assert!((temperature - 2.525).abs() < 1e-6),
        other => panic!("expected soft, got {other:?}"),
    }
    // A quarter: 0.05 + 4.95 · ½ (1 + cos(π/4)) = 4.275089...
    match schedule.phase_at(250) {
        Phase::Soft { temperature } => assert!((temperature - 4.275089).abs() < 1e-5),
        other => panic!("expected soft, got {other:?}"),
    }
    assert_eq!(schedule.phase_at(1000), Phase::Frozen);
    let device = Default::default();
    let layer = DiagonalLinearConfig::new(4, 6).init::<NdArray>(&device).unwrap();
    let layer = layer.enter(schedule.phase_at(500)).unwrap();
    assert!(matches!(layer.phase(), Phase::Soft { temperature } if (temperature - 2.525).abs() < 1e-6));
    assert_eq!(
        layer.enter(schedule.phase_at(1000)).unwrap().phase(),
        Phase::Frozen
    );
    assert_eq!(schedule.phase_at(5000), Phase::Frozen);
}
