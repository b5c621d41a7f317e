//! Builtin functions that generated code calls through the VMContext's builtin table.
//!
//! Each takes the calling instance's VMContext first. Failing ones return non-zero and the caller
//! traps (`Builtin::trap_kind`); none of them unwinds or traps itself.

use crate::instance::InstanceInner;
use kiln_format::vmctx::{Builtin, BUILTIN_COUNT};

/// # Safety
/// `vmctx` must be the VMContext of a live instance (generated code always passes its own).
unsafe fn instance<'a>(vmctx: *mut u8) -> &'a InstanceInner {
    // SAFETY: per the contract.
    unsafe { InstanceInner::from_vmctx(vmctx) }.expect("builtin called without a VMContext")
}

/// Checks `[start, start + len)` against `size`.
fn in_bounds(start: u64, len: u64, size: u64) -> bool {
    start.checked_add(len).is_some_and(|end| end <= size)
}

unsafe extern "C" fn memory_grow(vmctx: *mut u8, mem: u32, delta: u64) -> u64 {
    // SAFETY: called by generated code with its own VMContext.
    let inst = unsafe { instance(vmctx) };
    inst.memories[mem as usize].grow(delta).unwrap_or(u64::MAX)
}

unsafe extern "C" fn memory_fill(vmctx: *mut u8, mem: u32, dst: u64, byte: u32, len: u64) -> u32 {
    // SAFETY: as above.
    let inst = unsafe { instance(vmctx) };
    let m = &inst.memories[mem as usize];
    if !in_bounds(dst, len, m.data_size()) {
        return 1;
    }
    m.data_mut()[dst as usize..(dst + len) as usize].fill(byte as u8);
    0
}

unsafe extern "C" fn memory_copy(
    vmctx: *mut u8,
    dst_mem: u32,
    src_mem: u32,
    dst: u64,
    src: u64,
    len: u64,
) -> u32 {
    // SAFETY: as above.
    let inst = unsafe { instance(vmctx) };
    let (d, s) = (
        &inst.memories[dst_mem as usize],
        &inst.memories[src_mem as usize],
    );
    if !in_bounds(dst, len, d.data_size()) || !in_bounds(src, len, s.data_size()) {
        return 1;
    }
    // SAFETY: both ranges were checked against their memories; `copy` handles overlap.
    unsafe {
        std::ptr::copy(
            s.data().as_ptr().add(src as usize),
            d.data_mut().as_mut_ptr().add(dst as usize),
            len as usize,
        )
    };
    0
}

unsafe extern "C" fn memory_init(
    vmctx: *mut u8,
    mem: u32,
    data: u32,
    dst: u64,
    src: u32,
    len: u32,
) -> u32 {
    // SAFETY: as above.
    let inst = unsafe { instance(vmctx) };
    let view = inst.artifact.checked_view();
    let bytes: &[u8] = if inst.dropped_data[data as usize].get() {
        &[]
    } else {
        match view.data().get(data as usize).map(|d| view.data_bytes(d)) {
            Some(Ok(b)) => b,
            _ => return 1,
        }
    };
    let m = &inst.memories[mem as usize];
    let (src, len) = (src as u64, len as u64);
    if !in_bounds(src, len, bytes.len() as u64) || !in_bounds(dst, len, m.data_size()) {
        return 1;
    }
    m.data_mut()[dst as usize..(dst + len) as usize]
        .copy_from_slice(&bytes[src as usize..(src + len) as usize]);
    0
}

unsafe extern "C" fn data_drop(vmctx: *mut u8, data: u32) {
    // SAFETY: as above.
    let inst = unsafe { instance(vmctx) };
    inst.dropped_data[data as usize].set(true);
}

unsafe extern "C" fn table_grow(vmctx: *mut u8, table: u32, init: u64, delta: u64) -> u64 {
    // SAFETY: as above.
    let inst = unsafe { instance(vmctx) };
    inst.tables[table as usize]
        .grow(delta, init)
        .unwrap_or(u64::MAX)
}

unsafe extern "C" fn table_fill(vmctx: *mut u8, table: u32, dst: u64, value: u64, len: u64) -> u32 {
    // SAFETY: as above.
    let inst = unsafe { instance(vmctx) };
    let t = &inst.tables[table as usize];
    if !in_bounds(dst, len, t.size()) {
        return 1;
    }
    t.elems()[dst as usize..(dst + len) as usize].fill(value);
    0
}

unsafe extern "C" fn table_copy(
    vmctx: *mut u8,
    dst_table: u32,
    src_table: u32,
    dst: u64,
    src: u64,
    len: u64,
) -> u32 {
    // SAFETY: as above.
    let inst = unsafe { instance(vmctx) };
    let (d, s) = (
        &inst.tables[dst_table as usize],
        &inst.tables[src_table as usize],
    );
    if !in_bounds(dst, len, d.size()) || !in_bounds(src, len, s.size()) {
        return 1;
    }
    // SAFETY: ranges checked; the tables may be the same, so copy through raw pointers.
    unsafe {
        std::ptr::copy(
            s.elems().as_ptr().add(src as usize),
            d.elems().as_mut_ptr().add(dst as usize),
            len as usize,
        )
    };
    0
}

unsafe extern "C" fn table_init(
    vmctx: *mut u8,
    table: u32,
    elem: u32,
    dst: u64,
    src: u32,
    len: u32,
) -> u32 {
    // SAFETY: as above.
    let inst = unsafe { instance(vmctx) };
    let view = inst.artifact.checked_view();
    let Some(e) = view.elements().get(elem as usize) else {
        return 1;
    };
    let count = if inst.dropped_elems[elem as usize].get() {
        0
    } else {
        e.items_count.get() as u64
    };
    let t = &inst.tables[table as usize];
    let (src, len) = (src as u64, len as u64);
    if !in_bounds(src, len, count) || !in_bounds(dst, len, t.size()) {
        return 1;
    }
    let Ok(refs) = inst.func_refs() else {
        return 1;
    };
    for k in 0..len as usize {
        match crate::instance::elem_item(inst, &refs, &view, e, src as usize + k) {
            Ok(v) => t.elems()[dst as usize + k] = v,
            Err(_) => return 1,
        }
    }
    0
}

unsafe extern "C" fn elem_drop(vmctx: *mut u8, elem: u32) {
    // SAFETY: as above.
    let inst = unsafe { instance(vmctx) };
    inst.dropped_elems[elem as usize].set(true);
}

/// Function pointers in `Builtin` order.
struct Table([*const (); BUILTIN_COUNT]);

// SAFETY: the table is immutable and holds only function addresses.
unsafe impl Sync for Table {}

static TABLE: Table = {
    let mut t = [std::ptr::null(); BUILTIN_COUNT];
    t[Builtin::MemoryGrow as usize] = memory_grow as *const ();
    t[Builtin::MemoryFill as usize] = memory_fill as *const ();
    t[Builtin::MemoryCopy as usize] = memory_copy as *const ();
    t[Builtin::MemoryInit as usize] = memory_init as *const ();
    t[Builtin::DataDrop as usize] = data_drop as *const ();
    t[Builtin::TableGrow as usize] = table_grow as *const ();
    t[Builtin::TableFill as usize] = table_fill as *const ();
    t[Builtin::TableCopy as usize] = table_copy as *const ();
    t[Builtin::TableInit as usize] = table_init as *const ();
    t[Builtin::ElemDrop as usize] = elem_drop as *const ();
    Table(t)
};

/// The address of the builtin table, stored at `VMCTX_BUILTINS`.
pub(crate) fn table() -> *const *const () {
    TABLE.0.as_ptr()
}
