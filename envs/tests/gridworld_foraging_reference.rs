//! Level-Based Foraging against lbforaging 2.0 itself: episodes recorded by
//! `fixtures/gridworld/generate.py` are replayed from their spawned layout with the recorded joint actions,
//! and after every step the positions, food, per-agent rewards, observations, available actions and the end
//! of the episode must equal lbforaging's exactly.

use std::path::Path;

use serde_json::Value;
use sparse_rl_envs::gridworld::{Foraging, ForagingConfig, ForagingLayout, GridItem};
use sparse_rl_envs::MultiAgentEnv;

fn fixture() -> Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/gridworld/foraging_lbf.json");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).expect("fixture is JSON")
}

fn uint(v: &Value) -> usize {
    v.as_u64()
        .unwrap_or_else(|| panic!("expected an unsigned integer, got {v}")) as usize
}

fn list(v: &Value) -> &Vec<Value> {
    v.as_array().unwrap_or_else(|| panic!("expected a list, got {v}"))
}

/// lbforaging's `ForagingEnv` keyword arguments as our config.
fn config(kwargs: &Value) -> ForagingConfig {
    let size = list(&kwargs["field_size"]);
    ForagingConfig {
        rows: uint(&size[0]),
        cols: uint(&size[1]),
        n_players: uint(&kwargs["players"]),
        max_num_food: uint(&kwargs["max_num_food"]),
        min_player_level: uint(&kwargs["min_player_level"]) as u32,
        max_player_level: uint(&kwargs["max_player_level"]) as u32,
        min_food_level: uint(&kwargs["min_food_level"]) as u32,
        max_food_level: kwargs["max_food_level"].as_u64().map(|v| v as u32),
        sight: uint(&kwargs["sight"]),
        max_episode_steps: uint(&kwargs["max_episode_steps"]),
        force_coop: kwargs["force_coop"].as_bool().unwrap(),
        normalize_reward: kwargs
            .get("normalize_reward")
            .is_none_or(|v| v.as_bool().unwrap()),
        penalty: kwargs.get("penalty").map_or(0.0, |v| v.as_f64().unwrap()),
    }
}

fn items(v: &Value) -> Vec<GridItem> {
    list(v)
        .iter()
        .map(|t| {
            let t = list(t);
            GridItem {
                row: uint(&t[0]),
                col: uint(&t[1]),
                level: uint(&t[2]) as u32,
            }
        })
        .collect()
}

fn obs(v: &Value) -> Vec<Vec<f32>> {
    list(v)
        .iter()
        .map(|o| list(o).iter().map(|x| x.as_i64().unwrap() as f32).collect())
        .collect()
}

/// lbforaging's valid actions as bit masks (bit k = action k).
fn masks(avail: &[Vec<bool>]) -> Vec<usize> {
    avail
        .iter()
        .map(|a| a.iter().enumerate().map(|(k, &ok)| usize::from(ok) << k).sum())
        .collect()
}

/// What the fixture exercises, counted from lbforaging's own records.
#[derive(Default, Debug)]
struct Coverage {
    steps: usize,
    loads: usize,
    shared_loads: usize,
    failed_loads: usize,
    shared_cells: usize,
    solved: usize,
    timed_out: usize,
}

#[test]
fn replays_lbforaging_episodes_exactly() {
    let data = fixture();
    let mut seen = Coverage::default();
    for recorded in list(&data["configs"]) {
        let name = recorded["name"].as_str().unwrap();
        let mut env = Foraging::new(config(&recorded["config"])).unwrap();
        for (e, episode) in list(&recorded["episodes"]).iter().enumerate() {
            let mut players = items(&episode["players"]);
            let layout = ForagingLayout {
                players: players.clone(),
                food: items(&episode["food"]),
                food_spawned: Some(uint(&episode["food_spawned"]) as u32),
                step: 0,
            };
            let first = env.set_layout(&layout).unwrap();
            assert_eq!(
                first.obs,
                obs(&episode["obs"]),
                "{name} episode {e}: first observations"
            );
            let valid: Vec<usize> = list(&episode["valid"]).iter().map(uint).collect();
            assert_eq!(
                masks(&first.avail_actions),
                valid,
                "{name} episode {e}: first valid actions"
            );
            let mut food_left = layout.food.len();
            for (t, step) in list(&episode["steps"]).iter().enumerate() {
                let at = format!("{name} episode {e} step {}", t + 1);
                let actions: Vec<usize> = list(&step["actions"]).iter().map(uint).collect();
                let out = env.step(&actions).unwrap_or_else(|err| panic!("{at}: {err}"));
                for (p, pos) in players.iter_mut().zip(list(&step["positions"])) {
                    (p.row, p.col) = (uint(&list(pos)[0]), uint(&list(pos)[1]));
                }
                let now = env.layout();
                assert_eq!(now.players, players, "{at}: players");
                assert_eq!(now.food, items(&step["food"]), "{at}: food");
                let rewards: Vec<f64> = list(&step["rewards"])
                    .iter()
                    .map(|r| r.as_f64().unwrap())
                    .collect();
                assert_eq!(out.rewards, rewards, "{at}: rewards");
                assert_eq!(out.team_reward, rewards.iter().sum::<f64>(), "{at}: team reward");
                assert_eq!(out.obs.obs, obs(&step["obs"]), "{at}: observations");
                let valid: Vec<usize> = list(&step["valid"]).iter().map(uint).collect();
                assert_eq!(masks(&out.obs.avail_actions), valid, "{at}: valid actions");
                let done = step["done"].as_bool().unwrap();
                assert_eq!(out.terminated || out.truncated, done, "{at}: done");
                assert_eq!(
                    out.terminated,
                    now.food.is_empty(),
                    "{at}: terminated exactly when no food is left"
                );

                seen.steps += 1;
                seen.loads += food_left - now.food.len();
                food_left = now.food.len();
                seen.shared_loads += usize::from(rewards.iter().filter(|&&r| r > 0.0).count() >= 2);
                seen.failed_loads += usize::from(rewards.iter().any(|&r| r < 0.0));
                let cells: std::collections::HashSet<_> = players.iter().map(|p| (p.row, p.col)).collect();
                seen.shared_cells += usize::from(cells.len() < players.len());
                if done {
                    seen.solved += usize::from(out.terminated);
                    seen.timed_out += usize::from(out.truncated);
                    assert_eq!(env.solved(), out.terminated, "{at}: solved");
                    assert!(
                        env.step(&actions).is_err(),
                        "{at}: a step after the end is refused"
                    );
                }
            }
        }
    }
    // The replay only proves something if lbforaging's episodes exercise every rule.
    assert!(seen.steps >= 3000, "{seen:?}");
    assert!(
        seen.loads >= 100 && seen.shared_loads >= 50 && seen.failed_loads >= 100,
        "{seen:?}"
    );
    assert!(
        seen.shared_cells >= 5 && seen.solved >= 20 && seen.timed_out >= 20,
        "{seen:?}"
    );
}
