//! A run directory held by one process: an exclusive lock on its `.lock` file for the whole run (a second
//! `train --out` or `--resume` of the same directory is refused with the holder's pid), `config.toml` written
//! atomically, and `episodes.csv` appended one whole row per write.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};

use crate::config::Config;

const LOCK: &str = ".lock";
const CONFIG: &str = "config.toml";
const CONFIG_TMP: &str = ".config.toml.tmp";

/// An open run directory; the lock is released when it is dropped (or the process ends).
pub struct RunDir {
    path: PathBuf,
    /// The run's `config.toml` as written: stored in every checkpoint to catch a changed config on resume.
    config_text: String,
    resumed: bool,
    _lock: fs::File,
}

impl RunDir {
    /// A new run in `out`, which must not exist or hold nothing but what an interrupted start left
    /// (the lock file, a temporary config); writes `config.toml`.
    pub fn fresh(out: &Path, config: &Config) -> Result<Self> {
        fs::create_dir_all(out).with_context(|| format!("cannot create {}", out.display()))?;
        let lock = lock(out)?;
        let mut entries = fs::read_dir(out).with_context(|| format!("cannot list {}", out.display()))?;
        let foreign = entries
            .any(|e| e.is_ok_and(|e| ![LOCK, CONFIG_TMP].contains(&&*e.file_name().to_string_lossy())));
        if foreign {
            bail!(
                "output directory {} exists and is not empty (use --resume to continue it)",
                out.display()
            );
        }
        eprintln!("run directory: {}", out.display());
        let config_text = config.to_toml()?;
        write_atomically(&out.join(CONFIG), &out.join(CONFIG_TMP), &config_text)?;
        Ok(Self {
            path: out.to_path_buf(),
            config_text,
            resumed: false,
            _lock: lock,
        })
    }

    /// The existing run in `run`, to continue from its checkpoint.
    pub fn resume(run: &Path) -> Result<Self> {
        if !run.is_dir() {
            bail!("--resume {}: no such run directory", run.display());
        }
        let lock = lock(run)?;
        let path = run.join(CONFIG);
        let config_text =
            fs::read_to_string(&path).with_context(|| format!("cannot read {}", path.display()))?;
        Ok(Self {
            path: run.to_path_buf(),
            config_text,
            resumed: true,
            _lock: lock,
        })
    }

    /// Whether the run continues from a checkpoint.
    pub fn resumed(&self) -> bool {
        self.resumed
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn config_text(&self) -> &str {
        &self.config_text
    }

    /// `episodes.csv`, opened for appending.
    pub fn episodes_log(&self) -> Result<EpisodeLog> {
        let path = self.path.join("episodes.csv");
        let file = fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .with_context(|| format!("cannot open {}", path.display()))?;
        Ok(EpisodeLog { path, file })
    }
}

/// Takes the exclusive lock of the directory, writing this process's pid into the lock file.
fn lock(dir: &Path) -> Result<fs::File> {
    let path = dir.join(LOCK);
    let mut file = fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&path)
        .with_context(|| format!("cannot open {}", path.display()))?;
    match file.try_lock() {
        Ok(()) => {}
        Err(fs::TryLockError::WouldBlock) => {
            let holder = fs::read_to_string(&path).unwrap_or_default();
            bail!(
                "run directory {} is in use by process {} (one process writes a run at a time)",
                dir.display(),
                holder.trim()
            );
        }
        Err(fs::TryLockError::Error(e)) => {
            return Err(e).with_context(|| format!("cannot lock {}", path.display()));
        }
    }
    file.set_len(0)
        .and_then(|()| file.write_all(std::process::id().to_string().as_bytes()))
        .with_context(|| format!("cannot write {}", path.display()))?;
    Ok(file)
}

/// Writes `text` to `path` through `tmp` and a rename: the file is whole or absent, never empty or torn.
fn write_atomically(path: &Path, tmp: &Path, text: &str) -> Result<()> {
    fs::write(tmp, text)
        .and_then(|()| fs::rename(tmp, path))
        .with_context(|| format!("cannot write {}", path.display()))
}

/// `episodes.csv`: `step,return,length` per training episode.
pub struct EpisodeLog {
    path: PathBuf,
    file: fs::File,
}

impl EpisodeLog {
    /// Appends one row with a single write, so a reader of a live run (or a kill) never sees half a row.
    pub fn row(&mut self, step: usize, episode_return: f64, length: usize) -> Result<()> {
        self.file
            .write_all(format!("{step},{episode_return},{length}\n").as_bytes())
            .with_context(|| format!("cannot write {}", self.path.display()))
    }
}

/// Keeps the first `episodes` rows of `episodes.csv`: rows written after the checkpoint a run resumes from
/// are written again by the resumed run.
pub fn truncate_episodes(run: &Path, episodes: usize) -> Result<()> {
    let path = run.join("episodes.csv");
    let text = fs::read_to_string(&path).unwrap_or_default();
    let kept: String = text.lines().take(episodes).map(|l| format!("{l}\n")).collect();
    fs::write(&path, kept).with_context(|| format!("cannot rewrite {}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> Config {
        Config::parse(
            "[run]\nalgo = \"dqn\"\nenv = \"CartPole-v1\"\ntotal_steps = 100\n",
            &[],
        )
        .unwrap()
    }

    #[test]
    fn a_second_writer_is_refused_with_the_holders_pid() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("run");
        let held = RunDir::fresh(&out, &config()).unwrap();
        let err = format!("{:#}", RunDir::resume(&out).err().unwrap());
        assert!(
            err.contains("in use by process") && err.contains(&std::process::id().to_string()),
            "{err}"
        );
        let err = format!("{:#}", RunDir::fresh(&out, &config()).err().unwrap());
        assert!(err.contains("in use by process"), "{err}");
        drop(held);
        let again = RunDir::resume(&out).unwrap();
        assert_eq!(again.config_text(), config().to_toml().unwrap());
        drop(again);
        let err = format!("{:#}", RunDir::fresh(&out, &config()).err().unwrap());
        assert!(err.contains("not empty"), "{err}");
    }

    /// What an interrupted start leaves (the lock file and a temporary config) does not block a fresh start.
    #[test]
    fn an_interrupted_start_can_be_started_again() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join(LOCK), "1").unwrap();
        fs::write(dir.path().join(CONFIG_TMP), "").unwrap();
        let run = RunDir::fresh(dir.path(), &config()).unwrap();
        assert!(!dir.path().join(CONFIG_TMP).exists());
        assert_eq!(
            fs::read_to_string(dir.path().join(CONFIG)).unwrap(),
            run.config_text()
        );
    }
}
