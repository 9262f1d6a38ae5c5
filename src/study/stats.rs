//! The aggregate statistics deep RL reports over runs, as Agarwal et al. (2021), "Deep Reinforcement
//! Learning at the Edge of the Statistical Precipice", define them and their `rliable` library computes
//! them: the interquartile mean, the optimality gap, the probability of improvement and performance
//! profiles, each with a stratified percentile bootstrap confidence interval. A handful of seeds makes a
//! mean ± std misleading; these estimates are robust to an outlying run and their intervals say how much a
//! rerun with other seeds could move them.
//!
//! Scores come as plain slices of finite numbers. A *task* (rliable's column of the runs × tasks matrix) is
//! one `Vec<f64>` of run scores; aggregates pool the runs of all tasks, as rliable flattens the matrix.
//! Tasks may have different numbers of runs.

use rand::{Rng, SeedableRng};
use rand_pcg::Pcg64Mcg;

/// The arithmetic mean; NaN for no scores.
pub fn mean(scores: &[f64]) -> f64 {
    scores.iter().sum::<f64>() / scores.len() as f64
}

/// The interquartile mean: the mean of the scores left after cutting ⌊n/4⌋ of the lowest and ⌊n/4⌋ of the
/// highest. This is rliable's `aggregate_iqm`, `scipy.stats.trim_mean(scores, 0.25, axis=None)`, which cuts
/// `int(0.25 · n)` from each end of the flattened runs × tasks matrix; so below 4 scores it is the mean,
/// and for n not a multiple of 4 it keeps more than half (5 scores: the middle 3). Robust to an outlying
/// run, yet less noisy than the median. NaN for no scores.
pub fn iqm(scores: &[f64]) -> f64 {
    let mut sorted = scores.to_vec();
    sorted.sort_by(f64::total_cmp);
    let cut = sorted.len() / 4;
    mean(&sorted[cut..sorted.len() - cut])
}

/// How far the runs fall short of the target score `gamma` on average: the mean of max(0, γ − score)
/// (rliable's `aggregate_optimality_gap`, γ − mean(min(score, γ))). Scores above γ count as γ, so one
/// run beyond the target cannot make up for others below it. Lower is better.
pub fn optimality_gap(scores: &[f64], gamma: f64) -> f64 {
    scores.iter().map(|s| (gamma - s).max(0.0)).sum::<f64>() / scores.len() as f64
}

/// The [`optimality_gap`] of normalised scores, whose target is γ = 1 (rliable's default); a plain
/// function for [`bootstrap_ci`].
pub fn normalised_optimality_gap(scores: &[f64]) -> f64 {
    optimality_gap(scores, 1.0)
}

/// P(X > Y) on one task: the Mann-Whitney U statistic of `x` over `y` divided by n·m, i.e. the fraction of
/// (x run, y run) pairs in which x scores higher, ties counting ½ (rliable's per-task term, via
/// `scipy.stats.mannwhitneyu(x, y, alternative="greater")`). NaN when either has no runs.
pub fn task_probability_of_improvement(x: &[f64], y: &[f64]) -> f64 {
    let wins: f64 = x
        .iter()
        .flat_map(|a| {
            y.iter().map(move |b| {
                if a > b {
                    1.0
                } else if a == b {
                    0.5
                } else {
                    0.0
                }
            })
        })
        .sum();
    wins / (x.len() * y.len()) as f64
}

/// The probability of improvement of algorithm X over Y: [`task_probability_of_improvement`] averaged over
/// tasks (rliable's `probability_of_improvement`); `x[k]` and `y[k]` are the runs of task k. Says how
/// often X beats Y, not by how much.
pub fn probability_of_improvement(x: &[Vec<f64>], y: &[Vec<f64>]) -> f64 {
    assert_eq!(x.len(), y.len(), "X and Y need the same tasks");
    let per_task: Vec<f64> = x
        .iter()
        .zip(y)
        .map(|(x, y)| task_probability_of_improvement(x, y))
        .collect();
    mean(&per_task)
}

/// The fraction of scores above each threshold τ in `taus` (rliable's `run_score_distribution`, the
/// performance profile it recommends: the whole distribution of run scores rather than one aggregate).
pub fn score_distribution(scores: &[f64], taus: &[f64]) -> Vec<f64> {
    taus.iter()
        .map(|tau| scores.iter().filter(|&s| s > tau).count() as f64 / scores.len() as f64)
        .collect()
}

/// The `q`-quantile (0 ≤ q ≤ 1) of ascending `sorted` with linear interpolation between the order
/// statistics at ranks ⌊h⌋ and ⌈h⌉, h = (n − 1)·q: numpy's default `np.percentile`, which rliable's
/// bootstrap (the `arch` package) takes its percentile intervals with.
pub fn percentile(sorted: &[f64], q: f64) -> f64 {
    assert!(!sorted.is_empty(), "percentile of no values");
    let h = (sorted.len() - 1) as f64 * q;
    let i = h.floor() as usize;
    let j = (i + 1).min(sorted.len() - 1);
    sorted[i] + (h - i as f64) * (sorted[j] - sorted[i])
}

/// The percentile bootstrap confidence interval at `level` (0.95 for 95%) of `statistic` over the pooled
/// runs of `tasks`, stratified by task as rliable's `StratifiedBootstrap` does: each of the `resamples`
/// resamples draws, within each task independently, as many runs as the task has, with replacement, pools
/// them (task by task) and applies `statistic`; the interval is the α/2 and 1 − α/2 [`percentile`]s of
/// those values, α = 1 − level. Runs never move between tasks, so the interval is of the runs' randomness
/// on these tasks (a new set of seeds), not of the choice of tasks. The same seed gives the same interval.
pub fn bootstrap_ci(
    tasks: &[Vec<f64>],
    statistic: impl Fn(&[f64]) -> f64,
    resamples: usize,
    seed: u64,
    level: f64,
) -> (f64, f64) {
    let mut values = Vec::with_capacity(resamples);
    stratified_resamples(tasks, resamples, seed, |pooled| values.push(statistic(pooled)));
    percentile_interval(&mut values, level)
}

/// [`bootstrap_ci`] of [`probability_of_improvement`]: each resample draws X's and Y's runs
/// independently within each task (rliable's `StratifiedIndependentBootstrap`), so X and Y may have
/// different numbers of runs.
pub fn probability_of_improvement_ci(
    x: &[Vec<f64>],
    y: &[Vec<f64>],
    resamples: usize,
    seed: u64,
    level: f64,
) -> (f64, f64) {
    assert_eq!(x.len(), y.len(), "X and Y need the same tasks");
    let mut rng = Pcg64Mcg::seed_from_u64(seed);
    let (mut rx, mut ry) = (Vec::new(), Vec::new());
    let mut values: Vec<f64> = (0..resamples)
        .map(|_| {
            let per_task: Vec<f64> = x
                .iter()
                .zip(y)
                .map(|(x, y)| {
                    rx.clear();
                    resample_into(x, &mut rng, &mut rx);
                    ry.clear();
                    resample_into(y, &mut rng, &mut ry);
                    task_probability_of_improvement(&rx, &ry)
                })
                .collect();
            mean(&per_task)
        })
        .collect();
    percentile_interval(&mut values, level)
}

/// One point of a performance profile: the fraction of runs scoring above `tau`, and its bootstrap band.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ProfilePoint {
    pub tau: f64,
    pub fraction: f64,
    pub lo: f64,
    pub hi: f64,
}

/// The performance profile of the pooled runs of `tasks` at each τ of `taus` ([`score_distribution`])
/// with a pointwise band from the same stratified resamples as [`bootstrap_ci`] (one resample serves every
/// τ, as in rliable's `create_performance_profile`).
pub fn performance_profile(
    tasks: &[Vec<f64>],
    taus: &[f64],
    resamples: usize,
    seed: u64,
    level: f64,
) -> Vec<ProfilePoint> {
    let mut per_tau = vec![Vec::with_capacity(resamples); taus.len()];
    stratified_resamples(tasks, resamples, seed, |pooled| {
        for (values, fraction) in per_tau.iter_mut().zip(score_distribution(pooled, taus)) {
            values.push(fraction);
        }
    });
    let fractions = score_distribution(&tasks.concat(), taus);
    taus.iter()
        .zip(fractions)
        .zip(&mut per_tau)
        .map(|((&tau, fraction), values)| {
            let (lo, hi) = percentile_interval(values, level);
            ProfilePoint {
                tau,
                fraction,
                lo,
                hi,
            }
        })
        .collect()
}

/// Calls `each` with `resamples` stratified resamples of `tasks`, pooled task by task.
fn stratified_resamples(tasks: &[Vec<f64>], resamples: usize, seed: u64, mut each: impl FnMut(&[f64])) {
    let mut rng = Pcg64Mcg::seed_from_u64(seed);
    let mut pooled = Vec::with_capacity(tasks.iter().map(Vec::len).sum());
    for _ in 0..resamples {
        pooled.clear();
        for task in tasks {
            resample_into(task, &mut rng, &mut pooled);
        }
        each(&pooled);
    }
}

/// Appends `runs.len()` runs drawn from `runs` with replacement.
fn resample_into(runs: &[f64], rng: &mut Pcg64Mcg, out: &mut Vec<f64>) {
    out.extend((0..runs.len()).map(|_| runs[rng.random_range(0..runs.len())]));
}

/// The (α/2, 1 − α/2) percentiles of `values`, α = 1 − level; sorts `values`.
fn percentile_interval(values: &mut [f64], level: f64) -> (f64, f64) {
    assert!(!values.is_empty(), "a bootstrap needs at least one resample");
    assert!(
        level > 0.0 && level < 1.0,
        "confidence level {level} is not in (0, 1)"
    );
    values.sort_by(f64::total_cmp);
    let tail = (1.0 - level) / 2.0;
    (percentile(values, tail), percentile(values, 1.0 - tail))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-12
    }

    #[test]
    fn iqm_cuts_a_quarter_rounded_down_from_each_end() {
        // n = 4: ⌊1⌋ cut each end, the middle 2.
        assert!(close(iqm(&[10.0, 1.0, 3.0, 2.0]), 2.5));
        // n = 5: ⌊1.25⌋ = 1 cut each end, the middle 3 (not a strict half).
        assert!(close(iqm(&[100.0, 1.0, 2.0, 3.0, -50.0]), 2.0));
        // n = 8: 2 cut each end; ties inside and across the cut.
        assert!(close(iqm(&[5.0, 1.0, 1.0, 2.0, 2.0, 2.0, 9.0, 7.0]), 2.75));
        // n = 10: ⌊2.5⌋ = 2 cut each end, the middle 6.
        let ten = [0.0, 0.0, 0.0, 1.0, 1.0, 2.0, 3.0, 3.0, 100.0, -100.0];
        assert!(close(iqm(&ten), 7.0 / 6.0));
        // Below 4 scores nothing is cut.
        assert!(close(iqm(&[1.0, 2.0, 6.0]), 3.0));
        assert!(close(iqm(&[4.0]), 4.0));
        assert!(iqm(&[]).is_nan());
        assert!(close(mean(&[1.0, 2.0, 6.0]), 3.0));
    }

    #[test]
    fn optimality_gap_clips_scores_above_the_target() {
        assert!(close(
            optimality_gap(&[0.5, 1.5, 0.0, 1.0], 1.0),
            (0.5 + 0.0 + 1.0 + 0.0) / 4.0
        ));
        assert!(close(normalised_optimality_gap(&[0.25, 2.0]), 0.375));
        assert!(close(optimality_gap(&[10.0, 30.0], 20.0), 5.0));
    }

    #[test]
    fn probability_of_improvement_counts_pairs_and_half_ties() {
        // x's wins over y = [1, 2]: 3 beats both (2), 2 beats 1 and ties 2 (1.5), 1 ties 1 (0.5); of 6 pairs.
        assert!(close(
            task_probability_of_improvement(&[3.0, 2.0, 1.0], &[1.0, 2.0]),
            4.0 / 6.0
        ));
        assert!(close(
            task_probability_of_improvement(&[1.0, 2.0], &[1.0, 2.0]),
            0.5
        ));
        let x = vec![vec![5.0, 6.0], vec![0.0]];
        let y = vec![vec![1.0], vec![1.0, 2.0]];
        assert!(close(probability_of_improvement(&x, &y), 0.5));
        assert!(close(probability_of_improvement(&y, &x), 0.5));
    }

    #[test]
    fn score_distribution_counts_strictly_above() {
        let s = [0.0, 0.5, 0.5, 1.0];
        assert_eq!(
            score_distribution(&s, &[-1.0, 0.0, 0.5, 1.0]),
            vec![1.0, 0.75, 0.25, 0.0]
        );
    }

    #[test]
    fn percentile_interpolates_linearly_as_numpy() {
        let s = [1.0, 2.0, 4.0, 8.0];
        // h = 3q: q = 0.5 → between 2 and 4; q = 0.9 → 2.7, 4 + 0.7·4.
        assert!(close(percentile(&s, 0.5), 3.0));
        assert!(close(percentile(&s, 0.9), 6.8));
        assert!(close(percentile(&s, 0.0), 1.0));
        assert!(close(percentile(&s, 1.0), 8.0));
        assert!(close(percentile(&[7.0], 0.3), 7.0));
    }

    /// Every stratified resample of `tasks` with its probability: all ∏ n_t^n_t ways of drawing n_t of
    /// each task's n_t runs with replacement, each equally likely.
    fn all_resamples(tasks: &[Vec<f64>]) -> Vec<(Vec<f64>, f64)> {
        let mut resamples = vec![(Vec::new(), 1.0)];
        for task in tasks {
            let n = task.len();
            for _ in 0..n {
                resamples = resamples
                    .into_iter()
                    .flat_map(|(pooled, p)| {
                        task.iter().map(move |&v| {
                            let mut next = pooled.clone();
                            next.push(v);
                            (next, p / n as f64)
                        })
                    })
                    .collect();
            }
        }
        resamples
    }

    /// Whether `value` is a q-quantile of the exact distribution within `tol` in probability:
    /// P(S < value) ≤ q + tol and P(S ≤ value) ≥ q − tol.
    fn is_quantile(exact: &[(f64, f64)], value: f64, q: f64, tol: f64) -> bool {
        let below: f64 = exact
            .iter()
            .filter(|(s, _)| *s < value - 1e-9)
            .map(|(_, p)| p)
            .sum();
        let at_most: f64 = exact
            .iter()
            .filter(|(s, _)| *s <= value + 1e-9)
            .map(|(_, p)| p)
            .sum();
        below <= q + tol && at_most >= q - tol
    }

    /// The exact distribution of `statistic` over every resample.
    fn exact(tasks: &[Vec<f64>], statistic: fn(&[f64]) -> f64) -> Vec<(f64, f64)> {
        let all = all_resamples(tasks);
        assert!(close(all.iter().map(|(_, p)| p).sum(), 1.0));
        all.iter().map(|(pooled, p)| (statistic(pooled), *p)).collect()
    }

    #[test]
    fn bootstrap_percentiles_converge_to_the_exact_resampling_distribution() {
        // One task of 3 runs: 27 resamples. The means' exact CDF: 0 → 1/27, 1/3 → 4/27, …, 11/3 → 26/27,
        // 5 → 1; at level 0.8 the 10% and 90% quantiles are 1/3 and 11/3, far from any jump of the CDF.
        let one = vec![vec![0.0, 1.0, 5.0]];
        let (lo, hi) = bootstrap_ci(&one, mean, 20_000, 7, 0.8);
        assert!(close(lo, 1.0 / 3.0) && close(hi, 11.0 / 3.0), "{lo} {hi}");
        // At 95% the tails (1/27 > 2.5%) are the extreme means.
        assert_eq!(bootstrap_ci(&one, mean, 20_000, 7, 0.95), (0.0, 5.0));

        // Two tasks, the IQM of the 5 pooled runs: 27 · 4 resamples. At every level, both ends are
        // quantiles of the exact distribution up to 1% of probability.
        let two = vec![vec![0.0, 1.0, 5.0], vec![10.0, 20.0]];
        for (tasks, statistic) in [(&one, mean as fn(&[f64]) -> f64), (&two, iqm), (&two, mean)] {
            let exact = exact(tasks, statistic);
            for level in [0.95, 0.8, 0.5] {
                let (lo, hi) = bootstrap_ci(tasks, statistic, 20_000, 11, level);
                let tail = (1.0 - level) / 2.0;
                assert!(is_quantile(&exact, lo, tail, 0.01), "level {level}: lo {lo}");
                assert!(
                    is_quantile(&exact, hi, 1.0 - tail, 0.01),
                    "level {level}: hi {hi}"
                );
            }
        }
    }

    #[test]
    fn the_bootstrap_is_deterministic_for_a_seed() {
        let tasks = vec![vec![0.3, 1.7, 2.2, 5.0, 4.1, 0.9], vec![3.0, 8.0, 1.0]];
        let a = bootstrap_ci(&tasks, iqm, 500, 3, 0.95);
        assert_eq!(a, bootstrap_ci(&tasks, iqm, 500, 3, 0.95));
        assert_ne!(a, bootstrap_ci(&tasks, iqm, 500, 4, 0.95));
        let (x, y) = (&tasks[..1], &tasks[1..]);
        let p = probability_of_improvement_ci(x, y, 500, 3, 0.95);
        assert_eq!(p, probability_of_improvement_ci(x, y, 500, 3, 0.95));
        let taus = [0.0, 2.0, 4.0];
        let profile = performance_profile(&tasks, &taus, 500, 3, 0.95);
        assert_eq!(profile, performance_profile(&tasks, &taus, 500, 3, 0.95));
    }

    #[test]
    fn resamples_stay_within_their_task() {
        // Task 1 scores below 1, task 2 above 1000: every pooled resample holds exactly 3 runs of task 1
        // and 2 of task 2, so the fraction below 500 is always 3/5 (an unstratified bootstrap would vary).
        let tasks = vec![vec![0.1, 0.5, 0.9], vec![1000.0, 2000.0]];
        let low_fraction = |pooled: &[f64]| {
            assert_eq!(pooled.len(), 5);
            pooled.iter().filter(|&&v| v < 500.0).count() as f64 / 5.0
        };
        assert_eq!(bootstrap_ci(&tasks, low_fraction, 2000, 5, 0.999), (0.6, 0.6));
        // The resampling does draw different runs within a task.
        let (lo, hi) = bootstrap_ci(&tasks, mean, 2000, 5, 0.95);
        assert!(
            lo < mean(&tasks.concat()) && mean(&tasks.concat()) < hi,
            "{lo} {hi}"
        );
    }

    #[test]
    fn probability_of_improvement_ci_resamples_each_side_within_tasks() {
        // X beats Y on every run of task 1 and loses every run of task 2: each resample keeps P = ½.
        let x = vec![vec![10.0, 11.0, 12.0], vec![0.0, 0.5]];
        let y = vec![vec![1.0, 2.0], vec![5.0, 6.0, 7.0]];
        assert!(close(probability_of_improvement(&x, &y), 0.5));
        assert_eq!(probability_of_improvement_ci(&x, &y, 1000, 2, 0.95), (0.5, 0.5));
        // Overlapping runs: the interval holds the point estimate and is not a point.
        let x = vec![vec![1.0, 3.0, 5.0, 7.0]];
        let y = vec![vec![2.0, 4.0, 6.0]];
        let p = probability_of_improvement(&x, &y);
        let (lo, hi) = probability_of_improvement_ci(&x, &y, 2000, 2, 0.95);
        assert!(lo < p && p < hi && 0.0 <= lo && hi <= 1.0, "{lo} {p} {hi}");
    }

    #[test]
    fn performance_profile_bands_hold_the_fractions() {
        let tasks = vec![vec![0.1, 0.4, 0.8, 0.9], vec![0.2, 0.6]];
        let profile = performance_profile(&tasks, &[-1.0, 0.5, 1.0], 2000, 9, 0.95);
        let fractions: Vec<f64> = profile.iter().map(|p| p.fraction).collect();
        assert_eq!(fractions, vec![1.0, 0.5, 0.0]);
        // Every run is above −1 and none above 1, in any resample.
        assert_eq!((profile[0].lo, profile[0].hi), (1.0, 1.0));
        assert_eq!((profile[2].lo, profile[2].hi), (0.0, 0.0));
        let mid = profile[1];
        assert!(mid.lo < 0.5 && 0.5 < mid.hi && mid.tau == 0.5, "{mid:?}");
    }
}
