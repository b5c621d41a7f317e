//! The data region: data-segment images and merged memory images, page-aligned where they can be
//! mapped copy-on-write (SPEC.md §5).

use crate::parse::ModuleInfo;
use kiln_format::constexpr::single_offset_const;
use kiln_format::WASM_PAGE_SIZE;

/// The data region: segment images and merged memory images.
pub(super) struct DataLayout {
    pub bytes: Vec<u8>,
    /// Offset of each data segment's bytes.
    pub segments: Vec<u64>,
    /// `(memory, memory offset, image offset, length)` of each memory image.
    pub images: Vec<(u32, u64, u64, u64)>,
}

/// Places data-segment images: a segment of at least one page starts on a page boundary, so that
/// it can be mapped copy-on-write; smaller ones are packed 8-byte aligned. Then, for each defined
/// memory whose active segments can be merged, one page-aligned image of its initial contents.
pub(super) fn lay_out_data(module: &ModuleInfo, align: u64) -> DataLayout {
    let mut bytes = Vec::new();
    let mut segments = Vec::with_capacity(module.data.len());
    for d in &module.data {
        let a = if d.bytes.len() as u64 >= align {
            align
        } else {
            8
        };
        bytes.resize(bytes.len().next_multiple_of(a as usize), 0);
        segments.push(bytes.len() as u64);
        bytes.extend_from_slice(d.bytes);
    }
    let mut images = Vec::new();
    for memory in module.imported_memories..module.memories.len() as u32 {
        if let Some((offset, image)) = memory_image(module, memory, align) {
            bytes.resize(bytes.len().next_multiple_of(align as usize), 0);
            images.push((memory, offset, bytes.len() as u64, image.len() as u64));
            bytes.extend_from_slice(&image);
        }
    }
    DataLayout {
        bytes,
        segments,
        images,
    }
}

/// The merged initial image of defined memory `memory`: `(memory offset, bytes)`, both aligned to
/// `align`. Only when every active segment of the memory has a constant offset and fits in the
/// initial size (so instantiation cannot trap on it), and the image is not much larger than the
/// data it holds.
fn memory_image(module: &ModuleInfo, memory: u32, align: u64) -> Option<(u64, Vec<u8>)> {
    let initial = module.memories[memory as usize]
        .initial
        .checked_mul(WASM_PAGE_SIZE)?;
    let mut segs = Vec::new();
    for d in &module.data {
        let Some((m, expr)) = d.active else { continue };
        if m != memory {
            continue;
        }
        let offset = single_offset_const(expr)?;
        if offset.checked_add(d.bytes.len() as u64)? > initial {
            return None;
        }
        segs.push((offset, d.bytes));
    }
    let data: u64 = segs.iter().map(|(_, b)| b.len() as u64).sum();
    if data == 0 {
        return None;
    }
    let lo = segs.iter().map(|(o, _)| *o).min()? / align * align;
    let hi = segs
        .iter()
        .map(|(o, b)| o + b.len() as u64)
        .max()?
        .next_multiple_of(align)
        .min(initial);
    // Sparse segments would make a large image of zeros: leave those to the loader's copying.
    if hi - lo > (2 * data).max(1 << 20) {
        return None;
    }
    let mut image = vec![0u8; (hi - lo) as usize];
    for (offset, bytes) in segs {
        let at = (offset - lo) as usize;
        image[at..at + bytes.len()].copy_from_slice(bytes);
    }
    Some((lo, image))
}
