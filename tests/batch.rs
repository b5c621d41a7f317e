//! `kiln compile a.wasm b.wasm ... -d OUTDIR`, as a build system drives it: byte-identical
//! outputs whatever the parallelism, one line per failed file and a non-zero exit with the good
//! outputs still written, no output left for a failed module, a Make-style depfile, and a progress
//! bar only on a terminal.

mod common;

use common::{kiln, text};
use std::path::{Path, PathBuf};
use std::process::Command;

fn repo(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(path)
}

/// Real programs of several sizes (zlib is the largest, with 158 functions), and the example.
fn programs() -> Vec<PathBuf> {
    [
        "tests/programs/zlib.wasm",
        "tests/programs/wordfreq.wasm",
        "tests/programs/stdio.wasm",
        "tests/programs/exceptions.wasm",
        "examples/fib.wat",
    ]
    .into_iter()
    .map(repo)
    .collect()
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// The names of the files in `dir`, sorted.
fn files_in(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

/// Compiles `inputs` into `dir` with `extra` options; asserts success and a quiet stderr (it is
/// not a terminal here).
fn batch(inputs: &[PathBuf], dir: &Path, extra: &[&str]) {
    let mut args = vec!["compile"];
    args.extend(inputs.iter().map(|p| s(p)));
    args.extend(["-d", s(dir)]);
    args.extend(extra);
    let out = kiln(&args);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(text(&out.stderr), "", "no progress bar off a terminal");
}

#[test]
fn batch_outputs_are_byte_identical_whatever_the_parallelism() {
    let tmp = tempfile::tempdir().unwrap();
    let (serial, parallel, two) = (
        tmp.path().join("j1"),
        tmp.path().join("default"),
        tmp.path().join("j2"),
    );
    let inputs = programs();
    batch(&inputs, &serial, &["-j", "1"]);
    batch(&inputs, &parallel, &[]);
    batch(&inputs, &two, &["-j", "2"]);
    let expected = [
        "exceptions.kiln",
        "fib.kiln",
        "stdio.kiln",
        "wordfreq.kiln",
        "zlib.kiln",
    ];
    assert_eq!(files_in(&serial), expected);
    for name in expected {
        let a = std::fs::read(serial.join(name)).unwrap();
        assert_eq!(a, std::fs::read(parallel.join(name)).unwrap(), "{name}");
        assert_eq!(a, std::fs::read(two.join(name)).unwrap(), "{name}");
    }
    // And identical to what a single-file compile writes.
    for input in &inputs {
        let stem = input.file_stem().unwrap().to_str().unwrap();
        let single = tmp.path().join(format!("{stem}.single"));
        let out = kiln(&["compile", s(input), "-o", s(&single)]);
        assert!(out.status.success(), "{}", text(&out.stderr));
        assert_eq!(
            std::fs::read(&single).unwrap(),
            std::fs::read(serial.join(format!("{stem}.kiln"))).unwrap(),
            "{stem}"
        );
    }
}

#[test]
fn every_file_is_attempted_and_each_failure_is_one_line_naming_it() {
    let tmp = tempfile::tempdir().unwrap();
    let junk = tmp.path().join("junk.wasm");
    std::fs::write(&junk, b"\0asm\x01\0\0\0\x99garbage").unwrap();
    let invalid = tmp.path().join("invalid.wat");
    std::fs::write(&invalid, "(module (func (result i32) (i64.const 1)))").unwrap();
    // A text-format error spans several lines (a source excerpt): still one line here.
    let unparsable = tmp.path().join("unparsable.wat");
    std::fs::write(
        &unparsable,
        "(module (func $f (result i32)\n  (i32.const)))",
    )
    .unwrap();
    let missing = tmp.path().join("missing.wasm");
    let out_dir = tmp.path().join("out");
    std::fs::create_dir(&out_dir).unwrap();
    // Outputs of an earlier build: the one whose module now fails must not survive.
    std::fs::write(out_dir.join("invalid.kiln"), b"stale").unwrap();
    let fib = repo("examples/fib.wat");
    let stdio = repo("tests/programs/stdio.wasm");
    let depfile = tmp.path().join("out.d");
    let out = kiln(&[
        "compile",
        s(&junk),
        s(&fib),
        s(&invalid),
        s(&missing),
        s(&unparsable),
        s(&stdio),
        "-d",
        s(&out_dir),
        "--depfile",
        s(&depfile),
    ]);
    let err = text(&out.stderr);
    assert!(!out.status.success(), "{err}");
    assert!(!err.contains("panicked"), "{err}");
    let lines: Vec<&str> = err.lines().collect();
    assert_eq!(lines.len(), 4, "one line per failed file: {err}");
    // In the order of the command line, each naming its file and what is wrong.
    for (line, (file, what)) in lines.iter().zip([
        (&junk, "malformed section id"),
        (&invalid, "type mismatch"),
        (&missing, "cannot read"),
        (&unparsable, "not a WebAssembly module"),
    ]) {
        assert!(line.starts_with("error: "), "{line}");
        assert!(line.contains(s(file)), "{line} names {}", file.display());
        assert!(line.contains(what), "{line}: {what}");
    }
    // The good outputs are written and load; the failed ones left nothing, not even a
    // temporary file.
    assert_eq!(files_in(&out_dir), ["fib.kiln", "stdio.kiln"]);
    let run = kiln(&["run", s(&out_dir.join("fib.kiln")), "--invoke", "fib", "10"]);
    assert_eq!(text(&run.stdout), "55\n", "{}", text(&run.stderr));
    // The depfile lists what was written.
    let deps = std::fs::read_to_string(&depfile).unwrap();
    assert_eq!(
        deps,
        format!(
            "{}: {}\n{}: {}\n",
            out_dir.join("fib.kiln").display(),
            fib.display(),
            out_dir.join("stdio.kiln").display(),
            stdio.display()
        )
    );
}

#[test]
fn the_depfile_escapes_what_make_would_misread() {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("my src");
    std::fs::create_dir(&src).unwrap();
    let input = src.join("fib #1.wat");
    std::fs::copy(repo("examples/fib.wat"), &input).unwrap();
    let out_dir = tmp.path().join("build $out");
    let depfile = tmp.path().join("deps.d");
    batch(
        std::slice::from_ref(&input),
        &out_dir,
        &["--depfile", s(&depfile)],
    );
    let escape = |p: &Path| {
        s(p).replace(' ', "\\ ")
            .replace('#', "\\#")
            .replace('$', "$$")
    };
    assert_eq!(
        std::fs::read_to_string(&depfile).unwrap(),
        format!(
            "{}: {}\n",
            escape(&out_dir.join("fib #1.kiln")),
            escape(&input)
        )
    );
    // The single-file form writes one too.
    let single = tmp.path().join("single.kiln");
    let single_deps = tmp.path().join("single.d");
    let out = kiln(&[
        "compile",
        s(&input),
        "-o",
        s(&single),
        "--depfile",
        s(&single_deps),
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(
        std::fs::read_to_string(&single_deps).unwrap(),
        format!("{}: {}\n", escape(&single), escape(&input))
    );
}

#[test]
fn outputs_that_would_collide_and_misused_options_are_refused_before_compiling() {
    let tmp = tempfile::tempdir().unwrap();
    let (a, b) = (tmp.path().join("a"), tmp.path().join("b"));
    std::fs::create_dir(&a).unwrap();
    std::fs::create_dir(&b).unwrap();
    for dir in [&a, &b] {
        std::fs::copy(repo("examples/fib.wat"), dir.join("fib.wat")).unwrap();
    }
    let out_dir = tmp.path().join("out");
    let out = kiln(&[
        "compile",
        s(&a.join("fib.wat")),
        s(&b.join("fib.wat")),
        "-d",
        s(&out_dir),
    ]);
    let err = text(&out.stderr);
    assert!(!out.status.success());
    assert!(
        err.contains(s(&a.join("fib.wat"))) && err.contains(s(&b.join("fib.wat"))),
        "{err}"
    );
    assert!(files_in(&out_dir).is_empty(), "nothing compiled");

    // `-o` is one output for one input; `-o` and `-d` exclude each other; one is needed.
    let fib = repo("examples/fib.wat");
    let o = tmp.path().join("o.kiln");
    for args in [
        vec!["compile", s(&fib), s(&fib), "-o", s(&o)],
        vec!["compile", s(&fib), "-o", s(&o), "-d", s(&out_dir)],
        vec!["compile", s(&fib)],
    ] {
        let out = kiln(&args);
        let err = text(&out.stderr);
        assert!(!out.status.success(), "{args:?}");
        assert!(err.contains("-o") || err.contains("--output"), "{err}");
        assert!(!err.contains("panicked"), "{err}");
    }
    assert!(!o.exists());
}

#[test]
fn objects_can_be_compiled_in_a_batch_too() {
    let tmp = tempfile::tempdir().unwrap();
    let out_dir = tmp.path().join("objs");
    batch(
        &[repo("examples/fib.wat"), repo("tests/programs/stdio.wasm")],
        &out_dir,
        &["--emit", "obj"],
    );
    assert_eq!(files_in(&out_dir), ["fib.o", "stdio.o"]);
    let fib = std::fs::read(out_dir.join("fib.o")).unwrap();
    assert_eq!(&fib[..4], b"\x7fELF");
}

/// On a terminal (`script` gives kiln one), a batch shows a progress bar on stderr.
#[test]
fn a_batch_on_a_terminal_shows_progress() {
    if Command::new("script").arg("--version").output().is_err() {
        eprintln!("skipped: no `script` to run kiln on a terminal");
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let out_dir = tmp.path().join("out");
    let command = format!(
        "'{}' compile '{}' '{}' -d '{}'",
        env!("CARGO_BIN_EXE_kiln"),
        s(&repo("tests/programs/zlib.wasm")),
        s(&repo("examples/fib.wat")),
        s(&out_dir)
    );
    let out = Command::new("script")
        .args(["-q", "-e", "-c", &command, "/dev/null"])
        .output()
        .unwrap();
    let shown = text(&out.stdout);
    assert!(out.status.success(), "{shown}");
    assert!(shown.contains("compiled"), "{shown:?}");
    assert_eq!(files_in(&out_dir), ["fib.kiln", "zlib.kiln"]);
}

/// `-j N` bounds the threads of the whole batch: the modules share one pool instead of each
/// starting its own (which would run N × cores threads at once).
#[test]
fn a_batch_runs_no_more_threads_than_asked() {
    let tmp = tempfile::tempdir().unwrap();
    let out_dir = tmp.path().join("out");
    let mut child = Command::new(env!("CARGO_BIN_EXE_kiln"))
        .arg("compile")
        .args(programs())
        .args(["-d", s(&out_dir), "-j", "3"])
        .spawn()
        .unwrap();
    let status = format!("/proc/{}/status", child.id());
    let mut most = 0;
    let exit = loop {
        if let Some(exit) = child.try_wait().unwrap() {
            break exit;
        }
        // The process may end between the two calls: then there is nothing to read.
        let threads = std::fs::read_to_string(&status)
            .ok()
            .and_then(|s| {
                s.lines()
                    .find_map(|l| l.strip_prefix("Threads:"))
                    .and_then(|n| n.trim().parse::<u32>().ok())
            })
            .unwrap_or(0);
        most = most.max(threads);
        std::thread::sleep(std::time::Duration::from_millis(2));
    };
    assert!(exit.success());
    // The main thread and the pool's three.
    assert!((2..=4).contains(&most), "{most} threads");
}
