//! The memory builtins: `memory.grow`, `memory.fill`, `memory.copy`, `memory.init`, `data.drop`.

use super::{range, BuiltinCx, Failure};
use crate::error::BoxError;

pub(crate) fn memory_grow(
    cx: &mut BuiltinCx<'_>,
    memory: u32,
    delta: u64,
) -> Result<Option<u64>, BoxError> {
    let Some(m) = cx.memory(memory) else {
        return Ok(None);
    };
    crate::memory::grow(cx.store, m, delta)
}

pub(crate) fn memory_fill(
    cx: &mut BuiltinCx<'_>,
    memory: u32,
    dst: u64,
    byte: u32,
    len: u64,
) -> Result<(), Failure> {
    let m = cx.memory(memory).ok_or(Failure::Trap)?;
    let data = cx.store.opaque_mut().memories[m as usize].data_mut();
    let dst = range(dst, len, data.len() as u64).ok_or(Failure::Trap)?;
    data[dst].fill(byte as u8);
    Ok(())
}

pub(crate) fn memory_copy(
    cx: &mut BuiltinCx<'_>,
    dst_memory: u32,
    src_memory: u32,
    dst: u64,
    src: u64,
    len: u64,
) -> Result<(), Failure> {
    let (d, s) = (
        cx.memory(dst_memory).ok_or(Failure::Trap)?,
        cx.memory(src_memory).ok_or(Failure::Trap)?,
    );
    let memories = &mut cx.store.opaque_mut().memories;
    if d == s {
        let data = memories[d as usize].data_mut();
        let size = data.len() as u64;
        let (Some(dst), Some(src)) = (range(dst, len, size), range(src, len, size)) else {
            return Err(Failure::Trap);
        };
        data.copy_within(src, dst.start);
        return Ok(());
    }
    // Two memories: split the borrow of the store's list.
    let (lo, hi) = (d.min(s) as usize, d.max(s) as usize);
    let (a, b) = memories.split_at_mut(hi);
    let (low, high) = (a[lo].data_mut(), b[0].data_mut());
    let (dst_data, src_data) = if d < s { (low, high) } else { (high, low) };
    let (Some(dst), Some(src)) = (
        range(dst, len, dst_data.len() as u64),
        range(src, len, src_data.len() as u64),
    ) else {
        return Err(Failure::Trap);
    };
    dst_data[dst].copy_from_slice(&src_data[src]);
    Ok(())
}

pub(crate) fn memory_init(
    cx: &mut BuiltinCx<'_>,
    memory: u32,
    data: u32,
    dst: u64,
    src: u32,
    len: u32,
) -> Result<(), Failure> {
    let m = cx.memory(memory).ok_or(Failure::Trap)?;
    let opaque = cx.store.opaque_mut();
    let inst = &opaque.instances[cx.instance as usize];
    let artifact = inst.artifact.clone();
    let view = artifact.checked_view();
    let dropped = inst.dropped_data.get(data as usize).is_none_or(|d| *d);
    let bytes: &[u8] = if dropped {
        &[]
    } else {
        view.data_bytes(data as usize).map_err(|_| Failure::Trap)?
    };
    let target = opaque.memories[m as usize].data_mut();
    let (src, len) = (u64::from(src), u64::from(len));
    let (Some(src), Some(dst)) = (
        range(src, len, bytes.len() as u64),
        range(dst, len, target.len() as u64),
    ) else {
        return Err(Failure::Trap);
    };
    target[dst].copy_from_slice(&bytes[src]);
    Ok(())
}

pub(crate) fn data_drop(cx: &mut BuiltinCx<'_>, data: u32) {
    let inst = &mut cx.store.opaque_mut().instances[cx.instance as usize];
    if let Some(d) = inst.dropped_data.get_mut(data as usize) {
        *d = true;
    }
}
