//! The official WebAssembly spec test suite (`../shared/testsuite`), run through real artifact
//! files and the loader by the same runner as `kiln wast`. Every directive of every file counts.

use kiln_cli::wast_runner::{run_file, FileReport};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

fn suite(name: &str) -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../shared/testsuite")
        .join(name);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| {
            panic!(
                "{}: {e} (the shared test suite must sit beside the repo)",
                dir.display()
            )
        })
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "wast"))
        .collect();
    files.sort();
    files
}

/// Runs `files` on all cores; returns the reports in file order.
fn run_all(files: &[PathBuf]) -> Vec<(PathBuf, FileReport)> {
    let next = Mutex::new(0usize);
    let results = Mutex::new(Vec::new());
    let threads = std::thread::available_parallelism().map_or(2, |n| n.get());
    std::thread::scope(|s| {
        for _ in 0..threads {
            s.spawn(|| loop {
                let i = {
                    let mut n = next.lock().unwrap();
                    *n += 1;
                    *n - 1
                };
                let Some(path) = files.get(i) else { break };
                let report = run_file(path);
                results.lock().unwrap().push((i, path.clone(), report));
            });
        }
    });
    let mut results = results.into_inner().unwrap();
    results.sort_by_key(|(i, _, _)| *i);
    results.into_iter().map(|(_, p, r)| (p, r)).collect()
}

fn assert_all_pass(name: &str, files: &[PathBuf]) {
    let reports = run_all(files);
    let mut failed_files = Vec::new();
    let (mut passed, mut failed) = (0, 0);
    for (path, r) in &reports {
        passed += r.passed;
        failed += r.failed;
        if r.failed > 0 {
            let first: Vec<String> = r
                .failures
                .iter()
                .take(3)
                .map(|f| format!("    {}:{}: {}", f.line, f.col, f.message))
                .collect();
            failed_files.push(format!(
                "{}: {} passed, {} failed\n{}",
                path.display(),
                r.passed,
                r.failed,
                first.join("\n")
            ));
        }
    }
    println!(
        "{name}: {} files, {passed} passed, {failed} failed",
        reports.len()
    );
    assert!(passed > 0, "{name}: no directive ran");
    assert!(
        failed_files.is_empty(),
        "{name}:\n{}",
        failed_files.join("\n")
    );
}

#[test]
fn wasm_2_0_suite() {
    let files = suite("wasm-2.0");
    assert!(
        files.len() >= 146,
        "expected the whole suite, found {}",
        files.len()
    );
    assert_all_pass("wasm-2.0", &files);
}
