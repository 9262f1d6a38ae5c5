//! Level-Based Foraging: ids, spawning rules, the global state, hand-worked steps, errors and the picture.
//! (Step-by-step agreement with lbforaging itself is `gridworld_foraging_reference.rs`.)

use proptest::prelude::*;
use sparse_rl_envs::gridworld::{Foraging, ForagingConfig, ForagingLayout, GridItem};
use sparse_rl_envs::{is_multi_agent, make_multi_agent, MultiAgentEnv};

const NONE: usize = 0;
const NORTH: usize = 1;
const SOUTH: usize = 2;
const WEST: usize = 3;
const EAST: usize = 4;
const LOAD: usize = 5;

fn item(row: usize, col: usize, level: u32) -> GridItem {
    GridItem { row, col, level }
}

fn env(id: &str) -> Foraging {
    Foraging::new(ForagingConfig::from_id(id).unwrap()).unwrap()
}

fn layout(players: Vec<GridItem>, food: Vec<GridItem>) -> ForagingLayout {
    ForagingLayout {
        players,
        food,
        food_spawned: None,
        step: 0,
    }
}

#[test]
fn registered_ids_build_with_lbforaging_parameters() {
    for id in [
        "Foraging-5x5-2p-1f",
        "Foraging-8x8-2p-2f-coop",
        "Foraging-8x8-2p-3f",
        "Foraging-10x10-3p-3f",
    ] {
        assert!(is_multi_agent(id), "{id}");
        let env = make_multi_agent(id).unwrap();
        assert_eq!(env.id(), id);
        assert_eq!(env.episode_limit(), 50);
        assert_eq!(env.n_actions(), 6);
    }
    let c = ForagingConfig::from_id("Foraging-2s-8x8-2p-2f-coop").unwrap();
    assert_eq!(
        (c.rows, c.cols, c.n_players, c.max_num_food, c.sight),
        (8, 8, 2, 2, 2)
    );
    assert!(c.force_coop && c.normalize_reward && c.penalty == 0.0);
    assert_eq!(
        (
            c.min_player_level,
            c.max_player_level,
            c.min_food_level,
            c.max_food_level
        ),
        (1, 2, 1, None)
    );
    let env = make_multi_agent("Foraging-2s-8x8-2p-2f-coop").unwrap();
    assert_eq!((env.n_agents(), env.obs_dim(), env.state_dim()), (2, 12, 12));
    assert_eq!(
        ForagingConfig::from_id("Foraging-8x8-2p-2f-coop-pen")
            .unwrap()
            .penalty,
        0.1
    );
    assert_eq!(ForagingConfig::from_id("Foraging-10x10-3p-3f").unwrap().sight, 10);
    for id in sparse_rl_envs::gridworld::ids()
        .iter()
        .filter(|id| id.starts_with("Foraging"))
    {
        assert_eq!(
            &ForagingConfig::from_id(id).unwrap().id(),
            id,
            "the name round-trips"
        );
    }
}

#[test]
fn malformed_ids_are_refused_with_the_offending_part() {
    for (id, part) in [
        ("Foraging-8x9-2p-2f", "8x9"),
        ("Foraging-8x8-2q-2f", "2q"),
        ("Foraging-8x8-2p", "''"),
        ("Foraging-8x8-2p-2f-fast", "-fast"),
        ("Foraging-8x8-2p-2f-pen-coop", "-coop"),
    ] {
        let err = ForagingConfig::from_id(id).unwrap_err().to_string();
        assert!(
            err.starts_with(id) && err.contains(part.trim_matches('\'')),
            "{err}"
        );
    }
    assert!(
        make_multi_agent("Foraging-9x9-2p-2f").is_err(),
        "parsable but unregistered"
    );
    let bad = ForagingConfig {
        min_player_level: 3,
        ..ForagingConfig::from_id("Foraging-8x8-2p-2f").unwrap()
    };
    assert!(Foraging::new(bad).is_err());
}

/// Which registered-style configs the spawn property test draws from.
const SPAWN_IDS: &[&str] = &[
    "Foraging-5x5-2p-1f",
    "Foraging-8x8-2p-2f-coop",
    "Foraging-8x8-2p-3f",
    "Foraging-6x6-4p-4f",
    "Foraging-2s-10x10-3p-3f-coop",
];

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// lbforaging's spawning rules hold after every reset.
    #[test]
    fn spawn_follows_lbforaging_rules(seed in any::<u64>(), which in 0..SPAWN_IDS.len()) {
        let mut env = env(SPAWN_IDS[which]);
        let first = env.reset(Some(seed));
        let c = env.config().clone();
        let l = env.layout();
        for (i, p) in l.players.iter().enumerate() {
            prop_assert!(p.row < c.rows && p.col < c.cols);
            prop_assert!((c.min_player_level..=c.max_player_level).contains(&p.level));
            prop_assert!(l.players[..i].iter().all(|q| (q.row, q.col) != (p.row, p.col)), "players on distinct cells");
        }
        let mut levels: Vec<u32> = l.players.iter().map(|p| p.level).collect();
        levels.sort_unstable();
        let max_food: u32 = levels.iter().take(3).sum();
        prop_assert!(!l.food.is_empty() && l.food.len() <= c.max_num_food);
        for (k, f) in l.food.iter().enumerate() {
            prop_assert!((1..c.rows - 1).contains(&f.row) && (1..c.cols - 1).contains(&f.col), "off the border");
            prop_assert!(l.players.iter().all(|p| (p.row, p.col) != (f.row, f.col)), "not under a player");
            if c.force_coop {
                prop_assert_eq!(f.level, max_food);
            } else {
                prop_assert!((1..=max_food).contains(&f.level));
            }
            for g in &l.food[..k] {
                let (dr, dc) = (f.row.abs_diff(g.row), f.col.abs_diff(g.col));
                prop_assert!(dr.max(dc) > 1, "no food around food");
                prop_assert!(!(dr == 0 && dc == 2 || dc == 0 && dr == 2), "no food two cells away in a line");
            }
        }
        prop_assert_eq!(l.food_spawned, Some(l.food.iter().map(|f| f.level).sum()));
        prop_assert_eq!(env.reset(Some(seed)), first, "a seed fixes the layout");
    }

    /// The state is the full-sight observation of agent 0: food row-major in absolute coordinates, then all
    /// players in agent order, whatever the agents' own sight.
    #[test]
    fn state_is_the_full_information_observation(seed in any::<u64>()) {
        let mut limited = env("Foraging-2s-10x10-3p-3f");
        let mut full = env("Foraging-10x10-3p-3f");
        let obs = limited.reset(Some(seed));
        let seen = full.set_layout(&limited.layout()).unwrap();
        prop_assert_eq!(&obs.state, &seen.obs[0]);
        prop_assert_eq!(&seen.state, &seen.obs[0]);
        let l = limited.layout();
        for (i, p) in l.players.iter().enumerate() {
            let at = 9 + 3 * i;
            prop_assert_eq!(&obs.state[at..at + 3], &[p.row as f32, p.col as f32, p.level as f32]);
        }
    }
}

#[test]
fn cooperative_load_pays_normalised_shares_and_solves() {
    let mut env = env("Foraging-5x5-2p-1f");
    // A (level 1) north of the food, B (level 2) west of it; food level 3 needs both.
    let obs = env
        .set_layout(&layout(vec![item(1, 2, 1), item(2, 1, 2)], vec![item(2, 2, 3)]))
        .unwrap();
    assert_eq!(
        obs.avail_actions[0],
        [true, true, false, true, true, true],
        "SOUTH enters the food"
    );
    let alone = env.step(&[LOAD, NONE]).unwrap();
    assert_eq!(
        alone.rewards,
        [0.0, 0.0],
        "level 1 < 3 fails, no penalty configured"
    );
    assert_eq!(env.layout().food.len(), 1);
    let together = env.step(&[LOAD, LOAD]).unwrap();
    assert_eq!(
        together.rewards,
        [1.0 * 3.0 / (3.0 * 3.0), 2.0 * 3.0 / (3.0 * 3.0)]
    );
    assert!(
        (together.team_reward - 1.0).abs() < 1e-12,
        "a whole episode is worth 1"
    );
    assert!(together.terminated && !together.truncated && env.solved());
    assert_eq!(together.info.get("solved"), Some(&1.0));
}

#[test]
fn failed_load_pays_the_penalty_and_unnormalised_reward_is_level_times_food() {
    let mut env = env("Foraging-8x8-2p-2f-coop-pen");
    env.set_layout(&layout(
        vec![item(1, 3, 1), item(5, 5, 1)],
        vec![item(2, 3, 2), item(5, 6, 1)],
    ))
    .unwrap();
    let out = env.step(&[LOAD, LOAD]).unwrap();
    assert_eq!(out.rewards[0], -0.1, "alone on a level-2 food");
    assert_eq!(out.rewards[1], 1.0 / 3.0, "1 * 1 / (1 * 3 spawned)");
    let mut raw = Foraging::new(ForagingConfig {
        normalize_reward: false,
        ..ForagingConfig::from_id("Foraging-8x8-2p-2f").unwrap()
    })
    .unwrap();
    raw.set_layout(&layout(vec![item(1, 3, 2), item(3, 3, 2)], vec![item(2, 3, 3)]))
        .unwrap();
    assert_eq!(raw.step(&[LOAD, LOAD]).unwrap().rewards, [6.0, 6.0]);
}

#[test]
fn players_targeting_one_cell_all_stay_but_others_do_not_block() {
    let mut env = env("Foraging-8x8-2p-3f");
    let two = |a: GridItem, b: GridItem| layout(vec![a, b], vec![item(5, 5, 1)]);
    env.set_layout(&two(item(0, 0, 1), item(0, 2, 1))).unwrap();
    env.step(&[EAST, WEST]).unwrap();
    let cells = |env: &Foraging| {
        env.layout()
            .players
            .iter()
            .map(|p| (p.row, p.col))
            .collect::<Vec<_>>()
    };
    assert_eq!(cells(&env), [(0, 0), (0, 2)], "both targeted (0, 1)");
    env.step(&[EAST, NONE]).unwrap();
    assert_eq!(cells(&env), [(0, 1), (0, 2)]);
    env.step(&[EAST, WEST]).unwrap();
    assert_eq!(cells(&env), [(0, 2), (0, 1)], "players swap: only food blocks");
    env.set_layout(&two(item(3, 0, 1), item(3, 1, 1))).unwrap();
    env.step(&[EAST, NONE]).unwrap();
    assert_eq!(
        cells(&env),
        [(3, 0), (3, 1)],
        "moving onto a standing player is a collision"
    );
    assert_eq!(env.layout().step, 1);
}

#[test]
fn sight_limits_what_an_agent_sees() {
    let mut env = env("Foraging-2s-8x8-2p-2f-coop");
    let obs = env
        .set_layout(&layout(
            vec![item(4, 4, 1), item(0, 0, 2)],
            vec![item(5, 5, 3), item(1, 1, 3)],
        ))
        .unwrap();
    // Agent 0's view starts at (2, 2): food (5, 5) at (3, 3); food (1, 1) and player (0, 0) unseen.
    assert_eq!(
        obs.obs[0],
        [3.0, 3.0, 3.0, -1.0, -1.0, 0.0, 2.0, 2.0, 1.0, -1.0, -1.0, 0.0]
    );
    // Agent 1 at the corner: view from (0, 0); players seen up to 2 * sight = 4 cells away: agent 0 at (4, 4).
    assert_eq!(
        obs.obs[1],
        [1.0, 1.0, 3.0, -1.0, -1.0, 0.0, 0.0, 0.0, 2.0, 4.0, 4.0, 1.0]
    );
}

#[test]
fn time_limit_truncates() {
    let mut env = env("Foraging-5x5-2p-1f");
    env.set_layout(&ForagingLayout {
        step: 48,
        ..layout(vec![item(0, 0, 1), item(4, 4, 1)], vec![item(2, 2, 1)])
    })
    .unwrap();
    assert!(!env.step(&[NONE, NONE]).unwrap().truncated);
    let last = env.step(&[NONE, NONE]).unwrap();
    assert!(last.truncated && !last.terminated && !env.solved());
    assert_eq!(last.info.get("solved"), Some(&0.0));
}

#[test]
fn bad_calls_are_errors_naming_env_and_value() {
    let mut env = env("Foraging-5x5-2p-1f");
    let err = |r: sparse_rl_envs::Result<_>| r.map(|_| ()).unwrap_err().to_string();
    assert!(
        err(env.step(&[NONE, NONE])).contains("after the episode ended"),
        "step before reset"
    );
    env.set_layout(&layout(vec![item(0, 0, 1), item(4, 4, 1)], vec![item(2, 2, 1)]))
        .unwrap();
    let e = err(env.step(&[NONE]));
    assert!(
        e.starts_with("Foraging-5x5-2p-1f") && e.contains("got 1 actions"),
        "{e}"
    );
    let e = err(env.step(&[NONE, 6]));
    assert!(
        e.contains("action 6 of agent 1") && e.contains("Discrete(6)"),
        "{e}"
    );
    let e = err(env.step(&[NORTH, NONE]));
    assert!(e.contains("action 1 of agent 0 is not available"), "{e}");
    let e = err(env.step(&[LOAD, NONE]));
    assert!(e.contains("action 5 of agent 0"), "{e}");
    assert!(
        env.step(&[SOUTH, WEST]).is_ok(),
        "the refused calls changed nothing"
    );
    let bad_layouts = [
        layout(vec![item(0, 0, 1)], vec![item(2, 2, 1)]),
        layout(vec![item(0, 0, 1), item(5, 0, 1)], vec![item(2, 2, 1)]),
        layout(vec![item(0, 0, 1), item(4, 4, 1)], vec![item(0, 2, 1)]),
        layout(vec![item(2, 2, 1), item(4, 4, 1)], vec![item(2, 2, 1)]),
        layout(vec![item(0, 0, 1), item(4, 4, 1)], vec![]),
        layout(vec![item(0, 0, 0), item(4, 4, 1)], vec![item(2, 2, 1)]),
    ];
    for bad in bad_layouts {
        assert!(env.set_layout(&bad).is_err(), "{bad:?}");
    }
}

#[test]
fn render_draws_frame_players_food_and_legend() {
    let mut env = env("Foraging-5x5-2p-1f");
    env.set_layout(&layout(vec![item(0, 0, 2), item(3, 2, 1)], vec![item(2, 2, 3)]))
        .unwrap();
    let expected = "#######\n\
                    #A....#\n\
                    #.....#\n\
                    #..3..#\n\
                    #..B..#\n\
                    #.....#\n\
                    #######\n\
                    Foraging-5x5-2p-1f step 0/50\n\
                    A: level 2 at (0, 0)\n\
                    B: level 1 at (3, 2)\n";
    assert_eq!(env.render(), expected);
    env.step(&[EAST, NONE]).unwrap();
    env.step(&[SOUTH, NONE]).unwrap();
    assert!(env.render().contains("#.A...#\n"));
}
