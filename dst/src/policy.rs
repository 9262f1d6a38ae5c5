//! The per-module sparsity policy (MST, Ma et al. 2025, arXiv 2510.12096: each module — encoder, critic,
//! actor, mixer — has its own kind, density, criteria and schedule), as a TOML table.
//!
//! Defaults are the RL defaults of Graesser et al. 2022 ("The State of Sparse Training in Deep RL",
//! google-research/rigl `rigl/rl/tfagents/configs/dqn_gym_sparse_config.gin`): sparse-to-sparse at
//! density 0.1 (sparsity 0.9) with ERK layer densities and a sparse output layer, magnitude pruning and
//! random (SET) growth, cosine drop fraction from 0.1, a topology update every 1000 steps, the last at
//! 75% of training.
//!
//! Steps are the agent's gradient-step counter; `update_start` and `update_end` are FRACTIONS of the
//! total number of training steps given to the controller, so one policy fits runs of any length.

use serde::{Deserialize, Serialize};

use crate::error::DstError;
use crate::execution::Execution;
use crate::grow::GrowCriterion;
use crate::prune::PruneCriterion;

/// How a module's connectivity evolves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum PolicyKind {
    /// All ones, never updated.
    Dense,
    /// A fixed random sparse topology (one-shot mask).
    Static,
    /// Constant density, periodic prune-and-regrow (SET, RigL, CHT, ...).
    #[default]
    SparseToSparse,
    /// Density falls from `init_density` to `density` (gradual magnitude pruning or CHTss).
    DenseToSparse,
    /// Density rises from `init_density` to `density`, growing by the growth criterion.
    SparseToDense,
}

/// How the module's density is shared among its layers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Distribution {
    /// Every layer gets the module density.
    Uniform,
    /// Erdős–Rényi-Kernel (Evci et al. 2020).
    #[default]
    Erk,
}

/// The sparsity pattern of a module's layers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Structure {
    /// Any set of single connections: masked layers, evolved by the prune and grow criteria.
    #[default]
    Unstructured,
    /// DynaDiag (Tyagi et al., ICML 2025): every layer of the module is a union of wrapped diagonals
    /// (`DiagonalLinear`) at the module density. The diagonal scores learn in a soft phase whose
    /// temperature anneals by a cosine until `anneal_end`, then the top diagonals freeze; a
    /// `sparse-to-sparse` module then drops its lowest-norm diagonals every `update_interval` steps until
    /// `update_end` and regrows as many, at random (`grow = "random"`) or by frozen score (any other
    /// `grow`). Needs `distribution = "uniform"` (DynaDiag's per-layer density) and a sparse output.
    Diagonal,
}

/// Initial sparse topology of a layer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum TopologyInit {
    /// Erdős–Rényi: uniform random.
    #[default]
    Er,
    /// Bipartite small-world (CHT).
    Bsw,
    /// Bipartite receptive field (CHTs).
    Brf,
}

/// Initial values of the active weights.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum WeightInit {
    /// Keep the layer's dense initialisation (masked).
    #[default]
    Layer,
    /// Sparse weight initialisation (CHT): N(0, 2 / (density · n_in)).
    Swi,
}

/// Value of a newly grown weight.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum GrowInit {
    /// Zero (RigL, CHT); the weight then learns from fresh optimizer moments.
    #[default]
    Zero,
    /// PyTorch's layer default U(−1/√fan_in, 1/√fan_in) (SET-style random re-initialisation).
    LayerDefault,
}

/// Drop-fraction schedule of sparse-to-sparse updates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum DropSchedule {
    /// RigL's cosine decay from `drop_fraction` to 0 at `update_end`.
    #[default]
    Cosine,
    /// Always `drop_fraction`.
    Constant,
}

/// Density schedule of the gradual kinds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum DensitySchedule {
    /// Zhu & Gupta 2017 cubic (and its mirror for sparse-to-dense).
    #[default]
    Cubic,
    /// CHTss sigmoid (Zhang et al. 2025).
    Sigmoid,
}

/// Whether the removed / grown connections are the hard top-k or sampled (CHTs soft rule).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Sampling {
    /// Remove the k lowest / grow the k highest scores, random tie-break.
    #[default]
    TopK,
    /// CHTs: sample without replacement with p ∝ score^T (prune: the links to keep) or p ∝ score (grow).
    Soft,
}

/// Ranking scope of pruning and growth in a prune-and-regrow step.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Scope {
    /// Each layer removes its own ⌈α · active⌉ lowest and regrows as many: layer densities stay fixed.
    #[default]
    Layer,
    /// All layers of the module ranked together for pruning and for growth; layer densities move (the
    /// module's active count stays exact). Random growth is then uniform over all inactive connections
    /// of those layers. Normalised scores (`normalization`) are compared across layers as they are.
    /// The gradual kinds' scheduled density steps stay per layer.
    Global,
}

/// Score normalisation before ranking (Nowak et al. 2023, `norm_score` in `sparselearning/pruners.py`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Normalization {
    /// Raw scores.
    #[default]
    None,
    /// Divided by the layer's max (or sum).
    Layer,
    /// Divided per output neuron, over its inputs (their `input`, torch dim 1 of [out, in]).
    Input,
    /// Divided per input neuron, over its outputs (their `output`, torch dim 0).
    Output,
}

/// The reduction used by [`Normalization`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum NormType {
    /// Maximum (the reference default).
    #[default]
    Max,
    /// Sum.
    Sum,
}

/// One module's sparsity policy. Every key is optional; unknown keys are rejected.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SparsityPolicy {
    /// How connectivity evolves.
    pub kind: PolicyKind,
    /// Target (final) density of the module's sparse layers, in (0, 1].
    pub density: f64,
    /// Starting density of the gradual kinds (dense-to-sparse: 1.0 = dense; sparse-to-dense: below `density`).
    pub init_density: f64,
    /// How the density is shared among layers.
    pub distribution: Distribution,
    /// Whether the last layer (the output) is sparse too; if not it stays dense and outside the budget.
    pub sparse_output: bool,
    /// Unstructured masks or DynaDiag's diagonals.
    pub structure: Structure,
    /// Diagonal structure: end of the soft phase, as a fraction of total steps (DynaDiag: 30 of 100 epochs).
    pub anneal_end: f64,
    /// Initial topology.
    pub init: TopologyInit,
    /// BSW: rewiring probability β.
    pub bsw_beta: f64,
    /// BRF: randomness r in (0, 1] (→ 0 nearest columns, 1 = ER).
    pub brf_r: f64,
    /// Initial values of the active weights.
    pub weight_init: WeightInit,
    /// Pruning criterion.
    pub prune: PruneCriterion,
    /// Hard top-k or CHTs soft sampling for pruning.
    pub prune_sampling: Sampling,
    /// Soft pruning temperature at the first and the last update (CHTs MLP code: 1 → 3).
    pub temperature: [f64; 2],
    /// Ranking scope of pruning and growth.
    pub scope: Scope,
    /// Score normalisation.
    pub normalization: Normalization,
    /// Reduction of the normalisation.
    pub norm_type: NormType,
    /// Running average of the pruning score over the optimizer steps between two topology updates
    /// (0 = off; Nowak et al. 2023, `MagnitudeRunningPruner` / `SNIPRunningPruner`): after every
    /// optimizer step s̄ ← β s̄ + (1 − β) s, with s the criterion's raw score of the active weights
    /// (inactive 0) from the weights after the step and that step's gradient, and s̄ = s at the first
    /// step after an update; an update ranks by s̄ (normalised then) and starts a new window. The agent
    /// feeds it through `SparsityController::observe_step`. With a gradient-based criterion (`mest`,
    /// `snip`, `taylor`, `sensitivity`, `reciprocal-sensitivity`, `grad-step`) this costs one host copy
    /// of every sparse layer's gradient per optimizer step (only when β > 0). Not used by `set`.
    pub score_beta: f64,
    /// Growth criterion.
    pub grow: GrowCriterion,
    /// Hard top-k or CHTs soft sampling for growth.
    pub grow_sampling: Sampling,
    /// Value of grown weights.
    pub grow_init: GrowInit,
    /// CHT chain removal: drop the links of neurons left without inputs or outputs across the layer chain.
    pub chain_removal: bool,
    /// CHT early stop: stop evolving for good when the regrowth overlap exceeds 0.9 in every layer.
    pub early_stop: bool,
    /// Gradient steps between topology updates (ΔT).
    pub update_interval: u64,
    /// First update, as a fraction of total steps.
    pub update_start: f64,
    /// Last update, as a fraction of total steps.
    pub update_end: f64,
    /// Drop fraction α at the first update.
    pub drop_fraction: f64,
    /// Drop-fraction schedule.
    pub drop_schedule: DropSchedule,
    /// Density schedule of the gradual kinds.
    pub density_schedule: DensitySchedule,
    /// Gradual kinds: also prune-and-regrow `drop_fraction` at each update (CHTss); off = pure GMP.
    pub evolve_during_gradual: bool,
    /// How the module's masked layers compute (`masked-dense`, `sparse`, `auto`; see [`Execution`]). The
    /// default is `auto`: the sparse kernels for the layers and calls where they are faster.
    pub execution: Execution,
    /// After every optimizer step of the module, check that each inactive weight and its optimizer moments
    /// are exactly zero, and stop the run with the layer's name if not. It reads the optimizer state at
    /// every step (slow): a check for tests and for a new method, off by default.
    pub check_invariant: bool,
}

impl Default for SparsityPolicy {
    fn default() -> Self {
        Self {
            kind: PolicyKind::SparseToSparse,
            density: 0.1,
            init_density: 1.0,
            distribution: Distribution::Erk,
            sparse_output: true,
            structure: Structure::Unstructured,
            anneal_end: 0.3,
            init: TopologyInit::Er,
            bsw_beta: 0.25,
            brf_r: 0.3,
            weight_init: WeightInit::Layer,
            prune: PruneCriterion::Magnitude,
            prune_sampling: Sampling::TopK,
            temperature: [1.0, 3.0],
            scope: Scope::Layer,
            normalization: Normalization::None,
            norm_type: NormType::Max,
            score_beta: 0.0,
            grow: GrowCriterion::Random,
            grow_sampling: Sampling::TopK,
            grow_init: GrowInit::Zero,
            chain_removal: false,
            early_stop: false,
            update_interval: 1000,
            update_start: 0.0,
            update_end: 0.75,
            drop_fraction: 0.1,
            drop_schedule: DropSchedule::Cosine,
            density_schedule: DensitySchedule::Cubic,
            evolve_during_gradual: false,
            execution: Execution::Auto,
            check_invariant: false,
        }
    }
}

impl SparsityPolicy {
    /// A dense module.
    pub fn dense() -> Self {
        Self {
            kind: PolicyKind::Dense,
            density: 1.0,
            ..Self::default()
        }
    }

    /// Whether the module's layers are all dense and never change.
    pub fn is_dense(&self) -> bool {
        self.kind == PolicyKind::Dense
    }

    /// Checks every value; the error names the key and the bad value.
    pub fn validate(&self) -> Result<(), DstError> {
        let bad = |key: &str, value: &dyn std::fmt::Debug, why: &str| {
            Err(DstError::new(format!(
                "sparsity policy: `{key}` = {value:?} {why}"
            )))
        };
        let unit_open = |x: f64| x > 0.0 && x <= 1.0;
        if !unit_open(self.density) {
            return bad("density", &self.density, "must be in (0, 1]");
        }
        if !unit_open(self.init_density) {
            return bad("init_density", &self.init_density, "must be in (0, 1]");
        }
        match self.kind {
            PolicyKind::DenseToSparse if self.init_density < self.density => {
                return bad(
                    "init_density",
                    &self.init_density,
                    "must be >= `density` for dense-to-sparse",
                );
            }
            PolicyKind::SparseToDense if self.init_density >= self.density => {
                return bad(
                    "init_density",
                    &self.init_density,
                    "must be < `density` for sparse-to-dense",
                );
            }
            _ => {}
        }
        if self.update_interval == 0 {
            return bad("update_interval", &self.update_interval, "must be at least 1");
        }
        if !(0.0..=1.0).contains(&self.update_start) {
            return bad(
                "update_start",
                &self.update_start,
                "must be a fraction of training in [0, 1]",
            );
        }
        if !(0.0..=1.0).contains(&self.update_end) || self.update_end <= self.update_start {
            return bad(
                "update_end",
                &self.update_end,
                "must be in [0, 1] and after `update_start`",
            );
        }
        if !(0.0..1.0).contains(&self.drop_fraction) {
            return bad("drop_fraction", &self.drop_fraction, "must be in [0, 1)");
        }
        if !(0.0..1.0).contains(&self.score_beta) {
            return bad("score_beta", &self.score_beta, "must be in [0, 1)");
        }
        if !(0.0..=1.0).contains(&self.bsw_beta) {
            return bad("bsw_beta", &self.bsw_beta, "must be in [0, 1]");
        }
        if !unit_open(self.brf_r) {
            return bad("brf_r", &self.brf_r, "must be in (0, 1]");
        }
        if self.temperature.iter().any(|t| !(t.is_finite() && *t > 0.0)) {
            return bad(
                "temperature",
                &self.temperature,
                "must be two positive finite numbers",
            );
        }
        if self.structure == Structure::Diagonal {
            self.validate_diagonal()?;
        }
        if self.prune == PruneCriterion::Set && self.scope == Scope::Global {
            return bad(
                "scope",
                &self.scope,
                "is not defined for `prune = \"set\"` (a per-layer rule)",
            );
        }
        Ok(())
    }

    /// The diagonal structure's own constraints: DynaDiag fixes K diagonals per layer, so only the kinds
    /// of constant density apply, and its density is per layer.
    fn validate_diagonal(&self) -> Result<(), DstError> {
        let bad = |key: &str, value: &dyn std::fmt::Debug, why: &str| {
            Err(DstError::new(format!(
                "sparsity policy: `{key}` = {value:?} {why} with `structure = \"diagonal\"`"
            )))
        };
        if !matches!(self.kind, PolicyKind::Static | PolicyKind::SparseToSparse) {
            return bad("kind", &self.kind, "must be \"static\" or \"sparse-to-sparse\"");
        }
        if self.distribution != Distribution::Uniform {
            return bad("distribution", &self.distribution, "must be \"uniform\"");
        }
        if !self.sparse_output {
            return bad("sparse_output", &self.sparse_output, "must be true");
        }
        if !(self.anneal_end > 0.0 && self.anneal_end < self.update_end) {
            return bad("anneal_end", &self.anneal_end, "must be in (0, `update_end`)");
        }
        Ok(())
    }

    /// Whether the prune or grow criterion reads the gradient.
    pub fn uses_grad(&self) -> bool {
        self.prune.uses_grad() || self.grow.uses_grad()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<SparsityPolicy, String> {
        let p: SparsityPolicy = toml::from_str(text).map_err(|e| e.to_string())?;
        p.validate().map_err(|e| e.to_string())?;
        Ok(p)
    }

    #[test]
    fn defaults_are_the_rl_defaults() {
        let p = parse("").unwrap();
        assert_eq!(p.kind, PolicyKind::SparseToSparse);
        assert_eq!(
            (p.density, p.distribution, p.sparse_output),
            (0.1, Distribution::Erk, true)
        );
        assert_eq!((p.drop_fraction, p.drop_schedule), (0.1, DropSchedule::Cosine));
        assert_eq!((p.update_interval, p.update_end), (1000, 0.75));
    }

    #[test]
    fn a_full_table_parses() {
        let p = parse(
            r#"kind = "dense-to-sparse"
               density = 0.05
               init_density = 0.5
               prune = "ri"
               prune_sampling = "soft"
               grow = "ch2-l3n"
               density_schedule = "sigmoid"
               evolve_during_gradual = true
               update_interval = 100
               update_end = 0.8"#,
        )
        .unwrap();
        assert_eq!((p.prune, p.grow), (PruneCriterion::Ri, GrowCriterion::Ch2L3n));
    }

    #[test]
    fn unknown_criterion_lists_the_valid_names() {
        let e = parse(r#"grow = "hebbian""#).unwrap_err();
        assert!(
            e.contains("hebbian") && e.contains("gradient") && e.contains("ch3-l3p"),
            "{e}"
        );
        let e = parse(r#"prune = "smallest""#).unwrap_err();
        assert!(
            e.contains("magnitude") && e.contains("reciprocal-sensitivity"),
            "{e}"
        );
    }

    #[test]
    fn diagonal_structure_needs_constant_uniform_density() {
        let p = parse("structure = \"diagonal\"\ndistribution = \"uniform\"").unwrap();
        assert_eq!((p.structure, p.anneal_end), (Structure::Diagonal, 0.3));
        for (text, key) in [
            ("kind = \"dense-to-sparse\"\ndistribution = \"uniform\"", "kind"),
            ("distribution = \"erk\"", "distribution"),
            (
                "distribution = \"uniform\"\nsparse_output = false",
                "sparse_output",
            ),
            ("distribution = \"uniform\"\nanneal_end = 0.9", "anneal_end"),
        ] {
            let e = parse(&format!("structure = \"diagonal\"\n{text}")).unwrap_err();
            assert!(e.contains(key) && e.contains("diagonal"), "{text}: {e}");
        }
    }

    #[test]
    fn unknown_key_is_rejected() {
        let e = parse("densty = 0.2").unwrap_err();
        assert!(e.contains("densty"), "{e}");
    }

    #[test]
    fn bad_values_name_the_key() {
        for (text, key) in [
            ("density = 0.0", "density"),
            ("density = 1.5", "density"),
            ("update_interval = 0", "update_interval"),
            ("update_start = 0.5\nupdate_end = 0.4", "update_end"),
            ("drop_fraction = 1.0", "drop_fraction"),
            (
                "kind = \"sparse-to-dense\"\ndensity = 0.5\ninit_density = 0.8",
                "init_density",
            ),
            ("prune = \"set\"\nscope = \"global\"", "scope"),
        ] {
            let e = parse(text).unwrap_err();
            assert!(e.contains(&format!("`{key}`")), "{text:?} -> {e}");
        }
    }
}
