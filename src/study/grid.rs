//! The cartesian expansion of a study: experiments × axis values × seeds, each point a named run with its
//! exact `sparse-rl train` command line. The one place that turns a study into commands, so that local
//! execution and the Slurm script cannot disagree.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};

use super::spec::{label_of, placeholders, Study, RESERVED_AXES};

/// The command-line narrowing of a study: the reduced grids of a laptop or a quick check.
#[derive(Debug, Clone, Default)]
pub struct Selection {
    /// Replaces the study's seeds.
    pub seeds: Option<Vec<u64>>,
    /// `AXIS=V1,V2`: only these labels of an axis (or of `experiment`, or `seed`).
    pub only: Vec<String>,
    /// Overrides of every run, applied last.
    pub set: Vec<String>,
}

/// One run of the grid.
#[derive(Debug, Clone, PartialEq)]
pub struct PlannedRun {
    /// Unique in the study; the name of its run directory.
    pub name: String,
    pub experiment: String,
    pub config: PathBuf,
    /// (axis, label) in the study's axis order.
    pub labels: Vec<(String, String)>,
    pub seed: u64,
    /// Every `--set` of the run, in the order applied.
    pub overrides: Vec<String>,
}

impl PlannedRun {
    /// The run's config as `sparse-rl train` loads it from [`Self::train_args`].
    pub fn load_config(&self) -> Result<crate::config::Config> {
        let mut overrides = self.overrides.clone();
        overrides.push(format!("run.seed={}", self.seed));
        crate::config::Config::load(&self.config, &overrides)
    }

    /// The arguments of `sparse-rl` that train this run, without `--out`.
    pub fn train_args(&self) -> Vec<String> {
        let mut args = vec![
            "train".into(),
            "--config".into(),
            self.config.display().to_string(),
        ];
        for o in &self.overrides {
            args.push("--set".into());
            args.push(o.clone());
        }
        args.extend(["--seed".into(), self.seed.to_string()]);
        args
    }

    /// The label of an axis in this run.
    pub fn label(&self, axis: &str) -> Option<&str> {
        self.labels
            .iter()
            .find(|(a, _)| a == axis)
            .map(|(_, l)| l.as_str())
    }
}

/// Expands the study under a selection, in a stable order: experiment, then axes as declared (the first
/// outermost), then seed.
pub fn expand(study: &Study, selection: &Selection) -> Result<Vec<PlannedRun>> {
    let filters = parse_only(study, &selection.only)?;
    let keep = |axis: &str, label: &str| {
        filters
            .iter()
            .filter(|(a, _)| a == axis)
            .all(|(_, labels)| labels.contains(label))
    };
    let seeds = selection.seeds.as_ref().unwrap_or(&study.seeds);
    if seeds.is_empty() {
        bail!("--seeds: give at least one seed");
    }
    let mut runs = Vec::new();
    for e in study.experiments.iter().filter(|e| keep("experiment", &e.name)) {
        // Each experiment's own `only` narrows the axes further.
        let axis_values: Vec<Vec<_>> = study
            .axes
            .iter()
            .map(|axis| {
                let allowed = e
                    .only
                    .get(&axis.name)
                    .map(|ls| ls.iter().map(label_of).collect::<Vec<_>>());
                axis.values
                    .iter()
                    .filter(|v| keep(&axis.name, &v.label))
                    .filter(|v| allowed.as_ref().is_none_or(|ls| ls.contains(&v.label)))
                    .collect()
            })
            .collect();
        for combo in cartesian(&axis_values) {
            let labels: Vec<(String, String)> = study
                .axes
                .iter()
                .zip(&combo)
                .map(|(axis, v)| (axis.name.clone(), v.label.clone()))
                .collect();
            let kept = |list: Vec<&String>| -> Vec<String> {
                list.into_iter()
                    .map(|o| substitute(o, &labels))
                    .filter(|o| !omitted(o, &e.omit))
                    .collect()
            };
            let mut overrides = kept(study.set.iter().collect());
            overrides.extend(e.set.iter().cloned());
            overrides.extend(kept(combo.iter().flat_map(|v| &v.set).collect()));
            overrides.extend(selection.set.iter().cloned());
            for &seed in seeds.iter().filter(|s| keep("seed", &s.to_string())) {
                runs.push(PlannedRun {
                    name: run_name(&e.name, &labels, seed),
                    experiment: e.name.clone(),
                    config: study.config_path(e),
                    labels: labels.clone(),
                    seed,
                    overrides: overrides.clone(),
                });
            }
        }
    }
    if runs.is_empty() {
        bail!("the selection leaves no run: check --only and --seeds");
    }
    let mut names = BTreeSet::new();
    for r in &runs {
        if !names.insert(&r.name) {
            bail!(
                "two runs would both be named {:?}: make the axis labels differ",
                r.name
            );
        }
    }
    Ok(runs)
}

/// `--only AXIS=V1,V2` filters, checked against the study so that a typo is an error, not an empty grid.
fn parse_only(study: &Study, only: &[String]) -> Result<Vec<(String, BTreeSet<String>)>> {
    only.iter()
        .map(|spec| {
            let (axis, labels) = spec
                .split_once('=')
                .with_context(|| format!("--only {spec}: expected AXIS=VALUE[,VALUE...]"))?;
            let labels: BTreeSet<String> = labels.split(',').map(|l| l.trim().to_string()).collect();
            let known: Vec<String> = match axis {
                "experiment" => study.experiments.iter().map(|e| e.name.clone()).collect(),
                "seed" => labels.iter().cloned().collect(),
                _ => study
                    .axis(axis)
                    .with_context(|| {
                        let mut names: Vec<&str> = study.axes.iter().map(|a| a.name.as_str()).collect();
                        names.extend(RESERVED_AXES);
                        format!("--only {spec}: no axis `{axis}`; axes are {}", names.join(", "))
                    })?
                    .values
                    .iter()
                    .map(|v| v.label.clone())
                    .collect(),
            };
            if let Some(bad) = labels.iter().find(|l| !known.contains(*l)) {
                bail!(
                    "--only {spec}: {bad:?} is not a value of `{axis}`; values are {}",
                    known.join(", ")
                );
            }
            Ok((axis.to_string(), labels))
        })
        .collect()
}

fn cartesian<'a, T>(lists: &[Vec<&'a T>]) -> Vec<Vec<&'a T>> {
    lists.iter().fold(vec![Vec::new()], |acc, list| {
        acc.iter()
            .flat_map(|prefix| {
                list.iter().map(move |item| {
                    let mut next = prefix.clone();
                    next.push(*item);
                    next
                })
            })
            .collect()
    })
}

/// Replaces `{axis}` with the run's label of that axis.
fn substitute(text: &str, labels: &[(String, String)]) -> String {
    let names: BTreeSet<String> = placeholders(&[text.to_string()]);
    labels
        .iter()
        .filter(|(axis, _)| names.contains(axis))
        .fold(text.to_string(), |t, (axis, label)| {
            t.replace(&format!("{{{axis}}}"), label)
        })
}

/// Whether an override's key is `prefix` or lies under it (whole dotted components).
fn omitted(override_: &str, omit: &[String]) -> bool {
    let key = override_.split_once('=').map_or(override_, |(k, _)| k).trim();
    omit.iter().any(|p| {
        key == p
            || key
                .strip_prefix(p.as_str())
                .is_some_and(|rest| rest.starts_with('.'))
    })
}

/// `<experiment>__<axis>=<label>__...__seed=<seed>`, with characters outside a portable set replaced.
fn run_name(experiment: &str, labels: &[(String, String)], seed: u64) -> String {
    let mut parts = vec![experiment.to_string()];
    parts.extend(labels.iter().map(|(a, l)| format!("{a}={}", portable(l))));
    parts.push(format!("seed={seed}"));
    parts.join("__")
}

fn portable(label: &str) -> String {
    label
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "._+-".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// The folder of a run inside the study's `runs/`.
pub fn run_dir(runs: &Path, run: &PlannedRun) -> PathBuf {
    runs.join(&run.name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn omit_matches_whole_components_only() {
        let omit = vec!["sparsity.actor".to_string()];
        assert!(omitted("sparsity.actor.density=0.1", &omit));
        assert!(omitted("sparsity.actor=x", &omit));
        assert!(!omitted("sparsity.actors.density=0.1", &omit));
        assert!(!omitted("sparsity.critic.density=0.1", &omit));
    }

    #[test]
    fn substitution_uses_the_runs_labels() {
        let labels = vec![("module".to_string(), "critic".to_string())];
        assert_eq!(
            substitute("sparsity.{module}.kind=\"static\"", &labels),
            "sparsity.critic.kind=\"static\""
        );
    }

    #[test]
    fn labels_become_portable_names() {
        assert_eq!(portable("a b/c"), "a_b_c");
        assert_eq!(portable("0.05"), "0.05");
    }
}
