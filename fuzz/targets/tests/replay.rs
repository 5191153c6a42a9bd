//! Every corpus input and every saved crash of every fuzz target, replayed on stable: a crash
//! found once stays fixed, and the properties keep holding on the inputs that reached the most code.

use palisade_fuzz_targets::TARGETS;
use std::path::{Path, PathBuf};

fn fuzz_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map_or_else(|| PathBuf::from("fuzz"), Path::to_path_buf)
}

fn inputs(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|d| {
            d.flatten()
                .map(|e| e.path())
                .filter(|p| p.is_file())
                .collect()
        })
        .unwrap_or_default();
    files.sort();
    files
}

#[test]
fn every_target_has_a_harness_and_a_seed_corpus() {
    for (name, _) in TARGETS {
        let harness = fuzz_dir().join("fuzz_targets").join(format!("{name}.rs"));
        assert!(harness.exists(), "{} is missing", harness.display());
        let corpus = fuzz_dir().join("corpus").join(name);
        assert!(!inputs(&corpus).is_empty(), "{} is empty", corpus.display());
    }
}

#[test]
fn corpora_and_regressions_replay_without_a_failure() {
    // Each failure's message, not one backtrace per input.
    let last_panic = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
    let sink = std::sync::Arc::clone(&last_panic);
    std::panic::set_hook(Box::new(move |info| {
        *sink.lock().unwrap() = format!("{info}");
    }));
    let mut total = 0;
    let mut failures = Vec::new();
    for (name, run) in TARGETS {
        for kind in ["corpus", "regressions"] {
            for file in inputs(&fuzz_dir().join(kind).join(name)) {
                let data = std::fs::read(&file).unwrap();
                if std::panic::catch_unwind(|| run(&data)).is_err() {
                    let why = last_panic.lock().unwrap().clone();
                    failures.push(format!("{name}: {}\n    {why}", file.display()));
                }
                total += 1;
            }
        }
    }
    let _ = std::panic::take_hook();
    println!("replayed {total} inputs");
    assert!(total > 0);
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
