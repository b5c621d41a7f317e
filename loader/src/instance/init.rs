//! Creating an instance's own memories and tables, and initializing it: globals, active element
//! and data segments, and the start function, in the order the specification gives.

use super::{InstanceInner, InstantiateError};
use crate::constexpr::eval;
use crate::func::{Func, FuncKind};
use crate::memory::Memory;
use crate::store::Store;
use crate::table::Table;
use crate::trap::Trap;
use crate::values::ValType;
use kiln_format::tables::*;
use kiln_format::{ArtifactView, FormatError, TrapKind};
use std::sync::Arc;

/// Imported memories followed by new ones for the defined memories.
pub(super) fn create_memories(
    store: &mut Store,
    view: &ArtifactView<'_>,
    mut memories: Vec<Memory>,
) -> Result<Vec<Memory>, InstantiateError> {
    for m in &view.memories()[memories.len()..] {
        let max = (m.flags & LIMITS_HAS_MAX != 0).then(|| m.max_pages.get());
        let mem = Memory::new(store.id(), m.min_pages.get(), max)
            .map_err(|e| InstantiateError::Resource(e.to_string()))?;
        memories.push(mem);
    }
    Ok(memories)
}

/// Imported tables followed by new, null-filled ones for the defined tables.
pub(super) fn create_tables(
    store: &mut Store,
    view: &ArtifactView<'_>,
    mut tables: Vec<Table>,
) -> Result<Vec<Table>, InstantiateError> {
    for t in &view.tables()[tables.len()..] {
        let ty = ValType::from_code(t.elem_type)
            .ok_or_else(|| FormatError::Corrupt("table element type".into()))?;
        let max = (t.flags & LIMITS_HAS_MAX != 0).then(|| t.max.get());
        let table = Table::new(store.id(), ty, t.min.get(), max, 0).ok_or_else(|| {
            InstantiateError::Resource(format!("table of {} elements is too large", t.min))
        })?;
        tables.push(table);
    }
    Ok(tables)
}

fn trap(kind: TrapKind) -> InstantiateError {
    InstantiateError::Trap(Trap::new(kind))
}

/// The raw value of element item `i` of segment `e`.
pub(crate) fn elem_item(
    inst: &InstanceInner,
    view: &ArtifactView<'_>,
    e: &ElementEntry,
    i: usize,
) -> Result<u64, FormatError> {
    if e.items_kind == ELEM_ITEMS_FUNCS {
        let f = view.elem_funcs(e)?[i].get();
        if f == NULL_FUNC {
            return Ok(0);
        }
        if f >= inst.layout.counts.funcs {
            return Err(FormatError::Corrupt(format!("element function index {f}")));
        }
        Ok(inst.func_ref(f) as u64)
    } else {
        let expr = view.expr(view.elem_exprs(e)?[i])?;
        Ok(eval(expr, inst)? as u64)
    }
}

/// Globals, table initializers, active segments, start function.
pub(super) fn initialize(
    store: &mut Store,
    inst: &Arc<InstanceInner>,
) -> Result<(), InstantiateError> {
    let view = inst.artifact.view();
    let imported_globals = view.module().imported_globals.get() as usize;
    for (i, g) in view.globals().iter().enumerate().skip(imported_globals) {
        let value = eval(view.expr(g.init)?, &**inst)?;
        let ptr = inst.global_ptr(i as u32).expect("defined global");
        // SAFETY: the global's 16-byte slot in the VMContext.
        unsafe { *ptr = value };
    }
    let imported_tables = view.module().imported_tables.get() as usize;
    for (i, t) in view.tables().iter().enumerate().skip(imported_tables) {
        if t.init.len.get() > 0 {
            let value = eval(view.expr(t.init)?, &**inst)? as u64;
            inst.tables[i].elems().fill(value);
        }
    }
    for (i, e) in view.elements().iter().enumerate() {
        match e.mode {
            segment_mode::ACTIVE => {
                let table = inst
                    .tables
                    .get(e.table.get() as usize)
                    .ok_or_else(|| FormatError::Corrupt("element table index".into()))?;
                let offset = eval(view.expr(e.offset)?, &**inst)? as u32 as u64;
                let n = e.items_count.get() as u64;
                if offset + n > table.size() {
                    return Err(trap(TrapKind::TableOutOfBounds));
                }
                for k in 0..n as usize {
                    let v = elem_item(inst, &view, e, k)?;
                    table.elems()[offset as usize + k] = v;
                }
                inst.dropped_elems[i].set(true);
            }
            segment_mode::DECLARED => inst.dropped_elems[i].set(true),
            _ => {}
        }
    }
    for (i, d) in view.data().iter().enumerate() {
        if d.mode != segment_mode::ACTIVE {
            continue;
        }
        let mem = inst
            .memories
            .get(d.memory.get() as usize)
            .ok_or_else(|| FormatError::Corrupt("data memory index".into()))?;
        let offset = eval(view.expr(d.offset)?, &**inst)? as u32 as u64;
        let bytes = view.data_bytes(d)?;
        if offset + bytes.len() as u64 > mem.data_size() {
            return Err(trap(TrapKind::MemoryOutOfBounds));
        }
        mem.data_mut()[offset as usize..offset as usize + bytes.len()].copy_from_slice(bytes);
        inst.dropped_data[i].set(true);
    }
    let start = view.module().start_func.get();
    if start != NULL_FUNC {
        if start >= inst.layout.counts.funcs {
            return Err(FormatError::Corrupt("start function index".into()).into());
        }
        let f = Func(FuncKind::Wasm {
            instance: inst.clone(),
            index: start,
        });
        f.call(store, &[]).map_err(|e| match e {
            crate::call::CallError::Trap(t) => InstantiateError::Trap(t),
            other => InstantiateError::Link(other.to_string()),
        })?;
    }
    Ok(())
}
