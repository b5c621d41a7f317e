//! Wasm backtraces on traps (frame pointers + address map, with or without unwind tables), and
//! native backtraces through guest frames when the unwind tables are registered.

mod common;

use kiln_compiler::CompileOptions;
use kiln_loader::{Artifact, Error, Extern, Func, FuncType, Instance, LoadOptions, Store, Val};
use std::sync::{Arc, Mutex};

const NESTED: &str = r#"
(module
  (import "host" "probe" (func $probe))
  (func $inner (export "inner") (param i32) (result i32)
    (call $probe)
    (i32.div_u (i32.const 10) (local.get 0)))
  (func $middle (param i32) (result i32) (i32.add (call $inner (local.get 0)) (i32.const 1)))
  (func $outer (export "outer") (param i32) (result i32) (i32.mul (call $middle (local.get 0)) (i32.const 2))))
"#;

fn compile_to_file(wat: &str, options: &CompileOptions) -> (tempfile::TempDir, std::path::PathBuf) {
    let wasm = wat::parse_str(wat).unwrap();
    let bytes = kiln_compiler::compile(&wasm, options).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("nested.kiln");
    std::fs::write(&path, bytes).unwrap();
    (dir, path)
}

/// Instantiates NESTED with a `probe` host function that records a native backtrace.
fn instantiate(artifact: &Artifact) -> (Store<()>, Instance, Arc<Mutex<Vec<usize>>>) {
    let mut store = Store::new(());
    let ips = Arc::new(Mutex::new(Vec::new()));
    let recorded = ips.clone();
    let probe = Func::new(
        &mut store,
        FuncType::default(),
        move |_caller, _args, _results| {
            let mut v = recorded.lock().unwrap();
            v.clear();
            backtrace::trace(|frame| {
                v.push(frame.ip() as usize);
                true
            });
            Ok(())
        },
    );
    let instance = Instance::new(&mut store, artifact, &[Extern::Func(probe)]).unwrap();
    (store, instance, ips)
}

fn trap_names(store: &mut Store<()>, instance: &Instance) -> Vec<String> {
    match instance.call(store, "outer", &[Val::I32(0)]) {
        Err(Error::Trap(t)) => {
            assert_eq!(t.kind, kiln_loader::TrapKind::IntegerDivisionByZero);
            assert!(
                t.backtrace.iter().take(3).all(|f| f.wasm_offset.is_some()),
                "{:?}",
                t.backtrace
            );
            t.backtrace
                .iter()
                .filter(|f| f.func_index.is_some())
                .map(|f| f.func_name.clone())
                .collect()
        }
        other => panic!("expected a trap, got {other:?}"),
    }
}

#[test]
fn traps_carry_a_wasm_backtrace_without_unwind_tables() {
    let (_dir, path) = compile_to_file(NESTED, &CompileOptions::default());
    let artifact = Artifact::open(&path).unwrap();
    let (mut store, instance, _) = instantiate(&artifact);
    assert_eq!(
        trap_names(&mut store, &instance),
        ["inner", "middle", "outer"]
    );
    // Calls still work normally.
    assert_eq!(
        instance.call(&mut store, "outer", &[Val::I32(5)]).unwrap(),
        [Val::I32(6)]
    );
}

#[test]
fn stripped_artifacts_report_function_indices() {
    let options = CompileOptions {
        strip: true,
        ..Default::default()
    };
    let (_dir, path) = compile_to_file(NESTED, &options);
    let artifact = Artifact::open(&path).unwrap();
    let (mut store, instance, _) = instantiate(&artifact);
    let trap = match instance.call(&mut store, "outer", &[Val::I32(0)]) {
        Err(Error::Trap(t)) => t,
        other => panic!("{other:?}"),
    };
    let names: Vec<_> = trap
        .backtrace
        .iter()
        .filter(|f| f.func_index.is_some())
        .map(|f| f.func_name.as_str())
        .collect();
    assert_eq!(names, ["func[1]", "func[2]", "func[3]"]);
    assert!(trap.backtrace.iter().all(|f| f.wasm_offset.is_none()));
}

/// Guest function names found among native return addresses, innermost first, and whether the
/// trace went on past the guest frames into the host.
fn native_walk(artifact: &Artifact, ips: &[usize]) -> (Vec<String>, bool) {
    let mut names = Vec::new();
    let mut after_guest = false;
    for &ip in ips {
        match artifact.symbolize(ip.saturating_sub(1)) {
            Some((_, name)) => names.push(name),
            None if !names.is_empty() => after_guest = true,
            None => {}
        }
    }
    names.dedup();
    (names, after_guest)
}

/// NESTED compiled with unwind tables; the path and the options that register them at load.
fn with_unwind_tables() -> (tempfile::TempDir, std::path::PathBuf, LoadOptions) {
    let options = CompileOptions {
        unwind_info: true,
        ..Default::default()
    };
    let (dir, path) = compile_to_file(NESTED, &options);
    let load = LoadOptions {
        register_unwind_info: true,
        ..Default::default()
    };
    (dir, path, load)
}

#[test]
fn registered_unwind_tables_let_native_backtraces_cross_guest_frames() {
    let (_dir, path, load) = with_unwind_tables();
    let artifact = Artifact::open_with(&path, &load).unwrap();
    assert!(artifact.view().unwrap().header().eh_frame.size.get() > 0);
    let (mut store, instance, ips) = instantiate(&artifact);
    assert_eq!(
        instance.call(&mut store, "outer", &[Val::I32(5)]).unwrap(),
        [Val::I32(6)]
    );
    let (names, after_guest) = native_walk(&artifact, &ips.lock().unwrap());
    assert_eq!(names, ["inner", "middle", "outer"]);
    assert!(
        after_guest,
        "the unwinder walked through the guest frames back into the host"
    );
    // Traps and their wasm backtraces are unaffected.
    assert_eq!(
        trap_names(&mut store, &instance),
        ["inner", "middle", "outer"]
    );
}

#[test]
fn registration_is_undone_when_the_artifact_is_dropped() {
    let (_dir, path, load) = with_unwind_tables();
    // Many register/deregister cycles of the same file: each is one call, and stale entries would
    // make the unwinder read unmapped memory in the next iteration.
    for _ in 0..50 {
        let artifact = Artifact::open_with(&path, &load).unwrap();
        let (mut store, instance, ips) = instantiate(&artifact);
        assert_eq!(
            instance.call(&mut store, "outer", &[Val::I32(1)]).unwrap(),
            [Val::I32(22)]
        );
        assert_eq!(
            native_walk(&artifact, &ips.lock().unwrap()).0,
            ["inner", "middle", "outer"]
        );
    }
}

#[test]
fn eh_frame_hdr_indexes_every_function() {
    let (_dir, path, _) = with_unwind_tables();
    let bytes = std::fs::read(&path).unwrap();
    let artifact = Artifact::open(&path).unwrap();
    let view = artifact.view().unwrap();
    // Find .eh_frame_hdr through the PT_GNU_EH_FRAME program header, as debuggers do.
    let u16_at = |o: usize| u16::from_le_bytes(bytes[o..o + 2].try_into().unwrap()) as usize;
    let u32_at = |o: usize| u32::from_le_bytes(bytes[o..o + 4].try_into().unwrap());
    let u64_at = |o: usize| u64::from_le_bytes(bytes[o..o + 8].try_into().unwrap()) as usize;
    let (phoff, phnum) = (u64_at(0x20), u16_at(0x38));
    let hdr = (0..phnum)
        .map(|i| phoff + i * 56)
        .find(|&ph| u32_at(ph) == 0x6474_e550)
        .map(|ph| u64_at(ph + 8))
        .expect("a PT_GNU_EH_FRAME program header");
    assert_eq!(
        &bytes[hdr..hdr + 4],
        &[1, 0x1b, 0x03, 0x3b],
        "version and encodings"
    );
    let eh_frame = (hdr as i64 + 4 + u32_at(hdr + 4) as i32 as i64) as u64;
    assert_eq!(eh_frame, view.header().eh_frame.offset.get());
    let count = u32_at(hdr + 8) as usize;
    let text = view.header().text.offset.get() as i64;
    let starts: Vec<i64> = (0..count)
        .map(|i| hdr as i64 + u32_at(hdr + 12 + 8 * i) as i32 as i64)
        .collect();
    assert!(starts.windows(2).all(|w| w[0] < w[1]), "sorted");
    // Every defined function starts an entry (trampolines have entries too).
    for f in view.functions() {
        assert!(starts.contains(&(text + f.code_offset.get() as i64)));
    }
    assert!(count > view.functions().len());
}

/// Traps in one of the Rust programs (tests/programs/rust_trap.rs, mangled `legacy` or `v0`)
/// and returns its artifact's bytes and the names of the trap's guest frames.
fn rust_trap_frames(mangling: &str) -> (Vec<u8>, Vec<String>) {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join(format!("../tests/programs/rust_trap_{mangling}.wasm"));
    let wasm = std::fs::read(path).unwrap();
    let bytes = kiln_compiler::compile(&wasm, &CompileOptions::default()).unwrap();
    let artifact = Artifact::from_bytes(&bytes).unwrap();
    let mut store = Store::new(());
    let instance = Instance::new(&mut store, &artifact, &[]).unwrap();
    let trap = match instance.call(&mut store, "run", &[]) {
        Err(Error::Trap(t)) => t,
        other => panic!("expected a trap, got {other:?}"),
    };
    assert_eq!(trap.kind, kiln_loader::TrapKind::Unreachable);
    let names = trap
        .backtrace
        .iter()
        .filter(|f| f.func_index.is_some())
        .map(|f| f.func_name.clone())
        .collect();
    (bytes, names)
}

/// The ELF symbol names of artifact `bytes`.
fn symbol_names(bytes: &[u8]) -> Vec<String> {
    use object::{Object, ObjectSymbol};
    let elf = object::read::elf::ElfFile64::<object::Endianness>::parse(bytes).unwrap();
    elf.symbols()
        .filter_map(|s| s.name().ok().map(str::to_string))
        .collect()
}

#[test]
fn rust_names_are_demangled_in_backtraces_and_kept_mangled_in_symbols() {
    // rustc leaves the name section's names mangled: the artifact's name table has them
    // demangled (without the hash), so the loader's backtraces need no demangler.
    let (bytes, names) = rust_trap_frames("legacy");
    assert_eq!(
        names,
        [
            "rust_trap::parser::stack::overflow",
            "rust_trap::parser::Parser::parse_expr",
            "run"
        ]
    );
    let symbols = symbol_names(&bytes);
    for mangled in [
        "_ZN9rust_trap6parser5stack8overflow17h429fbb700e586b42E",
        "_ZN9rust_trap6parser6Parser10parse_expr17h1d9431004cd5d6e9E",
    ] {
        assert!(symbols.iter().any(|s| s == mangled), "{symbols:?}");
    }

    let (bytes, names) = rust_trap_frames("v0");
    assert_eq!(
        names,
        [
            "rust_trap::parser::stack::overflow::<i32>",
            "<rust_trap::parser::Parser>::parse_expr",
            "run"
        ]
    );
    let symbols = symbol_names(&bytes);
    assert!(
        symbols
            .iter()
            .any(|s| s == "_RINvNtNtCs2L0PRn3b0G6_9rust_trap6parser5stack8overflowlEB6_"),
        "{symbols:?}"
    );
}
