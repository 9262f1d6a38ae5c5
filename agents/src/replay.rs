//! Uniform experience replay of single-agent transitions, stored in flat `f32` arrays (one allocation per
//! field, no per-transition boxing) and saved in a small binary form so a resumed run samples the same batches.

use std::io::{Read, Write};

use rand::Rng;

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
            obs: vec![0.0; capacity * obs_dim],
            actions: vec![0.0; capacity * action_dim],
            rewards: vec![0.0; capacity],
            next_obs: vec![0.0; capacity * obs_dim],
            terminated: vec![0.0; capacity],
        }
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
        let i = self.next;
        let (o, a) = (self.obs_dim, self.action_dim);
        self.obs[i * o..(i + 1) * o].copy_from_slice(t.obs);
        self.next_obs[i * o..(i + 1) * o].copy_from_slice(t.next_obs);
        self.actions[i * a..(i + 1) * a].copy_from_slice(t.action);
        self.rewards[i] = t.reward;
        self.terminated[i] = if t.terminated { 1.0 } else { 0.0 };
        self.next = (self.next + 1) % self.capacity;
        self.len = (self.len + 1).min(self.capacity);
    }

    /// Samples `size` transitions uniformly with replacement into `batch` (reusing its allocations).
    pub fn sample_into(&self, size: usize, rng: &mut impl Rng, batch: &mut Batch) {
        assert!(self.len > 0, "sampling from an empty replay buffer");
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
        for _ in 0..size {
            let i = rng.random_range(0..self.len);
            batch.obs.extend_from_slice(&self.obs[i * o..(i + 1) * o]);
            batch
                .next_obs
                .extend_from_slice(&self.next_obs[i * o..(i + 1) * o]);
            batch.actions.extend_from_slice(&self.actions[i * a..(i + 1) * a]);
            batch.rewards.push(self.rewards[i]);
            batch.terminated.push(self.terminated[i]);
        }
    }

    /// Writes the buffer in a little-endian binary form.
    pub fn write_to(&self, w: &mut impl Write) -> std::io::Result<()> {
        for n in [self.capacity, self.obs_dim, self.action_dim, self.len, self.next] {
            w.write_all(&(n as u64).to_le_bytes())?;
        }
        for v in [
            &self.obs,
            &self.actions,
            &self.rewards,
            &self.next_obs,
            &self.terminated,
        ] {
            for x in v.iter() {
                w.write_all(&x.to_le_bytes())?;
            }
        }
        Ok(())
    }

    /// Reads what [`ReplayBuffer::write_to`] wrote.
    pub fn read_from(r: &mut impl Read) -> std::io::Result<Self> {
        let mut word = [0u8; 8];
        let mut header = [0usize; 5];
        for h in header.iter_mut() {
            r.read_exact(&mut word)?;
            *h = u64::from_le_bytes(word) as usize;
        }
        let [capacity, obs_dim, action_dim, len, next] = header;
        if capacity == 0 || len > capacity || next >= capacity {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                "corrupt replay buffer header",
            ));
        }
        let mut buf = Self::new(capacity, obs_dim, action_dim);
        buf.len = len;
        buf.next = next;
        let mut f = [0u8; 4];
        for v in [
            &mut buf.obs,
            &mut buf.actions,
            &mut buf.rewards,
            &mut buf.next_obs,
            &mut buf.terminated,
        ] {
            for x in v.iter_mut() {
                r.read_exact(&mut f)?;
                *x = f32::from_le_bytes(f);
            }
        }
        Ok(buf)
    }
}

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
        let mut buf = ReplayBuffer::new(5, 2, 1);
        push_n(&mut buf, 7);
        let mut bytes = Vec::new();
        buf.write_to(&mut bytes).unwrap();
        let back = ReplayBuffer::read_from(&mut bytes.as_slice()).unwrap();
        assert_eq!(back, buf);
        assert!(ReplayBuffer::read_from(&mut &bytes[..20]).is_err());
    }
}
