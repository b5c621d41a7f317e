//! Kiln's minimal C entry point as a static library: `libkiln_capi.a`, declared by
//! `include/kiln.h`. The functions are the loader's (`kiln_loader::capi`, where its unsafe code
//! lives with its arguments); this crate only gives C hosts one library to link.

pub use kiln_loader::capi::*;
