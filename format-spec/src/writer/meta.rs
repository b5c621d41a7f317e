//! Laying out the metadata region: the compiler fills a [`MetaTables`] and [`MetaTables::finish`]
//! turns it into the region's bytes, which a [`crate::reader::MetaView`] reads back.

use crate::tables::*;
use zerocopy::little_endian::U32;
use zerocopy::IntoBytes;

impl MetaTables {
    /// Adds a string (deduplicating nothing: names are rarely repeated) and returns its reference.
    pub fn string(&mut self, s: &[u8]) -> StrRef {
        push_blob(&mut self.strings, s)
    }

    /// Adds a list of value-type words ([`crate::valtype`]) and returns the index of its first.
    pub fn add_valtypes(&mut self, words: &[u32]) -> u32 {
        let start = self.valtypes.len() as u32;
        self.valtypes.extend(words.iter().map(|&w| U32::new(w)));
        start
    }

    /// Adds a constant expression (including its final `end`).
    pub fn expr(&mut self, bytes: &[u8]) -> ExprRef {
        push_blob(&mut self.exprs, bytes)
    }

    /// Sorts what the format keeps sorted (exports by name; the code maps are sorted when they
    /// are set) and lays the region out: the directory, then each table in [`TableId`] order, each
    /// 8-byte aligned.
    pub fn finish(mut self, module: ModuleEntry) -> Vec<u8> {
        let strings = std::mem::take(&mut self.strings);
        self.exports
            .sort_by(|a, b| str_of(&strings, a.name).cmp(str_of(&strings, b.name)));
        self.strings = strings;
        let mut out = vec![0u8; size_of::<MetaDirectory>()];
        let mut tables = [TableRef::default(); TABLE_COUNT];
        for ((slot, id), (bytes, count)) in tables.iter_mut().zip(TableId::ALL).zip(self.parts()) {
            out.resize(out.len().next_multiple_of(8), 0);
            *slot = TableRef {
                offset: (out.len() as u32).into(),
                count: (count as u32).into(),
                entry_size: (id.entry_size() as u32).into(),
            };
            out.extend_from_slice(bytes);
        }
        let dir = MetaDirectory { tables, module };
        out[..size_of::<MetaDirectory>()].copy_from_slice(dir.as_bytes());
        out
    }
}

fn push_blob(blob: &mut Vec<u8>, bytes: &[u8]) -> StrRef {
    let r = StrRef {
        offset: (blob.len() as u32).into(),
        len: (bytes.len() as u32).into(),
    };
    blob.extend_from_slice(bytes);
    r
}

fn str_of(blob: &[u8], r: StrRef) -> &[u8] {
    let s = r.offset.get() as usize;
    &blob[s..s + r.len.get() as usize]
}
