//! `sparse-rl export` round trip: train a short sparse run, export its policy file, load it with the
//! inference module alone and compare its actions with the trained agent's greedy actions on a few
//! thousand observations met in the run's env (DQN and QMIX: the same action every time; SAC: the same
//! action to within 1e-6); evaluation, which acts through that network, earns the agent's own returns.

mod common;

use rand::{Rng, SeedableRng};
use sparse_rl::config::Config;
use sparse_rl::run::{train, Start};
use sparse_rl_dst::inference::{InferenceLayer, Policy, PolicyAction};
use sparse_rl_envs::{Action, Space};

const OBSERVATIONS: usize = 3000;

/// Trains `text` into a temp dir, exports checkpoint `latest` and reloads the file.
fn train_and_export(text: &str) -> (tempfile::TempDir, std::path::PathBuf, Policy, Config) {
    let dir = tempfile::tempdir().unwrap();
    let run = dir.path().join("run");
    let config = Config::parse(text, &[]).unwrap();
    train(config.clone(), Start::Fresh { out: run.clone() }, None)
        .unwrap()
        .unwrap();
    let file = dir.path().join("policy.srlp");
    let report = sparse_rl::export::export_run(&run, "latest", &file).unwrap();
    let policy = Policy::load(&file).unwrap();
    let written = std::fs::read(&file).unwrap();
    assert_eq!(
        written,
        policy.to_bytes(),
        "the loaded policy writes the file back byte for byte"
    );
    assert_eq!(report.bytes, written.len());
    assert_eq!(report.layers.len(), policy.network.layers().len());
    (dir, run, policy, config)
}

fn layer_formats(policy: &Policy) -> Vec<&'static str> {
    policy
        .network
        .layers()
        .iter()
        .map(|(l, _)| match l {
            InferenceLayer::Dense(_) => "dense",
            InferenceLayer::Csr(_) => "csr",
            InferenceLayer::Diagonal(_) => "diagonal",
        })
        .collect()
}

/// Observations of a single-agent env under uniformly random actions, over as many episodes as it takes.
fn random_observations(env: &mut dyn sparse_rl_envs::Env) -> Vec<Vec<f32>> {
    let mut rng = rand_pcg::Pcg64Mcg::seed_from_u64(11);
    let (mut obs, _) = env.reset(Some(0));
    let mut seen = Vec::with_capacity(OBSERVATIONS);
    for episode in 1.. {
        loop {
            seen.push(obs.clone());
            if seen.len() == OBSERVATIONS {
                return seen;
            }
            let action = match env.action_space() {
                Space::Discrete { n } => Action::Discrete(rng.random_range(0..n)),
                Space::Box { low, high, .. } => Action::Continuous(
                    low.iter()
                        .zip(&high)
                        .map(|(&l, &h)| rng.random_range(l..=h))
                        .collect(),
                ),
            };
            let step = env.step(&action).unwrap();
            obs = step.obs;
            if step.terminated || step.truncated {
                break;
            }
        }
        obs = env.reset(Some(episode)).0;
    }
    unreachable!()
}

#[test]
fn exported_dqn_acts_as_the_trained_agent() {
    let text = format!(
        "{}[sparsity.encoder]\nkind = \"static\"\ndensity = 0.7\n\
         [sparsity.critic]\nkind = \"sparse-to-sparse\"\ndensity = 0.1\nupdate_interval = 200\n",
        common::tiny_dqn_text("")
    );
    let (_dir, run, policy, config) = train_and_export(&text);
    // The 70 % dense encoder layer is stored dense; of the head at 10 %, ERK leaves its wide layer sparse
    // (CSR) and gives the 84 → 2 output layer a density above 0.4 (dense).
    assert_eq!(layer_formats(&policy), ["dense", "csr", "dense"]);
    let config_text = std::fs::read_to_string(run.join("config.toml")).unwrap();
    let (mut agent, mut env) = sparse_rl::run::load(&config, &config_text, &run, "latest").unwrap();
    let mut scratch = policy.scratch();
    let observations = random_observations(env.as_mut());
    let mut actions = [0usize; 2];
    for obs in &observations {
        let Action::Discrete(want) = agent.act(obs, false, 0) else {
            panic!("DQN acted continuously")
        };
        assert_eq!(
            policy.act(obs, &mut scratch).unwrap(),
            PolicyAction::Discrete(want),
            "obs {obs:?}"
        );
        actions[want] += 1;
    }
    assert!(actions.iter().all(|&n| n > 0), "both actions occur: {actions:?}");
    // Evaluation acts through the same inference network: the returns the agent earns acting itself.
    let evaluated = sparse_rl::run::eval_run(&run, "latest", 4).unwrap().returns;
    assert_eq!(evaluated, agent_returns(agent.as_mut(), env.as_mut(), &config, 4));
}

/// Greedy returns of `agent` acting itself (burn's forward) over the first `episodes` evaluation episodes
/// of `config`'s run.
fn agent_returns(
    agent: &mut dyn sparse_rl_agents::agent::Agent,
    env: &mut dyn sparse_rl_envs::Env,
    config: &Config,
    episodes: usize,
) -> Vec<f64> {
    (0..episodes)
        .map(|i| {
            let (mut obs, _) = env.reset(Some(sparse_rl::run::eval_seed(config.run.seed, i)));
            let mut total = 0.0;
            loop {
                let s = env.step(&agent.act(&obs, false, 0)).unwrap();
                total += s.reward;
                if s.terminated || s.truncated {
                    return total;
                }
                obs = s.obs;
            }
        })
        .collect()
}

#[test]
fn exported_sac_actor_acts_as_the_trained_agent() {
    let text =
        "[run]\nalgo = \"sac\"\nenv = \"Pendulum-v1\"\ntotal_steps = 600\nseed = 5\neval_interval = 0\n\
         eval_episodes = 1\n[sac]\nlearning_starts = 300\nhidden = [64, 64]\nbatch_size = 32\n\
         [sparsity.actor]\nkind = \"sparse-to-sparse\"\ndensity = 0.2\nupdate_interval = 100\n";
    let (_dir, run, policy, config) = train_and_export(text);
    // ERK at 20 % keeps the 3 → 64 input layer and the 64 → 2 output layer above 0.4 (dense).
    assert_eq!(layer_formats(&policy), ["dense", "csr", "dense"]);
    let config_text = std::fs::read_to_string(run.join("config.toml")).unwrap();
    let (mut agent, mut env) = sparse_rl::run::load(&config, &config_text, &run, "latest").unwrap();
    let mut scratch = policy.scratch();
    let mut worst = 0.0f64;
    for obs in &random_observations(env.as_mut()) {
        let Action::Continuous(want) = agent.act(obs, false, 10_000) else {
            panic!("SAC acted discretely")
        };
        let PolicyAction::Continuous(got) = policy.act(obs, &mut scratch).unwrap() else {
            panic!("the SAC policy acted discretely")
        };
        for (w, g) in want.iter().zip(&got) {
            worst = worst.max((w - f64::from(*g)).abs());
        }
    }
    assert!(worst <= 1e-6, "largest action difference {worst}");
    let evaluated = sparse_rl::run::eval_run(&run, "latest", 3).unwrap().returns;
    let acting = agent_returns(agent.as_mut(), env.as_mut(), &config, 3);
    for (e, a) in evaluated.iter().zip(&acting) {
        assert!(
            (e - a).abs() <= 1e-3 * a.abs().max(1.0),
            "evaluated {evaluated:?}, acting {acting:?}"
        );
    }
}

#[test]
fn exported_qmix_agent_network_acts_as_the_trained_agents() {
    let text = "[run]\nalgo = \"qmix\"\nenv = \"Foraging-5x5-2p-1f\"\ntotal_steps = 3000\nseed = 2\n\
         eval_interval = 0\neval_episodes = 1\ncheckpoint_interval = 1000\n\
         [qmix]\nepsilon_anneal_time = 1000\nbatch_size = 8\nobs_last_action = true\n\
         [sparsity.agent]\nkind = \"sparse-to-sparse\"\ndensity = 0.1\nupdate_interval = 20\n";
    let (_dir, run, policy, config) = train_and_export(text);
    // At 10 % ERK gives the 64 → 6 output layer more than the others, still below 0.4: all CSR.
    assert_eq!(layer_formats(&policy), ["csr", "csr", "csr"]);
    let config_text = std::fs::read_to_string(run.join("config.toml")).unwrap();
    let (mut agent, mut env) = sparse_rl::marl_run::load(&config, &config_text, &run, "latest").unwrap();
    let mut scratch = policy.scratch();
    let mut rng = rand_pcg::Pcg64Mcg::seed_from_u64(3);
    let (mut compared, mut episode) = (0, 0);
    while compared < OBSERVATIONS {
        let mut obs = env.reset(Some(episode));
        agent.begin_episode();
        let mut last: Option<Vec<usize>> = None;
        loop {
            let flat: Vec<f32> = obs.obs.concat();
            let avail: Vec<bool> = obs.avail_actions.concat();
            let want = agent.act(&obs, false, 0);
            let got = policy
                .act_agents(&flat, Some(&avail), last.as_deref(), &mut scratch)
                .unwrap();
            assert_eq!(got, want, "episode {episode}, step with obs {flat:?}");
            compared += 1;
            // Random available actions from here on half the time, so that the episodes wander; the
            // agent's last actions are the greedy ones it chose, so it is told nothing else.
            if rng.random_bool(0.5) {
                agent.begin_episode();
                last = None;
                let actions: Vec<usize> = obs
                    .avail_actions
                    .iter()
                    .map(|a| {
                        let ok: Vec<usize> = (0..a.len()).filter(|&i| a[i]).collect();
                        ok[rng.random_range(0..ok.len())]
                    })
                    .collect();
                let step = env.step(&actions).unwrap();
                obs = step.obs;
                if step.terminated || step.truncated {
                    break;
                }
                continue;
            }
            last = Some(want.clone());
            let step = env.step(&want).unwrap();
            obs = step.obs;
            if step.terminated || step.truncated {
                break;
            }
        }
        episode += 1;
    }
}

#[test]
fn a_dense_run_exports_dense_layers_and_a_missing_run_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let run = dir.path().join("run");
    let text = common::tiny_dqn_text("");
    let config = Config::parse(&text.replace("total_steps = 3000", "total_steps = 600"), &[]).unwrap();
    train(config, Start::Fresh { out: run.clone() }, None)
        .unwrap()
        .unwrap();
    // A dense policy exports (all layers dense)...
    let policy = sparse_rl::export::run_policy(&run, "latest").unwrap();
    assert!(layer_formats(&policy).iter().all(|&f| f == "dense"));
    // ...a missing run is named.
    let err = sparse_rl::export::run_policy(&dir.path().join("nowhere"), "latest").unwrap_err();
    assert!(format!("{err:#}").contains("nowhere"), "{err:#}");
}
