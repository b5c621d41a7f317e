//! The memory builtins: `memory.grow`, `memory.fill`, `memory.copy`, `memory.init`, `data.drop`.

use super::range;
use crate::instance::InstanceInner;
use std::sync::atomic::Ordering::Relaxed;

pub(crate) fn memory_grow(inst: &InstanceInner, memory: u32, delta: u64) -> u64 {
    inst.memories
        .get(memory as usize)
        .and_then(|m| m.grow(delta))
        .unwrap_or(u64::MAX)
}

pub(crate) fn memory_fill(
    inst: &InstanceInner,
    memory: u32,
    dst: u64,
    byte: u32,
    len: u64,
) -> bool {
    let Some(m) = inst.memories.get(memory as usize) else {
        return false;
    };
    let Some(dst) = range(dst, len, m.data_size()) else {
        return false;
    };
    m.data_mut()[dst].fill(byte as u8);
    true
}

pub(crate) fn memory_copy(
    inst: &InstanceInner,
    dst_memory: u32,
    src_memory: u32,
    dst: u64,
    src: u64,
    len: u64,
) -> bool {
    let (Some(d), Some(s)) = (
        inst.memories.get(dst_memory as usize),
        inst.memories.get(src_memory as usize),
    ) else {
        return false;
    };
    let (Some(dst), Some(src)) = (
        range(dst, len, d.data_size()),
        range(src, len, s.data_size()),
    ) else {
        return false;
    };
    if d.ptr_eq(s) {
        d.data_mut().copy_within(src, dst.start);
    } else {
        d.data_mut()[dst].copy_from_slice(&s.data()[src]);
    }
    true
}

pub(crate) fn memory_init(
    inst: &InstanceInner,
    memory: u32,
    data: u32,
    dst: u64,
    src: u32,
    len: u32,
) -> bool {
    let view = inst.artifact.checked_view();
    let dropped = inst
        .dropped_data
        .get(data as usize)
        .is_none_or(|d| d.load(Relaxed));
    let bytes: &[u8] = if dropped {
        &[]
    } else {
        match view.data_bytes(data as usize) {
            Ok(b) => b,
            Err(_) => return false,
        }
    };
    let Some(m) = inst.memories.get(memory as usize) else {
        return false;
    };
    let (src, len) = (u64::from(src), u64::from(len));
    let (Some(src), Some(dst)) = (
        range(src, len, bytes.len() as u64),
        range(dst, len, m.data_size()),
    ) else {
        return false;
    };
    m.data_mut()[dst].copy_from_slice(&bytes[src]);
    true
}

pub(crate) fn data_drop(inst: &InstanceInner, data: u32) {
    if let Some(d) = inst.dropped_data.get(data as usize) {
        d.store(true, Relaxed);
    }
}
