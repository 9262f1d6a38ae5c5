//! Level-Based Foraging, following `lbforaging` 2.0 (`lbforaging/foraging/environment.py`, Papoudakis et al.
//! 2021) rule for rule, checked step by step against episodes recorded in lbforaging itself
//! (`envs/tests/fixtures/gridworld/generate.py`).
//!
//! The rules, as lbforaging has them:
//! - Players have levels in `min_player_level..=max_player_level`; food has a level too. A player may
//!   LOAD when food is next to it (4-neighbourhood); the food is collected when the levels of all players
//!   loading next to it in that step add up to at least the food's level. Each of them gets
//!   `level * food_level`, divided by `(sum of their levels) * (total food level spawned)` when the reward
//!   is normalised, so that a whole episode is worth at most 1 to the team. A load that fails costs each of
//!   its players `penalty`.
//! - Moves: a player moves unless two or more players target the same cell (all of them stay; a player
//!   that stays, or loads, targets its own cell). Only food and the border block a move, other players do
//!   not: two players may swap cells, and a player may step onto one that was blocked where it stood, so
//!   that two players share a cell (lbforaging does the same).
//! - Loads are resolved after the moves, loading players taken in index order (lbforaging pops them from a
//!   Python set); each player loads the first food north, south, west or east of it, with every other
//!   loading player next to that food. Food never spawns next to other food (not even diagonally, nor two
//!   cells away in a row or column), so no player is ever next to two foods and the order cannot change
//!   the outcome.
//! - Spawning: players on uniform free cells with uniform levels; then up to `max_num_food` foods in
//!   1,000 rejection-sampling attempts at uniform cells away from the border (rows and columns
//!   `1..size-1`), away from other food, not under a player. Food levels are uniform in
//!   `min_food_level..=max_food_level`, where an unset maximum is the sum of the three lowest player
//!   levels; forced cooperation (`-coop`) gives every food that maximum level.
//! - The episode ends when all food is collected (terminated, solved) or after `max_episode_steps` steps
//!   (truncated; 50 as in EPyMARL's LBF runs).
//! - Observation of agent i (lbforaging's vector observation, `grid_observation=False`): for every food
//!   slot `(y, x, level)`, food seen in row-major order, `(-1, -1, 0)` for slots left over; then
//!   `(y, x, level)` of agent i itself, then of each other player it sees, in index order, `(-1, -1, 0)` for
//!   the rest. Coordinates are relative to the corner of the agent's view, the grid clipped to
//!   `row - sight..=row + sight` (columns alike); a player counts as seen when its coordinates relative to
//!   that corner lie in `0..=2 * sight` (lbforaging's test, which near the top and left border also shows
//!   players a little beyond the food window).
//! - Available actions (lbforaging's `_valid_actions`): NONE always; a move unless it leaves the grid or
//!   enters food; LOAD when food is next to the player.
//!
//! Where this differs from lbforaging: an unavailable action is an error here (lbforaging silently plays
//! NONE), and player spawning avoids only the players placed so far (lbforaging also avoids the players'
//! cells of the previous episode, so that `reset(seed)` there depends on history). Per-player and per-food
//! level ranges (lists in lbforaging) are scalars here, as in all of lbforaging's registered tasks.
//!
//! The global state (for QMIX's mixer) is the full-information observation: every food `(y, x, level)` in
//! row-major order in absolute coordinates, `(-1, -1, 0)` for collected slots, then every player's
//! `(y, x, level)` in index order. It equals what agent 0 sees when the sight covers the whole grid.

use std::collections::BTreeMap;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use super::ascii::{level_char, Canvas};
use super::{check_joint_action, parse_count, parse_square, MOVES, N_ACTIONS};
use crate::{EnvError, MaObs, MaStep, MultiAgentEnv, Result};

const NONE: usize = 0;
const LOAD: usize = 5;
/// lbforaging's budget of food placement attempts per reset.
const FOOD_ATTEMPTS: usize = 1000;

/// The parameters of a Level-Based Foraging game: the keyword arguments of lbforaging's `ForagingEnv`.
#[derive(Debug, Clone, PartialEq)]
pub struct ForagingConfig {
    pub rows: usize,
    pub cols: usize,
    pub n_players: usize,
    /// Number of food items spawned (fewer when placement runs out of attempts) and of food slots in the
    /// observation.
    pub max_num_food: usize,
    pub min_player_level: u32,
    pub max_player_level: u32,
    pub min_food_level: u32,
    /// `None`: the sum of the three lowest player levels of the episode.
    pub max_food_level: Option<u32>,
    /// Cells seen in each direction; the grid size or more sees everything.
    pub sight: usize,
    pub max_episode_steps: usize,
    /// Every food gets the maximum food level, so that the players must load it together.
    pub force_coop: bool,
    pub normalize_reward: bool,
    /// Paid by each player of a failed load.
    pub penalty: f64,
}

impl ForagingConfig {
    /// The config of a task named like lbforaging's gym ids without `-v3`:
    /// `Foraging[-{sight}s]-{S}x{S}-{P}p-{F}f[-coop][-pen]`. Player levels 1..=2, food levels from 1, 50
    /// steps, normalised reward, penalty 0.1 with `-pen` (lbforaging's values).
    pub fn from_id(id: &str) -> Result<Self> {
        let mut parts = id.split('-');
        if parts.next() != Some("Foraging") {
            return Err(EnvError::new(id, "a foraging id starts with 'Foraging-'"));
        }
        let mut part = parts.next().unwrap_or_default();
        let sight = match part.strip_suffix('s') {
            Some(_) => {
                let sight = parse_count(id, part, "s")?;
                part = parts.next().unwrap_or_default();
                Some(sight)
            }
            None => None,
        };
        let size = parse_square(id, part)?;
        let n_players = parse_count(id, parts.next().unwrap_or_default(), "p")?;
        let max_num_food = parse_count(id, parts.next().unwrap_or_default(), "f")?;
        let (mut force_coop, mut penalty) = (false, 0.0);
        for flag in parts {
            match flag {
                "coop" if !force_coop && penalty == 0.0 => force_coop = true,
                "pen" if penalty == 0.0 => penalty = 0.1,
                _ => return Err(EnvError::new(id, format!("unknown or misplaced flag '-{flag}'"))),
            }
        }
        Ok(Self {
            rows: size,
            cols: size,
            n_players,
            max_num_food,
            min_player_level: 1,
            max_player_level: 2,
            min_food_level: 1,
            max_food_level: None,
            sight: sight.unwrap_or(size),
            max_episode_steps: 50,
            force_coop,
            normalize_reward: true,
            penalty,
        })
    }

    /// The lbforaging-style name of this config (`-pen` for any penalty), used in error messages.
    pub fn id(&self) -> String {
        let sight = if self.sight >= self.rows.max(self.cols) {
            String::new()
        } else {
            format!("-{}s", self.sight)
        };
        format!(
            "Foraging{sight}-{}x{}-{}p-{}f{}{}",
            self.rows,
            self.cols,
            self.n_players,
            self.max_num_food,
            if self.force_coop { "-coop" } else { "" },
            if self.penalty != 0.0 { "-pen" } else { "" },
        )
    }

    fn validate(&self) -> Result<()> {
        let id = self.id();
        let fail = |msg: String| Err(EnvError::new(&id, msg));
        if self.rows < 3 || self.cols < 3 {
            return fail(format!(
                "grid {}x{} is too small: food needs a cell off the border",
                self.rows, self.cols
            ));
        }
        if self.n_players == 0 || self.n_players >= self.rows * self.cols {
            return fail(format!(
                "n_players {} must be in 1..{}",
                self.n_players,
                self.rows * self.cols
            ));
        }
        if self.max_num_food == 0 || self.sight == 0 || self.max_episode_steps == 0 {
            return fail("max_num_food, sight and max_episode_steps must be at least 1".into());
        }
        if self.min_player_level == 0 || self.min_player_level > self.max_player_level {
            return fail(format!(
                "player levels {}..={} must be a non-empty range from 1 up",
                self.min_player_level, self.max_player_level
            ));
        }
        let lowest_auto_max = self.min_player_level * self.n_players.min(3) as u32;
        let max_food = self.max_food_level.unwrap_or(lowest_auto_max);
        if self.min_food_level == 0 || (!self.force_coop && self.min_food_level > max_food) {
            return fail(format!(
                "food levels {}..={max_food} must be a non-empty range from 1 up",
                self.min_food_level
            ));
        }
        if !self.penalty.is_finite() || self.penalty < 0.0 {
            return fail(format!(
                "penalty {} must be finite and non-negative",
                self.penalty
            ));
        }
        Ok(())
    }
}

/// A player or a food item: its cell and level.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GridItem {
    pub row: usize,
    pub col: usize,
    pub level: u32,
}

/// A game position that [`Foraging::set_layout`] loads and [`Foraging::layout`] reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ForagingLayout {
    /// One per agent, in agent order.
    pub players: Vec<GridItem>,
    pub food: Vec<GridItem>,
    /// The total food level spawned at the episode start (the reward normaliser); `None`: the sum of
    /// `food`'s levels, i.e. a fresh episode.
    pub food_spawned: Option<u32>,
    /// Steps already played in this episode.
    pub step: usize,
}

/// Level-Based Foraging (see the module documentation for the rules).
pub struct Foraging {
    id: String,
    config: ForagingConfig,
    rng: StdRng,
    /// Food level per cell, row-major; 0 = no food.
    field: Vec<u32>,
    players: Vec<GridItem>,
    food_spawned: u32,
    step: usize,
    done: bool,
    solved: bool,
    avail: Vec<[bool; N_ACTIONS]>,
    /// Per-step scratch: each player's target cell, its loading flag and its reward.
    targets: Vec<(usize, usize)>,
    loading: Vec<bool>,
    rewards: Vec<f64>,
}

impl Foraging {
    /// A game with `config`, seeded from the OS until `reset(Some(seed))`. Call `reset` before `step`.
    pub fn new(config: ForagingConfig) -> Result<Self> {
        config.validate()?;
        let n = config.n_players;
        Ok(Self {
            id: config.id(),
            rng: StdRng::from_os_rng(),
            field: vec![0; config.rows * config.cols],
            players: vec![
                GridItem {
                    row: 0,
                    col: 0,
                    level: 0
                };
                n
            ],
            food_spawned: 0,
            step: 0,
            done: true,
            solved: false,
            avail: vec![[false; N_ACTIONS]; n],
            targets: vec![(0, 0); n],
            loading: vec![false; n],
            rewards: vec![0.0; n],
            config,
        })
    }

    pub fn config(&self) -> &ForagingConfig {
        &self.config
    }

    /// The current position: players, remaining food (row-major), food spawned, steps played.
    pub fn layout(&self) -> ForagingLayout {
        let food = (0..self.field.len())
            .filter(|&i| self.field[i] > 0)
            .map(|i| GridItem {
                row: i / self.config.cols,
                col: i % self.config.cols,
                level: self.field[i],
            })
            .collect();
        ForagingLayout {
            players: self.players.clone(),
            food,
            food_spawned: Some(self.food_spawned),
            step: self.step,
        }
    }

    /// Puts the game in `layout` (an episode in progress) and returns what the agents see. Refuses
    /// positions lbforaging cannot reach: a wrong player count, more food than slots, a cell outside the
    /// grid, food on the border, under a player or twice on a cell, a zero level, no food left, or a step
    /// count at the time limit.
    pub fn set_layout(&mut self, layout: &ForagingLayout) -> Result<MaObs> {
        let c = &self.config;
        let fail = |msg: String| Err(EnvError::new(&self.id, msg));
        if layout.players.len() != c.n_players {
            return fail(format!(
                "layout has {} players, the game {}",
                layout.players.len(),
                c.n_players
            ));
        }
        if layout.food.is_empty() || layout.food.len() > c.max_num_food {
            return fail(format!(
                "layout has {} food, expected 1..={}",
                layout.food.len(),
                c.max_num_food
            ));
        }
        if layout.step >= c.max_episode_steps {
            return fail(format!(
                "layout step {} is at the time limit {}",
                layout.step, c.max_episode_steps
            ));
        }
        for p in &layout.players {
            if p.row >= c.rows || p.col >= c.cols || p.level == 0 {
                return fail(format!(
                    "player {p:?} is outside the {}x{} grid or has level 0",
                    c.rows, c.cols
                ));
            }
        }
        let mut field = vec![0; c.rows * c.cols];
        for f in &layout.food {
            let interior = (1..c.rows - 1).contains(&f.row) && (1..c.cols - 1).contains(&f.col);
            let under_player = layout.players.iter().any(|p| (p.row, p.col) == (f.row, f.col));
            if !interior || f.level == 0 || under_player || field[f.row * c.cols + f.col] != 0 {
                return fail(format!(
                    "food {f:?} must have a level and lie off the border, alone and under no player"
                ));
            }
            field[f.row * c.cols + f.col] = f.level;
        }
        let food_total: u32 = field.iter().sum();
        let food_spawned = layout.food_spawned.unwrap_or(food_total);
        if food_spawned < food_total {
            return fail(format!(
                "food_spawned {food_spawned} is below the food on the grid ({food_total})"
            ));
        }
        self.field = field;
        self.players.copy_from_slice(&layout.players);
        self.food_spawned = food_spawned;
        self.step = layout.step;
        self.done = false;
        self.solved = false;
        self.update_avail();
        Ok(self.observe())
    }

    fn cell(&self, row: usize, col: usize) -> u32 {
        self.field[row * self.config.cols + col]
    }

    fn spawn_players(&mut self) {
        for i in 0..self.players.len() {
            let (rows, cols) = (self.config.rows, self.config.cols);
            let (row, col) = loop {
                let cell = (self.rng.random_range(0..rows), self.rng.random_range(0..cols));
                if !self.players[..i].iter().any(|p| (p.row, p.col) == cell) {
                    break cell;
                }
            };
            let level = self
                .rng
                .random_range(self.config.min_player_level..=self.config.max_player_level);
            self.players[i] = GridItem { row, col, level };
        }
    }

    /// lbforaging's `spawn_food`: rejection sampling with a shared budget of attempts.
    fn spawn_food(&mut self) {
        let mut levels: Vec<u32> = self.players.iter().map(|p| p.level).collect();
        levels.sort_unstable();
        let max_level = self
            .config
            .max_food_level
            .unwrap_or_else(|| levels.iter().take(3).sum());
        let min_level = if self.config.force_coop {
            max_level
        } else {
            self.config.min_food_level
        };
        let (rows, cols) = (self.config.rows, self.config.cols);
        let mut placed = 0;
        for _ in 0..FOOD_ATTEMPTS {
            if placed == self.config.max_num_food {
                break;
            }
            let (row, col) = (
                self.rng.random_range(1..rows - 1),
                self.rng.random_range(1..cols - 1),
            );
            let near_food = (row - 1..=row + 1).any(|r| (col - 1..=col + 1).any(|c| self.cell(r, c) > 0))
                || (row.saturating_sub(2)..=(row + 2).min(rows - 1)).any(|r| self.cell(r, col) > 0)
                || (col.saturating_sub(2)..=(col + 2).min(cols - 1)).any(|c| self.cell(row, c) > 0);
            if near_food || self.players.iter().any(|p| (p.row, p.col) == (row, col)) {
                continue;
            }
            self.field[row * cols + col] = self.rng.random_range(min_level..=max_level);
            placed += 1;
        }
        self.food_spawned = self.field.iter().sum();
    }

    /// The first food north, south, west or east of (row, col), as lbforaging's `adjacent_food_location`.
    fn adjacent_food(&self, row: usize, col: usize) -> Option<(usize, usize)> {
        let (rows, cols) = (self.config.rows as isize, self.config.cols as isize);
        MOVES.iter().find_map(|&(dr, dc)| {
            let (r, c) = (row as isize + dr, col as isize + dc);
            let inside = (0..rows).contains(&r) && (0..cols).contains(&c);
            (inside && self.cell(r as usize, c as usize) > 0).then_some((r as usize, c as usize))
        })
    }

    fn update_avail(&mut self) {
        let (rows, cols) = (self.config.rows as isize, self.config.cols as isize);
        for i in 0..self.players.len() {
            let p = self.players[i];
            let mut avail = [false; N_ACTIONS];
            avail[NONE] = true;
            for (k, &(dr, dc)) in MOVES.iter().enumerate() {
                let (r, c) = (p.row as isize + dr, p.col as isize + dc);
                avail[k + 1] = (0..rows).contains(&r)
                    && (0..cols).contains(&c)
                    && self.cell(r as usize, c as usize) == 0;
            }
            avail[LOAD] = self.adjacent_food(p.row, p.col).is_some();
            self.avail[i] = avail;
        }
    }

    fn move_players(&mut self, actions: &[usize]) {
        for (target, (p, &a)) in self.targets.iter_mut().zip(self.players.iter().zip(actions)) {
            *target = match a {
                1..=4 => {
                    let (dr, dc) = MOVES[a - 1];
                    // In the grid: the action was checked available.
                    ((p.row as isize + dr) as usize, (p.col as isize + dc) as usize)
                }
                _ => (p.row, p.col),
            };
        }
        for i in 0..self.players.len() {
            let t = self.targets[i];
            if self.targets.iter().filter(|&&u| u == t).count() == 1 {
                (self.players[i].row, self.players[i].col) = t;
            }
        }
    }

    /// Collects food; each player of a failed load gets `0 - penalty` (never `-0.0`), as in lbforaging.
    fn resolve_loads(&mut self, actions: &[usize]) {
        for (loading, &a) in self.loading.iter_mut().zip(actions) {
            *loading = a == LOAD;
        }
        for i in 0..self.players.len() {
            if !self.loading[i] {
                continue;
            }
            let p = self.players[i];
            // Loading players do not move and food only goes with every loader next to it: found.
            let Some((fr, fc)) = self.adjacent_food(p.row, p.col) else {
                continue;
            };
            let next_to_food = |q: &GridItem| fr.abs_diff(q.row) + fc.abs_diff(q.col) == 1;
            let group = self
                .players
                .iter()
                .zip(&self.loading)
                .filter(|&(q, &l)| l && next_to_food(q));
            let group_level: u32 = group.map(|(q, _)| q.level).sum();
            let food = self.cell(fr, fc);
            let loaded = group_level >= food;
            for j in 0..self.players.len() {
                if !(self.loading[j] && next_to_food(&self.players[j])) {
                    continue;
                }
                self.loading[j] = false;
                self.rewards[j] = if !loaded {
                    0.0 - self.config.penalty
                } else if self.config.normalize_reward {
                    f64::from(self.players[j].level * food) / f64::from(group_level * self.food_spawned)
                } else {
                    f64::from(self.players[j].level * food)
                };
            }
            if loaded {
                self.field[fr * self.config.cols + fc] = 0;
            }
        }
    }

    /// Agent `i`'s lbforaging vector observation, written into `obs` (zeroed, `obs_dim` long).
    fn observe_agent(&self, i: usize, obs: &mut [f32]) {
        let c = &self.config;
        let me = self.players[i];
        let (r0, c0) = (me.row.saturating_sub(c.sight), me.col.saturating_sub(c.sight));
        let (r1, c1) = (
            (me.row + c.sight + 1).min(c.rows),
            (me.col + c.sight + 1).min(c.cols),
        );
        let (food_slots, player_slots) = obs.split_at_mut(3 * c.max_num_food);
        food_slots
            .chunks_mut(3)
            .for_each(|s| s.copy_from_slice(&[-1.0, -1.0, 0.0]));
        player_slots
            .chunks_mut(3)
            .for_each(|s| s.copy_from_slice(&[-1.0, -1.0, 0.0]));
        let seen_food = (r0..r1).flat_map(|r| (c0..c1).map(move |col| (r, col)));
        let seen_food = seen_food.filter(|&(r, col)| self.cell(r, col) > 0);
        for (slot, (r, col)) in food_slots.chunks_mut(3).zip(seen_food) {
            slot.copy_from_slice(&[(r - r0) as f32, (col - c0) as f32, self.cell(r, col) as f32]);
        }
        let relative = |p: &GridItem| (p.row as isize - r0 as isize, p.col as isize - c0 as isize);
        let window = 0..=2 * c.sight as isize;
        let others = self
            .players
            .iter()
            .enumerate()
            .filter(|&(j, _)| j != i)
            .map(|(_, p)| p);
        let seen = std::iter::once(&me).chain(others.filter(|p| {
            let (y, x) = relative(p);
            window.contains(&y) && window.contains(&x)
        }));
        for (slot, p) in player_slots.chunks_mut(3).zip(seen) {
            let (y, x) = relative(p);
            slot.copy_from_slice(&[y as f32, x as f32, p.level as f32]);
        }
    }

    /// The full-information state: all food row-major in absolute coordinates, then all players.
    fn global_state(&self) -> Vec<f32> {
        let c = &self.config;
        let mut state = vec![0.0; self.obs_dim()];
        let (food_slots, player_slots) = state.split_at_mut(3 * c.max_num_food);
        food_slots
            .chunks_mut(3)
            .for_each(|s| s.copy_from_slice(&[-1.0, -1.0, 0.0]));
        let food = (0..self.field.len()).filter(|&k| self.field[k] > 0);
        for (slot, k) in food_slots.chunks_mut(3).zip(food) {
            slot.copy_from_slice(&[(k / c.cols) as f32, (k % c.cols) as f32, self.field[k] as f32]);
        }
        for (slot, p) in player_slots.chunks_mut(3).zip(&self.players) {
            slot.copy_from_slice(&[p.row as f32, p.col as f32, p.level as f32]);
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

impl MultiAgentEnv for Foraging {
    fn id(&self) -> &str {
        &self.id
    }

    fn n_agents(&self) -> usize {
        self.config.n_players
    }

    fn n_actions(&self) -> usize {
        N_ACTIONS
    }

    fn obs_dim(&self) -> usize {
        3 * (self.config.max_num_food + self.config.n_players)
    }

    fn state_dim(&self) -> usize {
        self.obs_dim()
    }

    fn episode_limit(&self) -> usize {
        self.config.max_episode_steps
    }

    fn reset(&mut self, seed: Option<u64>) -> MaObs {
        if let Some(seed) = seed {
            self.rng = StdRng::seed_from_u64(seed);
        }
        self.field.fill(0);
        self.spawn_players();
        self.spawn_food();
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
        self.move_players(actions);
        self.resolve_loads(actions);
        let terminated = self.field.iter().all(|&f| f == 0);
        let truncated = !terminated && self.step >= self.config.max_episode_steps;
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

    /// Players as letters `A`, `B`, ... (in agent order), food as its level digit, `+` where two things
    /// share a cell, then one legend line per player.
    fn render(&self) -> String {
        let mut canvas = Canvas::new(self.config.rows, self.config.cols);
        for (k, &f) in self.field.iter().enumerate().filter(|(_, &f)| f > 0) {
            canvas.put(k / self.config.cols, k % self.config.cols, level_char(f));
        }
        let mut legend = vec![format!(
            "{} step {}/{}",
            self.id, self.step, self.config.max_episode_steps
        )];
        for (i, p) in self.players.iter().enumerate() {
            let letter = b'A' + (i % 26) as u8;
            canvas.put(p.row, p.col, letter);
            legend.push(format!(
                "{}: level {} at ({}, {})",
                letter as char, p.level, p.row, p.col
            ));
        }
        canvas.finish(&legend)
    }
}
