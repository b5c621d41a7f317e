//! The metadata region: the module's types, imports, functions, tables, memories, globals,
//! exports, segments, trap table and address map, as the format's tables (SPEC.md §3).

use super::data::DataLayout;
use super::text::TextLayout;
use crate::codegen::CompiledModule;
use crate::error::unsupported;
use crate::error::CompileError;
use crate::options::CompileOptions;
use crate::parse::{ElemItems, ModuleInfo};
use kiln_format::tables::*;
use kiln_format::valtype::{Heap, StoredType};
use kiln_format::EntityIndex;
use wasmparser::{
    CompositeInnerType, ExternalKind, FieldType, HeapType, RefType, StorageType, TypeRef, ValType,
};

/// The [`kiln_format::valtype`] word of a value type.
fn val_type_word(t: ValType) -> Result<u32, CompileError> {
    use kiln_format::valtype::code;
    storage_word(match t {
        ValType::I32 => StoredType::Num(code::I32),
        ValType::I64 => StoredType::Num(code::I64),
        ValType::F32 => StoredType::Num(code::F32),
        ValType::F64 => StoredType::Num(code::F64),
        ValType::V128 => StoredType::Num(code::V128),
        ValType::Ref(r) => ref_stored_type(r)?,
    })
}

/// The word of a reference type.
fn ref_type_word(r: RefType) -> Result<u32, CompileError> {
    storage_word(ref_stored_type(r)?)
}

fn ref_stored_type(r: RefType) -> Result<StoredType, CompileError> {
    use kiln_format::valtype::heap;
    use wasmparser::AbstractHeapType as A;
    let heap = match r.heap_type() {
        HeapType::Concrete(i) => Heap::Concrete(
            i.as_module_index()
                .ok_or_else(|| CompileError::Emit(format!("type {r} outside the module")))?,
        ),
        HeapType::Abstract { shared: false, ty } => Heap::Abstract(match ty {
            A::Func => heap::FUNC,
            A::Extern => heap::EXTERN,
            A::Any => heap::ANY,
            A::Eq => heap::EQ,
            A::I31 => heap::I31,
            A::Struct => heap::STRUCT,
            A::Array => heap::ARRAY,
            A::Exn => heap::EXN,
            A::None => heap::NONE,
            A::NoExtern => heap::NOEXTERN,
            A::NoFunc => heap::NOFUNC,
            A::NoExn => heap::NOEXN,
            other => return Err(unsupported(format!("heap type {other:?}"))),
        }),
        other => return Err(unsupported(format!("heap type {other:?}"))),
    };
    Ok(StoredType::Ref {
        nullable: r.is_nullable(),
        heap,
    })
}

fn storage_word(t: StoredType) -> Result<u32, CompileError> {
    t.encode()
        .ok_or_else(|| unsupported("a type index beyond the format's 22 bits"))
}

/// The words of a type: parameters and results of a function, or the fields of a struct or an
/// array, each with its mutability.
fn type_words(ty: &CompositeInnerType) -> Result<(u8, Vec<u32>, u32, u32), CompileError> {
    use kiln_format::valtype::{code, MUTABLE};
    let field = |f: &FieldType| -> Result<u32, CompileError> {
        let word = match f.element_type {
            StorageType::I8 => storage_word(StoredType::Packed(code::I8))?,
            StorageType::I16 => storage_word(StoredType::Packed(code::I16))?,
            StorageType::Val(v) => val_type_word(v)?,
        };
        Ok(if f.mutable { word | MUTABLE } else { word })
    };
    Ok(match ty {
        CompositeInnerType::Func(f) => {
            let words = f
                .params()
                .iter()
                .chain(f.results())
                .map(|t| val_type_word(*t))
                .collect::<Result<Vec<_>, _>>()?;
            (
                type_kind::FUNC,
                words,
                f.params().len() as u32,
                f.results().len() as u32,
            )
        }
        CompositeInnerType::Struct(s) => {
            let words = s.fields.iter().map(field).collect::<Result<Vec<_>, _>>()?;
            let n = words.len() as u32;
            (type_kind::STRUCT, words, n, 0)
        }
        CompositeInnerType::Array(a) => (type_kind::ARRAY, vec![field(&a.0)?], 1, 0),
        other => return Err(unsupported(format!("type {other:?}"))),
    })
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
    let (mut traps, mut address_map) = (Vec::new(), Vec::new());
    for (i, ty) in module.types.iter().enumerate() {
        if ty.sub.composite_type.shared || ty.sub.composite_type.descriptor_idx.is_some() {
            return Err(unsupported("shared types or type descriptors"));
        }
        let (kind, words, params, results) = type_words(&ty.sub.composite_type.inner)?;
        let code_of = |list: &[(u32, u32)]| {
            list.iter()
                .find(|(t, _)| *t as usize == i)
                .map_or(NO_CODE, |(_, off)| *off)
        };
        let valtypes = m.add_valtypes(&words);
        let supertype = ty
            .sub
            .supertype_idxs
            .first()
            .map(|s| {
                s.as_module_index()
                    .ok_or_else(|| CompileError::Emit("supertype outside the module".into()))
            })
            .transpose()?
            .unwrap_or(NO_TYPE);
        m.types.push(TypeEntry {
            kind,
            flags: if ty.sub.is_final { TYPE_FINAL } else { 0 },
            reserved: [0; 2],
            rec_group: ty.rec_group.into(),
            rec_group_len: ty.rec_group_len.into(),
            supertype: supertype.into(),
            valtypes: valtypes.into(),
            params: params.into(),
            results: results.into(),
            entry_trampoline: code_of(&layout.entry_trampolines).into(),
            host_adapter: code_of(&layout.host_adapters).into(),
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
            // Demangled here, once, so that no reader of the artifact needs a demangler.
            Some(n) if !options.strip => m.string(crate::demangle::demangle(n).as_bytes()),
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
        traps.extend(code.traps.iter().map(|&(at, kind)| (offset + at, kind)));
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
            let map = code
                .address_map
                .iter()
                .map(|&(at, wasm)| (offset + at, wasm));
            address_map.extend(map);
        }
    }
    for (c, &offset) in compiled.host_adapters.iter().zip(&layout.host_adapters) {
        traps.extend(c.1.traps.iter().map(|&(at, kind)| (offset.1 + at, kind)));
    }
    m.set_traps(traps);
    m.set_address_map(address_map);
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
            elem_type: ref_type_word(t.ty.element_type)?.into(),
            flags: limits_flags(imported, t.ty.maximum.is_some(), t.ty.shared, t.ty.table64),
            reserved: [0; 3],
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
        if mem.page_size_log2.is_some() {
            return Err(CompileError::Unsupported("custom-page-size memory".into()));
        }
        // As `translate::ops_memory` compiles the memory's accesses.
        let bounds_check = options.bounds_check(mem);
        m.memories.push(MemoryEntry {
            flags: limits_flags(imported, mem.maximum.is_some(), mem.shared, mem.memory64),
            bounds_check,
            reserved: [0; 2],
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
            val_type: val_type_word(g.ty.content_type)?.into(),
            mutable: g.ty.mutable as u8,
            imported: imported as u8,
            reserved: [0; 2],
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
            items_kind,
            reserved: [0; 2],
            elem_type: ref_type_word(e.ty)?.into(),
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
