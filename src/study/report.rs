//! `study.md`: per experiment, a mean ± std table of the metric (rows: the lines of the plot, columns: the
//! x values) under its plot, then the runs that failed and why.

use std::fmt::Write;

use super::manifest::{Manifest, Status};
use super::table::{Cell, Table};

/// The Markdown report of a study. `source` is the study file as given on the command line.
pub fn markdown(manifest: &Manifest, tables: &[Table], source: &str) -> String {
    let mut md = format!("# Study `{}`\n\n", manifest.study);
    let _ = writeln!(
        md,
        "Study file `{source}`. Each cell: the mean ± sample standard deviation over seeds of `{}` in \
         the runs' `summary.json`; `(n=k)`: the number of finished seeds, shown when it is 1 or below the \
         fullest cell's.\n",
        manifest.metric
    );
    let _ = writeln!(
        md,
        "Runs: {} done, {} failed, {} not run.\n",
        manifest.count(Status::Done),
        manifest.count(Status::Failed),
        manifest.count(Status::Pending) + manifest.count(Status::Running)
    );
    for t in tables {
        let _ = writeln!(md, "## {}\n", t.experiment);
        let _ = writeln!(md, "![{0}]({0}.png)\n", t.experiment);
        let full = t
            .rows
            .iter()
            .flat_map(|r| &r.cells)
            .map(|c| c.values.len())
            .max()
            .unwrap_or(0);
        let _ = writeln!(
            md,
            "| {} \\ {} | {} |",
            t.row_title,
            t.x_axis,
            t.columns.join(" | ")
        );
        let _ = writeln!(md, "|---|{}", "---:|".repeat(t.columns.len()));
        for row in &t.rows {
            let cells: Vec<String> = row.cells.iter().map(|c| cell_text(c, full)).collect();
            let _ = writeln!(md, "| {} | {} |", row.label, cells.join(" | "));
        }
        md.push('\n');
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

/// `mean ± std`, `mean (n=1)` or `–` for no finished run; `(n=k)` when seeds are missing.
fn cell_text(cell: &Cell, full: usize) -> String {
    let Some(mean) = cell.mean() else {
        return "–".into();
    };
    let n = cell.values.len();
    let digits = decimals(mean);
    let mut text = match cell.std() {
        Some(std) => format!("{mean:.digits$} ± {std:.digits$}"),
        None => format!("{mean:.digits$}"),
    };
    if n < full || n == 1 {
        let _ = write!(text, " (n={n})");
    }
    text
}

/// Four significant digits or so, whatever the metric's scale (returns in the hundreds, coverage in units,
/// rates below one).
pub fn number(x: f64) -> String {
    format!("{x:.0$}", decimals(x))
}

/// The decimals [`number`] gives `x`; a cell's std takes its mean's, so the two read alike.
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
    fn cells_show_mean_std_and_missing_seeds() {
        let c = Cell {
            values: vec![1.0, 2.0, 4.0],
        };
        assert_eq!(cell_text(&c, 3), "2.33 ± 1.53");
        assert_eq!(cell_text(&c, 4), "2.33 ± 1.53 (n=3)");
        assert_eq!(
            cell_text(
                &Cell {
                    values: vec![-150.26]
                },
                1
            ),
            "-150.3 (n=1)"
        );
        assert_eq!(cell_text(&Cell::default(), 3), "–");
        assert_eq!(number(0.12345), "0.123");
        assert_eq!(
            cell_text(
                &Cell {
                    values: vec![420.0, 430.0]
                },
                2
            ),
            "425.0 ± 7.1"
        );
    }
}
