//! The seal of a checkpoint directory: `manifest.json` names the format and its version, the env step, and
//! every file with its size and CRC-32. It is written last, so a directory with a valid manifest is
//! complete; loading verifies every file against it, so a truncated or bit-flipped file is an error naming
//! it rather than a wrong run.

use std::collections::BTreeMap;
use std::fs;
use std::io::{Read, Write};
use std::path::Path;

use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};

pub const FILE: &str = "manifest.json";
const FORMAT: &str = "sparse-rl checkpoint";
/// The checkpoint layout's version: raised whenever a file of a checkpoint changes its form.
pub const VERSION: u32 = 2;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    pub format: String,
    pub version: u32,
    /// The env step the checkpoint was written at.
    pub step: usize,
    /// Every file of the directory but the manifest, by path relative to it (`/`-separated).
    pub files: BTreeMap<String, FileSeal>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileSeal {
    pub bytes: u64,
    pub crc32: u32,
}

/// Seals the complete directory `dir`: writes its manifest and syncs it to disk.
pub fn seal(dir: &Path, step: usize) -> Result<()> {
    let mut files = BTreeMap::new();
    for rel in list_files(dir)? {
        files.insert(rel.clone(), file_seal(&dir.join(&rel))?);
    }
    let manifest = Manifest {
        format: FORMAT.into(),
        version: VERSION,
        step,
        files,
    };
    let path = dir.join(FILE);
    let mut f = fs::File::create(&path).with_context(|| format!("cannot write {}", path.display()))?;
    f.write_all(serde_json::to_string_pretty(&manifest)?.as_bytes())
        .and_then(|()| f.sync_all())
        .with_context(|| format!("cannot write {}", path.display()))
}

/// Checks `dir` against its manifest; returns the manifest when every file is there and intact.
pub fn verify(dir: &Path) -> Result<Manifest> {
    let path = dir.join(FILE);
    let text = fs::read_to_string(&path)
        .with_context(|| format!("checkpoint {} is incomplete (no {FILE})", dir.display()))?;
    let manifest: Manifest = serde_json::from_str(&text)
        .with_context(|| format!("checkpoint manifest {} is damaged", path.display()))?;
    if manifest.format != FORMAT {
        bail!("{}: not a sparse-rl checkpoint manifest", path.display());
    }
    if manifest.version != VERSION {
        bail!(
            "checkpoint {} has format version {}, this build reads version {VERSION}",
            dir.display(),
            manifest.version
        );
    }
    for (rel, want) in &manifest.files {
        let file = dir.join(rel);
        let got =
            file_seal(&file).with_context(|| format!("checkpoint file {} is missing", file.display()))?;
        if got != *want {
            bail!(
                "checkpoint file {} is damaged ({} bytes, CRC-32 {:08x}; the manifest says {} bytes, {:08x})",
                file.display(),
                got.bytes,
                got.crc32,
                want.bytes,
                want.crc32
            );
        }
    }
    Ok(manifest)
}

fn file_seal(path: &Path) -> Result<FileSeal> {
    let mut f = fs::File::open(path)?;
    let mut hasher = crc32fast::Hasher::new();
    let mut buf = vec![0u8; 1 << 16];
    let mut bytes = 0u64;
    loop {
        let n = f.read(&mut buf)?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
        bytes += n as u64;
    }
    Ok(FileSeal {
        bytes,
        crc32: hasher.finalize(),
    })
}

/// The files under `dir`, recursively, as sorted `/`-separated relative paths.
fn list_files(dir: &Path) -> Result<Vec<String>> {
    fn walk(root: &Path, dir: &Path, out: &mut Vec<String>) -> Result<()> {
        for entry in fs::read_dir(dir).with_context(|| format!("cannot list {}", dir.display()))? {
            let path = entry?.path();
            if path.is_dir() {
                walk(root, &path, out)?;
            } else {
                let rel = path.strip_prefix(root).expect("under root");
                let parts: Vec<String> = rel.iter().map(|p| p.to_string_lossy().into_owned()).collect();
                out.push(parts.join("/"));
            }
        }
        Ok(())
    }
    let mut out = Vec::new();
    walk(dir, dir, &mut out)?;
    out.retain(|f| f != FILE);
    out.sort();
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_flipped_bit_and_missing_file_is_caught() {
        let dir = tempfile::tempdir().unwrap();
        fs::create_dir(dir.path().join("sub")).unwrap();
        fs::write(dir.path().join("a.bin"), [1u8, 2, 3, 4]).unwrap();
        fs::write(dir.path().join("sub/b.json"), "{}").unwrap();
        seal(dir.path(), 7).unwrap();
        let m = verify(dir.path()).unwrap();
        assert_eq!(m.step, 7);
        assert_eq!(m.files.keys().collect::<Vec<_>>(), ["a.bin", "sub/b.json"]);
        for byte in 0..4 {
            for bit in 0..8 {
                let mut data = vec![1u8, 2, 3, 4];
                data[byte] ^= 1 << bit;
                fs::write(dir.path().join("a.bin"), &data).unwrap();
                let err = verify(dir.path()).unwrap_err().to_string();
                assert!(err.contains("a.bin is damaged"), "{err}");
            }
        }
        fs::write(dir.path().join("a.bin"), [1u8, 2, 3, 4]).unwrap();
        fs::remove_file(dir.path().join("sub/b.json")).unwrap();
        assert!(format!("{:#}", verify(dir.path()).unwrap_err()).contains("missing"));
        fs::write(dir.path().join(FILE), "{").unwrap();
        assert!(verify(dir.path()).is_err());
        fs::remove_file(dir.path().join(FILE)).unwrap();
        assert!(verify(dir.path()).unwrap_err().to_string().contains("incomplete"));
    }
}
