//! Emission: lays out the text section (resolving every call at compile time), builds the metadata
//! tables, and writes the ELF container with the Kiln header.
//!
//! File layout (see `format-spec/SPEC.md`): ELF header, Kiln header at offset 64, program headers,
//! metadata, the text region (page-aligned), `.eh_frame` and `.eh_frame_hdr` (with unwind info),
//! the data region (page-aligned: segment images, then merged memory images), then the symbol
//! table and section headers. Section addresses equal file offsets.

use crate::codegen::{CompiledCode, CompiledModule};
use crate::error::CompileError;
use crate::options::CompileOptions;
use crate::parse::{ElemItems, ModuleInfo};
use cranelift_codegen::control::ControlPlane;
use kiln_format::header::{self, ArtifactHeader, FileRange, HEADER_OFFSET};
use kiln_format::tables::*;
use kiln_format::vmctx::{MEMORY_GUARD, MEMORY_RESERVATION};
use kiln_format::writer::MetaBuilder;
use kiln_format::{Arch, FORMAT_MAJOR, FORMAT_MINOR, MAGIC};
use object::elf;
use object::write::elf::{FileHeader, ProgramHeader, SectionHeader, Sym, Writer};
use object::Endianness;
use sha2::{Digest, Sha256};
use wasmparser::{ExternalKind, RefType, TypeRef, ValType};
use zerocopy::IntoBytes;

/// Where each piece of code landed in the text region.
struct TextLayout {
    text: Vec<u8>,
    /// Offset of each defined function.
    funcs: Vec<u32>,
    /// Offset of each type's entry trampoline.
    entry_trampolines: Vec<u32>,
    /// `(type index, offset)` of each host adapter.
    host_adapters: Vec<(u32, u32)>,
}

/// Writes the artifact for a compiled module.
pub fn write_artifact(
    wasm: &[u8],
    module: &ModuleInfo,
    compiled: &CompiledModule,
    options: &CompileOptions,
) -> Result<Vec<u8>, CompileError> {
    let layout = lay_out_text(module, compiled)?;
    let align = compiled.arch.region_align();
    let data = lay_out_data(module, align);
    let meta = build_meta(module, compiled, &layout, &data, options)?;
    write_elf(wasm, module, compiled, &layout, &meta, &data.bytes, options)
}

/// The minimum alignment of every function in `.text`: a cache line.
const FUNCTION_ALIGN: u32 = 64;

fn lay_out_text(
    module: &ModuleInfo,
    compiled: &CompiledModule,
) -> Result<TextLayout, CompileError> {
    let isa = &*compiled.isa;
    let mut builder = isa.text_section_builder(compiled.funcs.len());
    let mut ctrl = ControlPlane::default();
    // Functions start on a cache line, so where a function's loops fall relative to fetch
    // blocks depends on that function alone, not on the sizes of the functions before it.
    // Cranelift does not align loop headers, and on x86_64 the same inner loop measured 11 to
    // 18 ms depending on its offset modulo 64 (benches/README.md, "Code placement").
    let min_align = isa.function_alignment().preferred.max(FUNCTION_ALIGN);
    let mut append = |labeled: bool, c: &CompiledCode, ctrl: &mut ControlPlane| {
        builder.append(labeled, &c.code, c.alignment.max(min_align), ctrl) as u32
    };
    let funcs: Vec<u32> = compiled
        .funcs
        .iter()
        .map(|c| append(true, c, &mut ctrl))
        .collect();
    let entry_trampolines = compiled
        .entry_trampolines
        .iter()
        .map(|c| append(false, c, &mut ctrl))
        .collect();
    let host_adapters = compiled
        .host_adapters
        .iter()
        .map(|(t, c)| (*t, append(false, c, &mut ctrl)))
        .collect();
    for (i, (c, &offset)) in compiled.funcs.iter().zip(&funcs).enumerate() {
        let func = module.imported_funcs + i as u32;
        for r in &c.relocs {
            let target = r.callee.checked_sub(module.imported_funcs).ok_or_else(|| {
                CompileError::Relocation {
                    func,
                    what: format!("direct call to imported function {}", r.callee),
                }
            })?;
            let at = u64::from(offset) + u64::from(r.offset);
            if !builder.resolve_reloc(at, r.kind, r.addend, target as usize) {
                return Err(CompileError::Relocation {
                    func,
                    what: format!("{:?} cannot be resolved by the text builder", r.kind),
                });
            }
        }
    }
    let text = builder.finish(&mut ctrl);
    u32::try_from(text.len()).map_err(|_| CompileError::Emit("text exceeds 4 GiB".into()))?;
    Ok(TextLayout {
        text,
        funcs,
        entry_trampolines,
        host_adapters,
    })
}

/// The data region: segment images and merged memory images.
struct DataLayout {
    bytes: Vec<u8>,
    /// Offset of each data segment's bytes.
    segments: Vec<u64>,
    /// `(memory, memory offset, image offset, length)` of each memory image.
    images: Vec<(u32, u64, u64, u64)>,
}

/// Places data-segment images: a segment of at least one page starts on a page boundary, so that
/// it can be mapped copy-on-write; smaller ones are packed 8-byte aligned. Then, for each defined
/// memory whose active segments can be merged, one page-aligned image of its initial contents.
fn lay_out_data(module: &ModuleInfo, align: u64) -> DataLayout {
    let mut bytes = Vec::new();
    let mut segments = Vec::with_capacity(module.data.len());
    for d in &module.data {
        let a = if d.bytes.len() as u64 >= align {
            align
        } else {
            8
        };
        bytes.resize(bytes.len().next_multiple_of(a as usize), 0);
        segments.push(bytes.len() as u64);
        bytes.extend_from_slice(d.bytes);
    }
    let mut images = Vec::new();
    for memory in module.imported_memories..module.memories.len() as u32 {
        if let Some((offset, image)) = memory_image(module, memory, align) {
            bytes.resize(bytes.len().next_multiple_of(align as usize), 0);
            images.push((memory, offset, bytes.len() as u64, image.len() as u64));
            bytes.extend_from_slice(&image);
        }
    }
    DataLayout {
        bytes,
        segments,
        images,
    }
}

/// The offset of an `i32.const N; end` expression.
fn const_offset(expr: &[u8]) -> Option<u64> {
    let (&op, rest) = expr.split_first()?;
    if op != 0x41 {
        return None;
    }
    let mut value: i64 = 0;
    let mut shift = 0;
    for (i, &b) in rest.iter().enumerate().take(5) {
        value |= i64::from(b & 0x7f) << shift;
        shift += 7;
        if b & 0x80 == 0 {
            if b & 0x40 != 0 && shift < 64 {
                value |= -1i64 << shift;
            }
            return (rest.get(i + 1..) == Some(&[0x0b][..])).then_some(value as u32 as u64);
        }
    }
    None
}

/// The merged initial image of defined memory `memory`: `(memory offset, bytes)`, both aligned to
/// `align`. Only when every active segment of the memory has a constant offset and fits in the
/// initial size (so instantiation cannot trap on it), and the image is not much larger than the
/// data it holds.
fn memory_image(module: &ModuleInfo, memory: u32, align: u64) -> Option<(u64, Vec<u8>)> {
    let initial = module.memories[memory as usize]
        .initial
        .checked_mul(64 * 1024)?;
    let mut segs = Vec::new();
    for d in &module.data {
        let Some((m, expr)) = d.active else { continue };
        if m != memory {
            continue;
        }
        let offset = const_offset(expr)?;
        if offset + d.bytes.len() as u64 > initial {
            return None;
        }
        segs.push((offset, d.bytes));
    }
    let data: u64 = segs.iter().map(|(_, b)| b.len() as u64).sum();
    if data == 0 {
        return None;
    }
    let lo = segs.iter().map(|(o, _)| *o).min()? / align * align;
    let hi = segs
        .iter()
        .map(|(o, b)| o + b.len() as u64)
        .max()?
        .next_multiple_of(align)
        .min(initial);
    // Sparse segments would make a large image of zeros: leave those to the loader's copying.
    if hi - lo > (2 * data).max(1 << 20) {
        return None;
    }
    let mut image = vec![0u8; (hi - lo) as usize];
    for (offset, bytes) in segs {
        let at = (offset - lo) as usize;
        image[at..at + bytes.len()].copy_from_slice(bytes);
    }
    Some((lo, image))
}

fn val_type_code(t: ValType) -> Result<u8, CompileError> {
    use kiln_format::vmctx::val_type as vt;
    Ok(match t {
        ValType::I32 => vt::I32,
        ValType::I64 => vt::I64,
        ValType::F32 => vt::F32,
        ValType::F64 => vt::F64,
        ValType::V128 => vt::V128,
        ValType::Ref(r) => ref_type_code(r)?,
    })
}

fn ref_type_code(r: RefType) -> Result<u8, CompileError> {
    if r == RefType::FUNCREF {
        Ok(ref_type::FUNCREF)
    } else if r == RefType::EXTERNREF {
        Ok(ref_type::EXTERNREF)
    } else {
        Err(CompileError::Unsupported(format!("reference type {r}")))
    }
}

fn limits_flags(imported: bool, has_max: bool, shared: bool, is64: bool) -> u8 {
    let mut f = 0;
    if imported {
        f |= LIMITS_IMPORTED;
    }
    if has_max {
        f |= LIMITS_HAS_MAX;
    }
    if shared {
        f |= LIMITS_SHARED;
    }
    if is64 {
        f |= LIMITS_64;
    }
    f
}

fn build_meta(
    module: &ModuleInfo,
    compiled: &CompiledModule,
    layout: &TextLayout,
    data: &DataLayout,
    options: &CompileOptions,
) -> Result<Vec<u8>, CompileError> {
    let mut m = MetaBuilder::default();
    for (i, ty) in module.types.iter().enumerate() {
        let codes = ty
            .params()
            .iter()
            .chain(ty.results())
            .map(|t| val_type_code(*t))
            .collect::<Result<Vec<_>, _>>()?;
        let host_adapter = layout
            .host_adapters
            .iter()
            .find(|(t, _)| *t as usize == i)
            .map_or(NO_CODE, |(_, off)| *off);
        let valtypes = m.valtypes(&codes);
        m.types.push(FuncTypeEntry {
            valtypes: valtypes.into(),
            params: (ty.params().len() as u32).into(),
            results: (ty.results().len() as u32).into(),
            entry_trampoline: layout.entry_trampolines[i].into(),
            host_adapter: host_adapter.into(),
        });
    }
    for imp in &module.imports {
        let (kind, type_index) = match imp.ty {
            TypeRef::Func(t) | TypeRef::FuncExact(t) => (extern_kind::FUNC, t),
            TypeRef::Table(_) => (extern_kind::TABLE, 0),
            TypeRef::Memory(_) => (extern_kind::MEMORY, 0),
            TypeRef::Global(_) => (extern_kind::GLOBAL, 0),
            TypeRef::Tag(_) => (extern_kind::TAG, 0),
        };
        let entry = ImportEntry {
            module: m.string(imp.module.as_bytes()),
            name: m.string(imp.name.as_bytes()),
            kind,
            reserved: [0; 3],
            index: imp.index.into(),
            type_index: type_index.into(),
        };
        m.imports.push(entry);
    }
    for (i, (code, &offset)) in compiled.funcs.iter().zip(&layout.funcs).enumerate() {
        let index = module.imported_funcs + i as u32;
        let name = match module.display_name(index) {
            Some(n) if !options.strip => m.string(n.as_bytes()),
            _ => StrRef::default(),
        };
        m.functions.push(FunctionEntry {
            type_index: module.funcs[index as usize].into(),
            code_offset: offset.into(),
            code_len: (code.code.len() as u32).into(),
            name,
            wasm_offset: (module.bodies[i].range().start as u32).into(),
            func_ref: module.func_ref_slots[index as usize].into(),
        });
        for (at, kind) in &code.traps {
            m.traps.push(TrapEntry {
                code_offset: (offset + at).into(),
                kind: *kind as u8,
            });
        }
        if !options.strip {
            for (at, wasm) in &code.address_map {
                m.address_map.push(AddressMapEntry {
                    code_offset: (offset + at).into(),
                    wasm_offset: (*wasm).into(),
                });
            }
        }
    }
    for (c, &offset) in compiled.host_adapters.iter().zip(&layout.host_adapters) {
        for (at, kind) in &c.1.traps {
            m.traps.push(TrapEntry {
                code_offset: (offset.1 + at).into(),
                kind: *kind as u8,
            });
        }
    }
    for (i, t) in module.tables.iter().enumerate() {
        let imported = (i as u32) < module.imported_tables;
        let init = match t.init {
            Some(bytes) => m.expr(bytes),
            None => ExprRef::default(),
        };
        m.tables.push(TableEntry {
            elem_type: ref_type_code(t.ty.element_type)?,
            flags: limits_flags(imported, t.ty.maximum.is_some(), t.ty.shared, t.ty.table64),
            reserved: [0; 2],
            min: t.ty.initial.into(),
            max: t.ty.maximum.unwrap_or(0).into(),
            init,
        });
    }
    for (i, mem) in module.memories.iter().enumerate() {
        let imported = (i as u32) < module.imported_memories;
        if mem.memory64 || mem.page_size_log2.is_some() {
            return Err(CompileError::Unsupported(
                "64-bit or custom-page-size memory".into(),
            ));
        }
        m.memories.push(MemoryEntry {
            flags: limits_flags(imported, mem.maximum.is_some(), mem.shared, mem.memory64),
            reserved: [0; 3],
            min_pages: mem.initial.into(),
            max_pages: mem.maximum.unwrap_or(0).into(),
        });
    }
    for (i, g) in module.globals.iter().enumerate() {
        let imported = (i as u32) < module.imported_globals;
        let init = match g.init {
            Some(bytes) => m.expr(bytes),
            None => ExprRef::default(),
        };
        m.globals.push(GlobalEntry {
            val_type: val_type_code(g.ty.content_type)?,
            mutable: g.ty.mutable as u8,
            imported: imported as u8,
            reserved: 0,
            init,
        });
    }
    for (name, kind, index) in &module.exports {
        let kind = match kind {
            ExternalKind::Func | ExternalKind::FuncExact => extern_kind::FUNC,
            ExternalKind::Table => extern_kind::TABLE,
            ExternalKind::Memory => extern_kind::MEMORY,
            ExternalKind::Global => extern_kind::GLOBAL,
            ExternalKind::Tag => extern_kind::TAG,
        };
        let entry = ExportEntry {
            name: m.string(name.as_bytes()),
            kind,
            reserved: [0; 3],
            index: (*index).into(),
        };
        m.exports.push(entry);
    }
    for e in &module.elements {
        let (mode, table, offset) = match e.active {
            Some((table, expr)) => (segment_mode::ACTIVE, table, m.expr(expr)),
            None if e.declared => (segment_mode::DECLARED, 0, ExprRef::default()),
            None => (segment_mode::PASSIVE, 0, ExprRef::default()),
        };
        let (items_kind, items_start, items_count) = match &e.items {
            ElemItems::Funcs(funcs) => {
                let start = m.elem_funcs.len() as u32;
                m.elem_funcs
                    .extend(funcs.iter().map(|f| zerocopy::little_endian::U32::new(*f)));
                (ELEM_ITEMS_FUNCS, start, funcs.len() as u32)
            }
            ElemItems::Exprs(exprs) => {
                let start = m.elem_exprs.len() as u32;
                for x in exprs {
                    let r = m.expr(x);
                    m.elem_exprs.push(r);
                }
                (ELEM_ITEMS_EXPRS, start, exprs.len() as u32)
            }
        };
        m.elements.push(ElementEntry {
            mode,
            elem_type: ref_type_code(e.ty)?,
            items_kind,
            reserved: 0,
            table: table.into(),
            offset,
            items_start: items_start.into(),
            items_count: items_count.into(),
        });
    }
    for &(memory, memory_offset, image_offset, len) in &data.images {
        m.memory_images.push(MemoryImageEntry {
            memory: memory.into(),
            reserved: 0.into(),
            memory_offset: memory_offset.into(),
            image_offset: image_offset.into(),
            len: len.into(),
        });
    }
    for (d, &image_offset) in module.data.iter().zip(&data.segments) {
        let (mode, memory, offset) = match d.active {
            Some((mem, expr)) => (segment_mode::ACTIVE, mem, m.expr(expr)),
            None => (segment_mode::PASSIVE, 0, ExprRef::default()),
        };
        m.data.push(DataEntry {
            mode,
            reserved: [0; 3],
            memory: memory.into(),
            offset,
            image_offset: image_offset.into(),
            len: (d.bytes.len() as u64).into(),
        });
    }
    let module_name = match module.module_name {
        Some(n) if !options.strip => m.string(n.as_bytes()),
        _ => StrRef::default(),
    };
    m.module = Some(ModuleEntry {
        imported_funcs: module.imported_funcs.into(),
        imported_tables: module.imported_tables.into(),
        imported_memories: module.imported_memories.into(),
        imported_globals: module.imported_globals.into(),
        start_func: module.start.unwrap_or(NULL_FUNC).into(),
        func_refs: module.func_refs.into(),
        name: module_name,
    });
    Ok(m.finish())
}

/// A symbol for the ELF symbol table.
struct Symbol {
    name: Vec<u8>,
    offset: u32,
    size: u32,
}

fn symbols(module: &ModuleInfo, compiled: &CompiledModule, layout: &TextLayout) -> Vec<Symbol> {
    let mut syms = Vec::new();
    for (i, (c, &offset)) in compiled.funcs.iter().zip(&layout.funcs).enumerate() {
        let index = module.imported_funcs + i as u32;
        let name = match module.display_name(index) {
            // ELF symbol names end at a NUL; wasm names may contain one.
            Some(n) => n.replace('\0', "\\0"),
            None => format!("wasm_func_{index}"),
        };
        syms.push(Symbol {
            name: name.into_bytes(),
            offset,
            size: c.code.len() as u32,
        });
    }
    for (t, (c, &offset)) in compiled
        .entry_trampolines
        .iter()
        .zip(&layout.entry_trampolines)
        .enumerate()
    {
        syms.push(Symbol {
            name: format!("kiln_entry_trampoline_type{t}").into_bytes(),
            offset,
            size: c.code.len() as u32,
        });
    }
    for ((t, c), (_, offset)) in compiled.host_adapters.iter().zip(&layout.host_adapters) {
        syms.push(Symbol {
            name: format!("kiln_host_adapter_type{t}").into_bytes(),
            offset: *offset,
            size: c.code.len() as u32,
        });
    }
    syms
}

#[allow(clippy::too_many_arguments)]
fn write_elf(
    wasm: &[u8],
    module: &ModuleInfo,
    compiled: &CompiledModule,
    layout: &TextLayout,
    meta: &[u8],
    data: &[u8],
    options: &CompileOptions,
) -> Result<Vec<u8>, CompileError> {
    let arch = compiled.arch;
    let align = arch.region_align();
    let endian = if arch.big_endian() {
        Endianness::Big
    } else {
        Endianness::Little
    };
    let syms = if options.strip {
        Vec::new()
    } else {
        symbols(module, compiled, layout)
    };
    let mut out = Vec::new();
    let mut w = Writer::new(endian, true, &mut out);

    // Reserve: the order here is the order in the file.
    w.reserve_file_header();
    let header_off = w.reserve(ArtifactHeader::SIZE as u64, 8);
    debug_assert_eq!(header_off, HEADER_OFFSET);
    // The fifth, PT_GNU_EH_FRAME, only with unwind tables.
    w.reserve_program_headers(if options.unwind_info { 5 } else { 4 });
    let meta_off = w.reserve(meta.len() as u64, 8);
    let text_off = w.reserve(layout.text.len() as u64, align);
    let eh_frame = if options.unwind_info {
        let eh_off = (text_off + layout.text.len() as u64).next_multiple_of(8);
        let code = compiled
            .funcs
            .iter()
            .zip(&layout.funcs)
            .chain(
                compiled
                    .entry_trampolines
                    .iter()
                    .zip(&layout.entry_trampolines),
            )
            .chain(
                compiled
                    .host_adapters
                    .iter()
                    .map(|(_, c)| c)
                    .zip(layout.host_adapters.iter().map(|(_, o)| o)),
            )
            .filter_map(|(c, &off)| Some((off, c.unwind.as_ref()?)));
        crate::unwind::build_eh_frame(&*compiled.isa, arch.big_endian(), text_off, eh_off, code)?
    } else {
        Vec::new()
    };
    let eh_off = w.reserve(eh_frame.len() as u64, 8);
    let eh_hdr = if eh_frame.is_empty() {
        Vec::new()
    } else {
        let hdr_off = (eh_off + eh_frame.len() as u64).next_multiple_of(4);
        crate::unwind::build_eh_frame_hdr(&eh_frame, eh_off, hdr_off, arch.big_endian())?
    };
    let eh_hdr_off = w.reserve(eh_hdr.len() as u64, 4);
    debug_assert!(
        eh_frame.is_empty() || eh_off == (text_off + layout.text.len() as u64).next_multiple_of(8)
    );
    let data_off = w.reserve(data.len() as u64, align);
    // A zero-length data region still gets a well-defined, aligned offset.
    let data_off = if data.is_empty() {
        data_off.next_multiple_of(align)
    } else {
        data_off
    };

    w.reserve_null_section_index();
    let names = [
        w.add_section_name(b".kiln.header"),
        w.add_section_name(b".kiln.meta"),
        w.add_section_name(b".text"),
        w.add_section_name(b".kiln.data"),
        w.add_section_name(b".eh_frame"),
        w.add_section_name(b".eh_frame_hdr"),
    ];
    // .kiln.header, .kiln.meta, .text, .kiln.data, .eh_frame, .eh_frame_hdr, in that order.
    let indices: Vec<_> = (0..6).map(|_| w.reserve_section_index()).collect();
    let text_idx = indices[2];
    w.reserve_null_symbol_index();
    let sym_names: Vec<_> = syms.iter().map(|s| w.add_string(&s.name)).collect();
    for _ in &syms {
        w.reserve_symbol_index(Some(text_idx));
    }
    w.reserve_symtab_section_index();
    w.reserve_strtab_section_index();
    w.reserve_shstrtab_section_index();
    w.reserve_symtab();
    let layout_err = |e: object::write::Error| CompileError::Emit(e.to_string());
    w.reserve_strtab().map_err(layout_err)?;
    w.reserve_shstrtab().map_err(layout_err)?;
    w.reserve_section_headers();

    // Write.
    let e_flags = match arch {
        // RVC and the double-float ABI, as riscv64gc objects declare.
        Arch::Riscv64 => 0x5,
        _ => 0,
    };
    w.write_file_header(&FileHeader {
        os_abi: elf::ELFOSABI_NONE,
        abi_version: 0,
        e_type: elf::ET_DYN,
        e_machine: elf::Machine(arch.elf_machine()),
        e_entry: 0,
        e_flags: elf::FileFlags(e_flags),
    })
    .map_err(|e| CompileError::Emit(e.to_string()))?;
    let header_pos = w.offset();
    w.write(&[0u8; ArtifactHeader::SIZE]);
    w.write_align_program_headers();
    let load = |flags: elf::ProgramFlags, off: u64, size: u64| ProgramHeader {
        p_type: elf::PT_LOAD,
        p_flags: flags,
        p_offset: off,
        p_vaddr: off,
        p_paddr: off,
        p_filesz: size,
        p_memsz: size,
        p_align: align,
    };
    w.write_program_header(&load(elf::PF_R, 0, meta_off + meta.len() as u64));
    w.write_program_header(&load(
        elf::PF_R | elf::PF_X,
        text_off,
        layout.text.len() as u64,
    ));
    w.write_program_header(&load(elf::PF_R, data_off, data.len() as u64));
    w.write_program_header(&load(elf::PF_R, eh_off, eh_frame.len() as u64));
    if options.unwind_info {
        w.write_program_header(&ProgramHeader {
            p_type: elf::PT_GNU_EH_FRAME,
            p_align: 4,
            ..load(elf::PF_R, eh_hdr_off, eh_hdr.len() as u64)
        });
    }
    w.pad_until(meta_off);
    w.write(meta);
    w.pad_until(text_off);
    w.write(&layout.text);
    w.pad_until(eh_off);
    w.write(&eh_frame);
    w.pad_until(eh_hdr_off);
    w.write(&eh_hdr);
    w.pad_until(data_off);
    w.write(data);

    w.write_null_symbol();
    for (s, name) in syms.iter().zip(&sym_names) {
        w.write_symbol(&Sym {
            st_name: w.string_offset(Some(*name)),
            section: Some(text_idx.0),
            st_info: elf::SymbolInfo::new(elf::STB_GLOBAL, elf::STT_FUNC),
            st_other: elf::STV_DEFAULT.into(),
            st_shndx: elf::SymbolSection(0),
            st_value: text_off + u64::from(s.offset),
            st_size: u64::from(s.size),
        });
    }
    w.write_strtab();
    w.write_shstrtab();
    w.write_null_section_header();
    let sections = [
        (
            names[0],
            elf::SHF_ALLOC,
            header_off,
            ArtifactHeader::SIZE as u64,
            8,
        ),
        (names[1], elf::SHF_ALLOC, meta_off, meta.len() as u64, 8),
        (
            names[2],
            elf::SHF_ALLOC | elf::SHF_EXECINSTR,
            text_off,
            layout.text.len() as u64,
            align,
        ),
        (names[3], elf::SHF_ALLOC, data_off, data.len() as u64, align),
        (names[4], elf::SHF_ALLOC, eh_off, eh_frame.len() as u64, 8),
        (names[5], elf::SHF_ALLOC, eh_hdr_off, eh_hdr.len() as u64, 4),
    ];
    for (name, flags, off, size, a) in sections {
        w.write_section_header(&SectionHeader {
            sh_name: w.section_name_offset(Some(name)),
            sh_type: elf::SHT_PROGBITS,
            sh_flags: flags,
            sh_addr: off,
            sh_offset: off,
            sh_size: size,
            sh_link: 0,
            sh_info: 0,
            sh_addralign: a,
            sh_entsize: 0,
        });
    }
    w.write_symtab_section_header(1);
    w.write_strtab_section_header();
    w.write_shstrtab_section_header();
    drop(w);
    if (out.len() as u64) < data_off {
        out.resize(data_off as usize, 0);
    }

    let header = ArtifactHeader {
        magic: MAGIC,
        format_major: FORMAT_MAJOR.into(),
        format_minor: FORMAT_MINOR.into(),
        header_size: (ArtifactHeader::SIZE as u32).into(),
        kiln_version: header::pad_str(env!("CARGO_PKG_VERSION")),
        arch: (arch as u16).into(),
        os: 1.into(),
        region_align: (align as u32).into(),
        triple: header::pad_str(arch.triple()),
        cpu_features: compiled.cpu_features.into(),
        bounds_checks: header::BOUNDS_STATIC_GUARD,
        stack_limit_scheme: header::STACK_LIMIT_STORE_CONTEXT,
        opt_level: options.opt_level.header_code(),
        reserved0: 0,
        flags: header_flags(options).into(),
        memory_reservation: MEMORY_RESERVATION.into(),
        memory_guard: MEMORY_GUARD.into(),
        vmctx_size: module.vmctx_layout().size.into(),
        num_functions: (compiled.funcs.len() as u32).into(),
        wasm_sha256: Sha256::digest(wasm).into(),
        text: range(text_off, layout.text.len()),
        meta: range(meta_off, meta.len()),
        data: range(data_off, data.len()),
        eh_frame: range(eh_off, eh_frame.len()),
        checksum: 0.into(),
    };
    let mut header = header;
    let body_start = HEADER_OFFSET as usize + ArtifactHeader::SIZE;
    let body_end = kiln_format::reader::checksum_end(&header);
    header.checksum = header::fnv1a64(&out[body_start..body_end]).into();
    out[header_pos as usize..body_start].copy_from_slice(header.as_bytes());
    Ok(out)
}

fn range(offset: u64, size: usize) -> FileRange {
    FileRange {
        offset: offset.into(),
        size: (size as u64).into(),
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
    flags
}
