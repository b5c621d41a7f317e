//! The Kiln artifact format, version 1.
//!
//! This crate is the single source of truth for the on-disk layout of a Kiln artifact: the compiler
//! writes with [`writer`], the loader reads with [`reader`], and both agree on the run-time layout of
//! the VMContext through [`vmctx`]. `SPEC.md` beside this crate is the normative description.
//!
//! Every structure here is fixed-layout and little-endian, built from `zerocopy` unaligned integer
//! types, so that the loader reads the tables in place from the mapped file with no copying and no
//! `unsafe`.

pub mod constexpr;
pub mod header;
pub mod reader;
pub mod tables;
pub mod target;
pub mod trap;
pub mod vmctx;
pub mod writer;

pub use header::{ArtifactHeader, FORMAT_MAJOR, FORMAT_MINOR, MAGIC};
pub use reader::{ArtifactView, FormatError};
pub use target::{Arch, CpuFeature};
pub use trap::TrapKind;

/// The size of a WebAssembly page.
pub const WASM_PAGE_SIZE: u64 = 64 * 1024;
