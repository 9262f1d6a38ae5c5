//! The episode replay buffer of PyMARL/EPyMARL (`src/components/episode_buffer.py`): whole episodes, at most
//! `capacity` of them (the oldest dropped first), sampled as a batch of episodes padded to the longest one,
//! with a `filled` mask marking the real steps. MAST's dual replay (Hu et al. 2024) is [`Sampler::Hybrid`]:
//! a fixed share of each batch comes from the most recent episodes (the "small buffer"), the rest from the
//! whole buffer; both views hold every episode, so one ring serves both.

use std::collections::VecDeque;
use std::io::{Read, Write};

use rand::seq::index::sample;
use rand::Rng;
use sparse_rl_envs::MaObs;

use crate::binary::{invalid, read_f32s, read_header, read_u64, write_f32s, write_header, write_u64};

/// The sizes of an episode's records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EpisodeShape {
    pub n_agents: usize,
    pub obs_dim: usize,
    pub state_dim: usize,
    pub n_actions: usize,
}

/// One stored episode of `len` steps: `len + 1` observations, states and availability masks (the last
/// observation included, for the bootstrap), `len` joint actions and team rewards.
#[derive(Debug, Clone, PartialEq)]
pub struct Episode {
    obs: Vec<f32>,
    state: Vec<f32>,
    /// 1.0 where the action is available.
    avail: Vec<f32>,
    actions: Vec<f32>,
    rewards: Vec<f32>,
    /// Whether the episode ended by termination (not by the time limit).
    terminated: bool,
}

impl Episode {
    /// Steps recorded.
    pub fn len(&self) -> usize {
        self.rewards.len()
    }

    pub fn is_empty(&self) -> bool {
        self.rewards.is_empty()
    }
}

/// Builds an [`Episode`] step by step while it is played.
#[derive(Debug, Clone)]
pub struct EpisodeRecorder {
    episode: Episode,
}

impl EpisodeRecorder {
    pub fn new() -> Self {
        Self {
            episode: Episode {
                obs: Vec::new(),
                state: Vec::new(),
                avail: Vec::new(),
                actions: Vec::new(),
                rewards: Vec::new(),
                terminated: false,
            },
        }
    }

    /// Records the observation a joint action was chosen from, the action and the team reward it earned.
    pub fn push(&mut self, obs: &MaObs, actions: &[usize], reward: f64) {
        self.push_obs(obs);
        let e = &mut self.episode;
        e.actions.extend(actions.iter().map(|&a| a as f32));
        e.rewards.push(reward as f32);
    }

    /// Closes the episode with its last observation; `terminated` when it ended by termination.
    pub fn finish(mut self, last: &MaObs, terminated: bool) -> Episode {
        self.push_obs(last);
        self.episode.terminated = terminated;
        self.episode
    }

    fn push_obs(&mut self, obs: &MaObs) {
        let e = &mut self.episode;
        e.obs.extend(obs.obs.iter().flatten());
        e.state.extend(&obs.state);
        e.avail.extend(
            obs.avail_actions
                .iter()
                .flatten()
                .map(|&ok| f32::from(u8::from(ok))),
        );
    }
}

impl Default for EpisodeRecorder {
    fn default() -> Self {
        Self::new()
    }
}

/// How the episodes of a batch are drawn.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Sampler {
    /// Uniformly without replacement over the whole buffer (EPyMARL).
    Uniform,
    /// MAST's dual replay: `round(recent_fraction · batch)` episodes without replacement among the
    /// `recent` newest, the rest without replacement over the whole buffer.
    Hybrid { recent: usize, recent_fraction: f64 },
}

/// A batch of `size` episodes padded to `t_len` steps, row-major flat arrays ready to become tensors.
/// Padded steps have zero observations and rewards, every action available, `filled` = 0.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct EpisodeBatch {
    pub size: usize,
    pub t_len: usize,
    /// `[B, T + 1, n_agents, obs_dim]`.
    pub obs: Vec<f32>,
    /// `[B, T + 1, state_dim]`.
    pub state: Vec<f32>,
    /// `[B, T + 1, n_agents, n_actions]`, 1.0 where available.
    pub avail: Vec<f32>,
    /// `[B, T, n_agents]`, action indices.
    pub actions: Vec<f32>,
    /// `[B, T]`.
    pub rewards: Vec<f32>,
    /// `[B, T]`, 1.0 at the last step of a terminated episode.
    pub terminated: Vec<f32>,
    /// `[B, T]`, 1.0 on real steps.
    pub filled: Vec<f32>,
    /// Buffer positions of the sampled episodes (0 = oldest).
    pub indices: Vec<usize>,
}

/// A ring of whole episodes.
#[derive(Debug, Clone, PartialEq)]
pub struct EpisodeBuffer {
    shape: EpisodeShape,
    capacity: usize,
    episodes: VecDeque<Episode>,
}

impl EpisodeBuffer {
    pub fn new(capacity: usize, shape: EpisodeShape) -> Self {
        Self {
            shape,
            capacity,
            episodes: VecDeque::with_capacity(capacity.min(1024)),
        }
    }

    pub fn len(&self) -> usize {
        self.episodes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.episodes.is_empty()
    }

    /// Stores an episode, dropping the oldest when full.
    pub fn push(&mut self, episode: Episode) {
        if self.episodes.len() == self.capacity {
            self.episodes.pop_front();
        }
        self.episodes.push_back(episode);
    }

    /// Buffer positions (0 = oldest) of a batch of `size` episodes drawn by `sampler`. Needs `size` ≤ len.
    pub fn sample_indices(&self, size: usize, sampler: Sampler, rng: &mut impl Rng) -> Vec<usize> {
        let len = self.len();
        assert!(size <= len, "sampling {size} episodes from {len}");
        match sampler {
            Sampler::Uniform => sample(rng, len, size).into_vec(),
            Sampler::Hybrid {
                recent,
                recent_fraction,
            } => {
                let recent = recent.min(len);
                let n_recent = ((recent_fraction * size as f64).round() as usize).min(recent);
                let first_recent = len - recent;
                let mut picked: Vec<usize> = sample(rng, recent, n_recent)
                    .into_iter()
                    .map(|i| first_recent + i)
                    .collect();
                // The rest from the whole buffer without the episodes already picked, so the batch never
                // holds an episode twice (EPyMARL samples without replacement).
                let mut taken = vec![false; len];
                picked.iter().for_each(|&i| taken[i] = true);
                let rest: Vec<usize> = (0..len).filter(|&i| !taken[i]).collect();
                picked.extend(
                    sample(rng, rest.len(), size - n_recent)
                        .into_iter()
                        .map(|i| rest[i]),
                );
                picked
            }
        }
    }

    /// The padded batch of the episodes at `indices`, cut to the longest of them.
    pub fn batch(&self, indices: &[usize]) -> EpisodeBatch {
        let s = self.shape;
        let t_len = indices.iter().map(|&i| self.episodes[i].len()).max().unwrap_or(0);
        let (na, no, nsd, nact) = (s.n_agents, s.obs_dim, s.state_dim, s.n_actions);
        let mut b = EpisodeBatch {
            size: indices.len(),
            t_len,
            ..EpisodeBatch::default()
        };
        for &i in indices {
            let e = &self.episodes[i];
            let (len, pad) = (e.len(), t_len - e.len());
            b.obs.extend(&e.obs);
            b.obs.extend(std::iter::repeat_n(0.0, pad * na * no));
            b.state.extend(&e.state);
            b.state.extend(std::iter::repeat_n(0.0, pad * nsd));
            b.avail.extend(&e.avail);
            b.avail.extend(std::iter::repeat_n(1.0, pad * na * nact));
            b.actions.extend(&e.actions);
            b.actions.extend(std::iter::repeat_n(0.0, pad * na));
            b.rewards.extend(&e.rewards);
            b.rewards.extend(std::iter::repeat_n(0.0, pad));
            b.terminated
                .extend((0..t_len).map(|t| f32::from(u8::from(e.terminated && t + 1 == len))));
            b.filled.extend((0..t_len).map(|t| f32::from(u8::from(t < len))));
        }
        b.indices = indices.to_vec();
        b
    }

    /// Writes the buffer in a little-endian binary form (for checkpoints): the magic `SRLEPISO`, the
    /// format version (u32), capacity, the four shape sizes and the episode count (u64 each), then per
    /// episode its `terminated` flag and each field as a length (u64) and f32s.
    pub fn write_to(&self, w: &mut impl Write) -> std::io::Result<()> {
        write_header(w, MAGIC, VERSION)?;
        let s = self.shape;
        for n in [
            self.capacity,
            s.n_agents,
            s.obs_dim,
            s.state_dim,
            s.n_actions,
            self.len(),
        ] {
            write_u64(w, n)?;
        }
        for e in &self.episodes {
            write_u64(w, usize::from(e.terminated))?;
            for v in [&e.obs, &e.state, &e.avail, &e.actions, &e.rewards] {
                write_u64(w, v.len())?;
                write_f32s(w, v)?;
            }
        }
        Ok(())
    }

    /// Reads what [`EpisodeBuffer::write_to`] wrote into a buffer of `like`'s capacity and shape (the run's
    /// own). A foreign layout, another version, or episodes whose fields disagree with their length or hold
    /// actions outside the action set are errors; field lengths are trusted only as far as the bytes go.
    pub fn read_from(r: &mut impl Read, like: &Self) -> std::io::Result<Self> {
        read_header(r, MAGIC, VERSION, "an episode buffer")?;
        let mut header = [0usize; 6];
        for h in header.iter_mut() {
            *h = read_u64(r)?;
        }
        let [capacity, n_agents, obs_dim, state_dim, n_actions, len] = header;
        let shape = EpisodeShape {
            n_agents,
            obs_dim,
            state_dim,
            n_actions,
        };
        if capacity != like.capacity || shape != like.shape {
            return Err(invalid(format!(
                "episode buffer of capacity {capacity} and shape {shape:?}; the run's config has {} and {:?}",
                like.capacity, like.shape
            )));
        }
        if len > capacity {
            return Err(invalid(format!(
                "corrupt episode buffer header ({len} episodes, capacity {capacity})"
            )));
        }
        let mut buf = Self::new(capacity, shape);
        for k in 0..len {
            let terminated = match read_u64(r)? {
                0 => false,
                1 => true,
                t => return Err(invalid(format!("episode {k}: terminated flag {t}"))),
            };
            let mut fields: [Vec<f32>; 5] = Default::default();
            for v in fields.iter_mut() {
                let n = read_u64(r)?;
                *v = read_f32s(r, n)?;
            }
            let [obs, state, avail, actions, rewards] = fields;
            let episode = Episode {
                obs,
                state,
                avail,
                actions,
                rewards,
                terminated,
            };
            check_episode(&episode, shape).map_err(|e| invalid(format!("episode {k}: {e}")))?;
            buf.push(episode);
        }
        Ok(buf)
    }
}

const MAGIC: &[u8; 8] = b"SRLEPISO";
const VERSION: u32 = 1;

/// An episode's fields must fit its length and the shape, and its actions must index the action set
/// (they become tensor indices).
fn check_episode(e: &Episode, s: EpisodeShape) -> Result<(), String> {
    let steps = e.len();
    let sizes = [
        ("observations", e.obs.len(), (steps + 1) * s.n_agents * s.obs_dim),
        ("states", e.state.len(), (steps + 1) * s.state_dim),
        (
            "availability",
            e.avail.len(),
            (steps + 1) * s.n_agents * s.n_actions,
        ),
        ("actions", e.actions.len(), steps * s.n_agents),
    ];
    if steps == 0 {
        return Err("no steps".into());
    }
    if let Some((field, got, want)) = sizes.iter().find(|(_, got, want)| got != want) {
        return Err(format!("{got} {field} values for {steps} steps, expected {want}"));
    }
    if let Some(a) = e
        .actions
        .iter()
        .find(|&&a| !(a >= 0.0 && a < s.n_actions as f32 && a.fract() == 0.0))
    {
        return Err(format!("action {a} outside 0..{}", s.n_actions));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    const SHAPE: EpisodeShape = EpisodeShape {
        n_agents: 2,
        obs_dim: 3,
        state_dim: 4,
        n_actions: 2,
    };

    /// An episode of `len` steps whose every observation, state and reward value is `tag`.
    fn episode(len: usize, terminated: bool, tag: f32) -> Episode {
        let obs = MaObs {
            obs: vec![vec![tag; 3]; 2],
            state: vec![tag; 4],
            avail_actions: vec![vec![true, false]; 2],
        };
        let mut rec = EpisodeRecorder::new();
        for _ in 0..len {
            rec.push(&obs, &[0, 0], f64::from(tag));
        }
        rec.finish(&obs, terminated)
    }

    #[test]
    fn batches_are_padded_with_masks_cut_to_the_longest_episode() {
        let mut buf = EpisodeBuffer::new(10, SHAPE);
        buf.push(episode(2, true, 7.0));
        buf.push(episode(4, false, 9.0));
        buf.push(episode(6, false, 5.0));
        let b = buf.batch(&[0, 1]);
        assert_eq!((b.size, b.t_len), (2, 4));
        assert_eq!(b.filled, vec![1., 1., 0., 0., 1., 1., 1., 1.]);
        assert_eq!(b.terminated, vec![0., 1., 0., 0., 0., 0., 0., 0.]);
        assert_eq!(b.rewards, vec![7., 7., 0., 0., 9., 9., 9., 9.]);
        // 2 + 1 real observations of episode 0, then padding up to T + 1 = 5.
        let per_step = SHAPE.n_agents * SHAPE.obs_dim;
        assert_eq!(b.obs.len(), 2 * 5 * per_step);
        assert!(b.obs[..3 * per_step].iter().all(|&x| x == 7.0));
        assert!(b.obs[3 * per_step..5 * per_step].iter().all(|&x| x == 0.0));
        assert_eq!(b.state.len(), 2 * 5 * SHAPE.state_dim);
        // Real steps keep their availability; padded steps have every action available.
        let avail_step = SHAPE.n_agents * SHAPE.n_actions;
        assert_eq!(&b.avail[..avail_step], &[1., 0., 1., 0.]);
        assert!(b.avail[3 * avail_step..5 * avail_step].iter().all(|&x| x == 1.0));
        assert_eq!(b.actions.len(), 2 * 4 * SHAPE.n_agents);
    }

    #[test]
    fn the_ring_drops_the_oldest_episode() {
        let mut buf = EpisodeBuffer::new(3, SHAPE);
        for tag in 0..5 {
            buf.push(episode(1, false, tag as f32));
        }
        assert_eq!(buf.len(), 3);
        assert_eq!(buf.batch(&[0]).rewards, vec![2.0]);
    }

    #[test]
    fn a_hybrid_batch_never_holds_an_episode_twice() {
        // 32 of 40 episodes, half from the 20 newest: drawing the rest from the whole buffer would repeat
        // a recent episode in almost every batch.
        let mut buf = EpisodeBuffer::new(40, SHAPE);
        for tag in 0..40 {
            buf.push(episode(1, false, tag as f32));
        }
        let mut rng = rand_pcg::Pcg64Mcg::seed_from_u64(3);
        let sampler = Sampler::Hybrid {
            recent: 20,
            recent_fraction: 0.5,
        };
        for _ in 0..100 {
            let mut idx = buf.sample_indices(32, sampler, &mut rng);
            assert!(idx[..16].iter().all(|&i| i >= 20), "{idx:?}");
            idx.sort_unstable();
            idx.dedup();
            assert_eq!(idx.len(), 32);
        }
    }

    #[test]
    fn hybrid_sampling_keeps_its_ratio_and_draws_recent_episodes() {
        let mut buf = EpisodeBuffer::new(1000, SHAPE);
        for tag in 0..1000 {
            buf.push(episode(1, false, tag as f32));
        }
        let mut rng = rand_pcg::Pcg64Mcg::seed_from_u64(1);
        let sampler = Sampler::Hybrid {
            recent: 50,
            recent_fraction: 0.25,
        };
        let mut in_recent = 0;
        for _ in 0..200 {
            let idx = buf.sample_indices(32, sampler, &mut rng);
            assert_eq!(idx.len(), 32);
            // The first round(0.25 · 32) = 8 come from the 50 newest, without repeats.
            let mut head = idx[..8].to_vec();
            assert!(head.iter().all(|&i| i >= 950), "{head:?}");
            head.sort_unstable();
            head.dedup();
            assert_eq!(head.len(), 8);
            in_recent += idx.iter().filter(|&&i| i >= 950).count();
        }
        // Expected share of recent episodes: 8/32 + 24/32 · 42/992 = 0.2818 (the rest is drawn from the
        // 992 episodes not picked yet); uniform would give 0.05.
        let share = in_recent as f64 / (200.0 * 32.0);
        assert!((share - 0.2818).abs() < 0.02, "{share}");
        let uniform = buf.sample_indices(32, Sampler::Uniform, &mut rng);
        let mut sorted = uniform.clone();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(sorted.len(), 32, "uniform sampling is without replacement");
    }

    #[test]
    fn binary_round_trip_is_exact() {
        let mut buf = EpisodeBuffer::new(4, SHAPE);
        buf.push(episode(2, true, 1.5));
        buf.push(episode(3, false, -2.0));
        let mut bytes = Vec::new();
        buf.write_to(&mut bytes).unwrap();
        let like = EpisodeBuffer::new(4, SHAPE);
        assert_eq!(
            EpisodeBuffer::read_from(&mut bytes.as_slice(), &like).unwrap(),
            buf
        );
        assert!(EpisodeBuffer::read_from(&mut &bytes[..30], &like).is_err());
    }

    /// Damaged lengths, flags, actions or a foreign shape are errors, never a panic or a huge allocation.
    #[test]
    fn a_damaged_or_foreign_file_is_an_error() {
        let mut buf = EpisodeBuffer::new(4, SHAPE);
        buf.push(episode(2, true, 1.5));
        let mut bytes = Vec::new();
        buf.write_to(&mut bytes).unwrap();
        let like = EpisodeBuffer::new(4, SHAPE);
        let other = EpisodeBuffer::new(5, SHAPE);
        let err = EpisodeBuffer::read_from(&mut bytes.as_slice(), &other).unwrap_err();
        assert!(err.to_string().contains("capacity 4"), "{err}");
        let header = 12 + 6 * 8;
        let damage = |at: usize, value: u64| {
            let mut b = bytes.clone();
            b[at..at + 8].copy_from_slice(&value.to_le_bytes());
            EpisodeBuffer::read_from(&mut b.as_slice(), &like)
        };
        assert!(damage(header, 7).is_err(), "terminated flag");
        assert!(damage(header + 8, u64::MAX / 2).is_err(), "huge field length");
        assert!(damage(header + 8, 3).is_err(), "field length against the steps");
        let actions_at = bytes.len() - 8 - 2 * 4 - 2 * SHAPE.n_agents * 4;
        let mut b = bytes.clone();
        b[actions_at..actions_at + 4].copy_from_slice(&9.0f32.to_le_bytes());
        let err = EpisodeBuffer::read_from(&mut b.as_slice(), &like).unwrap_err();
        assert!(err.to_string().contains("action 9"), "{err}");
    }
}
