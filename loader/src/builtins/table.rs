//! The table builtins: `table.grow`, `table.fill`, `table.copy`, `table.init`, `elem.drop`.

use super::range;
use crate::instance::InstanceInner;
use std::sync::atomic::Ordering::Relaxed;

pub(crate) fn table_grow(inst: &InstanceInner, table: u32, init: u64, delta: u64) -> u64 {
    inst.tables
        .get(table as usize)
        .and_then(|t| t.grow(delta, init))
        .unwrap_or(u64::MAX)
}

pub(crate) fn table_fill(inst: &InstanceInner, table: u32, dst: u64, value: u64, len: u64) -> bool {
    let Some(t) = inst.tables.get(table as usize) else {
        return false;
    };
    let Some(dst) = range(dst, len, t.size()) else {
        return false;
    };
    t.elems()[dst].fill(value);
    true
}

pub(crate) fn table_copy(
    inst: &InstanceInner,
    dst_table: u32,
    src_table: u32,
    dst: u64,
    src: u64,
    len: u64,
) -> bool {
    let (Some(d), Some(s)) = (
        inst.tables.get(dst_table as usize),
        inst.tables.get(src_table as usize),
    ) else {
        return false;
    };
    let (Some(dst), Some(src)) = (range(dst, len, d.size()), range(src, len, s.size())) else {
        return false;
    };
    if d.ptr_eq(s) {
        d.elems().copy_within(src, dst.start);
    } else {
        d.elems()[dst].copy_from_slice(&s.elems()[src]);
    }
    true
}

pub(crate) fn table_init(
    inst: &InstanceInner,
    table: u32,
    elem: u32,
    dst: u64,
    src: u32,
    len: u32,
) -> bool {
    let view = inst.artifact.checked_view();
    let Ok(e) = view.element(elem as usize) else {
        return false;
    };
    let dropped = inst
        .dropped_elems
        .get(elem as usize)
        .is_none_or(|d| d.load(Relaxed));
    let count = if dropped {
        0
    } else {
        u64::from(e.items_count.get())
    };
    let Some(t) = inst.tables.get(table as usize) else {
        return false;
    };
    let (src, len) = (u64::from(src), u64::from(len));
    let (Some(src), Some(dst)) = (range(src, len, count), range(dst, len, t.size())) else {
        return false;
    };
    let Ok(refs) = inst.func_refs() else {
        return false;
    };
    for (slot, item) in t.elems()[dst].iter_mut().zip(src) {
        match crate::instance::elem_item(inst, &refs, &view, elem as usize, item) {
            Ok(v) => *slot = v,
            Err(_) => return false,
        }
    }
    true
}

pub(crate) fn elem_drop(inst: &InstanceInner, elem: u32) {
    if let Some(e) = inst.dropped_elems.get(elem as usize) {
        e.store(true, Relaxed);
    }
}
