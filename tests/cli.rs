//! The `kiln` binary end to end: compile, inspect, run, and clear errors (never a panic) on bad
//! input.

mod common;

use common::{kiln, text};
use std::path::Path;
use std::process::Output;

fn example() -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../examples/fib.wat")
        .display()
        .to_string()
}

/// Asserts a failure with a one-line error naming `what`, and no panic or backtrace.
fn assert_clean_failure(out: &Output, what: &str) {
    let err = text(&out.stderr);
    assert!(!out.status.success(), "expected failure, stderr: {err}");
    assert!(err.contains(what), "error should mention `{what}`: {err}");
    assert!(
        !err.contains("panicked") && !err.contains("stack backtrace"),
        "{err}"
    );
}

#[test]
fn compile_inspect_and_run_the_example() {
    let dir = tempfile::tempdir().unwrap();
    let art = dir.path().join("fib.kiln");
    let art = art.to_str().unwrap();
    let out = kiln(&["compile", &example(), "-o", art]);
    assert!(out.status.success(), "{}", text(&out.stderr));

    let out = kiln(&["run", art, "--invoke", "fib", "20"]);
    assert_eq!(text(&out.stdout), "6765\n");
    let out = kiln(&["run", art, "--invoke", "checksum", "0", "4"]);
    assert_eq!(
        text(&out.stdout),
        format!("{}\n", b"Kiln".iter().map(|&b| b as u32).sum::<u32>())
    );

    let out = kiln(&["inspect", art]);
    let report = text(&out.stdout);
    assert!(out.status.success());
    let version = format!(
        "format version   {}.{}",
        kiln_format::FORMAT_MAJOR,
        kiln_format::FORMAT_MINOR
    );
    for needle in [
        &version,
        "this machine     compatible",
        ".text",
        "fib",
        "checksum",
        "r-x",
    ] {
        assert!(report.contains(needle), "inspect shows {needle}: {report}");
    }
    let out = kiln(&["inspect", "--json", art]);
    let json = text(&out.stdout);
    assert!(
        json.contains("\"exports\"") && json.contains("\"code_size\""),
        "{json}"
    );
}

#[test]
fn a_wasm_input_is_compiled_in_memory() {
    let out = kiln(&["run", &example(), "--invoke", "fib", "10"]);
    assert_eq!(text(&out.stdout), "55\n", "{}", text(&out.stderr));
}

#[test]
fn a_trap_is_reported_with_its_kind_and_function() {
    let out = kiln(&["run", &example(), "--invoke", "oops"]);
    assert_clean_failure(&out, "out of bounds memory access");
}

#[test]
fn thread_count_does_not_change_the_artifact() {
    let dir = tempfile::tempdir().unwrap();
    let a = dir.path().join("a.kiln");
    let b = dir.path().join("b.kiln");
    assert!(
        kiln(&["compile", &example(), "-o", a.to_str().unwrap(), "-j", "1"])
            .status
            .success()
    );
    assert!(
        kiln(&["compile", &example(), "-o", b.to_str().unwrap(), "-j", "2"])
            .status
            .success()
    );
    assert_eq!(std::fs::read(a).unwrap(), std::fs::read(b).unwrap());
}

#[test]
fn foreign_artifacts_are_inspectable_but_refused() {
    let dir = tempfile::tempdir().unwrap();
    let art = dir.path().join("arm.kiln");
    let art = art.to_str().unwrap();
    let out = kiln(&["compile", &example(), "-o", art, "--target", "aarch64"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let out = kiln(&["inspect", art]);
    assert!(text(&out.stdout).contains("aarch64-unknown-linux-gnu"));
    assert!(text(&out.stdout).contains("NOT compatible"));
    let out = kiln(&["run", art, "--invoke", "fib", "1"]);
    assert_clean_failure(&out, "compiled for aarch64-unknown-linux-gnu");
}

#[test]
fn bad_inputs_give_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    let junk = dir.path().join("junk.wasm");
    std::fs::write(&junk, b"\0asm\x01\0\0\0\x99garbage").unwrap();
    let junk = junk.to_str().unwrap();
    let out_path = dir.path().join("o.kiln");
    let o = out_path.to_str().unwrap();
    assert_clean_failure(&kiln(&["compile", junk, "-o", o]), "junk.wasm");
    assert_clean_failure(
        &kiln(&["compile", "/nonexistent.wasm", "-o", o]),
        "/nonexistent.wasm",
    );
    let invalid = dir.path().join("invalid.wat");
    std::fs::write(&invalid, "(module (func (result i32) (i64.const 1)))").unwrap();
    assert_clean_failure(
        &kiln(&["compile", invalid.to_str().unwrap(), "-o", o]),
        "type mismatch",
    );
    assert_clean_failure(&kiln(&["run", junk, "--invoke", "f"]), "junk.wasm");
    assert_clean_failure(&kiln(&["inspect", junk]), "junk.wasm");
    assert_clean_failure(
        &kiln(&["compile", &example(), "-o", o, "--target", "mips"]),
        "unknown target",
    );
    assert!(kiln(&["compile", &example(), "-o", o]).status.success());
    assert_clean_failure(&kiln(&["run", o, "--invoke", "nope"]), "nope");
    assert_clean_failure(&kiln(&["run", o, "--invoke", "fib"]), "arguments");
    // A truncated artifact.
    let bytes = std::fs::read(o).unwrap();
    std::fs::write(o, &bytes[..bytes.len() / 2]).unwrap();
    assert_clean_failure(&kiln(&["run", o, "--invoke", "fib", "1"]), "o.kiln");
}

#[test]
fn disassembly_names_functions_and_trap_sites_for_every_target() {
    let dir = tempfile::tempdir().unwrap();
    for target in ["x86_64", "aarch64", "riscv64gc", "s390x"] {
        let art = dir.path().join(format!("{target}.kiln"));
        let art = art.to_str().unwrap();
        let out = kiln(&["compile", &example(), "-o", art, "--target", target]);
        assert!(out.status.success(), "{target}: {}", text(&out.stderr));
        let out = kiln(&["disasm", art]);
        let listing = text(&out.stdout);
        assert!(out.status.success(), "{target}: {}", text(&out.stderr));
        for needle in [
            "<fib> (function 0)",
            "<checksum>",
            "<oops>",
            "; trap: out of bounds memory access",
            "; wasm 0x",
        ] {
            assert!(
                listing.contains(needle),
                "{target}: no `{needle}` in\n{listing}"
            );
        }
    }
    let art = dir.path().join("x86_64.kiln");
    let out = kiln(&["disasm", art.to_str().unwrap(), "--function", "oops"]);
    assert!(!text(&out.stdout).contains("<fib>"));
    assert_clean_failure(
        &kiln(&["disasm", art.to_str().unwrap(), "--function", "nope"]),
        "no function matches",
    );
}

#[test]
fn a_trap_prints_the_wasm_backtrace() {
    let dir = tempfile::tempdir().unwrap();
    let wat = dir.path().join("nest.wat");
    std::fs::write(
        &wat,
        r#"(module
          (func $inner (result i32) unreachable)
          (func $middle (result i32) (i32.add (call $inner) (i32.const 1)))
          (func (export "outer") (result i32) (i32.mul (call $middle) (i32.const 2))))"#,
    )
    .unwrap();
    let out = kiln(&["run", wat.to_str().unwrap(), "--invoke", "outer"]);
    let err = text(&out.stderr);
    assert_clean_failure(&out, "wasm trap: unreachable in inner");
    let frames: Vec<&str> = err
        .lines()
        .skip_while(|l| *l != "wasm backtrace:")
        .skip(1)
        .collect();
    assert!(frames[0].contains("0: inner @ 0x"), "{err}");
    assert!(frames[1].contains("1: middle @ 0x"), "{err}");
    assert!(frames[2].contains("2: outer @ 0x"), "{err}");
}

/// Defects a probe found: `kiln inspect … | head -1` panicked on the closed pipe, `kiln disasm` of
/// a module without functions was an error, and a load error printed its reason twice.
#[test]
fn pipes_empty_modules_and_errors_behave_like_a_command_line_tool() {
    use std::io::{BufRead, BufReader};
    let dir = tempfile::tempdir().unwrap();
    let art = dir.path().join("fib.kiln");
    let art = art.to_str().unwrap();
    assert!(kiln(&["compile", &example(), "-o", art]).status.success());
    let mut child = common::kiln_command()
        .args(["inspect", art])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut first)
        .unwrap();
    assert!(first.starts_with("format version"), "{first}");
    // The reader is gone: kiln stops without a panic.
    let out = child.wait_with_output().unwrap();
    let err = text(&out.stderr);
    assert!(!err.contains("panicked"), "{err}");
    assert_ne!(out.status.code(), Some(101), "{err}");

    let empty = dir.path().join("empty.wat");
    std::fs::write(&empty, "(module)").unwrap();
    let empty_art = dir.path().join("empty.kiln");
    let (empty, empty_art) = (empty.to_str().unwrap(), empty_art.to_str().unwrap());
    assert!(kiln(&["compile", empty, "-o", empty_art]).status.success());
    let out = kiln(&["disasm", empty_art]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_clean_failure(
        &kiln(&["disasm", empty_art, "--function", "f"]),
        "no function",
    );

    let short = dir.path().join("short.kiln");
    std::fs::write(&short, b"\x7fELF").unwrap();
    let out = kiln(&["run", short.to_str().unwrap()]);
    assert_clean_failure(&out, "short.kiln");
    let err = text(&out.stderr);
    assert_eq!(err.matches("truncated").count(), 1, "{err}");
}

/// `-W` turns WebAssembly 3.0 features off (or names the known ones), as Wasmtime's does; the
/// default compiles every feature Kiln supports.
#[test]
fn wasm_features_are_chosen_with_w() {
    let dir = tempfile::tempdir().unwrap();
    let wat = dir.path().join("tail.wat");
    std::fs::write(
        &wat,
        r#"(module (memory 1) (memory 1)
             (func $f (export "f") (param i32) (result i32)
               (if (result i32) (local.get 0)
                 (then (return_call $f (i32.sub (local.get 0) (i32.const 1))))
                 (else (i32.const 7)))))"#,
    )
    .unwrap();
    let wat = wat.to_str().unwrap();
    let out = kiln(&["run", wat, "--invoke", "f", "1000000"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout).trim(), "7");
    let art = dir.path().join("tail.kiln");
    let art = art.to_str().unwrap();
    let out = kiln(&["compile", wat, "-o", art, "-W", "tail-call=n"]);
    assert_clean_failure(&out, "tail calls support is not enabled");
    // Said once, not once more for the error's source.
    assert_eq!(
        text(&out.stderr).matches("not enabled").count(),
        1,
        "{}",
        text(&out.stderr)
    );
    let out = kiln(&["compile", wat, "-o", art, "-W", "wasm2"]);
    assert_clean_failure(&out, "multiple memories");
    let out = kiln(&[
        "compile",
        wat,
        "-o",
        art,
        "-W",
        "multi-memory=n,tail-call=y",
    ]);
    assert_clean_failure(&out, "multiple memories");
    let out = kiln(&["compile", wat, "-o", art, "-W", "gc"]);
    assert_clean_failure(&out, "unknown WebAssembly feature `gc` (known: tail-call");
    let out = kiln(&["compile", wat, "-o", art, "-W", "tail-call=maybe"]);
    assert_clean_failure(&out, "expected `tail-call=y` or `tail-call=n`");
    // 64-bit memories and tables are on by default, off with `memory64=n` or `wasm2`.
    let wat64 = dir.path().join("mem64.wat");
    std::fs::write(
        &wat64,
        r#"(module (memory i64 1) (table i64 1 funcref)
             (func (export "size") (result i64) (i64.add (memory.size) (table.size))))"#,
    )
    .unwrap();
    let wat64 = wat64.to_str().unwrap();
    let out = kiln(&["run", wat64, "--invoke", "size"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout).trim(), "2");
    for features in ["memory64=n", "wasm2"] {
        let out = kiln(&["compile", wat64, "-o", art, "-W", features]);
        assert_clean_failure(&out, "memory64 must be enabled for 64-bit");
    }
}

/// `--emit obj`: a relocatable object with the artifact, unchanged and page-aligned, in one
/// executable section, its start and length under global symbols, and no relocations at all.
#[test]
fn emit_obj_writes_a_relocation_free_object() {
    use object::{Object, ObjectSection, ObjectSymbol, SectionKind};
    let dir = tempfile::tempdir().unwrap();
    let obj = dir.path().join("fib.o");
    let art = dir.path().join("fib.kiln");
    let (obj, art) = (obj.to_str().unwrap(), art.to_str().unwrap());
    let out = kiln(&["compile", &example(), "--emit", "obj", "-o", obj]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let out = kiln(&["compile", &example(), "-o", art]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let (obj_bytes, artifact) = (std::fs::read(obj).unwrap(), std::fs::read(art).unwrap());
    let file = object::File::parse(&*obj_bytes).unwrap();
    assert_eq!(file.kind(), object::ObjectKind::Relocatable);
    let section = file
        .section_by_name(".text.kiln_artifact.kiln_artifact_fib")
        .expect("the artifact's section");
    assert_eq!(section.kind(), SectionKind::Text);
    assert_eq!(section.align(), 4096);
    assert_eq!(
        section.data().unwrap(),
        &artifact[..],
        "the artifact, unchanged"
    );
    for s in file.sections() {
        assert_eq!(s.relocations().count(), 0, "relocations in {:?}", s.name());
    }
    let sym = |name: &str| {
        file.symbols()
            .find(|s| s.name() == Ok(name))
            .unwrap_or_else(|| panic!("no symbol {name}"))
    };
    assert!(sym("kiln_artifact_fib").is_global());
    assert_eq!(sym("kiln_artifact_fib").size(), artifact.len() as u64);
    assert!(sym("kiln_artifact_fib_len").is_global());
    let out = kiln(&[
        "compile",
        &example(),
        "--emit",
        "obj",
        "--symbol",
        "9bad",
        "-o",
        obj,
    ]);
    assert_clean_failure(&out, "not a valid symbol name");
    let out = kiln(&["compile", &example(), "--symbol", "x", "-o", obj]);
    assert_clean_failure(&out, "--emit obj");
}

fn program(name: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/programs")
        .join(name)
        .display()
        .to_string()
}

/// Compiles tests/programs/`name` into a temporary directory: the directory and the artifact's
/// path.
fn compile_program(name: &str) -> (tempfile::TempDir, String) {
    let dir = tempfile::tempdir().unwrap();
    let art = dir.path().join(name).with_extension("kiln");
    let art = art.to_str().unwrap().to_string();
    let out = kiln(&["compile", &program(name), "-o", &art]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    (dir, art)
}

#[test]
fn rust_names_are_readable_in_traps_inspect_and_disasm() {
    let (_dir, art) = compile_program("rust_trap_v0.wasm");
    let art = art.as_str();

    let out = kiln(&["run", art, "--invoke", "run"]);
    let err = text(&out.stderr);
    assert_clean_failure(
        &out,
        "wasm trap: unreachable in rust_trap::parser::stack::overflow::<i32>",
    );
    let frames: Vec<&str> = err
        .lines()
        .skip_while(|l| *l != "wasm backtrace:")
        .skip(1)
        .collect();
    assert!(
        frames[1].contains("1: <rust_trap::parser::Parser>::parse_expr @ 0x"),
        "{err}"
    );

    let report = text(&kiln(&["inspect", art]).stdout);
    assert!(
        report.contains("<rust_trap::parser::Parser>::parse_expr"),
        "{report}"
    );
    assert!(!report.contains("_RNv"), "{report}");

    let out = kiln(&[
        "disasm",
        art,
        "--function",
        "rust_trap::parser::stack::overflow::<i32>",
    ]);
    let listing = text(&out.stdout);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        listing.contains("<rust_trap::parser::stack::overflow::<i32>> (function 0):"),
        "{listing}"
    );
    assert!(listing.contains("; trap: unreachable"), "{listing}");
}

/// wasm-ld demangles C++ names into the name section itself (its default): they pass through
/// unchanged, in the name table and the ELF symbols alike.
#[test]
fn cpp_names_demangled_by_the_linker_are_kept_as_they_are() {
    let (_dir, art) = compile_program("wordfreq.wasm");
    let art = art.as_str();
    let out = kiln(&["inspect", "--json", art]);
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let names: Vec<&str> = report["functions"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|f| f["name"].as_str())
        .collect();
    let rehash = "std::__2::__hash_table<std::__2::__hash_value_type<std::__2::basic_string<char, \
                  std::__2::char_traits<char>, std::__2::allocator<char> >, unsigned long long>";
    let name = names
        .iter()
        .find(|n| n.starts_with(rehash) && n.ends_with("::rehash(unsigned long)"))
        .unwrap_or_else(|| panic!("{names:?}"));
    assert!(names.contains(&"__original_main"), "main is C");
    use object::{Object, ObjectSymbol};
    let bytes = std::fs::read(art).unwrap();
    let elf = object::read::elf::ElfFile64::<object::Endianness>::parse(&*bytes).unwrap();
    assert!(
        elf.symbols().any(|s| s.name() == Ok(*name)),
        "the symbol is the name section's name"
    );
}

#[test]
fn inspect_sizes_accounts_for_every_byte() {
    let (_dir, art) = compile_program("zlib.wasm");
    let art = art.as_str();
    let file_size = std::fs::metadata(art).unwrap().len();

    let out = kiln(&["inspect", "--sizes", "--json", "--top", "5", art]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let sizes: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(sizes["file_size"], file_size);
    let size = |p: &serde_json::Value| p["size"].as_u64().unwrap();
    let sections = sizes["sections"].as_array().unwrap();
    // The sections (and headers and alignment) add up to the file; each section's parts to it.
    assert_eq!(sections.iter().map(size).sum::<u64>(), file_size);
    let percent: f64 = sections
        .iter()
        .map(|p| p["percent"].as_f64().unwrap())
        .sum();
    assert!((percent - 100.0).abs() < 1.0, "{percent}");
    for section in sections {
        if let Some(parts) = section["parts"].as_array() {
            assert_eq!(
                parts.iter().map(size).sum::<u64>(),
                size(section),
                "{section}"
            );
        }
    }
    let section = |name: &str| {
        sections
            .iter()
            .find(|p| p["name"] == name)
            .unwrap_or_else(|| panic!("no {name}: {sections:?}"))
    };
    let part = |section: &serde_json::Value, prefix: &str| {
        size(
            section["parts"]
                .as_array()
                .unwrap()
                .iter()
                .find(|p| p["name"].as_str().unwrap().starts_with(prefix))
                .unwrap_or_else(|| panic!("no {prefix}: {section}")),
        )
    };

    // Against `kiln inspect`'s own report of the same artifact.
    let out = kiln(&["inspect", "--json", art]);
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let functions = report["functions"].as_array().unwrap();
    let code: u64 = functions
        .iter()
        .map(|f| f["code_size"].as_u64().unwrap())
        .sum();
    let text_section = section(".text");
    assert_eq!(part(text_section, "functions"), code);
    assert!(part(text_section, "trampolines") > 0);
    let text_size = report["sections"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == ".text")
        .map(size)
        .unwrap();
    assert_eq!(size(text_section), text_size);
    let meta = section(".kiln.meta");
    // The code maps (format 5): each an index of blocks and a blob of runs.
    assert_eq!(
        part(meta, "AddressMapBlocks") + part(meta, "AddressMapRuns"),
        report["address_map_bytes"].as_u64().unwrap()
    );
    assert_eq!(
        part(meta, "TrapBlocks") + part(meta, "TrapRuns"),
        report["trap_table_bytes"].as_u64().unwrap()
    );
    let names: u64 = functions
        .iter()
        .filter_map(|f| f["name"].as_str())
        .filter(|n| !n.starts_with("func["))
        .map(|n| n.len() as u64)
        .sum();
    assert_eq!(part(meta, "Strings: function names"), names);
    assert!(part(section(".kiln.data"), "data segments") > 0);
    assert!(size(section(".symtab")) > 0);

    // The five largest functions, largest first, as the function list has them.
    let mut by_size: Vec<(u64, u64)> = functions
        .iter()
        .map(|f| {
            (
                f["code_size"].as_u64().unwrap(),
                f["index"].as_u64().unwrap(),
            )
        })
        .collect();
    by_size.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
    let largest = sizes["largest_functions"].as_array().unwrap();
    assert_eq!(largest.len(), 5);
    for (f, (code_size, index)) in largest.iter().zip(&by_size) {
        assert_eq!(size(f), *code_size);
        assert_eq!(f["index"], *index);
    }
    assert_eq!(sizes["functions"], functions.len());

    let out = kiln(&["inspect", "--sizes", "--top", "3", art]);
    let shown = text(&out.stdout);
    assert!(out.status.success());
    assert!(
        shown.contains(&format!("{file_size} bytes in all")),
        "{shown}"
    );
    assert!(
        shown.contains(&format!("largest functions (3 of {},", functions.len())),
        "{shown}"
    );
    let top = largest[0]["name"].as_str().unwrap();
    assert!(shown.contains(top), "{shown}");
    for needle in [
        ".text",
        "functions (",
        "AddressMap",
        ".kiln.data",
        ".symtab",
    ] {
        assert!(shown.contains(needle), "{needle}: {shown}");
    }

    // Bad input: a `.wasm` where an artifact is expected, `--top` without `--sizes`.
    assert_clean_failure(
        &kiln(&["inspect", "--sizes", &program("zlib.wasm")]),
        "zlib.wasm",
    );
    assert_clean_failure(&kiln(&["inspect", "--top", "3", art]), "--sizes");
}

/// Runs kiln with `args` in a shell whose file-size limit is `kib` KiB, with `SIGXFSZ` ignored:
/// a write past the limit then fails (`EFBIG`), as on a full disk (`ENOSPC`), without
/// privileges.
fn kiln_with_file_limit(kib: u32, args: &[&str]) -> Output {
    let mut shell = std::process::Command::new("sh");
    shell
        .arg("-c")
        .arg(format!("trap '' XFSZ; ulimit -f {kib}; exec \"$0\" \"$@\""));
    let kiln = common::kiln_command();
    shell.arg(kiln.get_program()).args(args);
    for (k, v) in kiln.get_envs() {
        if let Some(v) = v {
            shell.env(k, v);
        }
    }
    shell.output().unwrap()
}

#[test]
fn a_write_the_disk_refuses_is_a_clear_error_leaving_no_file() {
    let dir = tempfile::tempdir().unwrap();
    let out_path = dir.path().join("zlib.kiln");
    let out_str = out_path.to_str().unwrap();
    // zlib's artifact is about 300 KiB: 64 KiB do not hold it.
    let out = kiln_with_file_limit(64, &["compile", &program("zlib.wasm"), "-o", out_str]);
    assert_clean_failure(&out, out_str);
    assert_eq!(
        text(&out.stderr).trim_end().lines().count(),
        1,
        "{}",
        text(&out.stderr)
    );
    let left: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
    assert!(left.is_empty(), "left behind: {left:?}");
    // A batch reports the file and goes on; the signature's writer and the cache, likewise.
    let out = kiln_with_file_limit(
        64,
        &[
            "compile",
            &program("zlib.wasm"),
            &example(),
            "-d",
            dir.path().to_str().unwrap(),
        ],
    );
    assert_clean_failure(&out, "zlib");
    assert!(
        dir.path().join("fib.kiln").exists(),
        "the small module is still written"
    );
    let (_keep, art) = compile_program("zlib.wasm");
    let key = dir.path().join("key");
    let key = key.to_str().unwrap();
    assert!(kiln(&["keygen", "-o", key]).status.success());
    let signed = dir.path().join("signed.kiln");
    let signed = signed.to_str().unwrap();
    let out = kiln_with_file_limit(64, &["sign", "--key", key, &art, "-o", signed]);
    assert_clean_failure(&out, signed);
    assert!(!Path::new(signed).exists());
    let cache = dir.path().join("cache");
    let out = kiln_with_file_limit(
        64,
        &[
            "run",
            "--cache-dir",
            cache.to_str().unwrap(),
            &program("zlib.wasm"),
        ],
    );
    let err = text(&out.stderr);
    assert!(err.contains("warning") && err.contains("cache"), "{err}");
    assert!(!err.contains("panicked"), "{err}");
    // Compiled in memory: it then runs, except that the file-size limit also refuses the
    // memfd an in-memory artifact is sealed in (a full disk would not), with a clean error.
    if out.status.success() {
        assert!(
            text(&out.stdout).starts_with("zlib "),
            "{}",
            text(&out.stdout)
        );
    } else {
        assert!(err.lines().count() == 2 && err.contains("error: "), "{err}");
    }
}

#[test]
fn mangled_cpp_names_are_readable_in_traps_and_inspect_and_kept_in_symbols() {
    // The name section as a toolchain that keeps Itanium-mangled names writes it.
    let dir = tempfile::tempdir().unwrap();
    let wat = dir.path().join("shapes.wat");
    std::fs::write(
        &wat,
        r#"(module
  (func $_ZN8geometry9perimeterERKNS_5ShapeEi (param i32 i32) (result i32)
    (if (i32.eqz (local.get 0)) (then unreachable))
    (i32.mul (local.get 0) (local.get 1)))
  (func (export "run") (param i32) (result i32)
    (call $_ZN8geometry9perimeterERKNS_5ShapeEi (local.get 0) (i32.const 3))))"#,
    )
    .unwrap();
    let art = dir.path().join("shapes.kiln");
    let (wat, art) = (wat.to_str().unwrap(), art.to_str().unwrap());
    assert!(kiln(&["compile", wat, "-o", art]).status.success());
    let readable = "geometry::perimeter(geometry::Shape const&, int)";
    let out = kiln(&["run", art, "--invoke", "run", "0"]);
    let err = text(&out.stderr);
    assert!(err.contains(&format!("0: {readable}")), "{err}");
    let out = kiln(&["inspect", art]);
    assert!(
        text(&out.stdout).contains(readable),
        "{}",
        text(&out.stdout)
    );
    use object::{Object, ObjectSymbol};
    let bytes = std::fs::read(art).unwrap();
    let elf = object::read::elf::ElfFile64::<object::Endianness>::parse(&*bytes).unwrap();
    assert!(
        elf.symbols()
            .any(|s| s.name() == Ok("_ZN8geometry9perimeterERKNS_5ShapeEi")),
        "the symbol keeps the mangled name, for objdump -C, perf and gdb"
    );
}
