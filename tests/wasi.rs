//! WASI programs run through the real `kiln` binary: C programs compiled to wasm32-wasi
//! (tests/programs, rebuilt by tests/programs/build.sh; the .wasm files are committed), compiled
//! to artifacts with `kiln compile` and run with `kiln run`. Their standard output and error,
//! exit status and the files they leave are compared with what they must be. The WASI functions
//! are also linked and called through the library (`kiln_wasi::add_to_linker`).

mod common;

use kiln_loader::{Error, FuncType, Linker, Store, Val};
use kiln_wasi::{Errno, I32Exit, WasiCtx};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

fn kiln() -> Command {
    common::kiln_command()
}

fn program(file: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/programs")
        .join(file)
}

/// What a run produced.
#[derive(Debug)]
struct Run {
    status: i32,
    stdout: Vec<u8>,
    stderr: String,
}

impl Run {
    fn stdout(&self) -> String {
        String::from_utf8_lossy(&self.stdout).into_owned()
    }
}

/// Compiles tests/programs/`name`.wasm to `dir`/`name`.kiln with `kiln compile`.
fn compile(name: &str, dir: &Path) -> PathBuf {
    let out = dir.join(format!("{name}.kiln"));
    let result = kiln()
        .arg("compile")
        .arg(program(&format!("{name}.wasm")))
        .arg("-o")
        .arg(&out)
        .output()
        .expect("run kiln compile");
    assert!(
        result.status.success(),
        "kiln compile {name}.wasm failed: {}",
        String::from_utf8_lossy(&result.stderr)
    );
    out
}

/// `kiln run ARGS` in `cwd`, with `stdin` as standard input.
fn run_in(cwd: &Path, args: &[&str], stdin: &[u8]) -> Run {
    let mut child = kiln()
        .arg("run")
        .args(args)
        .current_dir(cwd)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run kiln run");
    let mut input = child.stdin.take().unwrap();
    let data = stdin.to_vec();
    // Written from another thread so that a large input cannot deadlock against the output.
    let writer = std::thread::spawn(move || {
        let _ = input.write_all(&data);
    });
    let out = child.wait_with_output().expect("wait for kiln run");
    writer.join().unwrap();
    Run {
        status: out.status.code().expect("kiln run was killed by a signal"),
        stdout: out.stdout,
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

fn arg(p: &Path) -> &str {
    p.to_str().expect("UTF-8 temp path")
}

/// The CRC-32 (IEEE) of `data`, to check a file the guest wrote.
fn crc32(data: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &b in data {
        crc ^= b as u32;
        for _ in 0..8 {
            crc = if crc & 1 != 0 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

#[test]
fn stdio_is_inherited() {
    let tmp = tempfile::tempdir().unwrap();
    let art = compile("stdio", tmp.path());
    let mut input = b"hello\nworld\n".to_vec();
    input.extend(0..=255u8);
    input.extend((0..300_000u32).map(|i| (i * 31 % 251) as u8));
    let r = run_in(tmp.path(), &[arg(&art)], &input);
    assert_eq!(r.status, 0, "{}", r.stderr);
    let mut want = input.clone();
    want.extend_from_slice(b"stdout via stdio: 42\n");
    assert!(r.stdout == want, "stdout differs from stdin + trailer");
    assert_eq!(r.stderr, format!("echoed {} bytes\n", input.len()));

    // No input at all.
    let r = run_in(tmp.path(), &[arg(&art)], b"");
    assert_eq!(r.status, 0);
    assert_eq!(r.stdout(), "stdout via stdio: 42\n");
    assert_eq!(r.stderr, "echoed 0 bytes\n");
}

#[test]
fn a_wasm_module_runs_directly() {
    let tmp = tempfile::tempdir().unwrap();
    let wasm = program("stdio.wasm");
    let r = run_in(tmp.path(), &[arg(&wasm)], b"direct\n");
    assert_eq!(r.status, 0, "{}", r.stderr);
    assert_eq!(r.stdout(), "direct\nstdout via stdio: 42\n");
}

#[test]
fn arguments_and_environment() {
    let tmp = tempfile::tempdir().unwrap();
    let art = compile("args_env", tmp.path());
    let r = run_in(
        tmp.path(),
        &[
            "--env",
            "GREETING=hello, world",
            "--env",
            "EMPTY=",
            "--env",
            "UNICODE=héllo=wörld",
            arg(&art),
            "--",
            "one",
            "two words",
            "--flag",
            "",
            "ü",
        ],
        b"",
    );
    assert_eq!(r.status, 0, "{}", r.stderr);
    assert_eq!(
        r.stdout(),
        "argc=6\n\
         argv[0]=[args_env.kiln]\n\
         argv[1]=[one]\n\
         argv[2]=[two words]\n\
         argv[3]=[--flag]\n\
         argv[4]=[]\n\
         argv[5]=[ü]\n\
         envc=3\n\
         env[0]=[EMPTY=]\n\
         env[1]=[GREETING=hello, world]\n\
         env[2]=[UNICODE=héllo=wörld]\n\
         getenv(GREETING)=[hello, world]\n"
    );
    assert_eq!(r.stderr, "");

    // No arguments, no environment: only argv[0].
    let r = run_in(tmp.path(), &[arg(&art)], b"");
    assert_eq!(
        r.stdout(),
        "argc=1\nargv[0]=[args_env.kiln]\nenvc=0\ngetenv(GREETING)=[(unset)]\n"
    );
}

#[test]
fn exit_codes_and_traps() {
    let tmp = tempfile::tempdir().unwrap();
    let art = compile("exit_code", tmp.path());
    let a = arg(&art);
    for (how, code, status) in [
        ("exit", "0", 0),
        ("exit", "3", 3),
        ("return", "7", 7),
        ("return", "0", 0),
        ("_Exit", "9", 9),
        ("exit", "255", 255),
        // Only the low 8 bits of an exit status reach the parent, as for a native process.
        ("exit", "261", 5),
    ] {
        let r = run_in(tmp.path(), &[a, how, code], b"");
        assert_eq!(r.status, status, "{how} {code}: {}", r.stderr);
        assert_eq!(r.stdout(), format!("{how} {code}\n"));
        assert_eq!(r.stderr, "", "{how} {code}");
    }
    // No arguments: main returns 0.
    let r = run_in(tmp.path(), &[a], b"");
    assert_eq!(r.status, 0);

    let r = run_in(tmp.path(), &[a, "trap", "1"], b"");
    assert_eq!(r.status, 134);
    assert_eq!(r.stdout(), "trap 1\n");
    assert!(
        r.stderr
            .starts_with(&format!("error: {a}: wasm trap: unreachable")),
        "{}",
        r.stderr
    );
}

#[test]
fn files_in_a_preopened_directory() {
    let tmp = tempfile::tempdir().unwrap();
    let art = compile("files", tmp.path());
    let sandbox = tmp.path().join("sandbox");
    std::fs::create_dir(&sandbox).unwrap();
    let dir = format!("{}::/sandbox", arg(&sandbox));
    let r = run_in(tmp.path(), &["--dir", &dir, arg(&art), "/sandbox"], b"");
    assert_eq!(r.status, 0, "{}", r.stderr);
    assert_eq!(r.stderr, "");
    let want = "\
mkdir work: OK
mkdir work again: EEXIST
read 31: Hello, WASI world!
second line
seek set 7 -> [WASI]
seek end 26 -> [line]
seek cur 20
seek before start: EINVAL
pwrite 5
pread [HELLO, WASI ]
offset still 20
ftruncate: OK
size after truncate 13, regular 1
size after append 23
create exclusive existing: EEXIST
open missing: ENOENT
open file as directory: ENOTDIR
rename: OK
stat old name: ENOENT
stat new name: OK
mkdir work/sub: OK
symlink: OK
list work (2 dots): a.txt:f b.txt:f link:l renamed.txt:f sub:d
readlink 11 [renamed.txt]
stat through link: size 23 regular 1
lstat link: symlink 1
hard link: OK
nlink 2
utimensat: OK
atime 1000000000 mtime 1234567890.000000500
futimens: OK
a.txt mtime 2000000000
mkdir many: OK
many: 300 entries, index sum 44850
rmdir non-empty: ENOTEMPTY
rmdir a file: ENOTDIR
unlink a directory: EISDIR
unlink missing: ENOENT
unlink link: OK
unlink hard: OK
unlink a: OK
unlink b: OK
rmdir sub: OK
move out: OK
rmdir work: OK
rmdir many: OK
list . (2 dots): result.txt:f
done
";
    assert_eq!(r.stdout(), want);

    // What the program left, seen from the host.
    let mut names: Vec<String> = std::fs::read_dir(&sandbox)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    assert_eq!(names, ["bytes.bin", "result.txt"]);
    assert_eq!(
        std::fs::read_to_string(sandbox.join("result.txt")).unwrap(),
        "HELLO, WASI w appended\n"
    );
    let mtime = std::fs::metadata(sandbox.join("result.txt"))
        .unwrap()
        .modified()
        .unwrap();
    assert_eq!(
        mtime.duration_since(std::time::UNIX_EPOCH).unwrap(),
        std::time::Duration::new(1_234_567_890, 500)
    );
    let bytes = std::fs::read(sandbox.join("bytes.bin")).unwrap();
    let want_bytes: Vec<u8> = (0..100_000u32)
        .map(|i| ((i * 7 + 3) & 0xff) as u8)
        .collect();
    assert!(bytes == want_bytes, "bytes.bin differs");

    // The same with the directory preopened as "." from the working directory.
    let second = tmp.path().join("second");
    std::fs::create_dir(&second).unwrap();
    let r = run_in(&second, &["--dir", ".", arg(&art), "."], b"");
    assert_eq!(r.status, 0, "{}", r.stderr);
    assert_eq!(r.stdout(), want);
    assert!(second.join("result.txt").is_file());
}

#[test]
fn the_sandbox_cannot_be_escaped() {
    let tmp = tempfile::tempdir().unwrap();
    let art = compile("sandbox", tmp.path());
    let outside = tmp.path().join("outside");
    let sandbox = tmp.path().join("sandbox");
    std::fs::create_dir_all(&outside).unwrap();
    std::fs::create_dir_all(sandbox.join("sub")).unwrap();
    std::fs::write(outside.join("secret.txt"), "TOP SECRET\n").unwrap();
    std::fs::write(sandbox.join("ok.txt"), "inside\n").unwrap();
    use std::os::unix::fs::symlink;
    symlink("../outside", sandbox.join("escape_dir")).unwrap();
    symlink(&outside, sandbox.join("escape_abs")).unwrap();
    symlink(outside.join("secret.txt"), sandbox.join("escape_file")).unwrap();
    symlink("ok.txt", sandbox.join("inner_link")).unwrap();
    symlink("../ok.txt", sandbox.join("sub/up_link")).unwrap();
    let listing = |d: &Path| {
        let mut v: Vec<String> = std::fs::read_dir(d)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        v.sort();
        v
    };
    let sandbox_before = listing(&sandbox);
    let top_before = listing(tmp.path());

    let dir = format!("{}::/sandbox", arg(&sandbox));
    let r = run_in(tmp.path(), &["--dir", &dir, arg(&art)], b"");
    assert_eq!(r.status, 0, "{}", r.stderr);
    assert_eq!(
        r.stdout(),
        "\
dotdot: denied EPERM
dotdot from a subdirectory: denied EPERM
absolute host path: denied ENOTCAPABLE
relative symlink out: denied EPERM
absolute symlink to a directory: denied EPERM
absolute symlink to a file: denied EPERM
create through a symlink: denied EPERM
truncate through a symlink: denied EPERM
mkdir outside: EPERM
rename out: EPERM
rename in: EPERM
hard link in: EPERM
hard link through a symlink: EPERM
unlink outside: EPERM
unlink through a symlink: EPERM
symlink to an absolute path: EPERM
stat through a symlink: EPERM
utimensat through a symlink: EPERM
opendir parent: EPERM
readlink absolute target: EPERM
raw dotdot: EPERM
raw absolute: EPERM
raw absolute to the sandbox itself: EPERM
raw dotdot through a subdirectory: EPERM
open sub: OK
raw dotdot from an opened subdirectory: EPERM
raw filestat of ..: EPERM
raw absolute symlink: EPERM
inside: ALLOWED [inside]
dotdot staying inside: ALLOWED [inside]
symlink inside: ALLOWED [inside]
symlink up staying inside: ALLOWED [inside]
lstat of an escaping symlink: ALLOWED
readlink relative target: [../outside]
"
    );
    // Nothing changed, inside or out.
    assert_eq!(listing(&outside), ["secret.txt"]);
    assert_eq!(
        std::fs::read_to_string(outside.join("secret.txt")).unwrap(),
        "TOP SECRET\n"
    );
    assert_eq!(listing(&sandbox), sandbox_before);
    assert_eq!(listing(tmp.path()), top_before);
    assert_eq!(
        std::fs::read_to_string(sandbox.join("ok.txt")).unwrap(),
        "inside\n"
    );
}

#[test]
fn without_preopens_no_file_is_reachable() {
    let tmp = tempfile::tempdir().unwrap();
    let art = compile("files", tmp.path());
    let r = run_in(tmp.path(), &[arg(&art), "."], b"");
    assert_eq!(r.status, 1);
    assert_eq!(
        r.stdout(),
        "mkdir work: ENOTCAPABLE\nmkdir work again: ENOTCAPABLE\nfopen: ENOTCAPABLE\n"
    );
    assert_eq!(std::fs::read_dir(tmp.path()).unwrap().count(), 1);
}

#[test]
fn clocks_random_and_poll() {
    let tmp = tempfile::tempdir().unwrap();
    let art = compile("clocks_random", tmp.path());
    let r = run_in(tmp.path(), &[arg(&art)], b"ready\n");
    assert_eq!(r.status, 0, "{}\n{}", r.stdout(), r.stderr);
    assert_eq!(
        r.stdout(),
        "\
realtime after 2020: ok
time() agrees with realtime: ok
monotonic resolution: ok
realtime resolution: ok
monotonic does not go back: ok
nanosleep 50ms: ok
usleep 20ms: ok
clock_nanosleep absolute: ok
getentropy: ok
random bytes differ: ok
random bytes are not zero: ok
random bits are balanced: ok
poll timeout 30ms: ok
poll: stdout writable: ok
poll: stdin readable: ok
read what poll announced: ok
all ok
"
    );
}

#[test]
fn raw_calls_check_pointers_errnos_and_layouts() {
    let tmp = tempfile::tempdir().unwrap();
    // The program checks argv[0] against this name.
    let art = compile("wasi_raw", tmp.path());
    let sandbox = tmp.path().join("sandbox");
    std::fs::create_dir(&sandbox).unwrap();
    let dir = format!("{}::/sandbox", arg(&sandbox));
    let r = run_in(tmp.path(), &["--dir", &dir, arg(&art), "arg-1"], b"");
    let out = r.stdout();
    assert_eq!(r.status, 0, "{out}{}", r.stderr);
    assert!(!out.contains("FAIL"), "{out}");
    let mut lines = out.lines();
    assert_eq!(lines.next(), Some("still alive"));
    let summary = lines.next().unwrap();
    let checks: u32 = summary
        .strip_suffix(" checks, 0 failed")
        .unwrap_or_else(|| panic!("summary: {summary}"))
        .parse()
        .unwrap();
    assert!(checks > 200, "{summary}");
    assert_eq!(lines.next(), None);
    assert_eq!(std::fs::read(sandbox.join("raw.txt")).unwrap(), b"hel");
    assert_eq!(
        std::fs::read_link(sandbox.join("dir/l")).unwrap(),
        Path::new("f")
    );
}

#[test]
fn zlib_compresses_and_writes_a_gzip_file() {
    let tmp = tempfile::tempdir().unwrap();
    let art = compile("zlib", tmp.path());
    let out = tmp.path().join("out");
    std::fs::create_dir(&out).unwrap();
    let dir = format!("{}::/out", arg(&out));
    let r = run_in(tmp.path(), &["--dir", &dir, arg(&art), "/out"], b"");
    assert_eq!(r.status, 0, "{}\n{}", r.stdout(), r.stderr);
    // The same numbers as the same program built natively.
    assert_eq!(
        r.stdout(),
        "\
zlib 1.3.2
input: 1048576 bytes, crc32 efb93112, adler32 3b7342ec
level 0: 1048667 bytes, crc32 035339f6, round trip ok
level 1: 478935 bytes, crc32 6b4b6f6f, round trip ok
level 6: 421816 bytes, crc32 76d1f467, round trip ok
level 9: 412383 bytes, crc32 8fc3fe51, round trip ok
stream gzip: 421828 bytes, crc32 2c445989
gz file: 412395 bytes
gz read back: ok
all ok
"
    );
    let gz = std::fs::read(out.join("data.gz")).unwrap();
    assert_eq!(gz.len(), 412_395);
    assert_eq!(&gz[..3], &[0x1f, 0x8b, 8]);
    assert_eq!(crc32(&gz), 0xb3eb_2e47);
}

#[test]
fn unknown_imports() {
    let tmp = tempfile::tempdir().unwrap();
    let wat = program("unknown_import.wat");
    let w = arg(&wat);
    let r = run_in(tmp.path(), &[w], b"");
    assert_eq!(r.status, 1);
    assert!(
        r.stderr.contains("unknown import: `env::missing`"),
        "{}",
        r.stderr
    );

    let r = run_in(tmp.path(), &["--default-values-unknown-imports", w], b"");
    assert_eq!(r.status, 4, "{}", r.stderr);

    let r = run_in(tmp.path(), &["--trap-unknown-imports", w], b"");
    assert_eq!(r.status, 134);
    assert!(
        r.stderr.starts_with(&format!(
            "error: {w}: host function `env.missing` failed (called from _start at wasm offset "
        )) && r
            .stderr
            .lines()
            .next()
            .unwrap()
            .ends_with(": unknown import `env::missing` was called"),
        "{}",
        r.stderr
    );
}

#[test]
fn invoke_prints_results() {
    let tmp = tempfile::tempdir().unwrap();
    let wat = program("invoke.wat");
    let w = arg(&wat);
    let r = run_in(tmp.path(), &[w, "--invoke", "add", "40", "2"], b"");
    assert_eq!(
        (r.status, r.stdout().as_str()),
        (0, "1042\n"),
        "{}",
        r.stderr
    );
    let r = run_in(tmp.path(), &["--invoke", "add", w, "--", "-50", "8"], b"");
    assert_eq!(
        (r.status, r.stdout().as_str()),
        (0, "958\n"),
        "{}",
        r.stderr
    );
    let r = run_in(tmp.path(), &["--invoke", "quit", w, "6"], b"");
    assert_eq!((r.status, r.stdout().as_str()), (6, ""), "{}", r.stderr);
    let r = run_in(tmp.path(), &[w], b"");
    assert_ne!(r.status, 0);
    assert!(
        r.stderr.contains("no exported function `_start`"),
        "{}",
        r.stderr
    );
}

#[test]
fn a_module_without_memory_gets_efault() {
    let tmp = tempfile::tempdir().unwrap();
    let r = run_in(tmp.path(), &[arg(&program("no_memory.wat"))], b"");
    assert_eq!(r.status, 21, "{}", r.stderr);
}

#[test]
fn a_missing_directory_is_an_error() {
    let tmp = tempfile::tempdir().unwrap();
    let missing = tmp.path().join("missing");
    let r = run_in(
        tmp.path(),
        &["--dir", arg(&missing), arg(&program("stdio.wasm"))],
        b"",
    );
    assert_eq!(r.status, 1);
    assert!(r.stderr.contains("cannot open directory"), "{}", r.stderr);
}

/// The word-frequency report tests/programs/wordfreq.cpp prints, computed here independently.
fn expected_wordfreq(text: &str) -> String {
    use std::collections::HashMap;
    let mut counts: HashMap<String, u64> = HashMap::new();
    let mut total = 0u64;
    for w in text
        .split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|w| !w.is_empty())
    {
        *counts.entry(w.to_ascii_lowercase()).or_default() += 1;
        total += 1;
    }
    let mut sorted: Vec<_> = counts.into_iter().collect();
    sorted.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    let mut out = format!("wordfreq: {total} words, {} distinct\n", sorted.len());
    for (w, n) in sorted.iter().take(10) {
        out += &format!("{w} {n}\n");
    }
    let mut hash: u64 = 1469598103934665603;
    for (w, n) in &sorted {
        for b in w.bytes() {
            hash = (hash ^ u64::from(b)).wrapping_mul(1099511628211);
        }
        hash = (hash ^ n).wrapping_mul(1099511628211);
    }
    out + &format!("checksum {hash}\n")
}

#[test]
fn a_cpp_program_with_libcxx() {
    let tmp = tempfile::tempdir().unwrap();
    let art = compile("wordfreq", tmp.path());
    let words = [
        "Kiln", "wasm", "artifact", "mmap", "loader", "the", "a", "of", "trap", "page",
    ];
    let mut seed = 12345u64;
    let mut text = String::new();
    for i in 0..100_000 {
        seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        text += words[(seed >> 33) as usize % words.len()];
        text += if i % 13 == 0 { ", " } else { " " };
    }
    let r = run_in(tmp.path(), &[arg(&art)], text.as_bytes());
    assert_eq!(r.status, 0, "{}", r.stderr);
    assert_eq!(r.stdout(), expected_wordfreq(&text));
}

/// A C program built with tail calls (`musttail`, `clang -mtail-call`): an interpreter whose
/// handlers tail-call each other 3·10⁷ times, and mutual recursion 3·10⁷ deep, in constant stack
/// (plain calls would need gigabytes). Refused with the feature turned off.
#[test]
fn a_c_program_built_with_tail_calls() {
    let tmp = tempfile::tempdir().unwrap();
    let art = compile("tailcall", tmp.path());
    let r = run_in(tmp.path(), &[arg(&art), "10000000"], b"");
    assert_eq!(r.status, 0, "{}", r.stderr);
    assert_eq!(
        r.stdout(),
        "sum 1..10000000 = 50000005000000\nis_even(30000001) = 0\n"
    );
    let wasm = program("tailcall.wasm");
    let r = run_in(tmp.path(), &["-W", "tail-call=n", arg(&wasm)], b"");
    assert_ne!(r.status, 0);
    assert!(
        r.stderr.contains("tail calls support is not enabled"),
        "{}",
        r.stderr
    );
}

/// The host data of the stores of the library-level tests.
struct Host {
    wasi: WasiCtx,
}

/// A linker with every WASI function, for stores of `Host`.
fn wasi_linker() -> Linker<Host> {
    let mut linker = Linker::new();
    kiln_wasi::add_to_linker(&mut linker, |h: &mut Host| &mut h.wasi).unwrap();
    linker
}

/// A store with a default WASI context.
fn wasi_store() -> Store<Host> {
    Store::new(Host {
        wasi: WasiCtx::builder().build().unwrap(),
    })
}

/// `ty` in the text format, without the `func` keyword: `(param ..) (result ..)`.
fn signature(ty: &FuncType) -> String {
    let list = |word: &str, types: &[kiln_loader::ValType]| {
        if types.is_empty() {
            String::new()
        } else {
            let names: Vec<String> = types.iter().map(|t| t.to_string()).collect();
            format!(" ({word} {})", names.join(" "))
        }
    };
    list("param", ty.params()) + &list("result", ty.results())
}

/// A module importing `functions` from WASI, each also exported under its own name.
fn reexporting_module(functions: &[(&str, FuncType)]) -> String {
    let mut wat = String::from("(module\n");
    for (i, (name, ty)) in functions.iter().enumerate() {
        wat += &format!(
            "  (import \"{}\" \"{name}\" (func $f{i}{}))\n  (export \"{name}\" (func $f{i}))\n",
            kiln_wasi::MODULE,
            signature(ty)
        );
    }
    wat + ")"
}

#[test]
fn every_preview1_function_links_with_its_type() {
    let functions = kiln_wasi::functions();
    let mut names: Vec<&str> = functions.iter().map(|(n, _)| *n).collect();
    assert_eq!(names.len(), 46);
    names.sort();
    names.dedup();
    assert_eq!(names.len(), 46, "every function is defined once");

    // A module importing all of them, with their types, links.
    let linker = wasi_linker();
    let all = common::load_wat(&reexporting_module(&functions));
    let pre = linker
        .instantiate_pre(&all.artifact)
        .expect("every WASI function is defined");
    let mut store = wasi_store();
    let instance = pre.instantiate(&mut store).expect("and has its type");
    for (name, ty) in &functions {
        let f = instance.get_func(&mut store, name).unwrap();
        assert_eq!(&f.ty(&store), ty, "{name}");
    }

    // One imported with a wrong type does not.
    let wrong = vec![("fd_close", FuncType::new([kiln_loader::ValType::I64], []))];
    let bad = common::load_wat(&reexporting_module(&wrong));
    let mut store = wasi_store();
    // (Refused when instantiated: `instantiate_pre` finds the definitions by name only.)
    let Err(e) = linker
        .instantiate_pre(&bad.artifact)
        .and_then(|pre| pre.instantiate(&mut store))
    else {
        panic!("a mistyped WASI import is refused");
    };
    assert!(matches!(e, Error::Link(_)), "{e:?}");
    assert!(e.to_string().contains("fd_close"), "{e}");
}

#[test]
fn host_calls_without_a_calling_instance_fault_instead_of_crashing() {
    // A module without memory re-exporting WASI functions: called directly from the host, the
    // WASI functions see no calling instance and no memory.
    let functions = kiln_wasi::functions();
    let module = common::load_wat(&reexporting_module(&functions));
    let mut store = wasi_store();
    let instance = wasi_linker()
        .instantiate(&mut store, &module.artifact)
        .unwrap();
    let mut call = |name: &str, args: &[Val]| -> Result<Vec<Val>, Error> {
        instance.call(&mut store, name, args)
    };
    let errno = |e: Errno| vec![Val::I32(i32::from(e.raw()))];
    assert_eq!(Errno::Fault.raw(), 21);
    assert_eq!(Errno::Nosys.raw(), 52);
    assert_eq!(Errno::Badf.raw(), 8);
    assert_eq!(
        call("args_sizes_get", &[Val::I32(0), Val::I32(4)]).unwrap(),
        errno(Errno::Fault)
    );
    assert_eq!(
        call(
            "fd_write",
            &[Val::I32(1), Val::I32(0), Val::I32(1), Val::I32(8)]
        )
        .unwrap(),
        errno(Errno::Fault)
    );
    assert_eq!(
        call("proc_raise", &[Val::I32(2)]).unwrap(),
        errno(Errno::Nosys)
    );
    assert_eq!(call("sched_yield", &[]).unwrap(), [Val::I32(0)]);
    assert_eq!(
        call("fd_close", &[Val::I32(9)]).unwrap(),
        errno(Errno::Badf)
    );
    assert_eq!(call("fd_close", &[Val::I32(2)]).unwrap(), [Val::I32(0)]);
    match call("proc_exit", &[Val::I32(3)]) {
        Err(e) => assert_eq!(e.downcast_ref::<I32Exit>(), Some(&I32Exit(3)), "{e}"),
        Ok(r) => panic!("proc_exit did not exit: {r:?}"),
    }
}
