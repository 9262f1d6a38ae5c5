//! Invariants of the classic-control envs over random seeds and action sequences: initial-state ranges,
//! bounds kept by the dynamics, observations inside their space, determinism under a seed, the picture.

use std::f64::consts::PI;

use proptest::prelude::*;
use sparse_rl_envs::classic::{self, CartPole};
use sparse_rl_envs::{make, Action, Env, Space};

const BASE_IDS: [&str; 5] = [
    "CartPole-v1",
    "Acrobot-v1",
    "MountainCar-v0",
    "MountainCarContinuous-v0",
    "Pendulum-v1",
];

/// An action of `space` from a number in [0, 1) (discrete: an index; box: anywhere in 1.5 x the box).
fn action_from(space: &Space, u: f64) -> Action {
    match space {
        Space::Discrete { n } => Action::Discrete(((u * *n as f64) as usize).min(n - 1)),
        Space::Box { low, high, .. } => Action::Continuous(
            low.iter()
                .zip(high)
                .map(|(l, h)| 1.5 * (l + u * (h - l)))
                .collect(),
        ),
    }
}

fn in_space(space: &Space, obs: &[f32]) -> bool {
    match space {
        Space::Box { low, high, .. } => obs
            .iter()
            .zip(low.iter().zip(high))
            .all(|(&x, (l, h))| f64::from(x) >= *l && f64::from(x) <= *h),
        Space::Discrete { .. } => false,
    }
}

/// Gymnasium's initial-state box of each env.
fn initial_ranges(id: &str) -> Vec<(f64, f64)> {
    match id {
        "CartPole-v1" => vec![(-0.05, 0.05); 4],
        "Acrobot-v1" => vec![(-0.1, 0.1); 4],
        "MountainCar-v0" | "MountainCarContinuous-v0" => vec![(-0.6, -0.4), (0.0, 0.0)],
        "Pendulum-v1" => vec![(-PI, PI), (-1.0, 1.0)],
        _ => unreachable!(),
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    #[test]
    fn reset_draws_from_gymnasiums_ranges(seed in any::<u64>(), which in 0..5usize) {
        let id = BASE_IDS[which];
        let mut env = classic::make_unwrapped(id).unwrap();
        env.reset(Some(seed));
        for (x, (lo, hi)) in env.state().iter().zip(initial_ranges(id)) {
            prop_assert!(*x >= lo && *x <= hi, "{id}: {x} outside [{lo}, {hi}]");
        }
    }

    #[test]
    fn dynamics_keep_bounds_and_observations_stay_in_space(
        seed in any::<u64>(),
        which in 0..5usize,
        actions in prop::collection::vec(0.0..1.0f64, 1..300),
    ) {
        let id = BASE_IDS[which];
        let mut env = make(id).unwrap();
        let (obs_space, action_space) = (env.observation_space(), env.action_space());
        let (obs, _) = env.reset(Some(seed));
        prop_assert!(id == "CartPole-v1" || in_space(&obs_space, &obs), "{id}: reset obs {obs:?}");
        for u in actions {
            let step = env.step(&action_from(&action_space, u)).unwrap();
            let s = env.state();
            match id {
                // CartPole's velocities are unbounded; its position and angle stay inside the space
                // until the step that terminates.
                "CartPole-v1" => prop_assert!(step.terminated || in_space(&obs_space, &step.obs)),
                "Acrobot-v1" => {
                    prop_assert!(s[0].abs() <= PI && s[1].abs() <= PI, "{s:?}");
                    prop_assert!(s[2].abs() <= 4.0 * PI && s[3].abs() <= 9.0 * PI, "{s:?}");
                    prop_assert_eq!(step.reward, if step.terminated { 0.0 } else { -1.0 });
                }
                "MountainCar-v0" | "MountainCarContinuous-v0" => {
                    prop_assert!((-1.2..=0.6).contains(&s[0]) && s[1].abs() <= 0.07 + 1e-9, "{s:?}");
                }
                _ => {
                    prop_assert!(s[1].abs() <= 8.0, "{s:?}");
                    // The cost is at most pi² + 0.1 * 8² + 0.001 * 2².
                    prop_assert!(step.reward <= 0.0 && step.reward >= -(PI * PI + 6.4 + 0.004));
                }
            }
            if id != "CartPole-v1" {
                prop_assert!(in_space(&obs_space, &step.obs), "{id}: obs {:?}", step.obs);
            }
            if step.terminated || step.truncated {
                break;
            }
        }
    }

    #[test]
    fn a_seed_fixes_the_whole_trajectory(seed in any::<u64>(), which in 0..5usize) {
        let id = BASE_IDS[which];
        let (mut a, mut b) = (make(id).unwrap(), make(id).unwrap());
        prop_assert_eq!(a.reset(Some(seed)), b.reset(Some(seed)));
        // `None` continues the stream: the second episodes agree too.
        let space = a.action_space();
        for env in [&mut a, &mut b] {
            env.step(&action_from(&space, 0.3)).unwrap();
        }
        prop_assert_eq!(a.reset(None), b.reset(None));
        prop_assert_eq!(a.state(), b.state());
    }
}

#[test]
fn different_seeds_give_different_starts() {
    for id in BASE_IDS {
        let mut env = make(id).unwrap();
        let first = env.reset(Some(1)).0;
        assert_ne!(first, env.reset(Some(2)).0, "{id}");
    }
}

/// Mean column of the pixels with value `v`.
fn mean_column(pixels: &[f32], width: usize, v: f32) -> f64 {
    let cols: Vec<usize> = pixels
        .iter()
        .enumerate()
        .filter(|(_, &p)| p == v)
        .map(|(i, _)| i % width)
        .collect();
    assert!(!cols.is_empty(), "no pixel of value {v}");
    cols.iter().sum::<usize>() as f64 / cols.len() as f64
}

#[test]
fn the_cartpole_picture_follows_cart_and_pole() {
    let (h, w) = (40, 60);
    let mut env = CartPole::new();
    let mut picture = |state: [f64; 4]| {
        env.set_state(&state).unwrap();
        env.render_pixels(h, w).unwrap()
    };
    let centre = picture([0.0; 4]);
    assert!(
        (mean_column(&centre, w, 1.0) - w as f64 / 2.0).abs() < 1.0,
        "cart not centred"
    );
    assert!(
        (mean_column(&centre, w, 0.5) - w as f64 / 2.0).abs() < 1.0,
        "upright pole not centred"
    );
    // x = 1.2 m is a quarter of the 4.8 m track to the right: 15 pixels.
    let right = picture([1.2, 0.0, 0.0, 0.0]);
    assert!((mean_column(&right, w, 1.0) - mean_column(&centre, w, 1.0) - 15.0).abs() < 1.0);
    // A pole leaning right (theta > 0) has its pixels right of the cart, and higher rows than the cart.
    let leaning = picture([0.0, 0.0, 0.2, 0.0]);
    assert!(mean_column(&leaning, w, 0.5) > mean_column(&centre, w, 0.5) + 0.5);
    let first_cart_row = centre.iter().position(|&p| p == 1.0).unwrap() / w;
    let first_pole_row = centre.iter().position(|&p| p == 0.5).unwrap() / w;
    assert!(
        first_pole_row + 10 < first_cart_row,
        "the pole stands above the cart"
    );
    assert!(leaning.iter().all(|&p| p == 0.0 || p == 0.5 || p == 1.0));
}
