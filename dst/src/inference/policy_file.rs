//! The exported policy file (`.srlp`): a versioned little-endian binary form of a [`Policy`], sealed with a
//! CRC-32. docs/policy_format.md documents it field by field; the layout in brief:
//!
//! ```text
//! magic "SRLPOLCY" (8 bytes) · version u32 = 1
//! input   u8 kind: 0 single { obs_dim u32 }
//!                  1 agents { n_agents u32, obs_dim u32, last_action u32 (0: none), agent_id u8 }
//! output  u8 kind: 0 argmax { n_actions u32 }
//!                  1 tanh-affine { n u32, scale f32 × n, bias f32 × n }
//! layers  u32 count, then per layer:
//!         u8 kind (0 dense, 1 CSR, 2 diagonal) · u8 activation (0 identity, 1 ReLU, 2 tanh)
//!         rows u32 (outputs) · cols u32 (inputs)
//!         dense:    weight f32 × rows·cols (row-major)
//!         CSR:      nnz u32 · indptr u32 × (rows + 1) · indices u32 × nnz · values f32 × nnz
//!         diagonal: k u32 · offsets u32 × k · values f32 × k·min(rows, cols)
//!         bias f32 × rows
//! crc32   u32 over every byte before it
//! ```
//!
//! Reading checks everything a damaged or foreign file could get wrong (magic, version, CRC, every size
//! against the bytes left, CSR indices, diagonal ids, widths between layers) and names the field.

use std::fs;
use std::io::Write;
use std::path::Path;

use super::policy::{Policy, PolicyInput, PolicyOutput};
use super::{
    Activation, CsrLinear, DenseLinear, DiagonalInference, InferenceLayer, InferenceLinear, SparseMlp,
};
use crate::error::DstError;

/// The first 8 bytes of every policy file.
pub const MAGIC: &[u8; 8] = b"SRLPOLCY";
/// The format version this build writes and reads.
pub const VERSION: u32 = 1;

impl Policy {
    /// The file's bytes.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut w = Writer(Vec::new());
        w.0.extend_from_slice(MAGIC);
        w.u32(VERSION);
        match self.input {
            PolicyInput::Single { obs_dim } => {
                w.u8(0);
                w.size(obs_dim);
            }
            PolicyInput::Agents {
                n_agents,
                obs_dim,
                last_action,
                agent_id,
            } => {
                w.u8(1);
                w.size(n_agents);
                w.size(obs_dim);
                w.size(last_action.unwrap_or(0));
                w.u8(u8::from(agent_id));
            }
        }
        match &self.output {
            PolicyOutput::Argmax { n_actions } => {
                w.u8(0);
                w.size(*n_actions);
            }
            PolicyOutput::TanhAffine { scale, bias } => {
                w.u8(1);
                w.size(scale.len());
                w.f32s(scale);
                w.f32s(bias);
            }
        }
        let layers = self.network.layers();
        w.size(layers.len());
        for (layer, activation) in layers {
            write_layer(&mut w, layer, *activation);
        }
        let crc = crc32fast::hash(&w.0);
        w.u32(crc);
        w.0
    }

    /// Parses a file's bytes.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, DstError> {
        if bytes.len() < MAGIC.len() + 8 || &bytes[..MAGIC.len()] != MAGIC {
            return Err("not a sparse-rl policy file (bad magic)".into());
        }
        let (body, seal) = bytes.split_at(bytes.len() - 4);
        let mut r = Reader {
            bytes: &body[MAGIC.len()..],
        };
        let version = r.u32("version")?;
        if version != VERSION {
            return Err(format!("policy format version {version}, this build reads {VERSION}").into());
        }
        let crc = u32::from_le_bytes([seal[0], seal[1], seal[2], seal[3]]);
        if crc32fast::hash(body) != crc {
            return Err("policy file is damaged (CRC-32 mismatch)".into());
        }
        let input = match r.u8("input kind")? {
            0 => PolicyInput::Single {
                obs_dim: r.size("obs_dim")?,
            },
            1 => PolicyInput::Agents {
                n_agents: r.size("n_agents")?,
                obs_dim: r.size("obs_dim")?,
                last_action: Some(r.size("last_action")?).filter(|&k| k > 0),
                agent_id: r.flag("agent_id")?,
            },
            k => return Err(format!("unknown input kind {k}").into()),
        };
        let output = match r.u8("output kind")? {
            0 => PolicyOutput::Argmax {
                n_actions: r.size("n_actions")?,
            },
            1 => {
                let n = r.size("action count")?;
                PolicyOutput::TanhAffine {
                    scale: r.f32s(n, "action scale")?,
                    bias: r.f32s(n, "action offset")?,
                }
            }
            k => return Err(format!("unknown output kind {k}").into()),
        };
        let n_layers = r.size("layer count")?;
        let layers = (0..n_layers)
            .map(|i| read_layer(&mut r).map_err(|e| DstError::new(format!("layer {i}: {e}"))))
            .collect::<Result<Vec<_>, _>>()?;
        if !r.bytes.is_empty() {
            return Err(format!("{} unread bytes before the CRC", r.bytes.len()).into());
        }
        Policy::new(input, SparseMlp::new(layers)?, output)
    }

    /// Writes the file atomically: a temporary file beside `path`, then a rename, so an interrupted export
    /// leaves any earlier file whole.
    pub fn save(&self, path: &Path) -> Result<(), DstError> {
        let io = |e: std::io::Error| DstError::new(format!("cannot write {}: {e}", path.display()));
        let tmp = path.with_extension("srlp.partial");
        let mut file = fs::File::create(&tmp).map_err(io)?;
        file.write_all(&self.to_bytes()).map_err(io)?;
        file.sync_all().map_err(io)?;
        fs::rename(&tmp, path).map_err(io)
    }

    /// Reads a file written by [`Policy::save`].
    pub fn load(path: &Path) -> Result<Self, DstError> {
        let bytes = fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        Self::from_bytes(&bytes).map_err(|e| format!("{}: {e}", path.display()).into())
    }
}

fn write_layer(w: &mut Writer, layer: &InferenceLayer, activation: Activation) {
    let (kind, rows, cols) = match layer {
        InferenceLayer::Dense(l) => (0, l.out_features(), l.in_features()),
        InferenceLayer::Csr(l) => (1, l.rows, l.cols),
        InferenceLayer::Diagonal(l) => (2, l.out_features(), l.in_features()),
    };
    w.u8(kind);
    w.u8(match activation {
        Activation::Identity => 0,
        Activation::Relu => 1,
        Activation::Tanh => 2,
    });
    w.size(rows);
    w.size(cols);
    let bias = match layer {
        InferenceLayer::Dense(l) => {
            w.f32s(l.weight());
            l.bias()
        }
        InferenceLayer::Csr(l) => {
            w.size(l.nnz());
            l.indptr.iter().chain(&l.indices).for_each(|&x| w.u32(x));
            w.f32s(&l.values);
            &l.bias
        }
        InferenceLayer::Diagonal(l) => {
            w.size(l.offsets.len());
            l.offsets.iter().for_each(|&p| w.size(p));
            w.f32s(&l.values);
            &l.bias
        }
    };
    w.f32s(bias);
}

fn read_layer(r: &mut Reader) -> Result<(InferenceLayer, Activation), DstError> {
    let kind = r.u8("layer kind")?;
    let activation = match r.u8("activation")? {
        0 => Activation::Identity,
        1 => Activation::Relu,
        2 => Activation::Tanh,
        a => return Err(format!("unknown activation {a}").into()),
    };
    let (rows, cols) = (r.size("rows")?, r.size("cols")?);
    let layer = match kind {
        0 => {
            let n = rows
                .checked_mul(cols)
                .ok_or_else(|| DstError::new(format!("{rows} × {cols} overflows")))?;
            let weight = r.f32s(n, "dense weight")?;
            InferenceLayer::Dense(DenseLinear::new(
                rows,
                cols,
                weight,
                Some(&r.f32s(rows, "bias")?),
            )?)
        }
        1 => {
            let nnz = r.size("nnz")?;
            let indptr = r.u32s(rows.saturating_add(1), "CSR row starts")?;
            let indices = r.u32s(nnz, "CSR columns")?;
            let values = r.f32s(nnz, "CSR values")?;
            let bias = r.f32s(rows, "bias")?;
            InferenceLayer::Csr(CsrLinear::from_parts(rows, cols, indptr, indices, values, bias)?)
        }
        2 => {
            let k = r.size("diagonal count")?;
            let offsets = r
                .u32s(k, "diagonal ids")?
                .into_iter()
                .map(|p| p as usize)
                .collect();
            let len = rows.min(cols);
            let values = r.f32s(k.saturating_mul(len), "diagonal values")?;
            let bias = r.f32s(rows, "bias")?;
            InferenceLayer::Diagonal(DiagonalInference::new(rows, cols, offsets, values, Some(&bias))?)
        }
        k => return Err(format!("unknown layer kind {k}").into()),
    };
    Ok((layer, activation))
}

struct Writer(Vec<u8>);

impl Writer {
    fn u8(&mut self, x: u8) {
        self.0.push(x);
    }

    fn u32(&mut self, x: u32) {
        self.0.extend_from_slice(&x.to_le_bytes());
    }

    /// A size; every size of a layer fits u32 (CSR export checks it).
    fn size(&mut self, n: usize) {
        self.u32(u32::try_from(n).expect("policy sizes fit u32"));
    }

    fn f32s(&mut self, xs: &[f32]) {
        xs.iter().for_each(|x| self.0.extend_from_slice(&x.to_le_bytes()));
    }
}

/// Bounds-checked reads: a damaged length cannot read past the file or allocate more than it holds.
struct Reader<'a> {
    bytes: &'a [u8],
}

impl Reader<'_> {
    fn take(&mut self, n: usize, what: &str) -> Result<&[u8], DstError> {
        if n > self.bytes.len() {
            return Err(format!("the file ends inside {what}").into());
        }
        let (head, rest) = self.bytes.split_at(n);
        self.bytes = rest;
        Ok(head)
    }

    fn u8(&mut self, what: &str) -> Result<u8, DstError> {
        Ok(self.take(1, what)?[0])
    }

    fn flag(&mut self, what: &str) -> Result<bool, DstError> {
        match self.u8(what)? {
            0 => Ok(false),
            1 => Ok(true),
            x => Err(format!("{what} is {x}, not 0 or 1").into()),
        }
    }

    fn u32(&mut self, what: &str) -> Result<u32, DstError> {
        let b = self.take(4, what)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }

    fn size(&mut self, what: &str) -> Result<usize, DstError> {
        self.u32(what).map(|x| x as usize)
    }

    fn words(&mut self, n: usize, what: &str) -> Result<impl Iterator<Item = [u8; 4]> + '_, DstError> {
        let len = n
            .checked_mul(4)
            .ok_or_else(|| DstError::new(format!("{what}: length {n} overflows")))?;
        Ok(self
            .take(len, what)?
            .chunks_exact(4)
            .map(|c| [c[0], c[1], c[2], c[3]]))
    }

    fn u32s(&mut self, n: usize, what: &str) -> Result<Vec<u32>, DstError> {
        Ok(self.words(n, what)?.map(u32::from_le_bytes).collect())
    }

    fn f32s(&mut self, n: usize, what: &str) -> Result<Vec<f32>, DstError> {
        Ok(self.words(n, what)?.map(f32::from_le_bytes).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A policy with one layer of each kind and multi-agent input.
    fn mixed() -> Policy {
        let csr = CsrLinear::from_dense(
            3,
            5,
            &[1.0; 15],
            &[true, false, false, true, false].repeat(3),
            Some(&[0.1; 3]),
        )
        .unwrap();
        let dense = DenseLinear::new(3, 3, (0..9).map(|i| i as f32).collect(), Some(&[0.5; 3])).unwrap();
        let diag = DiagonalInference::new(2, 3, vec![0, 2], vec![1.0, 2.0, 3.0, 4.0], None).unwrap();
        let net = SparseMlp::new(vec![
            (InferenceLayer::Csr(csr), Activation::Relu),
            (InferenceLayer::Dense(dense), Activation::Tanh),
            (InferenceLayer::Diagonal(diag), Activation::Identity),
        ])
        .unwrap();
        let input = PolicyInput::Agents {
            n_agents: 2,
            obs_dim: 1,
            last_action: Some(2),
            agent_id: true,
        };
        Policy::new(input, net, PolicyOutput::Argmax { n_actions: 2 }).unwrap()
    }

    #[test]
    fn a_policy_survives_the_round_trip() {
        let p = mixed();
        assert_eq!(Policy::from_bytes(&p.to_bytes()).unwrap(), p);
        let single = Policy::new(
            PolicyInput::Single { obs_dim: 5 },
            p.network.clone(),
            PolicyOutput::TanhAffine {
                scale: vec![2.0, 1.0],
                bias: vec![0.0, -1.0],
            },
        )
        .unwrap();
        assert_eq!(Policy::from_bytes(&single.to_bytes()).unwrap(), single);
    }

    #[test]
    fn damaged_and_foreign_files_are_refused_with_the_reason() {
        let bytes = mixed().to_bytes();
        let err = |b: &[u8]| Policy::from_bytes(b).unwrap_err().0;
        assert!(err(b"not a policy at all").contains("bad magic"));
        let mut flipped = bytes.clone();
        flipped[40] ^= 1;
        assert!(err(&flipped).contains("CRC-32"));
        let mut v2 = bytes.clone();
        v2[8] = 2;
        assert!(err(&v2).contains("version 2"));
        assert!(err(&bytes[..bytes.len() - 9]).contains("CRC-32"));
        // A resealed body whose sizes run past its end.
        let mut short = bytes[..bytes.len() - 12].to_vec();
        let crc = crc32fast::hash(&short);
        short.extend_from_slice(&crc.to_le_bytes());
        assert!(err(&short).contains("ends inside"), "{}", err(&short));
    }

    #[test]
    fn csr_indices_are_checked_on_read() {
        let p = mixed();
        let mut body = p.to_bytes();
        body.truncate(body.len() - 4);
        // The first layer's first column index follows: magic 8, version 4, input 1+13, output 1+4,
        // count 4, kind/activation 2, rows/cols 8, nnz 4, indptr 16.
        let at = 8 + 4 + 14 + 5 + 4 + 2 + 8 + 4 + 16;
        assert_eq!(u32::from_le_bytes(body[at..at + 4].try_into().unwrap()), 0);
        body[at..at + 4].copy_from_slice(&9u32.to_le_bytes());
        let crc = crc32fast::hash(&body);
        body.extend_from_slice(&crc.to_le_bytes());
        let err = Policy::from_bytes(&body).unwrap_err().0;
        assert!(err.contains("layer 0") && err.contains("column 9"), "{err}");
    }
}
