//! The compatibility key (`kiln inspect`, the compiler's and the loader's) and the compile cache of
//! `kiln run`: hits load without compiling, concurrent runs leave one valid entry, damaged entries
//! are recompiled and never run, an unwritable cache costs a warning, not the run.

use kiln_compiler::{CompileOptions, OptLevel};
use kiln_format::Arch;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

fn kiln_command(args: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_kiln"));
    command.args(args).stdin(Stdio::null());
    command
}

fn kiln(args: &[&str]) -> Output {
    kiln_command(args).output().expect("kiln runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn repo(path: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join(path)
        .display()
        .to_string()
}

/// Every `.kiln` file and every other file under `dir`, recursively.
fn files(dir: &Path) -> (Vec<PathBuf>, Vec<PathBuf>) {
    let (mut entries, mut others) = (Vec::new(), Vec::new());
    let Ok(read) = std::fs::read_dir(dir) else {
        return (entries, others);
    };
    for e in read.flatten() {
        let path = e.path();
        if path.is_dir() {
            let (a, b) = files(&path);
            entries.extend(a);
            others.extend(b);
        } else if path.extension().is_some_and(|x| x == "kiln") {
            entries.push(path);
        } else {
            others.push(path);
        }
    }
    (entries, others)
}

/// The only entry under `dir`.
fn only_entry(dir: &Path) -> PathBuf {
    let (entries, others) = files(dir);
    assert_eq!(entries.len(), 1, "{entries:?}");
    assert!(others.is_empty(), "no temporary file left: {others:?}");
    entries.into_iter().next().unwrap()
}

fn inode(path: &Path) -> u64 {
    std::fs::metadata(path).unwrap().ino()
}

/// `kiln run FILE --invoke fib 20` with the cache in `dir`.
fn run_fib(dir: &Path, file: &str) -> Output {
    kiln(&[
        "run",
        file,
        "--cache-dir",
        dir.to_str().unwrap(),
        "--invoke",
        "fib",
        "20",
    ])
}

fn inspect_key(artifact: &Path) -> String {
    let out = kiln(&["inspect", "--json", artifact.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    json["compatibility_key"].as_str().unwrap().to_string()
}

#[test]
fn the_compilers_loaders_and_inspects_keys_agree() {
    let dir = tempfile::tempdir().unwrap();
    let wasm = wat::parse_file(repo("examples/fib.wat")).unwrap();
    let cases: [(&[&str], CompileOptions); 5] = [
        (&[], CompileOptions::default()),
        (
            &["--fuel", "--epoch-interruption"],
            CompileOptions {
                fuel: true,
                epoch_interruption: true,
                ..CompileOptions::default()
            },
        ),
        (
            &["-O", "none", "--strip", "--unwind-info"],
            CompileOptions {
                opt_level: OptLevel::None,
                strip: true,
                unwind_info: true,
                ..CompileOptions::default()
            },
        ),
        (
            &["--target", "x86_64"],
            CompileOptions {
                target: Some(Arch::X86_64),
                ..CompileOptions::default()
            },
        ),
        (
            &["--target", "aarch64"],
            CompileOptions {
                target: Some(Arch::Aarch64),
                ..CompileOptions::default()
            },
        ),
    ];
    let mut keys = Vec::new();
    for (i, (flags, options)) in cases.iter().enumerate() {
        let art = dir.path().join(format!("{i}.kiln"));
        let mut args = vec![
            "compile",
            "../examples/fib.wat",
            "-o",
            art.to_str().unwrap(),
        ];
        args.extend_from_slice(flags);
        let out = kiln_command(&args)
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", text(&out.stderr));
        let expected = kiln_compiler::compatibility_key(options).unwrap();
        assert_eq!(inspect_key(&art), expected, "{flags:?}");
        // The loader reads it from the header, for a foreign artifact too.
        let loaded = kiln_loader::Artifact::open(&art).unwrap();
        assert_eq!(loaded.compatibility_key().unwrap(), expected, "{flags:?}");
        // And so does an artifact compiled through the library.
        let bytes = kiln_compiler::compile(&wasm, options).unwrap();
        let from_bytes = kiln_loader::Artifact::from_bytes(&bytes).unwrap();
        assert_eq!(from_bytes.compatibility_key().unwrap(), expected);
        keys.push(expected);
    }
    let text_report = text(&kiln(&["inspect", dir.path().join("0.kiln").to_str().unwrap()]).stdout);
    assert!(
        text_report.contains(&format!("compat key       {}\n", keys[0])),
        "{text_report}"
    );
    let count = keys.len();
    keys.sort();
    keys.dedup();
    assert!(
        keys.len() >= count - 1,
        "the host's features may be x86-64-v2's: {keys:?}"
    );
    // A file that is not an artifact has no key, and says why.
    let not_art = dir.path().join("junk.kiln");
    std::fs::write(&not_art, vec![0x7f; 4096]).unwrap();
    let junk = kiln_loader::Artifact::open(&not_art).unwrap();
    let err = junk.compatibility_key().unwrap_err().to_string();
    assert!(err.contains("junk.kiln"), "{err}");
}

#[test]
fn the_second_run_loads_the_entry_instead_of_compiling() {
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("cache");
    let fib = repo("examples/fib.wat");
    let out = run_fib(&cache, &fib);
    assert_eq!(text(&out.stdout), "6765\n", "{}", text(&out.stderr));
    assert_eq!(text(&out.stderr), "");
    let entry = only_entry(&cache);
    // Under the directory named by the key of `kiln run`'s options, named by the module's hash.
    let key = kiln_compiler::compatibility_key(&CompileOptions::default()).unwrap();
    assert_eq!(entry.parent().unwrap(), cache.join(&key));
    let wasm = wat::parse_file(&fib).unwrap();
    let sha = inspect_sha(&entry);
    assert!(entry
        .file_name()
        .unwrap()
        .to_string_lossy()
        .starts_with(&sha));
    assert_eq!(
        sha,
        kiln_compiler::cache::Cache::new(&cache)
            .key(&wasm, &CompileOptions::default())
            .unwrap()
            .wasm_sha256()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect::<String>()
    );
    let before = inode(&entry);
    let out = run_fib(&cache, &fib);
    assert_eq!(text(&out.stdout), "6765\n", "{}", text(&out.stderr));
    assert_eq!(text(&out.stderr), "");
    // Not written again: the same file, so nothing was compiled.
    assert_eq!(only_entry(&cache), entry);
    assert_eq!(inode(&entry), before);

    // Other options, another entry; `kiln cache stats` counts both, `clean` removes them.
    let out = kiln(&[
        "run",
        &fib,
        "--cache-dir",
        cache.to_str().unwrap(),
        "--fuel",
        "100000",
        "--invoke",
        "fib",
        "10",
    ]);
    assert_eq!(text(&out.stdout), "55\n", "{}", text(&out.stderr));
    let (entries, _) = files(&cache);
    assert_eq!(entries.len(), 2);
    let bytes: u64 = entries
        .iter()
        .map(|e| std::fs::metadata(e).unwrap().len())
        .sum();
    // What a process that died while writing an entry leaves: counted apart, cleaned.
    let leftover = entries[0].parent().unwrap().join(".tmp-crashed");
    std::fs::write(&leftover, b"half an artifact").unwrap();
    let out = kiln(&["cache", "stats", "--cache-dir", cache.to_str().unwrap()]);
    let stats = text(&out.stdout);
    assert!(stats.contains("entries          2\n"), "{stats}");
    assert!(stats.contains("temporary files  1\n"), "{stats}");
    assert!(
        stats.contains(&format!("bytes            {bytes}\n")),
        "{stats}"
    );
    let foreign = cache.join("README");
    std::fs::write(&foreign, "not the cache's").unwrap();
    let out = kiln(&["cache", "clean", "--cache-dir", cache.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains("removed 2 entries"),
        "{}",
        text(&out.stdout)
    );
    assert_eq!(files(&cache), (vec![], vec![foreign]));
    let out = kiln(&["cache", "stats", "--cache-dir", cache.to_str().unwrap()]);
    assert!(text(&out.stdout).contains("entries          0\n"));
}

fn inspect_sha(artifact: &Path) -> String {
    let out = kiln(&["inspect", "--json", artifact.to_str().unwrap()]);
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    json["wasm_sha256"].as_str().unwrap().to_string()
}

#[test]
fn the_default_cache_is_in_the_xdg_cache_home_else_in_home() {
    let dir = tempfile::tempdir().unwrap();
    let fib = repo("examples/fib.wat");
    let run = |xdg: Option<&Path>, home: &Path, extra: &[&str]| {
        let mut command = kiln_command(&["run", &fib]);
        command
            .args(extra)
            .args(["--invoke", "fib", "5"])
            .env("HOME", home)
            .env_remove("XDG_CACHE_HOME");
        if let Some(xdg) = xdg {
            command.env("XDG_CACHE_HOME", xdg);
        }
        let out = command.output().unwrap();
        assert_eq!(text(&out.stdout), "5\n", "{}", text(&out.stderr));
    };
    let xdg = dir.path().join("xdg");
    let home = dir.path().join("home");
    run(Some(&xdg), &home, &[]);
    only_entry(&xdg.join("kiln"));
    assert!(!home.exists());
    run(None, &home, &[]);
    only_entry(&home.join(".cache/kiln"));
    // A relative XDG_CACHE_HOME is ignored, as the XDG specification says.
    std::fs::remove_dir_all(&home).unwrap();
    run(Some(Path::new("relative")), &home, &[]);
    only_entry(&home.join(".cache/kiln"));
    // --no-cache reads and writes nothing.
    let fresh = dir.path().join("fresh");
    run(Some(&fresh), &home, &["--no-cache"]);
    assert!(!fresh.exists());
    let out = kiln_command(&["cache", "stats"])
        .env("XDG_CACHE_HOME", &xdg)
        .output()
        .unwrap();
    assert!(text(&out.stdout).contains("entries          1\n"));
}

#[test]
fn sixteen_processes_compiling_one_module_at_once_leave_one_valid_entry() {
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("cache");
    // The largest program of tests/programs, so that the compilations overlap.
    let wasm = repo("tests/programs/wordfreq.wasm");
    let args = ["run", &wasm, "--cache-dir", cache.to_str().unwrap()];
    let expected = kiln(&["run", &wasm, "--no-cache"]);
    assert!(expected.status.success(), "{}", text(&expected.stderr));
    assert!(text(&expected.stdout).starts_with("wordfreq: 0 words"));
    assert!(!cache.exists());
    let children: Vec<_> = (0..16)
        .map(|_| {
            kiln_command(&args)
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    for child in children {
        let out = child.wait_with_output().unwrap();
        assert!(out.status.success(), "{}", text(&out.stderr));
        assert_eq!(out.stdout, expected.stdout);
        assert_eq!(text(&out.stderr), "", "no warning");
    }
    let entry = only_entry(&cache);
    // Valid: loaded with its checksum verified, and used as it is by the next run.
    let artifact = kiln_loader::Artifact::open_with(
        &entry,
        &kiln_loader::LoadOptions {
            verify_checksum: true,
            ..Default::default()
        },
    );
    assert!(artifact.is_ok(), "{:?}", artifact.err());
    let before = inode(&entry);
    let out = kiln(&args);
    assert!(
        out.status.success() && out.stderr.is_empty(),
        "{}",
        text(&out.stderr)
    );
    assert_eq!(inode(&only_entry(&cache)), before);
}

/// Damage done to an entry's bytes.
type Damage = Box<dyn Fn(&mut Vec<u8>)>;

#[test]
fn a_damaged_entry_is_recompiled_and_never_run() {
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("cache");
    let wat = dir.path().join("answer.wat");
    // A constant easy to find in the code: an entry whose code says otherwise must not run.
    std::fs::write(
        &wat,
        r#"(module (func (export "fib") (param i32) (result i32) i32.const 0x12345678))"#,
    )
    .unwrap();
    let wat = wat.to_str().unwrap();
    let good = "305419896\n";
    let out = run_fib(&cache, wat);
    assert_eq!(text(&out.stdout), good, "{}", text(&out.stderr));
    let entry = only_entry(&cache);
    let pristine = std::fs::read(&entry).unwrap();
    let imm = pristine
        .windows(4)
        .position(|w| w == 0x12345678u32.to_le_bytes())
        .filter(|_| cfg!(target_arch = "x86_64"));
    let mid = pristine.len() / 2;
    let damages: Vec<(&str, Damage)> = vec![
        (
            "truncated to half",
            Box::new(|b: &mut Vec<u8>| b.truncate(b.len() / 2)),
        ),
        (
            "truncated inside the header",
            Box::new(|b: &mut Vec<u8>| b.truncate(100)),
        ),
        ("empty", Box::new(|b: &mut Vec<u8>| b.clear())),
        (
            "bytes flipped in the middle",
            Box::new(move |b: &mut Vec<u8>| {
                for byte in &mut b[mid..mid + 16] {
                    *byte ^= 0xff;
                }
            }),
        ),
        (
            "the constant in the code changed",
            Box::new(move |b: &mut Vec<u8>| match imm {
                Some(at) => b[at] ^= 1,
                // Where the immediate is not one little-endian word (not x86_64): a byte in the
                // middle.
                None => b[mid] ^= 1,
            }),
        ),
    ];
    if cfg!(target_arch = "x86_64") {
        assert!(imm.is_some(), "the immediate is in the x86_64 code");
    }
    for (what, damage) in damages {
        let mut bytes = pristine.clone();
        damage(&mut bytes);
        std::fs::write(&entry, &bytes).unwrap();
        let out = run_fib(&cache, wat);
        let err = text(&out.stderr);
        assert_eq!(text(&out.stdout), good, "{what}: {err}");
        assert!(out.status.success(), "{what}: {err}");
        assert_eq!(err.lines().count(), 1, "{what}: one line: {err}");
        assert!(
            err.starts_with("warning: ")
                && err.contains("unusable cache entry")
                && err.contains(&*entry.to_string_lossy()),
            "{what}: {err}"
        );
        // Replaced by a fresh, valid entry that the next run uses quietly.
        assert_eq!(
            std::fs::read(only_entry(&cache)).unwrap(),
            pristine,
            "{what}"
        );
        let out = run_fib(&cache, wat);
        assert_eq!(text(&out.stdout), good);
        assert_eq!(text(&out.stderr), "", "{what}");
    }
}

#[test]
fn an_unwritable_cache_falls_back_to_compiling_in_memory() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("a-file");
    std::fs::write(&file, "not a directory").unwrap();
    let fib = repo("examples/fib.wat");
    // Tests run as root here, so permissions cannot make a directory unwritable: a file where a
    // directory should be can, for everyone.
    for cache in [file.clone(), file.join("kiln")] {
        let out = run_fib(&cache, &fib);
        let err = text(&out.stderr);
        assert_eq!(text(&out.stdout), "6765\n", "{err}");
        assert!(out.status.success(), "{err}");
        assert_eq!(err.lines().count(), 1, "{err}");
        assert!(
            err.starts_with("warning: compile cache not written")
                && err.contains(&*file.to_string_lossy()),
            "{err}"
        );
    }
    assert_eq!(std::fs::read_to_string(&file).unwrap(), "not a directory");
    // `kiln cache` on it fails, in one line naming it.
    for sub in ["stats", "clean"] {
        let out = kiln(&["cache", sub, "--cache-dir", file.to_str().unwrap()]);
        let err = text(&out.stderr);
        assert!(!out.status.success());
        assert_eq!(err.lines().count(), 1, "{err}");
        assert!(err.contains("a-file") && !err.contains("panicked"), "{err}");
    }
}
