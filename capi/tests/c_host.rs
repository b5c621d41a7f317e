//! A C host built with plain `cc`: it links the object `kiln compile --emit obj` writes and this
//! crate's static library, runs the linked-in artifact in place, loads another from a buffer, and
//! reports traps and refusals with the loader's messages; and one that runs WASI commands.

use kiln_compiler::{compile, CompileOptions};
use kiln_format::Arch;
use std::path::{Path, PathBuf};
use std::process::Command;

const GUEST: &str = r#"(module
  (func $fib (export "fib") (param i64) (result i64)
    (if (result i64) (i64.lt_u (local.get 0) (i64.const 2))
      (then (local.get 0))
      (else (i64.add (call $fib (i64.sub (local.get 0) (i64.const 1)))
                     (call $fib (i64.sub (local.get 0) (i64.const 2)))))))
  (func (export "trap") unreachable))"#;

/// This crate's static library, which cargo builds beside this test (in `deps/`, the newest if
/// several are there).
fn static_library() -> Option<PathBuf> {
    let exe = std::env::current_exe().unwrap();
    let deps = exe.parent()?;
    std::fs::read_dir(deps)
        .ok()?
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| {
            let name = p.file_name().and_then(|n| n.to_str()).unwrap_or("");
            name.starts_with("libkiln_capi") && name.ends_with(".a")
        })
        .max_by_key(|p| p.metadata().and_then(|m| m.modified()).ok())
}

fn cc() -> Option<String> {
    ["cc", "gcc", "clang"]
        .into_iter()
        .find(|c| Command::new(c).arg("--version").output().is_ok())
        .map(str::to_string)
}

/// Builds the C host `source` (in `tests/`) with `objects` and the static library into `exe`.
fn build_host(cc: &str, lib: &Path, source: &str, objects: &[&Path], exe: &Path) {
    let here = Path::new(env!("CARGO_MANIFEST_DIR"));
    let out = Command::new(cc)
        .arg("-o")
        .arg(exe)
        .arg("-I")
        .arg(here.join("include"))
        .arg(here.join("tests").join(source))
        .args(objects)
        .arg(lib)
        .args(["-lpthread", "-ldl", "-lm"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn a_c_host_runs_a_linked_in_artifact() {
    let Some(cc) = cc() else {
        eprintln!("no C compiler here: skipping");
        return;
    };
    let lib = static_library().expect("cargo builds libkiln_capi.a with this test");
    let dir = tempfile::tempdir().unwrap();
    let wasm = wat::parse_str(GUEST).unwrap();
    let artifact = compile(&wasm, &CompileOptions::default()).unwrap();
    let object = kiln_format::writer::write_artifact_object(
        &artifact,
        Arch::host().unwrap(),
        "kiln_artifact_guest",
    )
    .unwrap();
    let (obj, art, exe) = (
        dir.path().join("guest.o"),
        dir.path().join("guest.kiln"),
        dir.path().join("host"),
    );
    std::fs::write(&obj, object).unwrap();
    std::fs::write(&art, &artifact).unwrap();
    build_host(&cc, &lib, "c_host.c", &[&obj], &exe);
    let out = Command::new(&exe).arg(&art).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines[0], "linked: fib(20) = 6765", "{stdout}");
    assert!(
        lines[1].starts_with("linked: wasm trap: unreachable"),
        "{stdout}"
    );
    assert_eq!(lines[2], "bytes: fib(20) = 6765", "{stdout}");
    assert!(
        lines[4].starts_with("open: /nonexistent.kiln: "),
        "{stdout}"
    );
    // Run in place: with no file argument, the only artifact path the host touches is the one
    // it is meant to be refused (`/nonexistent.kiln`); strace (where it runs) shows no other.
    let trace = dir.path().join("trace");
    match Command::new("strace")
        .args(["-f", "-e", "trace=open,openat,mmap", "-o"])
        .arg(&trace)
        .arg(&exe)
        .output()
    {
        Ok(out) if out.status.success() => {
            let stdout = String::from_utf8_lossy(&out.stdout);
            assert!(stdout.starts_with("linked: fib(20) = 6765"), "{stdout}");
            let calls = std::fs::read_to_string(&trace).unwrap();
            for line in calls.lines() {
                let names_artifact = line.contains(".kiln") || line.contains("guest.o");
                assert!(
                    !names_artifact || line.contains("/nonexistent.kiln"),
                    "an artifact file was opened: {line}"
                );
            }
            assert!(calls.contains("openat"), "the trace saw nothing: {calls}");
        }
        other => eprintln!("strace unavailable here ({other:?}): skipping the system-call check"),
    }
}

/// Compiles the WASI program `name` of `tests/programs` into `dir`.
fn program_artifact(dir: &Path, name: &str) -> PathBuf {
    let wasm = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/programs")
        .join(format!("{name}.wasm"));
    let artifact = compile(&std::fs::read(wasm).unwrap(), &CompileOptions::default()).unwrap();
    let path = dir.join(format!("{name}.kiln"));
    std::fs::write(&path, artifact).unwrap();
    path
}

#[test]
fn a_c_host_runs_wasi_commands() {
    let Some(cc) = cc() else {
        eprintln!("no C compiler here: skipping");
        return;
    };
    let lib = static_library().expect("cargo builds libkiln_capi.a with this test");
    let dir = tempfile::tempdir().unwrap();
    let exe = dir.path().join("wasi-host");
    build_host(&cc, &lib, "c_wasi_host.c", &[], &exe);
    let run = |artifact: &Path, preopen: &Path, args: &[&str]| {
        let out = Command::new(&exe)
            .arg(artifact)
            .arg(preopen)
            .args(args)
            .output()
            .unwrap();
        String::from_utf8(out.stdout).unwrap()
    };
    let none = Path::new("-");

    // Arguments and environment reach the guest; a return from `main` is status 0.
    let args_env = program_artifact(dir.path(), "args_env");
    let out = run(&args_env, none, &["one", "two words"]);
    assert!(out.contains("argc=3\n"), "{out}");
    assert!(
        out.contains("argv[0]=[guest]\nargv[1]=[one]\nargv[2]=[two words]\n"),
        "{out}"
    );
    assert!(out.contains("getenv(GREETING)=[from-c]"), "{out}");
    assert!(out.ends_with("status: 0\n"), "{out}");

    // `exit(N)` and `return N` give the status; a trap is an error with its message.
    let exit_code = program_artifact(dir.path(), "exit_code");
    assert!(run(&exit_code, none, &["exit", "7"]).ends_with("exit 7\nstatus: 7\n"));
    assert!(run(&exit_code, none, &["return", "3"]).ends_with("status: 3\n"));
    let out = run(&exit_code, none, &["trap", "0"]);
    assert!(out.contains("run: wasm trap: unreachable"), "{out}");

    // A preopened directory: the program creates, renames and reads files in it.
    let sandbox = dir.path().join("sandbox");
    std::fs::create_dir(&sandbox).unwrap();
    let files = program_artifact(dir.path(), "files");
    let out = run(&files, &sandbox, &["/sandbox"]);
    assert!(out.ends_with("status: 0\n"), "{out}");
    assert!(
        std::fs::read_dir(&sandbox).unwrap().next().is_some(),
        "the guest left no file in its directory: {out}"
    );

    // A non-WASI import is refused at instantiation, naming it.
    let foreign = dir.path().join("foreign.kiln");
    let wasm =
        wat::parse_str(r#"(module (import "env" "f" (func)) (func (export "_start")))"#).unwrap();
    std::fs::write(
        &foreign,
        compile(&wasm, &CompileOptions::default()).unwrap(),
    )
    .unwrap();
    let out = run(&foreign, none, &[]);
    assert_eq!(
        out,
        "instantiate: instantiation failed: unknown import: `env::f` has not been defined\n"
    );
}
