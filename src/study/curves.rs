//! Learning curves of a study: for every cell of an experiment's table (a method at an x value), the IQM
//! over its finished seeds of the metric at each evaluation step, with a 95% stratified bootstrap
//! confidence interval (the tables' bootstrap), read from the runs' TensorBoard event files. Seeds evaluate at the first episode
//! end after each interval, so their steps differ by up to an episode: each seed contributes its
//! evaluation nearest to each step of the cell's first seed.

use std::path::Path;

use super::manifest::{Manifest, Status};
use super::report::interval;
use super::table::Table;

#[derive(Debug, Clone, PartialEq)]
pub struct CurvePoint {
    /// The env step (learning curves) or the score threshold (performance profiles).
    pub x: f64,
    pub iqm: f64,
    /// The 95% CI of the IQM; equal to it for one seed.
    pub lo: f64,
    pub hi: f64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Curve {
    /// The row's labels, e.g. `rigl`; the x value when the study has no other axis.
    pub label: String,
    /// The x value whose panel the curve is drawn in, e.g. `0.1`; empty when all curves share one panel
    /// (a study with no other axis than x, and performance profiles).
    pub panel: String,
    pub points: Vec<CurvePoint>,
}

/// The TensorBoard tag of a `summary.json` metric: `eval.return_mean` → `eval/return_mean`.
pub fn tag_of(metric: &str) -> String {
    metric.replacen('.', "/", 1)
}

/// The curves of `table`'s experiment, one per cell with at least one readable run, in table order.
pub fn curves(table: &Table, manifest: &Manifest, x_axis: &str, runs_dir: &Path) -> Vec<Curve> {
    let tag = tag_of(&manifest.metric);
    let mut out = Vec::new();
    for row in &table.rows {
        for column in &table.columns {
            let runs: Vec<Vec<(u64, f64)>> = manifest
                .runs
                .iter()
                .filter(|r| {
                    r.status == Status::Done
                        && r.experiment == table.experiment
                        && r.axes.get(x_axis) == Some(column)
                        && row_label(&r.axes, x_axis, &table.row_title) == row.label
                })
                .filter_map(|r| crate::log::events::read_scalars(&runs_dir.join(&r.name), &tag).ok())
                .filter(|s| !s.is_empty())
                .collect();
            if runs.is_empty() {
                continue;
            }
            let (label, panel) = if row.label.is_empty() {
                (column.clone(), String::new())
            } else {
                (row.label.clone(), column.clone())
            };
            out.push(Curve {
                label,
                panel,
                points: aggregate(&runs),
            });
        }
    }
    out
}

/// The row label of a run as [`super::table::tables`] builds it: the non-x axes' labels in order.
fn row_label(axes: &std::collections::BTreeMap<String, String>, x_axis: &str, row_title: &str) -> String {
    if row_title.is_empty() {
        return String::new();
    }
    let labels: Vec<&str> = row_title
        .split(", ")
        .filter(|a| *a != x_axis)
        .map(|a| axes.get(a).map_or("", String::as_str))
        .collect();
    labels.join(", ")
}

/// At each evaluation step of the first run: every run's evaluation nearest to it, their IQM and its CI.
fn aggregate(runs: &[Vec<(u64, f64)>]) -> Vec<CurvePoint> {
    runs[0]
        .iter()
        .map(|&(step, _)| {
            let values: Vec<f64> = runs
                .iter()
                .map(|run| {
                    run.iter()
                        .min_by_key(|(s, _)| s.abs_diff(step))
                        .expect("a run with evaluations")
                        .1
                })
                .collect();
            let (centre, lo, hi) = interval(&values);
            CurvePoint {
                x: step as f64,
                iqm: centre,
                lo,
                hi,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seeds_meet_at_the_nearest_evaluation() {
        let runs = vec![
            vec![(100, 1.0), (200, 2.0)],
            vec![(103, 3.0), (198, 4.0)],
            vec![(110, 5.0), (190, 0.0)],
        ];
        let points = aggregate(&runs);
        assert_eq!(points.iter().map(|p| p.x).collect::<Vec<_>>(), [100.0, 200.0]);
        // Three seeds: the IQM is their mean.
        assert!((points[0].iqm - 3.0).abs() < 1e-12 && (points[1].iqm - 2.0).abs() < 1e-12);
        assert!(
            points[0].lo <= points[0].iqm && points[0].iqm <= points[0].hi && points[0].lo < points[0].hi
        );
        let one = aggregate(&runs[..1]);
        assert_eq!((one[1].lo, one[1].hi), (2.0, 2.0));
        assert_eq!(tag_of("eval.return_mean"), "eval/return_mean");
    }
}
