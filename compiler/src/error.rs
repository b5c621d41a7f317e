//! Compile errors.

/// Why a module could not be compiled.
#[derive(Debug, thiserror::Error)]
pub enum CompileError {
    /// The bytes are not a valid WebAssembly module (malformed or invalid). The message is
    /// wasmparser's, with its offset; it is not also the error's `source()`, so that printing
    /// the chain (`{:#}`) says it once.
    #[error("invalid WebAssembly: {0}")]
    Wasm(wasmparser::BinaryReaderError),
    /// The module uses a feature Kiln does not support yet.
    #[error("unsupported WebAssembly feature: {0}")]
    Unsupported(String),
    /// The requested target cannot be compiled for.
    #[error("unsupported target: {0}")]
    Target(String),
    /// Cranelift rejected a function: a Kiln bug, reported with the function index.
    #[error("code generation failed in function {func}: {message}")]
    Codegen {
        /// Function index.
        func: u32,
        /// Cranelift's message.
        message: String,
    },
    /// Generated code needs a load-time relocation: a Kiln bug, refused rather than written.
    #[error("function {func} needs a relocation Kiln cannot resolve at compile time: {what}")]
    Relocation {
        /// Function index.
        func: u32,
        /// The relocation.
        what: String,
    },
    /// The artifact could not be written.
    #[error("artifact layout failed: {0}")]
    Emit(String),
}

impl From<wasmparser::BinaryReaderError> for CompileError {
    fn from(e: wasmparser::BinaryReaderError) -> Self {
        CompileError::Wasm(e)
    }
}

/// An [`CompileError::Unsupported`] error about `what`.
pub(crate) fn unsupported(what: impl Into<String>) -> CompileError {
    CompileError::Unsupported(what.into())
}
