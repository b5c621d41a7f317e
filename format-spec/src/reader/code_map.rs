//! Code maps read in place: the trap table and the address map, each a sparse index of
//! [`CodeMapBlock`]s over a blob of delta-coded runs (SPEC.md §3, code maps). A lookup
//! binary-searches the blocks and decodes one block's run from the mapping; nothing is copied or
//! allocated, so the trap handler can use it.
//!
//! The delta code is defined here, once: `write_delta` (for the writer) and `read_delta` are
//! each other's inverse.

use crate::tables::CodeMapBlock;

// The delta from one entry to the next: the code offset grows by `code` ≥ 1, the value by
// `value` (wrapping), in one of three forms, told apart by the first byte's top bits:
//
// - `0ccc_cvvv`: code 1 + `cccc` (1..=16), value `vvv` (0..=7);
// - `10cc_cccc cvvv_vvvv`: code 1 + `c` (1..=128, 7 bits), value `v` − 16 (−16..=111, 7 bits);
// - `11xx_xxxx` (the writer writes `1100_0000`; the other bits are reserved), then the code as
//   unsigned LEB128 and the value zigzag-coded as LEB128.
//
// On the real programs of `tests/programs` an entry costs 1.7–2.2 bytes with the index
// (benches/README.md, artifact sizes).

/// Largest code delta of the one-byte form.
#[cfg(feature = "write")]
const SHORT_CODE: u32 = 16;
/// Bits of the value in the one-byte form.
const SHORT_VALUE_BITS: u32 = 3;
/// First byte of the two-byte form: `10` in the top bits.
const MEDIUM: u8 = 0x80;
/// Largest code delta of the two-byte form.
#[cfg(feature = "write")]
const MEDIUM_CODE: u32 = 128;
/// The two-byte form's value is stored plus this.
const MEDIUM_BIAS: i32 = 16;
/// First byte of the long form.
const LONG: u8 = 0xc0;

/// Appends the delta from one entry to the next: `code` > 0 bytes further, `value` more (wrapping).
#[cfg(feature = "write")]
pub(crate) fn write_delta(out: &mut Vec<u8>, code: u32, value: i32) {
    if (1..=SHORT_CODE).contains(&code) && (0..1 << SHORT_VALUE_BITS).contains(&value) {
        out.push((((code - 1) << SHORT_VALUE_BITS) | value as u32) as u8);
    } else if (1..=MEDIUM_CODE).contains(&code)
        && (-MEDIUM_BIAS..128 - MEDIUM_BIAS).contains(&value)
    {
        let bits = ((code - 1) << 7) | (value + MEDIUM_BIAS) as u32;
        out.extend_from_slice(&[MEDIUM | (bits >> 8) as u8, bits as u8]);
    } else {
        out.push(LONG);
        write_uleb(out, code);
        write_uleb(out, ((value << 1) ^ (value >> 31)) as u32);
    }
}

#[cfg(feature = "write")]
fn write_uleb(out: &mut Vec<u8>, mut v: u32) {
    while v >= 0x80 {
        out.push(v as u8 | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

/// Reads the delta at `*at` and moves past it; `None` at the end of `run` or on a truncated
/// delta.
pub(crate) fn read_delta(run: &[u8], at: &mut usize) -> Option<(u32, i32)> {
    let b = *run.get(*at)?;
    *at += 1;
    if b & 0x80 == 0 {
        let code = u32::from(b >> SHORT_VALUE_BITS) + 1;
        return Some((code, i32::from(b & ((1 << SHORT_VALUE_BITS) - 1))));
    }
    if b & LONG == MEDIUM {
        let bits = (u32::from(b & 0x3f) << 8) | u32::from(*run.get(*at)?);
        *at += 1;
        return Some(((bits >> 7) + 1, (bits & 0x7f) as i32 - MEDIUM_BIAS));
    }
    let code = read_uleb(run, at)?;
    let zigzag = read_uleb(run, at)?;
    Some((code, (zigzag >> 1) as i32 ^ -((zigzag & 1) as i32)))
}

/// An unsigned LEB128 of at most five bytes (bits past the 32nd are dropped).
fn read_uleb(run: &[u8], at: &mut usize) -> Option<u32> {
    let mut v: u32 = 0;
    for shift in (0..35).step_by(7) {
        let b = *run.get(*at)?;
        *at += 1;
        v |= u32::from(b & 0x7f).checked_shl(shift).unwrap_or(0);
        if b & 0x80 == 0 {
            return Some(v);
        }
    }
    None
}

/// One entry of a code map.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CodeMapEntry {
    /// Offset in the text region.
    pub code_offset: u32,
    /// A [`crate::TrapKind`] code (trap table) or a wasm offset (address map).
    pub value: u32,
}

/// A code map, in place: its blocks and the runs blob they index.
#[derive(Clone, Copy, Debug)]
pub struct CodeMap<'a> {
    blocks: &'a [CodeMapBlock],
    runs: &'a [u8],
}

impl<'a> CodeMap<'a> {
    /// The map of `blocks` over `runs`.
    pub fn new(blocks: &'a [CodeMapBlock], runs: &'a [u8]) -> CodeMap<'a> {
        CodeMap { blocks, runs }
    }

    /// The blocks (the sparse index).
    pub fn blocks(&self) -> &'a [CodeMapBlock] {
        self.blocks
    }

    /// The runs blob.
    pub fn runs(&self) -> &'a [u8] {
        self.runs
    }

    /// The bytes the map takes in the file (without alignment padding).
    pub fn byte_len(&self) -> usize {
        size_of_val(self.blocks) + self.runs.len()
    }

    /// Whether the map has no entry.
    pub fn is_empty(&self) -> bool {
        self.blocks.is_empty()
    }

    /// The number of entries (decodes the whole map).
    pub fn len(&self) -> usize {
        self.iter().count()
    }

    /// Every entry, in order.
    pub fn iter(&self) -> impl Iterator<Item = CodeMapEntry> + 'a {
        let map = *self;
        (0..self.blocks.len()).flat_map(move |i| map.block(i))
    }

    /// The entries with text offsets in `range`, in order: O(log blocks) to the first, then
    /// decoding as far as the range goes.
    pub fn within(&self, range: std::ops::Range<u32>) -> impl Iterator<Item = CodeMapEntry> + 'a {
        let map = *self;
        let first = self
            .blocks
            .partition_point(|b| b.code_offset.get() <= range.start)
            .saturating_sub(1);
        (first..self.blocks.len())
            .flat_map(move |i| map.block(i))
            .skip_while(move |e| e.code_offset < range.start)
            .take_while(move |e| e.code_offset < range.end)
    }

    /// The entries of block `i`: its first, then its run's.
    fn block(&self, i: usize) -> BlockIter<'a> {
        let b = &self.blocks[i];
        let start = b.run_offset.get() as usize;
        let end = self
            .blocks
            .get(i + 1)
            .map_or(self.runs.len(), |n| n.run_offset.get() as usize);
        BlockIter {
            // A run outside the blob (a damaged block) has no entries beyond the block's first.
            run: self.runs.get(start..end).unwrap_or(&[]),
            at: 0,
            next: Some(CodeMapEntry {
                code_offset: b.code_offset.get(),
                value: b.value.get(),
            }),
        }
    }

    /// The last entry at or before text offset `offset`: O(log blocks) then one block's run.
    pub fn at_or_before(&self, offset: u32) -> Option<CodeMapEntry> {
        let i = self
            .blocks
            .partition_point(|b| b.code_offset.get() <= offset)
            .checked_sub(1)?;
        self.block(i).take_while(|e| e.code_offset <= offset).last()
    }

    /// The value of the entry at exactly text offset `offset`.
    pub fn get(&self, offset: u32) -> Option<u32> {
        self.at_or_before(offset)
            .filter(|e| e.code_offset == offset)
            .map(|e| e.value)
    }
}

/// The entries of one block.
struct BlockIter<'a> {
    run: &'a [u8],
    at: usize,
    next: Option<CodeMapEntry>,
}

impl Iterator for BlockIter<'_> {
    type Item = CodeMapEntry;

    fn next(&mut self) -> Option<CodeMapEntry> {
        let e = self.next?;
        self.next = read_delta(self.run, &mut self.at).and_then(|(code, value)| {
            Some(CodeMapEntry {
                // A damaged run that overflows ends the block.
                code_offset: e.code_offset.checked_add(code)?,
                value: e.value.wrapping_add(value as u32),
            })
        });
        Some(e)
    }
}
