//! TD(λ) targets for QMIX as PyMARL computes them (`build_td_lambda_targets` in `src/utils/rl_utils.py` of
//! oxwhirl/pymarl and hijkzzz/pymarl2, checked), a backward recursion over padded episodes:
//!
//! ret_T = Q̄_T (1 − Σ_t term_t),
//! ret_t = λ γ ret_{t+1} + mask_t (r_t + (1 − λ) γ Q̄_{t+1} (1 − term_t)).
//!
//! Q̄_t is the target network's Q_tot at step t (T + 1 values per episode: the last observation included).
//! For t inside an episode this is the λ-return (Sutton and Barto, ch. 12) truncated at the batch end and
//! bootstrapped there, provided that an episode that was not terminated fills the whole batch length (true
//! here: episodes end early only by termination, and batches are cut to their longest episode). With λ = 0
//! it is the one-step target r_t + γ Q̄_{t+1} (1 − term_t), which is how the MAST hybrid schema
//! ([`super::mast`]) starts.

/// λ-returns `[B, T]` from `rewards`, `terminated` and `mask` (each `[B, T]`, row-major) and the target
/// values `target_q` (`[B, T + 1]`); `t_len` is T.
pub fn td_lambda_targets(
    rewards: &[f32],
    terminated: &[f32],
    mask: &[f32],
    target_q: &[f32],
    t_len: usize,
    gamma: f64,
    lambda: f64,
) -> Vec<f32> {
    let batch = rewards.len() / t_len;
    assert_eq!(target_q.len(), batch * (t_len + 1), "target_q must be [B, T + 1]");
    let mut out = vec![0.0f32; batch * t_len];
    for b in 0..batch {
        let row = b * t_len;
        let q = &target_q[b * (t_len + 1)..(b + 1) * (t_len + 1)];
        let ended: f64 = terminated[row..row + t_len].iter().map(|&x| f64::from(x)).sum();
        let mut ret = f64::from(q[t_len]) * (1.0 - ended);
        for t in (0..t_len).rev() {
            let i = row + t;
            let bootstrap = (1.0 - lambda) * gamma * f64::from(q[t + 1]) * (1.0 - f64::from(terminated[i]));
            ret = lambda * gamma * ret + f64::from(mask[i]) * (f64::from(rewards[i]) + bootstrap);
            out[i] = ret as f32;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};

    /// One padded episode: `len` filled steps, terminated at the last one or cut at the batch end.
    struct Episode {
        len: usize,
        terminated: bool,
        rewards: Vec<f64>,
        q: Vec<f64>,
    }

    /// The n-step return from t, bootstrapped with Q̄_{t+n} unless the episode terminated first.
    fn n_step(e: &Episode, t: usize, n: usize, gamma: f64) -> f64 {
        let end = (t + n).min(e.len);
        let mut g: f64 = (t..end).map(|k| gamma.powi((k - t) as i32) * e.rewards[k]).sum();
        if !(e.terminated && t + n >= e.len) {
            g += gamma.powi(n as i32) * e.q[t + n];
        }
        g
    }

    /// The λ-return by its definition: (1 − λ) Σ_{n<N} λ^{n−1} G^(n) + λ^{N−1} G^(N), N = steps to the end.
    fn brute_force(e: &Episode, t: usize, t_len: usize, gamma: f64, lambda: f64) -> f64 {
        let horizon = t_len - t;
        let mut g = 0.0;
        for n in 1..horizon {
            g += (1.0 - lambda) * lambda.powi(n as i32 - 1) * n_step(e, t, n, gamma);
        }
        g + lambda.powi(horizon as i32 - 1) * n_step(e, t, horizon, gamma)
    }

    #[test]
    fn equals_the_brute_force_lambda_return_on_random_padded_episodes() {
        let mut rng = rand_pcg::Pcg64Mcg::seed_from_u64(3);
        let (t_len, gamma) = (7, 0.9);
        for lambda in [0.0, 0.6, 1.0] {
            let episodes: Vec<Episode> = (0..20)
                .map(|_| {
                    let terminated = rng.random_bool(0.6);
                    let len = if terminated {
                        rng.random_range(1..=t_len)
                    } else {
                        t_len
                    };
                    Episode {
                        len,
                        terminated,
                        // Rewards past the end are padding (zero); Q̄ there is garbage that must not count.
                        rewards: (0..t_len)
                            .map(|k| if k < len { rng.random_range(-1.0..1.0) } else { 0.0 })
                            .collect(),
                        q: (0..=t_len).map(|_| rng.random_range(-5.0..5.0)).collect(),
                    }
                })
                .collect();
            let flat = |f: &dyn Fn(&Episode, usize) -> f64| -> Vec<f32> {
                episodes
                    .iter()
                    .flat_map(|e| (0..t_len).map(|t| f(e, t) as f32))
                    .collect()
            };
            let rewards = flat(&|e, t| e.rewards[t]);
            let terminated = flat(&|e, t| f64::from(u8::from(e.terminated && t + 1 == e.len)));
            let mask = flat(&|e, t| f64::from(u8::from(t < e.len)));
            let q: Vec<f32> = episodes
                .iter()
                .flat_map(|e| e.q.iter().map(|&v| v as f32))
                .collect();
            let got = td_lambda_targets(&rewards, &terminated, &mask, &q, t_len, gamma, lambda);
            for (b, e) in episodes.iter().enumerate() {
                for t in 0..e.len {
                    let want = brute_force(e, t, t_len, gamma, lambda);
                    let have = f64::from(got[b * t_len + t]);
                    assert!(
                        (have - want).abs() < 1e-4,
                        "λ {lambda} episode {b} t {t}: {have} vs {want}"
                    );
                }
            }
        }
    }

    #[test]
    fn lambda_zero_is_the_one_step_target() {
        let got = td_lambda_targets(
            &[1.0, 2.0],
            &[0.0, 1.0],
            &[1.0, 1.0],
            &[9.0, 3.0, 7.0],
            2,
            0.5,
            0.0,
        );
        assert_eq!(got, vec![1.0 + 0.5 * 3.0, 2.0]);
    }
}
