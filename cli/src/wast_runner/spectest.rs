//! The `spectest` module every spec-test script may import from.
//!
//! The loader cannot create memories or tables from the host, so `spectest` is a small WebAssembly
//! module that defines them (and the globals), compiled and loaded like any other module. Its print
//! functions are host functions it imports and re-exports.

use super::runner::load_artifact;
use kiln_loader::{Artifact, FuncType, Linker, Store, ValType};
use std::sync::OnceLock;
use wast::parser::{self, ParseBuffer};
use wast::Wat;

/// The name the host print functions are provided under, for the `spectest` module only.
const HOST_MODULE: &str = "spectest_host";

/// The print functions and their parameter types.
const PRINTS: &[(&str, &[ValType])] = &[
    ("print", &[]),
    ("print_i32", &[ValType::I32]),
    ("print_i64", &[ValType::I64]),
    ("print_f32", &[ValType::F32]),
    ("print_f64", &[ValType::F64]),
    ("print_i32_f32", &[ValType::I32, ValType::F32]),
    ("print_f64_f64", &[ValType::F64, ValType::F64]),
];

const SPECTEST_WAT: &str = r#"
(module
  (import "spectest_host" "print" (func $print))
  (import "spectest_host" "print_i32" (func $print_i32 (param i32)))
  (import "spectest_host" "print_i64" (func $print_i64 (param i64)))
  (import "spectest_host" "print_f32" (func $print_f32 (param f32)))
  (import "spectest_host" "print_f64" (func $print_f64 (param f64)))
  (import "spectest_host" "print_i32_f32" (func $print_i32_f32 (param i32 f32)))
  (import "spectest_host" "print_f64_f64" (func $print_f64_f64 (param f64 f64)))
  (export "print" (func $print))
  (export "print_i32" (func $print_i32))
  (export "print_i64" (func $print_i64))
  (export "print_f32" (func $print_f32))
  (export "print_f64" (func $print_f64))
  (export "print_i32_f32" (func $print_i32_f32))
  (export "print_f64_f64" (func $print_f64_f64))
  (memory (export "memory") 1 2)
  (table (export "table") 10 20 funcref)
  (table (export "table64") i64 10 20 funcref)
  (global (export "global_i32") i32 (i32.const 666))
  (global (export "global_i64") i64 (i64.const 666))
  (global (export "global_f32") f32 (f32.const 666.6))
  (global (export "global_f64") f64 (f64.const 666.6))
)
"#;

/// The compiled and loaded `spectest` artifact, shared by every store of the process: it is
/// immutable, and compiling it once keeps per-file setup cheap.
fn artifact() -> Result<Artifact, String> {
    static ARTIFACT: OnceLock<Result<Artifact, String>> = OnceLock::new();
    ARTIFACT
        .get_or_init(|| {
            let buf = ParseBuffer::new(SPECTEST_WAT).map_err(|e| e.to_string())?;
            let mut wat: Wat = parser::parse(&buf).map_err(|e| e.to_string())?;
            let wasm = wat.encode().map_err(|e| e.to_string())?;
            load_artifact(&wasm, &kiln_compiler::CompileOptions::default())
                .map_err(|e| e.to_string())
        })
        .clone()
}

/// Instantiates `spectest` in `store` and defines its exports in `linker` under module
/// `spectest`.
pub fn define(store: &mut Store<()>, linker: &mut Linker<()>) -> Result<(), String> {
    let artifact = artifact().map_err(|e| format!("spectest module: {e}"))?;
    let mut host = Linker::new();
    for (name, params) in PRINTS {
        let ty = FuncType::new(params.iter().copied(), []);
        // Output would interleave with the report; the values are of no interest.
        host.func_new(HOST_MODULE, name, ty, |_, _, _| Ok(()))
            .map_err(|e| e.to_string())?;
    }
    let instance = host
        .instantiate(&mut *store, &artifact)
        .map_err(|e| format!("spectest module: instantiation failed: {e}"))?;
    linker
        .instance(store, "spectest", instance)
        .map_err(|e| e.to_string())?;
    Ok(())
}
