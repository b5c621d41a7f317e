//! The Kiln artifact format, version 2.
//!
//! This crate is the single source of truth for the on-disk layout of a Kiln artifact and for the
//! run-time ABI between generated code and the loader: the compiler writes with [`writer`], the
//! loader reads with [`reader`], and both take the VMContext layout from [`vmctx`] and the list of
//! builtin functions from [`for_each_builtin!`]. `SPEC.md` beside this crate is the normative
//! description.
//!
//! Every on-disk structure here is fixed-layout and little-endian, built from `zerocopy` unaligned
//! integer types, so that the loader reads the tables in place from the mapped file with no copying
//! and no `unsafe`.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod builtins;
pub mod compat;
pub mod constexpr;
pub mod error;
pub mod header;
pub mod index;
pub mod reader;
pub mod signature;
pub mod tables;
pub mod target;
pub mod trap;
pub mod valtype;
pub mod vmctx;
#[cfg(feature = "write")]
pub mod writer;

pub use builtins::Builtin;
pub use error::{FormatError, Location};
pub use header::{ArtifactHeader, FORMAT_MAJOR, FORMAT_MINOR, MAGIC};
pub use index::EntityIndex;
pub use reader::{ArtifactView, MetaView};
pub use target::{Arch, CpuFeature};
pub use trap::TrapKind;

/// The size of a WebAssembly page.
pub const WASM_PAGE_SIZE: u64 = 64 * 1024;
