//! Import resolution: each import checked against the type the module expects, and turned into
//! what the instance's VMContext holds for it.

use crate::artifact::Artifact;
use crate::error::{Error, Result};
use crate::extern_::Extern;
use crate::func::{ErasedHostFunc, FuncKind};
use crate::global::Global;
use crate::store::StoreOpaque;
use crate::types::ValType;
use kiln_format::tables::{bounds_check, extern_kind, TableId, LIMITS_64, LIMITS_HAS_MAX, NO_CODE};
use kiln_format::valtype::StoredType;
use kiln_format::vmctx::{VMContext, VMFuncRef, VmctxCounts};
use kiln_format::{ArtifactView, FormatError, Location};
use std::sync::Arc;

/// What one import is satisfied with.
#[derive(Clone, Copy)]
pub(crate) enum Import<'a> {
    /// An extern of the store.
    Extern(Extern),
    /// A host function of a linker, not bound to any store.
    Host(&'a Arc<dyn ErasedHostFunc>),
}

/// The imports of an instance, per kind, in index order, as its VMContext holds them.
pub(crate) struct Linked {
    /// The `VMFuncRef` of each imported function.
    pub funcs: Vec<VMFuncRef>,
    /// Store indices of imported tables.
    pub tables: Vec<u32>,
    /// Store indices of imported memories.
    pub memories: Vec<u32>,
    pub globals: Vec<Global>,
    /// Store indices of imported tags.
    pub tags: Vec<u32>,
}

const MAX_FUNCS: u32 = 1_000_000;
const MAX_GLOBALS: u32 = 1_000_000;
const MAX_MEMORIES: u32 = 100;
const MAX_TABLES: u32 = 100_000;

/// The VMContext counts of an artifact, checked for consistency.
pub(super) fn counts(view: &ArtifactView<'_>) -> Result<VmctxCounts, FormatError> {
    let m = view.module();
    // Imports per kind, in one pass: functions, tables, memories, globals.
    let mut by_kind = [0u32; 5];
    for i in view.imports() {
        if let Some(n) = by_kind.get_mut(i.kind as usize) {
            *n += 1;
        }
    }
    let counts = VmctxCounts {
        func_refs: m.func_refs.get(),
        memories: view.memories().len() as u32,
        imported_memories: m.imported_memories.get(),
        tables: view.tables().len() as u32,
        imported_tables: m.imported_tables.get(),
        globals: view.globals().len() as u32,
        imported_globals: m.imported_globals.get(),
    };
    let consistent = by_kind[extern_kind::FUNC as usize] == m.imported_funcs.get()
        && by_kind[extern_kind::MEMORY as usize] == counts.imported_memories
        && by_kind[extern_kind::TABLE as usize] == counts.imported_tables
        && by_kind[extern_kind::GLOBAL as usize] == counts.imported_globals
        && by_kind[extern_kind::TAG as usize] as usize
            == view.tags().iter().filter(|t| t.imported != 0).count()
        && view.tags().iter().enumerate().all(|(i, t)| {
            (t.imported != 0) == (i < by_kind[extern_kind::TAG as usize] as usize)
                && (t.type_index.get() as usize) < view.types().len()
        })
        && view.imports().len() == by_kind.iter().sum::<u32>() as usize
        && m.imported_funcs.get() <= counts.func_refs
        && counts.func_refs <= view.num_funcs()
        && counts.imported_memories <= counts.memories
        && counts.imported_tables <= counts.tables
        && counts.imported_globals <= counts.globals;
    if !consistent {
        return Err(FormatError::corrupt(
            Location::Table(TableId::Imports),
            "import counts do not match the import table",
        ));
    }
    // WebAssembly's implementation limits (those of wasmparser's validator), which also keep
    // every VMContext offset within `u32`.
    for (what, count, max) in [
        (TableId::Functions, counts.func_refs, MAX_FUNCS),
        (TableId::Globals, counts.globals, MAX_GLOBALS),
        (TableId::Memories, counts.memories, MAX_MEMORIES),
        (TableId::Tables, counts.tables, MAX_TABLES),
    ] {
        if count > max {
            return Err(FormatError::corrupt(
                Location::Table(what),
                format_args!("{count} entries, more than WebAssembly's limit of {max}"),
            ));
        }
    }
    // Every memory's bounds-check strategy must be one this loader can set up for its address
    // type: guard pages cannot cover a 64-bit index.
    for (i, m) in view.memories().iter().enumerate() {
        let is_64 = m.flags & LIMITS_64 != 0;
        let problem = match m.bounds_check {
            bounds_check::GUARD_PAGES if is_64 => Some("guard pages for a 64-bit memory"),
            bounds_check::GUARD_PAGES | bounds_check::EXPLICIT => None,
            _ => Some("unknown strategy"),
        };
        if let Some(problem) = problem {
            return Err(FormatError::corrupt(
                Location::entry(TableId::Memories, i, "bounds_check"),
                problem,
            ));
        }
    }
    // Every global's type is checked once here, before anything is created, so that later
    // accessors (`Global::ty`, `Global::get`) cannot meet a type they do not know.
    let known = |word: u32| {
        StoredType::decode(word).is_some_and(|t| {
            !matches!(t, StoredType::Packed(_))
                && t.type_index()
                    .is_none_or(|i| (i as usize) < view.types().len())
        })
    };
    for (i, g) in view.globals().iter().enumerate() {
        if !known(g.val_type.get()) {
            return Err(FormatError::corrupt(
                Location::entry(TableId::Globals, i, "val_type"),
                format_args!("unknown value type 0x{:08x}", g.val_type.get()),
            ));
        }
    }
    for (i, t) in view.tables().iter().enumerate() {
        if !known(t.elem_type.get())
            || !matches!(
                StoredType::decode(t.elem_type.get()),
                Some(StoredType::Ref { .. })
            )
        {
            return Err(FormatError::corrupt(
                Location::entry(TableId::Tables, i, "elem_type"),
                format_args!("unknown element type 0x{:08x}", t.elem_type.get()),
            ));
        }
    }
    Ok(counts)
}

fn no_entry(table: TableId, index: usize) -> FormatError {
    FormatError::corrupt(Location::entry(table, index, ""), "imported entity missing")
}

fn incompatible(view: &ArtifactView<'_>, imp: usize, why: impl std::fmt::Display) -> Error {
    let (module, name) = import_name(view, imp);
    Error::Link(format!(
        "incompatible import type for {module}.{name}: {why}"
    ))
}

/// The module and field name of import `imp`, for messages.
pub(crate) fn import_name(view: &ArtifactView<'_>, imp: usize) -> (String, String) {
    match view.imports().get(imp) {
        Some(i) => (
            view.str_lossy(i.module).escape_debug().to_string(),
            view.str_lossy(i.name).escape_debug().to_string(),
        ),
        None => ("?".into(), "?".into()),
    }
}

/// Limits subtyping: an import of size `cur` with maximum `max` satisfies `min`/`want_max`.
fn limits_match(cur: u64, max: Option<u64>, min: u64, want_max: Option<u64>) -> bool {
    cur >= min
        && match want_max {
            None => true,
            Some(w) => max.is_some_and(|m| m <= w),
        }
}

/// The function type with canonical id `id`, for messages.
fn type_name(id: u32) -> String {
    crate::type_registry::func_type(id).map_or_else(|| format!("type {id}"), |t| t.to_string())
}

/// Checks every import of `artifact` (given in import order) and resolves it for the VMContext.
pub(crate) fn resolve(
    store: &mut StoreOpaque,
    artifact: &Artifact,
    view: &ArtifactView<'_>,
    type_ids: &[u32],
    imports: &[Import<'_>],
) -> Result<Linked> {
    if imports.len() != view.imports().len() {
        return Err(Error::Link(format!(
            "the module has {} imports, but {} were given",
            view.imports().len(),
            imports.len()
        )));
    }
    let mut linked = Linked {
        funcs: Vec::new(),
        tables: Vec::new(),
        memories: Vec::new(),
        globals: Vec::new(),
        tags: Vec::new(),
    };
    let code = artifact.code();
    for (k, (imp, given)) in view.imports().iter().zip(imports).enumerate() {
        let index = imp.index.get() as usize;
        if let Import::Extern(e) = given {
            if e.store() != store.id {
                return Err(incompatible(view, k, "it belongs to another store"));
            }
        }
        match (imp.kind, given) {
            (extern_kind::FUNC, Import::Extern(Extern::Func(_)) | Import::Host(_)) => {
                let ti = imp.type_index.get();
                let want = *type_ids
                    .get(ti as usize)
                    .ok_or_else(|| no_entry(TableId::Types, ti as usize))?;
                // A host function is called through this artifact's adapter for the type; its
                // context and type come from the function (borrowed: no reference count touched).
                let host: Option<(u32, *mut VMContext)> = match given {
                    Import::Host(h) => Some((h.canonical_type(), h.vmctx())),
                    Import::Extern(Extern::Func(f)) => match f.kind {
                        FuncKind::Host(i) => {
                            let h = &store.host_funcs[i as usize].func;
                            Some((h.canonical_type(), h.vmctx()))
                        }
                        FuncKind::Ref(_) => None,
                    },
                    Import::Extern(_) => None,
                };
                let func_ref = match (host, given) {
                    (Some((type_id, vmctx)), _) => {
                        let adapter = view.type_entry(ti)?.host_adapter.get();
                        if adapter == NO_CODE || adapter as usize >= code.len() {
                            return Err(FormatError::corrupt(
                                Location::entry(TableId::Types, ti, "host_adapter"),
                                "no host adapter in the text",
                            )
                            .into());
                        }
                        VMFuncRef {
                            code: artifact.code_ptr().wrapping_add(adapter as usize),
                            type_id,
                            pad: 0,
                            vmctx,
                        }
                    }
                    (None, Import::Extern(Extern::Func(f))) => {
                        let ptr = f.vm_func_ref(store)?;
                        // SAFETY: a `VMFuncRef` of this store (checked above), alive with it.
                        let r = unsafe { &*ptr };
                        VMFuncRef {
                            code: r.code,
                            type_id: r.type_id,
                            pad: 0,
                            vmctx: r.vmctx,
                        }
                    }
                    _ => unreachable!("matched a function above"),
                };
                if !crate::type_registry::is_subtype(func_ref.type_id, want) {
                    return Err(incompatible(
                        view,
                        k,
                        format_args!(
                            "expected {}, found {}",
                            type_name(want),
                            type_name(func_ref.type_id)
                        ),
                    ));
                }
                linked.funcs.push(func_ref);
            }
            (extern_kind::TABLE, Import::Extern(Extern::Table(t))) => {
                let entry = view
                    .tables()
                    .get(index)
                    .ok_or_else(|| no_entry(TableId::Tables, index))?;
                let want_max = (entry.flags & LIMITS_HAS_MAX != 0).then(|| entry.max.get());
                let data = &store.tables[t.index as usize];
                let ty = data.ty();
                // Tables are mutable: their element types must be equal, not only match.
                if ValType::from_word(entry.elem_type.get(), type_ids) != Some(ty.element())
                    || (entry.flags & LIMITS_64 != 0) != ty.is_64()
                    || !limits_match(ty.minimum(), ty.maximum(), entry.min.get(), want_max)
                {
                    return Err(incompatible(
                        view,
                        k,
                        format_args!("a table of type {ty} does not fit"),
                    ));
                }
                linked.tables.push(t.index);
            }
            (extern_kind::MEMORY, Import::Extern(Extern::Memory(m))) => {
                let entry = view
                    .memories()
                    .get(index)
                    .ok_or_else(|| no_entry(TableId::Memories, index))?;
                let want_max = (entry.flags & LIMITS_HAS_MAX != 0).then(|| entry.max_pages.get());
                let data = &store.memories[m.index as usize];
                let ty = data.ty();
                let pages = ty.minimum();
                if (entry.flags & LIMITS_64 != 0) != ty.is_64()
                    || !limits_match(pages, ty.maximum(), entry.min_pages.get(), want_max)
                {
                    return Err(incompatible(
                        view,
                        k,
                        format_args!("a memory of type {ty} does not fit"),
                    ));
                }
                // Code that relies on guard pages may use only a memory reserved with them.
                if entry.bounds_check == bounds_check::GUARD_PAGES
                    && data.bounds_check() != bounds_check::GUARD_PAGES
                {
                    return Err(incompatible(
                        view,
                        k,
                        "the module's code relies on guard pages the memory does not have",
                    ));
                }
                linked.memories.push(m.index);
            }
            (extern_kind::GLOBAL, Import::Extern(Extern::Global(g))) => {
                let entry = view
                    .globals()
                    .get(index)
                    .ok_or_else(|| no_entry(TableId::Globals, index))?;
                let (_, ty) = g.location(store)?;
                let want = ValType::from_word(entry.val_type.get(), type_ids);
                // A mutable global is read and written: its type must be equal; an immutable
                // one is only read: any subtype will do.
                let fits = want.is_some_and(|w| {
                    if ty.is_mutable() {
                        w == ty.content()
                    } else {
                        ty.content().matches(w)
                    }
                });
                if !fits || (entry.mutable != 0) != ty.is_mutable() {
                    return Err(incompatible(
                        view,
                        k,
                        format_args!("a global of type {ty} does not fit"),
                    ));
                }
                linked.globals.push(*g);
            }
            (extern_kind::TAG, Import::Extern(Extern::Tag(t))) => {
                let ti = imp.type_index.get();
                let want = *type_ids
                    .get(ti as usize)
                    .ok_or_else(|| no_entry(TableId::Types, ti as usize))?;
                let data = &store.tags[t.index as usize];
                if data.type_id != want {
                    return Err(incompatible(
                        view,
                        k,
                        format_args!("a tag of type {} does not fit", data.ty),
                    ));
                }
                linked.tags.push(t.index);
            }
            (_, Import::Extern(ext)) => {
                return Err(incompatible(
                    view,
                    k,
                    format_args!("a {} was provided", ext.kind_name()),
                ))
            }
            (_, Import::Host(_)) => {
                return Err(incompatible(view, k, "a function was provided"));
            }
        }
    }
    Ok(linked)
}
