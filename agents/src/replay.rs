//! Uniform experience replay of single-agent transitions, stored in flat `f32` arrays (one allocation per
//! field, no per-transition boxing) and saved in a small binary form so a resumed run samples the same batches.
//!
//! The arrays grow as transitions arrive, up to the capacity: a run (and its checkpoints) holds only what it
//! has collected, not `buffer_size` slots from the first step.

use std::io::{Read, Write};

use rand::Rng;

use crate::binary::{invalid, read_f32s, read_header, read_u64, write_f32s, write_header, write_u64};

/// One transition. `terminated` (not `truncated`) stops bootstrapping, as in CleanRL / Gymnasium 1.x.
pub struct Transition<'a> {
    pub obs: &'a [f32],
    pub action: &'a [f32],
    pub reward: f32,
    pub next_obs: &'a [f32],
    pub terminated: bool,
}

/// A batch in row-major flat arrays, ready to become tensors.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Batch {
    pub size: usize,
    pub obs: Vec<f32>,
    pub actions: Vec<f32>,
    pub rewards: Vec<f32>,
    pub next_obs: Vec<f32>,
    /// 1.0 where the transition ended the MDP.
    pub terminated: Vec<f32>,
}

/// A ring buffer of `capacity` transitions.
#[derive(Debug, Clone, PartialEq)]
pub struct ReplayBuffer {
    capacity: usize,
    obs_dim: usize,
    action_dim: usize,
    len: usize,
    next: usize,
    obs: Vec<f32>,
    actions: Vec<f32>,
    rewards: Vec<f32>,
    next_obs: Vec<f32>,
    terminated: Vec<f32>,
}

impl ReplayBuffer {
    /// `action_dim` is 1 for discrete actions (the index stored as a float).
    pub fn new(capacity: usize, obs_dim: usize, action_dim: usize) -> Self {
        assert!(capacity > 0, "replay capacity must be positive");
        Self {
            capacity,
            obs_dim,
            action_dim,
            len: 0,
            next: 0,
            obs: Vec::new(),
            actions: Vec::new(),
            rewards: Vec::new(),
            next_obs: Vec::new(),
            terminated: Vec::new(),
        }
    }

    /// Bytes that `capacity` transitions of these sizes hold once the buffer is full (`None` if that
    /// overflows): what a config must leave room for.
    pub fn full_bytes(capacity: usize, obs_dim: usize, action_dim: usize) -> Option<usize> {
        let floats = obs_dim.checked_mul(2)?.checked_add(action_dim)?.checked_add(2)?;
        capacity.checked_mul(floats)?.checked_mul(4)
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Adds a transition, overwriting the oldest when full.
    pub fn push(&mut self, t: Transition<'_>) {
        assert_eq!(t.obs.len(), self.obs_dim, "observation length");
        assert_eq!(t.action.len(), self.action_dim, "action length");
        let terminated = if t.terminated { 1.0 } else { 0.0 };
        if self.len < self.capacity {
            // Not yet full: the slots are filled in order, so `next == len` and the arrays grow by one.
            self.obs.extend_from_slice(t.obs);
            self.next_obs.extend_from_slice(t.next_obs);
            self.actions.extend_from_slice(t.action);
            self.rewards.push(t.reward);
            self.terminated.push(terminated);
            self.len += 1;
        } else {
            let i = self.next;
            let (o, a) = (self.obs_dim, self.action_dim);
            self.obs[i * o..(i + 1) * o].copy_from_slice(t.obs);
            self.next_obs[i * o..(i + 1) * o].copy_from_slice(t.next_obs);
            self.actions[i * a..(i + 1) * a].copy_from_slice(t.action);
            self.rewards[i] = t.reward;
            self.terminated[i] = terminated;
        }
        self.next = (self.next + 1) % self.capacity;
    }

    /// Samples `size` transitions uniformly with replacement into `batch` (reusing its allocations).
    pub fn sample_into(&self, size: usize, rng: &mut impl Rng, batch: &mut Batch) {
        assert!(self.len > 0, "sampling from an empty replay buffer");
        self.gather(size, (0..size).map(|_| rng.random_range(0..self.len)), batch);
    }

    /// The `min(size, len)` most recent transitions, newest first, into `batch`: a fixed batch for
    /// diagnostics that draws nothing from a random stream.
    pub fn recent_into(&self, size: usize, batch: &mut Batch) {
        let n = size.min(self.len);
        let newest = self.next + self.capacity - 1;
        self.gather(n, (0..n).map(|k| (newest - k) % self.capacity), batch);
    }

    /// Copies the transitions at `slots` (`size` of them) into `batch`.
    fn gather(&self, size: usize, slots: impl Iterator<Item = usize>, batch: &mut Batch) {
        let (o, a) = (self.obs_dim, self.action_dim);
        batch.size = size;
        for v in [
            &mut batch.obs,
            &mut batch.actions,
            &mut batch.rewards,
            &mut batch.next_obs,
            &mut batch.terminated,
        ] {
            v.clear();
        }
        for i in slots {
            batch.obs.extend_from_slice(&self.obs[i * o..(i + 1) * o]);
            batch
                .next_obs
                .extend_from_slice(&self.next_obs[i * o..(i + 1) * o]);
            batch.actions.extend_from_slice(&self.actions[i * a..(i + 1) * a]);
            batch.rewards.push(self.rewards[i]);
            batch.terminated.push(self.terminated[i]);
        }
    }

    /// Writes the buffer in a little-endian binary form: the magic `SRLREPLY`, the format version (u32),
    /// capacity, observation and action sizes, length and next slot (u64 each), then the filled slots of
    /// each field (f32).
    pub fn write_to(&self, w: &mut impl Write) -> std::io::Result<()> {
        write_header(w, MAGIC, VERSION)?;
        for n in [self.capacity, self.obs_dim, self.action_dim, self.len, self.next] {
            write_u64(w, n)?;
        }
        for v in [
            &self.obs,
            &self.actions,
            &self.rewards,
            &self.next_obs,
            &self.terminated,
        ] {
            write_f32s(w, v)?;
        }
        Ok(())
    }

    /// Reads what [`ReplayBuffer::write_to`] wrote, into a buffer laid out as `like` (the run's own
    /// capacity and sizes): a file of another layout, version or a damaged header is an error before
    /// anything is allocated.
    pub fn read_from(r: &mut impl Read, like: &Self) -> std::io::Result<Self> {
        read_header(r, MAGIC, VERSION, "a replay buffer")?;
        let mut header = [0usize; 5];
        for h in header.iter_mut() {
            *h = read_u64(r)?;
        }
        let [capacity, obs_dim, action_dim, len, next] = header;
        let expected = [like.capacity, like.obs_dim, like.action_dim];
        if [capacity, obs_dim, action_dim] != expected {
            return Err(invalid(format!(
                "replay buffer of capacity {capacity}, observation size {obs_dim}, action size {action_dim}; \
                 the run's config has {}, {}, {}",
                expected[0], expected[1], expected[2]
            )));
        }
        // Filled in order until full: the next slot is the length, or anywhere once full.
        if len > capacity || next >= capacity || (len < capacity && next != len) {
            return Err(invalid(format!(
                "corrupt replay buffer header (length {len}, next slot {next}, capacity {capacity})"
            )));
        }
        let mut buf = Self::new(like.capacity, like.obs_dim, like.action_dim);
        buf.len = len;
        buf.next = next;
        let (o, a) = (buf.obs_dim, buf.action_dim);
        buf.obs = read_f32s(r, len * o)?;
        buf.actions = read_f32s(r, len * a)?;
        buf.rewards = read_f32s(r, len)?;
        buf.next_obs = read_f32s(r, len * o)?;
        buf.terminated = read_f32s(r, len)?;
        Ok(buf)
    }
}

const MAGIC: &[u8; 8] = b"SRLREPLY";
const VERSION: u32 = 1;

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    fn push_n(buf: &mut ReplayBuffer, n: usize) {
        for k in 0..n {
            let x = k as f32;
            buf.push(Transition {
                obs: &[x, x],
                action: &[x],
                reward: x,
                next_obs: &[x + 1.0, x + 1.0],
                terminated: k.is_multiple_of(2),
            });
        }
    }

    #[test]
    fn ring_keeps_only_the_newest_capacity_transitions() {
        let mut buf = ReplayBuffer::new(4, 2, 1);
        push_n(&mut buf, 10);
        assert_eq!(buf.len(), 4);
        let mut rng = rand_pcg::Pcg64Mcg::seed_from_u64(0);
        let mut batch = Batch::default();
        buf.sample_into(200, &mut rng, &mut batch);
        assert!(batch.rewards.iter().all(|&r| (6.0..=9.0).contains(&r)));
        for (i, &r) in batch.rewards.iter().enumerate() {
            assert_eq!(batch.obs[2 * i], r);
            assert_eq!(batch.next_obs[2 * i], r + 1.0);
            assert_eq!(
                batch.terminated[i],
                if (r as usize).is_multiple_of(2) { 1.0 } else { 0.0 }
            );
        }
    }

    #[test]
    fn binary_round_trip_is_exact() {
        for pushed in [0, 3, 7] {
            let mut buf = ReplayBuffer::new(5, 2, 1);
            push_n(&mut buf, pushed);
            let mut bytes = Vec::new();
            buf.write_to(&mut bytes).unwrap();
            let like = ReplayBuffer::new(5, 2, 1);
            let back = ReplayBuffer::read_from(&mut bytes.as_slice(), &like).unwrap();
            assert_eq!(back, buf);
            assert!(ReplayBuffer::read_from(&mut &bytes[..20], &like).is_err());
        }
    }

    /// Only the filled slots are written: 8 + 4 + 5·8 header bytes, then 7 floats per transition.
    #[test]
    fn a_file_holds_only_the_filled_transitions() {
        let mut buf = ReplayBuffer::new(1000, 2, 1);
        push_n(&mut buf, 3);
        let mut bytes = Vec::new();
        buf.write_to(&mut bytes).unwrap();
        assert_eq!(bytes.len(), 52 + 3 * 7 * 4);
        assert_eq!(ReplayBuffer::full_bytes(1000, 2, 1), Some(1000 * 7 * 4));
        assert_eq!(ReplayBuffer::full_bytes(usize::MAX, 2, 1), None);
    }

    /// A damaged or foreign file is an error, never a panic or a huge allocation.
    #[test]
    fn a_foreign_or_damaged_file_is_an_error() {
        let mut buf = ReplayBuffer::new(5, 2, 1);
        push_n(&mut buf, 7);
        let mut bytes = Vec::new();
        buf.write_to(&mut bytes).unwrap();
        let other = ReplayBuffer::new(6, 2, 1);
        let err = ReplayBuffer::read_from(&mut bytes.as_slice(), &other).unwrap_err();
        assert!(err.to_string().contains("capacity 5"), "{err}");
        let like = ReplayBuffer::new(5, 2, 1);
        let mut huge = bytes.clone();
        huge[12..20].copy_from_slice(&u64::MAX.to_le_bytes());
        assert!(ReplayBuffer::read_from(&mut huge.as_slice(), &like).is_err());
        let mut bad_len = bytes.clone();
        bad_len[36..44].copy_from_slice(&9u64.to_le_bytes());
        assert!(ReplayBuffer::read_from(&mut bad_len.as_slice(), &like).is_err());
        let mut bad_magic = bytes;
        bad_magic[0] = b'X';
        assert!(ReplayBuffer::read_from(&mut bad_magic.as_slice(), &like).is_err());
    }
}
