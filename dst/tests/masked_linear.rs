//! The masked linear layer on burn's CPU backends: forward value, masked and straight-through gradients,
//! the record, and a full topology update with Adam after which inactive weights stay exactly zero.

use burn::backend::{Autodiff, Flex, NdArray};
use burn::module::Module;
use burn::optim::{AdamConfig, GradientsParams, Optimizer};
use burn::tensor::backend::AutodiffBackend;
use burn::tensor::{Distribution, Tensor, TensorData};
use rand::rngs::StdRng;
use rand::SeedableRng;
use sparse_rl_dst::evolve::{evolve, init_sparse};
use sparse_rl_dst::grow::GrowCriterion;
use sparse_rl_dst::policy::{DropSchedule, SparsityPolicy};
use sparse_rl_dst::topology::tensor_to_vec;
use sparse_rl_dst::{MaskedLinear, MaskedLinearConfig, SparseGrad, SparseLayer, SparsityController};

type Nd = Autodiff<NdArray>;
type Fx = Autodiff<Flex>;

fn sparse_layer<B: AutodiffBackend>(d_in: usize, d_out: usize, density: f64, seed: u64) -> MaskedLinear<B> {
    let device = Default::default();
    let mut layer = MaskedLinearConfig::new(d_in, d_out).init::<B>(&device);
    let policy = SparsityPolicy {
        density,
        distribution: sparse_rl_dst::policy::Distribution::Uniform,
        ..Default::default()
    };
    let mut ctl = SparsityController::new(&policy, &[layer.shape()], 1000).unwrap();
    init_sparse(
        &mut ctl,
        &mut [("l".into(), &mut layer as &mut dyn SparseLayer<B>)],
        &mut StdRng::seed_from_u64(seed),
    )
    .unwrap();
    layer
}

fn input<B: AutodiffBackend>(batch: usize, d_in: usize) -> Tensor<B, 2> {
    Tensor::random([batch, d_in], Distribution::Normal(0.0, 1.0), &Default::default())
}

fn forward_matches_host_computation<B: AutodiffBackend>() {
    let layer = sparse_layer::<B>(5, 3, 0.4, 1);
    let x = input::<B>(4, 5);
    let y = tensor_to_vec(layer.forward(x.clone()));
    let t = layer.topology("l", None);
    let xs = tensor_to_vec(x);
    let b = tensor_to_vec(layer.bias.as_ref().unwrap().val());
    for n in 0..4 {
        for o in 0..3 {
            let mut want = b[o];
            for i in 0..5 {
                if t.mask[o * 5 + i] {
                    want += xs[n * 5 + i] * t.weight[o * 5 + i];
                }
            }
            assert!(
                (y[n * 3 + o] - want).abs() < 1e-5,
                "y[{n},{o}] = {} vs {want}",
                y[n * 3 + o]
            );
        }
    }
    assert_eq!(t.active(), 6, "density 0.4 of 15 weights");
    assert!(t.weight.iter().zip(&t.mask).all(|(&w, &m)| m || w == 0.0));
}

fn gradients_are_masked_or_dense<B: AutodiffBackend>() {
    let layer = sparse_layer::<B>(6, 4, 0.5, 2);
    let x = input::<B>(8, 6);
    let masked = layer.forward(x.clone()).powi_scalar(2).sum().backward();
    let g_masked = layer
        .host_grad(&GradientsParams::from_grads(masked, &layer))
        .unwrap();
    let dense = layer
        .forward_dense_grad(x.clone())
        .powi_scalar(2)
        .sum()
        .backward();
    let g_dense = layer
        .host_grad(&GradientsParams::from_grads(dense, &layer))
        .unwrap();

    // Reference: the same effective weight in a layer with an all-ones mask.
    let mut reference = layer.clone();
    let mut t = layer.topology("ref", None);
    t.mask = vec![true; t.mask.len()];
    reference.set_topology(&t).unwrap();
    let r = reference.forward(x).powi_scalar(2).sum().backward();
    let g_ref = reference
        .host_grad(&GradientsParams::from_grads(r, &reference))
        .unwrap();

    let mask = layer.topology("l", None).mask;
    for i in 0..mask.len() {
        assert_eq!(g_dense[i], g_ref[i], "straight-through gradient differs at {i}");
        if mask[i] {
            assert_eq!(g_masked[i], g_ref[i]);
        } else {
            assert_eq!(g_masked[i], 0.0, "inactive weight {i} got a gradient");
        }
    }
    assert!(
        mask.iter().zip(&g_dense).any(|(&m, &g)| !m && g != 0.0),
        "dense gradient must reach inactive weights"
    );
}

fn mask_is_saved_in_the_record<B: AutodiffBackend>() {
    let layer = sparse_layer::<B>(7, 5, 0.3, 3);
    let fresh = MaskedLinearConfig::new(7, 5).init::<B>(&Default::default());
    let loaded = fresh.load_record(layer.clone().into_record());
    assert_eq!(loaded.topology("l", None), layer.topology("l", None));
    assert!(
        !loaded.mask.val().is_require_grad(),
        "the mask must stay out of the optimizer"
    );
}

/// Prune + grow with RigL, reset moments, one more Adam step: inactive weights are exactly 0.0 and the
/// grown weights' Adam moments are those of a first step (fresh).
fn update_keeps_inactive_weights_at_zero<B: AutodiffBackend>() {
    let device = Default::default();
    let mut layer = MaskedLinearConfig::new(16, 8).init::<B>(&device);
    let policy = SparsityPolicy {
        density: 0.25,
        grow: GrowCriterion::Gradient,
        update_interval: 2,
        update_end: 1.0,
        drop_fraction: 0.3,
        drop_schedule: DropSchedule::Constant,
        ..Default::default()
    };
    let mut rng = StdRng::seed_from_u64(4);
    let mut ctl = SparsityController::new(&policy, &[layer.shape()], 100).unwrap();
    init_sparse(
        &mut ctl,
        &mut [("l".into(), &mut layer as &mut dyn SparseLayer<B>)],
        &mut rng,
    )
    .unwrap();
    let mut optim = AdamConfig::new().with_epsilon(1e-8).init::<B, MaskedLinear<B>>();
    let x = input::<B>(32, 16);
    let target = Tensor::<B, 2>::from_data(TensorData::new(vec![0.5f32; 32 * 8], [32, 8]), &device);
    let loss = |l: &MaskedLinear<B>, dense: bool| {
        let y = if dense {
            l.forward_dense_grad(x.clone())
        } else {
            l.forward(x.clone())
        };
        (y - target.clone()).powi_scalar(2).mean()
    };

    // Step 1: an ordinary step builds Adam moments on the active weights.
    let grads = GradientsParams::from_grads(loss(&layer, false).backward(), &layer);
    layer = optim.step(1e-2, layer, grads);
    // Step 2: the update step.
    assert!(ctl.needs_dense_grad(2));
    let grads = GradientsParams::from_grads(loss(&layer, true).backward(), &layer);
    let host = vec![layer.host_grad(&grads)];
    layer = optim.step(1e-2, layer, grads);
    let before = layer.topology("l", None);
    let (report, new_optim) = evolve(
        &mut ctl,
        2,
        &mut [("l".into(), &mut layer as &mut dyn SparseLayer<B>)],
        host,
        optim,
        &mut rng,
    )
    .unwrap();
    optim = new_optim;
    let after = layer.topology("l", None);
    assert_eq!(
        after.active(),
        before.active(),
        "sparse-to-sparse keeps the count"
    );
    assert_eq!(
        report.layers[0].pruned,
        (0.3f64 * before.active() as f64).ceil() as usize
    );
    let grown: Vec<usize> = (0..after.mask.len())
        .filter(|&i| after.mask[i] && !before.mask[i])
        .collect();
    assert!(!grown.is_empty());
    assert!(
        grown.iter().all(|&i| after.weight[i] == 0.0),
        "grown weights start at zero"
    );

    // Moments after the reset: zero on every connection that is not a survivor.
    let id = layer.weight_id();
    let state = optim.to_record().remove(&id).unwrap().into_state::<2>();
    let m1 = layer
        .param_layout()
        .to_host(&tensor_to_vec(state.momentum.moment_1));
    for (i, &k) in report.layers[0].keep.iter().enumerate() {
        if !k {
            assert_eq!(m1[i], 0.0, "moment of changed/inactive connection {i} not reset");
        }
    }

    // Step 3: an ordinary step after the update.
    let grads = GradientsParams::from_grads(loss(&layer, false).backward(), &layer);
    let g3 = layer.host_grad(&grads).unwrap();
    layer = optim.step(1e-2, layer, grads);
    let t = layer.topology("l", None);
    for i in 0..t.mask.len() {
        if !t.mask[i] {
            assert_eq!(t.weight[i], 0.0, "inactive weight {i} moved to {}", t.weight[i]);
        }
    }
    let state = optim.to_record().remove(&id).unwrap().into_state::<2>();
    let m1 = layer
        .param_layout()
        .to_host(&tensor_to_vec(state.momentum.moment_1));
    for &i in &grown {
        let fresh = 0.1 * g3[i]; // (1 − β1) · g: a first Adam step from zero moments
        assert!(
            (m1[i] - fresh).abs() <= 1e-6 * fresh.abs().max(1e-3),
            "grown {i}: m1 {} vs {fresh}",
            m1[i]
        );
    }
}

#[test]
fn ndarray_forward_matches_host_computation() {
    forward_matches_host_computation::<Nd>();
}

#[test]
fn flex_forward_matches_host_computation() {
    forward_matches_host_computation::<Fx>();
}

#[test]
fn ndarray_gradients_are_masked_or_dense() {
    gradients_are_masked_or_dense::<Nd>();
}

#[test]
fn flex_gradients_are_masked_or_dense() {
    gradients_are_masked_or_dense::<Fx>();
}

#[test]
fn ndarray_mask_is_saved_in_the_record() {
    mask_is_saved_in_the_record::<Nd>();
}

#[test]
fn flex_mask_is_saved_in_the_record() {
    mask_is_saved_in_the_record::<Fx>();
}

#[test]
fn ndarray_update_keeps_inactive_weights_at_zero() {
    update_keeps_inactive_weights_at_zero::<Nd>();
}

#[test]
fn flex_update_keeps_inactive_weights_at_zero() {
    update_keeps_inactive_weights_at_zero::<Fx>();
}
