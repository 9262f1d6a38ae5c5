//! Every preset in configs/ is valid as it is, and its resolved form (what a run writes to config.toml)
//! parses back to the same config.

use sparse_rl::config::Config;

#[test]
fn every_preset_validates_and_round_trips() {
    let n = validate_and_round_trip("configs");
    assert!(n >= 9, "expected the presets of configs/, found {n}");
}

/// The presets on Gymnasium envs, which validate only where the bridge is built and gymnasium installed.
#[cfg(feature = "gym")]
#[test]
fn every_gym_preset_validates_and_round_trips() {
    let n = validate_and_round_trip("configs/gym");
    assert!(n >= 2, "expected the presets of configs/gym/, found {n}");
}

/// Checks every `.toml` of `dir` (relative to the package root); returns how many there were.
fn validate_and_round_trip(dir: &str) -> usize {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(dir);
    let mut n = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|e| e != "toml") {
            continue;
        }
        let config = Config::load(&path, &[]).unwrap_or_else(|e| panic!("{}: {e:#}", path.display()));
        let resolved = config.resolved().unwrap();
        let text = resolved.to_toml().unwrap();
        let back = Config::parse(&text, &[]).unwrap_or_else(|e| panic!("{} resolved: {e:#}", path.display()));
        assert_eq!(
            back.to_toml().unwrap(),
            text,
            "{} does not round-trip",
            path.display()
        );
        n += 1;
    }
    n
}
