//! Run configuration: TOML files deserialised with serde, `deny_unknown_fields` everywhere, `--set a.b=c`
//! overrides applied to the TOML tree before deserialisation, and validation before anything is written.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::{anyhow, bail, Context, Result};
use serde::{Deserialize, Serialize};
use sparse_rl_dst::execution::Execution;
use sparse_rl_dst::policy::{PolicyKind, SparsityPolicy};

use crate::algorithms::{self, Algorithm};

/// The whole config of one run, as written back to `config.toml` of the run directory: `[run]`, the
/// algorithm's own table (`[dqn]`, `[sac]`, `[qmix]`, `[gan]`: read by its entry in
/// [`crate::algorithms`]) and `[sparsity.<module>]`.
#[derive(Debug, Clone)]
pub struct Config {
    pub run: RunConfig,
    /// The table named by `run.algo` (empty when absent; every default filled in once resolved).
    pub algorithm: toml::Table,
    /// One sparsity policy per module (`encoder`, `critic`, `actor`; QMIX: `agent`, `mixer`; GAN:
    /// `generator`, `discriminator`); a missing module is dense.
    pub sparsity: BTreeMap<String, SparsityPolicy>,
}

/// A config file's top level: `[run]`, `[sparsity]`, and the other tables, of which only the
/// algorithm's may be there.
#[derive(Deserialize)]
struct TopLevel {
    run: RunConfig,
    #[serde(default)]
    sparsity: BTreeMap<String, SparsityPolicy>,
    #[serde(flatten)]
    tables: BTreeMap<String, toml::Value>,
}

/// `config.toml` as written: `[run]` first, then the algorithm's table, then the sparsity tables.
#[derive(Serialize)]
struct Written<'a> {
    run: &'a RunConfig,
    #[serde(flatten)]
    algorithm: BTreeMap<&'a str, &'a toml::Table>,
    sparsity: &'a BTreeMap<String, SparsityPolicy>,
}

/// What to run and how to log it: the keys of the `[run]` table.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RunConfig {
    /// The algorithm (`dqn`, `sac`, `qmix`, `gan`: [`crate::algorithms::ALGORITHMS`]).
    pub algo: String,
    /// A registered env id (`sparse-rl envs` lists them); QMIX needs a multi-agent one; for `gan`, the
    /// dataset (`gaussians-8`, `gaussians-25`).
    pub env: String,
    pub total_steps: usize,
    #[serde(default = "default_seed")]
    pub seed: u64,
    /// CPU backend: `flex` (the faster one here) or `ndarray`; `cuda` needs the `cuda` cargo feature.
    #[serde(default)]
    pub backend: BackendName,
    /// Greedy evaluation every this many env steps (0: only at the end).
    #[serde(default = "default_eval_interval")]
    pub eval_interval: usize,
    #[serde(default = "default_eval_episodes")]
    pub eval_episodes: usize,
    /// A checkpoint at the first episode end after every this many env steps (0: only at a pause and at
    /// the end).
    #[serde(default = "default_checkpoint_interval")]
    pub checkpoint_interval: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BackendName {
    #[default]
    Flex,
    Ndarray,
    Cuda,
}

fn default_seed() -> u64 {
    1
}
fn default_eval_interval() -> usize {
    10_000
}
fn default_eval_episodes() -> usize {
    10
}
fn default_checkpoint_interval() -> usize {
    10_000
}

impl Config {
    /// Reads `path`, applies `overrides` (`a.b=c`, the value parsed as TOML, else taken as a string),
    /// deserialises and validates.
    pub fn load(path: &Path, overrides: &[String]) -> Result<Self> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read config {}", path.display()))?;
        Self::parse(&text, overrides).with_context(|| format!("config {}", path.display()))
    }

    /// Parses TOML text with overrides; see [`Config::load`].
    pub fn parse(text: &str, overrides: &[String]) -> Result<Self> {
        let mut tree: toml::Table = toml::from_str(text).map_err(|e| anyhow!("{}", one_line(&e)))?;
        for o in overrides {
            apply_override(&mut tree, o)?;
        }
        let top: TopLevel = toml::Value::Table(tree)
            .try_into()
            .map_err(|e: toml::de::Error| anyhow!("{}", one_line(&e)))?;
        let algorithm = algorithms::by_name(&top.run.algo)?;
        let mut tables = top.tables;
        let table = match tables.remove(algorithm.name()) {
            None => toml::Table::new(),
            Some(toml::Value::Table(t)) => t,
            Some(other) => bail!("{}: expected a table, got {other}", algorithm.name()),
        };
        if let Some(key) = tables.keys().next() {
            if algorithms::by_name(key).is_ok() {
                bail!("[{key}] table given for run.algo = {:?}", top.run.algo);
            }
            bail!(
                "unknown key `{key}` at the top level; expected run, {}, sparsity",
                algorithm.name()
            );
        }
        let config = Config {
            run: top.run,
            algorithm: table,
            sparsity: top.sparsity,
        };
        config.validate()?;
        Ok(config)
    }

    /// The algorithm `run.algo` names (checked when the config was parsed).
    pub fn algorithm(&self) -> &'static dyn Algorithm {
        algorithms::by_name(&self.run.algo).expect("run.algo is checked when the config is parsed")
    }

    /// Checks every value that serde cannot: env id, algorithm table, module names, policies.
    pub fn validate(&self) -> Result<()> {
        let run = &self.run;
        if run.backend == BackendName::Cuda && !cfg!(feature = "cuda") {
            bail!("run.backend = \"cuda\": this binary was built without the `cuda` cargo feature");
        }
        if run.total_steps == 0 {
            bail!("run.total_steps must be positive, got 0");
        }
        if run.eval_episodes == 0 {
            bail!("run.eval_episodes must be positive, got 0");
        }
        let algorithm = self.algorithm();
        let modules = algorithm.modules();
        for (name, policy) in &self.sparsity {
            if !modules.contains(&name.as_str()) {
                bail!(
                    "sparsity.{name}: unknown module for {:?}; modules are {}",
                    run.algo,
                    modules.join(", ")
                );
            }
            policy.validate().map_err(|e| anyhow!("sparsity.{name}: {e}"))?;
        }
        algorithm.check_env(self)?;
        algorithm.resolve(self).map(drop)
    }

    /// Fills the defaults in, so that `config.toml` of a run states every value used.
    pub fn resolved(mut self) -> Result<Self> {
        let algorithm = self.algorithm();
        self.algorithm = algorithm.resolve(&self)?;
        for module in algorithm.modules() {
            self.sparsity
                .entry(module.to_string())
                .or_insert_with(SparsityPolicy::dense);
        }
        Ok(self)
    }

    /// The line that tells the user that modules asking for the sparse kernels (`execution = "sparse"` or
    /// `"auto"`, the default) run masked-dense because `run.backend` has no sparse kernels; `None` on flex
    /// or when every module is dense or masked-dense.
    pub fn sparse_kernel_notice(&self) -> Option<String> {
        if self.run.backend == BackendName::Flex {
            return None;
        }
        let asking: Vec<&str> = self
            .sparsity
            .iter()
            .filter(|(_, p)| p.kind != PolicyKind::Dense && p.execution != Execution::MaskedDense)
            .map(|(name, _)| name.as_str())
            .collect();
        (!asking.is_empty()).then(|| {
            format!(
                "note: run.backend = \"{}\" has no sparse kernels; sparse modules {} run masked-dense \
                 (the flex backend runs them sparse)",
                format!("{:?}", self.run.backend).to_lowercase(),
                asking.join(", ")
            )
        })
    }

    /// The policy of a module (dense when the config has none).
    pub fn policy(&self, module: &str) -> SparsityPolicy {
        self.sparsity
            .get(module)
            .cloned()
            .unwrap_or_else(SparsityPolicy::dense)
    }

    pub fn to_toml(&self) -> Result<String> {
        let written = Written {
            run: &self.run,
            algorithm: BTreeMap::from([(self.run.algo.as_str(), &self.algorithm)]),
            sparsity: &self.sparsity,
        };
        Ok(toml::to_string_pretty(&written)?)
    }
}

/// `a.b.c=value`: sets a nested key, creating tables on the way. The value is parsed as a TOML value
/// (`0.1`, `true`, `"x"`, `[1, 2]`), and taken as a plain string when it does not parse.
fn apply_override(tree: &mut toml::Table, spec: &str) -> Result<()> {
    let (path, raw) = spec
        .split_once('=')
        .with_context(|| format!("--set {spec}: expected key.path=value"))?;
    let keys: Vec<&str> = path.trim().split('.').collect();
    if keys.iter().any(|k| k.is_empty()) {
        bail!("--set {spec}: empty key in {path:?}");
    }
    let value = parse_value(raw.trim());
    let mut table = tree;
    for key in &keys[..keys.len() - 1] {
        let entry = table
            .entry(key.to_string())
            .or_insert_with(|| toml::Value::Table(toml::Table::new()));
        table = entry
            .as_table_mut()
            .with_context(|| format!("--set {spec}: {key} is not a table"))?;
    }
    table.insert(keys[keys.len() - 1].to_string(), value);
    Ok(())
}

fn parse_value(raw: &str) -> toml::Value {
    let doc = format!("v = {raw}");
    match toml::from_str::<toml::Table>(&doc) {
        Ok(mut t) => t.remove("v").expect("parsed key"),
        Err(_) => toml::Value::String(raw.to_string()),
    }
}

/// The dotted keys whose values differ between two TOML documents (present in one only included), sorted.
pub fn differing_keys(a: &str, b: &str) -> Result<Vec<String>> {
    fn flatten(prefix: &str, table: &toml::Table, out: &mut BTreeMap<String, toml::Value>) {
        for (k, v) in table {
            let key = if prefix.is_empty() {
                k.clone()
            } else {
                format!("{prefix}.{k}")
            };
            match v {
                toml::Value::Table(t) => flatten(&key, t, out),
                _ => {
                    out.insert(key, v.clone());
                }
            }
        }
    }
    let mut maps = [BTreeMap::new(), BTreeMap::new()];
    for (text, map) in [a, b].into_iter().zip(maps.iter_mut()) {
        let table: toml::Table = toml::from_str(text).map_err(|e| anyhow::anyhow!("{}", one_line(&e)))?;
        flatten("", &table, map);
    }
    let [a, b] = maps;
    let mut keys: Vec<String> = a
        .keys()
        .chain(b.keys())
        .filter(|k| a.get(*k) != b.get(*k))
        .cloned()
        .collect();
    keys.sort();
    keys.dedup();
    Ok(keys)
}

/// toml's errors span several lines with a source excerpt; the CLI promises one line.
pub(crate) fn one_line(e: &dyn std::fmt::Display) -> String {
    let text = e.to_string();
    let lines: Vec<&str> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('|'))
        .collect();
    lines.join(" ").replace("  ", " ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sparse_modules_off_flex_are_told_they_run_masked_dense() {
        let text = |backend: &str, execution: &str| {
            format!(
                "[run]\nalgo = \"sac\"\nenv = \"Pendulum-v1\"\ntotal_steps = 100\nbackend = \"{backend}\"\n\
                 [sparsity.critic]\nkind = \"static\"\ndensity = 0.1\n{execution}\
                 [sparsity.actor]\nkind = \"dense\"\n"
            )
        };
        let notice = |backend, execution| {
            Config::parse(&text(backend, execution), &[])
                .unwrap()
                .resolved()
                .unwrap()
                .sparse_kernel_notice()
        };
        let told = notice("ndarray", "").expect("the default execution asks for the sparse kernels");
        assert!(
            told.contains("\"ndarray\"") && told.contains("critic") && !told.contains("actor"),
            "{told}"
        );
        assert!(notice("ndarray", "execution = \"sparse\"\n").is_some());
        assert_eq!(notice("ndarray", "execution = \"masked-dense\"\n"), None);
        assert_eq!(notice("flex", ""), None);
    }

    #[test]
    fn override_sets_nested_keys_with_typed_values() {
        let mut t: toml::Table = toml::from_str("[run]\nseed = 1").unwrap();
        apply_override(&mut t, "run.seed=7").unwrap();
        apply_override(&mut t, "dqn.gamma=0.9").unwrap();
        apply_override(&mut t, "run.env=Pendulum-v1").unwrap();
        assert_eq!(t["run"]["seed"].as_integer(), Some(7));
        assert_eq!(t["dqn"]["gamma"].as_float(), Some(0.9));
        assert_eq!(t["run"]["env"].as_str(), Some("Pendulum-v1"));
        assert!(apply_override(&mut t, "noequals").is_err());
        assert!(apply_override(&mut t, "run.seed.x=1").is_err());
    }

    #[test]
    fn differing_keys_names_changed_added_and_removed_keys() {
        let a = "[run]\nseed = 1\nenv = \"x\"\n[dqn]\nhead_hidden = [84]\n";
        let b = "[run]\nseed = 1\nenv = \"y\"\n[dqn]\nhead_hidden = [84]\ngamma = 0.9\n";
        assert_eq!(differing_keys(a, b).unwrap(), ["dqn.gamma", "run.env"]);
        assert!(differing_keys(a, a).unwrap().is_empty());
    }
}
