//! The Kiln compiler: WebAssembly → Kiln artifact.
//!
//! The pipeline, one module per stage: [`parse`] validates and collects the module's facts,
//! [`translate`] turns each function body into Cranelift IR, [`codegen`] compiles the functions and
//! trampolines in parallel, and [`emit`] lays out and writes the artifact.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod codegen;
pub mod demangle;
pub mod emit;
pub mod error;
pub mod options;
pub mod parse;
pub mod translate;
pub mod trap_codes;
pub mod unwind;

pub use error::CompileError;
pub use options::{CompileOptions, OptLevel, WasmFeatures};

/// Compiles a WebAssembly binary into the bytes of a Kiln artifact.
pub fn compile(wasm: &[u8], options: &CompileOptions) -> Result<Vec<u8>, CompileError> {
    let module = parse::ModuleInfo::parse_with_features(wasm, options.features)?;
    let compiled = codegen::compile_module(&module, options)?;
    emit::write_artifact(wasm, &module, &compiled, options)
}
