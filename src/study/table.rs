//! The results of a study as one table per experiment: rows are the combinations of the non-x axes (the
//! plot's lines), columns the x axis values, each cell the metric of the finished seeds. Shared by the
//! Markdown report and the plots so that both show the same numbers.

use super::manifest::{Manifest, Status};
use super::spec::Study;

/// The metric values of one (row, column) over seeds.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Cell {
    pub values: Vec<f64>,
}

impl Cell {
    pub fn mean(&self) -> Option<f64> {
        (!self.values.is_empty()).then(|| super::stats::mean(&self.values))
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    /// The labels of the non-x axes, joined with ", ".
    pub label: String,
    pub cells: Vec<Cell>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Table {
    pub experiment: String,
    /// The non-x axis names, joined with ", ".
    pub row_title: String,
    pub x_axis: String,
    /// The x labels in the study's order.
    pub columns: Vec<String>,
    pub rows: Vec<Row>,
}

/// One table per experiment that has runs in the manifest, rows and columns in the study's order and only
/// those the manifest has. Only done runs count.
pub fn tables(study: &Study, manifest: &Manifest) -> Vec<Table> {
    let others: Vec<&str> = study
        .axes
        .iter()
        .map(|a| a.name.as_str())
        .filter(|&a| a != study.x)
        .collect();
    let row_label = |axes: &std::collections::BTreeMap<String, String>| {
        let labels: Vec<&str> = others
            .iter()
            .map(|a| axes.get(*a).map_or("", String::as_str))
            .collect();
        labels.join(", ")
    };
    let x_values = study.axis(&study.x).map(|a| &a.values[..]).unwrap_or_default();
    study
        .experiments
        .iter()
        .filter_map(|e| {
            let runs: Vec<_> = manifest.runs.iter().filter(|r| r.experiment == e.name).collect();
            if runs.is_empty() {
                return None;
            }
            let columns: Vec<String> = x_values
                .iter()
                .map(|v| v.label.clone())
                .filter(|l| runs.iter().any(|r| r.axes.get(&study.x) == Some(l)))
                .collect();
            let mut rows: Vec<Row> = Vec::new();
            for r in &runs {
                let label = row_label(&r.axes);
                if !rows.iter().any(|row| row.label == label) {
                    rows.push(Row {
                        label,
                        cells: vec![Cell::default(); columns.len()],
                    });
                }
            }
            for r in runs.iter().filter(|r| r.status == Status::Done) {
                let (Some(v), Some(x)) = (r.metric, r.axes.get(&study.x)) else {
                    continue;
                };
                let col = columns.iter().position(|c| c == x).expect("column of a run");
                let label = row_label(&r.axes);
                let row = rows
                    .iter_mut()
                    .find(|row| row.label == label)
                    .expect("row of a run");
                row.cells[col].values.push(v);
            }
            Some(Table {
                experiment: e.name.clone(),
                row_title: others.join(", "),
                x_axis: study.x.clone(),
                columns,
                rows,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mean_of_the_finished_seeds() {
        let c = Cell {
            values: vec![1.0, 2.0, 4.0],
        };
        assert!((c.mean().unwrap() - 7.0 / 3.0).abs() < 1e-12);
        assert_eq!(Cell::default().mean(), None);
    }
}
