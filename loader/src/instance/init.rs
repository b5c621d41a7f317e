//! Creating an instance's own memories and tables (within the store's limits), and initializing
//! it: globals, table initializers, active element and data segments, and the start function, in
//! the order the specification gives.

use super::link::Linked;
use super::{FuncRefs, Instance, InstanceConstEnv, InstanceData};
use crate::artifact::DataFile;
use crate::constexpr::eval;
use crate::error::{Error, Result};
use crate::memory::MemoryData;
use crate::store::{StoreOpaque, VMStore};
use crate::table::TableData;
use crate::trap::Trap;
use crate::types::{MemoryType, TableType, ValType};
use kiln_format::tables::*;
use kiln_format::vmctx::VMGlobal;
use kiln_format::{ArtifactView, EntityIndex, FormatError, Location, TrapKind, WASM_PAGE_SIZE};

/// The store indices of all of an instance's memories and tables, imported first.
pub(super) struct OwnEntities {
    pub memories: Vec<u32>,
    pub tables: Vec<u32>,
}

/// Creates the instance's own memories and tables at their initial sizes, each asked of the
/// store's limiter first. On any failure nothing is left in the store.
pub(super) fn create_memories_and_tables(
    store: &mut (dyn VMStore + 'static),
    view: &ArtifactView<'_>,
    linked: &Linked,
    type_ids: &[u32],
) -> Result<OwnEntities> {
    let own_memories = &view.memories()[linked.memories.len().min(view.memories().len())..];
    let own_tables = &view.tables()[linked.tables.len().min(view.tables().len())..];
    let opaque = store.opaque();
    opaque.check_memory_count(own_memories.len())?;
    opaque.check_table_count(own_tables.len())?;
    let (memories_before, tables_before) = (opaque.memories.len(), opaque.tables.len());
    let created = create(store, linked, own_memories, own_tables, type_ids);
    if created.is_err() {
        let opaque = store.opaque_mut();
        opaque.own_memories -= opaque.memories.len() - memories_before;
        opaque.own_tables -= opaque.tables.len() - tables_before;
        opaque.memories.truncate(memories_before);
        opaque.tables.truncate(tables_before);
    }
    created
}

fn create(
    store: &mut (dyn VMStore + 'static),
    linked: &Linked,
    own_memories: &[MemoryEntry],
    own_tables: &[TableEntry],
    type_ids: &[u32],
) -> Result<OwnEntities> {
    let mut memories = linked.memories.clone();
    for m in own_memories {
        let max = (m.flags & LIMITS_HAS_MAX != 0).then(|| m.max_pages.get());
        let ty = MemoryType::from_limits(m.min_pages.get(), max, m.flags & LIMITS_64 != 0);
        let bytes = |pages: u64| {
            usize::try_from(pages.saturating_mul(WASM_PAGE_SIZE)).unwrap_or(usize::MAX)
        };
        let allowed = store
            .memory_growing(0, bytes(ty.minimum()), max.map(bytes))
            .map_err(|e| Error::Resource(format!("memory of {} pages: {e}", ty.minimum())))?;
        if !allowed {
            return Err(Error::Resource(format!(
                "memory minimum size of {} pages exceeds the store's memory limits",
                ty.minimum()
            )));
        }
        // The strategy was checked against the memory's type (`link::check_memories`).
        let reservation = store.opaque().engine.memory_reservation();
        let mem = MemoryData::new(ty, m.bounds_check, reservation)
            .map_err(|e| Error::Resource(e.to_string()))?;
        memories.push(store.opaque_mut().push_memory(mem));
    }
    let mut tables = linked.tables.clone();
    for (k, t) in own_tables.iter().enumerate() {
        let element = ValType::from_word(t.elem_type.get(), type_ids).ok_or_else(|| {
            FormatError::corrupt(
                Location::entry(TableId::Tables, linked.tables.len() + k, "elem_type"),
                format_args!("unknown element type 0x{:08x}", t.elem_type.get()),
            )
        })?;
        let max = (t.flags & LIMITS_HAS_MAX != 0).then(|| t.max.get());
        let ty = TableType::from_limits(element, t.min.get(), max, t.flags & LIMITS_64 != 0);
        let elems = |n: u64| usize::try_from(n).unwrap_or(usize::MAX);
        let allowed = store
            .table_growing(0, elems(ty.minimum()), max.map(elems))
            .map_err(|e| Error::Resource(format!("table of {} elements: {e}", ty.minimum())))?;
        if !allowed {
            return Err(Error::Resource(format!(
                "table minimum size of {} elements exceeds the store's table limits",
                ty.minimum()
            )));
        }
        let table = TableData::new(ty, 0).map_err(Error::Resource)?;
        tables.push(store.opaque_mut().push_table(table));
    }
    Ok(OwnEntities { memories, tables })
}

/// A segment's offset (an evaluated constant expression) as an index into a table or memory of
/// 32-bit (an i32, unsigned) or 64-bit (an i64) indices.
fn segment_offset(value: u128, is_64: bool) -> u64 {
    if is_64 {
        value as u64
    } else {
        u64::from(value as u32)
    }
}

fn trap(kind: TrapKind) -> Error {
    Error::Trap(Trap::new(kind))
}

/// The raw value of item `i` of element segment `segment`.
pub(crate) fn elem_item(
    store: &StoreOpaque,
    inst: &InstanceData,
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
        let env = InstanceConstEnv { store, inst };
        Ok(eval(view.expr(item)?, &env)? as u64)
    }
}

/// Globals, table initializers, active segments, start function.
pub(super) fn initialize(store: &mut (dyn VMStore + 'static), instance: Instance) -> Result<()> {
    let opaque = store.opaque_mut();
    let artifact = opaque.instances[instance.index as usize].artifact.clone();
    let view = artifact.checked_view();
    initialize_globals_and_tables(opaque, instance, &view)?;
    initialize_memories(opaque, instance, &view)?;
    let start = view.module().start_func.get();
    if start != NULL_FUNC {
        if start >= view.num_funcs() {
            return Err(FormatError::corrupt(
                Location::Module("start_func"),
                format_args!("no function {start}"),
            )
            .into());
        }
        let entry = opaque.instances[instance.index as usize].entry(start)?;
        let mut slot = [0u128; 1];
        // SAFETY: the start function has type `[] -> []`, for which one slot is enough; the entry
        // is of this store's instance.
        unsafe { crate::call::invoke(store, &entry, &mut slot) }?;
    }
    Ok(())
}

fn initialize_globals_and_tables(
    store: &mut StoreOpaque,
    instance: Instance,
    view: &ArtifactView<'_>,
) -> Result<()> {
    let inst = &store.instances[instance.index as usize];
    let env = InstanceConstEnv { store, inst };
    let imported_globals = view.module().imported_globals.get() as usize;
    for (i, g) in view.globals().iter().enumerate().skip(imported_globals) {
        let value = eval(view.expr(g.init)?, &env)?;
        let Some(EntityIndex::Defined(d)) = u32::try_from(i).ok().map(|i| view.global_index(i))
        else {
            continue;
        };
        let field = inst.layout.global_def(d);
        // SAFETY: a defined global's slot of this VMContext's layout; no reference to it is live.
        unsafe { inst.vmctx().write(field, VMGlobal { raw: value }) };
    }
    // Table initializers and element segments: values first (they read the instance), then
    // written into the store's tables.
    let imported_tables = view.module().imported_tables.get() as usize;
    let mut fills = Vec::new();
    for (i, t) in view.tables().iter().enumerate().skip(imported_tables) {
        if t.init.len.get() > 0 {
            let value = eval(view.expr(t.init)?, &env)? as u64;
            fills.push((inst.tables[i], value));
        }
    }
    for (table, value) in fills {
        store.tables[table as usize].elems_mut().fill(value);
    }
    // Element segments, in order: one that does not fit traps after the earlier ones were
    // written. Values go straight into the table: the instance (read) and the tables (written)
    // are separate parts of the store.
    let inst = &store.instances[instance.index as usize];
    let refs = inst.func_refs()?;
    let mut dropped = Vec::new();
    let mut outcome = Ok(());
    for (i, e) in view.elements().iter().enumerate() {
        match e.mode {
            segment_mode::ACTIVE => {
                let table = *inst.tables.get(e.table.get() as usize).ok_or_else(|| {
                    FormatError::corrupt(
                        Location::entry(TableId::Elements, i, "table"),
                        "no such table",
                    )
                })?;
                let env = InstanceConstEnv { store, inst };
                let is_64 = store.tables[table as usize].ty().is_64();
                let offset = segment_offset(eval(view.expr(e.offset)?, &env)?, is_64);
                let n = e.items_count.get() as u64;
                // Expression items are evaluated before the table is borrowed for writing.
                let exprs = if e.items_kind == ELEM_ITEMS_FUNCS {
                    None
                } else {
                    let values = (0..n as usize)
                        .map(|k| elem_item(store, inst, &refs, view, i, k))
                        .collect::<Result<Vec<u64>, _>>()?;
                    Some(values)
                };
                let elems = store.tables[table as usize].elems_mut();
                if offset
                    .checked_add(n)
                    .is_none_or(|end| end > elems.len() as u64)
                {
                    outcome = Err(trap(TrapKind::TableOutOfBounds));
                    break;
                }
                let dst = &mut elems[offset as usize..(offset + n) as usize];
                match exprs {
                    None => {
                        let items = refs.elem_items(e.items_start.get() as usize, dst.len())?;
                        for (slot, value) in dst.iter_mut().zip(items) {
                            *slot = value;
                        }
                    }
                    Some(values) => dst.copy_from_slice(&values),
                }
                dropped.push(i);
            }
            segment_mode::DECLARED => dropped.push(i),
            _ => {}
        }
    }
    let inst = &mut store.instances[instance.index as usize];
    for i in dropped {
        inst.dropped_elems[i] = true;
    }
    outcome
}

fn initialize_memories(
    store: &mut StoreOpaque,
    instance: Instance,
    view: &ArtifactView<'_>,
) -> Result<()> {
    let inst = &store.instances[instance.index as usize];
    let artifact = inst.artifact.clone();
    let imported_memories = inst.layout.counts.imported_memories;
    let memories = inst.memories.clone();
    let mut images = DataImages::new(view);
    // A memory with a merged image gets it with one mapping; its active segments are already in
    // it (the compiler made the image only when they all fit the initial size).
    let mut imaged = Vec::new();
    for (k, img) in view.memory_images().iter().enumerate() {
        let memory = img.memory.get();
        let at = |field| Location::entry(TableId::MemoryImages, k, field);
        let mem = memories
            .get(memory as usize)
            .filter(|_| memory >= imported_memories)
            .ok_or_else(|| FormatError::corrupt(at("memory"), "not a defined memory"))?;
        let bytes = view.image_bytes(k)?;
        let dst = img.memory_offset.get();
        let mem = &mut store.memories[*mem as usize];
        if dst
            .checked_add(bytes.len() as u64)
            .is_none_or(|end| end > mem.byte_len())
        {
            return Err(FormatError::corrupt(at("len"), "image larger than its memory").into());
        }
        let len = bytes.len() as u64;
        let mapped = images.try_map(
            &artifact,
            mem,
            true,
            memory,
            img.image_offset.get(),
            dst,
            len,
        );
        let rest = &bytes[mapped as usize..];
        let at = (dst + mapped) as usize;
        mem.data_mut()[at..at + rest.len()].copy_from_slice(rest);
        images.written(memory, dst, bytes.len() as u64);
        imaged.push(memory);
    }
    let mut dropped = Vec::new();
    for (i, d) in view.data().iter().enumerate() {
        if d.mode != segment_mode::ACTIVE {
            continue;
        }
        if imaged.contains(&d.memory.get()) {
            dropped.push(i);
            continue;
        }
        let mem_index = *memories.get(d.memory.get() as usize).ok_or_else(|| {
            FormatError::corrupt(
                Location::entry(TableId::Data, i, "memory"),
                "no such memory",
            )
        })?;
        let inst = &store.instances[instance.index as usize];
        let env = InstanceConstEnv { store, inst };
        let is_64 = store.memories[mem_index as usize].ty().is_64();
        let offset = segment_offset(eval(view.expr(d.offset)?, &env)?, is_64);
        let bytes = view.data_bytes(i)?;
        let mem = &mut store.memories[mem_index as usize];
        if offset
            .checked_add(bytes.len() as u64)
            .is_none_or(|end| end > mem.byte_len())
        {
            let inst = &mut store.instances[instance.index as usize];
            for &k in &dropped {
                inst.dropped_data[k] = true;
            }
            return Err(trap(TrapKind::MemoryOutOfBounds));
        }
        let own = d.memory.get() >= imported_memories;
        let mapped = images.try_map(
            &artifact,
            mem,
            own,
            d.memory.get(),
            d.image_offset.get(),
            offset,
            bytes.len() as u64,
        );
        let rest = &bytes[mapped as usize..];
        let at = (offset + mapped) as usize;
        mem.data_mut()[at..at + rest.len()].copy_from_slice(rest);
        images.written(d.memory.get(), offset, bytes.len() as u64);
        dropped.push(i);
    }
    let inst = &mut store.instances[instance.index as usize];
    for k in dropped {
        inst.dropped_data[k] = true;
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
    page: u64,
    data_region: u64,
    /// The artifact's file, opened at the first image mapped (`None` inside: it cannot be).
    file: Option<Option<DataFile<'a>>>,
    /// `(memory, start, end)` written so far.
    written: Vec<(u32, u64, u64)>,
}

impl<'a> DataImages<'a> {
    fn new(view: &ArtifactView<'_>) -> Self {
        // SAFETY: sysconf has no preconditions.
        let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) }.max(4096) as u64;
        DataImages {
            page,
            data_region: view.data_range().start as u64,
            file: None,
            written: Vec::new(),
        }
    }

    /// Maps what it can of a segment into `mem` (memory `memory` of the instance, its own if
    /// `own`); returns how many leading bytes were mapped.
    #[allow(
        clippy::too_many_arguments,
        reason = "one segment's placement, all of it needed"
    )]
    fn try_map(
        &mut self,
        artifact: &'a crate::Artifact,
        mem: &mut MemoryData,
        own: bool,
        memory: u32,
        image_offset: u64,
        dst: u64,
        len: u64,
    ) -> u64 {
        let whole = len / self.page * self.page;
        let file_offset = self.data_region + image_offset;
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
        let file = self.file.get_or_insert_with(|| artifact.data_file());
        let Some(file) = file else {
            return 0;
        };
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
