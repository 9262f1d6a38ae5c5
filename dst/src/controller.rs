//! The per-module sparsity controller: turns a [`SparsityPolicy`], the layers' shapes and the run length
//! into initial masks and periodic topology updates on host views ([`LayerTopology`]).
//!
//! * `sparse-to-sparse`: remove ⌈f · active⌉ by the prune criterion, regrow as many by the grow criterion
//!   (SET, RigL, CHT, ...), f by the drop schedule; the active count of every layer stays exact.
//! * `dense-to-sparse`: prune to the scheduled density (Zhu & Gupta cubic, or the CHTss sigmoid), then
//!   optionally prune-and-regrow (`evolve_during_gradual`, CHTss).
//! * `sparse-to-dense`: grow to the scheduled density by the grow criterion.
//! * `static` / `dense`: masks set once.
//!
//! Grown weights start at zero (or the layer default), and the caller resets their optimizer moments and
//! those of the pruned ones ([`crate::optim::reset_moments`], with [`LayerUpdate::keep`]).
//!
//! With `scope = "global"` the prune-and-regrow step ranks the candidates of all the module's sparse
//! layers together for removal AND for regrowth, so the module's active count stays exact while layer
//! densities move (the gradual kinds' scheduled density steps stay per layer).
//!
//! Running score (`score_beta` = β > 0; Nowak et al. 2023, `MagnitudeRunningPruner` /
//! `SNIPRunningPruner` in alooow/fantastic_weights_paper `sparselearning/pruners.py`): after every
//! optimizer step the agent calls [`SparsityController::observe_step`], which folds the criterion's raw
//! score of the active weights (inactive ones score 0) into s̄ ← β s̄ + (1 − β) s (s̄ = s at the first
//! step of a window). A topology update ranks by s̄ (normalised at that point, as the reference's
//! `norm_score`), then starts a new window.

use rand::Rng;

use crate::density::{active_count, layer_densities};
use crate::error::DstError;
use crate::grow::{cannistraci_hebb, inactive_indices, select_growth};
use crate::policy::{GrowInit, PolicyKind, Scope, SparsityPolicy, WeightInit};
use crate::prune::{self, active_indices, select_removals, PruneCriterion};
use crate::schedule::{drop_fraction, gradual_density, UpdateSchedule};
use crate::topology::{LayerShape, LayerTopology};
use crate::topology_init::{init_mask, sparse_weight_init};

/// What one update did to one layer.
#[derive(Debug, Clone, PartialEq)]
pub struct LayerUpdate {
    /// Layer name.
    pub name: String,
    /// Connections removed (including any regrown in the same update).
    pub pruned: usize,
    /// Connections grown.
    pub grown: usize,
    /// Connections removed and regrown in the same update (CHT's overlap numerator).
    pub regrown_same: usize,
    /// Active connections after the update.
    pub active: usize,
    /// Fraction of the layer's connections after the update that were not active before.
    pub topology_change: f64,
    /// Connections active before AND after (host order): their optimizer moments are kept, all others
    /// are reset.
    pub keep: Vec<bool>,
}

/// What one update did to the module.
#[derive(Debug, Clone, PartialEq)]
pub struct UpdateReport {
    /// The step of the update.
    pub step: u64,
    /// Per-layer details, in the order of the layers given.
    pub layers: Vec<LayerUpdate>,
    /// Module density after the update (active over all weights of the layers given).
    pub density: f64,
    /// Fraction of the module's connections that are new (`sparsity/<module>/topology_change`).
    pub topology_change: f64,
    /// Whether CHT's early stop has ended topology evolution.
    pub stopped: bool,
}

/// The controller of one module.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct SparsityController {
    policy: SparsityPolicy,
    shapes: Vec<LayerShape>,
    schedule: UpdateSchedule,
    /// Layer densities at the start (`init_density` for the gradual kinds).
    start_densities: Vec<f64>,
    /// Layer densities at the end of the schedule.
    final_densities: Vec<f64>,
    /// Active connections per layer after the last init or update.
    active: Vec<usize>,
    /// Running average of the raw pruning scores of each layer over the optimizer steps since the last
    /// update (`None`: no step observed in this window), when `score_beta > 0`.
    #[serde(default)]
    window_scores: Vec<Option<Vec<f32>>>,
    stopped: bool,
    /// Whether the last scheduled update has run (no update comes any more).
    #[serde(default)]
    finished: bool,
}

/// The floor of every sparse layer: at least one active connection. A density whose share of a layer
/// rounds to none is an error rather than silently raised (which would make the module denser than asked
/// and its reported density wrong).
fn check_connection_floor(shapes: &[LayerShape], densities: &[f64]) -> Result<(), DstError> {
    for (l, (s, &d)) in shapes.iter().zip(densities).enumerate() {
        let kept = d * s.len() as f64;
        if kept.round() < 1.0 {
            return Err(DstError::new(format!(
                "density {d:.3e} leaves layer {l} ({} x {} weights) {kept:.2} connections; a sparse layer \
                 keeps at least 1 (raise density to {:.3e} or more)",
                s.rows,
                s.cols,
                0.5 / s.len() as f64
            )));
        }
    }
    Ok(())
}

impl SparsityController {
    /// A controller for layers of the given shapes (in forward order; the last is the output layer) and a
    /// run of `total_steps` gradient steps.
    pub fn new(policy: &SparsityPolicy, shapes: &[LayerShape], total_steps: u64) -> Result<Self, DstError> {
        policy.validate()?;
        if shapes.is_empty() {
            return Err(DstError::new("a sparsity controller needs at least one layer"));
        }
        let n = shapes.len();
        let keep_dense: Vec<bool> = (0..n)
            .map(|l| policy.kind == PolicyKind::Dense || (!policy.sparse_output && l == n - 1))
            .collect();
        let (start, end) = match policy.kind {
            PolicyKind::Dense => (1.0, 1.0),
            PolicyKind::Static | PolicyKind::SparseToSparse => (policy.density, policy.density),
            PolicyKind::DenseToSparse | PolicyKind::SparseToDense => (policy.init_density, policy.density),
        };
        let start_densities = layer_densities(shapes, start, policy.distribution, &keep_dense)?;
        let final_densities = layer_densities(shapes, end, policy.distribution, &keep_dense)?;
        for densities in [&start_densities, &final_densities] {
            check_connection_floor(shapes, densities)?;
        }
        let active = shapes
            .iter()
            .zip(&start_densities)
            .map(|(s, &d)| active_count(s.len(), d))
            .collect();
        Ok(Self {
            policy: policy.clone(),
            shapes: shapes.to_vec(),
            schedule: UpdateSchedule::new(policy, total_steps),
            start_densities,
            final_densities,
            active,
            window_scores: vec![None; n],
            stopped: false,
            finished: false,
        })
    }

    /// The policy.
    pub fn policy(&self) -> &SparsityPolicy {
        &self.policy
    }

    /// The update schedule.
    pub fn schedule(&self) -> &UpdateSchedule {
        &self.schedule
    }

    /// Layer densities the controller starts from.
    pub fn start_densities(&self) -> &[f64] {
        &self.start_densities
    }

    /// Layer densities at the end of the schedule.
    pub fn final_densities(&self) -> &[f64] {
        &self.final_densities
    }

    /// Module density now: active connections over all weights of the layers.
    pub fn current_density(&self) -> f64 {
        let total: usize = self.shapes.iter().map(LayerShape::len).sum();
        self.active.iter().sum::<usize>() as f64 / total as f64
    }

    /// Active connections per layer now.
    pub fn active_counts(&self) -> &[usize] {
        &self.active
    }

    /// Whether CHT's early stop has ended topology evolution.
    pub fn stopped(&self) -> bool {
        self.stopped
    }

    fn check(&self, layers: &[LayerTopology]) -> Result<(), DstError> {
        if layers.len() != self.shapes.len() {
            return Err(DstError::new(format!(
                "the controller was built for {} layers, got {}",
                self.shapes.len(),
                layers.len()
            )));
        }
        for (layer, shape) in layers.iter().zip(&self.shapes) {
            layer.check()?;
            if layer.shape.rows != shape.rows || layer.shape.cols != shape.cols {
                return Err(DstError::new(format!(
                    "layer `{}` is {}x{}, the controller expects {}x{}",
                    layer.name, layer.shape.rows, layer.shape.cols, shape.rows, shape.cols
                )));
            }
        }
        Ok(())
    }

    /// Sets the initial masks (layer densities by the distribution, topology by `init`), zeroes the
    /// inactive weights, and re-draws the active ones under SWI.
    pub fn init_masks<R: Rng + ?Sized>(
        &mut self,
        layers: &mut [LayerTopology],
        rng: &mut R,
    ) -> Result<(), DstError> {
        self.check(layers)?;
        let p = &self.policy;
        for (l, layer) in layers.iter_mut().enumerate() {
            let n = self.active[l];
            layer.mask = if n == layer.mask.len() {
                vec![true; n]
            } else {
                init_mask(p.init, layer.rows(), layer.cols(), n, p.bsw_beta, p.brf_r, rng)
            };
            match p.weight_init {
                WeightInit::Swi if n < layer.mask.len() => sparse_weight_init(layer, rng),
                _ => layer.zero_inactive(),
            }
        }
        Ok(())
    }

    /// Whether `step` is a topology-update step of this module.
    pub fn wants_update(&self, step: u64) -> bool {
        !self.stopped
            && !matches!(self.policy.kind, PolicyKind::Dense | PolicyKind::Static)
            && self.schedule.is_update(step)
    }

    /// Whether the update at `step` needs the dense gradient (`forward_dense_grad` and `host_grad`).
    pub fn needs_dense_grad(&self, step: u64) -> bool {
        self.wants_update(step) && self.policy.uses_grad()
    }

    /// Whether the agent must call [`Self::observe_step`] after every optimizer step: a running score
    /// (`score_beta > 0`) of a scoring criterion (not `set`) in a module whose updates prune
    /// (`sparse-to-sparse`, `dense-to-sparse`, or a gradual kind with `evolve_during_gradual`), while
    /// updates are still to come (not stopped early, last scheduled update not yet run).
    pub fn needs_step_scores(&self) -> bool {
        let p = &self.policy;
        let prunes = match p.kind {
            PolicyKind::SparseToSparse | PolicyKind::DenseToSparse => true,
            PolicyKind::SparseToDense => p.evolve_during_gradual,
            PolicyKind::Dense | PolicyKind::Static => false,
        };
        p.score_beta > 0.0
            && prunes
            && p.prune != PruneCriterion::Set
            && !self.stopped
            && !self.finished
            && self.schedule.last_update().is_some()
    }

    /// Whether [`Self::observe_step`] reads the gradient: then every layer's host gradient (of the step's
    /// loss; its active entries are the ones that matter) goes in [`LayerTopology::grad`] at every
    /// optimizer step.
    pub fn needs_step_grad(&self) -> bool {
        self.needs_step_scores() && self.policy.prune.uses_grad()
    }

    /// Folds one optimizer step into the running pruning score (a no-op unless
    /// [`Self::needs_step_scores`]): for each layer that updates may prune, the criterion's raw score of
    /// the active weights (inactive entries 0), from the weights after the optimizer step and that
    /// step's gradient, enters s̄ ← β s̄ + (1 − β) s (s̄ = s at the first step after an update). Call it
    /// after every optimizer step, and at an update step BEFORE [`Self::update`], so the update's own
    /// step counts.
    pub fn observe_step<R: Rng + ?Sized>(
        &mut self,
        layers: &[LayerTopology],
        rng: &mut R,
    ) -> Result<(), DstError> {
        if !self.needs_step_scores() {
            return Ok(());
        }
        self.check(layers)?;
        let n = layers.len();
        self.window_scores.resize(n, None);
        let beta = self.policy.score_beta as f32;
        for (l, layer) in layers.iter().enumerate() {
            if !self.may_prune(l) {
                continue;
            }
            let mut s = self.policy.prune.scores(layer, rng)?;
            for (s, &m) in s.iter_mut().zip(&layer.mask) {
                if !m {
                    *s = 0.0;
                }
            }
            match self.window_scores[l].as_mut() {
                Some(run) => run
                    .iter_mut()
                    .zip(&s)
                    .for_each(|(r, &s)| *r = *r * beta + (1.0 - beta) * s),
                None => self.window_scores[l] = Some(s),
            }
        }
        Ok(())
    }

    /// Whether the updates of this policy may remove connections of layer `l`: not kept dense, and not a
    /// layer that the layer densities make dense at both ends of the schedule (ERK's saturated layers).
    fn may_prune(&self, l: usize) -> bool {
        !self.keeps_dense(l) && self.start_densities[l].min(self.final_densities[l]) < 1.0
    }

    /// Ends the running-score window (after any topology change).
    fn reset_window(&mut self) {
        self.window_scores.iter_mut().for_each(|w| *w = None);
    }

    /// Runs the topology update of `step` on the layers (no-op report when `step` is not an update step).
    pub fn update<R: Rng + ?Sized>(
        &mut self,
        step: u64,
        layers: &mut [LayerTopology],
        rng: &mut R,
    ) -> Result<UpdateReport, DstError> {
        self.check(layers)?;
        let before: Vec<Vec<bool>> = layers.iter().map(|l| l.mask.clone()).collect();
        let n = layers.len();
        let mut pruned = vec![Vec::new(); n];
        let mut grown = vec![Vec::new(); n];
        if self.wants_update(step) {
            let p = self.schedule.gradual_progress(step);
            let alpha = drop_fraction(
                self.policy.drop_schedule,
                self.policy.drop_fraction,
                self.schedule.progress(step),
            );
            match self.policy.kind {
                PolicyKind::SparseToSparse => {
                    self.prune_and_regrow(step, layers, alpha, &mut pruned, &mut grown, rng)?
                }
                PolicyKind::DenseToSparse | PolicyKind::SparseToDense => {
                    for l in 0..n {
                        let d = gradual_density(
                            self.policy.density_schedule,
                            p,
                            self.start_densities[l],
                            self.final_densities[l],
                        );
                        let target = active_count(layers[l].mask.len(), d);
                        let have = layers[l].active();
                        if target < have {
                            let removed = self.removals(step, &layers[l], l, have - target, rng)?;
                            apply_removals(&mut layers[l], &removed);
                            pruned[l].extend(removed);
                        } else if target > have {
                            let added = self.growth(&layers[l], target - have, rng)?;
                            self.apply_growth(&mut layers[l], &added, rng);
                            grown[l].extend(added);
                        }
                    }
                    if self.policy.evolve_during_gradual {
                        self.prune_and_regrow(step, layers, alpha, &mut pruned, &mut grown, rng)?;
                    }
                }
                PolicyKind::Dense | PolicyKind::Static => {}
            }
            self.reset_window();
            if self.schedule.last_update().is_none_or(|last| step >= last) {
                self.finished = true;
            }
        }
        Ok(self.report(step, layers, &before, &pruned, &grown))
    }

    /// Pruning scores of layer `l`: the running score of the window when steps were observed
    /// (`score_beta > 0`), else the criterion's score now; then normalised as the policy says.
    fn prune_scores<R: Rng + ?Sized>(
        &mut self,
        layer: &LayerTopology,
        l: usize,
        rng: &mut R,
    ) -> Result<Vec<f32>, DstError> {
        let p = &self.policy;
        let mut s = match self.window_scores.get(l).and_then(Option::as_ref) {
            Some(running) => running.clone(),
            None => p.prune.scores(layer, rng)?,
        };
        prune::normalize(&mut s, layer, p.normalization, p.norm_type);
        Ok(s)
    }

    fn temperature(&self, step: u64) -> f64 {
        let [t0, t1] = self.policy.temperature;
        t0 + (t1 - t0) * self.schedule.progress(step)
    }

    /// The `k` active entries of layer `l` to remove (layer scope).
    fn removals<R: Rng + ?Sized>(
        &mut self,
        step: u64,
        layer: &LayerTopology,
        l: usize,
        k: usize,
        rng: &mut R,
    ) -> Result<Vec<usize>, DstError> {
        if self.policy.prune == PruneCriterion::Set {
            return Ok(prune::set::removals(layer, k));
        }
        let scores = self.prune_scores(layer, l, rng)?;
        let t = self.temperature(step);
        Ok(select_removals(
            &active_indices(layer),
            &scores,
            k,
            self.policy.prune_sampling,
            t,
            rng,
        ))
    }

    fn growth<R: Rng + ?Sized>(
        &self,
        layer: &LayerTopology,
        k: usize,
        rng: &mut R,
    ) -> Result<Vec<usize>, DstError> {
        let scores = self.policy.grow.scores(layer)?;
        Ok(select_growth(
            &inactive_indices(layer),
            &scores,
            k,
            self.policy.grow_sampling,
            rng,
        ))
    }

    fn apply_growth<R: Rng + ?Sized>(&mut self, layer: &mut LayerTopology, added: &[usize], rng: &mut R) {
        let bound = 1.0 / (layer.cols() as f32).sqrt();
        for &i in added {
            layer.mask[i] = true;
            layer.weight[i] = match self.policy.grow_init {
                GrowInit::Zero => 0.0,
                GrowInit::LayerDefault => rng.random_range(-bound..=bound),
            };
        }
    }

    /// Remove ⌈α · active⌉ (per layer, or over the module with `scope = "global"`), optionally chain
    /// removal, then regrow what was removed: layer scope, each layer back to its count before the
    /// update; global scope, the module's total back to its count, the grow criterion's candidates of
    /// all the pruned layers ranked together (a layer kept dense that chain removal touched regrows its
    /// own). CHT's early stop reads each layer's overlap of regrown with removed links.
    fn prune_and_regrow<R: Rng + ?Sized>(
        &mut self,
        step: u64,
        layers: &mut [LayerTopology],
        alpha: f64,
        pruned: &mut [Vec<usize>],
        grown: &mut [Vec<usize>],
        rng: &mut R,
    ) -> Result<(), DstError> {
        let counts: Vec<usize> = layers.iter().map(LayerTopology::active).collect();
        let sparse: Vec<bool> = layers.iter().map(|l| l.active() < l.mask.len()).collect();
        let chosen: Vec<usize> = (0..layers.len()).filter(|&l| sparse[l]).collect();
        let ceil_k = |n: usize| ((alpha * n as f64).ceil() as usize).min(n);
        let mut removed: Vec<Vec<usize>> = vec![Vec::new(); layers.len()];
        match self.policy.scope {
            Scope::Layer => {
                for &l in &chosen {
                    removed[l] = self.removals(step, &layers[l], l, ceil_k(counts[l]), rng)?;
                }
            }
            Scope::Global => {
                let k = ceil_k(chosen.iter().map(|&l| counts[l]).sum());
                removed = self.global_removals(step, layers, &chosen, k, rng)?;
            }
        }
        for (layer, r) in layers.iter_mut().zip(&removed) {
            apply_removals(layer, r);
        }
        if self.policy.chain_removal {
            for (r, extra) in removed.iter_mut().zip(cannistraci_hebb::chain_removal(layers)) {
                r.extend(extra);
            }
        }
        let deficit = |layers: &[LayerTopology], l: usize| counts[l] - layers[l].active();
        let mut added: Vec<Vec<usize>> = vec![Vec::new(); layers.len()];
        match self.policy.scope {
            Scope::Layer => {
                for l in 0..layers.len() {
                    let k = deficit(layers, l);
                    if k > 0 {
                        added[l] = self.growth(&layers[l], k, rng)?;
                        self.apply_growth(&mut layers[l], &added[l], rng);
                    }
                }
            }
            Scope::Global => {
                let k: usize = chosen.iter().map(|&l| deficit(layers, l)).sum();
                if k > 0 {
                    added = self.global_growth(layers, &chosen, k, rng)?;
                }
                for l in (0..layers.len()).filter(|&l| !sparse[l]) {
                    let k = deficit(layers, l);
                    if k > 0 {
                        added[l] = self.growth(&layers[l], k, rng)?;
                    }
                }
                for (l, layer) in layers.iter_mut().enumerate() {
                    self.apply_growth(layer, &added[l], rng);
                }
            }
        }
        let mut overlaps = Vec::new();
        for l in 0..layers.len() {
            pruned[l].extend(&removed[l]);
            // The layer's own count in layer scope; under global scope an overlap of 1 still means the
            // layer regrew exactly what it lost.
            let n = removed[l].len().max(added[l].len());
            if n > 0 {
                let mut was_removed = vec![false; layers[l].mask.len()];
                removed[l].iter().for_each(|&i| was_removed[i] = true);
                let same = added[l].iter().filter(|&&i| was_removed[i]).count();
                overlaps.push(same as f64 / n as f64);
            }
            grown[l].extend(std::mem::take(&mut added[l]));
        }
        if self.policy.early_stop && !overlaps.is_empty() && overlaps.iter().all(|&o| o > 0.9) {
            self.stopped = true;
        }
        Ok(())
    }

    /// The `k` highest-scoring inactive connections over the layers `chosen` by the grow criterion,
    /// ranked together (global gradient growth with the gradient criterion; uniform over all their
    /// inactive connections with random growth), per layer. Not applied.
    fn global_growth<R: Rng + ?Sized>(
        &self,
        layers: &[LayerTopology],
        chosen: &[usize],
        k: usize,
        rng: &mut R,
    ) -> Result<Vec<Vec<usize>>, DstError> {
        let mut scores = Vec::with_capacity(chosen.len());
        for &l in chosen {
            scores.push(self.policy.grow.scores(&layers[l])?);
        }
        let sampling = self.policy.grow_sampling;
        Ok(select_global(layers, chosen, inactive_indices, scores, |c, s| {
            select_growth(c, s, k, sampling, rng)
        }))
    }

    /// The `k` lowest-scoring active connections over the layers `chosen`, ranked together (global
    /// magnitude pruning with the magnitude criterion), per layer.
    fn global_removals<R: Rng + ?Sized>(
        &mut self,
        step: u64,
        layers: &[LayerTopology],
        chosen: &[usize],
        k: usize,
        rng: &mut R,
    ) -> Result<Vec<Vec<usize>>, DstError> {
        let mut scores = Vec::with_capacity(chosen.len());
        for &l in chosen {
            scores.push(self.prune_scores(&layers[l], l, rng)?);
        }
        let t = self.temperature(step);
        let sampling = self.policy.prune_sampling;
        Ok(select_global(layers, chosen, active_indices, scores, |c, s| {
            select_removals(c, s, k, sampling, t, rng)
        }))
    }

    /// ADAPT's density change (Wang et al., "Balanced Training for Sparse GANs", NeurIPS 2023): moves the
    /// module's sparsifiable layers to `density` in one step, removing connections by the prune criterion
    /// or adding them by the grow criterion, ranked over all those layers together (the authors' global
    /// magnitude pruning and global gradient growth). Layers kept dense by the policy are left alone.
    pub fn resize<R: Rng + ?Sized>(
        &mut self,
        step: u64,
        density: f64,
        layers: &mut [LayerTopology],
        rng: &mut R,
    ) -> Result<UpdateReport, DstError> {
        self.check(layers)?;
        if !(density > 0.0 && density <= 1.0) {
            return Err(DstError::new(format!(
                "resize: density = {density} must be in (0, 1]"
            )));
        }
        let before: Vec<Vec<bool>> = layers.iter().map(|l| l.mask.clone()).collect();
        let n = layers.len();
        let chosen: Vec<usize> = (0..n).filter(|&l| !self.keeps_dense(l)).collect();
        let total: usize = chosen.iter().map(|&l| layers[l].mask.len()).sum();
        let have: usize = chosen.iter().map(|&l| layers[l].active()).sum();
        let target = active_count(total, density);
        let mut pruned = vec![Vec::new(); n];
        let mut grown = vec![Vec::new(); n];
        if target < have {
            pruned = self.global_removals(step, layers, &chosen, have - target, rng)?;
            for (layer, r) in layers.iter_mut().zip(&pruned) {
                apply_removals(layer, r);
            }
        } else if target > have {
            grown = self.global_growth(layers, &chosen, target - have, rng)?;
            for (layer, g) in layers.iter_mut().zip(&grown) {
                self.apply_growth(layer, g, rng);
            }
        }
        if target != have {
            self.reset_window();
        }
        Ok(self.report(step, layers, &before, &pruned, &grown))
    }

    /// ADAPT_strict at its density cap: one constant-density prune-and-regrow step of `fraction` of the
    /// active connections, whatever the policy's own schedule.
    pub fn regrow<R: Rng + ?Sized>(
        &mut self,
        step: u64,
        fraction: f64,
        layers: &mut [LayerTopology],
        rng: &mut R,
    ) -> Result<UpdateReport, DstError> {
        self.check(layers)?;
        if !(0.0..1.0).contains(&fraction) {
            return Err(DstError::new(format!(
                "regrow: fraction = {fraction} must be in [0, 1)"
            )));
        }
        let before: Vec<Vec<bool>> = layers.iter().map(|l| l.mask.clone()).collect();
        let n = layers.len();
        let (mut pruned, mut grown) = (vec![Vec::new(); n], vec![Vec::new(); n]);
        self.prune_and_regrow(step, layers, fraction, &mut pruned, &mut grown, rng)?;
        self.reset_window();
        Ok(self.report(step, layers, &before, &pruned, &grown))
    }

    /// Whether layer `l` is dense by the policy (a dense module, or the output layer without
    /// `sparse_output`), outside the density budget.
    fn keeps_dense(&self, l: usize) -> bool {
        self.policy.kind == PolicyKind::Dense || (!self.policy.sparse_output && l == self.shapes.len() - 1)
    }

    fn report(
        &mut self,
        step: u64,
        layers: &[LayerTopology],
        before: &[Vec<bool>],
        pruned: &[Vec<usize>],
        grown: &[Vec<usize>],
    ) -> UpdateReport {
        let mut new_total = 0usize;
        let mut reports = Vec::with_capacity(layers.len());
        for (l, layer) in layers.iter().enumerate() {
            let keep: Vec<bool> = before[l].iter().zip(&layer.mask).map(|(&a, &b)| a && b).collect();
            let active = layer.active();
            let new = active - keep.iter().filter(|&&k| k).count();
            new_total += new;
            let mut was_pruned = vec![false; layer.mask.len()];
            pruned[l].iter().for_each(|&i| was_pruned[i] = true);
            reports.push(LayerUpdate {
                name: layer.name.clone(),
                pruned: pruned[l].len(),
                grown: grown[l].len(),
                regrown_same: grown[l].iter().filter(|&&i| was_pruned[i]).count(),
                active,
                topology_change: if active == 0 {
                    0.0
                } else {
                    new as f64 / active as f64
                },
                keep,
            });
            self.active[l] = active;
        }
        let active_total: usize = self.active.iter().sum();
        UpdateReport {
            step,
            layers: reports,
            density: self.current_density(),
            topology_change: if active_total == 0 {
                0.0
            } else {
                new_total as f64 / active_total as f64
            },
            stopped: self.stopped,
        }
    }
}

/// Ranks the candidates of the layers `chosen` together: per-layer candidate indices and scores are
/// concatenated with offsets, `select` picks among them, and the picks are split back per layer.
fn select_global(
    layers: &[LayerTopology],
    chosen: &[usize],
    candidates: fn(&LayerTopology) -> Vec<usize>,
    scores: Vec<Vec<f32>>,
    select: impl FnOnce(&[usize], &[f32]) -> Vec<usize>,
) -> Vec<Vec<usize>> {
    let mut offsets = vec![0usize];
    let mut all_candidates = Vec::new();
    let mut all_scores = Vec::new();
    for (&l, s) in chosen.iter().zip(scores) {
        let offset = all_scores.len();
        all_candidates.extend(candidates(&layers[l]).into_iter().map(|i| i + offset));
        all_scores.extend(s);
        offsets.push(all_scores.len());
    }
    let mut out = vec![Vec::new(); layers.len()];
    for g in select(&all_candidates, &all_scores) {
        let c = offsets.partition_point(|&o| o <= g) - 1;
        out[chosen[c]].push(g - offsets[c]);
    }
    out
}

/// Deactivates the given entries and zeroes their weights.
fn apply_removals(layer: &mut LayerTopology, removed: &[usize]) {
    for &i in removed {
        layer.mask[i] = false;
        layer.weight[i] = 0.0;
    }
}
