//! Kiln's minimal C entry point as a static library: `libkiln_capi.a`, declared by
//! `include/kiln.h`. The functions are the loader's (`kiln_loader::capi`, where its unsafe code
//! lives with its arguments), and, with the `wasi` feature (on by default),
//! `kiln_wasi_config_new`, whose configurations instantiate with `kiln-wasi`, which the loader
//! does not link. This crate reads no C pointer (its one unsafe attribute, `no_mangle`, names
//! that symbol); it gives C hosts one library to link.

#![deny(unsafe_code)]

pub use kiln_loader::capi::*;

#[cfg(feature = "wasi")]
mod wasi;
#[cfg(feature = "wasi")]
pub use wasi::kiln_wasi_config_new;
