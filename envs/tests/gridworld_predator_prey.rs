//! Predator-prey pursuit: the capture rule, the miscoordination penalty, moves and collisions on the
//! torus, the random prey, observations, termination, errors and the picture.

use proptest::prelude::*;
use sparse_rl_envs::gridworld::{PredatorPrey, PredatorPreyConfig};
use sparse_rl_envs::{make_multi_agent, MultiAgentEnv};

const NONE: usize = 0;
const NORTH: usize = 1;
const SOUTH: usize = 2;
const WEST: usize = 3;
const EAST: usize = 4;
const CAPTURE: usize = 5;

fn env(id: &str) -> PredatorPrey {
    PredatorPrey::new(PredatorPreyConfig::from_id(id).unwrap()).unwrap()
}

fn torus_steps(a: (usize, usize), b: (usize, usize), n: usize) -> usize {
    let d = |x: usize, y: usize| x.abs_diff(y).min(n - x.abs_diff(y));
    d(a.0, b.0) + d(a.1, b.1)
}

#[test]
fn registered_ids_have_the_documented_parameters() {
    let c = PredatorPreyConfig::from_id("PredatorPrey-7x7-4p-2prey-penalty").unwrap();
    assert_eq!(
        (c.size, c.n_predators, c.n_prey, c.sight, c.max_steps),
        (7, 4, 2, 2, 100)
    );
    assert_eq!(
        (c.capture_reward, c.miscapture_penalty, c.predators_to_capture),
        (10.0, 2.0, 2)
    );
    assert_eq!(
        PredatorPreyConfig::from_id("PredatorPrey-7x7-4p-2prey")
            .unwrap()
            .miscapture_penalty,
        0.0
    );
    let env = make_multi_agent("PredatorPrey-7x7-4p-2prey").unwrap();
    assert_eq!(
        (env.n_agents(), env.n_actions(), env.obs_dim(), env.state_dim()),
        (4, 6, 50, 14)
    );
    for id in sparse_rl_envs::gridworld::ids()
        .iter()
        .filter(|id| id.starts_with("PredatorPrey"))
    {
        assert_eq!(&PredatorPreyConfig::from_id(id).unwrap().id(), id);
        assert!(make_multi_agent(id).is_ok());
    }
    for bad in [
        "PredatorPrey-7x7-4p",
        "PredatorPrey-7x7-4p-2prey-penalty-x",
        "PredatorPrey-7x8-4p-2prey",
    ] {
        assert!(PredatorPreyConfig::from_id(bad)
            .unwrap_err()
            .to_string()
            .starts_with(bad));
    }
}

#[test]
fn two_predators_capturing_together_take_the_prey_and_share_ten() {
    let mut env = env("PredatorPrey-7x7-4p-2prey-penalty");
    let predators = [(2, 1), (2, 3), (1, 2), (6, 6)];
    let obs = env
        .set_positions(&predators, &[Some((2, 2)), Some((5, 5))], 0)
        .unwrap();
    assert!(
        obs.avail_actions[..3].iter().all(|a| a[CAPTURE]),
        "next to the prey"
    );
    assert!(!obs.avail_actions[3][CAPTURE], "(6, 6) is two steps from (5, 5)");
    assert!(
        !obs.avail_actions[0][EAST] && !obs.avail_actions[2][SOUTH],
        "prey cells cannot be entered"
    );
    let out = env.step(&[CAPTURE, CAPTURE, NONE, NONE]).unwrap();
    assert_eq!(out.rewards, [5.0, 5.0, 0.0, 0.0]);
    assert_eq!(out.team_reward, 10.0);
    assert_eq!(env.positions().1[0], None, "the captured prey left the grid");
    assert!(env.positions().1[1].is_some() && !out.terminated && !env.solved());
    assert_eq!(&out.obs.state[8..11], &[-1.0, -1.0, 0.0]);

    // Three capturers split the reward; capturing the last prey ends the episode, solved.
    env.set_positions(&predators, &[Some((2, 2)), None], 5).unwrap();
    let out = env.step(&[CAPTURE, CAPTURE, CAPTURE, NONE]).unwrap();
    assert!(out.rewards[..3].iter().all(|&r| (r - 10.0 / 3.0).abs() < 1e-12));
    assert!(out.terminated && !out.truncated && env.solved());
    assert_eq!(out.info.get("solved"), Some(&1.0));
    assert!(env
        .step(&[NONE; 4])
        .unwrap_err()
        .to_string()
        .contains("after the episode ended"));
}

#[test]
fn a_lone_capture_fails_and_pays_the_penalty_only_where_configured() {
    for (id, penalty) in [
        ("PredatorPrey-7x7-4p-2prey-penalty", -2.0),
        ("PredatorPrey-7x7-4p-2prey", 0.0),
    ] {
        let mut env = env(id);
        // Predators 0 and 1 try at different prey: each is alone.
        let predators = [(2, 1), (5, 4), (0, 6), (6, 0)];
        env.set_positions(&predators, &[Some((2, 2)), Some((5, 5))], 0)
            .unwrap();
        let out = env.step(&[CAPTURE, CAPTURE, NONE, NONE]).unwrap();
        assert_eq!(out.rewards, [penalty, penalty, 0.0, 0.0], "{id}");
        assert!(
            env.positions().1.iter().all(Option::is_some),
            "{id}: no prey taken"
        );
    }
}

#[test]
fn moves_wrap_around_and_collisions_keep_predators_apart() {
    let mut env = env("PredatorPrey-7x7-4p-2prey");
    let prey = [Some((3, 3)), Some((3, 5))];
    env.set_positions(&[(0, 0), (6, 6), (5, 0), (5, 2)], &prey, 0)
        .unwrap();
    // 0 wraps north to (6, 0); 1 wraps east to (6, 0) too: both stay. 2 and 3 target (5, 1): both stay.
    env.step(&[NORTH, EAST, EAST, WEST]).unwrap();
    assert_eq!(env.positions().0, [(0, 0), (6, 6), (5, 0), (5, 2)]);
    // 0 wraps west to (0, 6); 1 moves north into the free (5, 6); 3 moves west.
    env.step(&[WEST, NORTH, NONE, WEST]).unwrap();
    assert_eq!(env.positions().0, [(0, 6), (5, 6), (5, 0), (5, 1)]);
    // 2 targets 3's cell while 3 leaves it: blocked all the same (no chains, no swaps).
    env.step(&[NONE, NONE, EAST, SOUTH]).unwrap();
    assert_eq!(env.positions().0, [(0, 6), (5, 6), (5, 0), (6, 1)]);
}

#[test]
fn observations_show_others_and_prey_in_the_torus_window() {
    let mut env = env("PredatorPrey-7x7-4p-2prey");
    let obs = env
        .set_positions(
            &[(3, 3), (2, 4), (6, 6), (6, 3)],
            &[Some((5, 3)), Some((0, 0))],
            0,
        )
        .unwrap();
    let seen = |o: &[f32]| {
        o.iter()
            .enumerate()
            .filter(|(_, &v)| v == 1.0)
            .map(|(k, _)| k)
            .collect::<Vec<_>>()
    };
    // Predator 0 (view 5x5 from (1, 1)): predator 1 at view (1, 3), predator 3 at (5, 3) is 3 rows down:
    // unseen; prey (5, 3) at view (4, 2) in the second channel; prey (0, 0) unseen.
    assert_eq!(seen(&obs.obs[0]), [5 + 3, 25 + 4 * 5 + 2]);
    // Predator 2 at (6, 6) sees prey (0, 0) one step south-east across both edges, predator 3 three
    // columns west: unseen; prey (5, 3) also three columns west.
    assert_eq!(seen(&obs.obs[2]), [25 + 3 * 5 + 3]);
    assert_eq!(
        obs.state,
        [3.0, 3.0, 2.0, 4.0, 6.0, 6.0, 6.0, 3.0, 5.0, 3.0, 1.0, 0.0, 0.0, 1.0]
    );
}

#[test]
fn time_limit_truncates_unsolved() {
    let mut env = env("PredatorPrey-7x7-4p-2prey");
    env.set_positions(&[(0, 0), (0, 2), (0, 4), (0, 6)], &[Some((4, 4)), None], 98)
        .unwrap();
    assert!(!env.step(&[NONE; 4]).unwrap().truncated);
    let last = env.step(&[NONE; 4]).unwrap();
    assert!(last.truncated && !last.terminated && !env.solved());
}

#[test]
fn bad_calls_are_errors_naming_env_and_value() {
    let mut env = env("PredatorPrey-7x7-4p-2prey");
    assert!(env.step(&[NONE; 4]).is_err(), "before reset");
    env.set_positions(
        &[(0, 0), (0, 2), (0, 4), (0, 6)],
        &[Some((1, 0)), Some((4, 4))],
        0,
    )
    .unwrap();
    let mut err = |a: &[usize]| step_error(&mut env, a);
    assert!(err(&[NONE; 3]).contains("got 3 actions, the env has 4 agents"));
    assert!(err(&[NONE, NONE, 7, NONE]).contains("action 7 of agent 2 is outside Discrete(6)"));
    assert!(err(&[SOUTH, NONE, NONE, NONE]).contains("action 2 of agent 0 is not available"));
    assert!(err(&[NONE, CAPTURE, NONE, NONE]).contains("action 5 of agent 1 is not available"));
    assert!(err(&[NONE; 4]).is_empty(), "a valid step still works");
    let taken_twice = env.set_positions(&[(0, 0), (0, 0), (0, 4), (0, 6)], &[Some((1, 0)), None], 0);
    assert!(taken_twice.unwrap_err().to_string().contains("(0, 0)"));
    assert!(env
        .set_positions(&[(0, 0), (0, 2), (0, 4), (0, 7)], &[Some((1, 0)), None], 0)
        .is_err());
    assert!(env
        .set_positions(&[(0, 0), (0, 2), (0, 4), (0, 6)], &[None, None], 0)
        .is_err());
}

/// The error message of a step (empty when the step is accepted), checked to name the env.
fn step_error(env: &mut PredatorPrey, actions: &[usize]) -> String {
    let e = env
        .step(actions)
        .map(|_| String::new())
        .unwrap_or_else(|e| e.to_string());
    assert!(e.is_empty() || e.starts_with("PredatorPrey-7x7-4p-2prey:"), "{e}");
    e
}

#[test]
fn render_draws_predators_prey_and_status() {
    let mut env = env("PredatorPrey-7x7-4p-2prey");
    env.set_positions(&[(0, 0), (0, 2), (6, 6), (3, 4)], &[Some((3, 3)), None], 0)
        .unwrap();
    let expected = "#########\n\
                    #A.B....#\n\
                    #.......#\n\
                    #.......#\n\
                    #...oD..#\n\
                    #.......#\n\
                    #.......#\n\
                    #......C#\n\
                    #########\n\
                    PredatorPrey-7x7-4p-2prey step 0/100, 1 of 2 prey left\n";
    assert_eq!(env.render(), expected);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    /// Over random play: nothing shares a cell, predators and prey move at most one step, a capture
    /// pays exactly 10 to its capturers and a failed attempt exactly the penalty.
    #[test]
    fn random_play_keeps_the_invariants(seed in any::<u64>()) {
        let mut env = env("PredatorPrey-7x7-4p-2prey-penalty");
        let mut obs = env.reset(Some(seed));
        let mut rng = seed;
        for _ in 0..100 {
            let (before_pred, before_prey) = (env.positions().0.to_vec(), env.positions().1.to_vec());
            let actions: Vec<usize> = obs.avail_actions.iter().map(|a| {
                rng = rng.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                let ok: Vec<usize> = (0..6).filter(|&k| a[k]).collect();
                ok[(rng >> 33) as usize % ok.len()]
            }).collect();
            let out = env.step(&actions).unwrap();
            let (pred, prey) = env.positions();
            let cells: Vec<_> = pred.iter().chain(prey.iter().flatten()).collect();
            for (k, c) in cells.iter().enumerate() {
                prop_assert!(!cells[..k].contains(c), "shared cell {:?}", c);
            }
            for (a, b) in before_pred.iter().zip(pred) {
                prop_assert!(torus_steps(*a, *b, 7) <= 1);
            }
            for (a, b) in before_prey.iter().zip(prey) {
                if let (Some(a), Some(b)) = (a, b) {
                    prop_assert!(torus_steps(*a, *b, 7) <= 1);
                }
            }
            let taken = before_prey.iter().flatten().count() - prey.iter().flatten().count();
            let paid: f64 = out.rewards.iter().filter(|&&r| r > 0.0).sum();
            prop_assert!((paid - 10.0 * taken as f64).abs() < 1e-9);
            for (r, &a) in out.rewards.iter().zip(&actions) {
                let expected = if a == CAPTURE { *r > 0.0 || *r == -2.0 } else { *r == 0.0 };
                prop_assert!(expected, "reward {} for action {}", r, a);
            }
            obs = out.obs;
            if out.terminated || out.truncated {
                prop_assert_eq!(out.terminated, prey.iter().all(Option::is_none));
                break;
            }
        }
    }
}
