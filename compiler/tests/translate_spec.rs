//! Translates and compiles every function of every module in the WebAssembly 2.0 spec test suite
//! (SIMD files excepted) for the host, with the verifier on, and checks that the only relocations
//! are colocated calls to wasm functions.

mod common;

use common::*;

#[test]
fn translate_spec_testsuite() {
    let isas = target_isas();
    let dir = testsuite_dir();
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| entry.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "wast"))
        .filter(|p| !p.file_name().unwrap().to_str().unwrap().starts_with("simd"))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no .wast files in {}", dir.display());

    compile_files_and_report(&isas, &files);
}

/// Edge cases the spec suite covers thinly: many results, offsets beyond the guard region (explicit
/// bounds checks), deeply nested unreachable code, `br_table` carrying values (to a loop header and
/// to blocks), `if` without `else` with parameters, and `v128` values moved around without SIMD
/// arithmetic.
#[test]
fn translate_edge_cases() {
    let scalar = r#"(module
      (memory 1)
      (table 4 funcref)
      (global $g (mut i64) (i64.const 0))
      (type $many (func (param i32) (result i32 i64 f32 f64 i32 i64 f32 f64 i32 i64 f32 f64
                                            i32 i64 f32 f64 i32 i64 f32 f64)))
      (func $many (type $many)
        (local.get 0) (i64.const 1) (f32.const 2) (f64.const 3)
        (local.get 0) (i64.const 1) (f32.const 2) (f64.const 3)
        (local.get 0) (i64.const 1) (f32.const 2) (f64.const 3)
        (local.get 0) (i64.const 1) (f32.const 2) (f64.const 3)
        (local.get 0) (i64.const 1) (f32.const 2) (f64.const 3))
      (func (export "call_many") (param i32) (result i32)
        (call $many (local.get 0))
        (drop) (drop) (drop) (drop) (drop) (drop) (drop) (drop) (drop) (drop)
        (drop) (drop) (drop) (drop) (drop) (drop) (drop) (drop) (drop))
      (func (export "indirect_many") (param i32) (result i32)
        (call_indirect (type $many) (local.get 0) (local.get 0))
        (drop) (drop) (drop) (drop) (drop) (drop) (drop) (drop) (drop) (drop)
        (drop) (drop) (drop) (drop) (drop) (drop) (drop) (drop) (drop))
      (func (export "big_offsets") (param i32) (result i64)
        (i64.store offset=4294967295 (local.get 0) (i64.const 1))
        (i32.store8 offset=2147483647 (local.get 0) (i32.const 2))
        (i64.add (i64.load offset=2147483641 (local.get 0))
                 (i64.load32_s offset=4000000000 (local.get 0))))
      (func (export "unreachable_nest") (param i32) (result i32)
        (block (result i32)
          (br 0 (i32.const 1))
          (block (loop (if (local.get 0) (then (unreachable)) (else (br 2)))))
          (if (result i32) (i32.const 1) (then (i32.const 2)) (else (i32.const 3)))
          (drop)))
      (func (export "br_table_values") (param i32) (result i32 i64)
        (local.get 0) (i64.const 7)
        (loop $l (param i32 i64) (result i32 i64)
          (block $b (param i32 i64) (result i32 i64)
            (br_table $l $b $l (local.get 0) (i64.const 1) (global.get $g) (i64.eqz)))))
      (func (export "if_params") (param i32) (result i32 i32)
        (i32.const 10) (i32.const 20)
        (if (param i32 i32) (result i32 i32) (local.get 0)
          (then (i32.add) (i32.const 1))))
    )"#;
    let v128 = r#"(module
      (memory 1)
      (global $v (mut v128) (v128.const i64x2 1 2))
      (func (export "v128_moves") (param v128 i32) (result v128)
        (local v128)
        (local.set 2 (global.get $v))
        (v128.store (local.get 1) (local.get 0))
        (global.set $v (v128.load (local.get 1)))
        (select (local.get 2) (local.get 0) (local.get 1)))
    )"#;
    let isas = target_isas();
    let mut failures = Vec::new();
    for (name, text, skip_riscv) in [("scalar", scalar, false), ("v128", v128, true)] {
        let wasm = wat::parse_str(text).unwrap();
        let module = ModuleInfo::parse(&wasm).unwrap();
        for (target, isa) in &isas {
            // Why: riscv64's baseline has no vector extension to hold v128 values.
            if skip_riscv && target.starts_with("riscv64") {
                continue;
            }
            let mut f = Vec::new();
            compile_for(&module, target, isa, &mut f);
            failures.extend(f.into_iter().map(|f| format!("{name}: {f}")));
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
}
