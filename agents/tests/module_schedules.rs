//! Every module follows its own sparsity schedule during training, whatever the algorithm's step pattern
//! (DQN's train frequency, SAC's delayed actor, QMIX's one gradient step per episode, learning starts),
//! and after every optimizer step of every module each inactive weight and its Adam moments are exactly
//! zero (the policies run with `check_invariant`, which stops training with an error otherwise).
//!
//! The expected numbers are computed here from the definitions, independently of the library: the
//! module's gradient steps from the algorithm's step rule, its topology updates as the multiples of
//! `update_interval` up to `update_end` of those steps, and its density from Zhu & Gupta's cubic at the
//! last update so far.

use std::collections::BTreeMap;

use burn::backend::{Autodiff, Flex};
use proptest::prelude::*;
use sparse_rl_agents::agent::{Agent, ModuleStats, Trainable};
use sparse_rl_agents::dqn::{Dqn, DqnConfig};
use sparse_rl_agents::marl::MarlAgent;
use sparse_rl_agents::networks::Architecture;
use sparse_rl_agents::qmix::episode_buffer::EpisodeShape;
use sparse_rl_agents::qmix::{MastConfig, Qmix, QmixConfig};
use sparse_rl_agents::sac::{Sac, SacConfig};
use sparse_rl_dst::grow::GrowCriterion;
use sparse_rl_dst::policy::{Distribution, PolicyKind, Scope, SparsityPolicy};
use sparse_rl_dst::prune::PruneCriterion;
use sparse_rl_envs::Env;

type B = Autodiff<Flex>;

const FINAL_DENSITY: f64 = 0.3;
/// Where sparse-to-dense starts: low, but above the 1-connection floor of the mixer's 1 × 4 output layer.
const GROW_FROM: f64 = 0.15;
const KINDS: [PolicyKind; 4] = [
    PolicyKind::Static,
    PolicyKind::SparseToSparse,
    PolicyKind::DenseToSparse,
    PolicyKind::SparseToDense,
];

/// A policy of `kind` ending at density 0.3 (uniform, sparse output, so the module density is the layer
/// density up to rounding), growing by gradient so update steps take the dense-gradient path. The
/// interval's parity picks the variant: odd intervals prune by SNIP with a running score over each
/// window (the gradient read at every step) and rank globally across the module's layers.
fn policy(kind: PolicyKind, interval: u64, end: f64) -> SparsityPolicy {
    let variant = interval % 2 == 1;
    SparsityPolicy {
        prune: if variant {
            PruneCriterion::Snip
        } else {
            PruneCriterion::Magnitude
        },
        score_beta: if variant { 0.5 } else { 0.0 },
        scope: if variant { Scope::Global } else { Scope::Layer },
        kind,
        density: FINAL_DENSITY,
        init_density: if kind == PolicyKind::SparseToDense {
            GROW_FROM
        } else {
            1.0
        },
        distribution: Distribution::Uniform,
        sparse_output: true,
        grow: GrowCriterion::Gradient,
        drop_fraction: 0.3,
        update_interval: interval,
        update_end: end,
        check_invariant: true,
        ..SparsityPolicy::default()
    }
}

/// What a module's schedule implies after it has taken `steps` of its `planned` gradient steps.
struct Expected {
    updates: usize,
    density: f64,
}

/// The module steps at which a schedule of `planned` steps updates: multiples of the interval up to
/// `update_end` of the plan.
fn update_steps(interval: u64, end: f64, planned: usize) -> Vec<usize> {
    let end_step = (end * planned as f64).floor() as usize;
    (1..=end_step).filter(|s| s % interval as usize == 0).collect()
}

/// A gradual kind whose plan holds no update must be refused before training (it would never leave its
/// start density), with an error naming `update_interval`. Returns whether the module was refused.
fn refused<A>(
    kind: PolicyKind,
    interval: u64,
    end: f64,
    planned: usize,
    built: &Result<A, String>,
) -> Result<bool, TestCaseError> {
    let gradual = matches!(kind, PolicyKind::DenseToSparse | PolicyKind::SparseToDense);
    if gradual && update_steps(interval, end, planned).is_empty() {
        let error = built.as_ref().err().cloned().unwrap_or_default();
        prop_assert!(
            error.contains("update_interval"),
            "expected a refusal, got {:?}",
            error
        );
        return Ok(true);
    }
    prop_assert!(built.is_ok(), "{:?}", built.as_ref().err());
    Ok(false)
}

fn expected(kind: PolicyKind, interval: u64, end: f64, planned: usize, steps: usize) -> Expected {
    let update_steps = update_steps(interval, end, planned);
    let done = update_steps.iter().filter(|&&s| s <= steps).count();
    let (from, to) = match kind {
        PolicyKind::DenseToSparse => (1.0, FINAL_DENSITY),
        PolicyKind::SparseToDense => (GROW_FROM, FINAL_DENSITY),
        _ => (FINAL_DENSITY, FINAL_DENSITY),
    };
    let density = match (done, update_steps.last()) {
        (0, _) | (_, None) => from,
        (n, Some(&last)) => {
            let p = update_steps[n - 1] as f64 / last as f64;
            to + (from - to) * (1.0 - p).powi(3)
        }
    };
    let evolves = kind != PolicyKind::Static;
    Expected {
        updates: if evolves { done } else { 0 },
        density,
    }
}

/// Checks one module's stats against its schedule after `steps` of its `planned` gradient steps. Each
/// layer rounds its own active count, which the smallest layer here (64 weights) keeps within 0.008 of
/// the schedule's density.
fn check(
    m: &ModuleStats,
    kind: PolicyKind,
    (interval, end): (u64, f64),
    planned: usize,
    steps: usize,
) -> Result<(), TestCaseError> {
    let e = expected(kind, interval, end, planned, steps);
    prop_assert_eq!(m.gradient_steps, steps, "{}: gradient steps", m.name);
    prop_assert_eq!(
        m.topology_updates,
        e.updates,
        "{}: topology updates after {} steps",
        m.name,
        steps
    );
    prop_assert!(
        (m.density - e.density).abs() <= 0.01,
        "{}: density {} after {} of {} steps, schedule says {}",
        m.name,
        m.density,
        steps,
        planned,
        e.density
    );
    Ok(())
}

fn knobs() -> impl Strategy<Value = (usize, u64, f64, usize)> {
    (0usize..4, 1u64..12, 0.3f64..1.0, 0usize..40)
}

/// Runs `agent` on `env` for `total` env steps as the CLI's loop does, calling `each` after every
/// `train` with the env step.
fn drive(
    agent: &mut dyn Agent,
    env: &mut dyn Env,
    total: usize,
    mut each: impl FnMut(&dyn Agent, usize) -> Result<(), TestCaseError>,
) -> Result<(), TestCaseError> {
    let (mut obs, _) = env.reset(Some(5));
    for step in 1..=total {
        let action = agent.act(&obs, true, step);
        let s = env.step(&action).unwrap();
        agent.observe(&obs, &action, s.reward, &s.obs, s.terminated);
        agent
            .train(step)
            .map_err(|e| TestCaseError::fail(e.to_string()))?;
        each(agent, step)?;
        obs = s.obs;
        if s.terminated || s.truncated {
            obs = env.reset(Some(step as u64)).0;
        }
    }
    Ok(())
}

/// Checks that a module whose schedule cannot fire was refused; else trains the agent for `total` env steps
/// and checks module `module` (its index in `modules()`) against its schedule after every step, with
/// `steps_at(t)` its gradient steps after env step `t`.
fn train_and_check<A: Agent>(
    built: Result<A, String>,
    env: &mut dyn Env,
    total: usize,
    module: usize,
    (kind, interval, end): (PolicyKind, u64, f64),
    steps_at: impl Fn(usize) -> usize,
) -> Result<(), TestCaseError> {
    let planned = steps_at(total);
    if refused(kind, interval, end, planned, &built)? {
        return Ok(());
    }
    let mut agent = built.unwrap();
    drive(&mut agent, env, total, |a, t| {
        check(&a.modules()[module], kind, (interval, end), planned, steps_at(t))
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 32, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn dqn_modules_follow_their_own_schedules(
        (kind, interval, end, learning_starts) in knobs(),
        train_frequency in 1usize..4,
        module in 0usize..2,
    ) {
        let (kind, total) = (KINDS[kind], 160);
        let config = DqnConfig {
            learning_starts,
            train_frequency,
            batch_size: 8,
            buffer_size: 200,
            target_network_frequency: 7,
            encoder_hidden: vec![16],
            head_hidden: vec![12],
            ..DqnConfig::default()
        };
        let name = ["encoder", "critic"][module];
        let policies = BTreeMap::from([(name.to_string(), policy(kind, interval, end))]);
        let mut env = sparse_rl_envs::make("CartPole-v1").unwrap();
        let steps_at = |t: usize| (1..=t).filter(|s| *s > learning_starts && s % train_frequency == 0).count();
        let built = Dqn::<B>::new(config, &policies, &env.observation_space(), &env.action_space(), total, 3, Default::default());
        train_and_check(built, env.as_mut(), total, module, (kind, interval, end), steps_at)?;
    }

    #[test]
    fn sac_modules_follow_their_own_schedules(
        (kind, interval, end, learning_starts) in knobs(),
        policy_frequency in 1usize..4,
        module in 0usize..3,
        simba in proptest::bool::ANY,
    ) {
        let (kind, total) = (KINDS[kind], 120);
        // Either architecture for the critic and actor: SimBa's residual blocks (with observation
        // normalisation) hold their linear layers under the module's policy as the MLP does.
        let network = if simba { Architecture::Simba } else { Architecture::Mlp };
        let config = SacConfig {
            learning_starts,
            policy_frequency,
            batch_size: 8,
            buffer_size: 200,
            hidden: vec![12, 12],
            encoder_hidden: vec![32],
            critic_network: network,
            actor_network: network,
            normalize_observations: simba,
            ..SacConfig::default()
        };
        // `modules()` order: encoder, critic, actor.
        let name = ["encoder", "critic", "actor"][module];
        let policies = BTreeMap::from([(name.to_string(), policy(kind, interval, end))]);
        let mut env = sparse_rl_envs::make("Pendulum-v1").unwrap();
        // The encoder and critic step at every env step after learning starts; the actor takes
        // `policy_frequency` steps at every `policy_frequency`-th of them.
        let steps_at = |t: usize| {
            let trained = (1..=t).filter(|s| *s > learning_starts);
            if module < 2 {
                trained.count()
            } else {
                policy_frequency * trained.filter(|s| s % policy_frequency == 0).count()
            }
        };
        let built = Sac::<B>::new(config, &policies, &env.observation_space(), &env.action_space(), total, 3, Default::default());
        train_and_check(built, env.as_mut(), total, module, (kind, interval, end), steps_at)?;
    }

    #[test]
    fn qmix_modules_follow_their_own_schedules_under_mast(
        (kind, interval, end, _) in knobs(),
        batch_size in 2usize..6,
        module in 0usize..2,
    ) {
        let kind = KINDS[kind];
        let mut env = sparse_rl_envs::make_multi_agent("Foraging-5x5-2p-1f").unwrap();
        let shape = EpisodeShape {
            n_agents: env.n_agents(),
            obs_dim: env.obs_dim(),
            state_dim: env.state_dim(),
            n_actions: env.n_actions(),
        };
        let limit = env.episode_limit();
        let total = 30 * limit;
        let config = QmixConfig {
            batch_size,
            buffer_size: 40,
            hidden_dim: 8,
            mixing_embed_dim: 4,
            hypernet_embed: 8,
            target_update_interval: 3,
            mast: MastConfig {
                hybrid_target: true,
                hybrid_switch_step: 100,
                soft_mellowmax: true,
                dual_replay: true,
                recent_capacity: 3,
                ..MastConfig::default()
            },
            ..QmixConfig::default()
        };
        let name = ["agent", "mixer"][module];
        let policies = BTreeMap::from([(name.to_string(), policy(kind, interval, end))]);
        // One gradient step per episode once the buffer holds a batch; the plan assumes full-length
        // episodes.
        let planned = (total / limit).saturating_sub(batch_size - 1);
        let built = Qmix::<B>::new(config, &policies, shape, limit, total, 3, Default::default());
        if refused(kind, interval, end, planned, &built)? {
            return Ok(());
        }
        let mut agent = built.unwrap();
        let (mut step, mut episodes) = (0, 0);
        while step < total {
            let mut obs = env.reset(Some(episodes as u64));
            agent.begin_episode();
            loop {
                let actions = agent.act(&obs, true, step);
                let s = env.step(&actions).unwrap();
                agent.observe(&obs, &actions, s.team_reward);
                step += 1;
                if s.terminated || s.truncated {
                    agent.end_episode(&s.obs, s.terminated, step).map_err(|e| TestCaseError::fail(e.to_string()))?;
                    break;
                }
                obs = s.obs;
            }
            episodes += 1;
            let steps = (batch_size..=episodes).count();
            check(&agent.modules()[module], kind, (interval, end), planned, steps)?;
        }
    }
}

/// The GAN under ADAPT: a RigL generator (gradient growth) and an ADAPT-controlled static
/// discriminator whose density moves, both checking the zero invariant after every optimizer step
/// (ADAPT's hold and wait decisions included).
#[test]
fn gan_modules_under_adapt_keep_inactive_weights_and_moments_at_zero() {
    use sparse_rl_agents::gan::mixture::Mixture;
    use sparse_rl_agents::gan::trainer::{Balance, Gan, GanConfig};
    use sparse_rl_dst::adapt::{AdaptConfig, AdaptVariant};

    let steps = 300;
    let config = GanConfig {
        generator_hidden: vec![16, 16],
        discriminator_hidden: vec![16, 16],
        batch_size: 16,
        balance: Balance::Adapt,
        adapt: Some(AdaptConfig {
            update_interval: Some(20),
            queue_len: 2,
            sample_interval: 5,
            ..AdaptConfig::paper(AdaptVariant::Relaxed, steps as u64)
        }),
        ..GanConfig::default()
    };
    let policies = |m: &str| SparsityPolicy {
        kind: if m == "generator" {
            PolicyKind::SparseToSparse
        } else {
            PolicyKind::Static
        },
        density: 0.5,
        grow: GrowCriterion::Gradient,
        update_interval: 25,
        check_invariant: true,
        ..SparsityPolicy::default()
    };
    let mut gan = Gan::<B>::new(config, Mixture::ring(), policies, steps, 5, Default::default()).unwrap();
    let mut d_densities = Vec::new();
    for step in 1..=steps {
        gan.train_step(step).unwrap();
        d_densities.push(gan.modules()[1].density);
    }
    let [g, d] = [&gan.modules()[0], &gan.modules()[1]];
    assert_eq!((g.gradient_steps, d.gradient_steps), (steps, steps));
    assert_eq!(g.topology_updates, (1..=225).filter(|s| s % 25 == 0).count());
    d_densities.dedup();
    assert!(
        d.topology_updates > 0 && d_densities.len() > 1,
        "ADAPT never moved D: {d_densities:?}"
    );
}
