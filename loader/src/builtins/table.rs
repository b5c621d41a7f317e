//! The table builtins: `table.grow`, `table.fill`, `table.copy`, `table.init`, `elem.drop`.

use super::{range, BuiltinCx, Failure};
use crate::error::BoxError;

pub(crate) fn table_grow(
    cx: &mut BuiltinCx<'_>,
    table: u32,
    init: u64,
    delta: u64,
) -> Result<Option<u64>, BoxError> {
    let Some(t) = cx.table(table) else {
        return Ok(None);
    };
    crate::table::grow(cx.store, t, delta, init)
}

pub(crate) fn table_fill(
    cx: &mut BuiltinCx<'_>,
    table: u32,
    dst: u64,
    value: u64,
    len: u64,
) -> Result<(), Failure> {
    let t = cx.table(table).ok_or(Failure::Trap)?;
    let elems = cx.store.opaque_mut().tables[t as usize].elems_mut();
    let dst = range(dst, len, elems.len() as u64).ok_or(Failure::Trap)?;
    elems[dst].fill(value);
    Ok(())
}

pub(crate) fn table_copy(
    cx: &mut BuiltinCx<'_>,
    dst_table: u32,
    src_table: u32,
    dst: u64,
    src: u64,
    len: u64,
) -> Result<(), Failure> {
    let (d, s) = (
        cx.table(dst_table).ok_or(Failure::Trap)?,
        cx.table(src_table).ok_or(Failure::Trap)?,
    );
    let tables = &mut cx.store.opaque_mut().tables;
    if d == s {
        let elems = tables[d as usize].elems_mut();
        let size = elems.len() as u64;
        let (Some(dst), Some(src)) = (range(dst, len, size), range(src, len, size)) else {
            return Err(Failure::Trap);
        };
        elems.copy_within(src, dst.start);
        return Ok(());
    }
    // Two tables: split the borrow of the store's list.
    let (lo, hi) = (d.min(s) as usize, d.max(s) as usize);
    let (a, b) = tables.split_at_mut(hi);
    let (low, high) = (a[lo].elems_mut(), b[0].elems_mut());
    let (dst_elems, src_elems) = if d < s { (low, high) } else { (high, low) };
    let (Some(dst), Some(src)) = (
        range(dst, len, dst_elems.len() as u64),
        range(src, len, src_elems.len() as u64),
    ) else {
        return Err(Failure::Trap);
    };
    dst_elems[dst].copy_from_slice(&src_elems[src]);
    Ok(())
}

pub(crate) fn table_init(
    cx: &mut BuiltinCx<'_>,
    table: u32,
    elem: u32,
    dst: u64,
    src: u32,
    len: u32,
) -> Result<(), Failure> {
    let t = cx.table(table).ok_or(Failure::Trap)?;
    let opaque = cx.store.opaque_mut();
    let inst = &opaque.instances[cx.instance as usize];
    let artifact = inst.artifact.clone();
    let view = artifact.checked_view();
    let e = view.element(elem as usize).map_err(|_| Failure::Trap)?;
    let dropped = inst.dropped_elems.get(elem as usize).is_none_or(|d| *d);
    let count = if dropped {
        0
    } else {
        u64::from(e.items_count.get())
    };
    let size = opaque.tables[t as usize].size();
    let (src, len) = (u64::from(src), u64::from(len));
    let (Some(src), Some(dst)) = (range(src, len, count), range(dst, len, size)) else {
        return Err(Failure::Trap);
    };
    // The values first (they read the instance), then the writes.
    let refs = inst.func_refs().map_err(|_| Failure::Trap)?;
    let values = src
        .map(|item| crate::instance::elem_item(opaque, inst, &refs, &view, elem as usize, item))
        .collect::<Result<Vec<u64>, _>>()
        .map_err(|_| Failure::Trap)?;
    opaque.tables[t as usize].elems_mut()[dst].copy_from_slice(&values);
    Ok(())
}

pub(crate) fn elem_drop(cx: &mut BuiltinCx<'_>, elem: u32) {
    let inst = &mut cx.store.opaque_mut().instances[cx.instance as usize];
    if let Some(e) = inst.dropped_elems.get_mut(elem as usize) {
        *e = true;
    }
}
