//! The metadata region: the module's types, imports, functions, tables, memories, globals,
//! exports, segments, trap table and address map, as the format's tables (SPEC.md §3).

use super::data::DataLayout;
use super::text::TextLayout;
use crate::codegen::CompiledModule;
use crate::error::CompileError;
use crate::options::CompileOptions;
use crate::parse::{ElemItems, ModuleInfo};
use kiln_format::tables::*;
use kiln_format::EntityIndex;
use wasmparser::{ExternalKind, RefType, TypeRef, ValType};

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
    } else if r.heap_type() == RefType::EXNREF.heap_type() {
        // Why non-null too: `(ref exn)` appears only where an `exnref` slot holds it.
        Ok(ref_type::EXNREF)
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

/// Builds the metadata region.
pub(super) fn build_meta(
    module: &ModuleInfo,
    compiled: &CompiledModule,
    layout: &TextLayout,
    data: &DataLayout,
    options: &CompileOptions,
) -> Result<Vec<u8>, CompileError> {
    let mut m = MetaTables::default();
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
        let valtypes = m.add_valtypes(&codes);
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
            TypeRef::Tag(t) => (extern_kind::TAG, t.func_type_idx),
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
        let index = module.defined_func_index(i);
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
        for site in &code.call_sites {
            m.call_sites.push(CallSiteEntry {
                ret_offset: (offset + site.ret_offset).into(),
                frame_offset: site.frame_offset.into(),
                vmctx_sp_offset: site.vmctx_sp_offset.into(),
                handlers_start: (m.handlers.len() as u32).into(),
                handlers_count: (site.handlers.len() as u32).into(),
            });
            for &(tag, flags, landing) in &site.handlers {
                m.handlers.push(HandlerEntry {
                    tag: tag.into(),
                    landing_offset: (offset + landing).into(),
                    flags,
                });
            }
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
        let imported = matches!(
            EntityIndex::split(i as u32, module.imported_tables),
            EntityIndex::Imported(_)
        );
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
        let imported = matches!(
            EntityIndex::split(i as u32, module.imported_memories),
            EntityIndex::Imported(_)
        );
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
        let imported = matches!(
            EntityIndex::split(i as u32, module.imported_globals),
            EntityIndex::Imported(_)
        );
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
    for (i, &type_index) in module.tags.iter().enumerate() {
        m.tags.push(TagEntry {
            type_index: type_index.into(),
            imported: u8::from((i as u32) < module.imported_tags),
            reserved: [0; 3],
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
    let module_entry = ModuleEntry {
        imported_funcs: module.imported_funcs.into(),
        imported_tables: module.imported_tables.into(),
        imported_memories: module.imported_memories.into(),
        imported_globals: module.imported_globals.into(),
        start_func: module.start.unwrap_or(NULL_FUNC).into(),
        func_refs: module.func_refs.into(),
        name: module_name,
    };
    Ok(m.finish(module_entry))
}
