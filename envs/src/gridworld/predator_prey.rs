//! Predator-prey pursuit with the capture rule of Böhmer, Kurin and Whiteson 2020 ("Deep Coordination
//! Graphs", ICML; its relative-overgeneralisation pursuit task): a prey is captured only when two or more
//! predators next to it take CAPTURE in the same step, and a lone attempt may be punished, so that the
//! agents must coordinate rather than act greedily.
//!
//! Our rules (the paper's task is 10x10 with 8 predators, 8 prey, a 5x5 view and penalty 2):
//! - The grid is a torus (moves wrap around, as in the paper): no border, so no cell is special.
//! - Actions: NONE, NORTH, SOUTH, WEST, EAST, CAPTURE. A move into a prey's cell is unavailable; CAPTURE is
//!   available next to (4-neighbourhood) a prey.
//! - A step: (1) captures, on the positions at the step start: each prey with two or more CAPTURE-ing
//!   predators next to it leaves the grid and pays `capture_reward` (10), split equally among those
//!   predators; a predator whose CAPTURE took no prey pays `miscapture_penalty` (0, or 2 in `-penalty`
//!   tasks). (2) Predators move: a move succeeds when the target cell was empty at the step start and no
//!   other predator targets it, so predators never share a cell or swap. (3) Each remaining prey, in
//!   index order, stays or moves to a free neighbouring cell, uniformly among those options.
//! - The episode ends when every prey is captured (terminated, solved) or after `max_steps` (truncated).
//! - Observation of a predator: its `(2 sight + 1)^2` view centred on it, two channels (other predators,
//!   prey; 1.0 where present), row-major, channel after channel.
//! - State: every predator's `(row, col)`, then every prey's `(row, col, 1)`, `(-1, -1, 0)` once captured.

use std::collections::BTreeMap;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use super::ascii::Canvas;
use super::{check_joint_action, parse_count, parse_square, MOVES, N_ACTIONS};
use crate::{EnvError, MaObs, MaStep, MultiAgentEnv, Result};

const CAPTURE: usize = 5;

/// A cell: (row, column).
pub type Cell = (usize, usize);

/// The cell one move from `cell` in direction `k` (NORTH, SOUTH, WEST, EAST) on a `size` torus.
fn neighbour(size: usize, (row, col): Cell, k: usize) -> Cell {
    let (dr, dc) = MOVES[k];
    let wrap = |x: usize, d: isize| (x as isize + d).rem_euclid(size as isize) as usize;
    (wrap(row, dr), wrap(col, dc))
}

fn adjacent(size: usize, a: Cell, b: Cell) -> bool {
    (0..4).any(|k| neighbour(size, a, k) == b)
}

/// The parameters of a pursuit game.
#[derive(Debug, Clone, PartialEq)]
pub struct PredatorPreyConfig {
    /// Side of the square torus.
    pub size: usize,
    pub n_predators: usize,
    pub n_prey: usize,
    /// Cells seen in each direction.
    pub sight: usize,
    /// Team reward per captured prey.
    pub capture_reward: f64,
    /// Paid (as a positive number) by a predator whose CAPTURE takes no prey.
    pub miscapture_penalty: f64,
    /// Predators that must CAPTURE together next to a prey.
    pub predators_to_capture: usize,
    pub max_steps: usize,
}

impl PredatorPreyConfig {
    /// The config of `PredatorPrey-{S}x{S}-{N}p-{M}prey[-penalty]`: sight 2, reward 10, penalty 2 with
    /// `-penalty` (Böhmer et al. 2020), two predators per capture, 100 steps.
    pub fn from_id(id: &str) -> Result<Self> {
        let mut parts = id.split('-');
        if parts.next() != Some("PredatorPrey") {
            return Err(EnvError::new(id, "a pursuit id starts with 'PredatorPrey-'"));
        }
        let size = parse_square(id, parts.next().unwrap_or_default())?;
        let n_predators = parse_count(id, parts.next().unwrap_or_default(), "p")?;
        let n_prey = parse_count(id, parts.next().unwrap_or_default(), "prey")?;
        let miscapture_penalty = match parts.next() {
            None => 0.0,
            Some("penalty") if parts.next().is_none() => 2.0,
            Some(flag) => return Err(EnvError::new(id, format!("unknown or misplaced flag '-{flag}'"))),
        };
        Ok(Self {
            size,
            n_predators,
            n_prey,
            sight: 2,
            capture_reward: 10.0,
            miscapture_penalty,
            predators_to_capture: 2,
            max_steps: 100,
        })
    }

    /// The name of this config, used in error messages.
    pub fn id(&self) -> String {
        format!(
            "PredatorPrey-{0}x{0}-{1}p-{2}prey{3}",
            self.size,
            self.n_predators,
            self.n_prey,
            if self.miscapture_penalty != 0.0 {
                "-penalty"
            } else {
                ""
            }
        )
    }

    fn validate(&self) -> Result<()> {
        let fail = |msg: String| Err(EnvError::new(&self.id(), msg));
        if self.size < 3 {
            return fail(format!("size {} must be at least 3", self.size));
        }
        if self.n_predators == 0 || self.n_prey == 0 || self.n_predators + self.n_prey > self.size * self.size
        {
            return fail(format!(
                "{} predators and {} prey must both be at least 1 and fit in {} cells",
                self.n_predators,
                self.n_prey,
                self.size * self.size
            ));
        }
        if self.predators_to_capture == 0 || self.max_steps == 0 {
            return fail("predators_to_capture and max_steps must be at least 1".into());
        }
        if !self.capture_reward.is_finite() || !self.miscapture_penalty.is_finite() {
            return fail("capture_reward and miscapture_penalty must be finite".into());
        }
        Ok(())
    }
}

/// Toroidal predator-prey pursuit (see the module documentation for the rules).
pub struct PredatorPrey {
    id: String,
    config: PredatorPreyConfig,
    rng: StdRng,
    predators: Vec<Cell>,
    /// `None` once captured.
    prey: Vec<Option<Cell>>,
    step: usize,
    done: bool,
    solved: bool,
    avail: Vec<[bool; N_ACTIONS]>,
    /// Per-step scratch: move targets, whether a predator's CAPTURE took a prey, rewards.
    targets: Vec<Cell>,
    captured: Vec<bool>,
    rewards: Vec<f64>,
}

impl PredatorPrey {
    /// A game with `config`, seeded from the OS until `reset(Some(seed))`. Call `reset` before `step`.
    pub fn new(config: PredatorPreyConfig) -> Result<Self> {
        config.validate()?;
        Ok(Self {
            id: config.id(),
            rng: StdRng::from_os_rng(),
            predators: vec![(0, 0); config.n_predators],
            prey: vec![None; config.n_prey],
            step: 0,
            done: true,
            solved: false,
            avail: vec![[false; N_ACTIONS]; config.n_predators],
            targets: vec![(0, 0); config.n_predators],
            captured: vec![false; config.n_predators],
            rewards: vec![0.0; config.n_predators],
            config,
        })
    }

    pub fn config(&self) -> &PredatorPreyConfig {
        &self.config
    }

    /// Predator positions and prey positions (`None` once captured).
    pub fn positions(&self) -> (&[Cell], &[Option<Cell>]) {
        (&self.predators, &self.prey)
    }

    /// Places predators and prey (an episode in progress at step `step`) and returns what the agents
    /// see. Refuses a wrong count, a cell outside the grid, two things on one cell, no prey left or a step
    /// count at the time limit.
    pub fn set_positions(&mut self, predators: &[Cell], prey: &[Option<Cell>], step: usize) -> Result<MaObs> {
        let c = &self.config;
        let fail = |msg: String| Err(EnvError::new(&self.id, msg));
        if predators.len() != c.n_predators || prey.len() != c.n_prey {
            return fail(format!(
                "got {} predators and {} prey, the game has {} and {}",
                predators.len(),
                prey.len(),
                c.n_predators,
                c.n_prey
            ));
        }
        if step >= c.max_steps || prey.iter().all(Option::is_none) {
            return fail(format!("step {step} or the prey left leave nothing to play"));
        }
        let cells: Vec<_> = predators.iter().chain(prey.iter().flatten()).collect();
        for (k, &&(r, col)) in cells.iter().enumerate() {
            if r >= c.size || col >= c.size || cells[..k].contains(&&(r, col)) {
                return fail(format!("cell ({r}, {col}) is outside the grid or taken twice"));
            }
        }
        self.predators.copy_from_slice(predators);
        self.prey.copy_from_slice(prey);
        self.step = step;
        self.done = false;
        self.solved = false;
        self.update_avail();
        Ok(self.observe())
    }

    fn has_prey(&self, cell: Cell) -> bool {
        self.prey.contains(&Some(cell))
    }

    fn occupied(&self, cell: Cell) -> bool {
        self.predators.contains(&cell) || self.has_prey(cell)
    }

    fn random_free_cell(&mut self) -> Cell {
        loop {
            let cell = (
                self.rng.random_range(0..self.config.size),
                self.rng.random_range(0..self.config.size),
            );
            if !self.occupied(cell) {
                return cell;
            }
        }
    }

    fn update_avail(&mut self) {
        for i in 0..self.predators.len() {
            let p = self.predators[i];
            let mut avail = [true; N_ACTIONS];
            for k in 0..4 {
                avail[k + 1] = !self.has_prey(neighbour(self.config.size, p, k));
            }
            avail[CAPTURE] = self
                .prey
                .iter()
                .flatten()
                .any(|&q| adjacent(self.config.size, p, q));
            self.avail[i] = avail;
        }
    }

    fn resolve_captures(&mut self, actions: &[usize]) {
        let size = self.config.size;
        self.captured.fill(false);
        for k in 0..self.prey.len() {
            let Some(q) = self.prey[k] else { continue };
            let attempts = |(p, &a): (&Cell, &usize)| a == CAPTURE && adjacent(size, *p, q);
            let n = self
                .predators
                .iter()
                .zip(actions)
                .filter(|&pa| attempts(pa))
                .count();
            if n < self.config.predators_to_capture {
                continue;
            }
            let share = self.config.capture_reward / n as f64;
            let scores = self.rewards.iter_mut().zip(self.captured.iter_mut());
            for (pa, (reward, captured)) in self.predators.iter().zip(actions).zip(scores) {
                if attempts(pa) {
                    *reward += share;
                    *captured = true;
                }
            }
            self.prey[k] = None;
        }
        for ((&a, reward), captured) in actions.iter().zip(&mut self.rewards).zip(&self.captured) {
            if a == CAPTURE && !captured {
                *reward -= self.config.miscapture_penalty;
            }
        }
    }

    fn move_predators(&mut self, actions: &[usize]) {
        let size = self.config.size;
        for (target, (&p, &a)) in self.targets.iter_mut().zip(self.predators.iter().zip(actions)) {
            *target = match a {
                1..=4 => neighbour(size, p, a - 1),
                _ => p,
            };
        }
        for i in 0..self.predators.len() {
            let t = self.targets[i];
            let free = !self.predators.contains(&t) && !self.has_prey(t);
            if free && self.targets.iter().filter(|&&u| u == t).count() == 1 {
                self.predators[i] = t;
            }
        }
    }

    fn move_prey(&mut self) {
        for k in 0..self.prey.len() {
            let Some(q) = self.prey[k] else { continue };
            let mut options = [q; 5];
            let mut n = 1;
            for dir in 0..4 {
                let cell = neighbour(self.config.size, q, dir);
                if !self.occupied(cell) {
                    options[n] = cell;
                    n += 1;
                }
            }
            self.prey[k] = Some(options[self.rng.random_range(0..n)]);
        }
    }

    /// Predator `i`'s two-channel view, written into `obs` (`obs_dim` long).
    fn observe_agent(&self, i: usize, obs: &mut [f32]) {
        obs.fill(0.0);
        let (n, sight) = (self.config.size, self.config.sight);
        let width = 2 * sight + 1;
        let (me_r, me_c) = self.predators[i];
        // Offsets on the torus, in -sight..=sight when seen; a view wider than the grid sees a thing once.
        let offset = |a: usize, b: usize| (b + n + sight - a) % n;
        let mut mark = |channel: usize, (r, c): Cell| {
            let (dy, dx) = (offset(me_r, r), offset(me_c, c));
            if dy < width && dx < width {
                obs[channel * width * width + dy * width + dx] = 1.0;
            }
        };
        for (j, &p) in self.predators.iter().enumerate() {
            if j != i {
                mark(0, p);
            }
        }
        for &q in self.prey.iter().flatten() {
            mark(1, q);
        }
    }

    fn global_state(&self) -> Vec<f32> {
        let mut state = Vec::with_capacity(self.state_dim());
        for &(r, c) in &self.predators {
            state.extend_from_slice(&[r as f32, c as f32]);
        }
        for q in &self.prey {
            state.extend_from_slice(&match *q {
                Some((r, c)) => [r as f32, c as f32, 1.0],
                None => [-1.0, -1.0, 0.0],
            });
        }
        state
    }

    fn observe(&self) -> MaObs {
        super::joint_obs(
            self.obs_dim(),
            |i, o| self.observe_agent(i, o),
            self.global_state(),
            &self.avail,
        )
    }
}

impl MultiAgentEnv for PredatorPrey {
    fn id(&self) -> &str {
        &self.id
    }

    fn n_agents(&self) -> usize {
        self.config.n_predators
    }

    fn n_actions(&self) -> usize {
        N_ACTIONS
    }

    fn obs_dim(&self) -> usize {
        2 * (2 * self.config.sight + 1).pow(2)
    }

    fn state_dim(&self) -> usize {
        2 * self.config.n_predators + 3 * self.config.n_prey
    }

    fn episode_limit(&self) -> usize {
        self.config.max_steps
    }

    fn reset(&mut self, seed: Option<u64>) -> MaObs {
        if let Some(seed) = seed {
            self.rng = StdRng::seed_from_u64(seed);
        }
        // Park everything off the grid, then place predators and prey on distinct uniform cells.
        let off = (usize::MAX, usize::MAX);
        self.predators.fill(off);
        self.prey.fill(None);
        for i in 0..self.predators.len() {
            self.predators[i] = self.random_free_cell();
        }
        for k in 0..self.prey.len() {
            self.prey[k] = Some(self.random_free_cell());
        }
        self.step = 0;
        self.done = false;
        self.solved = false;
        self.update_avail();
        self.observe()
    }

    fn step(&mut self, actions: &[usize]) -> Result<MaStep> {
        check_joint_action(&self.id, self.done, &self.avail, actions)?;
        self.step += 1;
        self.rewards.fill(0.0);
        self.resolve_captures(actions);
        self.move_predators(actions);
        self.move_prey();
        let terminated = self.prey.iter().all(Option::is_none);
        let truncated = !terminated && self.step >= self.config.max_steps;
        self.done = terminated || truncated;
        self.solved = terminated;
        self.update_avail();
        let mut info = BTreeMap::new();
        if self.done {
            info.insert("solved".to_string(), f64::from(u8::from(terminated)));
        }
        Ok(MaStep {
            obs: self.observe(),
            rewards: self.rewards.clone(),
            team_reward: self.rewards.iter().sum(),
            terminated,
            truncated,
            info,
        })
    }

    fn solved(&self) -> bool {
        self.solved
    }

    /// Predators as letters `A`, `B`, ... (in agent order), prey as `o`, then a step line.
    fn render(&self) -> String {
        let mut canvas = Canvas::new(self.config.size, self.config.size);
        for &(r, c) in self.prey.iter().flatten() {
            canvas.put(r, c, b'o');
        }
        for (i, &(r, c)) in self.predators.iter().enumerate() {
            canvas.put(r, c, b'A' + (i % 26) as u8);
        }
        let left = self.prey.iter().flatten().count();
        canvas.finish(&[format!(
            "{} step {}/{}, {left} of {} prey left",
            self.id, self.step, self.config.max_steps, self.config.n_prey
        )])
    }
}
