//! Performance profiles of an experiment (Agarwal et al. 2021, rliable's `create_performance_profile`):
//! for each row (method) the fraction of its runs, over all x values, that score above τ, for τ across the
//! metric's range, with a 95% band from bootstrap resamples stratified by x value (each x value is one task
//! of the row, its seeds redrawn within it). Where a single aggregate hides how runs spread, the profile
//! shows the whole distribution: a row whose profile lies above another's at every τ dominates it.

use super::curves::{Curve, CurvePoint};
use super::stats::performance_profile;
use super::table::Table;

/// Thresholds per profile: enough for a smooth line on a 900-pixel figure.
const THRESHOLDS: usize = 41;

/// One row's profile; empty when the row has no finished run.
pub struct Profile {
    pub label: String,
    pub points: Vec<super::stats::ProfilePoint>,
}

/// The thresholds of an experiment's profiles: evenly spaced over the metric's range where it has one,
/// else over the range of the experiment's runs; `None` when the experiment has no run.
pub fn thresholds(table: &Table, range: Option<(f64, f64)>) -> Option<Vec<f64>> {
    let runs = || table.rows.iter().flat_map(|r| &r.cells).flat_map(|c| &c.values);
    let (lo, hi) = match range {
        Some(r) => r,
        None => {
            let lo = runs().copied().fold(f64::INFINITY, f64::min);
            let hi = runs().copied().fold(f64::NEG_INFINITY, f64::max);
            (lo, hi)
        }
    };
    if !(lo.is_finite() && hi.is_finite()) {
        return None;
    }
    if hi <= lo {
        return Some(vec![lo]);
    }
    let step = (hi - lo) / (THRESHOLDS - 1) as f64;
    Some((0..THRESHOLDS).map(|i| lo + step * i as f64).collect())
}

/// Each row's profile at `taus`, the row's x values as the bootstrap's strata (those without runs left
/// out).
pub fn profiles(table: &Table, taus: &[f64], resamples: usize, seed: u64, level: f64) -> Vec<Profile> {
    table
        .rows
        .iter()
        .map(|row| {
            let tasks: Vec<Vec<f64>> = row
                .cells
                .iter()
                .filter(|c| !c.values.is_empty())
                .map(|c| c.values.clone())
                .collect();
            let points = if tasks.is_empty() {
                Vec::new()
            } else {
                performance_profile(&tasks, taus, resamples, seed, level)
            };
            Profile {
                label: row.label.clone(),
                points,
            }
        })
        .collect()
}

/// The profiles as lines for the figure: τ on x, the fraction with its band on y.
pub fn as_curves(profiles: &[Profile]) -> Vec<Curve> {
    profiles
        .iter()
        .filter(|p| !p.points.is_empty())
        .map(|p| Curve {
            label: p.label.clone(),
            panel: String::new(),
            points: p
                .points
                .iter()
                .map(|q| CurvePoint {
                    x: q.tau,
                    iqm: q.fraction,
                    lo: q.lo,
                    hi: q.hi,
                })
                .collect(),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::super::table::{Cell, Row};
    use super::*;

    fn table(rows: &[(&str, &[&[f64]])]) -> Table {
        Table {
            experiment: "e".into(),
            row_title: "method".into(),
            x_axis: "density".into(),
            columns: vec!["0.1".into(), "0.01".into()],
            rows: rows
                .iter()
                .map(|(label, cells)| Row {
                    label: label.to_string(),
                    cells: cells.iter().map(|v| Cell { values: v.to_vec() }).collect(),
                })
                .collect(),
        }
    }

    #[test]
    fn thresholds_span_the_metric_range_or_the_runs() {
        let t = table(&[("a", &[&[1.0, 3.0], &[]])]);
        let taus = thresholds(&t, Some((0.0, 500.0))).unwrap();
        assert_eq!((taus.len(), taus[0], taus[40]), (THRESHOLDS, 0.0, 500.0));
        assert!((taus[1] - 12.5).abs() < 1e-12);
        let taus = thresholds(&t, None).unwrap();
        assert_eq!((taus[0], taus[40]), (1.0, 3.0));
        assert_eq!(thresholds(&table(&[("a", &[&[], &[]])]), None), None);
        assert_eq!(
            thresholds(&table(&[("a", &[&[2.0], &[2.0]])]), None),
            Some(vec![2.0])
        );
    }

    /// By hand: row `a` has the runs 1, 2 (x = 0.1) and 3, 4 (x = 0.01): above τ = 2.5 are 2 of 4.
    #[test]
    fn a_row_pools_its_x_values_and_counts_runs_above_each_threshold() {
        let t = table(&[("a", &[&[1.0, 2.0], &[3.0, 4.0]]), ("b", &[&[], &[]])]);
        let ps = profiles(&t, &[0.0, 2.5, 4.0], 200, 0, 0.95);
        assert_eq!(
            ps[0].points.iter().map(|p| p.fraction).collect::<Vec<_>>(),
            [1.0, 0.5, 0.0]
        );
        // Resamples are stratified: each keeps two runs of x = 0.1 (both at or below 2.5) and two of
        // x = 0.01 (both above), so every resample has exactly half above 2.5 and the band is that point;
        // redrawing the four runs pooled would spread it.
        assert_eq!((ps[0].points[1].lo, ps[0].points[1].hi), (0.5, 0.5));
        assert_eq!((ps[0].points[0].lo, ps[0].points[0].hi), (1.0, 1.0));
        assert!(ps[1].points.is_empty());
        let curves = as_curves(&ps);
        assert_eq!(curves.len(), 1);
        assert_eq!(curves[0].points[1].x, 2.5);
    }
}
