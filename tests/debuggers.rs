//! Native tools understand artifacts: gdb, given the artifact as a symbol file at its mapped
//! address, shows a backtrace through guest frames by name.

use std::path::Path;
use std::process::Command;

fn tool_available(name: &str) -> bool {
    let found = Command::new(name).arg("--version").output().is_ok();
    if !found && std::env::var_os("CI").is_some() {
        panic!("{name} is part of the machine image and must be present in CI");
    }
    found
}

#[test]
fn gdb_backtrace_shows_guest_function_names() {
    if !tool_available("gdb") {
        eprintln!("gdb not installed: skipped");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let wat = dir.path().join("nest.wat");
    std::fs::write(
        &wat,
        r#"(module
          (func $inner (export "inner") (result i32) unreachable)
          (func $middle (result i32) (i32.add (call $inner) (i32.const 1)))
          (func $outer (export "outer") (result i32) (i32.mul (call $middle) (i32.const 2))))"#,
    )
    .unwrap();
    let art = dir.path().join("nest.kiln");
    let kiln = env!("CARGO_BIN_EXE_kiln");
    let status = Command::new(kiln)
        .args([
            "compile",
            wat.to_str().unwrap(),
            "-o",
            art.to_str().unwrap(),
            "--unwind-info",
        ])
        .status()
        .unwrap();
    assert!(status.success());
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/debuggers/gdb_backtrace.py");
    let out = Command::new("gdb")
        .args([
            "-q",
            "-batch",
            "-nx",
            "-x",
            script.to_str().unwrap(),
            "--args",
            kiln,
            "run",
        ])
        .arg(&art)
        .args(["--invoke", "outer"])
        .env("KILN_ARTIFACT", &art)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    let frame = |name: &str| {
        text.lines()
            .position(|l| l.starts_with('#') && l.contains(&format!(" {name} ")))
            .unwrap_or_else(|| {
                panic!(
                    "no frame for {name} in:\n{text}\n{}",
                    String::from_utf8_lossy(&out.stderr)
                )
            })
    };
    let (inner, middle, outer, trampoline) = (
        frame("inner"),
        frame("middle"),
        frame("outer"),
        frame("kiln_entry_trampoline_type0"),
    );
    assert!(
        inner < middle && middle < outer && outer < trampoline,
        "{text}"
    );
    assert!(
        text.contains("kiln_guest_call"),
        "the backtrace continues into the host:\n{text}"
    );
}

#[test]
fn perf_attributes_samples_to_guest_functions() {
    // perf is not part of the machine image (Debian package linux-perf): run where installed.
    if Command::new("perf").arg("--version").output().is_err() {
        eprintln!("perf not installed: skipped");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let wat = dir.path().join("hot.wat");
    std::fs::write(
        &wat,
        r#"(module
          (func $spin (export "spin") (param i32) (result i32) (local i32)
            (block $d (loop $l
              (br_if $d (i32.eqz (local.get 0)))
              (local.set 1 (i32.add (local.get 1) (i32.mul (local.get 0) (local.get 0))))
              (local.set 0 (i32.sub (local.get 0) (i32.const 1)))
              (br $l)))
            (local.get 1)))"#,
    )
    .unwrap();
    let art = dir.path().join("hot.kiln");
    let kiln = env!("CARGO_BIN_EXE_kiln");
    assert!(Command::new(kiln)
        .args([
            "compile",
            wat.to_str().unwrap(),
            "-o",
            art.to_str().unwrap()
        ])
        .status()
        .unwrap()
        .success());
    let data = dir.path().join("perf.data");
    let record = Command::new("perf")
        .args([
            "record",
            "-q",
            "-e",
            "cpu-clock",
            "-o",
            data.to_str().unwrap(),
            kiln,
            "run",
        ])
        .arg(&art)
        .args(["--invoke", "spin", "300000000"])
        .output()
        .unwrap();
    if !record.status.success() {
        // Some kernels forbid sampling (perf_event_paranoid); nothing to check then.
        eprintln!(
            "perf record not permitted: {}",
            String::from_utf8_lossy(&record.stderr)
        );
        return;
    }
    let report = Command::new("perf")
        .args([
            "report",
            "--stdio",
            "--sort",
            "dso,sym",
            "-i",
            data.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&report.stdout);
    let top = text
        .lines()
        .find(|l| !l.starts_with('#') && !l.trim().is_empty())
        .unwrap_or("");
    assert!(
        top.contains("hot.kiln") && top.contains("spin"),
        "hottest entry is the guest function:\n{text}"
    );
}
