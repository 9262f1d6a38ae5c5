//! The study file: what to vary, over which base configs and seeds, and what to measure. Parsed with
//! unknown keys rejected and checked whole before any run starts, so a typo costs one line of error
//! instead of a grid of wasted runs. The format is documented in [`crate::study`].

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use serde::Deserialize;

/// Names reserved for `--only` filters: an axis cannot be called like this.
pub const RESERVED_AXES: [&str; 2] = ["experiment", "seed"];

/// A parsed and validated study file.
#[derive(Debug, Clone)]
pub struct Study {
    pub name: String,
    /// Where the study file is: experiment configs are relative to it.
    pub path: PathBuf,
    pub seeds: Vec<u64>,
    /// Dotted path into each run's `summary.json`.
    pub metric: String,
    /// The values the metric can take (a return in [0, 1], a win rate), if bounded: the figures' y axes
    /// stay inside it.
    pub metric_range: Option<(f64, f64)>,
    /// The axis on the plot's x and the tables' columns; the other axes make the lines and rows.
    pub x: String,
    /// Overrides of every run of every experiment.
    pub set: Vec<String>,
    pub experiments: Vec<Experiment>,
    pub axes: Vec<Axis>,
}

/// One base config with its fixed overrides.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Experiment {
    pub name: String,
    /// The base run config, relative to the study file.
    pub config: PathBuf,
    /// Overrides of this experiment's runs, applied after the study-wide `set`.
    #[serde(default)]
    pub set: Vec<String>,
    /// Key prefixes (whole dotted components, e.g. `sparsity.actor`) dropped from the study-wide `set` and
    /// from the axis overrides: how a DQN experiment shares a density axis that also sets SAC's actor.
    #[serde(default)]
    pub omit: Vec<String>,
    /// Per axis, the labels this experiment runs (default: all of them).
    #[serde(default)]
    pub only: BTreeMap<String, Vec<toml::Value>>,
}

/// A varied setting: each value sets the axis's `keys`, or is a labelled set of overrides.
#[derive(Debug, Clone)]
pub struct Axis {
    pub name: String,
    pub values: Vec<AxisValue>,
}

/// One point of an axis: its label (in run names, tables and plots) and the overrides it applies.
#[derive(Debug, Clone, PartialEq)]
pub struct AxisValue {
    pub label: String,
    /// `key=value` overrides; `{axis}` in them stands for the label of that axis's value in the same run.
    pub set: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct StudyFile {
    name: Option<String>,
    seeds: Vec<u64>,
    #[serde(default = "default_metric")]
    metric: String,
    metric_range: Option<[f64; 2]>,
    x: String,
    #[serde(default)]
    set: Vec<String>,
    experiment: Vec<Experiment>,
    axis: Vec<AxisFile>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AxisFile {
    name: String,
    #[serde(default)]
    keys: Vec<String>,
    values: Vec<toml::Value>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LabelledValue {
    label: String,
    set: Vec<String>,
}

fn default_metric() -> String {
    "eval.return_mean".into()
}

/// The label of a scalar axis value or `only` entry: a string as it is, anything else as TOML writes it.
pub fn label_of(value: &toml::Value) -> String {
    match value {
        toml::Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

impl Study {
    /// Reads and validates a study file; every error is one line naming the file and the key.
    pub fn load(path: &Path) -> Result<Self> {
        let text =
            std::fs::read_to_string(path).with_context(|| format!("cannot read study {}", path.display()))?;
        Self::parse(&text, path).with_context(|| format!("study {}", path.display()))
    }

    /// Parses study text as if read from `path` (which names the study and anchors its config paths).
    pub fn parse(text: &str, path: &Path) -> Result<Self> {
        let file: StudyFile =
            toml::from_str(text).map_err(|e| anyhow::anyhow!("{}", crate::config::one_line(&e)))?;
        let name = match file.name {
            Some(n) => n,
            None => path
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .context("no `name` and no file name to take it from")?,
        };
        let axes = file
            .axis
            .into_iter()
            .map(Axis::from_file)
            .collect::<Result<Vec<_>>>()?;
        let study = Study {
            name,
            path: path.to_path_buf(),
            seeds: file.seeds,
            metric: file.metric,
            metric_range: file.metric_range.map(|[lo, hi]| (lo, hi)),
            x: file.x,
            set: file.set,
            experiments: file.experiment,
            axes,
        };
        study.validate()?;
        Ok(study)
    }

    /// The base config of an experiment, resolved against the study file's folder.
    pub fn config_path(&self, experiment: &Experiment) -> PathBuf {
        match self.path.parent() {
            Some(dir) => dir.join(&experiment.config),
            None => experiment.config.clone(),
        }
    }

    pub fn axis(&self, name: &str) -> Option<&Axis> {
        self.axes.iter().find(|a| a.name == name)
    }

    /// The same study reading `metric` (a dotted path into summary.json) instead of its own.
    pub fn with_metric(mut self, metric: &str) -> Result<Self> {
        self.metric = metric.to_string();
        self.validate()?;
        Ok(self)
    }

    fn validate(&self) -> Result<()> {
        check_name("name", &self.name)?;
        if self.seeds.is_empty() {
            bail!("seeds: give at least one seed");
        }
        if let Some(s) = first_duplicate(self.seeds.iter()) {
            bail!("seeds: seed {s} is listed twice");
        }
        if self.metric.split('.').any(str::is_empty) {
            bail!(
                "metric = {:?}: expected a dotted path such as eval.return_mean",
                self.metric
            );
        }
        if let Some((lo, hi)) = self.metric_range {
            if !(lo.is_finite() && hi.is_finite() && lo < hi) {
                bail!("metric_range = [{lo}, {hi}]: expected two finite numbers, the lower first");
            }
        }
        check_overrides("set", &self.set)?;
        if self.experiments.is_empty() {
            bail!("no [[experiment]]: give at least one");
        }
        if let Some(n) = first_duplicate(self.experiments.iter().map(|e| &e.name)) {
            bail!("experiment `{n}` is defined twice");
        }
        if self.axes.is_empty() {
            bail!("no [[axis]]: give at least one");
        }
        if let Some(n) = first_duplicate(self.axes.iter().map(|a| &a.name)) {
            bail!("axis `{n}` is defined twice");
        }
        if self.axis(&self.x).is_none() {
            bail!(
                "x = {:?} names no axis; axes are {}",
                self.x,
                self.axis_names().join(", ")
            );
        }
        for axis in &self.axes {
            self.check_axis(axis)?;
        }
        for e in &self.experiments {
            self.check_experiment(e)?;
        }
        Ok(())
    }

    fn axis_names(&self) -> Vec<&str> {
        self.axes.iter().map(|a| a.name.as_str()).collect()
    }

    fn check_axis(&self, axis: &Axis) -> Result<()> {
        let what = format!("axis `{}`", axis.name);
        check_name(&what, &axis.name)?;
        if RESERVED_AXES.contains(&axis.name.as_str()) {
            bail!("{what}: the name is reserved for --only filters; choose another");
        }
        if let Some(l) = first_duplicate(axis.values.iter().map(|v| &v.label)) {
            bail!("{what}: value {l:?} is listed twice");
        }
        let referenced = self
            .axes
            .iter()
            .flat_map(|a| a.values.iter().flat_map(|v| &v.set))
            .any(|o| o.contains(&format!("{{{}}}", axis.name)));
        for value in &axis.values {
            if value.set.is_empty() && !referenced {
                bail!(
                    "{what}: value {:?} sets nothing: give the axis `keys`, or use {{{}}} in another axis",
                    value.label,
                    axis.name
                );
            }
            check_overrides(&format!("{what}, value {:?}", value.label), &value.set)?;
            for placeholder in placeholders(&value.set) {
                if placeholder == axis.name || self.axis(&placeholder).is_none() {
                    bail!("{what}: {{{placeholder}}} names no other axis");
                }
            }
        }
        Ok(())
    }

    fn check_experiment(&self, e: &Experiment) -> Result<()> {
        let what = format!("experiment `{}`", e.name);
        check_name(&what, &e.name)?;
        let config = self.config_path(e);
        if !config.is_file() {
            bail!("{what}: config {} is not a file", config.display());
        }
        check_overrides(&format!("{what}: set"), &e.set)?;
        if e.omit.iter().any(|p| p.split('.').any(str::is_empty)) {
            bail!("{what}: omit has an empty key in {:?}", e.omit);
        }
        for (axis_name, labels) in &e.only {
            let axis = self
                .axis(axis_name)
                .with_context(|| format!("{what}: only.{axis_name} names no axis"))?;
            for label in labels.iter().map(label_of) {
                if !axis.values.iter().any(|v| v.label == label) {
                    bail!("{what}: only.{axis_name}: {label:?} is not a value of the axis");
                }
            }
        }
        Ok(())
    }
}

impl Axis {
    fn from_file(file: AxisFile) -> Result<Self> {
        let what = format!("axis `{}`", file.name);
        if file.values.is_empty() {
            bail!("{what}: values is empty");
        }
        let values = file
            .values
            .into_iter()
            .map(|v| match v {
                toml::Value::Table(t) => {
                    let l: LabelledValue =
                        toml::Value::Table(t).try_into().map_err(|e: toml::de::Error| {
                            anyhow::anyhow!("{what}: {}", crate::config::one_line(&e))
                        })?;
                    Ok(AxisValue {
                        label: l.label,
                        set: l.set,
                    })
                }
                scalar => Ok(AxisValue {
                    label: label_of(&scalar),
                    set: file.keys.iter().map(|k| format!("{k}={scalar}")).collect(),
                }),
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Axis {
            name: file.name,
            values,
        })
    }
}

/// The `{axis}` placeholders used in some overrides.
pub fn placeholders(overrides: &[String]) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    for o in overrides {
        let mut rest = o.as_str();
        while let Some(start) = rest.find('{') {
            let Some(len) = rest[start..].find('}') else { break };
            let name = &rest[start + 1..start + len];
            if !name.is_empty()
                && name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
            {
                found.insert(name.to_string());
            }
            rest = &rest[start + len..];
        }
    }
    found
}

/// Names become directory and file names: keep them to a portable set.
fn check_name(what: &str, name: &str) -> Result<()> {
    if name.is_empty()
        || !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_-.".contains(c))
    {
        bail!("{what}: name {name:?} must be non-empty letters, digits, `_`, `-` or `.`");
    }
    Ok(())
}

fn check_overrides(what: &str, overrides: &[String]) -> Result<()> {
    for o in overrides {
        match o.split_once('=') {
            Some((key, _)) if !key.trim().is_empty() && !key.split('.').any(|k| k.trim().is_empty()) => {}
            _ => bail!("{what}: {o:?} is not a key.path=value override"),
        }
    }
    Ok(())
}

fn first_duplicate<T: Ord + std::fmt::Display>(items: impl Iterator<Item = T>) -> Option<T> {
    let mut seen = BTreeSet::new();
    for item in items {
        if seen.contains(&item) {
            return Some(item);
        }
        seen.insert(item);
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_are_found_and_braces_in_values_are_not() {
        let set = vec![
            "sparsity.{module}.kind=\"dense\"".to_string(),
            "a.b={ x = 1 }".to_string(),
        ];
        assert_eq!(placeholders(&set), BTreeSet::from(["module".to_string()]));
    }

    #[test]
    fn another_metric_replaces_the_studys_and_is_checked() {
        let s = study("").unwrap();
        assert_eq!(s.metric, "eval.return_mean");
        let s = s.with_metric("evaluations.max").unwrap();
        assert_eq!(s.metric, "evaluations.max");
        let err = s.with_metric("evaluations.").unwrap_err().to_string();
        assert!(err.contains("metric"), "{err}");
    }

    /// A one-cell study with `extra` among its top-level keys.
    fn study(extra: &str) -> Result<Study> {
        let text = format!(
            "seeds = [1]\nx = \"d\"\n{extra}\n[[experiment]]\nname = \"e\"\nconfig = \"configs/dqn_cartpole.toml\"\n\
             [[axis]]\nname = \"d\"\nkeys = [\"a.b\"]\nvalues = [1]\n"
        );
        Study::parse(&text, &Path::new(env!("CARGO_MANIFEST_DIR")).join("s.toml"))
    }

    #[test]
    fn a_metric_range_must_be_ordered_and_finite() {
        assert_eq!(
            study("metric_range = [0.0, 1.0]").unwrap().metric_range,
            Some((0.0, 1.0))
        );
        assert_eq!(study("").unwrap().metric_range, None);
        let err = study("metric_range = [1.0, 0.0]").unwrap_err().to_string();
        assert!(err.contains("metric_range"), "{err}");
        assert!(study("metric_range = [0.0, inf]").is_err());
    }

    #[test]
    fn scalar_labels_are_toml_text() {
        assert_eq!(label_of(&toml::Value::Float(0.05)), "0.05");
        assert_eq!(label_of(&toml::Value::String("ri".into())), "ri");
        assert_eq!(label_of(&toml::Value::Integer(3)), "3");
    }
}
