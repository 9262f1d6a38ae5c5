//! `manifest.json`: the state of every run of a study. It is rebuilt from the run directories on every
//! start (a run is done exactly when its `summary.json` reads and holds the metric), so a study killed at
//! any point, or run elsewhere and copied back, resumes from what is on disk; the file itself is what
//! scripts and people read.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};

use super::grid::{run_dir, PlannedRun};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Pending,
    Running,
    Done,
    Failed,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunRecord {
    pub name: String,
    pub experiment: String,
    /// Axis name → label.
    pub axes: BTreeMap<String, String>,
    pub seed: u64,
    pub overrides: Vec<String>,
    pub status: Status,
    /// The study's metric read from the run's `summary.json`.
    pub metric: Option<f64>,
    /// Why a failed run failed: the end of its stderr.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    pub study: String,
    pub metric: String,
    pub runs: Vec<RunRecord>,
}

impl Manifest {
    /// The state of the planned runs as found under `runs_dir`: done (with the metric) where
    /// `summary.json` reads, failed where it lacks the metric, pending otherwise.
    pub fn scan(study: &str, metric: &str, planned: &[PlannedRun], runs_dir: &Path) -> Self {
        let runs = planned
            .iter()
            .map(|p| {
                let summary = run_dir(runs_dir, p).join("summary.json");
                let (status, metric, error) = if summary.is_file() {
                    match read_metric(&summary, metric) {
                        Ok(v) => (Status::Done, Some(v), None),
                        Err(e) => (Status::Failed, None, Some(format!("{e:#}"))),
                    }
                } else {
                    (Status::Pending, None, None)
                };
                RunRecord {
                    name: p.name.clone(),
                    experiment: p.experiment.clone(),
                    axes: p.labels.iter().cloned().collect(),
                    seed: p.seed,
                    overrides: p.overrides.clone(),
                    status,
                    metric,
                    error,
                }
            })
            .collect();
        Manifest {
            study: study.to_string(),
            metric: metric.to_string(),
            runs,
        }
    }

    pub fn load(path: &Path) -> Result<Self> {
        let text =
            std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
        serde_json::from_str(&text).with_context(|| format!("{} is not a study manifest", path.display()))
    }

    /// Writes through a temporary file and a rename, so a killed study never leaves half a manifest.
    pub fn save(&self, path: &Path) -> Result<()> {
        let tmp = path.with_extension("json.tmp");
        std::fs::write(&tmp, serde_json::to_string_pretty(self)?)
            .with_context(|| format!("cannot write {}", tmp.display()))?;
        std::fs::rename(&tmp, path).with_context(|| format!("cannot write {}", path.display()))
    }

    /// Refuses to mix results: a finished run of an earlier manifest with the same name but other
    /// overrides (say, another `--set run.total_steps`) would otherwise be taken as this study's result.
    pub fn check_same_runs(&self, earlier: &Manifest) -> Result<()> {
        for old in earlier.runs.iter().filter(|r| r.status == Status::Done) {
            if let Some(new) = self.runs.iter().find(|r| r.name == old.name) {
                if new.overrides != old.overrides {
                    bail!(
                        "run {} was made with other overrides ({}) than now ({}): use another --out",
                        old.name,
                        old.overrides.join(" "),
                        new.overrides.join(" ")
                    );
                }
            }
        }
        Ok(())
    }

    pub fn count(&self, status: Status) -> usize {
        self.runs.iter().filter(|r| r.status == status).count()
    }
}

/// The number at a dotted path (`eval.return_mean`) of a `summary.json`.
pub fn read_metric(summary: &Path, metric: &str) -> Result<f64> {
    let text =
        std::fs::read_to_string(summary).with_context(|| format!("cannot read {}", summary.display()))?;
    let json: serde_json::Value =
        serde_json::from_str(&text).with_context(|| format!("{} is not JSON", summary.display()))?;
    let value = metric.split('.').try_fold(&json, |v, key| v.get(key));
    value
        .and_then(serde_json::Value::as_f64)
        .with_context(|| format!("{} has no number at {metric}", summary.display()))
}
