//! Creating an instance's own memories and tables, and initializing it: globals, active element
//! and data segments, and the start function, in the order the specification gives.

use super::{FuncRefs, InstanceInner, InstantiateError};
use crate::constexpr::eval;
use crate::func::{Func, FuncKind};
use crate::memory::Memory;
use crate::store::Store;
use crate::table::Table;
use crate::trap::Trap;
use crate::values::ValType;
use kiln_format::tables::*;
use kiln_format::vmctx::VMGlobal;
use kiln_format::{ArtifactView, EntityIndex, FormatError, Location, TrapKind};
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;

/// Imported memories followed by new ones for the defined memories.
pub(super) fn create_memories(
    store: &mut Store,
    view: &ArtifactView<'_>,
    mut memories: Vec<Memory>,
) -> Result<Vec<Memory>, InstantiateError> {
    for m in &view.memories()[memories.len()..] {
        let max = (m.flags & LIMITS_HAS_MAX != 0).then(|| m.max_pages.get());
        let mem = Memory::reserve(store.id(), m.min_pages.get(), max)
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
        let ty = ValType::from_code(t.elem_type).ok_or_else(|| {
            FormatError::corrupt(
                Location::entry(TableId::Tables, tables.len(), "elem_type"),
                format_args!("unknown element type 0x{:02x}", t.elem_type),
            )
        })?;
        let max = (t.flags & LIMITS_HAS_MAX != 0).then(|| t.max.get());
        let table = Table::create(store.id(), ty, t.min.get(), max, 0).ok_or_else(|| {
            InstantiateError::Resource(format!("table of {} elements is too large", t.min))
        })?;
        tables.push(table);
    }
    Ok(tables)
}

fn trap(kind: TrapKind) -> InstantiateError {
    InstantiateError::Trap(Trap::new(kind))
}

/// The raw value of item `i` of element segment `segment`.
pub(crate) fn elem_item(
    inst: &InstanceInner,
    refs: &FuncRefs<'_>,
    view: &ArtifactView<'_>,
    segment: usize,
    i: usize,
) -> Result<u64, FormatError> {
    let e = view.element(segment)?;
    let out_of_range = || {
        FormatError::corrupt(
            Location::entry(TableId::Elements, segment, "items_count"),
            format_args!("no item {i}"),
        )
    };
    if e.items_kind == ELEM_ITEMS_FUNCS {
        if i >= e.items_count.get() as usize {
            return Err(out_of_range());
        }
        let mut item = refs.elem_items(e.items_start.get() as usize + i, 1)?;
        item.next().ok_or_else(out_of_range)
    } else {
        let item = *view
            .segment_exprs(segment)?
            .get(i)
            .ok_or_else(out_of_range)?;
        Ok(eval(view.expr(item)?, inst)? as u64)
    }
}

/// Globals, table initializers, active segments, start function.
pub(super) fn initialize(
    store: &mut Store,
    inst: &Arc<InstanceInner>,
) -> Result<(), InstantiateError> {
    let view = inst.artifact.checked_view();
    let imported_globals = view.module().imported_globals.get() as usize;
    for (i, g) in view.globals().iter().enumerate().skip(imported_globals) {
        let value = eval(view.expr(g.init)?, &**inst)?;
        let Some(EntityIndex::Defined(d)) = u32::try_from(i).ok().map(|i| view.global_index(i))
        else {
            continue;
        };
        let field = inst.layout.global_def(d);
        // SAFETY: a defined global's slot of this VMContext's layout; no reference to it is live.
        unsafe { inst.vmctx().write(field, VMGlobal { raw: value }) };
    }
    let imported_tables = view.module().imported_tables.get() as usize;
    for (i, t) in view.tables().iter().enumerate().skip(imported_tables) {
        if t.init.len.get() > 0 {
            let value = eval(view.expr(t.init)?, &**inst)? as u64;
            inst.tables[i].elems().fill(value);
        }
    }
    let refs = inst.func_refs()?;
    for (i, e) in view.elements().iter().enumerate() {
        match e.mode {
            segment_mode::ACTIVE => {
                let table = inst.tables.get(e.table.get() as usize).ok_or_else(|| {
                    FormatError::corrupt(
                        Location::entry(TableId::Elements, i, "table"),
                        "no such table",
                    )
                })?;
                let offset = eval(view.expr(e.offset)?, &**inst)? as u32 as u64;
                let n = e.items_count.get() as u64;
                if offset + n > table.size() {
                    return Err(trap(TrapKind::TableOutOfBounds));
                }
                let dst = &mut table.elems()[offset as usize..(offset + n) as usize];
                if e.items_kind == ELEM_ITEMS_FUNCS {
                    let items = refs.elem_items(e.items_start.get() as usize, dst.len())?;
                    for (slot, value) in dst.iter_mut().zip(items) {
                        *slot = value;
                    }
                } else {
                    for (k, slot) in dst.iter_mut().enumerate() {
                        *slot = elem_item(inst, &refs, &view, i, k)?;
                    }
                }
                inst.dropped_elems[i].store(true, Relaxed);
            }
            segment_mode::DECLARED => inst.dropped_elems[i].store(true, Relaxed),
            _ => {}
        }
    }
    let mut images = DataImages::new(inst, &view);
    // A memory with a merged image gets it with one mapping; its active segments are already in
    // it (the compiler made the image only when they all fit the initial size).
    let mut imaged = Vec::new();
    for (k, img) in view.memory_images().iter().enumerate() {
        let memory = img.memory.get();
        let at = |field| Location::entry(TableId::MemoryImages, k, field);
        let mem = inst
            .memories
            .get(memory as usize)
            .filter(|_| memory >= inst.layout.counts.imported_memories)
            .ok_or_else(|| FormatError::corrupt(at("memory"), "not a defined memory"))?;
        let bytes = view.image_bytes(k)?;
        let dst = img.memory_offset.get();
        if dst
            .checked_add(bytes.len() as u64)
            .is_none_or(|end| end > mem.data_size())
        {
            return Err(FormatError::corrupt(at("len"), "image larger than its memory").into());
        }
        let mapped = images.try_map(memory, img.image_offset.get(), dst, bytes.len() as u64);
        let rest = &bytes[mapped as usize..];
        let at = (dst + mapped) as usize;
        mem.data_mut()[at..at + rest.len()].copy_from_slice(rest);
        images.written(memory, dst, bytes.len() as u64);
        imaged.push(memory);
    }
    for (i, d) in view.data().iter().enumerate() {
        if d.mode != segment_mode::ACTIVE {
            continue;
        }
        if imaged.contains(&d.memory.get()) {
            inst.dropped_data[i].store(true, Relaxed);
            continue;
        }
        let mem = inst.memories.get(d.memory.get() as usize).ok_or_else(|| {
            FormatError::corrupt(
                Location::entry(TableId::Data, i, "memory"),
                "no such memory",
            )
        })?;
        let offset = eval(view.expr(d.offset)?, &**inst)? as u32 as u64;
        let bytes = view.data_bytes(i)?;
        if offset + bytes.len() as u64 > mem.data_size() {
            return Err(trap(TrapKind::MemoryOutOfBounds));
        }
        let mapped = images.try_map(
            d.memory.get(),
            d.image_offset.get(),
            offset,
            bytes.len() as u64,
        );
        let rest = &bytes[mapped as usize..];
        let at = (offset + mapped) as usize;
        mem.data_mut()[at..at + rest.len()].copy_from_slice(rest);
        images.written(d.memory.get(), offset, bytes.len() as u64);
        inst.dropped_data[i].store(true, Relaxed);
    }
    let start = view.module().start_func.get();
    if start != NULL_FUNC {
        if start >= view.num_funcs() {
            return Err(FormatError::corrupt(
                Location::Module("start_func"),
                format_args!("no function {start}"),
            )
            .into());
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

/// Copy-on-write initialization of linear memory from the artifact's data images.
///
/// A segment is mapped from the file rather than copied when its whole pages can be: the target
/// memory is this instance's own (fresh, all zero), the destination and the image are page-aligned,
/// and no earlier segment wrote into those pages (mapping replaces whole pages). The tail that is
/// not a whole page is copied.
struct DataImages<'a> {
    inst: &'a InstanceInner,
    page: u64,
    data_region: u64,
    /// `(memory, start, end)` written so far.
    written: Vec<(u32, u64, u64)>,
}

impl<'a> DataImages<'a> {
    fn new(inst: &'a InstanceInner, view: &ArtifactView<'_>) -> Self {
        // SAFETY: sysconf has no preconditions.
        let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) }.max(4096) as u64;
        DataImages {
            inst,
            page,
            data_region: view.data_range().start as u64,
            written: Vec::new(),
        }
    }

    /// Maps what it can of a segment; returns how many leading bytes were mapped.
    fn try_map(&mut self, memory: u32, image_offset: u64, dst: u64, len: u64) -> u64 {
        let whole = len / self.page * self.page;
        let file_offset = self.data_region + image_offset;
        let own = memory >= self.inst.layout.counts.imported_memories;
        if whole == 0
            || !own
            || !dst.is_multiple_of(self.page)
            || !file_offset.is_multiple_of(self.page)
        {
            return 0;
        }
        let end = dst + whole;
        if self
            .written
            .iter()
            .any(|&(m, s, e)| m == memory && s < end && dst < e)
        {
            return 0;
        }
        let Some(file) = self.inst.artifact.reopened() else {
            return 0;
        };
        let mem = &self.inst.memories[memory as usize];
        if mem.map_image(dst, file, file_offset, whole) {
            whole
        } else {
            0
        }
    }

    fn written(&mut self, memory: u32, start: u64, len: u64) {
        self.written.push((memory, start, start + len));
    }
}
