//! ADAPT: balance ratio queue, every branch of the density controller, and the density moves it orders.

use rand::SeedableRng;
use sparse_rl_dst::adapt::{
    AdaptAction, AdaptConfig, AdaptController, AdaptVariant, BalanceRatio, BalanceSample,
};

fn sample_with_ratio(ratio: f64) -> BalanceSample {
    BalanceSample {
        real: 1.0,
        fake_before: 0.0,
        fake_after: ratio,
    }
}

fn full_queue(ratio: f64, capacity: usize) -> BalanceRatio {
    let mut queue = BalanceRatio::new(capacity).unwrap();
    for _ in 0..capacity {
        queue.push(sample_with_ratio(ratio));
    }
    queue
}

fn controller(variant: AdaptVariant, density: f64) -> AdaptController {
    AdaptController::new(AdaptConfig::paper(variant, 100_000), density).unwrap()
}

#[test]
fn balance_ratio_is_the_mean_of_per_sample_ratios() {
    let mut queue = BalanceRatio::new(2).unwrap();
    assert_eq!(queue.value(), None);
    // (0.5 − 0) / (1 − 0) = 0.5 and (0.4 − 0.2) / (2.2 − 0.2) = 0.1: mean 0.3 (a ratio of the means
    // would give 0.7 / 3.0).
    queue.push(BalanceSample {
        real: 1.0,
        fake_before: 0.0,
        fake_after: 0.5,
    });
    queue.push(BalanceSample {
        real: 2.2,
        fake_before: 0.2,
        fake_after: 0.4,
    });
    assert!(queue.is_full());
    assert!((queue.value().unwrap() - 0.3).abs() < 1e-12);
    // The oldest sample leaves: (0.1 + 0.9) / 2.
    queue.push(sample_with_ratio(0.9));
    assert_eq!(queue.len(), 2);
    assert!((queue.value().unwrap() - 0.5).abs() < 1e-12);
    assert!(BalanceRatio::new(0).is_err());
}

#[test]
fn waits_off_schedule_and_until_the_queue_is_full() {
    let mut c = controller(AdaptVariant::Relaxed, 0.3);
    let full = full_queue(0.9, 100);
    assert_eq!(c.decide(0, &full), AdaptAction::Wait);
    assert_eq!(c.decide(999, &full), AdaptAction::Wait);
    let mut partial = c.balance_queue();
    partial.push(sample_with_ratio(0.9));
    assert_eq!(c.decide(1000, &partial), AdaptAction::Wait);
    // Never at the last iteration.
    let mut last = AdaptController::new(AdaptConfig::paper(AdaptVariant::Relaxed, 3000), 0.3).unwrap();
    assert_eq!(last.decide(3000, &full), AdaptAction::Wait);
    assert_eq!(c.density(), 0.3);
    assert!(c.is_sample_step(20) && !c.is_sample_step(25));
}

#[test]
fn weak_discriminator_grows_until_the_relaxed_cap() {
    let mut c = controller(AdaptVariant::Relaxed, 0.3);
    let weak = full_queue(0.6, 100);
    match c.decide(1000, &weak) {
        AdaptAction::Grow { from, to } => {
            assert_eq!(from, 0.3);
            assert!((to - 0.35).abs() < 1e-12);
        }
        other => panic!("expected grow, got {other:?}"),
    }
    // The bound is inclusive, as in the authors' code (BR ≥ B+).
    assert!(matches!(
        c.decide(2000, &full_queue(0.55, 1)),
        AdaptAction::Grow { .. }
    ));
    let mut dense = controller(AdaptVariant::Relaxed, 0.98);
    assert_eq!(
        dense.decide(1000, &weak),
        AdaptAction::Grow { from: 0.98, to: 1.0 }
    );
    assert_eq!(dense.decide(2000, &weak), AdaptAction::Hold);
    assert_eq!(dense.density(), 1.0);
}

#[test]
fn strong_discriminator_shrinks_to_the_floor() {
    let mut c = controller(AdaptVariant::Relaxed, 0.3);
    let strong = full_queue(0.2, 100);
    match c.decide(1000, &strong) {
        AdaptAction::Shrink { from, to } => assert!(from == 0.3 && (to - 0.25).abs() < 1e-12),
        other => panic!("expected shrink, got {other:?}"),
    }
    let mut low = controller(AdaptVariant::Relaxed, 0.08);
    assert_eq!(
        low.decide(1000, &strong),
        AdaptAction::Shrink { from: 0.08, to: 0.05 }
    );
    assert_eq!(low.decide(2000, &strong), AdaptAction::Hold);
    assert_eq!(low.density(), 0.05);
}

#[test]
fn balanced_or_undefined_ratio_holds() {
    let mut c = controller(AdaptVariant::Relaxed, 0.3);
    assert_eq!(c.decide(1000, &full_queue(0.5, 100)), AdaptAction::Hold);
    // D(x_real) = D(G_pre): 0 / 0 is NaN, which compares false both ways.
    let mut undefined = BalanceRatio::new(1).unwrap();
    undefined.push(BalanceSample {
        real: 0.5,
        fake_before: 0.5,
        fake_after: 0.5,
    });
    assert_eq!(c.decide(2000, &undefined), AdaptAction::Hold);
    assert_eq!(c.density(), 0.3);
}

#[test]
fn strict_variant_caps_at_half_and_then_prunes_and_regrows() {
    let mut c = controller(AdaptVariant::Strict, 0.48);
    assert_eq!(c.config().update_interval(), 2000);
    let weak = full_queue(0.7, 100);
    assert_eq!(
        c.decide(1000, &weak),
        AdaptAction::Wait,
        "ΔT is 2000 in the strict variant"
    );
    assert_eq!(c.decide(2000, &weak), AdaptAction::Grow { from: 0.48, to: 0.5 });
    // At the cap: prune-and-regrow with the cosine-decayed fraction at step 20,000 of 100,000:
    // 0.005 + 0.495 · ½ (1 + cos(0.2 π)) = 0.452732...
    match c.decide(20_000, &weak) {
        AdaptAction::PruneAndRegrow { fraction } => {
            assert!((fraction - 0.452_732_2).abs() < 1e-6, "{fraction}")
        }
        other => panic!("expected prune-and-regrow, got {other:?}"),
    }
    assert_eq!(c.density(), 0.5);
    // A too-strong D still shrinks in the strict variant.
    assert!(matches!(
        c.decide(22_000, &full_queue(0.1, 100)),
        AdaptAction::Shrink { .. }
    ));
}

#[test]
fn config_reads_toml_with_defaults_and_rejects_unknown_keys() {
    let config: AdaptConfig = toml::from_str("variant = \"strict\"\ntotal_steps = 50000\n").unwrap();
    assert_eq!(config, AdaptConfig::paper(AdaptVariant::Strict, 50_000));
    assert_eq!(config.max_density(), 0.5);
    assert_eq!(AdaptConfig::paper(AdaptVariant::Relaxed, 1).max_density(), 1.0);
    assert_eq!(
        AdaptConfig::paper(AdaptVariant::Relaxed, 1).update_interval(),
        1000
    );
    let err = toml::from_str::<AdaptConfig>("total_steps = 10\nupper_bund = 0.6\n")
        .unwrap_err()
        .to_string();
    assert!(err.contains("upper_bund"), "{err}");
    let unfilled = toml::from_str::<AdaptConfig>("variant = \"strict\"\n").unwrap();
    assert_eq!(
        unfilled.total_steps, 0,
        "left out, the trainer fills in the run's length"
    );
    assert!(unfilled
        .validate()
        .unwrap_err()
        .to_string()
        .contains("total_steps"));
}

#[test]
fn config_validation_names_the_key() {
    let mut config = AdaptConfig::paper(AdaptVariant::Relaxed, 1000);
    config.lower_bound = 0.6;
    assert!(config
        .validate()
        .unwrap_err()
        .to_string()
        .contains("adapt.lower_bound (0.6)"));
    let mut config = AdaptConfig::paper(AdaptVariant::Strict, 1000);
    config.min_density = 0.7;
    assert!(config
        .validate()
        .unwrap_err()
        .to_string()
        .contains("adapt.min_density (0.7)"));
    let mut config = AdaptConfig::paper(AdaptVariant::Relaxed, 1000);
    config.density_step = 0.0;
    assert!(config
        .validate()
        .unwrap_err()
        .to_string()
        .contains("adapt.density_step"));
    let mut config = AdaptConfig::paper(AdaptVariant::Relaxed, 1000);
    config.update_interval = Some(0);
    assert!(config
        .validate()
        .unwrap_err()
        .to_string()
        .contains("adapt.update_interval"));
    let err = AdaptController::new(AdaptConfig::paper(AdaptVariant::Strict, 1000), 0.8).unwrap_err();
    assert!(err.to_string().contains("0.8"), "{err}");
}

/// Two layers (8×4 and 2×8) at density 0.5 with distinct weight magnitudes and gradients.
fn resize_fixture() -> (
    sparse_rl_dst::SparsityController,
    Vec<sparse_rl_dst::LayerTopology>,
) {
    use sparse_rl_dst::grow::GrowCriterion;
    use sparse_rl_dst::policy::{Distribution, PolicyKind, SparsityPolicy};
    use sparse_rl_dst::{LayerShape, LayerTopology, SparsityController};
    let policy = SparsityPolicy {
        kind: PolicyKind::Static,
        density: 0.5,
        distribution: Distribution::Uniform,
        grow: GrowCriterion::Gradient,
        ..SparsityPolicy::default()
    };
    let shapes = [LayerShape::dense(8, 4), LayerShape::dense(2, 8)];
    let mut controller = SparsityController::new(&policy, &shapes, 1000).unwrap();
    let mut k = 0.0f32;
    let mut layers: Vec<LayerTopology> = shapes
        .iter()
        .enumerate()
        .map(|(l, &shape)| {
            let weight = (0..shape.len())
                .map(|_| {
                    k += 1.0;
                    k
                })
                .collect();
            let mut t = LayerTopology::from_dense(format!("d.{l}"), shape, weight);
            t.grad = Some(
                (0..shape.len())
                    .map(|i| ((i * 7919) % 97) as f32 + l as f32 * 0.5)
                    .collect(),
            );
            t
        })
        .collect();
    let mut rng = rand::rngs::StdRng::seed_from_u64(5);
    controller.init_masks(&mut layers, &mut rng).unwrap();
    (controller, layers)
}

#[test]
fn adapt_shrink_prunes_the_globally_smallest_weights_and_grow_adds_the_largest_gradients() {
    let (mut controller, mut layers) = resize_fixture();
    let mut rng = rand::rngs::StdRng::seed_from_u64(6);
    let total = 48;
    assert_eq!(controller.active_counts().iter().sum::<usize>(), 24);
    let active_before: Vec<(usize, usize, f32)> = active_weights(&layers);
    let report = controller.resize(1000, 0.25, &mut layers, &mut rng).unwrap();
    assert_eq!(controller.active_counts().iter().sum::<usize>(), 12);
    assert!((report.density - 12.0 / total as f64).abs() < 1e-12);
    // The 12 survivors are the 12 largest magnitudes over both layers together.
    let mut magnitudes: Vec<f32> = active_before.iter().map(|a| a.2).collect();
    magnitudes.sort_by(|a, b| b.total_cmp(a));
    let mut kept: Vec<f32> = active_weights(&layers).iter().map(|a| a.2).collect();
    kept.sort_by(|a, b| b.total_cmp(a));
    assert_eq!(kept, magnitudes[..12]);
    assert!(layers
        .iter()
        .all(|l| l.weight.iter().zip(&l.mask).all(|(&w, &m)| m || w == 0.0)));

    let inactive_grads: Vec<f32> = layers
        .iter()
        .flat_map(|l| {
            let g = l.grad.clone().unwrap();
            l.mask
                .iter()
                .zip(g)
                .filter(|(m, _)| !**m)
                .map(|(_, g)| g)
                .collect::<Vec<_>>()
        })
        .collect();
    controller.resize(2000, 0.5, &mut layers, &mut rng).unwrap();
    assert_eq!(controller.active_counts().iter().sum::<usize>(), 24);
    let mut grown: Vec<f32> = Vec::new();
    for l in &layers {
        for (i, &m) in l.mask.iter().enumerate() {
            if m && l.weight[i] == 0.0 {
                grown.push(l.grad.as_ref().unwrap()[i]);
            }
        }
    }
    assert_eq!(grown.len(), 12, "grown weights start at zero");
    let mut sorted = inactive_grads;
    sorted.sort_by(|a, b| b.total_cmp(a));
    assert!(
        grown.iter().all(|&g| g >= sorted[11]),
        "growth takes the 12 largest gradients"
    );
}

#[test]
fn adapt_strict_regrow_keeps_the_density() {
    let (mut controller, mut layers) = resize_fixture();
    let mut rng = rand::rngs::StdRng::seed_from_u64(7);
    let report = controller.regrow(500, 0.5, &mut layers, &mut rng).unwrap();
    assert_eq!(controller.active_counts().iter().sum::<usize>(), 24);
    assert!(report.topology_change > 0.0);
    assert!(controller.regrow(500, 1.0, &mut layers, &mut rng).is_err());
}

/// (layer, index, |weight|) of every active weight.
fn active_weights(layers: &[sparse_rl_dst::LayerTopology]) -> Vec<(usize, usize, f32)> {
    layers
        .iter()
        .enumerate()
        .flat_map(|(l, t)| {
            t.mask
                .iter()
                .enumerate()
                .filter(|(_, &m)| m)
                .map(move |(i, _)| (l, i, t.weight[i].abs()))
        })
        .collect()
}
