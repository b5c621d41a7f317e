//! What CI runs of the fuzz targets: each target from a fixed seed for a bounded time, and every
//! input of the regression corpus (`fuzz/corpus/TARGET/`: the inputs of past findings, each of
//! which failed before its fix). A failure names the seed and case that reproduce it with the
//! driver. `KILN_FUZZ_SMOKE_SECS` sets the time per target (default 25 s).

use kiln_fuzz::{case_input, Target};
use std::time::{Duration, Instant};

/// The seed of CI's runs.
const SEED: u64 = 0x2026_1201;

fn budget() -> Duration {
    let secs = std::env::var("KILN_FUZZ_SMOKE_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(25);
    Duration::from_secs(secs)
}

/// Runs `target` on cases of [`SEED`] until the budget is spent; at least `min` cases, on a thread
/// with the stack the oracle needs (`kiln_fuzz::on_large_stack`), as the driver does.
fn smoke(target: Target, min: u64) {
    kiln_fuzz::on_large_stack(|| smoke_here(target, min));
}

fn smoke_here(target: Target, min: u64) {
    let start = Instant::now();
    let mut case = 0;
    while case < min || start.elapsed() < budget() {
        let input = case_input(target, SEED, case);
        if let Err(finding) = target.run(&input) {
            panic!(
                "{}: seed {SEED}, case {case}: {finding}\nreproduce: cargo run --release -p kiln-fuzz -- {} --seed {SEED} --start {case} --iterations 1",
                target.name(),
                target.name()
            );
        }
        case += 1;
    }
    println!(
        "{}: {case} cases in {:.1} s",
        target.name(),
        start.elapsed().as_secs_f64()
    );
}

#[test]
fn diff_smoke() {
    smoke(Target::Diff, 20);
}

#[test]
fn compile_smoke() {
    smoke(Target::Compile, 20);
}

#[test]
fn artifact_smoke() {
    smoke(Target::Artifact, 200);
}

#[test]
fn wasi_smoke() {
    smoke(Target::Wasi, 20);
}

#[test]
fn the_regression_corpus_passes() {
    let corpus = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("corpus");
    let mut replayed = 0;
    for target in Target::ALL {
        let dir = corpus.join(target.name());
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        let mut files: Vec<_> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
        files.sort();
        for file in files {
            let input = std::fs::read(&file).unwrap();
            if let Err(finding) = target.run(&input) {
                panic!("{}: {finding}", file.display());
            }
            replayed += 1;
        }
    }
    assert!(replayed > 0, "the corpus is empty");
    println!("{replayed} corpus inputs");
}

/// Two cases of the 3.0 generator in which wasmi, the oracle, failed: case 64267 (a loop of
/// failing `memory.grow`s) made it recurse past the 8 MiB of the worker's main thread, which died
/// of it (the driver now runs cases on a large stack); in case 198283 it panicked translating an
/// `i32.store8` (the target now stops such a comparison, without a finding). Both depend on the
/// generator's configuration: if that changes, these cases make other modules.
#[test]
fn the_driver_survives_the_oracles_failures() {
    for case in ["64267", "198283"] {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_kiln-fuzz"))
            .args(["diff", "--seed", "3", "--start", case, "--iterations", "1"])
            .output()
            .expect("kiln-fuzz runs");
        assert!(
            out.status.success(),
            "case {case}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}
