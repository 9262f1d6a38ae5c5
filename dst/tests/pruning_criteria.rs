//! Pruning criteria through the controller: the running score (`score_beta`) against an independent
//! computation over optimizer steps, its reset at each update, β = 0 unchanged; and which criteria
//! remove different connections (only `snip` and `taylor` coincide, and only under the documented options).

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use sparse_rl_dst::grow::GrowCriterion;
use sparse_rl_dst::policy::{
    Distribution, DropSchedule, NormType, Normalization, PolicyKind, Sampling, Scope, SparsityPolicy,
};
use sparse_rl_dst::prune::PruneCriterion;
use sparse_rl_dst::{LayerShape, LayerTopology, SparsityController};

/// The gradient given to inactive connections: far above every active one, so gradient growth only ever
/// picks connections that were inactive before the update, and the removed set is exactly
/// "active before, inactive after".
const INACTIVE_GRAD: f32 = 1e3;

/// An MLP chain of dense host views.
fn chain(dims: &[usize], rng: &mut StdRng) -> Vec<LayerTopology> {
    dims.windows(2)
        .enumerate()
        .map(|(l, w)| {
            let shape = LayerShape::dense(w[1], w[0]);
            let weight = (0..shape.len()).map(|_| rng.random_range(-1.0f32..1.0)).collect();
            LayerTopology::from_dense(format!("fc{l}"), shape, weight)
        })
        .collect()
}

/// One optimizer step's worth of change: fresh active weights and gradients (inactive weights stay 0).
fn train_step(layers: &mut [LayerTopology], rng: &mut StdRng) {
    for layer in layers {
        let mut g = Vec::with_capacity(layer.mask.len());
        for (w, &m) in layer.weight.iter_mut().zip(&layer.mask) {
            *w = if m { rng.random_range(-1.0f32..1.0) } else { 0.0 };
            g.push(if m {
                rng.random_range(-1.0f32..1.0)
            } else {
                INACTIVE_GRAD
            });
        }
        layer.grad = Some(g);
    }
}

fn shapes(layers: &[LayerTopology]) -> Vec<LayerShape> {
    layers.iter().map(|l| l.shape).collect()
}

fn masks(layers: &[LayerTopology]) -> Vec<Vec<bool>> {
    layers.iter().map(|l| l.mask.clone()).collect()
}

/// Per layer, the sorted entries active in `before` and inactive now.
fn removed(before: &[Vec<bool>], layers: &[LayerTopology]) -> Vec<Vec<usize>> {
    before
        .iter()
        .zip(layers)
        .map(|(b, l)| (0..b.len()).filter(|&i| b[i] && !l.mask[i]).collect())
        .collect()
}

/// The sorted `k` lowest of `score` over the entries active in `mask`.
fn lowest(score: &[f64], mask: &[bool], k: usize) -> Vec<usize> {
    let mut idx: Vec<usize> = (0..mask.len()).filter(|&i| mask[i]).collect();
    idx.sort_by(|&a, &b| score[a].total_cmp(&score[b]));
    let mut out = idx[..k].to_vec();
    out.sort_unstable();
    out
}

/// The raw score of the criteria this file computes by hand, on active entries (0 elsewhere).
fn hand_score(prune: PruneCriterion, layer: &LayerTopology) -> Vec<f64> {
    let g = layer.grad.as_ref().unwrap();
    (0..layer.mask.len())
        .map(|i| {
            let (w, g) = (f64::from(layer.weight[i]), f64::from(g[i]));
            match (layer.mask[i], prune) {
                (false, _) => 0.0,
                (true, PruneCriterion::Magnitude) => w.abs(),
                (true, PruneCriterion::Snip) => (w * g).abs(),
                (true, PruneCriterion::Taylor) => (w * g).powi(2),
                (true, other) => panic!("no hand score for {other:?}"),
            }
        })
        .collect()
}

/// `norm_score` by hand: active scores divided by their group's max or sum.
fn hand_normalize(s: &[f64], layer: &LayerTopology, how: Normalization, norm: NormType) -> Vec<f64> {
    let cols = layer.cols();
    let group = |i: usize| match how {
        Normalization::None => None,
        Normalization::Layer => Some(0),
        Normalization::Input => Some(i / cols),
        Normalization::Output => Some(i % cols),
    };
    let mut red = std::collections::HashMap::<usize, f64>::new();
    for i in (0..s.len()).filter(|&i| layer.mask[i]) {
        if let Some(g) = group(i) {
            let r = red.entry(g).or_insert(0.0);
            *r = match norm {
                NormType::Max => r.max(s[i]),
                NormType::Sum => *r + s[i],
            };
        }
    }
    (0..s.len())
        .map(|i| match group(i).map(|g| red[&g]) {
            Some(r) if layer.mask[i] && r != 0.0 => s[i] / r,
            _ => s[i],
        })
        .collect()
}

/// Sparse-to-sparse RigL-style policy: an update every 5 steps, constant drop fraction 0.3.
fn policy(prune: PruneCriterion, beta: f64) -> SparsityPolicy {
    SparsityPolicy {
        density: 0.4,
        distribution: Distribution::Uniform,
        prune,
        grow: GrowCriterion::Gradient,
        score_beta: beta,
        drop_fraction: 0.3,
        drop_schedule: DropSchedule::Constant,
        update_interval: 5,
        update_end: 1.0,
        ..Default::default()
    }
}

#[test]
fn running_score_ranks_by_the_average_over_the_window_and_resets() {
    let beta = 0.8;
    for (prune, how, norm) in [
        (PruneCriterion::Magnitude, Normalization::None, NormType::Max),
        (PruneCriterion::Snip, Normalization::None, NormType::Max),
        (PruneCriterion::Snip, Normalization::Layer, NormType::Max),
        (PruneCriterion::Taylor, Normalization::Input, NormType::Sum),
    ] {
        let mut rng = StdRng::seed_from_u64(21);
        let mut layers = chain(&[8, 12, 6], &mut rng);
        let p = SparsityPolicy {
            normalization: how,
            norm_type: norm,
            ..policy(prune, beta)
        };
        let mut ctl = SparsityController::new(&p, &shapes(&layers), 100).unwrap();
        ctl.init_masks(&mut layers, &mut rng).unwrap();
        assert!(ctl.needs_step_scores());
        assert_eq!(ctl.needs_step_grad(), prune.uses_grad());
        // The hand-computed running score of the current window, and one that never resets.
        let mut window: Vec<Option<Vec<f64>>> = vec![None; layers.len()];
        let mut never_reset: Vec<Option<Vec<f64>>> = vec![None; layers.len()];
        let mut reset_mattered = false;
        for step in 1..=10u64 {
            train_step(&mut layers, &mut rng);
            ctl.observe_step(&layers, &mut rng).unwrap();
            for (l, layer) in layers.iter().enumerate() {
                let s = hand_score(prune, layer);
                for run in [&mut window[l], &mut never_reset[l]] {
                    *run = Some(match run.take() {
                        None => s.clone(),
                        Some(r) => r
                            .iter()
                            .zip(&s)
                            .map(|(r, s)| r * beta + (1.0 - beta) * s)
                            .collect(),
                    });
                }
            }
            if step % 5 != 0 {
                continue;
            }
            let before = masks(&layers);
            ctl.update(step, &mut layers, &mut rng).unwrap();
            let got = removed(&before, &layers);
            for (l, layer) in layers.iter().enumerate() {
                // The removal ranks the running score normalised over the mask before the update.
                let view = LayerTopology {
                    mask: before[l].clone(),
                    ..layer.clone()
                };
                let k = (0.3 * before[l].iter().filter(|&&m| m).count() as f64).ceil() as usize;
                assert_eq!(got[l].len(), k, "{prune:?} step {step} layer {l}");
                let run = hand_normalize(window[l].as_ref().unwrap(), &view, how, norm);
                assert_eq!(
                    got[l],
                    lowest(&run, &before[l], k),
                    "{prune:?} {how:?} step {step} layer {l}"
                );
                let old = hand_normalize(never_reset[l].as_ref().unwrap(), &view, how, norm);
                reset_mattered |= step == 10 && got[l] != lowest(&old, &before[l], k);
            }
            window.iter_mut().for_each(|w| *w = None);
        }
        assert!(
            reset_mattered,
            "{prune:?}: the test data cannot tell a reset from none"
        );
    }
}

#[test]
fn an_update_without_observed_steps_uses_the_current_score() {
    // After an update the window is empty: with no step observed since, the next update ranks by the
    // score of the layers it is given, not by anything of the previous window.
    let mut rng = StdRng::seed_from_u64(22);
    let mut layers = chain(&[8, 12, 6], &mut rng);
    let mut ctl = SparsityController::new(&policy(PruneCriterion::Snip, 0.9), &shapes(&layers), 100).unwrap();
    ctl.init_masks(&mut layers, &mut rng).unwrap();
    for _ in 1..=5 {
        train_step(&mut layers, &mut rng);
        ctl.observe_step(&layers, &mut rng).unwrap();
    }
    ctl.update(5, &mut layers, &mut rng).unwrap();
    train_step(&mut layers, &mut rng);
    let (before, scores): (Vec<_>, Vec<_>) = layers
        .iter()
        .map(|l| (l.mask.clone(), hand_score(PruneCriterion::Snip, l)))
        .unzip();
    ctl.update(10, &mut layers, &mut rng).unwrap();
    let got = removed(&before, &layers);
    for (l, (s, r)) in scores.iter().zip(&got).enumerate() {
        assert!(!r.is_empty());
        assert_eq!(r, &lowest(s, &before[l], r.len()), "layer {l}");
    }
}

#[test]
fn beta_zero_is_unchanged_by_observed_steps() {
    let mut rng = StdRng::seed_from_u64(23);
    let mut layers = chain(&[8, 12, 6], &mut rng);
    let mut ctl = SparsityController::new(&policy(PruneCriterion::Snip, 0.0), &shapes(&layers), 100).unwrap();
    ctl.init_masks(&mut layers, &mut rng).unwrap();
    assert!(!ctl.needs_step_scores() && !ctl.needs_step_grad());
    let (mut other, mut other_layers, mut other_rng) = (ctl.clone(), layers.clone(), rng.clone());
    for step in 1..=10u64 {
        train_step(&mut layers, &mut rng);
        train_step(&mut other_layers, &mut other_rng);
        ctl.observe_step(&layers, &mut rng).unwrap();
        if step % 5 == 0 {
            let before = masks(&layers);
            let scores: Vec<_> = layers
                .iter()
                .map(|l| hand_score(PruneCriterion::Snip, l))
                .collect();
            ctl.update(step, &mut layers, &mut rng).unwrap();
            other.update(step, &mut other_layers, &mut other_rng).unwrap();
            // The k lowest of the update step's own score.
            for ((b, s), r) in before.iter().zip(&scores).zip(removed(&before, &layers)) {
                assert!(!r.is_empty());
                assert_eq!(r, lowest(s, b, r.len()));
            }
        }
    }
    assert_eq!(layers, other_layers);
    assert_eq!(rng.random::<u64>(), other_rng.random::<u64>());
}

#[test]
fn step_scores_are_needed_only_where_updates_prune_by_a_score() {
    let shapes = [LayerShape::dense(8, 8), LayerShape::dense(4, 8)];
    let needs = |p: SparsityPolicy| {
        let c = SparsityController::new(&p, &shapes, 100).unwrap();
        (c.needs_step_scores(), c.needs_step_grad())
    };
    let run = |prune| SparsityPolicy {
        score_beta: 0.5,
        ..policy(prune, 0.5)
    };
    assert_eq!(needs(run(PruneCriterion::Magnitude)), (true, false));
    assert_eq!(needs(run(PruneCriterion::Snip)), (true, true));
    assert_eq!(needs(run(PruneCriterion::Set)), (false, false));
    assert_eq!(needs(policy(PruneCriterion::Snip, 0.0)), (false, false));
    let kind = |kind, init_density, density, evolve| SparsityPolicy {
        kind,
        init_density,
        density,
        evolve_during_gradual: evolve,
        ..run(PruneCriterion::Snip)
    };
    assert_eq!(needs(kind(PolicyKind::Static, 1.0, 0.4, false)), (false, false));
    assert_eq!(needs(kind(PolicyKind::Dense, 1.0, 1.0, false)), (false, false));
    assert_eq!(
        needs(kind(PolicyKind::DenseToSparse, 1.0, 0.4, false)),
        (true, true)
    );
    assert_eq!(
        needs(kind(PolicyKind::SparseToDense, 0.2, 0.6, false)),
        (false, false)
    );
    assert_eq!(
        needs(kind(PolicyKind::SparseToDense, 0.2, 0.6, true)),
        (true, true)
    );

    // After the last scheduled update nothing is needed any more.
    let mut rng = StdRng::seed_from_u64(24);
    let mut layers = chain(&[8, 8, 4], &mut rng);
    let p = SparsityPolicy {
        update_end: 0.1,
        ..run(PruneCriterion::Snip)
    };
    let mut ctl = SparsityController::new(&p, &shapes, 100).unwrap();
    ctl.init_masks(&mut layers, &mut rng).unwrap();
    train_step(&mut layers, &mut rng);
    for step in [5, 10] {
        assert!(ctl.needs_step_scores(), "step {step}");
        ctl.observe_step(&layers, &mut rng).unwrap();
        ctl.update(step, &mut layers, &mut rng).unwrap();
    }
    assert!(!ctl.needs_step_scores());

    // A gradient criterion without the gradient is an error naming the layer.
    let mut ctl = SparsityController::new(&run(PruneCriterion::Snip), &shapes, 100).unwrap();
    ctl.init_masks(&mut layers, &mut rng).unwrap();
    layers.iter_mut().for_each(|l| l.grad = None);
    let e = ctl.observe_step(&layers, &mut rng).unwrap_err().to_string();
    assert!(e.contains("fc0"), "{e}");
}

/// The connections each criterion removes in one update of the same layers, with the same random draws.
fn removed_by(
    base: &SparsityPolicy,
    prune: PruneCriterion,
    layers: &[LayerTopology],
    steps: usize,
) -> Vec<Vec<usize>> {
    let p = SparsityPolicy {
        prune,
        ..base.clone()
    };
    let mut layers = layers.to_vec();
    let mut ctl = SparsityController::new(&p, &shapes(&layers), 100).unwrap();
    let mut rng = StdRng::seed_from_u64(31);
    // The same training steps for every criterion (their own random stream).
    let mut data = StdRng::seed_from_u64(32);
    for _ in 0..steps {
        train_step(&mut layers, &mut data);
        ctl.observe_step(&layers, &mut rng).unwrap();
    }
    let before = masks(&layers);
    ctl.update(5, &mut layers, &mut rng).unwrap();
    removed(&before, &layers)
}

/// Random sparse layers (ERK masks at density 0.4) with random weights and gradients.
fn generic_layers(seed: u64) -> Vec<LayerTopology> {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut layers = chain(&[10, 16, 12, 6], &mut rng);
    let p = SparsityPolicy {
        density: 0.4,
        ..Default::default()
    };
    SparsityController::new(&p, &shapes(&layers), 100)
        .unwrap()
        .init_masks(&mut layers, &mut rng)
        .unwrap();
    layers
}

#[test]
fn distinct_criteria_remove_different_connections_except_snip_and_taylor() {
    let layers = generic_layers(30);
    let base = SparsityPolicy {
        density: 0.4,
        grow: GrowCriterion::Gradient,
        update_interval: 5,
        update_end: 1.0,
        ..Default::default()
    };
    let sets: Vec<_> = PruneCriterion::ALL
        .iter()
        .map(|&c| removed_by(&base, c, &layers, 1))
        .collect();
    assert!(sets[0].iter().all(|r| !r.is_empty()));
    let coincide = |a, b| {
        matches!(
            (a, b),
            (PruneCriterion::Snip, PruneCriterion::Taylor) | (PruneCriterion::Taylor, PruneCriterion::Snip)
        )
    };
    for (i, &a) in PruneCriterion::ALL.iter().enumerate() {
        for (j, &b) in PruneCriterion::ALL.iter().enumerate().skip(i + 1) {
            if coincide(a, b) {
                assert_eq!(sets[i], sets[j], "{a:?} and {b:?} should coincide");
            } else {
                assert_ne!(sets[i], sets[j], "{a:?} and {b:?} removed the same connections");
            }
        }
    }
}

#[test]
fn snip_and_taylor_differ_only_under_the_documented_options() {
    // Where they coincide they do on every instance; where they may differ, they do on some (a boundary
    // case can still agree by chance).
    let instances: Vec<_> = (40..45).map(generic_layers).collect();
    let base = SparsityPolicy {
        density: 0.4,
        grow: GrowCriterion::Gradient,
        drop_fraction: 0.3,
        update_interval: 5,
        update_end: 1.0,
        ..Default::default()
    };
    use NormType::{Max, Sum};
    use Normalization::{Input, Layer, Output};
    let with = |normalization, norm_type, scope| SparsityPolicy {
        normalization,
        norm_type,
        scope,
        ..base.clone()
    };
    let soft = SparsityPolicy {
        prune_sampling: Sampling::Soft,
        ..base.clone()
    };
    let running = SparsityPolicy {
        score_beta: 0.8,
        ..base.clone()
    };
    let cases = [
        ("defaults", base.clone(), 1, true),
        ("layer max", with(Layer, Max, Scope::Layer), 1, true),
        ("layer sum", with(Layer, Sum, Scope::Layer), 1, true),
        ("input max", with(Input, Max, Scope::Layer), 1, true),
        ("global", with(Normalization::None, Max, Scope::Global), 1, true),
        ("layer max, global", with(Layer, Max, Scope::Global), 1, true),
        ("output max, global", with(Output, Max, Scope::Global), 1, true),
        ("input sum", with(Input, Sum, Scope::Layer), 1, false),
        ("output sum", with(Output, Sum, Scope::Layer), 1, false),
        ("layer sum, global", with(Layer, Sum, Scope::Global), 1, false),
        ("soft sampling", soft, 1, false),
        ("running average", running, 5, false),
    ];
    for (name, p, steps, same) in cases {
        let agree: Vec<bool> = instances
            .iter()
            .map(|layers| {
                let snip = removed_by(&p, PruneCriterion::Snip, layers, steps);
                let taylor = removed_by(&p, PruneCriterion::Taylor, layers, steps);
                assert!(snip.iter().all(|r| !r.is_empty()), "{name}");
                snip == taylor
            })
            .collect();
        if same {
            assert!(
                agree.iter().all(|&a| a),
                "{name}: snip and taylor differ: {agree:?}"
            );
        } else {
            assert!(agree.iter().any(|&a| !a), "{name}: snip and taylor never differ");
        }
    }
}
