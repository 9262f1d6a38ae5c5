//! Vector envs: N copies of one env stepped together, with automatic reset.
//!
//! Autoreset follows Gymnasium 1.x's **same-step** mode (`AutoresetMode.SAME_STEP`): when a copy's step
//! ends its episode, the copy is reset in that same call; the step's result carries the reset observation
//! as `obs` (what to act on next) and the episode's last observation as `final_obs`. So a transition for
//! a replay buffer is `(obs_before, action, reward, step.next_obs(), step.terminated)` with no special
//! case, which is what off-policy RL wants.
//!
//! [`SyncVectorEnv`] steps the copies one after the other on the caller's thread;
//! [`ParallelVectorEnv`] splits them into contiguous chunks, one stepped on the caller's thread and the
//! others on a small pool of persistent worker threads that own their chunk.
//! Both give identical results. Seeds: `reset(Some(seed))` seeds copy `i` with `seed + i`.

use std::sync::mpsc::{channel, Receiver, Sender};
use std::thread::JoinHandle;

use crate::{make, Action, Env, EnvError, Info, Obs, Result, Space};

/// One copy's part of a vector step.
#[derive(Debug, Clone, PartialEq)]
pub struct AutoResetStep {
    /// The observation to act on next: the first observation of the new episode where this step ended one.
    pub obs: Obs,
    pub reward: f64,
    pub terminated: bool,
    pub truncated: bool,
    /// The step's info (e.g. the episode statistics on the step that ends an episode).
    pub info: Info,
    /// Where the episode ended: its last observation (Gymnasium's `final_obs`).
    pub final_obs: Option<Obs>,
    /// Where the episode ended: the info of the automatic reset.
    pub reset_info: Option<Info>,
}

impl AutoResetStep {
    /// The observation this step led to (the last one of the episode where it ended): the `next_obs` of
    /// a replay-buffer transition.
    pub fn next_obs(&self) -> &Obs {
        self.final_obs.as_ref().unwrap_or(&self.obs)
    }
}

/// N copies of an env behind one `reset` / `step`.
pub trait VectorEnv {
    /// The copies' env id.
    fn id(&self) -> &str;
    fn num_envs(&self) -> usize;
    /// The observation space of one copy.
    fn single_observation_space(&self) -> &Space;
    /// The action space of one copy.
    fn single_action_space(&self) -> &Space;
    /// Resets every copy; `Some(seed)` seeds copy `i` with `seed + i`.
    fn reset(&mut self, seed: Option<u64>) -> (Vec<Obs>, Vec<Info>);
    /// Steps every copy with its action (one per copy) and resets the copies whose episode ended.
    /// Errors, before any copy moves, on a wrong number of actions or an action outside the space.
    fn step(&mut self, actions: &[Action]) -> Result<Vec<AutoResetStep>>;
}

/// Steps one copy, resetting it (continuing its random stream) if the episode ended.
fn step_with_autoreset(env: &mut dyn Env, action: &Action) -> Result<AutoResetStep> {
    let step = env.step(action)?;
    let (obs, final_obs, reset_info) = if step.terminated || step.truncated {
        let (obs, info) = env.reset(None);
        (obs, Some(step.obs), Some(info))
    } else {
        (step.obs, None, None)
    };
    Ok(AutoResetStep {
        obs,
        reward: step.reward,
        terminated: step.terminated,
        truncated: step.truncated,
        info: step.info,
        final_obs,
        reset_info,
    })
}

/// Resets a chunk of copies whose first one is copy `offset`.
fn reset_chunk(envs: &mut [Box<dyn Env>], seed: Option<u64>, offset: usize) -> Vec<(Obs, Info)> {
    envs.iter_mut()
        .enumerate()
        .map(|(i, env)| env.reset(seed.map(|s| s.wrapping_add((offset + i) as u64))))
        .collect()
}

fn step_chunk(envs: &mut [Box<dyn Env>], actions: &[Action]) -> Result<Vec<AutoResetStep>> {
    envs.iter_mut()
        .zip(actions)
        .map(|(env, action)| step_with_autoreset(env.as_mut(), action))
        .collect()
}

/// What every vector env shares: the copies' id and spaces, and the up-front action check.
#[derive(Debug, Clone)]
struct Spec {
    id: String,
    num_envs: usize,
    observation_space: Space,
    action_space: Space,
}

impl Spec {
    /// Errors on no copies or on copies that differ in id or spaces.
    fn of(envs: &[Box<dyn Env>]) -> Result<Self> {
        let first = envs
            .first()
            .ok_or_else(|| EnvError::new("vector env", "needs at least one env, got 0"))?;
        let spec = Spec {
            id: first.id().to_string(),
            num_envs: envs.len(),
            observation_space: first.observation_space(),
            action_space: first.action_space(),
        };
        for (i, env) in envs.iter().enumerate() {
            if env.id() != spec.id
                || env.observation_space() != spec.observation_space
                || env.action_space() != spec.action_space
            {
                return Err(EnvError::new(
                    &spec.id,
                    format!(
                        "vector env copy {i} ({}) differs from copy 0 in id or spaces",
                        env.id()
                    ),
                ));
            }
        }
        Ok(spec)
    }

    fn check(&self, actions: &[Action]) -> Result<()> {
        if actions.len() != self.num_envs {
            return Err(EnvError::new(
                &self.id,
                format!(
                    "got {} actions for {} vector env copies",
                    actions.len(),
                    self.num_envs
                ),
            ));
        }
        actions
            .iter()
            .try_for_each(|a| self.action_space.check(&self.id, a))
    }
}

fn build(id: &str, num_envs: usize) -> Result<Vec<Box<dyn Env>>> {
    (0..num_envs).map(|_| make(id)).collect()
}

/// Steps the copies in turn on the caller's thread (Gymnasium's `SyncVectorEnv`).
pub struct SyncVectorEnv {
    spec: Spec,
    envs: Vec<Box<dyn Env>>,
}

impl SyncVectorEnv {
    /// `num_envs` copies of the registered env `id`.
    pub fn new(id: &str, num_envs: usize) -> Result<Self> {
        Self::from_envs(build(id, num_envs)?)
    }

    /// Copies built by the caller (e.g. wrapped); they must share id and spaces.
    pub fn from_envs(envs: Vec<Box<dyn Env>>) -> Result<Self> {
        Ok(Self {
            spec: Spec::of(&envs)?,
            envs,
        })
    }

    pub fn envs(&self) -> &[Box<dyn Env>] {
        &self.envs
    }
}

impl VectorEnv for SyncVectorEnv {
    fn id(&self) -> &str {
        &self.spec.id
    }
    fn num_envs(&self) -> usize {
        self.spec.num_envs
    }
    fn single_observation_space(&self) -> &Space {
        &self.spec.observation_space
    }
    fn single_action_space(&self) -> &Space {
        &self.spec.action_space
    }

    fn reset(&mut self, seed: Option<u64>) -> (Vec<Obs>, Vec<Info>) {
        reset_chunk(&mut self.envs, seed, 0).into_iter().unzip()
    }

    fn step(&mut self, actions: &[Action]) -> Result<Vec<AutoResetStep>> {
        self.spec.check(actions)?;
        step_chunk(&mut self.envs, actions)
    }
}

enum Command {
    Reset(Option<u64>),
    Step(Vec<Action>),
}

enum Reply {
    Reset(Vec<(Obs, Info)>),
    Step(Result<Vec<AutoResetStep>>),
}

/// A thread that owns the copies `offset..offset + len` and serves commands until its channel closes.
struct Worker {
    offset: usize,
    len: usize,
    commands: Sender<Command>,
    replies: Receiver<Reply>,
    handle: Option<JoinHandle<()>>,
}

impl Worker {
    fn spawn(mut envs: Vec<Box<dyn Env>>, offset: usize) -> Self {
        let (commands, command_rx) = channel::<Command>();
        let (reply_tx, replies) = channel::<Reply>();
        let len = envs.len();
        let handle = std::thread::spawn(move || {
            for command in command_rx {
                let reply = match command {
                    Command::Reset(seed) => Reply::Reset(reset_chunk(&mut envs, seed, offset)),
                    Command::Step(actions) => Reply::Step(step_chunk(&mut envs, &actions)),
                };
                if reply_tx.send(reply).is_err() {
                    break;
                }
            }
        });
        Self {
            offset,
            len,
            commands,
            replies,
            handle: Some(handle),
        }
    }

    fn send(&self, command: Command) {
        self.commands
            .send(command)
            .expect("vector env worker thread stopped (an env panicked)");
    }

    fn receive(&self) -> Reply {
        self.replies
            .recv()
            .expect("vector env worker thread stopped (an env panicked)")
    }
}

/// Steps contiguous chunks of copies on `threads` threads: the caller's thread steps the first chunk
/// while `threads - 1` persistent workers step the others; results equal [`SyncVectorEnv`]'s. Use enough
/// copies per thread that a chunk outweighs the hand-over to a worker (microseconds; a classic-control
/// step takes ~0.1 µs).
pub struct ParallelVectorEnv {
    spec: Spec,
    /// The first chunk, stepped on the caller's thread.
    local: Vec<Box<dyn Env>>,
    workers: Vec<Worker>,
}

impl ParallelVectorEnv {
    /// `num_envs` copies of the registered env `id` on `threads` worker threads (at most one per copy).
    pub fn new(id: &str, num_envs: usize, threads: usize) -> Result<Self> {
        Self::from_envs(build(id, num_envs)?, threads)
    }

    /// Copies built by the caller; they must share id and spaces. Errors on `threads == 0`.
    pub fn from_envs(envs: Vec<Box<dyn Env>>, threads: usize) -> Result<Self> {
        let spec = Spec::of(&envs)?;
        if threads == 0 {
            return Err(EnvError::new(
                &spec.id,
                "ParallelVectorEnv needs at least 1 thread, got 0",
            ));
        }
        let threads = threads.min(envs.len());
        // Chunk sizes differ by at most one.
        let chunk_len = |offset: usize, t: usize| (spec.num_envs - offset) / (threads - t);
        let mut rest = envs;
        let tail = rest.split_off(chunk_len(0, 0));
        let local = std::mem::replace(&mut rest, tail);
        let mut offset = local.len();
        let mut workers = Vec::with_capacity(threads - 1);
        for t in 1..threads {
            let tail = rest.split_off(chunk_len(offset, t));
            let chunk = std::mem::replace(&mut rest, tail);
            let len = chunk.len();
            workers.push(Worker::spawn(chunk, offset));
            offset += len;
        }
        Ok(Self { spec, local, workers })
    }

    /// Threads stepping copies, the caller's included.
    pub fn num_threads(&self) -> usize {
        self.workers.len() + 1
    }
}

impl VectorEnv for ParallelVectorEnv {
    fn id(&self) -> &str {
        &self.spec.id
    }
    fn num_envs(&self) -> usize {
        self.spec.num_envs
    }
    fn single_observation_space(&self) -> &Space {
        &self.spec.observation_space
    }
    fn single_action_space(&self) -> &Space {
        &self.spec.action_space
    }

    fn reset(&mut self, seed: Option<u64>) -> (Vec<Obs>, Vec<Info>) {
        for worker in &self.workers {
            worker.send(Command::Reset(seed));
        }
        let mut all = Vec::with_capacity(self.spec.num_envs);
        all.extend(reset_chunk(&mut self.local, seed, 0));
        for worker in &self.workers {
            match worker.receive() {
                Reply::Reset(chunk) => all.extend(chunk),
                Reply::Step(_) => unreachable!("a worker answers a reset with a reset"),
            }
        }
        all.into_iter().unzip()
    }

    fn step(&mut self, actions: &[Action]) -> Result<Vec<AutoResetStep>> {
        self.spec.check(actions)?;
        for worker in &self.workers {
            let chunk = actions[worker.offset..worker.offset + worker.len].to_vec();
            worker.send(Command::Step(chunk));
        }
        let local_len = self.local.len();
        let mut result = step_chunk(&mut self.local, &actions[..local_len]);
        if let Ok(all) = &mut result {
            all.reserve(self.spec.num_envs - local_len);
        }
        // Collect every reply (even after an error) so that no answer is left queued for the next call.
        for worker in &self.workers {
            match (worker.receive(), &mut result) {
                (Reply::Step(Ok(chunk)), Ok(all)) => all.extend(chunk),
                (Reply::Step(Err(e)), Ok(_)) => result = Err(e),
                (Reply::Step(_), Err(_)) => {}
                (Reply::Reset(_), _) => unreachable!("a worker answers a step with a step"),
            }
        }
        result
    }
}

impl Drop for ParallelVectorEnv {
    fn drop(&mut self) {
        for worker in std::mem::take(&mut self.workers) {
            let Worker { commands, handle, .. } = worker;
            drop(commands);
            if let Some(handle) = handle {
                // A worker that panicked already reported it through a failed `receive`.
                let _ = handle.join();
            }
        }
    }
}
