//! The sparsity controller on host views: exact counts, zero inactive weights, schedules of the gradual
//! kinds, global scope, chain removal and the soft rule.

use proptest::prelude::*;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use sparse_rl_dst::grow::GrowCriterion;
use sparse_rl_dst::policy::{
    DensitySchedule, Distribution, PolicyKind, Sampling, Scope, SparsityPolicy, TopologyInit, WeightInit,
};
use sparse_rl_dst::prune::PruneCriterion;
use sparse_rl_dst::{LayerShape, LayerTopology, SparsityController};

const GROW: [GrowCriterion; 5] = [
    GrowCriterion::Random,
    GrowCriterion::Gradient,
    GrowCriterion::Ch3L3p,
    GrowCriterion::Ch3L3n,
    GrowCriterion::Ch2L3n,
];

/// An MLP chain of dense host views with random weights and gradients.
fn chain(dims: &[usize], rng: &mut StdRng) -> Vec<LayerTopology> {
    dims.windows(2)
        .enumerate()
        .map(|(l, w)| {
            let shape = LayerShape::dense(w[1], w[0]);
            let weight = (0..shape.len()).map(|_| rng.random_range(-1.0f32..1.0)).collect();
            let mut t = LayerTopology::from_dense(format!("fc{l}"), shape, weight);
            t.grad = Some((0..shape.len()).map(|_| rng.random_range(-1.0f32..1.0)).collect());
            t
        })
        .collect()
}

fn shapes(layers: &[LayerTopology]) -> Vec<LayerShape> {
    layers.iter().map(|l| l.shape).collect()
}

fn assert_inactive_zero(layers: &[LayerTopology]) {
    for l in layers {
        assert!(
            l.weight.iter().zip(&l.mask).all(|(&w, &m)| m || w == 0.0),
            "layer {} has a live inactive weight",
            l.name
        );
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(40))]

    /// A prune/grow pair keeps every layer's active count exactly, and pruned weights are zero.
    #[test]
    fn prune_grow_pair_keeps_counts_exact(
        h1 in 3usize..14, h2 in 3usize..14, seed: u64,
        prune_i in 0usize..10, grow_i in 0usize..5,
        soft in prop::bool::ANY, global in prop::bool::ANY, chain_removal in prop::bool::ANY,
        density in 0.1f64..0.7, alpha in 0.05f64..0.6,
    ) {
        let mut rng = StdRng::seed_from_u64(seed);
        let mut layers = chain(&[6, h1, h2, 3], &mut rng);
        let prune = PruneCriterion::ALL[prune_i];
        let policy = SparsityPolicy {
            density, prune, grow: GROW[grow_i], drop_fraction: alpha, update_interval: 10, update_end: 1.0,
            prune_sampling: if soft { Sampling::Soft } else { Sampling::TopK },
            grow_sampling: if soft { Sampling::Soft } else { Sampling::TopK },
            scope: if global && prune != PruneCriterion::Set { Scope::Global } else { Scope::Layer },
            chain_removal,
            ..Default::default()
        };
        let global = policy.scope == Scope::Global;
        let mut ctl = SparsityController::new(&policy, &shapes(&layers), 100).unwrap();
        ctl.init_masks(&mut layers, &mut rng).unwrap();
        assert_inactive_zero(&layers);
        let counts: Vec<usize> = layers.iter().map(LayerTopology::active).collect();
        prop_assert_eq!(&counts[..], ctl.active_counts());
        for step in [10, 20] {
            let before: Vec<Vec<bool>> = layers.iter().map(|l| l.mask.clone()).collect();
            let before_counts: Vec<usize> = layers.iter().map(LayerTopology::active).collect();
            let report = ctl.update(step, &mut layers, &mut rng).unwrap();
            let after: Vec<usize> = layers.iter().map(LayerTopology::active).collect();
            // Layer scope: every layer's count is exact; global scope: the module's total is.
            if global {
                prop_assert_eq!(after.iter().sum::<usize>(), counts.iter().sum::<usize>());
                let pruned: usize = report.layers.iter().map(|r| r.pruned).sum();
                let grown: usize = report.layers.iter().map(|r| r.grown).sum();
                prop_assert_eq!(pruned, grown);
            } else {
                prop_assert_eq!(&after, &counts);
            }
            prop_assert_eq!(&after[..], ctl.active_counts());
            assert_inactive_zero(&layers);
            for (l, layer) in layers.iter().enumerate() {
                let r = &report.layers[l];
                prop_assert_eq!(r.active + r.pruned, before_counts[l] + r.grown);
                if !global {
                    prop_assert_eq!(r.pruned, r.grown);
                }
                // Every connection that left the mask is zero.
                for ((&was, &is), &w) in before[l].iter().zip(&layer.mask).zip(&layer.weight) {
                    if was && !is {
                        prop_assert_eq!(w, 0.0);
                    }
                }
                if !global && !chain_removal && layer.active() < layer.mask.len() {
                    prop_assert_eq!(r.pruned, (alpha_at(&ctl, step) * counts[l] as f64).ceil() as usize);
                }
            }
        }
    }

    /// Gradual kinds end exactly at their final layer densities at the last update.
    #[test]
    fn gradual_kinds_reach_their_final_density(
        seed: u64, sigmoid in prop::bool::ANY, to_dense in prop::bool::ANY, interval in 5u64..30,
        evolve in prop::bool::ANY,
    ) {
        let mut rng = StdRng::seed_from_u64(seed);
        let mut layers = chain(&[8, 12, 4], &mut rng);
        let (kind, init_density, density) = if to_dense {
            (PolicyKind::SparseToDense, 0.2, 0.9)
        } else {
            (PolicyKind::DenseToSparse, 1.0, 0.15)
        };
        let policy = SparsityPolicy {
            kind, init_density, density, update_interval: interval, update_end: 0.8,
            density_schedule: if sigmoid { DensitySchedule::Sigmoid } else { DensitySchedule::Cubic },
            evolve_during_gradual: evolve,
            prune: if evolve { PruneCriterion::Ri } else { PruneCriterion::Magnitude },
            ..Default::default()
        };
        let total = 400;
        let mut ctl = SparsityController::new(&policy, &shapes(&layers), total).unwrap();
        ctl.init_masks(&mut layers, &mut rng).unwrap();
        let mut last = ctl.current_density();
        for step in 0..=total {
            if ctl.wants_update(step) {
                ctl.update(step, &mut layers, &mut rng).unwrap();
                let d = ctl.current_density();
                prop_assert!(if to_dense { d >= last } else { d <= last }, "density not monotone");
                last = d;
                assert_inactive_zero(&layers);
            }
        }
        for (l, layer) in layers.iter().enumerate() {
            let want = sparse_rl_dst::density::active_count(layer.mask.len(), ctl.final_densities()[l]);
            prop_assert_eq!(layer.active(), want);
        }
    }
}

fn alpha_at(ctl: &SparsityController, step: u64) -> f64 {
    let p = ctl.policy();
    sparse_rl_dst::schedule::drop_fraction(p.drop_schedule, p.drop_fraction, ctl.schedule().progress(step))
}

#[test]
fn dense_and_static_policies_never_update() {
    let mut rng = StdRng::seed_from_u64(5);
    let mut layers = chain(&[4, 8, 2], &mut rng);
    let mut dense = SparsityController::new(&SparsityPolicy::dense(), &shapes(&layers), 100).unwrap();
    dense.init_masks(&mut layers, &mut rng).unwrap();
    assert!(layers.iter().all(|l| l.active() == l.mask.len()));
    let stat = SparsityPolicy {
        kind: PolicyKind::Static,
        density: 0.4,
        ..Default::default()
    };
    let mut ctl = SparsityController::new(&stat, &shapes(&layers), 100).unwrap();
    ctl.init_masks(&mut layers, &mut rng).unwrap();
    assert!((0..=100).all(|s| !ctl.wants_update(s) && !dense.wants_update(s)));
    let before = layers.clone();
    let report = ctl.update(50, &mut layers, &mut rng).unwrap();
    assert_eq!(layers, before);
    assert_eq!(report.topology_change, 0.0);
}

#[test]
fn dense_output_layer_stays_dense() {
    let mut rng = StdRng::seed_from_u64(6);
    let mut layers = chain(&[10, 32, 32, 4], &mut rng);
    let policy = SparsityPolicy {
        sparse_output: false,
        density: 0.2,
        ..Default::default()
    };
    let mut ctl = SparsityController::new(&policy, &shapes(&layers), 100).unwrap();
    ctl.init_masks(&mut layers, &mut rng).unwrap();
    assert_eq!(layers[2].active(), layers[2].mask.len());
    let sparse_total: usize = layers[..2].iter().map(|l| l.mask.len()).sum();
    let sparse_active: usize = layers[..2].iter().map(LayerTopology::active).sum();
    assert!((sparse_active as f64 - 0.2 * sparse_total as f64).abs() <= 2.0);
}

#[test]
fn rigl_grows_where_the_gradient_is_largest() {
    let mut rng = StdRng::seed_from_u64(7);
    let mut layers = chain(&[20, 10], &mut rng);
    let policy = SparsityPolicy {
        density: 0.3,
        distribution: Distribution::Uniform,
        grow: GrowCriterion::Gradient,
        drop_fraction: 0.2,
        update_interval: 10,
        update_end: 1.0,
        ..Default::default()
    };
    let mut ctl = SparsityController::new(&policy, &shapes(&layers), 100).unwrap();
    ctl.init_masks(&mut layers, &mut rng).unwrap();
    let report = ctl.update(10, &mut layers, &mut rng).unwrap();
    let l = &layers[0];
    let g = l.grad.as_ref().unwrap();
    let grown_min = (0..l.mask.len())
        .filter(|&i| l.mask[i] && !report.layers[0].keep[i])
        .map(|i| g[i].abs());
    let grown_min = grown_min.fold(f32::INFINITY, f32::min);
    let inactive_max = (0..l.mask.len())
        .filter(|&i| !l.mask[i])
        .map(|i| g[i].abs())
        .fold(0.0, f32::max);
    assert!(
        grown_min >= inactive_max,
        "grew |g| {grown_min} while {inactive_max} stayed out"
    );
}

#[test]
fn swi_and_topology_inits_keep_density() {
    let mut rng = StdRng::seed_from_u64(8);
    for init in [TopologyInit::Er, TopologyInit::Bsw, TopologyInit::Brf] {
        let mut layers = chain(&[30, 40, 5], &mut rng);
        let policy = SparsityPolicy {
            init,
            weight_init: WeightInit::Swi,
            density: 0.25,
            ..Default::default()
        };
        let mut ctl = SparsityController::new(&policy, &shapes(&layers), 100).unwrap();
        ctl.init_masks(&mut layers, &mut rng).unwrap();
        assert_inactive_zero(&layers);
        let active: usize = layers.iter().map(LayerTopology::active).sum();
        assert_eq!(active, ctl.active_counts().iter().sum::<usize>(), "{init:?}");
        assert!(
            (ctl.current_density() - 0.25).abs() < 0.01,
            "{init:?}: {}",
            ctl.current_density()
        );
    }
}

#[test]
fn early_stop_ends_evolution_when_regrowth_repeats_removal() {
    // Magnitude pruning + gradient growth where the pruned links carry the largest gradients: the
    // regrown links are the removed ones (overlap 1), so CHT's early stop fires.
    let shape = LayerShape::dense(4, 10);
    let weight: Vec<f32> = (0..40).map(|i| 1.0 + i as f32).collect();
    let mut layer = LayerTopology::from_dense("l", shape, weight.clone());
    layer.grad = Some(weight.iter().map(|w| 100.0 - w).collect());
    let mut layers = vec![layer];
    let policy = SparsityPolicy {
        density: 0.5,
        distribution: Distribution::Uniform,
        init: TopologyInit::Er,
        grow: GrowCriterion::Gradient,
        drop_fraction: 0.2,
        update_interval: 10,
        update_end: 1.0,
        early_stop: true,
        ..Default::default()
    };
    let mut rng = StdRng::seed_from_u64(9);
    let mut ctl = SparsityController::new(&policy, &[shape], 100).unwrap();
    ctl.init_masks(&mut layers, &mut rng).unwrap();
    layers[0].grad = Some(
        (0..40)
            .map(|i| if layers[0].mask[i] { 100.0 - weight[i] } else { 0.0 })
            .collect(),
    );
    let report = ctl.update(10, &mut layers, &mut rng).unwrap();
    assert_eq!(report.layers[0].regrown_same, report.layers[0].grown);
    assert!(report.stopped && ctl.stopped() && !ctl.wants_update(20));
}

/// Two layers, [10 × 20] and [10 × 10], at density 0.3 (uniform), with the second layer's gradients ten
/// times the first's.
fn unequal_gradients(rng: &mut StdRng) -> Vec<LayerTopology> {
    let mut layers = chain(&[20, 10, 10], rng);
    for g in layers[1].grad.as_mut().unwrap() {
        *g *= 10.0;
    }
    layers
}

fn rigl(scope: Scope) -> SparsityPolicy {
    SparsityPolicy {
        density: 0.3,
        distribution: Distribution::Uniform,
        grow: GrowCriterion::Gradient,
        drop_fraction: 0.3,
        drop_schedule: sparse_rl_dst::policy::DropSchedule::Constant,
        update_interval: 10,
        update_end: 1.0,
        scope,
        ..Default::default()
    }
}

#[test]
fn global_gradient_growth_moves_connections_to_the_larger_gradients() {
    let mut rng = StdRng::seed_from_u64(11);
    let mut layers = unequal_gradients(&mut rng);
    let mut ctl = SparsityController::new(&rigl(Scope::Global), &shapes(&layers), 100).unwrap();
    ctl.init_masks(&mut layers, &mut rng).unwrap();
    let counts: Vec<usize> = layers.iter().map(LayerTopology::active).collect();
    let total: usize = counts.iter().sum();
    let mut last = counts.clone();
    for step in [10, 20, 30] {
        // Training between updates: fresh active weights and gradients, the second layer's ten times larger.
        for (l, layer) in layers.iter_mut().enumerate() {
            let scale = if l == 1 { 10.0 } else { 1.0 };
            for (w, &m) in layer.weight.iter_mut().zip(&layer.mask) {
                *w = if m { rng.random_range(-1.0f32..1.0) } else { 0.0 };
            }
            let g = (0..layer.mask.len())
                .map(|_| scale * rng.random_range(-1.0f32..1.0))
                .collect();
            layer.grad = Some(g);
        }
        let report = ctl.update(step, &mut layers, &mut rng).unwrap();
        let now: Vec<usize> = layers.iter().map(LayerTopology::active).collect();
        assert_eq!(now.iter().sum::<usize>(), total, "step {step}: {now:?}");
        assert_eq!(ctl.active_counts(), &now[..]);
        assert!(now[1] > last[1], "step {step}: {last:?} -> {now:?}");
        // Every grown connection of the first layer has a gradient no larger than any inactive one of
        // the second: growth ranked both layers together.
        let g = |l: usize, i: usize| layers[l].grad.as_ref().unwrap()[i].abs();
        let grown0 = (0..layers[0].mask.len()).filter(|&i| layers[0].mask[i] && !report.layers[0].keep[i]);
        let max_grown0 = grown0.map(|i| g(0, i)).fold(0.0, f32::max);
        let min_out1 = (0..layers[1].mask.len())
            .filter(|&i| !layers[1].mask[i])
            .map(|i| g(1, i))
            .fold(f32::INFINITY, f32::min);
        assert!(
            max_grown0 <= min_out1,
            "grew |g| {max_grown0} in fc0 while {min_out1} stayed out of fc1"
        );
        last = now;
    }
    assert!(
        last[1] > counts[1] && last[0] < counts[0],
        "{counts:?} -> {last:?}"
    );
}

#[test]
fn layer_scope_keeps_per_layer_counts() {
    let mut rng = StdRng::seed_from_u64(11);
    let mut layers = unequal_gradients(&mut rng);
    let mut ctl = SparsityController::new(&rigl(Scope::Layer), &shapes(&layers), 100).unwrap();
    ctl.init_masks(&mut layers, &mut rng).unwrap();
    let counts: Vec<usize> = layers.iter().map(LayerTopology::active).collect();
    for step in [10, 20, 30] {
        let report = ctl.update(step, &mut layers, &mut rng).unwrap();
        let now: Vec<usize> = layers.iter().map(LayerTopology::active).collect();
        assert_eq!(now, counts, "step {step}");
        assert!(report.layers.iter().all(|r| r.pruned == r.grown && r.pruned > 0));
    }
}

#[test]
fn global_random_growth_is_uniform_over_the_module() {
    // Random growth under global scope draws among all inactive connections of the pruned layers: the
    // share grown into a layer follows its share of the inactive connections.
    let (mut grown, mut inactive_share) = ([0usize; 2], 0.0);
    let trials = 200;
    for seed in 0..trials {
        let mut rng = StdRng::seed_from_u64(seed);
        let mut layers = chain(&[30, 10, 10], &mut rng);
        let policy = SparsityPolicy {
            grow: GrowCriterion::Random,
            ..rigl(Scope::Global)
        };
        let mut ctl = SparsityController::new(&policy, &shapes(&layers), 100).unwrap();
        ctl.init_masks(&mut layers, &mut rng).unwrap();
        let total: usize = layers.iter().map(LayerTopology::active).sum();
        let report = ctl.update(10, &mut layers, &mut rng).unwrap();
        assert_eq!(layers.iter().map(LayerTopology::active).sum::<usize>(), total);
        // Candidates after removal: the inactive connections before plus the removed ones.
        let cands: Vec<usize> = report
            .layers
            .iter()
            .zip(&layers)
            .map(|(r, l)| l.mask.len() - l.active() + r.grown)
            .collect();
        inactive_share += cands[0] as f64 / (cands[0] + cands[1]) as f64;
        for (g, r) in grown.iter_mut().zip(&report.layers) {
            *g += r.grown;
        }
    }
    let share = grown[0] as f64 / (grown[0] + grown[1]) as f64;
    let expected = inactive_share / trials as f64;
    assert!(
        (share - expected).abs() < 0.02,
        "grown share {share:.3}, inactive share {expected:.3}"
    );
}

#[test]
fn global_early_stop_reads_each_layers_overlap() {
    // Global magnitude pruning + global gradient growth where the active links' gradients dwarf all
    // others: every layer regrows exactly what it lost, so CHT's early stop fires under global scope.
    let mut rng = StdRng::seed_from_u64(12);
    let mut layers = chain(&[12, 8, 6], &mut rng);
    let policy = SparsityPolicy {
        early_stop: true,
        ..rigl(Scope::Global)
    };
    let mut ctl = SparsityController::new(&policy, &shapes(&layers), 100).unwrap();
    ctl.init_masks(&mut layers, &mut rng).unwrap();
    for l in &mut layers {
        let g: Vec<f32> = l.mask.iter().map(|&m| if m { 100.0 } else { 0.01 }).collect();
        l.grad = Some(g);
    }
    let before: Vec<Vec<bool>> = layers.iter().map(|l| l.mask.clone()).collect();
    let report = ctl.update(10, &mut layers, &mut rng).unwrap();
    for (r, (l, b)) in report.layers.iter().zip(layers.iter().zip(&before)) {
        assert!(
            r.pruned > 0 && r.regrown_same == r.grown && r.grown == r.pruned,
            "{r:?}"
        );
        assert_eq!(&l.mask, b);
    }
    assert!(report.stopped && ctl.stopped());
}

/// A density whose share of a layer rounds to no connection is refused, naming the layer and the
/// density that would do; at that density the layer keeps exactly one.
#[test]
fn a_layer_below_one_connection_is_an_error() {
    let shapes = [LayerShape::dense(120, 84), LayerShape::dense(84, 4)];
    let mut policy = SparsityPolicy {
        kind: PolicyKind::Static,
        density: 2e-5,
        sparse_output: true,
        distribution: Distribution::Uniform,
        ..SparsityPolicy::dense()
    };
    let err = SparsityController::new(&policy, &shapes, 100)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("layer 0 (120 x 84 weights)") && err.contains("at least 1"),
        "{err}"
    );
    policy.density = 0.5 / (120.0 * 84.0) + 1e-9;
    let err = SparsityController::new(&policy, &shapes, 100)
        .unwrap_err()
        .to_string();
    assert!(err.contains("layer 1 (84 x 4 weights)"), "{err}");
    policy.density = 0.5 / (84.0 * 4.0) + 1e-9;
    let c = SparsityController::new(&policy, &shapes, 100).unwrap();
    assert_eq!(c.active_counts()[1], 1);
}
