//! Kiln's minimal C entry point as a static library: `libkiln_capi.a`, declared by
//! `include/kiln.h`. The functions are the loader's (`kiln_loader::capi`, where its unsafe code
//! lives with its arguments), and, with the `wasi` feature (on by default), one more that
//! instantiates with `kiln-wasi`, which the loader does not link; this crate gives C hosts one
//! library to link.

pub use kiln_loader::capi::*;

#[cfg(feature = "wasi")]
mod wasi;
#[cfg(feature = "wasi")]
pub use wasi::kiln_instance_new_wasi;
