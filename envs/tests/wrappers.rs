//! The wrappers: time limit, episode statistics, observation normalisation, action rescaling, pixels.

use proptest::prelude::*;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use sparse_rl_envs::classic::{CartPole, MountainCar, Pendulum};
use sparse_rl_envs::wrappers::{
    EpisodeStatistics, NormalizeObservation, PixelObservation, RescaleAction, RunningMeanStd, TimeLimit,
    EPISODE_LENGTH, EPISODE_RETURN,
};
use sparse_rl_envs::{make, Action, Env, Space};

#[test]
fn time_limit_truncates_at_the_limit_and_counts_from_reset() {
    let mut env = TimeLimit::new(MountainCar::new(), 5);
    for episode in 0..2 {
        env.reset(Some(episode));
        for t in 1..=5 {
            let step = env.step(&Action::Discrete(1)).unwrap();
            assert_eq!(step.truncated, t == 5, "episode {episode} step {t}");
            assert_eq!(env.elapsed_steps(), t);
        }
        assert!(env.step(&Action::Discrete(1)).is_err());
    }
}

#[test]
fn time_limit_also_truncates_a_terminal_last_step() {
    // Gymnasium sets truncated on the limit's step even when it terminates.
    let mut env = TimeLimit::new(CartPole::new(), 1);
    env.reset(Some(0));
    env.set_state(&[0.0, 0.0, 0.5, 0.0]).unwrap();
    let step = env.step(&Action::Discrete(0)).unwrap();
    assert!(step.terminated && step.truncated);
}

#[test]
fn episode_statistics_report_return_and_length_at_the_end_only() {
    let mut env = EpisodeStatistics::new(make("CartPole-v1").unwrap());
    let mut rng = StdRng::seed_from_u64(7);
    for episode in 0..3 {
        env.reset(Some(episode));
        let (mut total, mut length) = (0.0, 0);
        loop {
            let step = env.step(&Action::Discrete(rng.random_range(0..2))).unwrap();
            total += step.reward;
            length += 1;
            if step.terminated || step.truncated {
                assert_eq!(step.info[EPISODE_RETURN], total);
                assert_eq!(step.info[EPISODE_LENGTH], length as f64);
                break;
            }
            assert!(
                step.info.is_empty(),
                "statistics before the episode ended: {:?}",
                step.info
            );
        }
    }
}

#[test]
fn episode_statistics_on_pendulum_sum_negative_costs_over_200_steps() {
    let mut env = EpisodeStatistics::new(make("Pendulum-v1").unwrap());
    env.reset(Some(0));
    let mut total = 0.0;
    for _ in 0..200 {
        let step = env.step(&Action::Continuous(vec![0.5])).unwrap();
        total += step.reward;
        if step.truncated {
            assert_eq!(step.info[EPISODE_LENGTH], 200.0);
            assert!((step.info[EPISODE_RETURN] - total).abs() < 1e-9 && total < 0.0);
            return;
        }
    }
    panic!("no truncation after 200 steps");
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(32))]

    /// The running statistics are the moments of the samples pooled with Gymnasium's prior (mean 0,
    /// variance 1, weight 1e-4).
    #[test]
    fn running_mean_std_matches_pooled_moments(xs in prop::collection::vec(-100.0f32..100.0, 1..200)) {
        let mut rms = RunningMeanStd::new(1);
        for x in &xs {
            rms.update(&[*x]);
        }
        let prior = 1e-4;
        let count = xs.len() as f64 + prior;
        let mean = xs.iter().map(|&x| f64::from(x)).sum::<f64>() / count;
        let second_moment = (prior * 1.0 + xs.iter().map(|&x| f64::from(x).powi(2)).sum::<f64>()) / count;
        let var = second_moment - mean * mean;
        prop_assert!((rms.count - count).abs() < 1e-9);
        prop_assert!((rms.mean[0] - mean).abs() <= 1e-9 * (1.0 + mean.abs()), "{} vs {mean}", rms.mean[0]);
        prop_assert!((rms.var[0] - var).abs() <= 1e-7 * (1.0 + second_moment), "{} vs {var}", rms.var[0]);
    }
}

#[test]
fn normalize_observation_scales_by_the_running_statistics_and_freezes() {
    let mut raw = Pendulum::new();
    let mut env = NormalizeObservation::new(Pendulum::new(), 1e-8).unwrap();
    let (raw_obs, _) = raw.reset(Some(4));
    let (obs, _) = env.reset(Some(4));
    // One sample: the mean is (almost) that sample, so the normalised obs is ~0.
    assert!(obs.iter().all(|x| x.abs() < 1e-2), "{obs:?} from {raw_obs:?}");
    let action = Action::Continuous(vec![1.0]);
    for _ in 0..50 {
        let want = raw.step(&action).unwrap();
        let got = env.step(&action).unwrap();
        let rms = env.running_mean_std();
        let expected = rms.normalize(&want.obs, 1e-8);
        assert_eq!(got.obs, expected);
    }
    // Frozen: statistics stay put, observations still normalised with them.
    env.set_update_running_mean(false);
    let frozen = env.running_mean_std().clone();
    for _ in 0..20 {
        let want = raw.step(&action).unwrap();
        let got = env.step(&action).unwrap();
        assert_eq!(got.obs, frozen.normalize(&want.obs, 1e-8));
    }
    assert_eq!(env.running_mean_std(), &frozen);
    // The statistics move to an evaluation env.
    let mut eval = NormalizeObservation::new(Pendulum::new(), 1e-8).unwrap();
    eval.set_running_mean_std(frozen.clone()).unwrap();
    eval.set_update_running_mean(false);
    let (obs, _) = eval.reset(Some(9));
    let (raw_obs, _) = raw.reset(Some(9));
    assert_eq!(obs, frozen.normalize(&raw_obs, 1e-8));
    assert!(eval.set_running_mean_std(RunningMeanStd::new(5)).is_err());
    assert!(NormalizeObservation::new(Pendulum::new(), 0.0).is_err());
}

#[test]
fn rescale_action_maps_the_unit_box_onto_the_envs_box() {
    for (agent, env_action) in [(-1.0, -2.0), (0.0, 0.0), (1.0, 2.0), (0.5, 1.0)] {
        let mut raw = Pendulum::new();
        let mut env = RescaleAction::new(Pendulum::new()).unwrap();
        raw.reset(Some(2));
        env.reset(Some(2));
        let want = raw.step(&Action::Continuous(vec![env_action])).unwrap();
        let got = env.step(&Action::Continuous(vec![agent])).unwrap();
        assert_eq!(got, want, "agent action {agent}");
    }
    let env = RescaleAction::new(Pendulum::new()).unwrap();
    assert_eq!(env.action_space(), Space::boxed(vec![-1.0], vec![1.0]));
    let mut env = RescaleAction::new(make("MountainCarContinuous-v0").unwrap()).unwrap();
    env.reset(Some(0));
    assert!(env
        .step(&Action::Continuous(vec![0.0, 0.0]))
        .unwrap_err()
        .to_string()
        .contains('2'));
    assert!(env.step(&Action::Continuous(vec![f64::NAN])).is_err());
    let message = RescaleAction::new(CartPole::new()).err().unwrap().to_string();
    assert!(
        message.starts_with("CartPole-v1") && message.contains("Discrete(2)"),
        "{message}"
    );
}

#[test]
fn pixel_observations_stack_the_last_frames() {
    let (k, h, w) = (4, 40, 60);
    let mut env = make("CartPolePixels-v1").unwrap();
    assert_eq!(env.id(), "CartPolePixels-v1");
    match env.observation_space() {
        Space::Box { shape, low, high } => {
            assert_eq!(shape, vec![k, h, w]);
            assert!(low.iter().all(|&l| l == 0.0) && high.iter().all(|&x| x == 1.0));
        }
        other => panic!("{other}"),
    }
    let (obs, _) = env.reset(Some(1));
    let frame = h * w;
    assert_eq!(obs.len(), k * frame);
    // At reset every slot holds the first picture.
    assert!(obs.chunks(frame).all(|f| f == &obs[..frame]));
    assert_eq!(env.render_pixels(h, w).unwrap(), &obs[..frame]);
    let mut previous = obs;
    for t in 0..30 {
        let step = env.step(&Action::Discrete(t % 2)).unwrap();
        // Frames shift by one; the newest is the current picture.
        assert_eq!(&step.obs[..(k - 1) * frame], &previous[frame..]);
        assert_eq!(
            &step.obs[(k - 1) * frame..],
            env.render_pixels(h, w).unwrap().as_slice()
        );
        if step.terminated {
            break;
        }
        previous = step.obs;
    }
    // The pole moves: after a few pushes the newest frame differs from the oldest.
    assert_ne!(&previous[..frame], &previous[(k - 1) * frame..]);
    let message = env.step(&Action::Discrete(5)).unwrap_err().to_string();
    assert!(
        message.starts_with("CartPolePixels-v1") && message.contains('5'),
        "{message}"
    );
    assert!(PixelObservation::new(Pendulum::new(), 4, 40, 60).is_err());
    assert!(PixelObservation::new(CartPole::new(), 0, 40, 60).is_err());
}
