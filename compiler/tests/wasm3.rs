//! Translates and compiles, for every target, each module of the WebAssembly 3.0 spec tests that
//! validates with the features Kiln compiles (tail calls, extended constants, relaxed SIMD,
//! multiple memories, memory64 and table64, typed function references, exception handling), with
//! the verifier on and only colocated calls allowed. Files identical to their WebAssembly 2.0
//! namesakes are left to the 2.0 tests. What may be refused, with its clear `unsupported` error:
//! SIMD on riscv64 without the V extension, catching exceptions on targets without a landing-pad
//! resume stub, and GC instructions (their types validate; the instructions wait for the
//! collector).

mod common;

use common::*;
use kiln_compiler::CompileError;

#[test]
fn translate_wasm3_testsuite() {
    let isas = target_isas();
    let dir2 = testsuite_dir();
    let dir3 = dir2.join("../wasm-3.0");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir3)
        .unwrap_or_else(|e| panic!("{}: {e}", dir3.display()))
        .map(|entry| entry.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "wast"))
        .filter(|p| std::fs::read(p).ok() != std::fs::read(dir2.join(p.file_name().unwrap())).ok())
        .collect();
    files.sort();
    assert!(files.len() > 100, "few new files in {}", dir3.display());
    let results: Vec<(String, usize, usize, usize, Vec<String>)> = files
        .par_iter()
        .map(|path| {
            let name = path.file_name().unwrap().to_str().unwrap().to_string();
            let (mut compiled, mut later, mut funcs) = (0, 0, 0);
            let mut failures = Vec::new();
            for (m, wasm) in wast_modules(path).iter().enumerate() {
                let module = match ModuleInfo::parse(wasm) {
                    Ok(module) => module,
                    // A feature Kiln does not compile yet (or a module the script expects to
                    // be invalid): the spec-suite test accounts for those.
                    Err(CompileError::Wasm(_)) => {
                        later += 1;
                        continue;
                    }
                    Err(e) => {
                        failures.push(format!("module {m}: parse: {e}"));
                        continue;
                    }
                };
                compiled += 1;
                funcs += module.bodies.len();
                for (target, isa) in &isas {
                    let mut errors = Vec::new();
                    compile_for(&module, target, isa, &mut errors);
                    let allowed = |e: &String| {
                        (target.starts_with("riscv64")
                            && (e.contains("needs the V extension") || e.contains("v128 values")))
                            // Modules with GC instructions validate, and wait for the collector.
                            || e.contains("Wasm GC is not compiled yet")
                    };
                    failures.extend(
                        errors
                            .into_iter()
                            .filter(|e| !allowed(e))
                            .map(|e| format!("module {m}: {e}")),
                    );
                }
            }
            (name, compiled, later, funcs, failures)
        })
        .collect();
    let (mut modules, mut funcs, mut failed) = (0, 0, 0);
    for (name, compiled, later, n, failures) in &results {
        modules += compiled;
        funcs += n;
        let status = if failures.is_empty() { "ok" } else { "FAILED" };
        println!(
            "{name:40} {compiled:4} modules {n:6} functions ({later} not compiled yet)  {status}"
        );
        for f in failures.iter().take(5) {
            println!("    {f}");
        }
        failed += failures.len();
    }
    println!(
        "total: {} files, {modules} modules, {funcs} functions, each for {} targets; {failed} failures",
        results.len(),
        isas.len()
    );
    assert!(modules > 1000, "only {modules} modules compiled");
    assert_eq!(failed, 0, "some functions failed to translate or compile");
}

/// A module with 64-bit memories and tables compiles to an artifact for every architecture, each
/// memory recording the explicit checks its code makes; SIMD accesses of a 64-bit memory compile
/// wherever the target has vectors (riscv64gc refuses them with a clear error).
#[test]
fn memory64_and_table64_compile_for_every_target() {
    use kiln_format::tables::bounds_check;
    use kiln_format::{Arch, ArtifactView};
    let scalar = r#"(module
      (memory i64 1)
      (memory 1)
      (table i64 2 funcref)
      (type $t (func (param i64) (result i64)))
      (elem (table 0) (i64.const 0) func $f)
      (func $f (param i64) (result i64)
        (i64.store offset=0x1_0000_0000 (local.get 0) (i64.load (local.get 0)))
        (memory.copy 1 0 (i32.const 0) (i64.const 8) (i32.const 4))
        (memory.fill (local.get 0) (i32.const 0) (i64.const 4))
        (drop (memory.grow (i64.const 1)))
        (drop (table.grow (ref.null func) (i64.const 1)))
        (i64.add (memory.size) (call_indirect (type $t) (local.get 0) (i64.const 0)))))"#;
    let simd = r#"(module
      (memory i64 1)
      (func (param i64) (result v128) (v128.load32_splat offset=4 (local.get 0))))"#;
    for arch in [Arch::X86_64, Arch::Aarch64, Arch::Riscv64, Arch::S390x] {
        let options = CompileOptions {
            target: Some(arch),
            ..Default::default()
        };
        let wasm = wat::parse_str(scalar).unwrap();
        let artifact =
            kiln_compiler::compile(&wasm, &options).unwrap_or_else(|e| panic!("{arch:?}: {e}"));
        let view = ArtifactView::parse(&artifact).unwrap();
        let strategies: Vec<u8> = view.memories().iter().map(|m| m.bounds_check).collect();
        assert_eq!(
            strategies,
            [bounds_check::EXPLICIT, bounds_check::GUARD_PAGES],
            "{arch:?}"
        );
        let wasm = wat::parse_str(simd).unwrap();
        match (arch, kiln_compiler::compile(&wasm, &options)) {
            (Arch::Riscv64, Err(e)) => {
                assert!(e.to_string().contains("v128"), "{arch:?}: {e}")
            }
            (_, result) => {
                result.unwrap_or_else(|e| panic!("{arch:?}: {e}"));
            }
        }
    }
}

/// Exception handling through the whole compiler (codegen's call-site tables included): a module
/// that catches compiles for the targets whose loader resumes at landing pads and is refused
/// with a clear error for the others; one that only throws compiles everywhere.
#[test]
fn exception_modules_on_every_target() {
    use kiln_compiler::{compile, CompileOptions};
    use kiln_format::Arch;
    let catches = wat::parse_str(
        r#"(module (tag $e (param i32 f64))
          (func $t (param i32) (throw $e (local.get 0) (f64.const 1)))
          (func (export "f") (param i32) (result i32 f64)
            (block $h (result i32 f64)
              (try_table (catch $e $h) (call $t (local.get 0)) (throw $e (i32.const 1) (f64.const 2)))
              (unreachable)))
          (func (export "r") (param exnref) (block $h (result exnref)
            (try_table (catch_all_ref $h) (throw_ref (local.get 0)))
            (return)) (throw_ref)))"#,
    )
    .unwrap();
    let throws =
        wat::parse_str(r#"(module (tag $e (export "e")) (func (export "t") (throw $e)))"#).unwrap();
    for target in [
        None,
        Some(Arch::X86_64),
        Some(Arch::Aarch64),
        Some(Arch::Riscv64),
        Some(Arch::S390x),
    ] {
        let options = CompileOptions {
            target,
            ..Default::default()
        };
        compile(&throws, &options).unwrap_or_else(|e| panic!("{target:?}: {e}"));
        let result = compile(&catches, &options);
        match target {
            Some(Arch::Riscv64 | Arch::S390x) => match result {
                Err(CompileError::Unsupported(m)) => assert!(m.contains("try_table"), "{m}"),
                other => panic!(
                    "{target:?}: expected a clear error, got {:?}",
                    other.map(|_| ())
                ),
            },
            _ => {
                result.unwrap_or_else(|e| panic!("{target:?}: {e}"));
            }
        }
    }
}
