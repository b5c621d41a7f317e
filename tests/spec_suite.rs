//! The official WebAssembly spec test suite (`../shared/testsuite`), run through real artifact
//! files and the loader by the same runner as `kiln wast`. Every directive of every file counts.

use kiln_cli::wast_runner::{run_file_with_options, FileReport};
use kiln_compiler::{CompileOptions, WasmFeatures};
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

/// Runs `files`, whose modules are compiled with `options`, on all cores; returns the reports in
/// file order.
fn run_all(files: &[PathBuf], options: &CompileOptions) -> Vec<(PathBuf, FileReport)> {
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
                let report = run_file_with_options(path, options);
                results.lock().unwrap().push((i, path.clone(), report));
            });
        }
    });
    let mut results = results.into_inner().unwrap();
    results.sort_by_key(|(i, _, _)| *i);
    results.into_iter().map(|(_, p, r)| (p, r)).collect()
}

fn assert_all_pass(name: &str, files: &[PathBuf], features: WasmFeatures) {
    let options = CompileOptions {
        features,
        ..CompileOptions::default()
    };
    assert_all_pass_with(name, files, &options);
}

fn assert_all_pass_with(name: &str, files: &[PathBuf], options: &CompileOptions) {
    let reports = run_all(files, options);
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
    // Exactly WebAssembly 2.0: its tests expect, for example, a second memory to be invalid.
    assert_all_pass("wasm-2.0", &files, WasmFeatures::WASM2);
}

/// The 2.0 suite's scripts about linear memory, with every 32-bit memory's accesses checked
/// explicitly (`CompileOptions::explicit_bounds_checks`) instead of by guard pages.
#[test]
fn wasm_2_0_memory_scripts_with_explicit_bounds_checks() {
    let memory_scripts = [
        "address",
        "align",
        "bulk",
        "endianness",
        "float_memory",
        "left-to-right",
        "load",
        "memory",
        "simd_address",
        "simd_load",
        "simd_store",
        "store",
    ];
    let files: Vec<PathBuf> = suite("wasm-2.0")
        .into_iter()
        .filter(|p| {
            let stem = p.file_stem().unwrap().to_str().unwrap();
            memory_scripts.iter().any(|s| stem.starts_with(s))
        })
        .collect();
    assert!(files.len() >= 29, "memory scripts: {}", files.len());
    let options = CompileOptions {
        features: WasmFeatures::WASM2,
        explicit_bounds_checks: true,
        ..CompileOptions::default()
    };
    assert_all_pass_with("wasm-2.0 memory, explicit checks", &files, &options);
}

/// Files of the WebAssembly 3.0 suite that use a feature Kiln does not compile yet, grouped by
/// the first such feature each uses. Every other file must pass every directive; a listed file
/// that starts passing fails the test until it is taken off the list, so the list only shrinks.
const WASM_3_0_PENDING: &[(&str, &[&str])] = &[(
    "GC",
    &[
        "array",
        "array_copy",
        "array_fill",
        "array_init_data",
        "array_init_elem",
        "array_new_data",
        "array_new_elem",
        "br_on_cast",
        "br_on_cast_fail",
        "extern",
        "i31",
        "ref_cast",
        "ref_eq",
        "ref_test",
        "struct",
        "table_init",
        // Its last module has a table of `arrayref`; the memory64 and table64 parts pass.
        "table_init64",
        "type-subtyping",
    ],
)];

#[test]
fn wasm_3_0_suite() {
    let all = suite("wasm-3.0");
    assert!(
        all.len() >= 257,
        "expected the whole suite, found {}",
        all.len()
    );
    let pending: Vec<&str> = WASM_3_0_PENDING
        .iter()
        .flat_map(|(_, files)| files.iter().copied())
        .collect();
    let stem = |p: &PathBuf| p.file_stem().unwrap().to_str().unwrap().to_string();
    for name in &pending {
        assert!(
            all.iter().any(|p| stem(p) == *name),
            "{name}.wast is listed as pending but is not in the suite"
        );
    }
    let (pending_files, supported): (Vec<PathBuf>, Vec<PathBuf>) = all
        .into_iter()
        .partition(|p| pending.contains(&stem(p).as_str()));
    assert_all_pass(
        "wasm-3.0 (supported features)",
        &supported,
        WasmFeatures::ALL,
    );
    // The pending files run too (no crash, no hang); each must still fail somewhere.
    let now_passing: Vec<String> = run_all(&pending_files, &CompileOptions::default())
        .into_iter()
        .filter(|(_, r)| r.failed == 0)
        .map(|(p, _)| stem(&p))
        .collect();
    assert!(
        now_passing.is_empty(),
        "these wasm-3.0 files now pass: take them off WASM_3_0_PENDING: {now_passing:?}"
    );
}
