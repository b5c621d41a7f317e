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
