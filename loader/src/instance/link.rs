//! Import resolution: each import found by name and checked against the type the module expects.

use super::InstantiateError;
use crate::func::Func;
use crate::global::Global;
use crate::imports::{Extern, Imports};
use crate::memory::Memory;
use crate::store::Store;
use crate::table::Table;
use crate::values::{FuncType, ValType};
use kiln_format::tables::{extern_kind, TableId, LIMITS_HAS_MAX};
use kiln_format::vmctx::VmctxCounts;
use kiln_format::{ArtifactView, FormatError, Location};

/// The externs an instance imports, per kind, in index order.
pub(super) struct Linked {
    pub funcs: Vec<Func>,
    pub tables: Vec<Table>,
    pub memories: Vec<Memory>,
    pub globals: Vec<Global>,
}

const MAX_FUNCS: u32 = 1_000_000;
const MAX_GLOBALS: u32 = 1_000_000;
const MAX_MEMORIES: u32 = 100;
const MAX_TABLES: u32 = 100_000;

/// The VMContext counts of an artifact, checked for consistency.
pub(super) fn counts(view: &ArtifactView<'_>) -> Result<VmctxCounts, FormatError> {
    let m = view.module();
    // Imports per kind, in one pass: functions, tables, memories, globals.
    let mut by_kind = [0u32; 4];
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
    if counts.func_refs > MAX_FUNCS
        || counts.globals > MAX_GLOBALS
        || counts.memories > MAX_MEMORIES
        || counts.tables > MAX_TABLES
    {
        return Err(FormatError::corrupt(
            Location::Module("func_refs"),
            "more entities than WebAssembly allows",
        ));
    }
    Ok(counts)
}

fn no_entry(table: TableId, index: usize) -> FormatError {
    FormatError::corrupt(Location::entry(table, index, ""), "imported entity missing")
}

fn incompatible(module: &str, name: &str, why: String) -> InstantiateError {
    InstantiateError::Link(format!(
        "incompatible import type for {module}.{name}: {why}"
    ))
}

/// Limits subtyping: an import of size `cur` with maximum `max` satisfies `min`/`want_max`.
fn limits_match(cur: u64, max: Option<u64>, min: u64, want_max: Option<u64>) -> bool {
    cur >= min
        && match want_max {
            None => true,
            Some(w) => max.is_some_and(|m| m <= w),
        }
}

/// Finds and type-checks every import.
pub(super) fn resolve(
    store: &Store,
    view: &ArtifactView<'_>,
    imports: &Imports,
) -> Result<Linked, InstantiateError> {
    let mut linked = Linked {
        funcs: Vec::new(),
        tables: Vec::new(),
        memories: Vec::new(),
        globals: Vec::new(),
    };
    for imp in view.imports() {
        let (module_bytes, name_bytes) = (view.str_bytes(imp.module)?, view.str_bytes(imp.name)?);
        let Some(ext) = imports.get_bytes(module_bytes, name_bytes) else {
            return Err(InstantiateError::Link(format!(
                "unknown import: {}.{}",
                String::from_utf8_lossy(module_bytes),
                String::from_utf8_lossy(name_bytes)
            )));
        };
        // Names for messages, decoded only when one is needed.
        let module = || String::from_utf8_lossy(module_bytes);
        let name = || String::from_utf8_lossy(name_bytes);
        let index = imp.index.get() as usize;
        let owner = match ext {
            Extern::Func(f) => f.store_id(),
            Extern::Table(t) => Some(t.0.store_id),
            Extern::Memory(m) => Some(m.0.store_id),
            Extern::Global(g) => Some(g.store_id),
        };
        let foreign_store = owner.is_some_and(|id| id != store.id());
        if foreign_store {
            return Err(incompatible(
                &module(),
                &name(),
                "it belongs to another store".into(),
            ));
        }
        match (imp.kind, ext) {
            (extern_kind::FUNC, Extern::Func(f)) => {
                let ti = imp.type_index.get();
                let (p, r) = view.signature(ti)?;
                // Compared as value-type codes: no allocation on the instantiation path.
                if !f.signature_is(p, r) {
                    let want = FuncType::from_codes(p, r).ok_or_else(|| {
                        FormatError::corrupt(
                            Location::entry(TableId::Types, ti, "valtypes"),
                            "unknown value type",
                        )
                    })?;
                    return Err(incompatible(
                        &module(),
                        &name(),
                        format!("expected {want}, found {}", f.ty()),
                    ));
                }
                linked.funcs.push(f.clone());
            }
            (extern_kind::TABLE, Extern::Table(t)) => {
                let entry = view
                    .tables()
                    .get(index)
                    .ok_or_else(|| no_entry(TableId::Tables, index))?;
                let want_max = (entry.flags & LIMITS_HAS_MAX != 0).then(|| entry.max.get());
                if ValType::from_code(entry.elem_type) != Some(t.elem_type())
                    || !limits_match(t.size(), t.max(), entry.min.get(), want_max)
                {
                    return Err(incompatible(
                        &module(),
                        &name(),
                        "table type or limits".into(),
                    ));
                }
                linked.tables.push(t.clone());
            }
            (extern_kind::MEMORY, Extern::Memory(m)) => {
                let entry = view
                    .memories()
                    .get(index)
                    .ok_or_else(|| no_entry(TableId::Memories, index))?;
                let want_max = (entry.flags & LIMITS_HAS_MAX != 0).then(|| entry.max_pages.get());
                if !limits_match(
                    m.size_pages(),
                    m.max_pages(),
                    entry.min_pages.get(),
                    want_max,
                ) {
                    return Err(incompatible(&module(), &name(), "memory limits".into()));
                }
                linked.memories.push(m.clone());
            }
            (extern_kind::GLOBAL, Extern::Global(g)) => {
                let entry = view
                    .globals()
                    .get(index)
                    .ok_or_else(|| no_entry(TableId::Globals, index))?;
                if ValType::from_code(entry.val_type) != Some(g.ty())
                    || (entry.mutable != 0) != g.is_mutable()
                {
                    return Err(incompatible(
                        &module(),
                        &name(),
                        "global type or mutability".into(),
                    ));
                }
                linked.globals.push(g.clone());
            }
            (_, ext) => {
                return Err(incompatible(
                    &module(),
                    &name(),
                    format!("a {} was provided", ext.kind_name()),
                ))
            }
        }
    }
    Ok(linked)
}
