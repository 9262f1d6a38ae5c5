//! A short fixed-seed GAN run on the 8-Gaussian ring, with a RigL generator and an ADAPT-controlled
//! static discriminator, learns: its samples cover modes the untrained generator misses.

use burn::backend::{Autodiff, Flex};
use sparse_rl_agents::gan::mixture::Mixture;
use sparse_rl_agents::gan::trainer::{Balance, Gan, GanConfig};
use sparse_rl_dst::adapt::{AdaptConfig, AdaptVariant};
use sparse_rl_dst::grow::GrowCriterion;
use sparse_rl_dst::policy::{PolicyKind, SparsityPolicy};

const STEPS: usize = 1500;

fn policy(kind: PolicyKind) -> SparsityPolicy {
    SparsityPolicy {
        kind,
        density: 0.5,
        grow: GrowCriterion::Gradient,
        update_interval: 100,
        ..SparsityPolicy::default()
    }
}

#[test]
fn a_short_sparse_adapt_run_covers_modes_the_untrained_generator_misses() {
    let adapt = AdaptConfig {
        update_interval: Some(100),
        queue_len: 5,
        ..AdaptConfig::paper(AdaptVariant::Relaxed, STEPS as u64)
    };
    let config = GanConfig {
        generator_hidden: vec![64, 64],
        discriminator_hidden: vec![64, 64],
        learning_rate: 1e-3,
        beta1: 0.5,
        balance: Balance::Adapt,
        adapt: Some(adapt),
        ..GanConfig::default()
    };
    let policies = |m: &str| {
        policy(if m == "generator" {
            PolicyKind::SparseToSparse
        } else {
            PolicyKind::Static
        })
    };
    let mut gan =
        Gan::<Autodiff<Flex>>::new(config, Mixture::ring(), policies, STEPS, 7, Default::default()).unwrap();
    let before = gan.evaluate();
    let mut d_densities = Vec::new();
    for step in 1..=STEPS {
        let losses = gan.train_step(step).unwrap();
        assert!(losses.g_loss.is_finite() && losses.d_loss.is_finite());
        d_densities.push(gan.modules()[1].density);
    }
    let after = gan.evaluate();
    eprintln!(
        "before {:?} after {:?} hq {} br {:?} D density {:?}",
        before.counts,
        after.counts,
        after.high_quality_fraction(),
        gan.balance_ratio(),
        d_densities.iter().step_by(100).collect::<Vec<_>>()
    );
    assert!(gan.balance_ratio().is_some());
    assert!(
        after.modes_covered() > before.modes_covered(),
        "{before:?} → {after:?}"
    );
    assert!(after.high_quality_fraction() > before.high_quality_fraction() + 0.05);
    let g = &gan.modules()[0];
    assert!(
        (g.density - 0.5).abs() < 0.01,
        "RigL keeps the generator's density: {}",
        g.density
    );
}
