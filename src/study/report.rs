//! `study.md`: per experiment, a table of the metric (rows: the lines of the plot, columns: the x values)
//! under its plot, then the runs that failed and why. Each cell gives the interquartile mean and the mean
//! over seeds, each with a 95% stratified percentile bootstrap confidence interval, and the number of runs:
//! the estimates Agarwal et al. (2021) recommend for few-seed deep RL results, computed as `rliable` does
//! (see [`super::stats`]). Where an experiment has several rows, a second table gives each row's
//! probability of improvement over the first row at every x, with its interval (with one row, each x
//! value's over the first x value, as when the x axis lists the compared variants); where the metric has a
//! known best score (the upper end of the study's `metric_range`), a third gives each cell's optimality
//! gap; the last gives each row's performance profile at five thresholds ([`super::profile`]).

use std::fmt::Write;

use super::manifest::{Manifest, Status};
use super::profile::{self, Profile};
use super::stats::{
    bootstrap_ci, iqm, mean, optimality_gap, probability_of_improvement_ci, task_probability_of_improvement,
};
use super::table::{Cell, Row, Table};

/// Bootstrap resamples per confidence interval: plenty for the 2.5% and 97.5% percentiles of a few seeds,
/// and cheap (a cell has one task of a handful of runs).
const RESAMPLES: usize = 2000;
/// The resampling seed: the same runs always give the same report.
const SEED: u64 = 0;
const LEVEL: f64 = 0.95;

/// The Markdown report of a study. `source` is the study file as given on the command line; `best`, the
/// metric's best possible score where it has one; `profiles`, each table's performance profiles
/// ([`profiles_of`]).
pub fn markdown(
    manifest: &Manifest,
    tables: &[Table],
    profiles: &[Vec<Profile>],
    with_curves: &[String],
    source: &str,
    best: Option<f64>,
) -> String {
    let mut md = format!("# Study `{}`\n\n", manifest.study);
    let _ = writeln!(
        md,
        "Study file `{source}`. Each cell, over the finished seeds' `{}` in the runs' `summary.json`: \
         the interquartile mean (IQM: the mean after cutting ⌊n/4⌋ runs from each end, as rliable \
         computes it) and the mean, each with its 95% confidence interval in brackets, and n, the number \
         of runs (no interval for one run). 95% stratified percentile bootstrap CIs, {RESAMPLES} \
         resamples, seed {SEED} (Agarwal et al. 2021, \"Deep Reinforcement Learning at the Edge of the \
         Statistical Precipice\"); a cell is one task, so the bootstrap redraws its runs with \
         replacement. The first figure of each experiment is its learning curves: the IQM over seeds of \
         the metric at each evaluation during training, its 95% CI shaded, one panel per x value when \
         the study has other axes (seeds evaluate at the first episode end after each interval, so each \
         contributes its evaluation nearest to the steps of the cell's first seed). The second shows \
         the final scores of the table: IQM with 95% CI whiskers. The third shows each row's \
         performance profile.\n",
        manifest.metric
    );
    let _ = writeln!(
        md,
        "Runs: {} done, {} failed, {} not run.\n",
        manifest.count(Status::Done),
        manifest.count(Status::Failed),
        manifest.count(Status::Pending) + manifest.count(Status::Running)
    );
    for (t, profiles) in tables.iter().zip(profiles) {
        let _ = writeln!(md, "## {}\n", t.experiment);
        if with_curves.contains(&t.experiment) {
            let _ = writeln!(md, "![{0}: learning curves]({0}_curves.png)\n", t.experiment);
        }
        let _ = writeln!(md, "![{0}: final scores]({0}.png)\n", t.experiment);
        table_header(&mut md, t);
        for row in &t.rows {
            let cells: Vec<String> = row.cells.iter().map(cell_text).collect();
            let _ = writeln!(md, "| {} | {} |", row.label, cells.join(" | "));
        }
        md.push('\n');
        improvement_table(&mut md, t);
        if let Some(best) = best {
            gap_table(&mut md, t, best);
        }
        profile_table(&mut md, t, profiles);
    }
    let failed: Vec<_> = manifest
        .runs
        .iter()
        .filter(|r| r.status == Status::Failed)
        .collect();
    if !failed.is_empty() {
        md.push_str("## Failed runs\n\n");
        for r in failed {
            let why = r.error.as_deref().and_then(|e| e.lines().last()).unwrap_or("");
            let _ = writeln!(md, "- `{}`: {}", r.name, why);
        }
    }
    md
}

/// Each row's probability of improvement over the first row, column by column; for a table of one row
/// (the compared variants are the x axis), each column's over the first column; nothing for one cell.
fn improvement_table(md: &mut String, t: &Table) {
    match t.rows.as_slice() {
        [] => {}
        [row] => column_improvement(md, t, row),
        [first, others @ ..] => {
            improvement_note(md, "row", &first.label, &format!(" at the same {}", t.x_axis));
            table_header(md, t);
            for row in others {
                let cells: Vec<String> = row
                    .cells
                    .iter()
                    .zip(&first.cells)
                    .map(|(x, y)| improvement_text(&x.values, &y.values))
                    .collect();
                let _ = writeln!(md, "| {} | {} |", row.label, cells.join(" | "));
            }
            md.push('\n');
        }
    }
}

/// The one row's later columns against its first.
fn column_improvement(md: &mut String, t: &Table, row: &Row) {
    let (Some((first, others)), Some(first_label)) = (row.cells.split_first(), t.columns.first()) else {
        return;
    };
    if others.is_empty() {
        return;
    }
    improvement_note(md, &t.x_axis, first_label, "");
    let _ = writeln!(md, "|  | {} |", t.columns[1..].join(" | "));
    let _ = writeln!(md, "|---|{}", "---:|".repeat(others.len()));
    let cells: Vec<String> = others
        .iter()
        .map(|x| improvement_text(&x.values, &first.values))
        .collect();
    let _ = writeln!(md, "| {} | {} |", row.label, cells.join(" | "));
    md.push('\n');
}

/// The paragraph above a probability-of-improvement table: `P(which > reference)` with its definition;
/// `condition` (empty, or with a leading space) follows the reference.
fn improvement_note(md: &mut String, which: &str, reference: &str, condition: &str) {
    let _ = writeln!(
        md,
        "P({which} > {reference}): the probability that a run of the {which} scores higher than a run of \
         `{reference}`{condition}, ties counting half (the Mann-Whitney U statistic over n·m, rliable's \
         probability of improvement; 0.5 is a tie), with its 95% bootstrap CI (the two cells' runs \
         redrawn independently).\n"
    );
}

/// Each cell's optimality gap to the best score `best`, with its interval.
fn gap_table(md: &mut String, t: &Table, best: f64) {
    let _ = writeln!(
        md,
        "Optimality gap to the best score {}: the mean of max(0, {0} − score) over the runs, so a run above \
         it cannot make up for one below (rliable's optimality gap; lower is better), with its 95% CI.\n",
        number(best)
    );
    table_header(md, t);
    for row in &t.rows {
        let cells: Vec<String> = row.cells.iter().map(|c| gap_text(&c.values, best)).collect();
        let _ = writeln!(md, "| {} | {} |", row.label, cells.join(" | "));
    }
    md.push('\n');
}

/// Each row's performance profile over the experiment's runs at `range`'s thresholds (the metric's range,
/// else the runs'), bootstrapped as the tables are; empty for an experiment without runs.
pub fn profiles_of(table: &Table, range: Option<(f64, f64)>) -> Vec<Profile> {
    profile::thresholds(table, range)
        .map(|taus| profile::profiles(table, &taus, RESAMPLES, SEED, LEVEL))
        .unwrap_or_default()
}

/// Each row's profile at five of its thresholds (the ends and quartiles of the range), with the band.
fn profile_table(md: &mut String, t: &Table, profiles: &[Profile]) {
    let Some(points) = profiles.iter().map(|p| &p.points).find(|p| !p.is_empty()) else {
        return;
    };
    let mut picks: Vec<usize> = (0..5).map(|k| k * (points.len() - 1) / 4).collect();
    picks.dedup();
    let _ = writeln!(
        md,
        "Performance profile: the fraction of the row's runs (every {0} pooled) scoring above τ, with its \
         95% CI from resamples stratified by {0} (rliable's performance profile); the figure draws it over \
         the whole range.\n\n![{1}: performance profiles]({1}_profile.png)\n",
        t.x_axis, t.experiment
    );
    let taus: Vec<String> = picks
        .iter()
        .map(|&i| format!("τ = {}", number(points[i].tau)))
        .collect();
    let _ = writeln!(md, "| {} | {} |", t.row_title, taus.join(" | "));
    let _ = writeln!(md, "|---|{}", "---|".repeat(picks.len()));
    for p in profiles {
        let cells: Vec<String> = picks
            .iter()
            .map(|&i| match p.points.get(i) {
                Some(q) => format!("{} [{}, {}]", number(q.fraction), number(q.lo), number(q.hi)),
                None => "–".into(),
            })
            .collect();
        let _ = writeln!(md, "| {} | {} |", p.label, cells.join(" | "));
    }
    md.push('\n');
}

/// `0.100 [0.000, 0.300]`: the runs' optimality gap to `best` with its interval; `–` for no run.
fn gap_text(runs: &[f64], best: f64) -> String {
    if runs.is_empty() {
        return "–".into();
    }
    let gap = |scores: &[f64]| optimality_gap(scores, best);
    let (lo, hi) = bootstrap_ci(&[runs.to_vec()], gap, RESAMPLES, SEED, LEVEL);
    format!("{:.3} [{lo:.3}, {hi:.3}]", gap(runs))
}

/// The header of a table of `t`'s rows and x values.
fn table_header(md: &mut String, t: &Table) {
    let _ = writeln!(
        md,
        "| {} \\ {} | {} |",
        t.row_title,
        t.x_axis,
        t.columns.join(" | ")
    );
    let _ = writeln!(md, "|---|{}", "---:|".repeat(t.columns.len()));
}

/// `0.833 [0.500, 1.000]`: P(X > Y) with its interval; `–` where either cell has no run.
fn improvement_text(x: &[f64], y: &[f64]) -> String {
    if x.is_empty() || y.is_empty() {
        return "–".into();
    }
    let p = task_probability_of_improvement(x, y);
    let (tasks_x, tasks_y) = ([x.to_vec()], [y.to_vec()]);
    let (lo, hi) = probability_of_improvement_ci(&tasks_x, &tasks_y, RESAMPLES, SEED, LEVEL);
    format!("{p:.3} [{lo:.3}, {hi:.3}]")
}

/// `IQM 2.33 [1.00, 4.00], mean 2.33 [1.00, 4.00], n=3`; `IQM v, mean v, n=1` for one run, whose
/// bootstrap could only repeat it; `–` for no finished run.
fn cell_text(cell: &Cell) -> String {
    let runs = &cell.values;
    match runs.len() {
        0 => "–".into(),
        1 => format!("IQM {0}, mean {0}, n=1", number(runs[0])),
        n => format!("IQM {}, mean {}, n={n}", with_ci(runs, iqm), with_ci(runs, mean)),
    }
}

/// `estimate [lo, hi]` of `statistic` over one task's runs, the interval in the estimate's decimals.
fn with_ci(runs: &[f64], statistic: fn(&[f64]) -> f64) -> String {
    let estimate = statistic(runs);
    let (lo, hi) = bootstrap_ci(&[runs.to_vec()], statistic, RESAMPLES, SEED, LEVEL);
    let digits = decimals(estimate);
    format!("{estimate:.digits$} [{lo:.digits$}, {hi:.digits$}]")
}

/// The IQM of one task's runs with its 95% CI, as the tables give it (the run itself for one run).
pub fn interval(runs: &[f64]) -> (f64, f64, f64) {
    let centre = iqm(runs);
    if runs.len() < 2 {
        return (centre, centre, centre);
    }
    let (lo, hi) = bootstrap_ci(&[runs.to_vec()], iqm, RESAMPLES, SEED, LEVEL);
    (centre, lo, hi)
}

/// Four significant digits or so, whatever the metric's scale (returns in the hundreds, coverage in units,
/// rates below one).
pub fn number(x: f64) -> String {
    format!("{x:.0$}", decimals(x))
}

/// The decimals [`number`] gives `x`; a confidence interval takes its estimate's, so the three read alike.
fn decimals(x: f64) -> usize {
    match x.abs() {
        a if a >= 100.0 => 1,
        a if a >= 1.0 => 2,
        _ => 3,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cells_show_iqm_and_mean_with_their_intervals_and_the_runs() {
        // Three runs: a resample's mean is the lowest (1.0) or highest (4.0) run's with probability 1/27
        // each, above 2.5%, so the interval is [1, 4]; below 4 runs the IQM cuts nothing and is the mean.
        let c = Cell {
            values: vec![1.0, 2.0, 4.0],
        };
        assert_eq!(
            cell_text(&c),
            "IQM 2.33 [1.00, 4.00], mean 2.33 [1.00, 4.00], n=3"
        );
        assert_eq!(
            cell_text(&Cell {
                values: vec![-150.26]
            }),
            "IQM -150.3, mean -150.3, n=1"
        );
        assert_eq!(cell_text(&Cell::default()), "–");
        assert_eq!(number(0.12345), "0.123");

        // Eight runs, one an outlier: the IQM (the middle 4) ignores it, the mean does not, and the
        // intervals are the bootstrap's at the report's resamples and seed.
        let runs = vec![10.0, 11.0, 12.0, 12.0, 13.0, 14.0, 15.0, 91.0];
        let one_task = [runs.clone()];
        let text = cell_text(&Cell { values: runs });
        let (iqm_lo, iqm_hi) = bootstrap_ci(&one_task, iqm, RESAMPLES, SEED, LEVEL);
        let (mean_lo, mean_hi) = bootstrap_ci(&one_task, mean, RESAMPLES, SEED, LEVEL);
        assert_eq!(
            text,
            format!("IQM 12.75 [{iqm_lo:.2}, {iqm_hi:.2}], mean 22.25 [{mean_lo:.2}, {mean_hi:.2}], n=8")
        );
        assert!(iqm_lo < 12.75 && 12.75 < iqm_hi && iqm_hi < mean_hi, "{text}");
        assert!(mean_lo < 22.25 && 22.25 < mean_hi, "{text}");
    }

    /// The interval of P(3, 4, 5 > 1, 2, 4), the pair both probability-of-improvement tests compare.
    fn high_over_low_ci() -> (f64, f64) {
        probability_of_improvement_ci(
            &[vec![3.0, 4.0, 5.0]],
            &[vec![1.0, 2.0, 4.0]],
            RESAMPLES,
            SEED,
            LEVEL,
        )
    }

    fn row(label: &str, cells: &[&[f64]]) -> super::super::table::Row {
        super::super::table::Row {
            label: label.into(),
            cells: cells.iter().map(|v| Cell { values: v.to_vec() }).collect(),
        }
    }

    #[test]
    fn rows_after_the_first_get_their_probability_of_improvement_over_it() {
        let t = Table {
            experiment: "e".into(),
            row_title: "method".into(),
            x_axis: "density".into(),
            columns: vec!["0.1".into(), "0.02".into()],
            rows: vec![
                row("dense", &[&[1.0, 2.0, 4.0], &[1.0]]),
                row("rigl", &[&[3.0, 4.0, 5.0], &[]]),
            ],
        };
        let mut md = String::new();
        improvement_table(&mut md, &t);
        // rigl over dense at 0.1: 3 beats 1 and 2, 4 beats 1 and 2 and ties 4, 5 beats all three: 7.5 / 9.
        let (lo, hi) = high_over_low_ci();
        let line = format!("| rigl | 0.833 [{lo:.3}, {hi:.3}] | – |");
        assert!(md.contains(&line), "{md}");
        assert!(md.contains("P(row > dense)") && lo < 0.833 && 0.833 <= hi, "{md}");
        // Optimality gap to 4.5 at 0.1: dense falls short by 3.5, 2.5, 0.5 (mean 6.5 / 3); rigl by 1.5,
        // 0.5, and its 5.0 counts as 4.5 (mean 2 / 3). No run at 0.02 for rigl.
        let mut gaps = String::new();
        gap_table(&mut gaps, &t, 4.5);
        assert!(gaps.contains("to the best score 4.50"), "{gaps}");
        let dense = gap_text(&[1.0, 2.0, 4.0], 4.5);
        assert!(dense.starts_with("2.167 ["), "{dense}");
        assert!(
            gaps.contains(&format!("| dense | {dense} | 3.500 [3.500, 3.500] |")),
            "{gaps}"
        );
        assert!(
            gaps.contains("| rigl | 0.667 [") && gaps.contains("] | – |"),
            "{gaps}"
        );
        // One cell: nothing to compare.
        let mut alone = String::new();
        improvement_table(
            &mut alone,
            &Table {
                columns: vec!["0.1".into()],
                rows: vec![row("dense", &[&[1.0, 2.0, 4.0]])],
                ..t.clone()
            },
        );
        assert!(alone.is_empty());
    }

    /// A table of one row whose columns are the compared variants: each later column against the first.
    #[test]
    fn one_row_compares_its_columns_with_the_first() {
        let t = Table {
            experiment: "e".into(),
            row_title: String::new(),
            x_axis: "variant".into(),
            columns: vec!["dense".into(), "sparse".into(), "mast".into()],
            rows: vec![row("", &[&[1.0, 2.0, 4.0], &[3.0, 4.0, 5.0], &[0.0]])],
        };
        let mut md = String::new();
        improvement_table(&mut md, &t);
        // sparse over dense: 7.5 / 9 as above; mast's one run 0 is below all three of dense's.
        let (lo, hi) = high_over_low_ci();
        assert!(md.contains("P(variant > dense)"), "{md}");
        assert!(md.contains("|  | sparse | mast |"), "{md}");
        let line = format!("|  | 0.833 [{lo:.3}, {hi:.3}] | 0.000 [0.000, 0.000] |");
        assert!(md.contains(&line), "{md}");
    }

    /// By hand, over the range [0, 4] (thresholds 0, 1, 2, 3, 4 among the 41): dense's four runs 1, 2, 4
    /// (x = 0.1) and 1 (x = 0.02) are above 0 all four, above 1 two (2 and 4), above 2 and 3 one, above 4
    /// none.
    #[test]
    fn the_profile_table_counts_each_rows_runs_above_five_thresholds() {
        let t = Table {
            experiment: "e".into(),
            row_title: "method".into(),
            x_axis: "density".into(),
            columns: vec!["0.1".into(), "0.02".into()],
            rows: vec![
                row("dense", &[&[1.0, 2.0, 4.0], &[1.0]]),
                row("rigl", &[&[], &[]]),
            ],
        };
        let profiles = profiles_of(&t, Some((0.0, 4.0)));
        let mut md = String::new();
        profile_table(&mut md, &t, &profiles);
        assert!(
            md.contains("| method | τ = 0.000 | τ = 1.00 | τ = 2.00 | τ = 3.00 | τ = 4.00 |"),
            "{md}"
        );
        assert!(md.contains("| dense | 1.00 [1.00, 1.00] | 0.500 ["), "{md}");
        assert!(
            md.contains("| 0.250 [") && md.contains("| 0.000 [0.000, 0.000] |\n"),
            "{md}"
        );
        assert!(md.contains("| rigl | – | – | – | – | – |"), "{md}");
        assert!(md.contains("(e_profile.png)"), "{md}");
    }
}
