//! Schedules: when topology updates happen, the drop fraction of each update, and the density path of
//! the gradual kinds.
//!
//! * Updates every ΔT steps after `start`, up to `end` (RigL, Evci et al. 2020).
//! * Cosine drop fraction (RigL): f(t) = (α/2)(1 + cos(π (t − t_start)/(t_end − t_start))); or constant.
//! * Gradual magnitude pruning (Zhu & Gupta, "To prune, or not to prune", 2017): sparsity
//!   s_t = s_f + (s_i − s_f)(1 − p)³ with p the progress from the first to the last update; the same cubic
//!   in density is its mirror for sparse-to-dense growth.
//! * CHTss sigmoid (Zhang et al. 2025, arXiv 2501.19107, soft-rule code `_current_prune_rate`):
//!   shaped = (σ(2K(p − ½)) − σ(−K)) / (σ(K) − σ(−K)), K = 6, exactly 0 at p = 0 and 1 at p = 1.

use crate::policy::{DensitySchedule, DropSchedule, SparsityPolicy};

/// Steps at which a module's topology is updated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct UpdateSchedule {
    /// ΔT.
    pub interval: u64,
    /// `update_start · total`: the first update is at `start + interval`.
    pub start: u64,
    /// `update_end · total`: no update after this step.
    pub end: u64,
}

impl UpdateSchedule {
    /// The schedule of a policy for a run of `total_steps`.
    pub fn new(policy: &SparsityPolicy, total_steps: u64) -> Self {
        Self {
            interval: policy.update_interval.max(1),
            start: (policy.update_start * total_steps as f64).round() as u64,
            end: (policy.update_end * total_steps as f64).floor() as u64,
        }
    }

    /// Whether `step` is an update step.
    pub fn is_update(&self, step: u64) -> bool {
        step > self.start && step <= self.end && (step - self.start).is_multiple_of(self.interval)
    }

    /// The last update step, if there is any.
    pub fn last_update(&self) -> Option<u64> {
        let n = self.end.saturating_sub(self.start) / self.interval;
        (n > 0).then(|| self.start + n * self.interval)
    }

    /// Progress in [0, 1] from `start` to `end` (the cosine's clock).
    pub fn progress(&self, step: u64) -> f64 {
        clock(step, self.start, self.end)
    }

    /// Progress in [0, 1] from `start` to the last update, so a gradual schedule reaches its end point
    /// exactly at the last update.
    pub fn gradual_progress(&self, step: u64) -> f64 {
        clock(step, self.start, self.last_update().unwrap_or(self.end))
    }
}

fn clock(step: u64, from: u64, to: u64) -> f64 {
    if to <= from {
        return 1.0;
    }
    (step.saturating_sub(from) as f64 / (to - from) as f64).clamp(0.0, 1.0)
}

/// The cosine decay of every schedule that uses one (RigL's drop fraction, DynaDiag's temperature and
/// drop fraction, ADAPT's regrow fraction): ½ (1 + cos(π p)), from 1 at progress 0 to 0 at progress 1.
pub fn cosine_decay(p: f64) -> f64 {
    0.5 * (1.0 + (std::f64::consts::PI * p).cos())
}

/// Drop fraction at progress `p` ∈ [0, 1].
pub fn drop_fraction(schedule: DropSchedule, alpha: f64, p: f64) -> f64 {
    match schedule {
        DropSchedule::Constant => alpha,
        DropSchedule::Cosine => alpha * cosine_decay(p),
    }
}

/// Zhu & Gupta's cubic from `from` (p = 0) to `to` (p = 1); works in density or sparsity.
pub fn cubic(p: f64, from: f64, to: f64) -> f64 {
    to + (from - to) * (1.0 - p.clamp(0.0, 1.0)).powi(3)
}

/// The CHTss sigmoid shape, 0 at p = 0 and 1 at p = 1.
pub fn sigmoid_shape(p: f64) -> f64 {
    const K: f64 = 6.0;
    let s = |x: f64| 1.0 / (1.0 + (-x).exp());
    (s(2.0 * K * (p.clamp(0.0, 1.0) - 0.5)) - s(-K)) / (s(K) - s(-K))
}

/// Density at progress `p` of a gradual schedule from `from` to `to`.
pub fn gradual_density(schedule: DensitySchedule, p: f64, from: f64, to: f64) -> f64 {
    match schedule {
        DensitySchedule::Cubic => cubic(p, from, to),
        DensitySchedule::Sigmoid => from + (to - from) * sigmoid_shape(p),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn cosine_decay_falls_from_one_to_zero_through_a_half() {
        assert_eq!(cosine_decay(0.0), 1.0);
        assert!((cosine_decay(0.5) - 0.5).abs() < 1e-15);
        assert!(cosine_decay(1.0).abs() < 1e-15);
        assert!(cosine_decay(0.25) > cosine_decay(0.3));
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]
        #[test]
        fn schedules_hit_their_end_points(from in 0.0f64..1.0, to in 0.0f64..1.0, alpha in 0.0f64..1.0) {
            for sched in [DensitySchedule::Cubic, DensitySchedule::Sigmoid] {
                prop_assert!((gradual_density(sched, 0.0, from, to) - from).abs() < 1e-12);
                prop_assert!((gradual_density(sched, 1.0, from, to) - to).abs() < 1e-12);
            }
            prop_assert!((drop_fraction(DropSchedule::Cosine, alpha, 0.0) - alpha).abs() < 1e-12);
            prop_assert!(drop_fraction(DropSchedule::Cosine, alpha, 1.0).abs() < 1e-12);
        }

        #[test]
        fn gradual_schedule_is_monotone(p in 0.0f64..1.0, q in 0.0f64..1.0) {
            let (a, b) = if p < q { (p, q) } else { (q, p) };
            for sched in [DensitySchedule::Cubic, DensitySchedule::Sigmoid] {
                prop_assert!(gradual_density(sched, a, 1.0, 0.1) >= gradual_density(sched, b, 1.0, 0.1) - 1e-12);
            }
        }

        #[test]
        fn last_update_reaches_full_gradual_progress(total in 100u64..100_000, interval in 1u64..2_000) {
            let policy = SparsityPolicy { update_interval: interval, ..SparsityPolicy::default() };
            let s = UpdateSchedule::new(&policy, total);
            if let Some(last) = s.last_update() {
                prop_assert!(s.is_update(last));
                prop_assert!(!s.is_update(last + interval));
                prop_assert!((s.gradual_progress(last) - 1.0).abs() < 1e-12);
            }
        }
    }

    #[test]
    fn updates_follow_the_interval() {
        let policy = SparsityPolicy::default();
        let s = UpdateSchedule::new(&policy, 100_000);
        assert!(!s.is_update(0));
        assert!(s.is_update(1000) && s.is_update(75_000));
        assert!(!s.is_update(1500) && !s.is_update(76_000));
    }
}
