//! Runs the unfinished runs of a study as child processes (`sparse-rl train ...`), `parallel` at a time
//! on local cores. A child process per run keeps runs isolated (a crash or a stuck backend takes one run
//! down, not the study) and makes each run exactly what `sparse-rl train` would make by hand.

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::sync::Mutex;

use anyhow::Result;

use super::grid::{run_dir, PlannedRun};
use super::manifest::{read_metric, Manifest, Status};

/// What a worker reports about a run (by its index in the manifest).
enum Event {
    Started(usize),
    Finished(usize, Result<f64, String>),
}

/// Lines of a failed run's stderr kept in the manifest.
const STDERR_TAIL_LINES: usize = 20;

/// Runs every run that is not done, updating `manifest` and saving it to `manifest_path` at each change.
/// A run that a killed study left unfinished continues from its `latest` checkpoint (see [`start_args`]);
/// a partial directory without one is deleted before the run starts again. A failed run is recorded and
/// the others go on.
pub fn execute(
    manifest: &mut Manifest,
    planned: &[PlannedRun],
    runs_dir: &Path,
    trainer: &Path,
    parallel: usize,
    manifest_path: &Path,
) -> Result<()> {
    let todo: Vec<usize> = (0..planned.len())
        .filter(|&i| manifest.runs[i].status != Status::Done)
        .collect();
    let total = todo.len();
    let metric = manifest.metric.clone();
    let queue = Mutex::new(todo.into_iter());
    let (tx, rx) = mpsc::channel();
    std::thread::scope(|scope| -> Result<()> {
        for _ in 0..parallel.max(1) {
            let tx = tx.clone();
            let (queue, metric) = (&queue, &metric);
            scope.spawn(move || loop {
                let Some(i) = queue.lock().expect("queue lock").next() else {
                    break;
                };
                // A send fails only when the main thread is gone, and then nobody waits for results.
                let _ = tx.send(Event::Started(i));
                let result = run_one(&planned[i], runs_dir, trainer, metric);
                let _ = tx.send(Event::Finished(i, result));
            });
        }
        drop(tx);
        let mut finished = 0;
        for event in rx {
            match event {
                Event::Started(i) => {
                    manifest.runs[i].status = Status::Running;
                    manifest.runs[i].error = None;
                }
                Event::Finished(i, result) => {
                    finished += 1;
                    let record = &mut manifest.runs[i];
                    match result {
                        Ok(v) => {
                            record.status = Status::Done;
                            record.metric = Some(v);
                            eprintln!("[{finished}/{total}] done   {}: {v}", record.name);
                        }
                        Err(e) => {
                            record.status = Status::Failed;
                            record.metric = None;
                            eprintln!("[{finished}/{total}] FAILED {}", record.name);
                            record.error = Some(e);
                        }
                    }
                }
            }
            manifest.save(manifest_path)?;
        }
        Ok(())
    })
}

/// Trains one run and reads its metric; the error is the end of its stderr.
fn run_one(run: &PlannedRun, runs_dir: &Path, trainer: &Path, metric: &str) -> Result<f64, String> {
    let dir = run_dir(runs_dir, run);
    let output = Command::new(trainer)
        .args(start_args(run, &dir)?)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("cannot start {}: {e}", trainer.display()))?;
    let stderr = String::from_utf8_lossy(&output.stderr);
    if dir.is_dir() {
        // The run's own log beside its results, each sitting's output after the last; a failure to write
        // it must not fail the run.
        let log = [String::from_utf8_lossy(&output.stdout), stderr.clone()].concat();
        let _ = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(dir.join("train.log"))
            .and_then(|mut f| f.write_all(log.as_bytes()));
    }
    if !output.status.success() {
        let lines: Vec<&str> = stderr.lines().filter(|l| !l.trim().is_empty()).collect();
        let tail = lines[lines.len().saturating_sub(STDERR_TAIL_LINES)..].join("\n");
        return Err(format!("{} ({})", tail.trim(), output.status));
    }
    read_metric(&dir.join("summary.json"), metric).map_err(|e| format!("{e:#}"))
}

/// The trainer's arguments for `run` in `dir`: `train --resume DIR` when a killed study left the run with
/// a sealed `latest` checkpoint written with this run's config (long runs continue, they do not start
/// over), else `train ... --out DIR` in a fresh directory (a partial one without such a checkpoint, or one
/// of a config that has since changed, is deleted first).
fn start_args(run: &PlannedRun, dir: &Path) -> Result<Vec<String>, String> {
    let dir_arg = dir.display().to_string();
    let fresh = || [run.train_args(), vec!["--out".into(), dir_arg.clone()]].concat();
    if !dir.exists() {
        return Ok(fresh());
    }
    let resumable = run
        .load_config()
        .and_then(|config| config.resolved()?.to_toml())
        .and_then(|text| crate::checkpoint::open(dir, "latest", &text))
        .is_ok();
    if resumable {
        return Ok(vec!["train".into(), "--resume".into(), dir_arg]);
    }
    std::fs::remove_dir_all(dir)
        .map_err(|e| format!("cannot delete the partial run {}: {e}", dir.display()))?;
    Ok(fresh())
}
