//! The static host runs its built-in guest, and (where `strace` is installed) opens and maps no
//! artifact file to do so.

use std::process::Command;

const EXPECTED: [&str; 2] = [
    "static_artifact!: answer [I32(42)] then [I32(43)], memory says \"built in\"",
    "linked object: answer [I32(42)] then [I32(43)], memory says \"built in\"",
];

fn check_output(stdout: &str) {
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines[..2], EXPECTED, "{stdout}");
    // The build script writes the next major version into the artifact that must be refused.
    let next = format!(
        "refused: <static>: unsupported artifact format version {}.0",
        kiln_format::FORMAT_MAJOR + 1
    );
    assert!(lines[2].starts_with(&next), "{stdout}");
    assert!(
        lines[3].starts_with("refused: <static>:") && lines[3].contains("aarch64"),
        "{stdout}"
    );
}

#[test]
fn the_guest_runs_in_place_from_the_executable() {
    let out = Command::new(env!("CARGO_BIN_EXE_static-host"))
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    check_output(&String::from_utf8(out.stdout).unwrap());
}

#[test]
fn no_artifact_file_is_opened_or_mapped() {
    let trace = std::env::temp_dir().join(format!("static-host-{}.strace", std::process::id()));
    let out = match Command::new("strace")
        .args(["-f", "-e", "trace=open,openat,mmap", "-o"])
        .arg(&trace)
        .arg(env!("CARGO_BIN_EXE_static-host"))
        .output()
    {
        Ok(out) => out,
        Err(e) => {
            eprintln!("strace is not available here ({e}): skipping the system-call check");
            return;
        }
    };
    if !out.status.success() {
        // strace itself may be refused (no ptrace in some containers).
        eprintln!("strace failed: {out:?}: skipping the system-call check");
        return;
    }
    check_output(&String::from_utf8(out.stdout).unwrap());
    let calls = std::fs::read_to_string(&trace).unwrap();
    std::fs::remove_file(&trace).ok();
    for line in calls.lines() {
        assert!(
            !line.contains(".kiln") && !line.contains("guest.o"),
            "an artifact file was opened: {line}"
        );
        // Executable mappings are only the program's and its libraries', made by the dynamic
        // loader from their own descriptors before `main`: none of a file Kiln opened.
        assert!(!line.contains("memfd"), "{line}");
    }
    assert!(calls.contains("openat"), "the trace saw nothing: {calls}");
}
