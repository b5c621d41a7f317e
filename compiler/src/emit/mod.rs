//! Emission: lays out the text region (resolving every call at compile time), the data region and
//! the metadata tables, then has `kiln_format::writer` write them into the ELF container with the
//! Kiln header. One file per region: [`text`], [`data`], [`meta`], and [`symbols`] for tools.

mod data;
mod meta;
mod symbols;
mod text;

use crate::codegen::CompiledModule;
use crate::error::CompileError;
use crate::options::CompileOptions;
use crate::parse::ModuleInfo;
use kiln_format::header::{self, CodeSettings};
use kiln_format::writer::{write_artifact as write_container, ArtifactParts, Placement};
use kiln_format::Arch;
use sha2::{Digest, Sha256};

/// Writes the artifact for a compiled module.
pub fn write_artifact(
    wasm: &[u8],
    module: &ModuleInfo,
    compiled: &CompiledModule,
    options: &CompileOptions,
) -> Result<Vec<u8>, CompileError> {
    let layout = text::lay_out_text(module, compiled)?;
    let arch = compiled.arch;
    let data = data::lay_out_data(module, arch.region_align());
    let meta = meta::build_meta(module, compiled, &layout, &data, options)?;
    let placement = Placement::new(arch, meta.len(), layout.text.len(), options.unwind_info);
    let (eh_frame, eh_frame_hdr) = if options.unwind_info {
        unwind_tables(compiled, &layout, placement)?
    } else {
        (Vec::new(), Vec::new())
    };
    let syms = if options.strip {
        Vec::new()
    } else {
        symbols::symbols(module, compiled, &layout)
    };
    let settings = CodeSettings {
        vmctx_size: module.vmctx_layout().size,
        num_functions: compiled.funcs.len() as u32,
        wasm_sha256: Sha256::digest(wasm).into(),
        ..code_settings(options, arch, compiled.cpu_features)
    };
    write_container(&ArtifactParts {
        settings,
        meta: &meta,
        text: &layout.text,
        eh_frame: &eh_frame,
        eh_frame_hdr: &eh_frame_hdr,
        data: &data.bytes,
        symbols: &syms,
    })
    .map_err(|e| CompileError::Emit(e.to_string()))
}

/// `.eh_frame` and `.eh_frame_hdr` for every function and trampoline, built for where they go.
fn unwind_tables(
    compiled: &CompiledModule,
    layout: &text::TextLayout,
    placement: Placement,
) -> Result<(Vec<u8>, Vec<u8>), CompileError> {
    let big_endian = compiled.arch.big_endian();
    let code = compiled
        .funcs
        .iter()
        .zip(&layout.funcs)
        .chain(
            compiled
                .entry_trampolines
                .iter()
                .map(|(_, c)| c)
                .zip(layout.entry_trampolines.iter().map(|(_, o)| o)),
        )
        .chain(
            compiled
                .host_adapters
                .iter()
                .map(|(_, c)| c)
                .zip(layout.host_adapters.iter().map(|(_, o)| o)),
        )
        .chain(
            compiled
                .builtin_stubs
                .iter()
                .map(|(_, c)| c)
                .zip(&layout.builtin_stubs),
        )
        .filter_map(|(c, &off)| Some((off, c.unwind.as_ref()?)));
    let eh_frame = crate::unwind::build_eh_frame(
        &*compiled.isa,
        big_endian,
        placement.text,
        placement.eh_frame,
        code,
    )?;
    if eh_frame.is_empty() {
        return Ok((eh_frame, Vec::new()));
    }
    let hdr_offset = placement.eh_frame_hdr(eh_frame.len());
    let hdr =
        crate::unwind::build_eh_frame_hdr(&eh_frame, placement.eh_frame, hdr_offset, big_endian)?;
    Ok((eh_frame, hdr))
}

/// The header settings of every artifact compiled with `options` for `arch` with the CPU features
/// `cpu_features` (from [`crate::codegen::build_isa`]); the fields that describe one module are
/// zero. What [`crate::compatibility_key`] derives the key from, so that the key and the header
/// come from one place.
pub(crate) fn code_settings(
    options: &CompileOptions,
    arch: Arch,
    cpu_features: u64,
) -> CodeSettings {
    CodeSettings {
        arch,
        cpu_features,
        opt_level: options.opt_level.header_code(),
        flags: header_flags(options),
        vmctx_size: 0,
        num_functions: 0,
        wasm_sha256: [0; 32],
    }
}

fn header_flags(options: &CompileOptions) -> u32 {
    let mut flags = header::FLAG_FRAME_POINTERS;
    if options.strip {
        flags |= header::FLAG_STRIPPED;
    }
    if options.unwind_info {
        flags |= header::FLAG_UNWIND_INFO;
    }
    if options.fuel {
        flags |= header::FLAG_FUEL;
    }
    if options.epoch_interruption {
        flags |= header::FLAG_EPOCH_INTERRUPTION;
    }
    flags
}
