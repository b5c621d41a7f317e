//! Translates and compiles every function of every module of the WebAssembly 2.0 SIMD spec tests
//! (`simd_*.wast`) for the host, x86_64 at its baseline (x86-64-v2, so no AVX), aarch64 and
//! s390x, with the verifier on, and checks that the only relocations are colocated calls to wasm
//! functions (no libcalls). On riscv64 without the V extension, SIMD must be rejected cleanly as
//! unsupported.

mod common;

use common::*;

fn simd_files() -> Vec<PathBuf> {
    let dir = testsuite_dir();
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| entry.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "wast"))
        .filter(|p| {
            p.file_name()
                .unwrap()
                .to_str()
                .unwrap()
                .starts_with("simd_")
        })
        .collect();
    files.sort();
    assert!(
        !files.is_empty(),
        "no simd_*.wast files in {}",
        dir.display()
    );
    files
}

#[test]
fn translate_simd_testsuite() {
    let isas: Vec<(&'static str, OwnedTargetIsa)> = target_isas()
        .into_iter()
        .filter(|(name, _)| !name.starts_with("riscv64"))
        .collect();
    let files = simd_files();
    compile_files_and_report(&isas, &files);
}

/// On riscv64 without the V extension, every function that uses a SIMD operator, or has a `v128`
/// parameter, result or local, fails to translate with a clear "unsupported" error instead of
/// reaching Cranelift (which cannot lower vector types there).
#[test]
fn simd_unsupported_on_riscv64_baseline() {
    let (_, isa) = target_isas()
        .into_iter()
        .find(|(name, _)| name.starts_with("riscv64"))
        .unwrap();
    let wasm = wat::parse_str(
        r#"(module
          (func (export "add") (param i32) (result i32)
            (i32x4.extract_lane 0
              (i32x4.add (i32x4.splat (local.get 0)) (v128.const i32x4 1 2 3 4))))
          (func (export "const") (result i32)
            (v128.const i64x2 0 0) (drop) (i32.const 0))
          (func (export "param") (param v128))
          (func (export "result") (param i32) (result v128) (unreachable))
          (func (export "local") (local v128))
          (func (export "scalar") (param i32) (result i32) (local.get 0)))"#,
    )
    .unwrap();
    let module = ModuleInfo::parse(&wasm).unwrap();
    let expected = [
        Some("simd operator I32x4Splat"),
        Some("simd operator V128Const"),
        Some("v128 values"),
        Some("v128 values"),
        Some("v128 values"),
        None,
    ];
    for (i, expected) in expected.into_iter().enumerate() {
        let index = module.imported_funcs + i as u32;
        let sig = wasm_signature(module.func_type(index));
        let mut func = ir::Function::with_name_signature(UserFuncName::user(0, index), sig);
        let result = translate_function(
            &module,
            &*isa,
            &Default::default(),
            index,
            &module.bodies[i],
            &mut func,
        );
        match (expected, result) {
            (None, Ok(())) => {}
            (Some(what), Err(e)) => {
                let message = e.to_string();
                assert!(
                    message.contains("unsupported") && message.contains(what),
                    "function {index}: {message}"
                );
            }
            (expected, result) => panic!("function {index}: expected {expected:?}, got {result:?}"),
        }
    }
}
